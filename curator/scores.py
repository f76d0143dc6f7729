"""Scores computed from recorded trajectories, registered by name.

A *per-sample* score reduces the (R runs, T epochs, B samples) block of the statistics it
needs to (B,) values; the engine reads the file in column blocks so memory stays bounded by
``R * T * block`` values of one statistic, whatever N. A *derived* score is computed from
another score's (N,) values (e.g. the rank of Eq. 2); one that fits a model to them returns
``(values, params)``, and the params are stored with the score.

docs/scores.md states each formula and its source (papers by title and arXiv id).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from curator.errors import CuratorError, FormatError
from curator.flags import (
    DEFAULT_BY,
    SCALE_NAMES,
    SUGGEST_AT,
    MislabelFit,
    SeparationWindow,
    during_epochs,
    early_window,
    estimate_mislabelled,
    first_epoch_share,
    found,
    may_shorten_window,
    noise_share,
    separation_window,
    window_candidates,
    window_evidence,
    window_sample_count,
)
from curator.registry import Entry, Registry
from curator.store import (
    CHUNK_SAMPLES,
    ScoresFile,
    ScoreValues,
    open_scores,
    write_scores,
    writer_lock,
)

SCORES: Registry[Callable[..., np.ndarray]] = Registry("score")
BLOCK_BYTES = 256 << 20  # at most this much of one statistic is read at once


def rank_easiest_first(values: np.ndarray) -> np.ndarray:
    """Eq. 2 of seed 001: R_i = sum_j 1[L(i) <= L(j)], so rank 1 is the easiest.

    Tied samples all get the largest rank of their group (the number of samples at least as
    easy). O(N log N), vectorised.
    """
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise CuratorError("cannot rank scores that contain NaN")
    ascending = np.sort(values)
    below = np.searchsorted(ascending, values, side="left")  # #{j : L(j) < L(i)}
    return (len(values) - below).astype(np.int64)


# --------------------------------------------------------------------------------------
# Registered scores. Per-sample functions take (R, T, B) arrays of the statistics named in
# ``needs`` (in that order) and the options named in ``options``; they return (B,) values.
# --------------------------------------------------------------------------------------

REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")
AMBIGUOUS_VARIABILITY = 0.2  # cartography: variability at or above this is "ambiguous"
HARD_CONFIDENCE = 0.5  # cartography: below this confidence (and not ambiguous) is "hard"


def per_sample(name: str, *, needs: tuple[str, ...], higher_is: str, description: str,
               options: tuple[str, ...] = (), runs: str = "reference",
               scale: str | None = None, dtype: str = "float64", ordering: bool = True,
               part: int | None = None
               ) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Register a per-sample score computed from the runs of kind ``runs``. ``scale``:
    "probability" (of the label, in [0, 1]) or "margin" (a logit difference, 0 where the
    model is undecided) for a score the mislabel estimate can run on (``curator flag
    --by``: :func:`scale_of`); None for the others. ``dtype``: of the values (``int32`` for a
    class index); ``ordering=False`` for values that do not order the samples (a class
    index): stored as ``params["ordering"] = false``, and pruning and the samplers refuse
    them. ``part=k``: the function returns a tuple that gives several scores, this one its
    k-th element; registered under each name, it runs once per block for all of them."""
    if scale is not None and scale not in SCALE_NAMES:
        raise ValueError(f"scale of score {name!r} must be one of {SCALE_NAMES}")
    return SCORES.register(name, kind="per_sample", needs=needs, higher_is=higher_is,
                           description=description, options=options, runs=runs, scale=scale,
                           dtype=dtype, ordering=ordering, part=part)


def scale_of(name: str) -> str:
    """The scale a registered score declared (:func:`per_sample`); a clear error for a score
    the mislabel estimate cannot run on."""
    entry = SCORES.entry(name) if name in SCORES else None
    if entry is None or not entry.meta.get("scale"):
        scalable = [e.name for e in SCORES if e.meta.get("scale")]
        raise CuratorError(f"by {name!r} is not a score mislabels can be estimated from: the "
                           "estimate needs a probability of the label or a margin",
                           hint=f"use {DEFAULT_BY} (the default) or one of "
                                f"{', '.join(scalable)}", param="by")
    return str(entry.meta["scale"])


def derived(name: str, *, sources: tuple[str, ...], higher_is: str, description: str,
            **meta: object) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    return SCORES.register(name, kind="derived", sources=sources, higher_is=higher_is,
                           description=description, **meta)


@per_sample("learnability", needs=("p_true",), higher_is="easier",
            description="mean probability of the given label over epochs and runs "
                        "(seed 001, Eq. 1)",
            scale="probability")
def learnability(p_true: np.ndarray) -> np.ndarray:
    """L(i) = mean over runs of (1/T) sum_t p_t(i)."""
    return p_true.mean(axis=1, dtype=np.float64).mean(axis=0)


@derived("learnability_rank", sources=("learnability",), higher_is="harder",
         description="rank of learnability, 1 = easiest, ties share the largest rank "
                     "(seed 001, Eq. 2)")
