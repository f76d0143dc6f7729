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
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from curator import store
from curator.errors import CuratorError, FormatError
from curator.flagging import file_mislabel
from curator.flags import FLAG_AT, MislabelFit, suspected
from curator.registry import Registry
from curator.store import ScoreValues, open_scores

Strategy = Callable[..., np.ndarray]
STRATEGIES: Registry[Strategy] = Registry("prune strategy")
DEFAULT_STRATEGY = "drop-flagged"


@dataclass(frozen=True)
class PruneOptions:
    """What a strategy may use besides the ease. Never changed by the functions that read it:
    the automatic values are resolved into the returned :class:`Plan`."""

    seed: int = 0
    drop_hardest: float | None = None  # stratified: hardest fraction dropped first (CCS's
    # beta); None = auto: the samples flagged as mislabelled (curator.flags)
    strata: int = 50  # stratified: equal-width score bins
    threshold: float | None = None  # drop-noisy: flag samples with ease below this; None =
    # the samples flagged as mislabelled


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0x7072756E, *keys]))


# A strategy takes the ease (higher = easier), the count to keep, the options and the
# samples to drop first (indices, most certain first; may be empty), and returns the kept
# indices. ``drop`` holds the flagged samples, or CCS's hardest beta fraction.
#
# What a strategy drops first is declared where it is registered, ``first=``: a function of
# the options naming "flagged" (the samples flagged as mislabelled: it reads the mislabel
# estimate, and never keeps them, even short of the count asked), "threshold" (the samples
# below ``opts.threshold``: never kept either) or "hardest" (CCS's hardest fraction, dropped
# only as far as the count allows); none declared: nothing. ``suspected=True``: the suspected
# samples go next, while more must go (the default). plan_selection and needs_flags read
# these declarations (first_dropped), not the strategies' names. ``keep_all=True``: without
# a count to keep, it keeps every sample it does not drop (resolve_keep).
FLAGGED, THRESHOLD, HARDEST = "flagged", "threshold", "hardest"
NEVER_KEPT = (FLAGGED, THRESHOLD)  # what a strategy that drops it never keeps


@STRATEGIES.register("easy", description="keep the easiest (drops likely mislabelled first)")
def keep_easy(ease: np.ndarray, keep: int, opts: PruneOptions, drop: np.ndarray) -> np.ndarray:
    return np.argsort(-ease, kind="stable")[:keep]


@STRATEGIES.register("hard", description="keep the hardest")
def keep_hard(ease: np.ndarray, keep: int, opts: PruneOptions, drop: np.ndarray) -> np.ndarray:
    return np.argsort(ease, kind="stable")[:keep]


@STRATEGIES.register("random", description="keep a uniformly random subset (the baseline)")
def keep_random(ease: np.ndarray, keep: int, opts: PruneOptions, drop: np.ndarray
                ) -> np.ndarray:
    return _rng(opts.seed, 1).choice(len(ease), size=keep, replace=False)


@STRATEGIES.register("drop-flagged", description="the default: drop the samples flagged as "
                     "mislabelled, then the suspected ones while more must go, then keep a "
                     "uniformly random subset of the rest",
                     first=lambda opts: FLAGGED, suspected=True)
def keep_random_unflagged(ease: np.ndarray, keep: int, opts: PruneOptions, drop: np.ndarray
                          ) -> np.ndarray:
    # ``drop``: the flagged samples (plan_selection: keep <= N - their count), then the
    # suspected ones, each most likely wrong first; as many go as keep leaves room for
    pool = np.setdiff1d(np.arange(len(ease)), drop[: len(ease) - keep])
    return pool[_rng(opts.seed, 1).choice(len(pool), size=keep, replace=False)]


@STRATEGIES.register("stratified", description="coverage-centric (CCS, Zheng 2023): drop the "
                     "flagged (or hardest) samples, then sample evenly across score strata",
                     options=("drop_hardest", "strata"),
                     first=lambda opts: FLAGGED if opts.drop_hardest is None else HARDEST)
