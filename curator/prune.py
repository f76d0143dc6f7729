"""Dataset pruning: choose which training samples to keep, by a score, and record the choice.

Strategies are registered in :data:`STRATEGIES`. Each takes the samples' *ease* (higher =
easier, whatever the score's own direction), the number to keep and the options, and
returns the kept indices. ``class_balanced`` runs the strategy inside each class with a
budget proportional to the class's size (largest-remainder rounding, so the total is exact).
See docs/pruning.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from curator import store
from curator.errors import CuratorError, FormatError
from curator.registry import Registry
from curator.store import open_scores

Strategy = Callable[..., np.ndarray]
STRATEGIES: Registry[Strategy] = Registry("prune strategy")
DEFAULT_STRATEGY = "stratified"
# drop-noisy: a sample is flagged when its score is below these (scores where higher is easier)
NOISE_THRESHOLDS = {"aum": 0.0, "learnability": 0.5, "confidence": 0.5, "hit_rate": 0.5,
                    "correctness": 0.5, "heldout_learnability": 0.5}


@dataclass
class PruneOptions:
    seed: int = 0
    drop_hardest: float | None = None  # stratified: hardest fraction dropped first (CCS's
    # beta); None = auto: the fraction the score flags as mislabelled (see auto_drop_hardest)
    strata: int = 50  # stratified: equal-width score bins
    threshold: float | None = None  # drop-noisy: flag samples with ease below this
    extra: dict[str, Any] = field(default_factory=dict)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0x7072756E, *keys]))


@STRATEGIES.register("easy", description="keep the easiest (drops likely mislabelled first)")
def keep_easy(ease: np.ndarray, keep: int, opts: PruneOptions) -> np.ndarray:
    return np.argsort(-ease, kind="stable")[:keep]


@STRATEGIES.register("hard", description="keep the hardest")
def keep_hard(ease: np.ndarray, keep: int, opts: PruneOptions) -> np.ndarray:
    return np.argsort(ease, kind="stable")[:keep]


@STRATEGIES.register("random", description="keep a uniformly random subset (the baseline)")
def keep_random(ease: np.ndarray, keep: int, opts: PruneOptions) -> np.ndarray:
    return _rng(opts.seed, 1).choice(len(ease), size=keep, replace=False)


@STRATEGIES.register("stratified", description="coverage-centric (CCS, Zheng 2023): drop the "
                     "hardest fraction, then sample evenly across score strata")
def keep_stratified(ease: np.ndarray, keep: int, opts: PruneOptions) -> np.ndarray:
    n = len(ease)
    beta = 0.0 if opts.drop_hardest is None else opts.drop_hardest  # prune() resolves auto
    if not 0 <= beta < 1:
        raise CuratorError(f"--drop-hardest must be in [0, 1), but got {opts.drop_hardest}")
    if opts.strata < 1:
        raise CuratorError(f"--strata must be >= 1, but got {opts.strata}")
    order = np.argsort(ease, kind="stable")  # hardest first
    cut = min(int(math.floor(beta * n)), n - keep)
    pool = order[cut:]
    values = ease[pool]
    lo, hi = float(values.min()), float(values.max())
    edges = np.linspace(lo, hi, opts.strata + 1)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, opts.strata - 1)
    members = [pool[bins == b] for b in range(opts.strata)]
    rng = _rng(opts.seed, 2)
    chosen, budget = [], keep
    # CCS's allocation: visit strata from the smallest; each takes an equal share of what is
    # left (all of itself if smaller), so sparse regions of the score are fully covered
    for left, b in enumerate(sorted(range(opts.strata), key=lambda i: len(members[i]))):
        share = min(len(members[b]), budget // (opts.strata - left))
        chosen.append(rng.choice(members[b], size=share, replace=False))
        budget -= share
    picked = np.concatenate(chosen)
    if budget:  # rounding: fill from the rest of the pool at random
        rest = np.setdiff1d(pool, picked, assume_unique=True)
        picked = np.concatenate([picked, rng.choice(rest, size=budget, replace=False)])
    return picked


@STRATEGIES.register("drop-noisy", description="drop only the samples flagged as mislabelled "
                     "(score below a threshold), then the hardest if fewer must be kept")
def keep_unflagged(ease: np.ndarray, keep: int, opts: PruneOptions) -> np.ndarray:
    assert opts.threshold is not None
    flagged = ease < opts.threshold
    order = np.argsort(-ease, kind="stable")
    unflagged = order[~flagged[order]]
    return unflagged[:keep]


# --------------------------------------------------------------------------------------


@dataclass
class Selection:
    name: str
    indices: np.ndarray  # sorted int64
    strategy: str
    score: str
    keep: float  # what was asked: a fraction in (0, 1] or a count
    class_balanced: bool
    seed: int
    params: dict[str, Any]


def noise_threshold(score: str, higher_is: str) -> float | None:
    """The documented mislabel threshold of ``score``, in ease units (None: no default)."""
    if score not in NOISE_THRESHOLDS:
        return None
    return NOISE_THRESHOLDS[score] * (1 if higher_is == "easier" else -1)


def auto_drop_hardest(ease: np.ndarray, score: str, higher_is: str) -> float:
    """CCS's beta from the data: the fraction of samples ``score`` flags as mislabelled
    (below its :data:`NOISE_THRESHOLDS` entry); 0 for scores without a threshold."""
    threshold = noise_threshold(score, higher_is)
    if threshold is None:
        return 0.0
    return float(min(np.mean(ease < threshold), 0.99))


def parse_keep(value: str | float | int, n: int) -> int:
    """``--keep``: a fraction in (0, 1] or a whole count in 1..N -> the count to keep."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CuratorError(f"--keep must be a fraction in (0, 1] or a count, but got "
                           f"{value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise CuratorError(f"--keep must be a fraction in (0, 1] or a count, but got {value}",
                           hint="e.g. --keep 0.7 keeps 70%, --keep 35000 keeps 35,000 samples")
    if number <= 1:
        return max(1, int(round(number * n)))
    if number != int(number):
        raise CuratorError(f"--keep {value} is neither a fraction in (0, 1] nor a whole count",
                           hint="e.g. --keep 0.7 or --keep 35000")
    if number > n:
        raise CuratorError(f"--keep {int(number)} is more than the {n} training samples")
    return int(number)


