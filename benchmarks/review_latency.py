"""How fast ``curator review`` is on a real-sized file: the start, the first page, every answer.

Opens the review of a scores file (as ``curator review`` does), serves it on a free local
port, then, as the browser would: the page, the state, the first sample and its image (the
first page), and then ``--answers`` answers in the queue's order (relabel to the suggestion,
keep, drop in turn), each a POST that rewrites the corrections file. Prints the start-up time,
the first page's time, and the answers' latency (median, 95th percentile, maximum) for the
first and the last hundred, since each answer writes every answer so far.

    python benchmarks/review_latency.py scores.h5 [--answers 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from curator.review import Review, serve  # noqa: E402


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def once(scores: Path, answers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        review = Review.open(scores, Path(tmp) / "corrections.csv")
        start = time.perf_counter() - t0
        server = serve(review, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = server.url
        try:
            t0 = time.perf_counter()
            _get(url)
            state = json.loads(_get(url + "api/state"))
            first = state["queue"][0]
            sample = json.loads(_get(f"{url}api/sample/{first}"))
            if state["images"]:
                _get(f"{url}img/{first}.png?size=6")
                for i in sample["typical_given"] + sample["typical_suggested"]:
                    _get(f"{url}img/{i}.png")
            page = time.perf_counter() - t0
            queue = state["queue"][:answers]
            lat = []
            for k, i in enumerate(queue):
                s = int(state["suggested"][k])
                body = ({"index": i, "action": "relabel", "label": s} if k % 3 == 0 and s >= 0
                        else {"index": i, "action": "keep" if k % 3 == 1 else "drop"})
                t0 = time.perf_counter()
                _post(url + "api/answer", body)
                lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            json.loads(_get(f"{url}api/sample/{queue[-1]}"))
            later = time.perf_counter() - t0
        finally:
            server.shutdown()
            server.server_close()
            review.answers.close()
    return {"n": len(review.labels), "queue": len(review.queue),
            "flagged": int(review.flagged.sum()), "start": start, "page": page,
            "answers": lat, "sample": later}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", type=Path)
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(describe())
    runs = [once(args.scores, args.answers) for _ in range(args.repeats)]
    r0 = runs[0]
    lat = [r["answers"] for r in runs]  # type: ignore[misc]
    count = len(lat[0])
    print(f"{args.scores.name}: {r0['n']} samples, {r0['flagged']} flagged, "
          f"{r0['queue']} to review; {count} answers each; {args.repeats} repeats")

    def ms(values: list[float]) -> str:
        return mean_std([1000 * v for v in values])

    starts = [float(r["start"]) for r in runs]  # type: ignore[arg-type]
    pages = [float(r["page"]) for r in runs]  # type: ignore[arg-type]
    print(f"start (read the file, load the data): {mean_std(starts)} s (each: "
          f"{', '.join(f'{v:.2f}' for v in starts)})")
    print(f"first page (page, state, first sample, its image, 12 typical members' images): "
          f"{ms(pages)} ms (each: {', '.join(f'{1000 * v:.0f}' for v in pages)})")
    print(f"a sample after the last answer: {ms([r['sample'] for r in runs])} ms")
    for name, part in (("first 100", slice(0, 100)), ("last 100", slice(-100, None)),
                       ("all", slice(None))):
        chunk = [v for r in lat for v in r[part]]
        q = statistics.quantiles(chunk, n=20)
        print(f"answers, {name}: median {1000 * statistics.median(chunk):.1f} ms, "
              f"95th percentile {1000 * q[18]:.1f} ms, max {1000 * max(chunk):.1f} ms, "
              f"{sum(v > 0.1 for v in chunk)} of {len(chunk)} over 100 ms")


if __name__ == "__main__":
    main()