def keep_stratified(ease: np.ndarray, keep: int, opts: PruneOptions, drop: np.ndarray
                    ) -> np.ndarray:
    n = len(ease)
    rng = _rng(opts.seed, 2)
    cut = min(len(drop), n - keep)  # flags: plan_selection keeps at most the unflagged
    pool = np.setdiff1d(np.arange(n), drop[:cut], assume_unique=True)
    values = ease[pool]
    lo, hi = float(values.min()), float(values.max())
    edges = np.linspace(lo, hi, opts.strata + 1)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, opts.strata - 1)
    members = [pool[bins == b] for b in range(opts.strata)]
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


@STRATEGIES.register("drop-noisy", description="drop only the samples flagged as mislabelled, "
                     "then the hardest if fewer must be kept", options=("threshold",),
                     first=lambda opts: FLAGGED if opts.threshold is None else THRESHOLD,
                     needs_a_drop=True, keep_all=True)
def keep_unflagged(ease: np.ndarray, keep: int, opts: PruneOptions, drop: np.ndarray
                   ) -> np.ndarray:
    order = np.argsort(-ease, kind="stable")
    unflagged = order[~np.isin(order, drop)]
    return unflagged[:keep]


# --------------------------------------------------------------------------------------
# The decision: one pure function of arrays, called by `curator prune`, `curator bench`
# and the benchmarks alike
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What :func:`plan_selection` decided: the kept indices and how."""

    indices: np.ndarray  # sorted int64
    params: dict[str, Any]  # the resolved options, stored with the selection


def plan_selection(ease: np.ndarray, keep: int, *, strategy: str = DEFAULT_STRATEGY,
                   labels: np.ndarray | None = None, class_balanced: bool = False,
                   mislabel: np.ndarray | MislabelFit | None = None,
                   opts: PruneOptions = PruneOptions()) -> Plan:
    """Choose ``keep`` samples by ``ease`` (higher = easier) with ``strategy``.

    ``mislabel`` is the estimate of which labels are wrong (:class:`curator.flags.MislabelFit`,
    as :func:`curator.flagging.file_mislabel` reads it), or just each sample's probability of a
    wrong label, (N,). The samples at or above :data:`curator.flags.FLAG_AT` are the
    *flagged* ones: ``drop-flagged`` (the default) and ``stratified`` with
    ``drop_hardest=None`` drop them first and keep at most the unflagged samples;
    ``drop-noisy`` drops only them unless ``threshold`` is set. ``drop-flagged`` then drops
    the *suspected* samples (:func:`curator.flags.suspected`; only with a fit, whose prior
    it needs), most likely wrong first, while more must go, and keeps a random subset of the
    rest.
    """
    fn = STRATEGIES.get(strategy)
    ease = np.asarray(ease, dtype=np.float64)
    n = len(ease)
    if not 1 <= keep <= n:
        raise CuratorError(f"keep {keep} is not in 1..{n}, the training samples", param="keep")
    if opts.strata < 1:
        raise CuratorError(f"strata must be >= 1, but got {opts.strata}", param="strata")
    if opts.drop_hardest is not None and not 0 <= opts.drop_hardest < 1:
        raise CuratorError(f"drop_hardest must be in [0, 1), but got {opts.drop_hardest}",
                           param="drop_hardest")
    fit = mislabel if isinstance(mislabel, MislabelFit) else None
    m = None if mislabel is None else np.asarray(
        mislabel if fit is None else fit.probability, dtype=np.float64)
    if m is not None and len(m) != n:
        raise CuratorError(f"mislabel has {len(m)} values for {n} samples", param="mislabel")
    params: dict[str, Any] = {}
    flag_order = np.zeros(0, dtype=np.int64)  # flagged samples, most likely mislabelled first
    suspect_order = flag_order  # then the suspected ones (drop-flagged)
    if m is not None:
        order = np.argsort(-m, kind="stable")
        flag_order = order[: int((m >= FLAG_AT).sum())]
        if fit is not None:
            suspect_order = order[suspected(m, fit.share)[order]]
    entry = STRATEGIES.entry(strategy)
    first = first_dropped(strategy, opts)
    # a strategy never keeps what it drops first when that is the flagged samples (or those
    # below a threshold), even when that leaves fewer than ``keep``: keeping flagged samples
    # to reach the count cost accuracy in every measured case (docs/pruning.md), most of all
    # when the model memorises them
    capped = first in NEVER_KEPT
    drop = flag_order
    if first == THRESHOLD:
        drop = np.flatnonzero(ease < opts.threshold)  # type: ignore[operator]
    elif first == HARDEST:
        drop = np.argsort(ease, kind="stable")[: int(math.floor(opts.drop_hardest * n))]  # type: ignore[operator]
    elif first == FLAGGED and mislabel is None and entry.meta.get("needs_a_drop"):
        raise CuratorError(f"{strategy} needs the mislabel estimate or a threshold",
                           hint="pass threshold (samples at least this easy are kept)",
                           param="threshold")
    # the resolved options, stored with the selection
    if "threshold" in entry.meta.get("options", ()):
        params["threshold"] = opts.threshold if first == THRESHOLD else "flags"
        params["flagged"] = int(len(drop))
    if "drop_hardest" in entry.meta.get("options", ()):
        params["drop_hardest"] = "auto" if opts.drop_hardest is None else opts.drop_hardest
    if entry.meta.get("suspected"):
        params["flags"] = mislabel is not None
    never = drop  # what the capped strategies never keep
    if entry.meta.get("suspected"):
        drop = np.concatenate([drop, suspect_order])
    if capped:
        params["asked"] = keep
        keep = min(keep, n - len(never))
        if keep == 0:
            raise CuratorError("every sample is flagged as mislabelled",
                               hint="choose another strategy, e.g. random")
    if "strata" in entry.meta.get("options", ()):
        params.update(strata=opts.strata, dropped_first=int(min(len(drop), n - keep)))
    if not class_balanced:
        picked = fn(ease, keep, opts, drop)
    else:
        if labels is None:
            raise CuratorError("class-balanced pruning needs the labels", param="labels")
        labels = np.asarray(labels)
        dropped = np.zeros(n, dtype=bool)
        dropped[drop] = True
        rank = np.empty(n, dtype=np.int64)  # position of each sample in the drop order
        rank[drop] = np.arange(len(drop))
        parts = []
        kept_ok = np.ones(n, dtype=bool)
        kept_ok[never] = False
        unflagged_per_class = np.bincount(labels[kept_ok], minlength=int(labels.max()) + 1)
        budgets = class_budgets(labels, keep)
        if capped:
            budgets = np.minimum(budgets, unflagged_per_class)
        for c, budget in enumerate(budgets):
            members = np.flatnonzero(labels == c)
            if budget:
                sub = replace(opts, seed=opts.seed * 100_003 + c)
                local = np.flatnonzero(dropped[members])
                local = local[np.argsort(rank[members[local]], kind="stable")]
                parts.append(members[fn(ease[members], int(budget), sub, local)])
        picked = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if entry.meta.get("suspected"):
        params["suspected_dropped"] = int(len(suspect_order)
                                          - np.isin(suspect_order, picked).sum())
    return Plan(np.sort(np.asarray(picked, dtype=np.int64)), params)


def select(ease: np.ndarray, keep: int, *, strategy: str = DEFAULT_STRATEGY,
           labels: np.ndarray | None = None, class_balanced: bool = False,
           mislabel: np.ndarray | None = None, opts: PruneOptions = PruneOptions()
           ) -> np.ndarray:
    """Sorted indices of the ``keep`` samples that ``strategy`` keeps (see
    :func:`plan_selection`)."""
    return plan_selection(ease, keep, strategy=strategy, labels=labels,
                          class_balanced=class_balanced, mislabel=mislabel, opts=opts).indices


def parse_keep(value: str | float | int, n: int) -> int:
    """``keep``: a fraction in (0, 1] or a whole count in 1..N -> the count to keep."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CuratorError(f"keep must be a fraction in (0, 1] or a count, but got "
                           f"{value!r}", param="keep") from None
    if not math.isfinite(number) or number <= 0:
        raise CuratorError(f"keep must be a fraction in (0, 1] or a count, but got {value}",
                           hint="e.g. keep 0.7 keeps 70%, keep 35000 keeps 35,000 samples",
                           param="keep")
    if number <= 1:
        return max(1, int(round(number * n)))
    if number != int(number):
        raise CuratorError(f"keep {value} is neither a fraction in (0, 1] nor a whole count",
                           hint="e.g. keep 0.7 or keep 35000", param="keep")
    if number > n:
        raise CuratorError(f"keep {int(number)} is more than the {n} training samples",
                           param="keep")
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


