"""Seed 001's Table 1 on small data: correlation of learnability between architectures.

Scores the same data with each model (R seeds x T epochs each, via the library's reference
run) and prints the Pearson correlation of learnability and, in parentheses, the Spearman
correlation (the Pearson correlation of the ranks), as Table 1 of Lee et al. (2019) does.

    python benchmarks/architecture_correlation.py --models mlp cnn --epochs 30 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe  # noqa: E402
from curator.config import TrainConfig  # noqa: E402
from curator.reference import score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--label-noise", type=float, default=0.0)
    parser.add_argument("--probe", default="train")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="write config and results as JSON")
    args = parser.parse_args()
    print(describe())
    learn, info = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            cfg = TrainConfig(data=args.data, model=model, epochs=args.epochs, seeds=args.seeds,
                              label_noise=args.label_noise, probe=args.probe,
                              device=args.device)
            t0 = time.perf_counter()
            summary = score(cfg, out=Path(tmp) / f"{model}.h5")
            learn[model] = summary.scores["learnability"].values.astype(np.float64)
            info[model] = time.perf_counter() - t0
            print(f"{model}: {args.seeds} seeds x {args.epochs} epochs in {info[model]:.1f} s, "
                  f"mean learnability {learn[model].mean():.4f}")
    models = args.models
    print(f"\nlearnability correlation on {args.data} (label noise {args.label_noise}, probe "
          f"{args.probe}): Pearson (Spearman)")
    width = max(len(m) for m in models) + 2
    print(" " * width + "".join(f"{m:>18}" for m in models))
    matrix = {}
    for a in models:
        row = f"{a:<{width}}"
        for b in models:
            if models.index(b) <= models.index(a):
                row += f"{'-':>18}"
                continue
            r = stats.pearsonr(learn[a], learn[b]).statistic
            rho = stats.spearmanr(learn[a], learn[b]).statistic
            matrix[f"{a}/{b}"] = {"pearson": r, "spearman": rho}
            row += f"{f'{r:.3f} ({rho:.3f})':>18}"
        print(row)
    if args.out:
        args.out.write_text(json.dumps({"config": vars(args), "correlation": matrix,
                                        "seconds": info}, indent=2, default=str))


if __name__ == "__main__":
    main()
