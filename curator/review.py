"""``curator review``: the suspected labels in a browser, each answer written at once to a
corrections file (docs/review.md).

The page is one HTML file (``curator/static/review.html``, plain JavaScript, no build step)
served by the standard library's threading HTTP server: a local tool for one person needs no
framework, and ``pip install torch-curator`` stays as it is. The server listens on 127.0.0.1
unless told otherwise, answers only its own routes (no path from a URL ever reaches the file
system), checks the ``Host`` header (a web page elsewhere cannot reach it through DNS
rebinding) and holds a lock file beside the corrections file, so a second ``curator review``
of the same file is refused.

What the person answers is kept in :class:`Answers`: every answer rewrites the corrections
file whole (a synced temporary file renamed over it, :func:`curator.corrections.write`), so
closing the browser or killing the server loses at most the answer being written, and
``curator review`` started again reads the file and goes on where the person stopped.

Samples are shown as images (image data), line plots (vectors, 1-D signals) or, for text that
curator cannot train on itself (a file recorded through ``curator.hf``), as their text, from
the texts the person names (:func:`load_texts`).
"""

from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from curator import corrections
from curator.errors import CuratorError
from curator.flags import COUNT_ASKED, lent, review_order, unsure_first

PAGE = Path(__file__).with_name("static") / "review.html"
TYPICAL = 6  # easy members shown of the given and of the suggested class
ANSWERS = ("accept", "keep", "relabel", "drop")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Answers:
    """The answers given so far, kept in the corrections file ``path`` (made for data of
    ``labels`` and ``fingerprint``), which this object alone writes while it is open: a lock
    file ``path.lock`` holding the process id is taken at once (one left by a process that no
    longer runs is taken over) and removed by :meth:`close`."""

    def __init__(self, path: str | Path, fingerprint: str, labels: np.ndarray,
                 num_classes: int) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.labels = np.asarray(labels, dtype=np.int64)
        self.num_classes = num_classes
        self.lock = self.path.with_name(self.path.name + ".lock")
        self._take_lock()
        self._mutex = threading.Lock()
        self.rows: dict[int, tuple[str, int]] = {}  # index -> (relabel | drop | keep, label)
        self.history: list[int] = []  # this session's answers, for undo
        try:
            if self.path.exists():
                made = corrections.read(self.path)
                made.check_data(fingerprint, len(self.labels), f"{str(self.path)!r}")
                made.check_labels(self.labels, "the scored data")
                for i, a, y in zip(made.index, made.action, made.label, strict=True):
                    self.rows[int(i)] = (str(a), int(y))
        except BaseException:
            self.close()
            raise

    def _take_lock(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text().strip() or "0")
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _alive(pid):
                    raise CuratorError(
                        f"{str(self.path)!r} is being written by another curator review "
                        f"(process {pid})", hint="close that one, or answer into another "
                        "file with --out") from None
                self.lock.unlink(missing_ok=True)  # left by a process that no longer runs
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return
        raise CuratorError(f"could not take the lock {str(self.lock)!r}")

    def close(self) -> None:
        """Give the corrections file up to other writers."""
        try:
            if self.lock.exists() and self.lock.read_text().strip() == str(os.getpid()):
                self.lock.unlink()
        except OSError:
            pass

    def answer(self, index: int, action: str, label: int | None = None) -> dict[str, Any]:
        """Record one answer and write the file: ``relabel`` (to ``label``), ``keep`` or
        ``drop``; a relabel to the given label is a keep."""
        index = self._index(index)
        given = int(self.labels[index])
        if action == "relabel":
            if label is None or not 0 <= int(label) < self.num_classes:
                raise CuratorError(f"label {label} is outside the {self.num_classes} classes")
            label = int(label)
            if label == given:
                action, label = "keep", -1
        elif action in ("keep", "drop"):
            label = -1
        else:
            raise CuratorError(f"action {action!r} is not one of relabel, keep, drop")
        with self._mutex:
            before = dict(self.rows)
            self.rows[index] = (action, int(label))
            try:
                self._write()
            except BaseException:
                self.rows = before
                raise
            self.history.append(index)
        return {"index": index, "action": action, "label": label}

    def undo(self) -> int | None:
        """Take back this session's last answer (the file is written again); None when there
        is none."""
        with self._mutex:
            while self.history:
                index = self.history.pop()
                if index in self.rows:
                    before = dict(self.rows)
                    del self.rows[index]
                    try:
                        self._write()
                    except BaseException:
                        self.rows = before
                        self.history.append(index)
                        raise
                    return index
        return None

    def _index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < len(self.labels):
            raise CuratorError(f"index {index} is outside the {len(self.labels)} samples")
        return index

    def _write(self) -> None:
        # each row was checked when it was answered: the arrays are made directly
        index = np.fromiter(sorted(self.rows), dtype=np.int64, count=len(self.rows))
        rows = [self.rows[i] for i in index.tolist()]
        corrections.write(corrections.Corrections(
            self.fingerprint, len(self.labels), self.num_classes, index,
            np.array([a for a, _ in rows], dtype="<U7"),
            np.array([y for _, y in rows], dtype=np.int64), self.labels[index]), self.path)

    def as_json(self) -> dict[str, list[Any]]:
        return {str(i): [a, y] for i, (a, y) in self.rows.items()}