def first_dropped(strategy: str, opts: PruneOptions) -> str | None:
    """What ``strategy`` with ``opts`` drops before anything else, as it declared when it was
    registered: :data:`FLAGGED`, :data:`THRESHOLD`, :data:`HARDEST`, or None."""
    rule = STRATEGIES.entry(strategy).meta.get("first")
    return None if rule is None else rule(opts)


def needs_flags(strategy: str, opts: PruneOptions) -> bool:
    """Whether ``strategy`` with ``opts`` reads the mislabel estimate."""
    return first_dropped(strategy, opts) == FLAGGED


@dataclass(frozen=True)
class Pruned:
    """What :func:`prune` stored, with what a summary of it needs."""

    selection: Selection
    score: ScoreValues  # the score pruned by
    labels: np.ndarray
    classes: list[str]
    noisy: np.ndarray | None
    out: Path | None
    fit: MislabelFit | None  # the flags, when the strategy read them

    @property
    def flagged(self) -> int | None:
        """Samples flagged as mislabelled, when the strategy read the flags."""
        return None if self.fit is None else int(self.fit.flagged.sum())

    @property
    def kept(self) -> np.ndarray:
        mask = np.zeros(len(self.labels), dtype=bool)
        mask[self.selection.indices] = True
        return mask


def check_options(strategy: str, given: set[str]) -> None:
    """Refuse options (:class:`PruneOptions` fields, by name) that ``strategy`` does not read:
    each strategy declares its own at registration (``options=``); ``seed`` is everyone's."""
    reads = set(STRATEGIES.entry(strategy).meta.get("options", ())) | {"seed"}
    for name in sorted(given - reads):
        owners = [e.name for e in STRATEGIES if name in e.meta.get("options", ())]
        raise CuratorError(f"{name} is an option of strategy {' or '.join(owners) or 'none'}, "
                           f"and strategy is {strategy}", param=name,
                           hint=f"choose strategy {owners[0]}, or leave {name} out"
                           if owners else f"leave {name} out")