def class_budgets(labels: np.ndarray, keep: int) -> np.ndarray:
    """Samples to keep per class: proportional to class size, summing to ``keep`` exactly
    (largest remainder)."""
    counts = np.bincount(labels)
    exact = keep * counts / len(labels)
    budget = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - budget), kind="stable")
    budget[order[: keep - budget.sum()]] += 1
    return np.minimum(budget, counts)


def select(ease: np.ndarray, keep: int, *, strategy: str = DEFAULT_STRATEGY,
           labels: np.ndarray | None = None, class_balanced: bool = False,
           opts: PruneOptions | None = None) -> np.ndarray:
    """Sorted indices of the ``keep`` samples that ``strategy`` keeps."""
    opts = opts or PruneOptions()
    fn = STRATEGIES.get(strategy)
    n = len(ease)
    if not 1 <= keep <= n:
        raise CuratorError(f"cannot keep {keep} of {n} samples")
    if not class_balanced:
        picked = fn(ease, keep, opts)
    else:
        if labels is None:
            raise CuratorError("class-balanced pruning needs the labels")
        parts = []
        for c, budget in enumerate(class_budgets(labels, keep)):
            members = np.flatnonzero(labels == c)
            if budget:
                sub = PruneOptions(**{**opts.__dict__, "seed": opts.seed * 100_003 + c})
                parts.append(members[fn(ease[members], int(budget), sub)])
        picked = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return np.sort(np.asarray(picked, dtype=np.int64))


