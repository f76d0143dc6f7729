"""curator review: the answers file, the server's routes, and the page in a real browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from curator import corrections, flags
from curator.errors import CuratorError
from curator.flags import unsure_first
from curator.review import Answers, Review, serve

FROZEN = Path(__file__).parent / "data" / "scores-v0.2.0.h5"  # digits, 10% flipped


@pytest.fixture()
def scores(tmp_path: Path) -> Path:
    path = tmp_path / "scores.h5"
    shutil.copy(FROZEN, path)
    return path


def test_answers_are_written_at_once_and_resume(tmp_path: Path) -> None:
    labels = np.array([0, 1, 2, 0, 1])
    out = tmp_path / "c.csv"
    a = Answers(out, "abc", labels, 3)
    a.answer(0, "relabel", 2)
    a.answer(1, "drop")
    a.answer(2, "relabel", 2)  # its given label: a keep
    made = corrections.read(out)
    assert made.index.tolist() == [0, 1, 2]
    assert made.action.tolist() == ["relabel", "drop", "keep"]
    assert made.label.tolist() == [2, -1, -1]
    assert a.undo() == 2 and corrections.read(out).index.tolist() == [0, 1]
    with pytest.raises(CuratorError, match="outside the 3 classes"):
        a.answer(3, "relabel", 3)
    with pytest.raises(CuratorError, match="not one of relabel, keep, drop"):
        a.answer(3, "fix")
    with pytest.raises(CuratorError, match="outside the 5 samples"):
        a.answer(5, "drop")
    assert corrections.read(out).index.tolist() == [0, 1]  # refused answers write nothing
    a.close()
    b = Answers(out, "abc", labels, 3)  # started again: the answers are there
    assert b.rows == {0: ("relabel", 2), 1: ("drop", -1)}
    assert b.undo() is None  # undo takes back this session's answers only
    b.close()
    with pytest.raises(CuratorError, match="made for other data"):
        Answers(out, "other", labels, 3)
    assert not out.with_name("c.csv.lock").exists()  # a refused start leaves no lock


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path: Path) -> None:
    labels = np.zeros(4, np.int64)
    out = tmp_path / "c.csv"
    lock = tmp_path / "c.csv.lock"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(str(child.pid))  # a running process holds it
        with pytest.raises(CuratorError, match=f"another curator review \\(process {child.pid}"):
            Answers(out, "f", labels, 2)
    finally:
        child.kill()
        child.wait()
    a = Answers(out, "f", labels, 2)  # its process is gone: the lock is stale
    assert lock.read_text() == str(os.getpid())
    a.close()
    assert not lock.exists()


@pytest.fixture()
def server(scores: Path, tmp_path: Path) -> Iterator[tuple[str, Review]]:
    review = Review.open(scores, tmp_path / "corrections.csv")
    srv = serve(review, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.url, review
    finally:
        srv.shutdown()
        srv.server_close()
        review.answers.close()


def _get(url: str, host: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_routes(server: tuple[str, Review]) -> None:
    url, review = server
    status, body = _get(url + "api/state")
    state = json.loads(body)
    assert status == 200 and state["flagged"] == int(review.flagged.sum()) > 0
    first = state["queue"][0]
    assert review.flagged[first] and review.probability[first] == review.probability.max()
    s = json.loads(_get(f"{url}api/sample/{first}")[1])
    assert s["given"] == int(review.labels[first]) and len(s["p_given"]) == 2  # 2 epochs
    assert len(s["typical_given"]) == 6 and all(review.labels[i] == s["given"]
                                                for i in s["typical_given"])
    status, png = _get(f"{url}img/{first}.png")
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert _post(url + "api/answer", {"index": first, "action": "drop"})[0] == 200
    assert _post(url + "api/answer", {"index": "x", "action": "drop"})[0] == 400
    assert _post(url + "api/answer", {"index": 10**6, "action": "drop"})[0] == 400
    assert _get(f"{url}img/99999999.png")[0] == 400
    for path in ("../../etc/passwd", "static/review.html", "img/..%2f..%2fetc%2fpasswd",
                 "api/sample/../state"):
        assert _get(url + path)[0] in (400, 404), path
    assert _get(url + "api/state", host="attacker.example")[0] == 403  # DNS rebinding
    hardest = json.loads(_get(url + "api/queue?by=hardest&cls=3&limit=5")[1])
    ease = review.ease[hardest["queue"]]
    assert len(hardest["queue"]) == 5 and set(hardest["given"]) == {3}
    assert (np.diff(ease) >= 0).all() and ease[0] == review.ease[review.labels == 3].min()
    flags = json.loads(_get(url + "api/queue?by=flags")[1])
    assert flags["queue"] == state["queue"]
    unsure = json.loads(_get(url + "api/queue?by=unsure")[1])  # the flagged, another order
    assert review.flagged.any()
    assert sorted(unsure["queue"]) == np.flatnonzero(review.flagged).tolist()
    assert unsure["queue"] == unsure_first(review.flagged, review.probability,
                                           review.suggested, review.confidence).tolist()
    assert _get(url + "api/queue?by=nonsense")[0] == 400
    assert _get(url + "api/queue?by=flags&cls=10")[0] == 400
    assert corrections.read(review.answers.path).index.tolist() == [first]


def test_bad_input(scores: Path, tmp_path: Path) -> None:
    """Data that load but are not the file's are refused; a port in use is a clear error; a
    corrections file of other data is refused (and leaves no lock); a file where nothing is
    flagged opens on the hardest samples."""
    import h5py

    from curator.errors import FormatError

    other = tmp_path / "other.h5"
    shutil.copy(scores, other)
    with h5py.File(other, "a") as f:  # the config now names other flips of the digits
        config = json.loads(f.attrs["config"])
        config["noise_seed"] = 7
        f.attrs["config"] = json.dumps(config)
    with pytest.raises(FormatError, match="was scored on other data"):
        Review.open(other, tmp_path / "c.csv")
    assert not (tmp_path / "c.csv.lock").exists()
    review = Review.open(scores, tmp_path / "c.csv")
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with pytest.raises(CuratorError, match="cannot listen on 127.0.0.1:") as e:
                serve(review, port=taken.getsockname()[1])
            assert "another --port" in (e.value.hint or "")
    finally:
        review.answers.close()
    wrong = tmp_path / "wrong.csv"
    corrections.write(corrections.make("0000", review.labels, 10, drop=[1]), wrong)
    with pytest.raises(CuratorError, match="made for other data"):
        Review.open(scores, wrong)
    assert not (tmp_path / "wrong.csv.lock").exists()
    with h5py.File(scores, "a") as f:  # a stored fit of this estimate that flags nothing
        ds = f["scores/mislabel_probability"]
        ds[...] = 0
        params = json.loads(ds.attrs["params"])
        params["estimate"] = flags.ESTIMATE
        ds.attrs["params"] = json.dumps(params)
    review = Review.open(scores, tmp_path / "none.csv")
    try:
        assert review.state()["queue"] == [] and review.state()["flagged"] == 0
        assert len(review.queue_of("hardest", limit=10)["queue"]) == 10
    finally:
        review.answers.close()


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium and chromium-driver are "
                    "not installed (apt-get install chromium chromium-driver)")
def test_the_page_in_a_real_browser(scores: Path, tmp_path: Path) -> None:
    """Three answers by keyboard, one by mouse; a reload shows them kept; an undo; the file on
    disk is exactly what was answered; the server killed between two answers loses neither,
    and started again it goes on from the file."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out = tmp_path / "corrections.csv"
    browser, driver_path = _chromium()  # type: ignore[misc]

    def start() -> tuple[subprocess.Popen, str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "curator", "review", str(scores),
                                 "--out", str(out), "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:  # type: ignore[union-attr]
            if "open http://" in line:
                return proc, line.split()[1]
        raise AssertionError(proc.communicate()[0])

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    proc, url = start()
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(url)

        def shown() -> int:
            wait.until(lambda d: d.find_element(By.ID, "index").text.strip() != "")
            return int(driver.find_element(By.ID, "index").text)

        def after(previous: int) -> int:
            wait.until(lambda d: d.find_element(By.ID, "index").text.strip() not in
                       ("", str(previous)))
            return shown()

        body = driver.find_element(By.TAG_NAME, "body")
        state = json.loads(_get(url + "api/state")[1])
        queue = state["queue"]
        a = shown()
        assert a == queue[0]
        sugg = json.loads(_get(f"{url}api/sample/{a}")[1])["suggested"]
        body.send_keys("\ue007")  # Enter: take the suggestion
        b = after(a)
        body.send_keys("k")  # keep
        c = after(b)
        body.send_keys("d")  # drop
        d = after(c)
        driver.find_element(By.ID, "drop").click()  # by mouse
        after(d)
        expect = {a: ("relabel", sugg), b: ("keep", -1), c: ("drop", -1), d: ("drop", -1)}
        made = corrections.read(out)
        got = {int(i): (str(x), int(y)) for i, x, y in
               zip(made.index, made.action, made.label, strict=True)}
        assert got == expect
        driver.refresh()  # reload: the answers are kept, the page starts at the first open
        e = shown()
        assert e not in expect and "4 answers" in driver.find_element(By.ID, "progress").text
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("u")  # undo the last answer (d, dropped by mouse)
        wait.until(lambda dr: dr.find_element(By.ID, "index").text == str(d))
        del expect[d]
        assert set(corrections.read(out).index.tolist()) == set(expect)
        # killed between two answers: nothing answered is lost
        body.send_keys("k")
        expect[d] = ("keep", -1)
        wait.until(lambda dr: len(corrections.read(out)) == len(expect))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc, url = start()  # the lock of the killed process is taken over
        made = corrections.read(out)
        assert {int(i): (str(x), int(y)) for i, x, y in
                zip(made.index, made.action, made.label, strict=True)} == expect
        driver.get(url)
        assert shown() not in expect
        assert f"{len(expect)} answers" in driver.find_element(By.ID, "progress").text
        # a class's random sample (what `curator flag --answers` counts), in its order
        from selenium.webdriver.support.ui import Select

        sample = json.loads(_get(url + "api/queue?by=sample&cls=3")[1])["queue"]
        # the first filter's answer arrives after the second's (a slow server, a slow
        # network): the page must show what was asked last, not what came back last
        driver.execute_script(
            "const f = window.fetch; window.fetch = (p, o) => String(p).includes('by=flags&cls')"
            " ? new Promise((ok) => setTimeout(() => ok(f(p, o)), 1500)) : f(p, o);")
        Select(driver.find_element(By.ID, "byclass")).select_by_value("3")
        Select(driver.find_element(By.ID, "source")).select_by_value("sample")
        first = next(i for i in sample if i not in expect)
        wait.until(lambda dr: dr.find_element(By.ID, "index").text == str(first))
        time.sleep(2)  # the late answer of the first filter has come back by now
        assert driver.find_element(By.ID, "index").text == str(first)
        # the flags in the order answers help relabelling most (curator.flags.unsure_first)
        Select(driver.find_element(By.ID, "byclass")).select_by_value("")
        Select(driver.find_element(By.ID, "source")).select_by_value("unsure")
        unsure = json.loads(_get(url + "api/queue?by=unsure")[1])["queue"]
        first = next(i for i in unsure if i not in expect)
        assert first != next(i for i in queue if i not in expect)  # another order
        wait.until(lambda dr: dr.find_element(By.ID, "index").text == str(first))
    finally:
        driver.quit()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    time.sleep(0)


def test_text_samples_are_shown_as_their_text(scores: Path, tmp_path: Path) -> None:
    """--texts: each sample's text (a .txt line, a .jsonl or .csv column, a save_to_disk
    folder) comes with the sample and its typical members, and the page shows it in a real
    browser; texts of other data (another length, other labels) are refused."""
    from curator.store import open_scores

    with open_scores(scores) as f:
        labels = np.asarray(f.labels)
    n = len(labels)
    txt = tmp_path / "t.txt"
    txt.write_text("".join(f"sentence number {i}\n" for i in range(n)))
    review = Review.open(scores, tmp_path / "c.csv", texts=str(txt))
    try:
        assert review.state()["text"] and not review.state()["images"]
        i = int(review.queue[0])
        s = review.sample(i)
        assert s["texts"][str(i)] == f"sentence number {i}"
        assert all(s["texts"][str(j)] == f"sentence number {j}"
                   for j in s["typical_given"] + s["typical_suggested"])
    finally:
        review.answers.close()
    rows = [{"sentence": f"s{i}", "label": int(y)} for i, y in enumerate(labels)]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from curator.review import load_texts

    assert load_texts(f"{jsonl},column=sentence", labels)[:2] == ["s0", "s1"]
    with pytest.raises(CuratorError, match="has no column 'text'.*'sentence'"):
        load_texts(jsonl, labels)
    rows[5]["label"] = (rows[5]["label"] + 1) % 10
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(CuratorError, match="labels differ.*row 5"):
        load_texts(f"{jsonl},column=sentence", labels)
    with pytest.raises(CuratorError, match=f"has {n} texts, but the scores file has {n - 1}"):
        load_texts(txt, labels[: n - 1])
    with pytest.raises(CuratorError, match="is not column=NAME"):
        load_texts(f"{txt},col=x", labels)
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "saved"
    datasets.Dataset.from_dict({"text": [f"d{i}" for i in range(n)],
                                "label": labels.tolist()}).save_to_disk(str(folder))
    assert load_texts(folder, labels)[-1] == f"d{n - 1}"
    review = Review.open(scores, tmp_path / "c1.csv", texts=str(folder))
    try:  # the grid view's texts: a few at once, at most 500
        assert review.texts_of([0, 7]) == {"0": "d0", "7": "d7"}
        with pytest.raises(CuratorError, match="at most 500"):
            review.texts_of(list(range(501)))
        with pytest.raises(CuratorError, match="outside"):
            review.texts_of([n])
    finally:
        review.answers.close()
    if _chromium() is None:
        return
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    review = Review.open(scores, tmp_path / "c2.csv", texts=str(folder))
    srv = serve(review, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    browser, driver_path = _chromium()  # type: ignore[misc]
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(srv.url)
        wait = WebDriverWait(driver, 20)
        wait.until(lambda d: d.find_element(By.ID, "text").text.strip() != "")
        first = int(review.queue[0])
        assert driver.find_element(By.ID, "text").text == f"d{first}"
        assert not driver.find_element(By.ID, "image").is_displayed()
        snippets = driver.find_elements(By.CSS_SELECTOR, "#typical_given .snip")
        assert snippets and all(s.text.startswith("d") for s in snippets)
        # the grid view: the queue's samples at once, a click answers one in the single view
        from selenium.webdriver.support.ui import Select

        Select(driver.find_element(By.ID, "view")).select_by_value("grid")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#grid .cell")) ==
                   min(300, len(review.queue)))
        cells = driver.find_elements(By.CSS_SELECTOR, "#grid .cell")
        third = int(review.queue[2])
        assert cells[2].find_element(By.CLASS_NAME, "snip").text == f"d{third}"
        assert not driver.find_element(By.TAG_NAME, "main").is_displayed()
        cells[2].click()
        wait.until(lambda d: d.find_element(By.ID, "index").text == str(third))
        assert driver.find_element(By.ID, "text").text == f"d{third}"
        assert not driver.find_element(By.ID, "gridview").is_displayed()
    finally:
        driver.quit()
        srv.shutdown()
        srv.server_close()
        review.answers.close()


def test_a_class_s_random_sample_is_its_review_order(server: tuple[str, Review]) -> None:
    """The queue whose answers `curator flag --answers` counts: a class's members in the
    order flags.review_order draws them, the same each time the page asks."""
    url, review = server
    state = json.loads(_get(url + "api/state")[1])
    assert state["contested"] == [review.classes[c] for c in review.contested]
    outside = ~np.isin(review.labels, review.contested)
    assert state["lent"] == (int(review.flagged[outside].sum()) if review.contested else 0)
    from dataclasses import replace

    one = replace(review, contested=(0,))  # class 0 contested: the others' flags are lent
    assert one.state()["lent"] == int(review.flagged[review.labels != 0].sum()) > 0
    one = json.loads(_get(url + "api/queue?by=sample&cls=3&limit=7")[1])
    assert one["queue"] == flags.review_order(review.labels, 3, review.seed)[:7].tolist()
    assert set(one["given"]) == {3}
    assert one == json.loads(_get(url + "api/queue?by=sample&cls=3&limit=7")[1])
    every = json.loads(_get(url + "api/queue?by=sample")[1])["queue"]
    counted = review.contested or range(len(review.classes))
    sizes = np.bincount(review.labels, minlength=len(review.classes))
    assert len(every) == sum(min(flags.COUNT_ASKED, sizes[c]) for c in counted)
    assert len(set(every)) == len(every)
