"""Dynamic pruning against random training: at equal epochs, and at equal samples presented.

Per cell (data, model): ``--train-seeds`` seeds each of

- ``random``: plain shuffling for T epochs (the reference for accuracy and for compute);
- ``dynamic s``: the dynamic-pruning sampler (``curator train --sampler dynamic --skip s``)
  for T epochs, without a reference run (its first epoch is full) or, with ``--prior``, with
  the learnability of a 1-seed reference run of the same model as its first ranking;
- ``random, same samples``: plain shuffling for round(T x share) epochs, where share is the
  samples the dynamic sampler presented over random's (the fair baseline of "saves x%").

Prints final test accuracy (mean ± std), the difference to random with Welch's p, and the
samples presented relative to random's. Each cell's result is one JSON line as it finishes.

    python benchmarks/dynamic_pruning.py --data fashion-mnist:20000 mnist1d --models mlp \\
        --epochs 15 --skip 0.3 0.4 0.5 --threads 1
    python benchmarks/dynamic_pruning.py --data fashion-mnist:20000 --models cnn \\
        --device cuda --jobs 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import mean_std, parse_grid, write_out  # noqa: E402
from benchmarks.mislabel_flags import data_spec, welch  # noqa: E402
from curator.bench import dynamic_share  # noqa: E402
from curator.config import TrainConfig  # noqa: E402
from curator.data import DataBundle  # noqa: E402
from curator.reference import score  # noqa: E402
from curator.retrain import TrainPlan, train  # noqa: E402


def bundle_of(cell: dict[str, Any]) -> tuple[TrainConfig, Any]:
    cfg = TrainConfig(data=cell["spec"], model=cell["model"], epochs=cell["epochs"],
                      device=cell["device"], batch_size=cell["batch_size"], seeds=1)
    return cfg, DataBundle.from_config(cfg)


def reference(cell: dict[str, Any]) -> str:
    """A 1-seed reference run of the cell's model (the prior ranking)."""
    torch.set_num_threads(cell["threads"])
    cfg, bundle = bundle_of(cell)
    path = str(Path(cell["cache"]) / f"ref-{cell['data'].replace(':', '_')}-{cell['model']}"
                                     f"-{cell['epochs']}.h5")
    score(cfg.replace(seed=1000), out=path, bundle=bundle, force=True)
    return path


def plans(cell: dict[str, Any], n: int) -> list[tuple[str, TrainPlan, int]]:
    """(row name, plan, epochs) of a cell: random, and per skip share the dynamic sampler
    and random for as many samples (known in advance: the epochs' lengths are)."""
    t = cell["epochs"]
    out = [("random", TrainPlan(), t)]
    for s in cell["skip"]:
        plan = TrainPlan(sampler="dynamic", prune=s, scores=cell.get("scores"))
        share = dynamic_share(plan, t, n, prior=plan.scores is not None)
        out.append((f"dynamic {s:g}", plan, t))
        out.append((f"random, samples of dynamic {s:g}", TrainPlan(), max(1, round(t * share))))
    return out


def run_one(job: tuple[dict[str, Any], str, TrainPlan, int, int]) -> dict[str, Any]:
    cell, name, plan, epochs, seed = job
    torch.set_num_threads(cell["threads"])
    cfg, bundle = bundle_of(cell)
    r = train(cfg.replace(seed=seed, epochs=epochs), plan, bundle=bundle)
    return {"cell": cell["key"], "name": name, "acc": r.final_test_acc, "epochs": epochs,
            "samples": r.samples_seen / (cell["epochs"] * bundle.num_samples),
            "wall_s": r.wall_s, "num_train": bundle.num_samples}


def collect(cells: list[dict[str, Any]], done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for cell in cells:
        rows: dict[str, dict[str, Any]] = {}
        for d in (d for d in done if d["cell"] == cell["key"]):
            row = rows.setdefault(d["name"], {"acc": [], "samples": [], "wall_s": [],
                                              "epochs": d["epochs"]})
            for k in ("acc", "samples", "wall_s"):
                row[k].append(d[k])
        for row in rows.values():
            row["samples"] = float(np.mean(row["samples"]))
            row["wall_s"] = float(np.mean(row["wall_s"]))
        if "random" in rows:
            results.append({**{k: v for k, v in cell.items() if k not in ("spec", "cache")},
                            "rows": rows})
    return results


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'data':<20} {'model':<5} {'T':>3} {'strategy':<34} {'ep':>3} "
            f"{'final test acc':>17} {'Δ vs random':>12} {'p':>6} {'samples':>8} {'s/run':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        base = r["rows"]["random"]["acc"]
        for name, row in sorted(r["rows"].items(), key=lambda kv: kv[0] != "random"):
            diff = np.mean(row["acc"]) - np.mean(base)
            p = "-" if name == "random" else f"{welch(row['acc'], base):.3f}"
            lines.append(f"{r['data']:<20} {r['model']:<5} {r['epochs']:>3} {name:<34} "
                         f"{row['epochs']:>3} {mean_std(row['acc']):>17} {diff:>+12.4f} "
                         f"{p:>6} {row['samples']:>8.3f} {row['wall_s']:>7.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["digits", "mnist1d"])
    parser.add_argument("--models", nargs="+", default=["mlp"])
    parser.add_argument("--epochs", type=int, nargs="+", default=[15])
    parser.add_argument("--skip", type=float, nargs="+", default=[0.4])
    parser.add_argument("--prior", action="store_true",
                        help="start from a 1-seed reference run's learnability")
    args = parse_grid(parser)
    print(f"{args.train_seeds} seeds per strategy; batch {args.batch_size}; skip "
          f"{args.skip}; prior: {'1-seed reference run' if args.prior else 'none'}",
          flush=True)
    cache = Path(tempfile.mkdtemp(prefix="dynamic-"))
    specs = {d: data_spec(d, args.root, cache) for d in args.data}
    cells = [{"key": f"{d}/{m}/{t}", "data": d, "spec": specs[d], "model": m, "epochs": t,
              "skip": args.skip, "prior": args.prior, "train_seeds": args.train_seeds,
              "device": args.device, "threads": args.threads, "batch_size": args.batch_size,
              "cache": str(cache)}
             for d, m, t in itertools.product(args.data, args.models, args.epochs)]
    context = mp.get_context("spawn")
    with context.Pool(args.jobs) as pool:
        if args.prior:
            for cell, path in zip(cells, pool.map(reference, cells), strict=True):
                cell["scores"] = path
        jobs = []
        for cell in cells:
            n = bundle_of(cell)[1].num_samples
            jobs += [(cell, name, plan, epochs, seed) for name, plan, epochs in plans(cell, n)
                     for seed in range(args.train_seeds)]
        done = []
        for d in pool.imap_unordered(run_one, jobs):
            print(json.dumps(d), flush=True)
            done.append(d)
    results = collect(cells, done)
    print("\nfinal test accuracy, mean ± std over the seeds; Δ and Welch's p against random "
          "at T epochs; samples presented relative to random's")
    print(table(results))
    write_out(args, results)


if __name__ == "__main__":
    main()
