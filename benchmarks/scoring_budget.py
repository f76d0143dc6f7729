"""The cost/quality frontier of scoring: how cheap a reference run still gives the scores, and
the pruning, of the full one (3 seeds x T epochs).

Per data set, on labels with ``--noise`` of them flipped (so that the flags matter):

- ``full``: ``curator score`` with R seeds x T epochs (the reference);
- ``prefix k``: the first k epochs of the full run's first seed (free: read from the file);
- ``budget b``: what ``curator score --budget b`` runs: one seed of round(b x R x T) epochs
  with its own schedule (``TrainConfig.with_budget``);
- ``el2n@T/10``: EL2N at epoch ceil(T/10) of the first seed (Data Diet's early score);
- ``proxy M``: ``--proxy`` model, one seed x T epochs.

For each: the cost (epochs trained over the full run's R x T, and wall seconds), Spearman's
rho of its learnability (EL2N: its ease) with the full learnability, of its
``mislabel_probability`` with the full one, the flags' F1 against the flipped labels, and
downstream: a fresh model trained ``--train-seeds`` times on the default
``curator prune --keep K`` selection made with that file's scores (``drop-flagged``), final
test accuracy against the full scores' and random's; and the easy-to-hard curriculum (linear
pacing, all the data) ordered by each trained file's learnability, against the full scores'
curriculum and random order.

    python benchmarks/scoring_budget.py --data digits mnist1d --epochs 30 --threads 2
    python benchmarks/scoring_budget.py --data fashion-mnist:20000 --model cnn --proxy mlp \\
        --epochs 15 --device cuda --jobs 12
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import mean_std, parse_grid, write_out  # noqa: E402
from benchmarks.mislabel_flags import data_spec, welch  # noqa: E402
from curator.config import TrainConfig  # noqa: E402
from curator.data import DataBundle  # noqa: E402
from curator.flags import FLAG_AT, MislabelFit, flag_quality  # noqa: E402
from curator.pruning import PruneOptions, plan_selection  # noqa: E402
from curator.reference import score  # noqa: E402
from curator.retrain import TrainPlan, train  # noqa: E402
from curator.scores import ArrayTrajectories, compute_scores  # noqa: E402
from curator.store import STAT_DTYPES, open_scores  # noqa: E402

NAMES = ["learnability", "mislabel_probability"]


def base_config(a: dict[str, Any]) -> TrainConfig:
    return TrainConfig(data=a["spec"], model=a["model"], epochs=a["epochs"],
                       seeds=a["seeds"], device=a["device"], batch_size=a["batch_size"],
                       label_noise=a["noise"])


def run_score(job: tuple[dict[str, Any], str, TrainConfig]) -> dict[str, Any]:
    """A reference run into the cache; its scores and wall time."""
    a, name, cfg = job
    torch.set_num_threads(a["threads"])
    path = Path(a["cache"]) / f"{a['data'].replace(':', '_')}-{name}.h5"
    t0 = time.perf_counter()
    score(cfg, out=path, force=True)
    with open_scores(path) as f:
        values = {n: f.score(n).values for n in NAMES}
        prior = f.score("mislabel_probability").params.get("noise_share")
    return {"name": name, "path": str(path), "wall_s": time.perf_counter() - t0,
            "epochs": cfg.epochs * cfg.seeds, "prior": prior, **values}


def prefixes(path: str, ks: list[int]) -> list[dict[str, Any]]:
    """Scores of the first k epochs of the file's first run, and EL2N at T/10."""
    out = []
    with open_scores(path) as f:
        run = [r for r in f.runs() if r.kind == "reference"][0]
        stats_ = {s: f.read_stat(run.name, s)[None] for s in STAT_DTYPES}
        test_acc = f.history(run.name)["test_acc"][None]
        num_classes = f.num_classes
        tests = f.test_samples  # sets the early window
        t = run.epochs_done
    for k in ks:
        traj = ArrayTrajectories({s: v[:, :k] for s, v in stats_.items()},
                                 test_acc=test_acc[:, :k], num_classes=num_classes,
                                 test_samples=tests)
        values = compute_scores(traj, NAMES)
        out.append({"name": f"prefix {k}", "epochs": k,
                    "prior": values["mislabel_probability"].params.get("noise_share"),
                    **{n: values[n].values for n in NAMES}})
    e = max(1, math.ceil(t / 10))
    traj = ArrayTrajectories({s: v[:, :e] for s, v in stats_.items()},
                             test_acc=test_acc[:, :e], num_classes=num_classes)
    el2n = compute_scores(traj, ["el2n"], options={"el2n_epoch": e})["el2n"].values
    out.append({"name": f"el2n@{e}", "epochs": e, "learnability": -el2n.astype(np.float64),
                "mislabel_probability": None})
    return out


