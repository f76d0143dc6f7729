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
   a change to the flags needs only ``default random``. Beside them ``relabel`` (``curator
   relabel``'s corrections) and ``same-count`` (dropping what it touches), and, only when
   named, two bounds for relabelling: ``relabel-true`` (its samples, the relabelled given
   their original label) and ``fixed`` (every sample, the flagged given their original
   label), and a person's answers: ``reviewed`` (``curator relabel --answers`` after a
   person answered ``--review`` of the flagged samples in ``curator review``'s queue
   "unsure", telling each wrong label) and ``reviewed-flags`` (as many answered in the queue
   "the flags").

    pip install cleanlab   # the peer; not a dependency of curator
    python benchmarks/mislabel_flags.py --data digits mnist1d --jobs 1
    python benchmarks/mislabel_flags.py --data fashion-mnist:20000 --root DIR --device cuda \\
        --jobs 14 --threads 1 --out fmnist.json

``--noise`` cells: ``none``, or a kind and a rate: ``sym0.2`` (20% flipped to any other
class), ``asym0.2`` (each class to its most confusable one), ``pairs0.2`` (confusable pairs,
both ways), ``classdep0.2`` (rates from 0 to twice the mean by class), ``inst0.2``
(instance-dependent: ambiguous samples to the class they resemble) — curator/noise.py —, with
``+test`` for the test labels flipped the same way (as real data sets' are: the flags may not
lean on a clean test split; the selections' accuracies are still measured on the test
labels as loaded), and ``@N`` for another draw of the flips (``--noise-seed N``; e.g.
``pairs0.2+test@1``: is a cell's figure the noise kind's, or one draw's?).
``fashion-mnist:N`` is a fixed stratified subset of N training images (the test split stays
whole). The work runs in ``--jobs``
processes of ``--threads`` torch threads each, task by task, the earliest cell first: a
cell's reference run, then its cleanlab folds and every training of every selection side by
side (on a GPU, many at once). Each cell's stages are reported on stderr with the seconds
since the cell began, its result is printed as one JSON line as soon as it is done, and the
table at the end. The figures do not depend on ``--jobs``; they do on ``--threads`` (other
thread counts round otherwise). ``--files DIR`` keeps each cell's reference-run file there
(``benchmarks/flags_on_files.py`` then analyses the grid's own runs).
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import replace
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
from curator.flagging import file_mislabel, flag  # noqa: E402
from curator.flags import DEFAULT_BY, RELABEL_AT, flag_quality, relabel_plan  # noqa: E402
from curator.loop import Trainer, resolve_device  # noqa: E402
from curator.models import build_model  # noqa: E402
from curator.pruning import PruneOptions, plan_selection  # noqa: E402
from curator.reference import score  # noqa: E402
from curator.retrain import TrainPlan, train  # noqa: E402
from curator.store import open_scores  # noqa: E402

# relabel: `curator relabel`'s corrections (the flagged relabelled to their suggestion where
# it is confident, the other flagged dropped); same-count: the default pruning asked to keep
# as many samples as relabel does (it drops every flagged sample whatever the count, so it
# keeps fewer: it drops what relabel touches). Two bounds, trained only when asked for:
# relabel-true, the samples relabel keeps with each relabelled one given its original label
# (suggestions always right), and fixed, every sample kept with the flagged ones given their
# original label (every flagged sample relabelled, and right). And a person's answers, trained
# only when asked for: reviewed, `curator relabel --answers` after a person answered --review
# of the flagged in `curator review`'s queue "unsure" (curator.flags.unsure_first), each
# wrong label relabelled to its original label and each right one kept; reviewed-flags, the
# same number answered in the queue "the flags" (most likely wrong first)
SELECTIONS = ("default", "easy", "random", "all", "cleanlab", "relabel", "same-count",
              "relabel-true", "fixed", "reviewed", "reviewed-flags")
BOUNDS = ("relabel-true", "fixed", "reviewed", "reviewed-flags")
LEVELS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)  # suggestion confidence levels reported (RELABEL_AT)
CELL_KEYS = ("data", "noise", "model", "epochs")  # what names a cell


def cell_name(cell: dict[str, Any], sep: str = " ") -> str:
    """A cell's :data:`CELL_KEYS` joined: its progress lines' name, its file's with "-"."""
    return sep.join(str(cell[k]) for k in CELL_KEYS)


NOISE_NAMES = {"sym": "symmetric", "asym": "asymmetric", "pairs": "pairs",
               "classdep": "classdep", "inst": "instance"}


def noise_of(name: str) -> tuple[float, str, bool, int]:
    """``none`` | KIND RATE [``+test``] [``@SEED``] (e.g. ``pairs0.2+test@1``): the rate, the
    kind (:data:`NOISE_NAMES`, curator/noise.py), whether the test labels are flipped too and
    the seed of the flips (``--noise-seed``; 0 without ``@``)."""
    name, at, seed = name.partition("@")
    if at and not seed.isdigit():
        raise SystemExit(f"noise {name}@{seed}: the draw after @ is a whole number")
    if name == "none":
        return 0.0, "symmetric", False, int(seed or 0)
    body, plus, test = name.partition("+")
    if plus and test != "test":
        raise SystemExit(f"noise {name!r}: the only suffix is +test")
    short = body.rstrip("0123456789.")
    if short not in NOISE_NAMES:
        raise SystemExit(f"noise {name!r}: the kind must be one of {', '.join(NOISE_NAMES)}")
    return float(body[len(short):]), NOISE_NAMES[short], bool(plus), int(seed or 0)


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


FOLDS = 5  # cleanlab's out-of-sample probabilities: K models, each trained without one fold


def fold_probabilities(cfg: TrainConfig, bundle: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``k``'s held-out samples and their class probabilities from a model trained on
    the other folds."""
    n = bundle.num_samples
    fold = np.random.default_rng(cfg.seed).permutation(n) % FOLDS
    torch.manual_seed(cfg.seed + k)
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
    trainer = Trainer(model, bundle.train, cfg.replace(probe="none"), seed=cfg.seed + k,
                      device=resolve_device(cfg.device),
                      subset=torch.from_numpy(np.flatnonzero(fold != k)))
    for epoch in range(cfg.epochs):
        trainer.train_epoch(epoch)
    held = np.flatnonzero(fold == k)
    return held, trainer.class_probabilities(trainer.train_split, torch.from_numpy(held))


def quality(flagged: np.ndarray, noisy: np.ndarray) -> dict[str, float]:
    q = flag_quality(flagged, noisy)
    return {"flagged": q.flagged, "precision": q.precision, "recall": q.recall, "f1": q.f1}


@functools.lru_cache(maxsize=2)
def _setup(key: str) -> tuple[TrainConfig, TrainConfig, Any, np.ndarray]:
    """A cell's configs (the selections', the reference run's), its data and its flipped
    labels; kept for the next task of the same cell in this process."""
    cell = json.loads(key)
    rate, kind, test, draw = noise_of(cell["noise"])
    cfg = TrainConfig(data=cell["spec"], model=cell["model"], epochs=cell["epochs"],
                      seeds=cell["seeds"], label_noise=rate, noise_kind=kind, noise_seed=draw,
                      holdout=cell["holdout"],
                      device=cell["device"], batch_size=cell["batch_size"])
    # scores, flags and cleanlab see the test labels as the cell has them (+test: flipped
    # too); the selections' accuracies are measured on the test labels as loaded
    ref_cfg = cfg.replace(model=cell["score_model"] or cfg.model, noise_test=test)
    bundle = DataBundle.from_config(cfg)
    noisy = bundle.noisy if bundle.noisy is not None else np.zeros(bundle.num_samples, bool)
    return cfg, ref_cfg, bundle, noisy


def oracle(f: Any, noisy: np.ndarray) -> dict[str, Any]:
    """The bound beside the flags: the best F1 that any fixed count of the lowest samples on
    any stored score reaches (an oracle picks the score and the count), and the best AUROC
    of a stored score, with the scores that reach them."""
    from sklearn.metrics import roc_auc_score

    if not noisy.any() or noisy.all():
        return {}
    best: dict[str, Any] = {"oracle_f1": -1.0, "best_auroc": -1.0}
    for name in f.score_names():
        s = f.score(name)
        if name == "mislabel_probability" or s.values.ndim != 1 or s.values.dtype.kind not in "fiu":
            continue
        ease = np.asarray(s.ease, dtype=np.float64)
        if not np.isfinite(ease).all():
            continue
        hits = np.cumsum(noisy[np.argsort(ease, kind="stable")])
        f1 = float((2 * hits / (np.arange(1, len(ease) + 1) + noisy.sum())).max())
        auroc = float(roc_auc_score(noisy, -ease))
        if f1 > best["oracle_f1"]:
            best.update(oracle_f1=f1, oracle_by=name)
        if auroc > best["best_auroc"]:
            best.update(best_auroc=auroc, auroc_by=name)
    return best


def suggestions(suggested: np.ndarray, confidence: np.ndarray, original: np.ndarray,
                noisy: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """How often curator's suggested label is the original one: on the flipped samples with
    a suggestion (and the share of the flipped that have one), at each confidence level of
    :data:`LEVELS`; on the flagged samples with a suggestion."""
    out: dict[str, Any] = {"levels": {}}
    for level in LEVELS:
        covered = noisy & (suggested >= 0) & (confidence >= level)
        flag = flagged & (suggested >= 0) & (confidence >= level)
        out["levels"][str(level)] = {
            "flipped_covered": int(covered.sum()),
            "flipped_right": int((suggested[covered] == original[covered]).sum()),
            "flagged_covered": int(flag.sum()),
            "flagged_right": int((suggested[flag] == original[flag]).sum())}
    out["flipped"], out["flagged"] = int(noisy.sum()), int(flagged.sum())
    return out


def peer_suggestions(argmax: np.ndarray, original: np.ndarray, noisy: np.ndarray,
                     issues: np.ndarray, covered: np.ndarray, flagged: np.ndarray
                     ) -> dict[str, Any]:
    """cleanlab's suggestion, the argmax of the out-of-sample probabilities: how often it is
    the original label on all the flipped samples, on the flipped ones curator suggests for
    (``covered``), on curator's flagged with a suggestion (``flagged``) and on its own
    issues that were flipped."""
    def right(mask: np.ndarray) -> list[int]:
        return [int((argmax[mask] == original[mask]).sum()), int(mask.sum())]

    return {"peer_flipped": right(noisy), "peer_covered": right(covered),
            "peer_flagged": right(flagged), "peer_issues": right(issues & noisy)}


def person_answers(path: Path, m: int, where: str) -> Path:
    """A corrections file of a person who answers the first ``m`` of each contested class's
    review sample (the queue "a random sample" of `curator review`) and tells every wrong
    label: a flip relabelled to its original label, a clean sample kept."""
    from curator import corrections
    from curator.flagging import data_seed
    from curator.flags import review_order

    with open_scores(path) as f:
        fit = file_mislabel(f)
        noisy, original = np.asarray(f.noisy, dtype=bool), np.asarray(f.original_labels)
        labels, fingerprint, classes = np.asarray(f.labels), f.fingerprint, f.num_classes
    assert fit is not None
    asked = [int(i) for c in fit.contested
             for i in review_order(labels, c, data_seed(fingerprint))[:m]]
    rows = corrections.make(fingerprint, labels, classes,
                            relabel={i: int(original[i]) for i in asked if noisy[i]},
                            keep=[i for i in asked if not noisy[i]])
    return corrections.write(rows, Path(where) / "answers.csv")


def reviewed(labels: np.ndarray, original: np.ndarray, num_classes: int,
             probability: np.ndarray, flagged: np.ndarray, suggested: np.ndarray,
             confidence: np.ndarray, *, share: float, queue: str, at: float,
             fingerprint: str = "", errors: float = 0.0, seed: int = 0) -> tuple[Any, Any]:
    """(a person's answers, the corrections `curator relabel --answers` makes of them): the
    person answers the first ``share`` of the ``flagged`` samples in `curator review`'s
    queue ``queue`` (``unsure``: :func:`curator.flags.unsure_first`; ``flags``: most likely
    wrong first) and tells every wrong label: relabelled to its ``original`` label where it
    is not it, kept where it is; the flags' plan (:func:`curator.flags.relabel_plan` at
    ``at``) decides the flagged samples left. ``errors``: the share of the answers the
    person gets wrong (drawn with ``seed``), each the worse way: a wrong label kept, a right
    one relabelled to the suggestion (or, without one, to another class at random)."""
    from curator import corrections
    from curator.flagging import planned_corrections
    from curator.flags import most_likely_first, unsure_first

    flagged = np.asarray(flagged, dtype=bool)
    if queue == "unsure":
        order = unsure_first(flagged, probability, suggested, confidence, at=at)
    else:
        order = most_likely_first(probability, confidence)
        order = order[flagged[order]]
    answered = order[: int(round(share * flagged.sum()))]
    told = original[answered].copy()  # what the person says each answered sample is
    rng = np.random.default_rng(seed)
    erred = rng.random(len(answered)) < errors
    wrong = labels[answered] != original[answered]
    told[erred & wrong] = labels[answered][erred & wrong]  # a wrong label kept
    other = (labels[answered] + rng.integers(1, num_classes, len(answered))) % num_classes
    moved = np.where((suggested[answered] >= 0) & (suggested[answered] != labels[answered]),
                     suggested[answered], other)
    told[erred & ~wrong] = moved[erred & ~wrong]  # a right one relabelled
    change = told != labels[answered]
    answers = corrections.make(fingerprint, labels, num_classes,
                               relabel={int(i): int(y) for i, y in
                                        zip(answered[change], told[change], strict=True)},
                               keep=answered[~change])
    rest = flagged.copy()
    rest[answered] = False
    return answers, corrections.combined(answers, planned_corrections(
        fingerprint, labels, num_classes, rest, suggested, confidence, at=at))


def run_task(cell: dict[str, Any], task: tuple) -> Any:
    """One unit of a cell's work, in whichever process is free: ``("reference",)`` (steps 1
    and 2), ``("fold", k)`` (one of step 3's models) or ``("train", seed, indices)`` (step 4)."""
    torch.set_num_threads(cell["threads"])
    cfg, ref_cfg, bundle, noisy = _setup(json.dumps(cell, sort_keys=True))
    if task[0] == "fold":  # the training labels are the same either way
        return fold_probabilities(ref_cfg.replace(seed=0), bundle, task[1])
    if task[0] == "train":
        _, seed, idx, labels = task
        if labels is not None:  # relabelled: the same data with the corrected labels
            bundle = replace(bundle, train=bundle.train.with_labels(torch.from_numpy(labels)))
        return train(cfg.replace(seed=seed), TrainPlan(), indices=idx, bundle=bundle
                     ).final_test_acc
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.h5"
        score(ref_cfg, out=path, bundle=DataBundle.from_config(ref_cfg)
              if ref_cfg.noise_test else bundle)
        if cell["by"] != DEFAULT_BY:  # as `curator flag --by`: stored, and what prune drops
            flag(path, by=cell["by"])
        if cell["answers"]:  # a person's count, as `curator flag --answers` reads it
            flag(path, by=cell["by"], answers=person_answers(path, cell["answers"], tmp))
        if cell["files"]:  # kept, so that analyses of the files are of the grid's own runs
            name = cell_name(cell, "-").replace(":", "")
            shutil.copyfile(path, Path(cell["files"]) / f"{name}.h5")
        with open_scores(path) as f:
            mislabel = file_mislabel(f)
            fit = f.score("mislabel_probability").params
            ease = f.score("learnability").ease
            early = f.score("early_learnability").params["early_epochs"]
            bound = oracle(f, noisy)
            suggested = np.asarray(f.score("suggested_label").values, dtype=np.int64)
            confidence = np.asarray(f.score("suggestion_confidence").values, dtype=np.float64)
    assert mislabel is not None
    return {"mislabel": mislabel, "ease": ease, "noisy": noisy, "labels": bundle.labels,
            "num_classes": bundle.num_classes, "original": bundle.original_labels,
            "suggested": suggested, "confidence": confidence,
            "curator": {**quality(mislabel.flagged, noisy), "early_epochs": early,
                        "share": fit.get("noise_share"),
                        "share_from": fit.get("noise_share_from"),
                        "separation": fit["mixtures"][0].get("separation"), **bound}}


class Cell:
    """One cell's bookkeeping in the main process: which tasks it still waits for, and what
    they gave. ``done(task, result)`` returns the tasks that result makes possible."""

    def __init__(self, cell: dict[str, Any]) -> None:
        self.cell = cell
        self.where = cell_name(cell)
        self.out: dict[str, Any] = {k: cell[k] for k in (*CELL_KEYS, "score_model")}
        self.t0: float | None = None
        self.pending = 1  # the reference run
        self.folds: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.trained: dict[str, dict[int, tuple[np.ndarray, float]]] = {}
        self.picks: dict[str, Any] = {}  # selection -> (seed -> the indices kept)
        self.relabels: dict[str, np.ndarray] = {}  # selection -> the labels it trains on

    def progress(self, stage: str) -> None:  # a cell can take an hour on a CPU: say where
        print(f"[{self.where}] {stage} ({time.perf_counter() - self.t0:.0f} s)",
              file=sys.stderr, flush=True)

    def _trainings(self, names: list[str]) -> list[tuple]:
        tasks = []
        for name in names:
            self.trained[name] = {}
            for s in range(self.cell["train_seeds"]):
                tasks.append(("train", s, self.picks[name](s), self.relabels.get(name), name))
        self.pending += len(tasks)
        return tasks

    def done(self, task: tuple, result: Any) -> list[tuple]:
        self.pending -= 1
        if task[0] == "reference":
            return self._reference_done(result)
        if task[0] == "fold":
            self.folds[task[1]] = result
            if len(self.folds) < FOLDS:
                return []
            from cleanlab.filter import find_label_issues

            probs = np.zeros((len(self.noisy), self.num_classes), dtype=np.float32)
            for held, p in self.folds.values():
                probs[held] = p
            issues = find_label_issues(self.labels, probs, n_jobs=1)
            self.progress("cleanlab's 5-fold probabilities done")
            self.out["cleanlab"] = {**quality(issues, self.noisy), "oos_acc_given":
                                    float((probs.argmax(1) == self.labels).mean())}
            self.out["suggest"].update(peer_suggestions(
                probs.argmax(1), self.original, self.noisy, issues, self.covered,
                self.mislabel.flagged & (self.suggested >= 0)))
            self.picks["cleanlab"] = lambda s: np.flatnonzero(~issues)
            return self._trainings(["cleanlab"] if "cleanlab" in self.cell["selections"]
                                   else [])
        _, seed, idx, _, name = task
        self.trained[name][seed] = (idx, result)
        if len(self.trained[name]) == self.cell["train_seeds"]:
            runs = [self.trained[name][s] for s in range(self.cell["train_seeds"])]
            flipped = [int(self.noisy[i].sum()) for i, _ in runs]
            self.out["selections"][name] = {
                "acc": [a for _, a in runs], "kept": int(np.mean([len(i) for i, _ in runs])),
                "flipped_kept": float(np.mean(flipped)), "flipped_kept_draws": flipped}
            self.progress(f"selection {name} trained")
        return []

    def _reference_done(self, ref: dict[str, Any]) -> list[tuple]:
        self.progress("reference run done")
        cell, mislabel, ease = self.cell, ref["mislabel"], ref["ease"]
        self.noisy, self.labels, self.num_classes = ref["noisy"], ref["labels"], ref["num_classes"]
        self.original, self.suggested = ref["original"], ref["suggested"]
        self.mislabel = mislabel
        self.out["curator"] = ref["curator"]
        n = len(ease)
        # the suggestions, and `curator relabel`'s corrections (curator.flags.relabel_plan)
        self.covered = self.noisy & (self.suggested >= 0)
        self.out["suggest"] = suggestions(ref["suggested"], ref["confidence"], self.original,
                                          self.noisy, mislabel.flagged)
        relabel, drop = relabel_plan(mislabel.flagged, ref["suggested"], ref["confidence"],
                                     at=cell["relabel_at"])
        self.relabelled = np.where(relabel, ref["suggested"], self.labels)
        relabel_kept = np.flatnonzero(~drop)
        # the bounds: relabel-true keeps what relabel keeps, each relabelled one right; fixed
        # keeps every sample, each flagged one right
        self.relabels = {"relabel": self.relabelled,
                         "relabel-true": np.where(relabel, self.original, self.labels),
                         "fixed": np.where(mislabel.flagged, self.original, self.labels)}
        self.out["suggest"]["relabelled"] = int(relabel.sum())
        self.out["suggest"]["relabelled_right"] = int(
            (self.relabelled[relabel] == self.original[relabel]).sum())
        self.out["suggest"]["wrong_after"] = int(
            (self.relabelled[relabel_kept] != self.original[relabel_kept]).sum())
        same = {s: plan_selection(ease, len(relabel_kept), mislabel=mislabel,
                                  opts=PruneOptions(seed=s)).indices
                for s in range(cell["train_seeds"])}
        keep = int(round(cell["keep"] * n))
        # default and random draw at random; each training seed trains on its own draw, so
        # Welch's p counts the selection's variance too (--draws one: seed 0's for every seed)
        draw = (lambda s: s) if cell["draws"] == "per-seed" else (lambda s: 0)
        plans = {s: plan_selection(ease, keep, mislabel=mislabel, opts=PruneOptions(seed=draw(s)))
                 for s in range(cell["train_seeds"])}
        self.out["curator"]["suspected_dropped"] = plans[0].params.get("suspected_dropped", 0)
        easy = plan_selection(ease, keep, strategy="easy").indices
        self.picks = {
            "default": lambda s: plans[s].indices,
            "easy": lambda s: easy,
            "random": lambda s: plan_selection(ease, keep, strategy="random",
                                               opts=PruneOptions(seed=draw(s))).indices,
            "all": lambda s: np.arange(n),
            "relabel": lambda s: relabel_kept,
            "same-count": lambda s: same[draw(s)],
        }
        self.picks.update({"relabel-true": self.picks["relabel"], "fixed": self.picks["all"]})
        if any(s.startswith("reviewed") for s in cell["selections"]):
            self._reviewed(ref)
        self.out["selections"] = {}
        folds = [("fold", k) for k in range(FOLDS)] if cell["cleanlab"] else []
        self.pending += len(folds)
        return folds + self._trainings([s for s in self.picks if s in cell["selections"]])

    def _reviewed(self, ref: dict[str, Any]) -> None:
        """The ``reviewed`` selections (:func:`reviewed`), trained on the labels and samples
        their corrections leave."""
        flagged = self.mislabel.flagged
        self.out["suggest"]["reviewed"] = int(round(self.cell["review"] * flagged.sum()))
        for queue in ("unsure", "flags"):
            _, made = reviewed(self.labels, self.original, self.num_classes,
                               np.asarray(self.mislabel.probability), flagged,
                               ref["suggested"], ref["confidence"], share=self.cell["review"],
                               queue=queue, at=self.cell["relabel_at"],
                               errors=self.cell.get("review_errors", 0.0))
            name = "reviewed" if queue == "unsure" else "reviewed-flags"
            kept = np.flatnonzero(made.kept())
            self.relabels[name] = made.labels(self.labels)
            self.picks[name] = lambda s, kept=kept: kept

    def result(self) -> dict[str, Any]:
        order = [s for s in SELECTIONS if s in self.out["selections"]]  # the table's order
        self.out["selections"] = {s: self.out["selections"][s] for s in order}
        self.out["flipped"] = int(self.noisy.sum())
        self.out["n"] = len(self.noisy)
        self.out["seconds"] = time.perf_counter() - self.t0
        return self.out


class _Inline(Executor):
    """--jobs 1: each task runs in this process when it is submitted."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def run_grid(cells: list[dict[str, Any]], jobs: int) -> Iterator[dict[str, Any]]:
    """Every cell's result as soon as its last task is done. The tasks of all cells share
    ``jobs`` processes, the earliest cell's first: its reference run, then its folds and
    trainings side by side (a cell's dozens of trainings are what a GPU can run at once)."""
    grid = [Cell(c) for c in cells]
    ready: list[tuple] = []  # (cell index, sequence, task): a heap, earliest cell first
    seq = itertools.count()
    for i in range(len(grid)):  # each cell starts with its reference run (Cell.pending = 1)
        heapq.heappush(ready, (i, next(seq), ("reference",)))
    pool = (ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) if jobs > 1
            else _Inline())
    with pool:
        running: dict[Future, tuple[int, tuple]] = {}
        while ready or running:
            while ready and len(running) < jobs:
                i, _, task = heapq.heappop(ready)
                if grid[i].t0 is None:
                    grid[i].t0 = time.perf_counter()
                sent = task[:4] if task[0] == "train" else task  # the name stays here
                running[pool.submit(run_task, grid[i].cell, sent)] = (i, task)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                i, task = running.pop(fut)
                for new in grid[i].done(task, fut.result()):
                    heapq.heappush(ready, (i, next(seq), new))
                if grid[i].pending == 0:
                    yield grid[i].result()


def welch(a: list[float], b: list[float]) -> float:
    if np.std(a) == 0 and np.std(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def table(results: list[dict[str, Any]]) -> str:
    # the bounds' columns only where some cell trained them
    shown = [s for s in SELECTIONS
             if s not in BOUNDS or any(s in r["selections"] for r in results)]
    head = (f"{'data':<16} {'noise':<8} {'model':<7} {'T':>3} | {'share':>5} | "
            f"{'curator P/R/F1 (n)':<25} | {'oracle':>6} {'AUROC':>5} | "
            f"{'cleanlab P/R/F1 (n)':<25} | " + " ".join(f"{s:>15}" for s in shown)
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
                        for s in shown)
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
        bound = (f"{r['curator']['oracle_f1']:>6.3f} {r['curator']['best_auroc']:>5.3f}"
                 if "oracle_f1" in r["curator"] else f"{'-':>6} {'-':>5}")
        suspects = r["curator"].get("suspected_dropped", "-")
        model = (r["model"] if not r.get("score_model") else f"{r['score_model']}>{r['model']}")
        lines.append(
            f"{r['data']:<16} {r['noise']:<8} {model:<7} {r['epochs']:>3} | {share:>5} | "
            f"{prf(r['curator']):<25} | {bound} | {prf(r.get('cleanlab')):<25} | {accs} | "
            f"{versus} "
            f"{kept:>13} {suspects:>9}")
    return "\n".join(lines)


FIXED = ("easy", "random")  # the fixed strategies the default is held against
CLEAN_AT_MOST = 0.005  # issue "Flags on real data": clean data, at most 0.5% flagged


def cell_bars(r: dict[str, Any]) -> dict[str, tuple[str, bool | None]]:
    """One cell against the bars of the issues "Flags on real data" and "Fix labels, not only
    drop them": each bar's figure as printed and whether it is met (None: not measured in
    this run). Clean cells: the share flagged; noisy ones: F1 against cleanlab's and against
    0.9 x the oracle, the default prune against random (not significantly below, Welch's p
    0.05) and within 1 point of the best of :data:`FIXED`, relabelling against dropping the
    same samples (same-count: not significantly below; above, p < 0.05, at 40% or more)."""
    cur, sel = r["curator"], r["selections"]
    out: dict[str, tuple[str, bool | None]] = {}

    def acc(name: str) -> list[float] | None:
        return sel[name]["acc"] if name in sel else None

    if not r["flipped"]:
        share = cur["flagged"] / r["n"]
        out["clean"] = (f"{100 * share:.2f}%", share <= CLEAN_AT_MOST)
        return out
    peer = r.get("cleanlab")
    out["vs cleanlab"] = ((f"{cur['f1']:.3f}/{peer['f1']:.3f}", cur["f1"] >= peer["f1"])
                          if peer else ("-", None))
    if "oracle_f1" in cur and cur["oracle_f1"] > 0:
        ratio = cur["f1"] / cur["oracle_f1"]
        out["vs bound"] = (f"{ratio:.2f}", bool(ratio >= 0.9))
    default, random_ = acc("default"), acc("random")
    if default and random_:
        figure, below, _ = versus(default, random_)
        out["vs random"] = (figure, not below)
    fixed = {name: np.mean(acc(name)) for name in FIXED if acc(name)}
    if default and fixed:
        best = max(fixed, key=fixed.__getitem__)
        gap = np.mean(default) - fixed[best]
        out["vs best fixed"] = (f"{100 * gap:+.2f} {best}", bool(gap >= -0.01))
    relabel, drop = acc("relabel"), acc("same-count")
    if relabel and drop:
        figure, below, above = versus(relabel, drop)
        out["relabel vs drop"] = (figure, above if noise_of(r["noise"])[0] >= 0.4 else not below)
    return out


def versus(a: list[float], b: list[float]) -> tuple[str, bool, bool]:
    """Accuracies ``a`` against ``b``: the difference of the means in points with Welch's p
    as printed, and whether ``a`` is significantly below, and above, ``b`` (p < 0.05)."""
    diff, p = float(np.mean(a) - np.mean(b)), welch(a, b)
    return f"{100 * diff:+.2f} p{p:.3f}", diff < 0 and p < 0.05, diff > 0 and p < 0.05


def bars_table(results: list[dict[str, Any]]) -> str:
    """:func:`cell_bars` of every cell, one row each, and how many cells meet every bar
    measured."""
    columns = (("clean", 7), ("vs cleanlab", 12), ("vs bound", 8), ("vs random", 14),
               ("vs best fixed", 14), ("relabel vs drop", 15))  # (bar, its figure's width)
    head = (f"{'data':<19} {'noise':<13} {'T':>3} | "
            + " ".join(f"{n:>{w + 2}}" for n, w in columns) + " | all")
    lines = [head, "-" * len(head)]
    every = 0
    for r in results:
        bars = cell_bars(r)
        measured = [m for _, m in bars.values() if m is not None]
        every += all(measured)
        lines.append(f"{r['data']:<19} {r['noise']:<13} {r['epochs']:>3} | "
                     + " ".join(_bar(bars.get(n), w) for n, w in columns)
                     + f" | {'y' if all(measured) else 'N'}")
    lines.append(f"cells meeting every bar measured: {every} of {len(results)}")
    return "\n".join(lines)


def draws_table(results: list[dict[str, Any]]) -> str:
    """Cells that differ only in the draw of their flips (``@N``) together: the flags' F1,
    cleanlab's and the oracle's, mean ± std over the draws, and in how many draws the flags
    meet each F1 bar; empty where no cell was drawn more than once."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in results:
        if r["flipped"]:
            key = (r["data"], r["noise"].partition("@")[0], r["model"], r["epochs"])
            groups.setdefault(key, []).append(r)
    groups = {k: v for k, v in groups.items() if len(v) > 1}
    if not groups:
        return ""

    def spread(values: list[float]) -> str:
        return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "-"

    head = (f"{'data':<19} {'noise':<13} {'model':<5} {'T':>3} | draws | {'flags F1':>13} "
            f"{'cleanlab F1':>13} {'oracle F1':>13} | >= cleanlab  >= 0.9 oracle")
    lines = [head, "-" * len(head)]
    for (data, noise, model, epochs), rs in groups.items():
        ours = [r["curator"]["f1"] for r in rs]
        peer = [r["cleanlab"]["f1"] for r in rs if r.get("cleanlab")]
        bound = [r["curator"]["oracle_f1"] for r in rs if "oracle_f1" in r["curator"]]
        beat = (f"{sum(r['curator']['f1'] >= r['cleanlab']['f1'] for r in rs)}/{len(rs)}"
                if len(peer) == len(rs) else "-")
        near = (f"{sum(r['curator']['f1'] >= 0.9 * r['curator']['oracle_f1'] for r in rs)}"
                f"/{len(rs)}" if len(bound) == len(rs) else "-")
        lines.append(f"{data:<19} {noise:<13} {model:<5} {epochs:>3} | {len(rs):>5} | "
                     f"{spread(ours):>13} {spread(peer):>13} {spread(bound):>13} | "
                     f"{beat:>11} {near:>14}")
    return "\n".join(lines)


def _bar(bar: tuple[str, bool | None] | None, width: int) -> str:
    """One bar's cell of :func:`bars_table`: its figure and y (met), N (not) or - (not
    measured); blank where the cell has no such bar."""
    if bar is None:
        return f"{'':>{width + 2}}"
    figure, met = bar
    return f"{figure:>{width}} {'-' if met is None else 'y' if met else 'N'}"


def suggestion_table(results: list[dict[str, Any]]) -> str:
    """Per cell: curator's suggestions right on the flipped samples they cover (the share
    covered) at every confidence level, beside cleanlab's argmax on the same samples and on
    all the flipped; on the flagged; what relabel did."""
    def pct(right: int, total: int) -> str:
        return "-" if not total else f"{100 * right / total:.1f}%"

    head = (f"{'data':<16} {'noise':<8} {'model':<7} {'T':>3} | "
            + " ".join(f"{'>=' + str(v):>15}" for v in LEVELS)
            + f" | {'peer same':>9} {'peer all':>8} | {'flagged':>8} {'peer':>6} | "
              f"{'relabelled right':>17} {'wrong after':>11}")
    lines = [head, "-" * len(head)]
    for r in results:
        g = r.get("suggest")
        if not g or not g["flipped"]:
            continue
        def level(v: dict[str, int], flipped: int = g["flipped"]) -> str:
            share = round(100 * v["flipped_covered"] / flipped)
            return f"{pct(v['flipped_right'], v['flipped_covered'])} ({share}%)"

        levels = " ".join(f"{level(v):>15}" for v in g["levels"].values())
        peer = (f"{pct(*g['peer_covered']):>9} {pct(*g['peer_flipped']):>8}"
                if "peer_covered" in g else f"{'-':>9} {'-':>8}")
        flagged = g["levels"]["0.0"]
        peer_flagged = pct(*g["peer_flagged"]) if "peer_flagged" in g else "-"
        lines.append(
            f"{r['data']:<16} {r['noise']:<8} {r['model']:<7} {r['epochs']:>3} | {levels} | "
            f"{peer} | {pct(flagged['flagged_right'], flagged['flagged_covered']):>8} "
            f"{peer_flagged:>6} | "
            f"{str(g['relabelled_right']) + '/' + str(g['relabelled']):>17} "
            f"{g['wrong_after']:>11}")
    return "\n".join(lines)


def print_tables(results: list[dict[str, Any]], keep: float | str, train_seeds: int | str,
                 relabel_at: float | str) -> None:
    """The grid's three tables: flags and selections, suggested labels, the issues' bars."""
    print("\nshare: the share of wrong labels the flags' prior was set to (from the test "
          "split, or the mixtures' expected share); oracle: the best F1 of any fixed count of "
          "the lowest samples on any stored score; AUROC: the best stored score's; "
          "flags: precision/recall/F1 against the flipped labels (flags; flagging every "
          "sample scores F1 2r/(1+r) with r the flipped share: 0.333 at 20%, 0.571 at 40%); "
          "test accuracy after "
          f"training on each selection (keep {keep} for default/easy/random), mean ± std "
          f"over {train_seeds} seeds; default-random with Welch's p; flipped labels kept "
          "by the default (mean over its draws; share of the kept); suspected: samples the "
          "default dropped after the flagged ones (docs/flags.md, step 5)")
    print(table(results))
    print("\nsuggested labels: the share right (the original label) of the flipped samples "
          "with a suggestion of at least each confidence (the share of the flipped covered); "
          "peer: cleanlab's argmax of the 5-fold out-of-sample probabilities on the same "
          "samples (at >= 0), and on every flipped sample; flagged: curator's suggestions "
          "right on its flagged samples, the peer's on the same; relabel (`curator relabel`, "
          f"at {relabel_at}): relabelled right / relabelled, and the wrong labels left in "
          "its training set")
    print(suggestion_table(results))
    print("\nthe issues' bars per cell (y: met, N: not, -: not measured): clean data at most "
          f"{100 * CLEAN_AT_MOST}% flagged; flags F1 against cleanlab's, and over the oracle "
          "(at least 0.9); the default prune against random (Welch's p; not significantly "
          "below) and against the best of easy/random (within 1 point); relabel against "
          "same-count (not significantly below; at 40% flips, above at p < 0.05)")
    print(bars_table(results))
    over = draws_table(results)
    if over:
        print("\nthe same noise over several draws of its flips (@N): the flags' F1, "
              "cleanlab's and the oracle's, mean ± std over the draws; in how many draws the "
              "flags reach cleanlab's F1 and 0.9 of the oracle's")
        print(over)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["digits", "mnist1d"])
    parser.add_argument("--noise", nargs="+", default=["none", "sym0.2", "sym0.4", "asym0.2"])
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int, nargs="+", default=[20, 80],
                        help="short, and long enough that the model memorises")
    parser.add_argument("--seeds", type=int, default=3, help="reference-run seeds")
    parser.add_argument("--keep", type=float, default=0.8)
    parser.add_argument("--answers", type=int, default=0, metavar="M",
                        help="a person's count of each contested class read in before the "
                             "selections (`curator flag --answers`): the first M of each one's "
                             "review sample answered, every wrong label told")
    parser.add_argument("--holdout", type=int, default=0,
                        help="K: the reference run also trains K holdout models per seed")
    parser.add_argument("--by", default=DEFAULT_BY,
                        help="the score the flags are fitted on, as `curator flag --by` "
                             "(heldout_learnability needs --holdout)")
    parser.add_argument("--selections", nargs="+", choices=SELECTIONS,
                        default=[s for s in SELECTIONS if s not in BOUNDS],
                        help="the selections to train on (the others print -)")
    parser.add_argument("--score-model",
                        help="train this model for the scores, the flags and cleanlab's "
                             "probabilities; the selections still train --models (the "
                             "table's model column then reads SCORE>MODEL)")
    parser.add_argument("--no-cleanlab", dest="cleanlab", action="store_false",
                        help="skip the peer (its 5-fold runs are deterministic on a CPU, so "
                             "a rerun after a change to the flags may reuse its figures)")
    parser.add_argument("--relabel-at", type=float, default=RELABEL_AT,
                        help="the relabel selection's confidence level (curator relabel --at)")
    parser.add_argument("--review", type=float, default=0.25, metavar="SHARE",
                        help="the reviewed selections: the share of the flagged samples a "
                             "person answers")
    parser.add_argument("--review-errors", type=float, default=0.0, metavar="SHARE",
                        help="the reviewed selections: the share of the person's answers "
                             "that are wrong (a wrong label kept, a right one relabelled)")
    parser.add_argument("--files", type=Path,
                        help="keep each cell's reference-run file in this folder, named "
                             "DATA-NOISE-MODEL-EPOCHS.h5 (for benchmarks/flags_on_files.py)")
    parser.add_argument("--draws", choices=("per-seed", "one"), default="per-seed",
                        help="the default's and random's random draws: one per training seed "
                             "(Welch's p then counts their variance), or seed 0's for every "
                             "seed (the grid's rows before 2026-12-02)")
    parser.add_argument("--tables-from", type=Path, nargs="+", metavar="JSON",
                        help="print the tables of runs saved with --out (their cells "
                             "together, in order) and run nothing")
    args = parse_grid(parser)
    if args.tables_from:
        saved = [json.loads(path.read_text()) for path in args.tables_from]

        def setting(name: str) -> str:  # one value, or each run's where they differ
            return "/".join(dict.fromkeys(str(run["args"][name]) for run in saved))

        print(f"from {', '.join(str(p) for p in args.tables_from)}: keep {setting('keep')}, "
              f"{setting('train_seeds')} training seeds, relabel at {setting('relabel_at')}")
        print_tables([r for run in saved for r in run["results"]], setting("keep"),
                     setting("train_seeds"), setting("relabel_at"))
        return
    import cleanlab

    person = (f" with a person answering {args.answers} per contested class"
              if args.answers else "")
    print(f"cleanlab {cleanlab.__version__}{'' if args.cleanlab else ' (not run)'}; "
          f"keep {args.keep}; {args.seeds} reference seeds"
          f"{f' with {args.holdout} holdout runs each' if args.holdout else ''}; flags by "
          f"{args.by}"
          f"{person}, "
          f"{args.train_seeds} training seeds per selection (default and random: "
          f"{'a draw per seed' if args.draws == 'per-seed' else 'one draw'}); "
          f"batch {args.batch_size}"
          + (f"; reviewed: a person answers {args.review} of the flagged"
             + (f", {args.review_errors} of the answers wrong" if args.review_errors else "")
             if any(s.startswith("reviewed") for s in args.selections) else ""),
          flush=True)
    if args.files:
        args.files.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="mislabel-flags-"))
    specs = {d: data_spec(d, args.root, cache) for d in args.data}
    cells = [{"data": d, "spec": specs[d], "noise": z, "model": m, "epochs": t,
              "seeds": args.seeds, "train_seeds": args.train_seeds, "keep": args.keep,
              "holdout": args.holdout, "by": args.by, "cleanlab": args.cleanlab,
              "score_model": args.score_model, "draws": args.draws,
              "relabel_at": args.relabel_at, "answers": args.answers, "review": args.review,
              "review_errors": args.review_errors,
              "files": str(args.files) if args.files else None,
              "device": args.device, "threads": args.threads, "batch_size": args.batch_size,
              "selections": args.selections}
             for d, z, m, t in itertools.product(args.data, args.noise, args.models,
                                                 args.epochs)]
    results = []
    try:
        for r in run_grid(cells, args.jobs):
            print(json.dumps(r), flush=True)
            results.append(r)
    finally:  # the data sets written for the cells' processes
        shutil.rmtree(cache, ignore_errors=True)
    order = {cell_name(c): i for i, c in enumerate(cells)}
    results.sort(key=lambda r: order[cell_name(r)])
    print_tables(results, args.keep, args.train_seeds, args.relabel_at)
    write_out(args, results)


if __name__ == "__main__":
    main()
