"""A second opinion for relabelling, retrained (tried, not adopted): does a model that never
saw the flagged samples make relabelling them beat dropping them?

``curator relabel`` relabels a flagged sample where its suggestion (from the reference runs'
history before memorising) is confident, and drops the other flagged. Here one more model
(the cell's model and recipe) is trained on the samples the flags keep and predicts the
flagged ones, which it never saw; a flagged sample is relabelled where that model agrees with
the suggestion at probability ``--agree`` or more (``agree``), or where either it does or
``curator relabel`` would (``either``). Each selection is trained ``--train-seeds`` times and
compared with dropping every flagged sample (``drop``) and with ``curator relabel``
(``relabel``) by Welch's t-test; beside each, the relabelled samples given their original
label back / relabelled. It costs a training run on top of the reference runs, which curator
does not do; benchmarks/RESULTS.md ("What a contested class's own scores cannot tell") has
the figures.

    python benchmarks/second_opinion.py FILES --data fashion-mnist:20000 \\
        --root /usr/share/datasets/fashion-mnist --train-seeds 5 --batch-size 256

FILES: reference-run files kept by ``benchmarks/mislabel_flags.py --files DIR`` (named
DATA-NOISE-MODEL-EPOCHS.h5), so the cell is read from the name and its data and flips are
made again as that run made them (refused where the labels differ from the file's). The
flags and suggestions are made anew from the file (the code as it is).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe  # noqa: E402
from benchmarks.mislabel_flags import _setup, data_spec, welch  # noqa: E402
from curator.flagging import file_suggestions, file_window, fresh_fit  # noqa: E402
from curator.flags import RELABEL_AT, relabel_plan  # noqa: E402
from curator.loop import Trainer, resolve_device  # noqa: E402
from curator.models import build_model  # noqa: E402
from curator.retrain import TrainPlan, train  # noqa: E402
from curator.store import open_scores  # noqa: E402

SELECTIONS = ("drop", "relabel", "agree", "either")


def cell_of(path: Path, data: str, spec: str, batch_size: int) -> dict[str, Any]:
    """The cell a kept file was made for, from its name DATA-NOISE-MODEL-EPOCHS.h5."""
    *_, noise, model, epochs = path.stem.split("-")
    return {"data": data, "spec": spec, "noise": noise, "model": model, "epochs": int(epochs),
            "seeds": 3, "holdout": 0, "device": "cpu", "batch_size": batch_size,
            "score_model": None}


def second_opinion(cell: dict[str, Any], keep: np.ndarray, predict: np.ndarray, *,
                   threads: int) -> np.ndarray:
    """(len(predict), C) class probabilities of the samples ``predict`` from the cell's model
    trained (seed 0, its epochs) on the samples ``keep`` only."""
    torch.set_num_threads(threads)
    cfg, _, bundle, _ = _setup(json.dumps(cell, sort_keys=True))
    torch.manual_seed(0)
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
    trainer = Trainer(model, bundle.train, cfg.replace(probe="none"), seed=0,
                      device=resolve_device(cfg.device), subset=torch.from_numpy(keep))
    for epoch in range(cfg.epochs):
        trainer.train_epoch(epoch)
    return trainer.class_probabilities(trainer.train_split, torch.from_numpy(predict))


def plans(flagged: np.ndarray, suggested: np.ndarray, confidence: np.ndarray,
          labels: np.ndarray, probabilities: np.ndarray, agree: float
          ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each selection's (indices kept, labels): drop every flagged sample; relabel as
    ``curator relabel``; relabel where the second opinion (``probabilities`` of the flagged,
    in index order) agrees with the suggestion at ``agree`` or more; either."""
    at = np.flatnonzero(flagged)
    second, sure = np.full(len(labels), -1), np.zeros(len(labels))
    second[at], sure[at] = probabilities.argmax(1), probabilities.max(1)
    relabel, _ = relabel_plan(flagged, suggested, confidence, at=RELABEL_AT)
    agreed = flagged & (suggested >= 0) & (second == suggested) & (sure >= agree)
    out = {"drop": (np.flatnonzero(~flagged), labels)}
    for name, chosen in (("relabel", relabel), ("agree", agreed), ("either", agreed | relabel)):
        out[name] = (np.flatnonzero(~(flagged & ~chosen)), np.where(chosen, suggested, labels))
    return out