def learnability_rank(values: np.ndarray) -> np.ndarray:
    return rank_easiest_first(values)


@per_sample("hit_rate", needs=("correct",), higher_is="easier",
            description="fraction of epochs (and runs) in which the sample was predicted "
                        "correctly (seed 001's hits and misses)",
            scale="probability")
def hit_rate(correct: np.ndarray) -> np.ndarray:
    return correct.mean(axis=(0, 1), dtype=np.float64)


def _forgetting_events(correct: np.ndarray) -> np.ndarray:
    """(R, T, B) -> (R, B): correct-to-incorrect transitions; never correct = T."""
    c = correct.astype(bool)
    events = (c[:, :-1] & ~c[:, 1:]).sum(axis=1)
    never = ~c.any(axis=1)
    return np.where(never, c.shape[1], events)


@per_sample("forgetting", needs=("correct",), higher_is="harder",
            description="forgetting events: correct-to-incorrect transitions between "
                        "consecutive epochs, never learned = T, mean over runs (Toneva 2019)")
def forgetting(correct: np.ndarray) -> np.ndarray:
    return _forgetting_events(correct).mean(axis=0, dtype=np.float64)


@per_sample("unforgettable", needs=("correct",), higher_is="easier",
            description="1 if learned and never forgotten in every run, else 0 "
                        "(Toneva 2019)")
def unforgettable(correct: np.ndarray) -> np.ndarray:
    return (_forgetting_events(correct) == 0).all(axis=0).astype(np.float64)


@per_sample("iteration_learned", needs=("correct",), higher_is="harder",
            description="first epoch (0-based) from which the sample stays correct to the "
                        "end, never learned = T, mean over runs (Baldock 2021)")
def iteration_learned(correct: np.ndarray) -> np.ndarray:
    c = correct.astype(bool)
    t = c.shape[1]
    # stays[t] = correct at t and at every later epoch: reversed cumulative AND
    stays = np.flip(np.logical_and.accumulate(np.flip(c, axis=1), axis=1), axis=1)
    first = np.where(stays.any(axis=1), stays.argmax(axis=1), t)
    return first.mean(axis=0, dtype=np.float64)


@per_sample("aum", needs=("margin",), higher_is="easier",
            description="area under the margin: mean over epochs and runs of z_y - "
                        "max_{j != y} z_j (Pleiss 2020); negative flags likely mislabels",
            scale="margin")
def aum(margin: np.ndarray) -> np.ndarray:
    return margin.astype(np.float64).mean(axis=(0, 1))


@per_sample("el2n", needs=("el2n",), higher_is="harder", options=("el2n_epoch",),
            description="EL2N ||softmax - onehot||_2 at one early epoch, mean over runs "
                        "(Paul 2021)")
def el2n(values: np.ndarray, *, el2n_epoch: int) -> np.ndarray:
    return values[:, el2n_epoch - 1].astype(np.float64).mean(axis=0)


@per_sample("confidence", needs=("p_true",), higher_is="easier",
            description="cartography confidence: mean p_true over epochs and runs "
                        "(Swayamdipta 2020; equals learnability)",
            scale="probability")
def confidence(p_true: np.ndarray) -> np.ndarray:
    return learnability(p_true)


@per_sample("variability", needs=("p_true",), higher_is="harder",
            description="cartography variability: std of p_true over epochs, mean over "
                        "runs (Swayamdipta 2020)")
def variability(p_true: np.ndarray) -> np.ndarray:
    return p_true.astype(np.float64).std(axis=1).mean(axis=0)


@per_sample("correctness", needs=("correct",), higher_is="easier",
            description="cartography correctness: fraction of epochs correct, mean over "
                        "runs (Swayamdipta 2020; equals hit_rate)",
            scale="probability")
def correctness(correct: np.ndarray) -> np.ndarray:
    return hit_rate(correct)


@derived("cartography_region", sources=("confidence", "variability"), higher_is="harder",
         labels=REGIONS,
         description=f"0 easy-to-learn, 1 ambiguous (variability >= {AMBIGUOUS_VARIABILITY}), "
                     f"2 hard-to-learn (confidence < {HARD_CONFIDENCE}, not ambiguous)")
def cartography_region(conf: np.ndarray, var: np.ndarray) -> np.ndarray:
    region = np.where(conf < HARD_CONFIDENCE, 2, 0)
    return np.where(var >= AMBIGUOUS_VARIABILITY, 1, region).astype(np.int64)


@per_sample("easiness", needs=("correct",), higher_is="easier", options=("easy_epochs",),
            description="fraction of the first k epochs in which the sample is correct, mean "
                        "over runs (seed 003's easy examples)",
            scale="probability")
def easiness(correct: np.ndarray, *, easy_epochs: int) -> np.ndarray:
    return correct[:, :easy_epochs].mean(axis=(0, 1), dtype=np.float64)


