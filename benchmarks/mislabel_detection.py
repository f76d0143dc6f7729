"""How well does each score flag flipped labels? And do architectures agree (Table 1)?

Scores the same noisy data with each model (R seeds x T epochs, K-fold holdout runs and
prediction depth), then prints, for every score, the AUROC with which "harder" ranks the
flipped samples above the clean ones: per seed (mean ± std over the R seeds) and for the
score averaged over seeds. Last, the learnability correlation matrix between the models
(seed 001's Table 1, via `curator compare`).

    python benchmarks/mislabel_detection.py --models mlp cnn resnet20 --label-noise 0.2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from curator.compare import compare_files  # noqa: E402
from curator.config import TrainConfig  # noqa: E402
from curator.reference import score  # noqa: E402
from curator.scores import FileTrajectories, compute_scores  # noqa: E402
from curator.store import ease_of, open_scores  # noqa: E402


def auroc(values: np.ndarray, higher_is: str, noisy: np.ndarray) -> float:
    """AUROC of 'harder' as a detector of the flipped labels."""
    return float(roc_auc_score(noisy, -ease_of(values, higher_is)))


def per_seed_aurocs(path: Path, noisy: np.ndarray) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    with open_scores(path) as f:
        runs = f.runs()
        for run in (r for r in runs if r.kind == "reference"):
            holdout = [r.name for r in runs if r.kind == "holdout" and r.seed == run.seed]
            hold = FileTrajectories(f, holdout, kind="holdout") if holdout else None
            for name, s in compute_scores(FileTrajectories(f, [run.name]),
                                          holdout=hold).items():
                if name not in ("learnability_rank", "cartography_region"):
                    out.setdefault(name, []).append(auroc(s.values, s.higher_is, noisy))
            if "prediction_depth" in f._f["runs"][run.name]:
                depth = f._f["runs"][run.name]["prediction_depth"][()]
                out.setdefault("prediction_depth", []).append(auroc(depth, "harder", noisy))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn", "resnet20"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--holdout", type=int, default=4)
    parser.add_argument("--label-noise", type=float, default=0.2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="write config and results as JSON")
    args = parser.parse_args()
    print(describe())
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for model in args.models:
            cfg = TrainConfig(data=args.data, model=model, epochs=args.epochs,
                              seeds=args.seeds, label_noise=args.label_noise,
                              holdout=args.holdout, prediction_depth=True, device=args.device)
            path = Path(tmp) / f"{model}.h5"
            t0 = time.perf_counter()
            score(cfg, out=path)
            with open_scores(path) as f:
                noisy = f.noisy
                assert noisy is not None
                averaged = {n: auroc(f.score(n).values, f.score(n).higher_is, noisy)
                            for n in f.score_names()
                            if n not in ("learnability_rank", "cartography_region")}
                test_acc = [r.final_test_acc for r in f.runs() if r.kind == "reference"]
            results[model] = {"per_seed": per_seed_aurocs(path, noisy), "averaged": averaged,
                              "test_acc": test_acc, "seconds": time.perf_counter() - t0}
            files.append(path)
            print(f"{model}: {args.seeds} seeds x {args.epochs} epochs + {args.holdout}-fold "
                  f"holdout + prediction depth in {results[model]['seconds']:.0f} s; final "
                  f"test accuracy {mean_std(test_acc)} (noisy training labels)")
        comparison = compare_files(files) if len(files) > 1 else None
    n_noisy = int(noisy.sum())
    print(f"\nAUROC of each score for the {n_noisy} flipped labels of {len(noisy)} "
          f"({args.data}, label noise {args.label_noise}); per seed mean ± std over "
          f"{args.seeds} seeds [score averaged over seeds]")
    names = sorted(next(iter(results.values()))["averaged"])
    print(f"{'score':<22}" + "".join(f"{m:>26}" for m in args.models))
    for name in names:
        row = f"{name:<22}"
        for m in args.models:
            seeds = results[m]["per_seed"].get(name, [])
            cell = f"{mean_std(seeds) if seeds else '-'} [{results[m]['averaged'][name]:.3f}]"
            row += f"{cell:>26}"
        print(row)
    if comparison is not None:
        print_comparison(args, comparison)
    if args.out:
        args.out.write_text(json.dumps({"config": vars(args), "results": results,
                                        "comparison": comparison and comparison.to_dict()},
                                       indent=2, default=str))


def print_comparison(args: argparse.Namespace, comparison) -> None:  # noqa: ANN001
    print(f"\nlearnability across models on {args.data} with label noise {args.label_noise}: "
          "Pearson (Pearson of ranks); Jaccard of easiest / hardest 10%")
    for i, a in enumerate(args.models):
        for j in range(i + 1, len(args.models)):
            print(f"  {a:>9} / {args.models[j]:<9} {comparison.pearson[i, j]:.3f} "
                  f"({comparison.rank_pearson[i, j]:.3f});  "
                  f"{comparison.jaccard_easiest[i, j]:.3f} / "
                  f"{comparison.jaccard_hardest[i, j]:.3f}")


if __name__ == "__main__":
    main()