def resolve_keep(strategy: str, keep: str | float | int | None) -> str | float | int:
    """``keep`` as given; without one, every sample where ``strategy`` declares ``keep_all``
    (it keeps what it does not drop), and an error naming ``keep`` for the others."""
    if keep is not None:
        return keep
    if STRATEGIES.entry(strategy).meta.get("keep_all"):
        return "1"
    keeps_all = [e.name for e in STRATEGIES if e.meta.get("keep_all")]
    raise CuratorError(f"keep is required with strategy {strategy}", param="keep",
                       hint="e.g. keep 0.7 keeps 70%" + (f"; strategy {' or '.join(keeps_all)} "
                                                         "keeps every sample it does not drop "
                                                         "without it" if keeps_all else ""))


def prune(path: str | Path, *, keep: str | float | int | None = None,
          by: str = "learnability",
          strategy: str = DEFAULT_STRATEGY, class_balanced: bool = False,
          name: str | None = None, force: bool = False, out: str | Path | None = None,
          opts: PruneOptions = PruneOptions()) -> Pruned:
    """Choose the samples to keep from the scores in ``path`` (:func:`plan_selection`) and
    store the selection there; with ``out``, also write the kept indices (``.npy``,
    ``.txt`` or ``.csv``). ``keep`` is a fraction in (0, 1] or a count; ``None`` only for
    a strategy that keeps every sample it does not drop (:func:`resolve_keep`)."""
    keep = resolve_keep(strategy, keep)
    out = None if out is None else Path(out)
    if out is not None and out.suffix not in (".npy", ".txt", ".csv"):
        raise CuratorError(f"out {str(out)!r} must end in .npy, .txt or .csv", param="out")
    with open_scores(path) as f:
        if not f.score_names():
            raise FormatError(f"{str(path)!r} has no scores yet",
                              hint="finish the reference run with `curator score --resume`")
        s = f.score(by)
        if s.params.get("ordering") is False:
            raise CuratorError(f"score {by!r} does not order the samples ({s.description})",
                               hint="prune by learnability (the default) or another score: "
                                    "`curator scores list`", param="by")
        labels, noisy = f.labels, f.noisy
        classes = list(f.data_spec.get("classes") or [])
        existing = f.selection_names()
        mislabel = file_mislabel(f) if needs_flags(strategy, opts) else None
    count = parse_keep(keep, len(s.values))
    name = name or default_name(strategy, by, keep, class_balanced)
    if name in existing and not force:
        raise CuratorError(f"{str(path)!r} already has a selection {name!r}",
                           hint="pass force to replace it, or choose another name",
                           param="force")
    plan = plan_selection(s.ease, count, strategy=strategy, labels=labels,
                          class_balanced=class_balanced, mislabel=mislabel, opts=opts)
    selection = Selection(name, plan.indices, strategy, by, float(keep), class_balanced,
                          opts.seed, plan.params)
    # the index file is written beside, the selection stored, then the file moved in place:
    # nothing is printed in between, so a closed pipe cannot leave one without the other
    tmp = None if out is None else out.with_name(f".new-{out.name}")
    try:
        if tmp is not None:
            store.export_indices(plan.indices, tmp)
        write_selection(path, selection)
        if tmp is not None and out is not None:
            os.replace(tmp, out)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    n_classes = int(labels.max()) + 1
    return Pruned(selection, s, labels, classes if len(classes) == n_classes
                  else [str(c) for c in range(n_classes)], noisy, out, mislabel)


