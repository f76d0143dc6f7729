"""Start-up latency of the ``curator`` command, against issue 15's goals.

Each command runs as a fresh process (as a user types it), ``--repeats`` times; the figure is
the best run (the machine's noise only ever adds time). The small file is a digits scores
file made once at the start (1 seed x 2 epochs). ``score``'s fixed cost is the wall time of a
1-epoch run less the epoch itself (its seconds as the file records them).

    python benchmarks/cli_latency.py --repeats 5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe  # noqa: E402

CURATOR = [sys.executable, "-m", "curator"]


def best(args: list[str] | list[list[str]], repeats: int) -> float:
    """Best wall time of ``repeats`` runs; a list of argument lists is cycled through."""
    cycle = args if args and isinstance(args[0], list) else [args]
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        subprocess.run([*CURATOR, *cycle[k % len(cycle)]], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        small = str(Path(tmp) / "small.h5")
        subprocess.run([*CURATOR, "score", "--epochs", "2", "--seeds", "1", "--device", "cpu",
                        "--label-noise", "0.2", "--quiet", "--out", small], check=True,
                       capture_output=True)
        rows = [
            ("curator --help", ["--help"], 0.5),
            ("curator scores list", ["scores", "list"], 0.5),
            ("curator inspect FILE", ["inspect", small], 1.5),
            ("curator export FILE", ["export", small, "--out", str(Path(tmp) / "s.csv")],
             1.5),
            ("curator prune FILE --keep 0.7", ["prune", small, "--keep", "0.7", "--force"],
             1.5),
            ("curator flag FILE", ["flag", small], 1.5),
            # a new mixture fit each time (the score alternates, so the stored fit is never
            # the one asked for): what `flag` cost before it read curator score's fit back
            ("curator flag FILE --by (new fit)", [["flag", small, "--by", by]
                                                  for by in ("learnability", "confidence")],
             1.5),
        ]
        print(f"\nbest of {args.repeats} runs, each a fresh process; small file: digits, "
              "1 seed x 2 epochs")
        print(f"{'command':<36} {'seconds':>8} {'goal':>6}  met")
        for label, cmd, goal in rows:
            t = best(cmd, args.repeats)
            print(f"{label:<36} {t:>8.2f} {goal:>6.1f}  {'yes' if t <= goal else 'no'}")
        # score's fixed cost: a 1-epoch run's wall time less the epoch itself (its seconds
        # as the file records them: training, recording and the test pass)
        from curator.store import open_scores

        fixed, epoch = [], []
        for k in range(args.repeats):
            out = str(Path(tmp) / f"one-{k}.h5")
            start = time.perf_counter()
            subprocess.run([*CURATOR, "score", "--epochs", "1", "--seeds", "1", "--device",
                            "cpu", "--quiet", "--out", out], check=True, capture_output=True)
            total = time.perf_counter() - start
            with open_scores(out) as f:
                seconds = f.run("seed-0").wall_time_s
            fixed.append(total - seconds)
            epoch.append(seconds)
        t = min(fixed)
        print(f"{'curator score: fixed cost':<36} {t:>8.2f} {2.0:>6.1f}  "
              f"{'yes' if t <= 2.0 else 'no'}   (a 1-epoch run less its epoch, "
              f"{min(epoch):.2f} s)")

if __name__ == "__main__":
    main()
