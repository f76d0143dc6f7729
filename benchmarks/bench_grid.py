"""The standard `curator bench` grid on one data set: clean, budget, 20% and 40% noise.

Strategies: random (baseline), easy-to-hard, hard-to-easy, random-curriculum, importance
easy-first and hard-first, pruning (drop-flagged, stratified, easy, random) at keep 0.7 with
the same epochs and with the same steps. Each regime gets its own reference run (R seeds x T
epochs).
Prints hardware and versions, then one Markdown table per data set (mean ± std over seeds,
difference to random, Welch p-value), and writes the JSON next to --out.

    python benchmarks/bench_grid.py --data digits --model mlp --epochs 30 --seeds 3
    python benchmarks/bench_grid.py --data mnist1d --model mlp --epochs 30 --seeds 3
    python benchmarks/bench_grid.py --config configs/cifar10-resnet20.toml --device cuda  # GPU
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe  # noqa: E402
from curator.bench import Regime, make_strategies, run_bench, to_json, to_markdown  # noqa: E402
from curator.config import TrainConfig, config_from_dict, load_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path)
    parser.add_argument("--data")
    parser.add_argument("--model")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per strategy")
    parser.add_argument("--ref-seeds", type=int, default=3)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.2, 0.4])
    parser.add_argument("--budget", type=float, default=0.25)
    parser.add_argument("--keep", type=float, default=0.7)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="write the JSON results here")
    args = parser.parse_args()
    base = load_config(args.config) if args.config else TrainConfig()
    given = {k: v for k, v in {"data": args.data, "model": args.model, "epochs": args.epochs,
                               "device": args.device, "seeds": args.ref_seeds}.items()
             if v is not None}
    cfg = config_from_dict(given, base=base, source="the command line")
    print(describe())
    regimes = [Regime("standard", cfg.epochs, 0.0),
               Regime(f"budget {args.budget:g}", max(1, round(cfg.epochs * args.budget)), 0.0),
               *(Regime(f"noisy {p:g}", cfg.epochs, p) for p in args.noise)]
    grid = make_strategies(orderings=["easy-to-hard", "hard-to-easy", "random-curriculum"],
                           schemes=["easy-first", "hard-first"],
                           prune=["drop-flagged", "stratified", "easy", "random"],
                           keeps=[args.keep])
    with tempfile.TemporaryDirectory() as work:
        rows = run_bench(cfg, regimes=regimes, strategies=grid, seeds=args.seeds,
                         work_dir=Path(work), log=lambda m: print(f"  {m}", flush=True))
    print(f"\n{cfg.model} on {cfg.data}, {cfg.epochs} epochs (budget {args.budget:g}), batch "
          f"{cfg.batch_size}, lr {cfg.lr}, {args.seeds} seeds per strategy; reference runs "
          f"{cfg.seeds} seeds x {cfg.epochs} epochs\n")
    print(to_markdown(rows))
    if args.out:
        args.out.write_text(json.dumps(to_json(rows, cfg), indent=2, default=str))


if __name__ == "__main__":
    main()
