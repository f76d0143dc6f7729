"""Write the arrays the default flag estimate reads from a scores file, for a class-stratified
sample of its training samples, as a small ``.npz`` a test can read without HDF5 or training:
``early_aum``, ``early_learnability``, ``early_rival`` (float32), ``labels`` (uint8) and
``flipped`` (the injected label noise, bool; all False for data with none injected).

    python tests/data/early_arrays.py SCORES.h5 OUT.npz [--per-class 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from curator.scores import FileTrajectories, compute_scores  # noqa: E402
from curator.store import open_scores  # noqa: E402

NAMES = ("early_aum", "early_learnability", "early_rival")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with open_scores(args.scores) as f:
        labels = np.asarray(f.labels)  # no injected noise: nothing flipped
        flipped = (np.zeros(len(labels), dtype=bool) if f.noisy is None
                   else np.asarray(f.noisy, dtype=bool))
        scored = compute_scores(FileTrajectories(f), list(NAMES))
    rng = np.random.default_rng(args.seed)
    at = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(labels == c), min(args.per_class, int((labels == c).sum())),
                   replace=False) for c in np.unique(labels)]))
    arrays = {name: np.asarray(scored[name].values, np.float32)[at] for name in NAMES}
    np.savez_compressed(args.out, **arrays, labels=labels[at].astype(np.uint8),
                        flipped=flipped[at])
    print(f"{args.out}: {len(at)} samples, {int(flipped[at].sum())} flipped")


if __name__ == "__main__":
    main()
