"""Time to build an epoch's order at ImageNet size (N = 1,281,167) for every sampler.

For each registered sampler: construction (sorting the scores, probabilities) once, then,
over --repeats epochs, the global order of an epoch (``epoch_indices``), one rank's shard of 8
(``rank_indices``), and the Python list a DataLoader iterates (``list(sampler)``, one rank of
8). Mean ± std over the epochs.

    python benchmarks/sampler_epoch.py --n 1281167 --repeats 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from samplers import SAMPLERS  # noqa: E402


def timed(fn, *args) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_281_167)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=90)
    args = parser.parse_args()
    print(describe())
    scores = np.random.default_rng(0).random(args.n)
    labels = np.random.default_rng(1).integers(0, 1000, args.n)
    print(f"\nsampler epoch build, N = {args.n:,}, {args.repeats} epochs each "
          "(seconds, mean ± std)")
    print(f"{'sampler':<40} {'build':>8} {'epoch_indices':>18} {'rank 0 of 8':>18} "
          f"{'list(rank 0 of 8)':>18}")
    variants = [(name, {}) for name in SAMPLERS.names()]
    variants.insert(1, ("easy-to-hard", {"class_balanced": True, "labels": labels}))
    variants.insert(2, ("easy-to-hard", {"unit": "step", "batch_size": 256}))
    for name, kw in variants:
        cls = SAMPLERS.get(name)
        label = name + "".join(f" {k}={v}" for k, v in kw.items() if k != "labels")
        t0 = time.perf_counter()
        sampler = cls(scores, epochs=args.epochs, **kw)
        build = time.perf_counter() - t0
        ranked = cls(scores, epochs=args.epochs, num_replicas=8, rank=0, **kw)
        whole, shard, listed = [], [], []
        for e in range(args.repeats):
            epoch = e * args.epochs // max(1, args.repeats)
            whole.append(timed(sampler.epoch_indices, epoch))
            ranked.set_epoch(epoch)
            shard.append(timed(ranked.rank_indices))
            listed.append(timed(list, ranked))
        print(f"{label:<40} {build:>8.3f} {mean_std(whole):>18} {mean_std(shard):>18} "
              f"{mean_std(listed):>18}")


if __name__ == "__main__":
    main()