@dataclass
class Review:
    """Everything the page shows, read once from the scores file: the queue (flagged, most
    likely wrong first, then suspected), each sample's given and suggested label, the
    probabilities, its trajectory, and the samples themselves when the data can be loaded."""

    labels: np.ndarray  # (N,)
    classes: list[str]
    queue: np.ndarray  # indices, flagged then suspected
    flagged: np.ndarray  # (N,) bool
    suspected: np.ndarray  # (N,) bool
    probability: np.ndarray  # (N,) of a wrong label
    suggested: np.ndarray  # (N,) -1: none
    confidence: np.ndarray  # (N,)
    scores: Path  # the scores file, read again for each sample's trajectory
    ease: np.ndarray  # (N,) learnability: the hardest first when a person browses a class
    typical: list[np.ndarray]  # per class, its easiest members
    samples: Any  # the training split (curator.api.TrainingSplit) or None
    shape: tuple[int, ...]
    answers: Answers
    texts: list[str] | None = None  # each sample's text (load_texts), shown instead of images
    contested: tuple[int, ...] = ()  # the classes a person's count reads (curator.flags.recount)
    seed: int = 0  # of the review samples (curator.flags.review_order): the data's

    @classmethod
    def open(cls, scores: str | Path, out: str | Path, texts: str | None = None) -> Review:
        """Read ``scores`` (nothing is written to it) and take the corrections file ``out``;
        ``texts``: where each training sample's text is (:func:`load_texts`)."""
        from curator.flagging import data_seed, read_report
        from curator.scores import FileTrajectories
        from curator.store import open_scores

        report, _ = read_report(scores)
        if report.suggested is None or report.confidence is None:
            raise CuratorError(f"{str(scores)!r} records no rival classes (format 0.1.0): it "
                               "has no suggested labels to review",
                               hint="score again with this curator")
        with open_scores(scores) as f:
            FileTrajectories(f)  # complete runs, or a clear error
            ease = f.score("learnability").values
            samples, shape = (None, ()) if texts is not None else _samples(f)
        labels = report.labels
        text = None if texts is None else load_texts(texts, labels)
        order = np.lexsort((-np.asarray(ease, dtype=np.float64), labels))
        counts = np.bincount(labels, minlength=len(report.classes))
        members = np.split(order, np.cumsum(counts)[:-1])
        answers = Answers(out, report.fingerprint, labels, len(report.classes))
        return cls(labels, report.classes, report.listed, report.fit.flagged,
                   report.fit.suspected,
                   np.asarray(report.fit.probability, dtype=np.float64), report.suggested,
                   report.confidence, Path(scores), np.asarray(ease, dtype=np.float64),
                   [m[:TYPICAL] for m in members], samples, shape, answers, text,
                   tuple(report.fit.contested), data_seed(report.fingerprint))

    def state(self) -> dict[str, Any]:
        """The page's start: classes, the queue, the answers so far."""
        return {"classes": self.classes, "num_samples": len(self.labels),
                "queue": self.queue.tolist(), "answers": self.answers.as_json(),
                "flagged": int(self.flagged.sum()),
                "given": self.labels[self.queue].tolist(),
                "suggested": self.suggested[self.queue].tolist(),
                "images": self.samples is not None, "text": self.texts is not None,
                "out": str(self.answers.path),
                "suspected": int(self.suspected.sum()),
                "contested": [self.classes[c] for c in self.contested],
                # flags of the other classes that rest on the contested classes' evidence
                "lent": lent(self.flagged, self.labels, self.contested)}

    def queue_of(self, by: str = "flags", cls: int | None = None,
                 limit: int = 2000) -> dict[str, list[int]]:
        """A queue to review: ``flags`` (the flagged, then the suspected, most likely wrong
        first), ``unsure`` (the flagged in the order answers add most to relabelling:
        :func:`curator.flags.unsure_first`), ``hardest`` (every sample, the lowest
        learnability first, at most ``limit``) or ``sample`` (a class's review sample,
        :func:`curator.flags.review_order`: its members in a fixed random order, at most
        ``limit``, whose answers count the class's wrong labels for ``curator flag
        --answers``; of all classes, the first :data:`curator.flags.COUNT_ASKED` of each
        contested class's, or of every class's where none is contested), of one class or
        all."""

        if cls is not None and not 0 <= cls < len(self.classes):
            raise CuratorError(f"class {cls} is outside the {len(self.classes)} classes")
        if by == "flags":
            idx = self.queue
        elif by == "unsure":
            idx = unsure_first(self.flagged, self.probability, self.suggested,
                               self.confidence)
        elif by == "hardest":
            idx = np.argsort(self.ease, kind="stable")
        elif by == "sample":
            if cls is not None:
                idx = review_order(self.labels, cls, self.seed)[:max(1, limit)]
            else:
                idx = np.concatenate([
                    review_order(self.labels, c, self.seed)[:COUNT_ASKED]
                    for c in (self.contested or range(len(self.classes)))])
        else:
            raise CuratorError(f"queue {by!r} is not one of flags, unsure, hardest, sample")
        if cls is not None:
            idx = idx[self.labels[idx] == cls]
        if by == "hardest":
            idx = idx[:max(1, limit)]
        return {"queue": idx.tolist(), "given": self.labels[idx].tolist(),
                "suggested": self.suggested[idx].tolist()}

    def texts_of(self, indices: list[int]) -> dict[str, str]:
        """The texts of at most 500 samples (the grid view of text data); none without
        texts."""
        if len(indices) > 500:
            raise CuratorError(f"{len(indices)} texts asked for at once; at most 500")
        if self.texts is None:
            return {}
        return {str(i): self.texts[self.answers._index(i)] for i in indices}

    def sample(self, index: int) -> dict[str, Any]:
        """One sample as the page shows it."""
        from curator.scores import FileTrajectories, rival_probability
        from curator.store import open_scores

        i = self.answers._index(index)
        s = int(self.suggested[i])
        given = int(self.labels[i])
        with open_scores(self.scores) as f:  # one sample's trajectories: (R, T, 1) each
            traj = FileTrajectories(f)
            p = traj.read("p_true", i, i + 1)[:, :, 0].astype(np.float64)
            margin = traj.read("margin", i, i + 1)[:, :, 0].astype(np.float64)
            rival = traj.read("rival", i, i + 1)[:, :, 0].astype(np.int64)
        # the suggested class's probability where it was the rival (p_y exp(-margin)), the
        # mean over the runs where it was; None in the epochs where it was in none
        p_rival = rival_probability(p, margin)
        hit = rival == s
        count = hit.sum(axis=0)
        mean = np.where(hit, p_rival, 0).sum(axis=0) / np.maximum(count, 1)
        p_given = np.nanmean(p, axis=0)
        p_sugg = [None if s < 0 or c == 0 else round(float(v), 4)
                  for c, v in zip(count, mean, strict=True)]
        shown = [i, *self.typical[given].tolist(),
                 *(self.typical[s].tolist() if s >= 0 else [])]
        texts = ({} if self.texts is None else {str(j): self.texts[j] for j in shown})
        return {"index": i, "given": given, "suggested": s, "texts": texts,
                "confidence": round(float(self.confidence[i]), 4),
                "probability": round(float(self.probability[i]), 4),
                "flagged": bool(self.flagged[i]), "suspected": bool(self.suspected[i]),
                "p_given": [round(float(v), 4) for v in p_given],
                "p_suggested": p_sugg,
                "typical_given": self.typical[given].tolist(),
                "typical_suggested": self.typical[s].tolist() if s >= 0 else [],
                "answer": self.answers.rows.get(i)}

    def png(self, index: int, size: int = 4) -> bytes:
        """The sample as a PNG: the image for image data, else a line plot of its values."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        i = self.answers._index(index)
        if self.samples is None:
            raise CuratorError("the data this file was scored on could not be loaded")
        x = self.samples[i][0].float().numpy()
        buf = io.BytesIO()
        if x.ndim == 3 and x.shape[0] in (1, 3):
            img = x.transpose(1, 2, 0)
            img = (img - img.min()) / max(float(img.max() - img.min()), 1e-8)
            plt.imsave(buf, img.squeeze(2) if img.shape[2] == 1 else img, cmap="gray",
                       format="png")
        else:
            fig = plt.figure(figsize=(size, size * 0.6), dpi=60)
            ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
            ax.plot(x.ravel(), lw=1.2)
            ax.set_axis_off()
            fig.savefig(buf, format="png")
            plt.close(fig)
        return buf.getvalue()


def load_texts(source: str | Path, labels: np.ndarray) -> list[str]:
    """Each training sample's text, in index order, from ``source``: a ``.txt`` file (one
    sample a line), a ``.jsonl`` or ``.csv`` file, or a Hugging Face data set folder
    (``save_to_disk`` or data files, as ``--data hf:`` reads it: its ``train`` split); in the
    last three the
    column ``text``, or another named after a comma (``data.jsonl,column=sentence``). Texts of
    another length than the scores file's samples are refused, and so are those whose rows
    carry a ``label`` column that differs from the file's labels: they are other data."""
    spec, _, option = str(source).partition(",")
    column = "text"
    if option:
        key, _, value = option.partition("=")
        if key != "column" or not value:
            raise CuratorError(f"the texts' option {option!r} is not column=NAME",
                               hint="e.g. --texts train.jsonl,column=sentence")
        column = value
    path = Path(spec)
    if not path.exists():
        raise CuratorError(f"the texts {str(path)!r} do not exist")
    given: list[Any] | None = None
    if path.is_file() and path.suffix == ".txt":
        texts = path.read_text(encoding="utf-8").splitlines()
    elif path.is_file() and path.suffix in (".jsonl", ".csv"):
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip()]
        else:
            import csv

            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        if rows and column not in rows[0]:
            raise CuratorError(f"{str(path)!r} has no column {column!r} (it has "
                               f"{', '.join(map(repr, rows[0]))})",
                               hint=f"name the texts' column: --texts {spec},column=NAME")
        texts = [str(r[column]) for r in rows]
        if rows and "label" in rows[0]:
            given = [r["label"] for r in rows]
    elif path.is_dir():
        from curator.data import hf_splits

        loaded = hf_splits(path)["train"]
        if column not in loaded.column_names:
            raise CuratorError(f"{str(path)!r} has no column {column!r} (it has "
                               f"{', '.join(map(repr, loaded.column_names))})",
                               hint=f"name the texts' column: --texts {spec},column=NAME")
        texts = [str(t) for t in loaded[column]]
        if "label" in loaded.column_names:
            given = loaded["label"]
    else:
        raise CuratorError(f"cannot read texts from {str(path)!r}",
                           hint="give a .txt (a sample a line), .jsonl or .csv file, or a "
                                "folder saved with Dataset.save_to_disk")
    if len(texts) != len(labels):
        raise CuratorError(f"{str(path)!r} has {len(texts)} texts, but the scores file has "
                           f"{len(labels)} samples: they are other data")
    if given is not None:
        try:
            numbers = np.asarray(given, dtype=np.int64)
        except (TypeError, ValueError):
            numbers = None  # string labels: not comparable with the file's numbers
        if numbers is not None and (numbers != labels).any():
            at = int(np.argmax(numbers != labels))
            raise CuratorError(f"{str(path)!r}'s labels differ from the scores file's (first "
                               f"at row {at}: {int(numbers[at])} against {int(labels[at])}): "
                               "they are other data, or in another order")
    return texts


