"""The early window on scores files: estimate 3's window (up to the first epoch whose test
accuracy is level with the best) against estimate 4's (one epoch more when the model reached
the level only during that epoch), and the flags each gives, on files already scored (no
training). A file whose two windows agree gets the same flags and is listed as such.

    python benchmarks/window_on_files.py runs/*.h5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe  # noqa: E402
from curator.flags import WINDOW_Z, early_window, flag_quality  # noqa: E402
from curator.scores import FileTrajectories, compute_scores  # noqa: E402
from curator.store import open_scores  # noqa: E402


def estimate3_window(mean: np.ndarray, test_samples: int | None) -> int:
    """The first (1-based) epoch whose mean test accuracy is within one standard error of
    the best (estimate 3's rule, without the half-epoch lag)."""
    best = float(mean.max())
    level = best - WINDOW_Z * float(np.sqrt(best * (1 - best) / test_samples)) \
        if test_samples else best
    return int(np.argmax(mean >= level)) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    print(describe())
    print(f"{'file':<46} {'T':>3} {'m':>6} {'window 3 -> 4':>14} | flagged and F1 (or flagged "
          f"on clean data), estimate 3 -> 4")
    for path in args.files:
        with open_scores(path) as f:
            traj = FileTrajectories(f)
            acc = np.asarray(traj.test_acc, dtype=np.float64)
            m = traj.test_samples
            old = estimate3_window(acc.mean(axis=0), m)
            new = early_window(acc, traj.num_epochs, m, f.num_classes)
            line = f"{path.name:<46} {traj.num_epochs:>3} {m or '-':>6} {old:>6} -> {new:<5} |"
            if old == new:
                print(line, "same window, same flags", flush=True)
                continue
            probs = [compute_scores(traj, ["mislabel_probability"],
                                    options={"early_epochs": w})["mislabel_probability"].values
                     for w in (old, new)]
            noisy = f.noisy
        if noisy is not None and noisy.any():
            a, b = (flag_quality(p >= 0.5, noisy) for p in probs)
            print(f"{line} {a.flagged} F1 {a.f1:.3f} -> {b.flagged} F1 {b.f1:.3f}", flush=True)
        else:
            print(f"{line} {int((probs[0] >= 0.5).sum())} -> {int((probs[1] >= 0.5).sum())}",
                  flush=True)


if __name__ == "__main__":
    main()