def prune(path: str | Path, *, keep: str | float | int, by: str = "learnability",
          strategy: str = DEFAULT_STRATEGY, class_balanced: bool = False,
          name: str | None = None, force: bool = False,
          opts: PruneOptions | None = None) -> Selection:
    """Choose the samples to keep from the scores in ``path`` and store the selection there."""
    opts = opts or PruneOptions()
    STRATEGIES.get(strategy)
    with open_scores(path) as f:
        if not f.score_names():
            raise FormatError(f"{str(path)!r} has no scores yet",
                              hint="finish the reference run with `curator score --resume`")
        s = f.score(by)
        labels = f.labels
        existing = f.selection_names()
    ease = s.values.astype(np.float64) * (1 if s.higher_is == "easier" else -1)
    count = parse_keep(keep, len(ease))
    params: dict[str, Any] = {}
    if strategy == "stratified":
        auto = opts.drop_hardest is None
        if auto:
            opts.drop_hardest = auto_drop_hardest(ease, by, s.higher_is)
        params = {"drop_hardest": opts.drop_hardest, "drop_hardest_auto": auto,
                  "strata": opts.strata}
    if strategy == "drop-noisy":
        if opts.threshold is None:
            opts.threshold = noise_threshold(by, s.higher_is)
            if opts.threshold is None:
                raise CuratorError(f"drop-noisy has no default threshold for score {by!r}",
                                   hint="pass --threshold T (samples easier than T are kept), "
                                        f"or --by one of {', '.join(NOISE_THRESHOLDS)}")
        params = {"threshold": opts.threshold}
        count = min(count, int((ease >= opts.threshold).sum()))
        if count == 0:
            raise CuratorError(f"drop-noisy flags every sample ({by} below {opts.threshold})")
    name = name or default_name(strategy, by, keep, class_balanced)
    if name in existing and not force:
        raise CuratorError(f"{str(path)!r} already has a selection {name!r}",
                           hint="pass --force to replace it, or --name for another name")
    indices = select(ease, count, strategy=strategy, labels=labels,
                     class_balanced=class_balanced, opts=opts)
    selection = Selection(name, indices, strategy, by, float(keep), class_balanced, opts.seed,
                          params)
    write_selection(path, selection)
    return selection


def default_name(strategy: str, by: str, keep: str | float | int, balanced: bool) -> str:
    return f"{strategy}-{by}-{keep}" + ("-balanced" if balanced else "")


def write_selection(path: str | Path, sel: Selection) -> None:
    with store.writer_lock(path):
        _write_selection(path, sel)


def _write_selection(path: str | Path, sel: Selection) -> None:
    store.write_selection(path, sel.name, sel.indices, {
        "keep": sel.keep, "strategy": sel.strategy, "score": sel.score, "seed": sel.seed,
        "class_balanced": sel.class_balanced, "params": json.dumps(sel.params, sort_keys=True)})


def export_selection(indices: np.ndarray, out: str | Path) -> Path:
    """Write kept indices to ``.npy``, ``.txt`` (one per line) or ``.csv`` (header ``index``)."""
    out = Path(out)
    if out.suffix == ".npy":
        np.save(out, indices)
    elif out.suffix in (".txt", ".csv"):
        header = "index" if out.suffix == ".csv" else ""
        np.savetxt(out, indices, fmt="%d", header=header, comments="")
    else:
        raise CuratorError(f"--out {str(out)!r} must end in .npy, .txt or .csv")
    return out


def subset(dataset: Dataset, scores: str | Path, name: str) -> Subset:
    """``torch.utils.data.Subset`` of ``dataset`` (the training split the scores were made
    on, in the same order) holding the samples of selection ``name``."""
    with open_scores(scores) as f:
        indices = f.selection(name)
        n = f.num_samples
    if len(dataset) != n:  # type: ignore[arg-type]
        raise CuratorError(f"the data set has {len(dataset)} samples, but {str(scores)!r} "  # type: ignore[arg-type]
                           f"was scored on {n}",
                           hint="pass the training split the scores were computed on")
    return Subset(dataset, torch.from_numpy(indices).tolist())