def default_name(strategy: str, by: str, keep: str | float | int, balanced: bool) -> str:
    return f"{strategy}-{by}-{keep}" + ("-balanced" if balanced else "")


def write_selection(path: str | Path, sel: Selection) -> None:
    with store.writer_lock(path):
        _write_selection(path, sel)


def _write_selection(path: str | Path, sel: Selection) -> None:
    store.write_selection(path, sel.name, sel.indices, {
        "keep": sel.keep, "strategy": sel.strategy, "score": sel.score, "seed": sel.seed,
        "class_balanced": sel.class_balanced, "params": json.dumps(sel.params, sort_keys=True)})


def subset(dataset: Any, scores: str | Path, name: str) -> Any:
    """``torch.utils.data.Subset`` of ``dataset`` (the training split the scores were made
    on, in the same order) holding the samples of selection ``name``."""
    from torch.utils.data import Subset

    with open_scores(scores) as f:
        indices = f.selection(name)
        n = f.num_samples
    if len(dataset) != n:  # type: ignore[arg-type]
        raise CuratorError(f"the data set has {len(dataset)} samples, but {str(scores)!r} "  # type: ignore[arg-type]
                           f"was scored on {n}",
                           hint="pass the training split the scores were computed on")
    return Subset(dataset, indices.tolist())