def train_one(task: tuple) -> tuple[str, int, float]:
    cell, name, indices, labels, seed, threads = task
    torch.set_num_threads(threads)
    cfg, _, bundle, _ = _setup(json.dumps(cell, sort_keys=True))
    bundle = replace(bundle, train=bundle.train.with_labels(torch.from_numpy(labels)))
    return name, seed, train(cfg.replace(seed=seed), TrainPlan(), indices=indices,
                             bundle=bundle).final_test_acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--data", required=True, help="the data the files were made on, as "
                                                      "mislabel_flags.py --data names it")
    parser.add_argument("--root", default="", help="folder of the IDX/torchvision files")
    parser.add_argument("--agree", type=float, default=0.9)
    parser.add_argument("--train-seeds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(describe())
    print(f"second opinion: the cell's model trained once (seed 0) on the samples the flags "
          f"keep; agree: it and the suggestion name the same class, at p >= {args.agree}; "
          f"{args.train_seeds} training seeds per selection; batch {args.batch_size}")
    print(f"{'file':<44} {'drop':>7} | " + " | ".join(f"{s:<33}" for s in SELECTIONS[1:]))
    spec = data_spec(args.data, args.root, Path(tempfile.mkdtemp()))
    with ProcessPoolExecutor(args.jobs) as pool:
        for path in args.files:
            cell = cell_of(path, args.data, spec, args.batch_size)
            with open_scores(path) as f:
                fit, _ = fresh_fit(f)
                window = file_window(f, None, fit)
                found = file_suggestions(f, None, None if window is None else window.epochs)
                labels, original = np.asarray(f.labels), np.asarray(f.original_labels)
            if found is None:
                raise SystemExit(f"{path}: records no rival class, so no suggestions")
            _, _, bundle, _ = _setup(json.dumps(cell, sort_keys=True))
            if not np.array_equal(np.asarray(bundle.labels), labels):
                raise SystemExit(f"{path}: the data made again for {cell['noise']} have other "
                                 "labels than the file (another --data, or another draw)")
            suggested, confidence, _ = found
            flagged = fit.flagged
            probabilities = second_opinion(cell, np.flatnonzero(~flagged),
                                           np.flatnonzero(flagged), threads=args.jobs)
            chosen = plans(flagged, suggested, confidence, labels, probabilities, args.agree)
            tasks = [(cell, name, chosen[name][0], chosen[name][1], seed, args.threads)
                     for name in SELECTIONS for seed in range(args.train_seeds)]
            acc: dict[str, list[float]] = {name: [0.0] * args.train_seeds for name in SELECTIONS}
            for name, seed, a in pool.map(train_one, tasks):
                acc[name][seed] = a
            drop = acc["drop"]
            row = [f"{path.name:<44} {np.mean(drop):.4f}"]
            for name in SELECTIONS[1:]:
                idx, new = chosen[name]
                moved = new != labels
                back = f"{int((new[moved] == original[moved]).sum())}/{int(moved.sum())}"
                row.append(f"{100 * (np.mean(acc[name]) - np.mean(drop)):+.2f} "
                           f"p{welch(acc[name], drop):.3f} ({back:>11})".ljust(33))
            print(" | ".join(row), flush=True)
    print("drop: mean test accuracy over the training seeds, every flagged sample dropped; "
          "the others: points against it, Welch's p, and their relabelled given the original "
          "label back / relabelled")


if __name__ == "__main__":
    main()
