"""Mislabel flags and the default pruning against cleanlab and fixed strategies, on a grid.

Each cell is (data, label noise, model, epochs). In a cell:

1. the reference run: ``curator score``'s loop, R seeds x T epochs, on the noisy labels
   (with ``--holdout K`` also K holdout models per seed);
2. curator's flags (``curator.flags``, the estimate ``curator flag`` and the default
   ``curator prune`` use; ``--by SCORE`` as ``curator flag --by``): the share of wrong labels
   behind them, precision, recall and F1 against the flipped labels;
3. the peer: cleanlab's ``find_label_issues`` on 5-fold out-of-sample ``pred_probs`` of the
   same model trained for the same epochs by the same loop;
   (with ``--score-model M``, steps 1 to 3 train M instead: the scores of a model that
   learns the data better, pruning for the cell's model, which step 4 trains);
4. a fresh model is trained (``--train-seeds`` seeds, same epochs) on: the default
   ``curator prune --keep K`` selection, ``--strategy easy`` and ``random`` at the same K, all
   the data, and all the data less cleanlab's issues; final test accuracy on the clean test
   split, mean ± std, with Welch's t-test against random. The default and random
   selections draw at random: each training seed trains on its own draw (``--draws one``:
   seed 0's draw for every seed, as the grid's rows before 2026-12-02). ``--selections``
   trains on only some of them: the selections are deterministic on a CPU, so a rerun after
   a change to the flags needs only ``default random``.

    pip install cleanlab   # the peer; not a dependency of curator
    python benchmarks/mislabel_flags.py --data digits mnist1d --jobs 1
    python benchmarks/mislabel_flags.py --data fashion-mnist:20000 --root DIR --device cuda \\
        --jobs 14 --out fmnist.json

``--noise`` cells: ``none``, ``sym0.2`` (20% flipped to any other class), ``asym0.2`` (20%
flipped, each class to its most confusable one). ``fashion-mnist:N`` is a fixed stratified
subset of N training images (the test split stays whole). Cells run in ``--jobs`` processes
of ``--threads`` torch threads each; each cell's stages are reported on stderr with the
seconds since the cell began, its result is printed as one JSON line as soon as it is done,
and the table at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
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
from curator.config import TrainConfig  # noqa: E402
from curator.data import DataBundle, load_data  # noqa: E402
from curator.flags import DEFAULT_BY, file_mislabel, flag, flag_quality  # noqa: E402
from curator.loop import Trainer, resolve_device  # noqa: E402
from curator.models import build_model  # noqa: E402
from curator.pruning import PruneOptions, plan_selection  # noqa: E402
from curator.reference import score  # noqa: E402
from curator.retrain import TrainPlan, train  # noqa: E402
from curator.store import open_scores  # noqa: E402

SELECTIONS = ("default", "easy", "random", "all", "cleanlab")


def noise_of(name: str) -> tuple[float, str]:
    if name == "none":
        return 0.0, "symmetric"
    kind = {"sym": "symmetric", "asym": "asymmetric"}[name.rstrip("0123456789.")]
    return float(name.lstrip("asym")), kind


def data_spec(data: str, root: str, cache: Path) -> str:
    """``fashion-mnist:N`` -> an npz of a fixed stratified N-image subset; others as given."""
    name, _, count = data.partition(":")
    if not count:
        return data
    path = cache / f"{name}-{count}.npz"
    if not path.exists():
        from sklearn.model_selection import train_test_split

        full = load_data(name, root=root)
        keep, _ = train_test_split(np.arange(full.num_samples), train_size=int(count),
                                   stratify=full.labels, random_state=0)
        keep = np.sort(keep)
        np.savez(path, x=full.train.x.numpy()[keep], y=full.labels[keep],
                 x_test=full.test.x.numpy(), y_test=full.test.labels.numpy())
    return f"npz:{path}"


def oos_probabilities(cfg: TrainConfig, bundle: Any, folds: int = 5) -> np.ndarray:
    """Out-of-sample class probabilities: K models, each trained without one fold."""
    n = bundle.num_samples
    fold = np.random.default_rng(cfg.seed).permutation(n) % folds
    probs = np.zeros((n, bundle.num_classes), dtype=np.float32)
    device = resolve_device(cfg.device)
    for k in range(folds):
        torch.manual_seed(cfg.seed + k)
        model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
        trainer = Trainer(model, bundle.train, cfg.replace(probe="none"), seed=cfg.seed + k,
                          device=device, subset=torch.from_numpy(np.flatnonzero(fold != k)))
        for epoch in range(cfg.epochs):
            trainer.train_epoch(epoch)
        held = np.flatnonzero(fold == k)
        probs[held] = trainer.class_probabilities(trainer.train_split, torch.from_numpy(held))
    return probs


def quality(flagged: np.ndarray, noisy: np.ndarray) -> dict[str, float]:
    q = flag_quality(flagged, noisy)
    return {"flagged": q.flagged, "precision": q.precision, "recall": q.recall, "f1": q.f1}


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    torch.set_num_threads(cell["threads"])
    from cleanlab.filter import find_label_issues

    t0 = time.perf_counter()
    where = " ".join(str(cell[k]) for k in ("data", "noise", "model", "epochs"))

    def progress(stage: str) -> None:  # a cell can take an hour on a CPU: say where it is
        print(f"[{where}] {stage} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
              flush=True)

    rate, kind = noise_of(cell["noise"])
    cfg = TrainConfig(data=cell["spec"], model=cell["model"], epochs=cell["epochs"],
                      seeds=cell["seeds"], label_noise=rate, noise_kind=kind,
                      holdout=cell["holdout"],
                      device=cell["device"], batch_size=cell["batch_size"])
    ref_cfg = cfg.replace(model=cell["score_model"] or cfg.model)  # scores, flags, cleanlab
    bundle = DataBundle.from_config(cfg)
    noisy = bundle.noisy if bundle.noisy is not None else np.zeros(bundle.num_samples, bool)
    out: dict[str, Any] = {k: cell[k] for k in ("data", "noise", "model", "epochs",
                                                "score_model")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.h5"
        score(ref_cfg, out=path, bundle=bundle)
        progress("reference run done")
        if cell["by"] != DEFAULT_BY:  # as `curator flag --by`: stored, and what prune drops
            flag(path, by=cell["by"])
        with open_scores(path) as f:
            mislabel = file_mislabel(f)
            fit = f.score("mislabel_probability").params
            ease = f.score("learnability").ease
            early = f.score("early_learnability").params["early_epochs"]
    assert mislabel is not None
    ours = mislabel.flagged
    out["curator"] = {**quality(ours, noisy), "early_epochs": early,
                      "share": fit.get("noise_share"), "share_from": fit.get("noise_share_from")}
    issues = np.zeros(bundle.num_samples, bool)
    if cell["cleanlab"]:
        probs = oos_probabilities(ref_cfg.replace(seed=0), bundle)
        issues = find_label_issues(bundle.labels, probs, n_jobs=1)  # cells are the parallelism
        progress("cleanlab's 5-fold probabilities done")
        out["cleanlab"] = {**quality(issues, noisy),
                           "oos_acc_given": float((probs.argmax(1) == bundle.labels).mean())}
    n = bundle.num_samples
    keep = int(round(cell["keep"] * n))
    seeds = range(cell["train_seeds"])
    # default and random draw at random; each training seed trains on its own draw, so that
    # Welch's p counts the selection's variance too (--draws one: seed 0's draw for every seed)
    draw = (lambda s: s) if cell["draws"] == "per-seed" else (lambda s: 0)
    plans = {s: plan_selection(ease, keep, mislabel=mislabel, opts=PruneOptions(seed=draw(s)))
             for s in seeds}
    out["curator"]["suspected_dropped"] = plans[0].params.get("suspected_dropped", 0)
    easy = plan_selection(ease, keep, strategy="easy").indices
    chosen = {
        "default": lambda s: plans[s].indices,
        "easy": lambda s: easy,
        "random": lambda s: plan_selection(ease, keep, strategy="random",
                                           opts=PruneOptions(seed=draw(s))).indices,
        "all": lambda s: np.arange(n),
        "cleanlab": lambda s: np.flatnonzero(~issues),
    }
    out["selections"] = {}
    for name, pick in chosen.items():
        if name not in cell["selections"] or (name == "cleanlab" and not cell["cleanlab"]):
            continue
        accs, kept, flipped = [], [], []
        for s in seeds:
            idx = pick(s)
            accs.append(train(cfg.replace(seed=s), TrainPlan(), indices=idx, bundle=bundle
                              ).final_test_acc)
            kept.append(len(idx))
            flipped.append(int(noisy[idx].sum()))
        out["selections"][name] = {"acc": accs, "kept": int(np.mean(kept)),
                                   "flipped_kept": float(np.mean(flipped)),
                                   "flipped_kept_draws": flipped}
        progress(f"selection {name} trained")
    out["flipped"] = int(noisy.sum())
    out["n"] = n
    out["seconds"] = time.perf_counter() - t0
    return out


def welch(a: list[float], b: list[float]) -> float:
    if np.std(a) == 0 and np.std(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def table(results: list[dict[str, Any]]) -> str:
    head = (f"{'data':<16} {'noise':<8} {'model':<7} {'T':>3} | {'share':>5} | "
            f"{'curator P/R/F1 (n)':<25} | "
            f"{'cleanlab P/R/F1 (n)':<25} | " + " ".join(f"{s:>15}" for s in SELECTIONS)
            + f" | {'default-random':>15} {'p':>6} {'flipped kept':>13} {'suspected':>9}")
    lines = [head, "-" * len(head)]
    for r in results:
        def prf(d: dict[str, float] | None, flipped: int = r["flipped"]) -> str:
            if d is None:  # the peer was not run
                return "-"
            if not flipped:  # clean data: only the count of flags means something
                return f"-/-/- ({d['flagged']})"
            p = "-" if d["flagged"] == 0 else f"{d['precision']:.3f}"
            return f"{p}/{d['recall']:.3f}/{d['f1']:.3f} ({d['flagged']})"
        sel = r["selections"]
        accs = " ".join(f"{mean_std(sel[s]['acc']) if s in sel else '-':>15}"
                        for s in SELECTIONS)
        versus = f"{'-':>15} {'-':>6}"
        if "default" in sel and "random" in sel:
            diff = np.mean(sel["default"]["acc"]) - np.mean(sel["random"]["acc"])
            versus = f"{diff:>+15.4f} {welch(sel['default']['acc'], sel['random']['acc']):>6.3f}"
        kept = ""
        if "default" in sel:
            flipped_kept = sel["default"]["flipped_kept"]  # the mean over the draws
            kept = f"{flipped_kept:>5.0f} ({100 * flipped_kept / sel['default']['kept']:.1f}%)"
        share = r["curator"].get("share")
        share = "-" if share is None else f"{share:.3f}"
        suspects = r["curator"].get("suspected_dropped", "-")
        model = (r["model"] if not r.get("score_model") else f"{r['score_model']}>{r['model']}")
        lines.append(
            f"{r['data']:<16} {r['noise']:<8} {model:<7} {r['epochs']:>3} | {share:>5} | "
            f"{prf(r['curator']):<25} | {prf(r.get('cleanlab')):<25} | {accs} | {versus} "
            f"{kept:>13} {suspects:>9}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["digits", "mnist1d"])
    parser.add_argument("--noise", nargs="+", default=["none", "sym0.2", "sym0.4", "asym0.2"])
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int, nargs="+", default=[20, 80],
                        help="short, and long enough that the model memorises")
    parser.add_argument("--seeds", type=int, default=3, help="reference-run seeds")
    parser.add_argument("--keep", type=float, default=0.8)
    parser.add_argument("--holdout", type=int, default=0,
                        help="K: the reference run also trains K holdout models per seed")
    parser.add_argument("--by", default=DEFAULT_BY,
                        help="the score the flags are fitted on, as `curator flag --by` "
                             "(heldout_learnability needs --holdout)")
    parser.add_argument("--selections", nargs="+", choices=SELECTIONS, default=list(SELECTIONS),
                        help="the selections to train on (the others print -)")
    parser.add_argument("--score-model",
                        help="train this model for the scores, the flags and cleanlab's "
                             "probabilities; the selections still train --models (the "
                             "table's model column then reads SCORE>MODEL)")
    parser.add_argument("--no-cleanlab", dest="cleanlab", action="store_false",
                        help="skip the peer (its 5-fold runs are deterministic on a CPU, so "
                             "a rerun after a change to the flags may reuse its figures)")
    parser.add_argument("--draws", choices=("per-seed", "one"), default="per-seed",
                        help="the default's and random's random draws: one per training seed "
                             "(Welch's p then counts their variance), or seed 0's for every "
                             "seed (the grid's rows before 2026-12-02)")
    args = parse_grid(parser)
    import cleanlab

    print(f"cleanlab {cleanlab.__version__}{'' if args.cleanlab else ' (not run)'}; "
          f"keep {args.keep}; {args.seeds} reference seeds"
          f"{f' with {args.holdout} holdout runs each' if args.holdout else ''}; flags by "
          f"{args.by}, "
          f"{args.train_seeds} training seeds per selection (default and random: "
          f"{'a draw per seed' if args.draws == 'per-seed' else 'one draw'}); "
          f"batch {args.batch_size}",
          flush=True)
    cache = Path(tempfile.mkdtemp(prefix="mislabel-flags-"))
    specs = {d: data_spec(d, args.root, cache) for d in args.data}
    cells = [{"data": d, "spec": specs[d], "noise": z, "model": m, "epochs": t,
              "seeds": args.seeds, "train_seeds": args.train_seeds, "keep": args.keep,
              "holdout": args.holdout, "by": args.by, "cleanlab": args.cleanlab,
              "score_model": args.score_model, "draws": args.draws,
              "device": args.device, "threads": args.threads, "batch_size": args.batch_size,
              "selections": args.selections}
             for d, z, m, t in itertools.product(args.data, args.noise, args.models,
                                                 args.epochs)]
    results = []
    if args.jobs > 1:
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            for r in pool.imap_unordered(run_cell, cells):
                print(json.dumps(r), flush=True)
                results.append(r)
    else:
        for cell in cells:
            r = run_cell(cell)
            print(json.dumps(r), flush=True)
            results.append(r)
    order = {(c["data"], c["noise"], c["model"], c["epochs"]): i for i, c in enumerate(cells)}
    results.sort(key=lambda r: order[(r["data"], r["noise"], r["model"], r["epochs"])])
    print("\nshare: the share of wrong labels the flags' prior was set to; "
          "flags: precision/recall/F1 against the flipped labels (flags; flagging every "
          "sample scores F1 2r/(1+r) with r the flipped share: 0.333 at 20%, 0.571 at 40%); "
          "test accuracy after "
          f"training on each selection (keep {args.keep} for default/easy/random), mean ± std "
          f"over {args.train_seeds} seeds; default-random with Welch's p; flipped labels kept "
          "by the default (mean over its draws; share of the kept); suspected: samples the "
          "default dropped after the flagged ones (docs/flags.md, step 5)")
    print(table(results))
    write_out(args, results)


if __name__ == "__main__":
    main()