@per_sample("early_learnability", needs=("p_true",), higher_is="easier",
            options=("early_epochs",),
            description="mean probability of the given label over the epochs up to the best "
                        "test accuracy (before memorising), mean over runs",
            scale="probability")
def early_learnability(p_true: np.ndarray, *, early_epochs: int) -> np.ndarray:
    return p_true[:, :early_epochs].mean(axis=(0, 1), dtype=np.float64)


@per_sample("early_hit_rate", needs=("correct",), higher_is="easier",
            options=("early_epochs",),
            description="fraction of the epochs up to the best test accuracy in which the "
                        "sample is predicted as its label, mean over runs")
def early_hit_rate(correct: np.ndarray, *, early_epochs: int) -> np.ndarray:
    return correct[:, :early_epochs].mean(axis=(0, 1), dtype=np.float64)


@per_sample("early_aum", needs=("margin",), higher_is="easier", options=("early_epochs",),
            description="area under the margin z_y - max_{j != y} z_j over the epochs up to "
                        "the best test accuracy (before memorising), mean over runs",
            scale="margin")
def early_aum(margin: np.ndarray, *, early_epochs: int) -> np.ndarray:
    return margin[:, :early_epochs].mean(axis=(0, 1), dtype=np.float64)


@per_sample("early_rival", needs=("p_true", "margin"), higher_is="harder",
            options=("early_epochs",),
            description="mean probability of the most likely other class (the rival) over "
                        "the epochs up to the best test accuracy (before memorising), mean "
                        "over runs: p_y exp(-margin) each epoch")
def early_rival(p_true: np.ndarray, margin: np.ndarray, *, early_epochs: int) -> np.ndarray:
    return rival_probability(p_true[:, :early_epochs], margin[:, :early_epochs]
                             ).mean(axis=(0, 1))


