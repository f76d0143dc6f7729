"""Scale: a scores file of ImageNet size, N = 1,281,167 samples x T = 90 epochs.

Three phases, each in its own process so that each peak memory (max RSS) is its own:

- ``write``: a file is created and T epochs of synthetic trajectories are appended with
  :func:`curator.store.append_epoch`, exactly as a reference run appends them (the training
  itself is left out); per-epoch write time, file size, and bytes per sample, epoch and
  statistic;
- ``score``: every registered score computed from the file (:func:`curator.scores.rescore`,
  which reads column blocks) and written back; then the suggested labels alone (the score
  whose cost grows fastest with the early window: runs x early epochs pairs per sample);
- ``sampler``: an :class:`~samplers.EasyToHardSampler` built from the file and one epoch's
  order drawn (then the list one rank of 8 iterates);
- ``flags``: the default mislabel estimate (:func:`curator.flags.estimate_mislabelled`):
  mixtures on the file's ``early_aum``, one per class (1,000 classes), and one on its
  ``early_learnability``, with a share of 0.2 (the synthetic runs' constant errors imply 0,
  which would skip the fits).

The trajectories are synthetic but shaped like real ones: each sample has a difficulty, and
its true-label probability rises over the epochs at a rate set by it, with noise; its rival
class is mostly one look-alike class; the test accuracy rises for the first 60% of the epochs
and then stays level, so the early window is 60% of the run, as in a long real one.

``--wrong F``: a share F of the labels is wrong: the model prefers the sample's look-alike
class (its true class) until it memorises the given label late in the run, so the wrong labels
stand apart in the early window and ``curator score`` pays the check of the early window
(:func:`curator.scores.memorising_window`); the ``score`` phase times that check alone too.

    python benchmarks/scale.py --n 1281167 --epochs 90 --runs 1 --dir /tmp/scale [--wrong 0.1]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def phase_write(args: argparse.Namespace) -> dict:
    import torch

    from curator import store
    from curator.data import DataBundle, TensorSplit
    from curator.store import STAT_DTYPES, stat_dtype

    n, t, classes = args.n, args.epochs, 1000
    rng = np.random.default_rng(0)
    labels = rng.integers(0, classes, n)
    split = TensorSplit(torch.zeros((n, 1), dtype=torch.uint8), torch.from_numpy(labels))
    bundle = DataBundle("synthetic", split, None, classes, [], labels, None)
    path = args.dir / "scale.h5"
    path.unlink(missing_ok=True)
    store.create(path, bundle, {"model": "synthetic", "probe": "train", "epochs": t})
    difficulty = rng.exponential(1.0, n).astype(np.float32)
    look_alike = (labels + rng.integers(1, classes, n)) % classes
    wrong = rng.random(n) < args.wrong  # the look-alike is their true class
    base_mib = _peak_mib()
    write_s = []
    for run in range(args.runs):
        name = f"seed-{run}"
        store.add_run(path, name, seed=run, config={"model": "synthetic", "probe": "train"},
                      epochs=t, record=True)
        for epoch in range(t):
            progress = (epoch + 1) / t
            logit = (6 * progress / (0.2 + difficulty) - 3
                     + rng.normal(0, 1, n).astype(np.float32))
            # a wrong label: rejected (the look-alike preferred) until memorised at 80%
            logit[wrong] = np.where(progress < 0.8, -5.0, 2.0) + rng.normal(
                0, 1, int(wrong.sum())).astype(np.float32)
            p = (1 / (1 + np.exp(-logit))).astype(np.float32)
            other = (labels + rng.integers(1, classes, n)) % classes
            # the rival gets half of what the label leaves (the rest is spread over the other
            # classes); for a wrong label, all of it (its true class)
            margin = np.where(wrong, logit, logit + np.log(2)).astype(np.float32)
            stats = {"p_true": p, "correct": p > 0.5, "loss": -np.log(np.maximum(p, 1e-7)),
                     "margin": margin, "el2n": (1 - p) * np.sqrt(2),
                     "rival": np.where(wrong | (rng.random(n) < 0.8), look_alike, other)}
            stats = {k: v.astype(stat_dtype(k, classes)) for k, v in stats.items()}
            test_acc = 0.3 + 0.4 * min(1.0, progress / 0.6)  # level from 60% of the run on
            metrics = {"train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0,
                       "test_acc": test_acc, "lr": 0.1, "seconds": 1.0}
            t0 = time.perf_counter()
            store.append_epoch(path, name, epoch, stats, metrics)
            write_s.append(time.perf_counter() - t0)
        store.finish_run(path, name)
    size = path.stat().st_size
    raw = args.runs * n * t * sum(stat_dtype(s, classes).itemsize for s in STAT_DTYPES)
    return {"epoch_write_s": write_s, "file_bytes": size, "raw_stat_bytes": raw,
            "bytes_per_sample_epoch_stat": size / (args.runs * n * t * len(STAT_DTYPES)),
            "peak_rss_mib": _peak_mib(), "rss_before_writes_mib": base_mib,
            "one_epoch_of_stats_mib": raw / args.runs / t / 2**20}


def phase_score(args: argparse.Namespace) -> dict:
    from curator.scores import (
        FileTrajectories,
        compute_scores,
        memorising_window,
        options_of,
        rescore,
    )
    from curator.store import open_scores

    t0 = time.perf_counter()
    scores = rescore(args.dir / "scale.h5")
    seconds = time.perf_counter() - t0
    with open_scores(args.dir / "scale.h5") as f:
        t0 = time.perf_counter()
        made = compute_scores(FileTrajectories(f), ["suggested_label"])["suggested_label"]
        suggest = time.perf_counter() - t0
        fit = f.score("mislabel_probability").params
        traj = FileTrajectories(f)
        window = options_of(traj)["early_epochs"]  # the test curves'
        t0 = time.perf_counter()
        choice = memorising_window(traj, window)  # the check alone, made anew
        check = time.perf_counter() - t0
    return {"seconds": seconds, "scores": sorted(scores), "suggest_seconds": suggest,
            "early_epochs": made.params["early_epochs"],
            "suggested": int((made.values >= 0).sum()), "peak_rss_mib": _peak_mib(),
            "check_seconds": check, "curves_window": window, "window": choice.params,
            "contested": len(fit.get("contested", []))}


def phase_sampler(args: argparse.Namespace) -> dict:
    from samplers import EasyToHardSampler

    t0 = time.perf_counter()
    sampler = EasyToHardSampler.from_h5(args.dir / "scale.h5", epochs=args.epochs,
                                        num_replicas=8, rank=0)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    sampler.set_epoch(args.epochs // 2)
    order = list(sampler)
    drawn = time.perf_counter() - t0
    return {"build_s": built, "epoch_s": drawn, "rank_samples": len(order),
            "peak_rss_mib": _peak_mib()}


def phase_flags(args: argparse.Namespace) -> dict:
    from curator.flags import estimate_mislabelled
    from curator.store import open_scores

    with open_scores(args.dir / "scale.h5") as f:
        margin, labels = f.score("early_aum").values, f.labels
        probability = f.score("early_learnability").values
        rival = f.score("early_rival").values if "early_rival" in f.score_names() else None
    t0 = time.perf_counter()
    fit = estimate_mislabelled(margin, probability, labels, early_rival=rival, share=0.2)
    return {"seconds": time.perf_counter() - t0, "classes": int(labels.max()) + 1,
            "flagged": int(fit.flagged.sum()), "peak_rss_mib": _peak_mib()}


PHASES = {"write": phase_write, "score": phase_score, "sampler": phase_sampler,
          "flags": phase_flags}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_281_167)
    parser.add_argument("--epochs", type=int, default=90)
    parser.add_argument("--runs", type=int, default=1, help="reference runs (seeds) written")
    parser.add_argument("--wrong", type=float, default=0.0,
                        help="the share of wrong labels (memorised late in the run)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/curator-scale"))
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.phase:  # a child: one phase, its result as JSON on stdout
        print(json.dumps(PHASES[args.phase](args)))
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks._env import describe, mean_std
    from curator.store import STAT_DTYPES

    print(describe())
    results = {}
    for name in ("write", "score", "sampler", "flags"):
        cmd = [sys.executable, __file__, "--phase", name, "--n", str(args.n), "--epochs",
               str(args.epochs), "--runs", str(args.runs), "--dir", str(args.dir),
               "--wrong", str(args.wrong)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    w, s, m, g = results["write"], results["score"], results["sampler"], results["flags"]
    n, t = args.n, args.epochs
    print(f"\nscale: N = {n:,} samples x T = {t} epochs, {args.runs} run(s), "
          f"{len(STAT_DTYPES)} statistics, 1,000 classes")
    ws = w["epoch_write_s"]
    print(f"write: per epoch {mean_std(ws)} s (median {np.median(ws):.3f}, max {max(ws):.3f}); "
          f"total {sum(ws):.1f} s")
    print(f"file: {w['file_bytes'] / 2**20:,.1f} MiB for {w['raw_stat_bytes'] / 2**20:,.1f} MiB "
          f"of raw statistics; {w['bytes_per_sample_epoch_stat']:.3f} bytes per sample, epoch "
          "and statistic (raw: p_true 4, correct 1, loss/margin/el2n 2 each, rival 2)")
    print(f"writer peak RSS {w['peak_rss_mib']:,.0f} MiB (before the first append "
          f"{w['rss_before_writes_mib']:,.0f} MiB; one epoch of statistics is "
          f"{w['one_epoch_of_stats_mib']:.1f} MiB)")
    print(f"all scores ({len(s['scores'])}) from the file: {s['seconds']:.1f} s, peak RSS "
          f"{s['peak_rss_mib']:,.0f} MiB; the suggested labels alone "
          f"({args.runs} x {s['early_epochs']} early epochs per sample): "
          f"{s['suggest_seconds']:.1f} s, {s['suggested']:,} suggested")
    print(f"the check of the early window alone (memorising_window, made anew): "
          f"{s['check_seconds']:.1f} s; the curves' window {s['curves_window']} epochs, the "
          f"check's {s['window']}; contested classes {s['contested']}")
    print(f"EasyToHardSampler.from_h5: {m['build_s']:.3f} s; one epoch's list for rank 0 of 8: "
          f"{m['epoch_s']:.3f} s ({m['rank_samples']:,} indices); peak RSS "
          f"{m['peak_rss_mib']:,.0f} MiB")
    print(f"mislabel estimate, a mixture per class ({g['classes']:,}) and one over all: "
          f"{g['seconds']:.1f} s, "
          f"{g['flagged']:,} flagged; peak RSS {g['peak_rss_mib']:,.0f} MiB")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