def retrain(job: tuple[dict[str, Any], str, np.ndarray | None, int, TrainPlan]
            ) -> dict[str, Any]:
    a, name, indices, seed, plan = job
    torch.set_num_threads(a["threads"])
    cfg = base_config(a).replace(seed=seed, seeds=1)
    r = train(cfg, plan, indices=indices, bundle=DataBundle.from_config(cfg))
    return {"name": name, "acc": r.final_test_acc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["digits", "mnist1d"])
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--proxy", help="a smaller model scored with 1 seed x T epochs")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.33])
    parser.add_argument("--keep", type=float, default=0.7)
    parser.add_argument("--no-curriculum", dest="curriculum", action="store_false",
                        help="skip the easy-to-hard curriculum with each file's scores")
    args = parse_grid(parser)
    cache = Path(tempfile.mkdtemp(prefix="budget-"))
    pool = mp.get_context("spawn").Pool(args.jobs) if args.jobs > 1 else None
    mapper = pool.map if pool is not None else lambda fn, xs: list(map(fn, xs))
    report = []
    for data in args.data:
        a = {"data": data, "spec": data_spec(data, args.root, cache), "model": args.model,
             "epochs": args.epochs, "seeds": args.seeds, "device": args.device,
             "batch_size": args.batch_size, "noise": args.noise, "threads": args.threads,
             "cache": str(cache)}
        full_cfg = base_config(a)
        jobs = [(a, "full", full_cfg)]
        jobs += [(a, f"budget {b:g}", full_cfg.with_budget(b)) for b in args.budgets]
        if args.proxy:
            jobs.append((a, f"proxy {args.proxy}", full_cfg.replace(model=args.proxy, seeds=1)))
        runs = mapper(run_score, jobs)
        full = runs[0]
        t = args.epochs
        ks = sorted({1, 2, max(1, t // 10), max(1, t // 5), max(1, t // 2), t})
        variants = runs + prefixes(full["path"], ks)
        bundle = DataBundle.from_config(full_cfg)
        noisy = bundle.noisy
        keep = int(round(args.keep * bundle.num_samples))
        selections: dict[str, np.ndarray | None] = {}
        rows = []
        for v in variants:
            ease = np.asarray(v["learnability"], dtype=np.float64)
            mis = v["mislabel_probability"]
            row = {"name": v["name"], "cost": v["epochs"] / (args.seeds * t),
                   "wall_s": v.get("wall_s"),
                   "rho_learnability": float(stats.spearmanr(ease, full["learnability"])[0])}
            if mis is not None:
                constant = np.ptp(mis) == 0 or np.ptp(full["mislabel_probability"]) == 0
                row["rho_mislabel"] = (None if constant else  # e.g. nothing flagged at all
                                       float(stats.spearmanr(mis,
                                                             full["mislabel_probability"])[0]))
                q = flag_quality(mis >= FLAG_AT, noisy) if noisy is not None else None
                row["flags_f1"] = None if q is None else q.f1
                row["flagged"] = int((mis >= FLAG_AT).sum())
                if v["name"] in ("full", "prefix 1") or v["name"].startswith(("budget",
                                                                              "proxy")):
                    fit = MislabelFit(mis, (), share=v.get("prior"))  # as prune reads it
                    selections[v["name"]] = plan_selection(
                        ease, keep, mislabel=fit, opts=PruneOptions(seed=0)).indices
            rows.append(row)
        selections["random"] = plan_selection(np.zeros(bundle.num_samples), keep,
                                              strategy="random",
                                              opts=PruneOptions(seed=0)).indices
        train_jobs = [(a, name, idx, s, TrainPlan()) for name, idx in selections.items()
                      for s in range(args.train_seeds)]
        if args.curriculum:  # easy-to-hard on all the data, ordered by each file's scores
            files = {r["name"]: r["path"] for r in runs}
            train_jobs += [(a, f"curriculum {name}", None, s,
                            TrainPlan(sampler="easy-to-hard", scores=path))
                           for name, path in files.items() for s in range(args.train_seeds)]
            train_jobs += [(a, "curriculum none (random order)", None, s, TrainPlan())
                           for s in range(args.train_seeds)]
        accs: dict[str, list[float]] = {}
        for r in mapper(retrain, train_jobs):
            accs.setdefault(r["name"], []).append(r["acc"])
        report.append({"data": data, "rows": rows, "accs": accs})
        print_table(data, args, rows, accs, full_cfg)
        if args.curriculum:
            full_c = accs["curriculum full"]
            print(f"easy-to-hard curriculum (linear pacing) on all the data, ordered by each "
                  f"file's learnability; {args.train_seeds} seeds; Δ and p against the full "
                  "scores' curriculum")
            for name in [k for k in accs if k.startswith("curriculum")]:
                acc = accs[name]
                p = "-" if name == "curriculum full" else f"{welch(acc, full_c):.3f}"
                print(f"  {name[11:]:<28} {mean_std(acc):>18} "
                      f"{np.mean(acc) - np.mean(full_c):>+8.4f} {p:>6}", flush=True)
    if pool is not None:
        pool.close()
    write_out(args, report)


def print_table(data: str, args: argparse.Namespace, rows: list[dict[str, Any]],
                accs: dict[str, list[float]], cfg: TrainConfig) -> None:
    print(f"\n{data}: {cfg.model}, label noise {cfg.label_noise}, full = {cfg.seeds} seeds x "
          f"{cfg.epochs} epochs; prune keep {args.keep} (default strategy), "
          f"{args.train_seeds} training seeds", flush=True)
    print(f"{'scores from':<16} {'cost':>6} {'wall s':>7} {'rho learn':>10} "
          f"{'rho mislabel':>13} {'flags F1 (n)':>14} {'pruned: test acc':>18} "
          f"{'vs full':>8} {'p':>6}")
    for row in rows:
        acc = accs.get(row["name"])
        rho_mis = ("-" if row.get("rho_mislabel") is None
                   else format(row["rho_mislabel"], ".3f"))
        f1 = ("-" if row.get("flags_f1") is None
              else f"{row['flags_f1']:.3f} ({row['flagged']})")
        line = (f"{row['name']:<16} {row['cost']:>6.3f} "
                f"{'-' if row['wall_s'] is None else format(row['wall_s'], '.1f'):>7} "
                f"{row['rho_learnability']:>10.3f} "
                f"{rho_mis:>13} {f1:>14}")
        if acc is not None:
            diff = np.mean(acc) - np.mean(accs["full"])
            p = "-" if row["name"] == "full" else f"{welch(acc, accs['full']):.3f}"
            line += f" {mean_std(acc):>18} {diff:>+8.4f} {p:>6}"
        print(line, flush=True)
    rnd = accs["random"]
    print(f"{'random keep':<16} {'':>6} {'':>7} {'':>10} {'':>13} {'':>14} "
          f"{mean_std(rnd):>18} {np.mean(rnd) - np.mean(accs['full']):>+8.4f} "
          f"{welch(rnd, accs['full']):>6.3f}", flush=True)


if __name__ == "__main__":
    main()