def rival_probability(p_true: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """The probability of the most likely other class, per (run, epoch, sample), float64
    (NaN where ``p_true`` is): softmax_j / softmax_y = exp(z_j - z_y), so it is
    p_y exp(-margin) exactly."""
    m = np.clip(margin.astype(np.float64), -700, 700)
    return np.clip(p_true.astype(np.float64) * np.exp(-m), 0.0, 1.0)


def suggestion(p_true: np.ndarray, margin: np.ndarray, rival: np.ndarray, *,
               early_epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """(the suggested class or -1, its confidence or 0) of each sample: over the early window's
    (run, epoch) pairs, the rival class (the most likely other class) with the largest summed
    probability p_y exp(-margin); its confidence that sum over the pairs where the sample was
    presented — the class's mean probability before memorising, counted 0 in the pairs where
    another class was the rival, so a lower bound. A class is suggested only where its
    confidence is at least :data:`curator.flags.SUGGEST_AT` and above the given label's mean
    probability over the same pairs: the early model preferred it.

    Each sample's K = runs x early epochs pairs are sorted by class and summed class by class
    (a running sum that restarts at each class): O(K log K) per sample, without a (C, B)
    array for C classes. Comparing every pair with every other, O(K^2), took 253 s for 1.28
    million samples with K = 3 runs x 55 epochs; this takes 38 s, reading included
    (benchmarks/RESULTS.md, "Suggested labels at scale")."""
    p = p_true[:, :early_epochs].astype(np.float64)
    b = p.shape[-1]
    seen = ~np.isnan(p)
    k = np.maximum(seen.sum(axis=(0, 1)), 1)
    given = np.where(seen, np.nan_to_num(p), 0.0).sum(axis=(0, 1)) / k
    value = np.where(seen, np.nan_to_num(rival_probability(
        p, np.nan_to_num(margin[:, :early_epochs].astype(np.float64)))), 0.0).reshape(-1, b).T
    del p, seen
    classes = rival[:, :early_epochs].reshape(-1, b).T  # (B, K): a sample's pairs in a row
    order = np.argsort(classes, axis=1, kind="stable")
    classes = np.take_along_axis(classes, order, axis=1)
    value = np.take_along_axis(value, order, axis=1)
    del order
    total = value.cumsum(axis=1)
    start = np.ones(classes.shape, dtype=bool)  # where a class's pairs begin
    start[:, 1:] = classes[:, 1:] != classes[:, :-1]
    first = np.maximum.accumulate(np.where(start, np.arange(classes.shape[1]), 0), axis=1)
    total -= np.take_along_axis(total - value, first, axis=1)  # the sum within the class so far
    at = total.argmax(axis=1)[:, None]  # a class's last pair holds its whole sum (values >= 0)
    best = np.take_along_axis(classes, at, axis=1)[:, 0].astype(np.int64)
    confidence = np.take_along_axis(total, at, axis=1)[:, 0] / k
    label = np.where((confidence > given) & (confidence >= SUGGEST_AT), best, -1)
    return label, np.where(label >= 0, confidence, 0.0)


# one computation, two scores: the engine calls it once per block (``part``)
per_sample("suggested_label", needs=("p_true", "margin", "rival"), higher_is="harder",
           options=("early_epochs",), dtype="int32", ordering=False, part=0,
           description="the class the sample most likely belongs to if its label is wrong "
                       "(-1: none): the other class with the largest mean probability over "
                       "the epochs up to the best test accuracy, where that is at least "
                       f"{SUGGEST_AT} and above the given label's (a class index, not an "
                       "ordering)")(suggestion)
per_sample("suggestion_confidence", needs=("p_true", "margin", "rival"), higher_is="easier",
           options=("early_epochs",), part=1,
           description="the suggested class's mean probability over the epochs up to the "
                       "best test accuracy (a lower bound: 0 in the epochs where another "
                       "class was the most likely other one); 0 where none is suggested"
           )(suggestion)


@derived("mislabel_probability", sources=("early_aum", "early_learnability", "early_rival"),
         higher_is="harder", context=("share", "labels", "window"),
         description="probability that the label is wrong: where some class's margins before "
                     "memorising hold a separate component the model rejects (Ashman's D >= "
                     "2), the smaller posterior of the low components of two mixtures (per "
                     "class on early_aum, over all samples on logit(early_learnability)) for "
                     "samples with early_aum < 0, in contested classes (the model narrowed "
                     "them down to the label and one rival) the rival's share of the two; "
                     "elsewhere the rival's probability "
                     "(early_rival) of the samples the model confidently takes for another "
                     "class that are outliers of their class's margins; else 0 "
                     "(docs/flags.md)")
def mislabel_probability(early_aum: np.ndarray, early: np.ndarray, rival: np.ndarray, *,
                         share: tuple[float | None, str], labels: np.ndarray | None,
                         window: SeparationWindow | None = None
                         ) -> tuple[np.ndarray, dict[str, object]]:
    """The probabilities, and the fit as the score's params (``curator flag`` reads them back
    instead of fitting again). ``share``: :func:`reference_noise_share` and its source;
    ``labels``: the given labels (None: the margin's mixture too is one over all samples);
    ``window``: how the early window the sources read was chosen (:func:`memorising_window`),
    kept with the fit."""
    fit = estimate_mislabelled(early_aum, early, labels, early_rival=rival, share=share[0],
                               share_from=share[1])
    return fit.probability, replace(fit, window=window).params


@per_sample("heldout_learnability", needs=("p_true",), higher_is="easier", runs="holdout",
            description="mean probability of the label when the sample is held out of "
                        "training, over epochs and seeds (C-score proxy; seed 004)",
            scale="probability")
def heldout_learnability(p_true: np.ndarray) -> np.ndarray:
    """Holdout runs record only their held-out fold (NaN elsewhere): average what is there."""
    return _mean_recorded(p_true)


@per_sample("heldout_loss", needs=("loss",), higher_is="harder", runs="holdout",
            description="mean cross-entropy of the label when the sample is held out of "
                        "training (generalisation error; seed 004)")
def heldout_loss(loss: np.ndarray) -> np.ndarray:
    return _mean_recorded(loss)


def _mean_recorded(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.float64)
    seen = ~np.isnan(v)
    count = seen.sum(axis=(0, 1))
    if (count == 0).any():
        raise FormatError(f"{int((count == 0).sum())} samples were never held out")
    return np.where(seen, v, 0.0).sum(axis=(0, 1)) / count


def default_options(num_epochs: int, test_acc: np.ndarray | None = None,
                    test_samples: int | None = None, num_classes: int | None = None,
                    test_loss: np.ndarray | None = None) -> dict[str, int]:
    """EL2N at 10% of training (epoch 20 of 200, as Paul et al.), easiness over the first
    20% of the epochs (at least one each), early learnability up to the first epoch whose
    mean test accuracy is level with the best, before the test loss has clearly risen
    (``test_acc``, ``test_loss``: (R, T) of the runs, the accuracy measured on
    ``test_samples`` samples: :func:`curator.flags.early_window`; without the accuracy, the
    first 20%)."""
    return {"el2n_epoch": max(1, round(num_epochs / 10)),
            "easy_epochs": max(1, math.ceil(num_epochs / 5)),
            "early_epochs": early_window(test_acc, num_epochs, test_samples, num_classes,
                                         test_loss)}


def options_of(traj: Trajectories) -> dict[str, int]:
    """:func:`default_options` for these trajectories: their epochs, and the test accuracy
    and loss, test samples and classes where they record them (the early window of the test
    curves; :func:`compute_scores` shortens it where memorising eroded the evidence within
    it, :func:`memorising_window`)."""
    return default_options(traj.num_epochs, getattr(traj, "test_acc", None),
                           getattr(traj, "test_samples", None),
                           getattr(traj, "num_classes", None),
                           getattr(traj, "test_loss", None))


def memorising_window(traj: Trajectories, window: int) -> SeparationWindow:
    """:func:`curator.flags.separation_window` for these trajectories, whose test curves end
    the early window at ``window``: the early scores of each window of
    :func:`curator.flags.window_candidates`, on :func:`curator.flags.window_sample_count`
    samples (evenly strided, so that a data set stored class by class is sampled from every
    class), from one pass over ``p_true`` and ``margin`` in column blocks, and the evidence
    of each (:func:`curator.flags.window_evidence`). Without the given labels, those
    statistics or a window of two epochs, the window stays. Made once per trajectories
    object (kept on it where it takes attributes): at ImageNet's size (1.28 million samples,
    3 runs x 90 epochs, 1,000 classes, 10% wrong labels) it takes 78 s, the pass and 16
    windows' evidence (benchmarks/RESULTS.md, "The check of the early window at ImageNet
    size"), so :func:`compute_scores` asks only where the window of the curves holds the
    evidence."""
    cached = getattr(traj, "_memorising_window", None)
    if isinstance(cached, SeparationWindow) and cached.of == window:
        return cached
    choice = _memorising_window(traj, window)
    with contextlib.suppress(AttributeError):  # one that takes none: made again next time
        traj._memorising_window = choice  # type: ignore[attr-defined]
    return choice


def _reads_window(entry: Entry) -> bool:
    """Whether a score reads the early window, itself or through its sources."""
    if "early_epochs" in (entry.meta.get("options") or ()):
        return True
    return any(_reads_window(SCORES.entry(s)) for s in entry.meta.get("sources", ()))


def _memorising_window(traj: Trajectories, window: int) -> SeparationWindow:
    labels = getattr(traj, "labels", None)
    if (window < 2 or labels is None or not {"p_true", "margin"} <= traj.recorded
            or len(np.unique(labels)) < 2):
        return SeparationWindow(window, window)
    n = traj.num_samples
    count = window_sample_count(n, len(np.unique(labels)))
    at = np.unique(np.linspace(0, n - 1, count).round().astype(np.int64))
    ks = window_candidates(window)
    aum, prob, rival = (np.empty((len(ks), len(at)), np.float32) for _ in range(3))
    block = max(1, BLOCK_BYTES // (4 * max(1, len(traj.runs)) * max(1, traj.num_epochs) * 2))
    done = 0
    for start in range(0, n, block):
        stop = min(n, start + block)
        cols = at[(at >= start) & (at < stop)] - start
        if not len(cols):
            continue
        p = traj.read("p_true", start, stop)[:, :window, cols]
        m = traj.read("margin", start, stop)[:, :window, cols]
        for i, k in enumerate(ks):
            aum[i, done:done + len(cols)] = early_aum(m, early_epochs=int(k))
            prob[i, done:done + len(cols)] = early_learnability(p, early_epochs=int(k))
            rival[i, done:done + len(cols)] = early_rival(p, m, early_epochs=int(k))
        done += len(cols)
    y = np.asarray(labels)[at]
    last = len(ks) - 1  # the window of the curves: its evidence first, the rest only if some
    here = window_evidence(aum[last], prob[last], rival[last], y)
    if not found(here):
        return SeparationWindow(window, window)
    separations = [(int(k), window_evidence(aum[i], prob[i], rival[i], y)) for i, k in
                   enumerate(ks[:-1])] + [(window, here)]
    return separation_window(separations, window)


# --------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------


class Trajectories(Protocol):
    """Recorded statistics of R runs: ``read(stat, start, stop)`` -> (R, T, stop - start)."""

    runs: tuple[str, ...]
    num_samples: int
    num_epochs: int

    @property
    def recorded(self) -> frozenset[str]: ...  # the statistics read() can read

    def read(self, stat: str, start: int, stop: int) -> np.ndarray: ...


@dataclass
class ArrayTrajectories:
    """In-memory trajectories: ``stats[name]`` has shape (R, T, N); ``test_acc`` and
    ``test_loss`` (R, T), when given, are each run's test accuracy and loss per epoch, and
    ``train_acc`` its accuracy during the training pass (default: the mean of
    ``stats["correct"]``)."""

    stats: Mapping[str, np.ndarray]
    runs: tuple[str, ...] = ()
    test_acc: np.ndarray | None = None
    num_classes: int = 0  # 0: unknown
    train_acc: np.ndarray | None = None  # (R, T); None: the mean of stats["correct"]
    labels: np.ndarray | None = None  # (N,) the given labels; None: unknown
    first_epoch: np.ndarray | None = None  # (R, K, 5) first-epoch checks; None: not made
    test_samples: int | None = None  # the test samples behind test_acc; None: unknown
    test_loss: np.ndarray | None = None  # (R, T); None (or NaN): not measured

    def __post_init__(self) -> None:
        shapes = {np.shape(v) for v in self.stats.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3:
            raise ValueError(f"every statistic must have one (R, T, N) shape, got {shapes}")
        r, t, n = next(iter(shapes))
        self.num_epochs, self.num_samples = t, n
        if not self.runs:
            self.runs = tuple(f"run-{i}" for i in range(r))

    @property
    def recorded(self) -> frozenset[str]:
        return frozenset(self.stats)

    def read(self, stat: str, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.stats[stat])[:, :, start:stop]


class FileTrajectories:
    """The complete runs of one kind (``reference`` or ``holdout``) of a scores file, all with
    the same number of epochs."""

    def __init__(self, scores: ScoresFile, runs: Sequence[str] | None = None, *,
                 kind: str = "reference") -> None:
        complete = [r for r in scores.runs() if r.complete and r.stats and r.kind == kind]
        if runs is not None:
            complete = [r for r in complete if r.name in set(runs)]
        if not complete:
            raise FormatError(f"{str(scores.path)!r} has no complete {kind} run with recorded "
                              "statistics", hint="finish the runs with `curator score --resume`"
                              if kind == "reference" else "score with --holdout K")
        epochs = {r.epochs_done for r in complete}
        if len(epochs) != 1:
            raise FormatError(f"the runs of {str(scores.path)!r} have different epoch counts "
                              f"{sorted(epochs)}; scores average over runs of equal length")
        self.file = scores
        self.runs = tuple(r.name for r in complete)
        # the statistics every run records (``rival`` since format 0.2.0)
        self.recorded = frozenset.intersection(*(frozenset(r.stats) for r in complete))
        self.num_epochs = epochs.pop()
        self.num_samples = scores.num_samples
        history = [scores.history(r) for r in self.runs]
        self.test_acc = np.stack([h["test_acc"][:self.num_epochs] for h in history])
        self.test_loss = np.stack([h["test_loss"][:self.num_epochs] for h in history])
        self.train_acc = np.stack([h["train_acc"][:self.num_epochs] for h in history])
        self.num_classes = scores.num_classes
        self.test_samples = scores.test_samples  # behind test_acc; None: not known

    @functools.cached_property
    def labels(self) -> np.ndarray:
        """The given labels, read when a score first needs them."""
        return self.file.labels

    @functools.cached_property
    def first_epoch(self) -> np.ndarray | None:
        """(R, K, 5) the runs' first-epoch checks; None unless every run has them with the
        same K (runs recorded in the user's own loop have none unless it called
        ``Recorder.check``)."""
        rows = [self.file.first_epoch(r) for r in self.runs]
        if any(r is None for r in rows) or len({r.shape for r in rows}) != 1:  # type: ignore[union-attr]
            return None
        return np.stack(rows)  # type: ignore[arg-type]

    def read(self, stat: str, start: int, stop: int) -> np.ndarray:
        return np.stack([self.file.read_stat(r, stat, start, stop) for r in self.runs])

    @classmethod
    def holdout_of(cls, scores: ScoresFile) -> FileTrajectories | None:
        """The file's complete holdout runs, or None when it has none."""
        if not any(r.kind == "holdout" and r.complete for r in scores.runs()):
            return None
        return cls(scores, kind="holdout")


def compute_scores(traj: Trajectories, names: Sequence[str] | None = None, *,
                   options: Mapping[str, int | None] | None = None,
                   holdout: Trajectories | None = None) -> dict[str, ScoreValues]:
    """Compute the named scores from ``traj`` (the reference runs) and, for held-out scores,
    ``holdout`` (the holdout runs). Default: every registered score whose runs are there.

    ``options`` may set ``el2n_epoch`` (1-based), ``easy_epochs`` and ``early_epochs``; unset
    ones take :func:`default_options`. An unset early window is the test curves', shortened
    where the default mislabel estimate over it finds wrong labels whose separation memorising
    eroded (:func:`memorising_window`): a score that reads the window is computed over the one
    the estimate reads, whether or not the estimate is asked for.
    """
    sources = {"reference": traj, "holdout": holdout}
    if names is None:  # every score the runs can give
        names = [e.name for e in SCORES if _can_compute(e, sources)]
    entries = _with_sources([SCORES.entry(n) for n in names])
    asked = {e.name for e in entries}  # what the answer holds
    chosen = (options or {}).get("early_epochs") is None  # the window is the estimate's
    if (chosen and "mislabel_probability" not in asked
            and any(_reads_window(e) for e in entries)
            and _can_compute(SCORES.entry("mislabel_probability"), sources)):
        # the window is the estimate's to choose: made for it, left out of the answer
        entries = _with_sources([*entries, SCORES.entry("mislabel_probability")])
    for e in entries:
        if e.meta["kind"] != "per_sample":
            continue
        source = sources[e.meta["runs"]]
        if source is None:
            raise CuratorError(f"score {e.name!r} needs {e.meta['runs']} runs, and there are "
                               "none", hint="score with --holdout K")
        missing = [s for s in e.meta["needs"] if s not in source.recorded]
        if missing:
            raise FormatError(f"score {e.name!r} needs the statistic {missing[0]!r}, which "
                              f"the {e.meta['runs']} runs do not record",
                              hint="files of format 0.1.0 have no 'rival' (the suggested "
                                   "labels need it): record the runs again with this curator")
    opts = options_of(traj)
    opts.update({k: v for k, v in (options or {}).items() if v is not None})
    for key, value in opts.items():
        if not 1 <= value <= traj.num_epochs:
            raise CuratorError(f"{key} must be in 1..{traj.num_epochs} (the recorded epochs), "
                               f"but got {value}")
    values: dict[str, np.ndarray] = {}
    fitted: dict[str, dict[str, object]] = {}  # params a derived score returned with its values
    for kind, source in sources.items():
        per = [e for e in entries if e.meta["kind"] == "per_sample" and e.meta["runs"] == kind]
        if per and source is not None:
            values.update(_per_sample(source, per, opts))
    # derived scores (ranks, regions) are computed from the values as stored, so that a
    # reader recomputing them from the file gets the file's own answer, ties included
    values = {k: as_stored(v) for k, v in values.items()}
    # what a derived score may ask for besides its sources, made only when one asks
    context = {"share": lambda: reference_noise_share(traj, opts["early_epochs"]),
               "labels": lambda: getattr(traj, "labels", None),
               "window": lambda: SeparationWindow(opts["early_epochs"], opts["early_epochs"])
               if chosen else None}
    for e in entries:
        if e.meta["kind"] == "derived":
            extra = {k: context[k]() for k in e.meta.get("context", ())}
            result = e.fn(*(values[s] for s in e.meta["sources"]), **extra)
            if isinstance(result, tuple):  # (values, params of how they were made)
                result, fitted[e.name] = result
            values[e.name] = as_stored(result)
    made = fitted.get("mislabel_probability")
    fit = None if made is None else MislabelFit.from_stored(values["mislabel_probability"], made)
    if chosen and fit is not None and may_shorten_window(fit):
        window = memorising_window(traj, opts["early_epochs"])
        if window.epochs != opts["early_epochs"]:  # the early scores over the shorter window
            again = compute_scores(traj, [e.name for e in entries if _reads_window(e)],
                                   options={**(options or {}), "early_epochs": window.epochs},
                                   holdout=holdout)
            # kept only where the estimate over it finds wrong labels too, so that the check
            # never turns flags into none (a 1,000-class file's did: benchmarks/RESULTS.md,
            # "The check of the early window at ImageNet size")
            shorter = again["mislabel_probability"]
            refit = MislabelFit.from_stored(shorter.values, shorter.params)
            if refit is not None and refit.noise_found:
                opts["early_epochs"] = window.epochs
                for name, score in again.items():
                    values[name] = np.asarray(score.values)
                    fitted[name] = dict(score.params)
            else:  # the estimate over it finds none: the window of the curves stays
                window = SeparationWindow(opts["early_epochs"], opts["early_epochs"])
        fitted["mislabel_probability"]["window"] = window.params
    out = {}
    for e in entries:
        if e.name not in asked:
            continue  # made only to choose the window
        params = {k: opts[k] for k in e.meta.get("options", ())} | fitted.get(e.name, {})
        if "labels" in e.meta:
            params["labels"] = list(e.meta["labels"])
        if e.meta.get("ordering") is False:
            params["ordering"] = False
        runs = sources[e.meta.get("runs", "reference")] or traj
        out[e.name] = ScoreValues(values[e.name], e.meta["higher_is"], e.meta["description"],
                                  runs.runs, params)
    return out


def reference_noise_share(traj: Trajectories, epochs: int) -> tuple[float | None, str]:
    """The share of wrong labels the reference runs imply, and what gave it: the larger of
    the share from their first-epoch checks (``"first-epoch"``,
    :func:`curator.flags.first_epoch_share`) and the share from their training and test
    errors over the first ``epochs`` epochs (``"reference"``,
    :func:`curator.flags.noise_share`); the errors alone for runs without checks. Each
    under-counts for its own reasons — the errors where the model fits its clean training
    samples better than unseen ones, the checks where batch norm's running statistics lag
    the weights in the first epoch and the test accuracy is measured low —, so the larger is
    taken. None without a test split."""
    classes = int(getattr(traj, "num_classes", 0) or 0)
    errors = noise_share(*error_rates(traj, epochs), classes)
    checks = getattr(traj, "first_epoch", None)
    first = None if checks is None else first_epoch_share(checks, classes)
    if first is not None and (errors is None or first >= errors):
        return first, "first-epoch"
    return errors, "reference"


def error_rates(traj: Trajectories, epochs: int) -> tuple[float, float]:
    """The training error against the given labels and the test error that
    :func:`curator.flags.noise_share` compares, over the first ``epochs`` epochs but the
    first one (the first alone when ``epochs`` is 1); NaNs without a test split.

    An epoch's training hits are counted while the model trains, so they are compared with
    the model half an epoch earlier: the mean of the test errors after the epoch before and
    after this one. The errors after the epochs alone are lower while the model still
    improves fast, and made a short run on clean data look as if some labels were wrong. The
    first epoch is left out because the model changes most inside it (from chance to its
    first accuracy), where the mean of the two ends is furthest from what the training pass
    met."""
    acc = getattr(traj, "test_acc", None)
    if acc is None:
        return float("nan"), float("nan")
    acc = np.asarray(acc, dtype=np.float64)[:, :epochs]
    train = getattr(traj, "train_acc", None)
    if train is None:  # in-memory trajectories: from the recorded hits
        train = traj.read("correct", 0, traj.num_samples).mean(axis=2, dtype=np.float64)
    train = np.asarray(train, dtype=np.float64)[:, :epochs]
    if not acc.size or not np.isfinite(acc).all() or not np.isfinite(train).all():
        return float("nan"), float("nan")
    classes = max(2, int(getattr(traj, "num_classes", 0) or 2))
    during = during_epochs(1 - acc, 1 - 1 / classes)  # the test error the passes met
    first = 1 if acc.shape[1] > 1 else 0
    return float(1 - train[:, first:].mean()), float(during[:, first:].mean())


def heldout_error_rates(traj: Trajectories) -> tuple[float, float]:
    """The error on the held-out samples (against their given labels) and the test error of
    the same models, over the holdout runs' epochs (NaNs without a test split).

    A holdout run predicts its held-out fold and the test split after the same epoch, with
    a model that never trained on either: no generalisation gap and no memorising separates
    the two errors, only the wrong labels. Samples a run did not hold out are NaN in
    ``p_true``; the columns are read in blocks, so memory does not grow with N."""
    acc = getattr(traj, "test_acc", None)
    if acc is None or not np.isfinite(acc).all():
        return float("nan"), float("nan")
    runs, epochs = np.shape(acc)
    wrong = np.zeros((runs, epochs))
    held = np.zeros(runs)
    block = max(1, BLOCK_BYTES // (5 * max(1, runs * epochs)))
    for start in range(0, traj.num_samples, block):
        stop = min(traj.num_samples, start + block)
        mask = ~np.isnan(traj.read("p_true", start, stop)[:, 0])  # (R, B): held out
        correct = traj.read("correct", start, stop).astype(bool)
        wrong += (~correct & mask[:, None, :]).sum(axis=2)
        held += mask.sum(axis=1)
    if not held.all():
        return float("nan"), float("nan")
    return float((wrong / held[:, None]).mean()), float(1 - np.asarray(acc).mean())


def as_stored(values: np.ndarray) -> np.ndarray:
    """A score's values in the dtype the file stores: float32 for floats, as they are else."""
    values = np.asarray(values)
    return values.astype(np.float32) if values.dtype.kind == "f" else values


def _per_sample(traj: Trajectories, entries: list[Entry], opts: Mapping[str, int]
                ) -> dict[str, np.ndarray]:
    """Per-sample scores over column blocks of ``traj`` (bounded memory)."""
    stats = sorted({s for e in entries for s in e.meta["needs"]})
    n = traj.num_samples
    values = {e.name: np.empty(n, dtype=e.meta["dtype"]) for e in entries}
    per_sample_bytes = 4 * max(1, len(traj.runs)) * max(1, traj.num_epochs) * max(1, len(stats))
    block = max(1, BLOCK_BYTES // per_sample_bytes)
    if block >= CHUNK_SAMPLES:  # whole chunks of the file: each is decompressed once
        block -= block % CHUNK_SAMPLES
    for start in range(0, n, block):
        stop = min(n, start + block)
        cache = {s: traj.read(s, start, stop) for s in stats}
        made: dict[tuple[object, ...], tuple[np.ndarray, ...]] = {}  # shared computations
        for e in entries:
            kwargs = {k: opts[k] for k in e.meta["options"]}
            args = [cache[s] for s in e.meta["needs"]]
            part = e.meta.get("part")
            if part is None:
                values[e.name][start:stop] = e.fn(*args, **kwargs)
                continue
            key = (e.fn, e.meta["needs"], *sorted(kwargs.items()))
            if key not in made:
                made[key] = e.fn(*args, **kwargs)
            values[e.name][start:stop] = made[key][part]
    return values


def _can_compute(entry: Entry, sources: Mapping[str, Trajectories | None]) -> bool:
    """Whether the runs hold what ``entry`` (and, for a derived score, its sources) needs."""
    if entry.meta["kind"] == "derived":
        return all(_can_compute(SCORES.entry(s), sources) for s in entry.meta["sources"])
    source = sources[entry.meta.get("runs", "reference")]
    return source is not None and set(entry.meta["needs"]) <= source.recorded


def _with_sources(entries: list[Entry]) -> list[Entry]:
    """Add the sources of derived scores, keeping each entry once."""
    out: dict[str, Entry] = {}
    for e in entries:
        for src in e.meta.get("sources", ()):
            out.setdefault(src, SCORES.entry(src))
        out.setdefault(e.name, e)
    return list(out.values())


def rescore(path: str | Path, names: Sequence[str] | None = None, *,
            options: Mapping[str, int | None] | None = None) -> dict[str, ScoreValues]:
    """Recompute scores from the complete runs stored in ``path`` and write them back."""
    with open_scores(path) as f:
        scores = compute_scores(FileTrajectories(f), names, options=options,
                                holdout=FileTrajectories.holdout_of(f))
    with writer_lock(path):
        write_scores(path, scores)
    return scores
