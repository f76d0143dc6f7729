"""Which pruning strategy is safe? Train on each selection and compare with random.

For each regime (clean labels, and --noise fractions flipped): one reference run scores the
data (R seeds x T epochs), then every strategy keeps --keep of the training set, and the
one training loop trains a fresh model on the kept samples for the same number of epochs
(so fewer steps than the full data) over --train-seeds seeds. Prints the final test accuracy
(mean ± std over seeds), the difference to `random` with a Welch t-test p-value, and the
share of flipped labels each strategy keeps.

    python benchmarks/prune_strategies.py --model mlp --keep 0.7 --noise 0.2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from curator.config import TrainConfig  # noqa: E402
from curator.data import DataBundle  # noqa: E402
from curator.flagging import file_mislabel  # noqa: E402
from curator.loop import Trainer, resolve_device  # noqa: E402
from curator.models import build_model  # noqa: E402
from curator.pruning import STRATEGIES, PruneOptions, plan_selection  # noqa: E402
from curator.reference import score  # noqa: E402
from curator.store import open_scores  # noqa: E402

VARIANTS = [("random", {}), ("easy", {}), ("hard", {}), ("drop-noisy", {}),
            ("stratified", {"drop_hardest": 0.0}), ("stratified", {"drop_hardest": 0.1}),
            ("stratified", {"drop_hardest": 0.2}), ("stratified", {})]  # {}: the default


def train_subset(cfg: TrainConfig, bundle, indices: np.ndarray, seed: int) -> float:  # noqa: ANN001
    torch.manual_seed(seed)
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
    trainer = Trainer(model, bundle.train, cfg.replace(probe="none"), seed=seed,
                      device=resolve_device(cfg.device), test=bundle.test,
                      subset=torch.from_numpy(indices))
    result = None
    for epoch in range(cfg.epochs):
        result = trainer.train_epoch(epoch)
    assert result is not None
    return result.test_acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--keep", type=float, default=0.7)
    parser.add_argument("--by", default="learnability")
    parser.add_argument("--noise", type=float, nargs="*", default=[0.2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3, help="reference-run seeds")
    parser.add_argument("--train-seeds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(describe())
    assert {v for v, _ in VARIANTS} <= set(STRATEGIES.names())
    report = {}
    for noise in [0.0, *args.noise]:
        cfg = TrainConfig(data=args.data, model=args.model, epochs=args.epochs,
                          seeds=args.seeds, label_noise=noise, device=args.device)
        bundle = DataBundle.from_config(cfg)
        with tempfile.TemporaryDirectory() as tmp:
            score(cfg, out=Path(tmp) / "s.h5")
            with open_scores(Path(tmp) / "s.h5") as f:
                s = f.score(args.by)
                mislabel = file_mislabel(f)
        keep = int(round(args.keep * bundle.num_samples))
        rows = {}
        for strategy, kw in VARIANTS:
            label = strategy + "".join(f" {k}={v}" for k, v in kw.items())
            plan = plan_selection(s.ease, keep, strategy=strategy, mislabel=mislabel,
                                  opts=PruneOptions(**kw))
            idx = plan.indices
            if plan.params.get("drop_hardest") == "auto":  # the flagged samples
                label += f" auto ({plan.params['dropped_first']} flagged dropped)"
            accs = [train_subset(cfg, bundle, idx, seed) for seed in range(args.train_seeds)]
            flipped = (float(bundle.noisy[idx].sum() / bundle.noisy.sum())
                       if bundle.noisy is not None else float("nan"))
            rows[label] = {"acc": accs, "kept": len(idx), "flipped_kept": flipped}
        full = [train_subset(cfg, bundle, np.arange(bundle.num_samples), seed)
                for seed in range(args.train_seeds)]
        base = rows["random"]["acc"]
        print(f"\n{args.data}, label noise {noise}, model {args.model}, keep {args.keep} by "
              f"{args.by}, {args.epochs} epochs on the kept samples; test accuracy over "
              f"{args.train_seeds} seeds (full data: {mean_std(full)})")
        print(f"{'strategy':<28} {'kept':>5} {'test acc':>18} {'vs random':>10} "
              f"{'p (Welch)':>10} {'flipped kept':>13}")
        for label, r in rows.items():
            diff = float(np.mean(r["acc"]) - np.mean(base))
            p = (float(stats.ttest_ind(r["acc"], base, equal_var=False).pvalue)
                 if label != "random" else float("nan"))
            r.update(delta=diff, p_value=p)
            flipped = "-" if np.isnan(r["flipped_kept"]) else f"{100 * r['flipped_kept']:.1f}%"
            print(f"{label:<28} {r['kept']:>5} {mean_std(r['acc']):>18} {diff:>+10.4f} "
                  f"{p:>10.3g} {flipped:>13}")
        report[str(noise)] = {"rows": rows, "full": full}
    if args.out:
        args.out.write_text(json.dumps({"config": vars(args), "results": report}, indent=2,
                                       default=str))


if __name__ == "__main__":
    main()