def _samples(f: Any) -> tuple[Any, tuple[int, ...]]:
    """The training split the file was scored on, one sample at a time
    (:class:`curator.api.TrainingSplit`), or None when it cannot be loaded (the page then
    shows no samples); data that load but are not the data of the file (another length,
    other labels) are refused."""
    from curator.api import TrainingSplit
    from curator.data import DataBundle

    shape = tuple(f.data_spec.get("sample_shape") or ())
    try:
        bundle = DataBundle.from_stored(f.config, source=repr(str(f.path)))
    except CuratorError:
        return None, shape
    f.check_data(bundle)  # the indices must mean the same samples
    return TrainingSplit(bundle.train), shape


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, review: Review, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.review = review
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass  # quiet: the person is looking at the page, not the terminal

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        bound = str(self.server.server_address[0])
        return host in ("127.0.0.1", "localhost", "::1", bound)

    def _route(self, method: str) -> None:
        if not self._host_ok():
            self._json({"error": "unknown host"}, HTTPStatus.FORBIDDEN)
            return
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        review = self.server.review
        try:
            # read a request's body whatever the route: left unread on a kept-alive
            # connection it would prefix the next request line
            body = self._body() if method == "POST" else {}
            if method == "GET" and not parts:
                self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif method == "GET" and parts == ["api", "state"]:
                self._json(review.state())
            elif method == "GET" and parts == ["api", "queue"]:
                query = parse_qs(url.query)
                cls = query.get("cls", [""])[0]
                self._json(review.queue_of(query.get("by", ["flags"])[0],
                                           _int(cls) if cls != "" else None,
                                           _int(query.get("limit", ["2000"])[0])))
            elif method == "GET" and parts == ["api", "texts"]:
                ids = parse_qs(url.query).get("ids", [""])[0]
                self._json(review.texts_of([_int(i) for i in ids.split(",") if i]))
            elif method == "GET" and len(parts) == 3 and parts[:2] == ["api", "sample"]:
                self._json(review.sample(_int(parts[2])))
            elif method == "GET" and len(parts) == 2 and parts[0] == "img":
                size = parse_qs(url.query).get("size", ["4"])[0]
                self._send(200, review.png(_int(parts[1].removesuffix(".png")), _int(size)),
                           "image/png")
            elif method == "POST" and parts == ["api", "answer"]:
                done = review.answers.answer(_int(body.get("index")), str(body.get("action")),
                                             None if body.get("label") is None
                                             else _int(body.get("label")))
                self._json({"done": done, "answers": len(review.answers.rows)})
            elif method == "POST" and parts == ["api", "undo"]:
                self._json({"undone": review.answers.undo(),
                            "answers": len(review.answers.rows)})
            else:
                self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
        except CuratorError as exc:
            self.close_connection = True  # a body left unread must not reach the next request
            self._json({"error": exc.message}, HTTPStatus.BAD_REQUEST)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 16:
            raise CuratorError("request too large")
        try:
            value = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            raise CuratorError("the request is not JSON") from None
        if not isinstance(value, dict):
            raise CuratorError("the request must be a JSON object")
        return value

    def do_GET(self) -> None:  # noqa: N802 (the base's name)
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise CuratorError(f"{value!r} is not an integer") from None


def serve(review: Review, *, host: str = "127.0.0.1", port: int = 8765) -> Server:
    """A server for ``review`` (not yet serving: call ``serve_forever``)."""
    try:
        return Server(review, host, port)
    except OSError as exc:
        raise CuratorError(f"cannot listen on {host}:{port}: {exc.strerror}",
                           hint="choose another --port, or 0 for any free one") from None
