"""Which labels are wrong: a threshold-free estimate from the training dynamics.

A model fits the clean samples of a class first and memorises the mislabelled ones later
(the "early learning" of noisy-label training). Before it memorises, a mislabelled sample
looks like another class: the model's logit for its label is below its logit for some other
class (a negative margin) and the probability of its label is low; after, both are high. So
the estimate reads the trajectories only up to the first epoch whose test accuracy is level
with the best (where memorising starts to cost accuracy, or stops gaining it; on clean data
that is late in training: :func:`early_window`) and asks two
questions of each sample (:func:`estimate_mislabelled`):

- within its class: is its mean margin over those epochs (``early_aum``, the area under the
  margin of Pleiss et al. 2020, "Identifying Mislabeled Data using the Area Under the Margin
  Ranking", arXiv:2001.10528, before memorising) in the low component of a two-component
  Gaussian mixture fitted to its class, as DivideMix fits one to the loss (Li et al. 2020,
  "DivideMix", arXiv:2002.07394) and confident learning sets a threshold per class?
- among all samples: is the logit of its mean probability of the label over those epochs
  (``early_learnability``) in the low component of a mixture fitted to all samples?

The prior of each low component is the share of wrong labels: the larger of the share the
first epoch's predictions imply, each made before the model trained on the sample, against
the test accuracy of the same steps (:func:`first_epoch_share`), and the share the training
and test errors before memorising imply (:func:`noise_share`; runs without first-epoch
checks have only this one). A mixture's low component is taken for
wrong labels *only if* the model, on average, rejects them (mean below 0), and only if that
share is above 0. A sample's probability of being mislabelled is the smaller of its two
posteriors; it is flagged when that is at least :data:`FLAG_AT`. Each question alone flags
clean samples the other keeps — an atypical member of an easy class, a member of a hard
class —; a wrong label fails both.

Everything here is a pure function of arrays: the CLI, ``curator prune``, ``curator bench``
and the benchmarks all call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from curator.errors import CuratorError

if TYPE_CHECKING:
    from curator.store import ScoresFile, ScoreValues

FLAG_AT = 0.5  # flagged: probability of being mislabelled at least this
FIT_SAMPLES = 200_000  # the mixture is fitted on at most this many samples (then applied to all)
MIN_CLASS = 50  # a class with fewer samples takes the mixture fitted to all the samples
CLIP = 1e-4  # probabilities are clipped to [CLIP, 1 - CLIP] before the logit
SHARE_Z = 2.0  # the first epoch's share counts when at least this many standard errors above 0
# the early window ends at the first epoch within this many standard errors of the best test
# accuracy: the one-standard-error rule of model selection, with the epochs as the complexity
WINDOW_Z = 1.0
# scores the mixture can run on, and how each is made comparable to the level 0 ("the model
# rejects the label"): probabilities of the label through the logit, margins as they are
SCALES = {"early_aum": "margin", "aum": "margin", "early_learnability": "probability",
          "learnability": "probability", "confidence": "probability",
          "heldout_learnability": "probability", "hit_rate": "probability",
          "correctness": "probability", "easiness": "probability"}
# the default estimate: the margin before memorising, one mixture per class, and the
# probability of the label before memorising, one mixture over all samples; a label is
# flagged only when both reject it (docs/flags.md)
DEFAULT_PARTS = (("early_aum", True), ("early_learnability", False))  # (score, per class)
DEFAULT_BY = "+".join(score for score, _ in DEFAULT_PARTS)


@dataclass(frozen=True)
class Mixture:
    """One fitted two-component mixture (or one per class) and whether it found wrong labels.
    ``means``, ``stds``, ``weights``: the mixture over all samples, on the score's scale,
    low component first (with ``per_class``, the classes' own mixtures are not kept)."""

    by: str  # the score it was fitted on
    means: tuple[float, float]
    stds: tuple[float, float]
    weights: tuple[float, float]
    noise_found: bool  # whether a low component was taken for wrong labels
    per_class: bool = False

    @property
    def params(self) -> dict[str, object]:
        return {"by": self.by, "means": list(self.means), "stds": list(self.stds),
                "weights": list(self.weights), "noise_found": self.noise_found,
                "per_class": self.per_class}

    @classmethod
    def from_params(cls, p: dict[str, object]) -> Mixture:
        return cls(str(p["by"]), tuple(float(v) for v in p["means"]),  # type: ignore[arg-type, attr-defined]
                   tuple(float(v) for v in p["stds"]),  # type: ignore[arg-type, attr-defined]
                   tuple(float(v) for v in p["weights"]),  # type: ignore[arg-type, attr-defined]
                   bool(p["noise_found"]), bool(p.get("per_class", False)))


@dataclass(frozen=True)
class MislabelFit:
    """The mixtures and what they say about every sample: a label's probability of being
    wrong is the smallest of the mixtures' posteriors, so it is flagged only when every
    mixture flags it."""

    probability: np.ndarray  # (N,) float32: probability that the label is wrong
    mixtures: tuple[Mixture, ...]
    share: float | None = None  # the share of wrong labels that was the prior, if known
    # what gave it: "first-epoch" (the reference runs' first-epoch checks), "reference"
    # (their errors before memorising) or "holdout" (the holdout runs' errors)
    share_from: str | None = None

    @property
    def by(self) -> str:
        """The scores the mixtures were fitted on, joined by "+"."""
        return "+".join(m.by for m in self.mixtures)

    @property
    def noise_found(self) -> bool:
        return all(m.noise_found for m in self.mixtures)

    @property
    def flagged(self) -> np.ndarray:
        return self.probability >= FLAG_AT

    @property
    def suspected(self) -> np.ndarray:
        """The samples not flagged whose every mixture's evidence (likelihood ratio) still
        points to a wrong label: probability at least the prior :attr:`share`, below
        :data:`FLAG_AT` (:func:`suspected`)."""
        return suspected(self.probability, self.share)

    @property
    def estimated_share(self) -> float:
        """Expected share of wrong labels: the mean probability."""
        return float(self.probability.mean()) if len(self.probability) else 0.0

    @property
    def params(self) -> dict[str, object]:
        """The fit as the stored score's params (JSON types)."""
        return {"by": self.by, "mixtures": [m.params for m in self.mixtures],
                "noise_found": self.noise_found, "noise_share": self.share,
                "noise_share_from": self.share_from}

    @classmethod
    def from_stored(cls, score: ScoreValues) -> MislabelFit | None:
        """The fit behind a stored ``mislabel_probability``; None when the file predates the
        stored params (then the fit is made again)."""
        p = score.params
        if "mixtures" in p:
            mixtures = tuple(Mixture.from_params(m) for m in p["mixtures"])  # type: ignore[attr-defined]
        elif {"by", "means", "stds", "weights", "noise_found"} <= set(p):
            mixtures = (Mixture.from_params(p),)  # one, as files before `mixtures` held it
        else:
            return None
        share = p.get("noise_share")
        return cls(np.asarray(score.values, dtype=np.float32), mixtures,
                   None if share is None else float(share),  # type: ignore[arg-type]
                   p.get("noise_share_from"))  # type: ignore[arg-type]


def suspected(probability: np.ndarray, share: float | None) -> np.ndarray:
    """(N,) bool: the samples below :data:`FLAG_AT` whose probability of a wrong label is at
    least ``share``, the prior it was computed with. A posterior at or above its prior means
    the evidence (the likelihood ratio of the low component) points to a wrong label; with
    the smallest of several posteriors, every one of them does. Such a sample is more likely
    wrong than a sample drawn at random, so the default pruning drops these, most likely
    first, after the flagged ones (:func:`curator.pruning.plan_selection`). None when
    ``share`` is unknown or 0, or when nothing is flagged: a share the probabilities do not
    confirm in a single sample is no evidence that the low components hold wrong labels
    rather than hard ones."""
    p = np.asarray(probability)
    if share is None or share <= 0 or not (p >= FLAG_AT).any():
        return np.zeros(len(p), dtype=bool)
    return (p >= share) & (p < FLAG_AT)


def combined(fits: Sequence[MislabelFit]) -> MislabelFit:
    """Fits of the same samples combined: each probability the smallest of theirs."""
    first = fits[0]
    return MislabelFit(np.minimum.reduce([f.probability for f in fits]),
                       tuple(m for f in fits for m in f.mixtures), first.share,
                       first.share_from)


def estimate_mislabelled(early_aum: np.ndarray, early_learnability: np.ndarray,
                         labels: np.ndarray | None, *, share: float | None,
                         share_from: str | None = "reference", seed: int = 0) -> MislabelFit:
    """The default estimate (:data:`DEFAULT_PARTS`): a mixture per class on the margin
    before memorising and one over all samples on the probability of the label before
    memorising, both with the prior ``share``; a label is flagged when both reject it.

    Within its class, an atypical but clean sample of an easy class looks rejected, and over
    all samples a clean sample of a hard class does; a wrong label looks rejected both ways."""
    values = {"early_aum": early_aum, "early_learnability": early_learnability}
    return combined([fit_mislabelled(values[score], by=score, seed=seed, share=share,
                                     share_from=share_from,
                                     labels=labels if per_class else None)
                     for score, per_class in DEFAULT_PARTS])


def scale_of(by: str) -> str:
    if by not in SCALES:
        raise CuratorError(f"by {by!r} is not a score mislabels can be estimated from: the "
                           "estimate needs a probability of the label or a margin",
                           hint=f"use {DEFAULT_BY} (the default) or one of {', '.join(SCALES)}",
                           param="by")
    return SCALES[by]


def transform(values: np.ndarray, scale: str) -> np.ndarray:
    """Values on the scale where 0 means "the model rejects the label", easier = higher."""
    v = np.asarray(values, dtype=np.float64)
    if scale == "probability":
        p = np.clip(v, CLIP, 1 - CLIP)
        return np.log(p) - np.log1p(-p)
    return v


def first_epoch_share(checks: np.ndarray, num_classes: int) -> float | None:
    """The share of wrong training labels that the first epoch's checks imply.

    ``checks``: rows (samples, hits, test accuracy before, after, test samples) of stretches
    of the first epoch's steps (``/runs/<run>/first_epoch``, any number of runs stacked;
    columns :data:`curator.store.spec.FIRST_EPOCH_COLUMNS`). In the first epoch every sample
    is predicted before the model has trained on it, so a clean sample is predicted as its
    label about as often as a test sample at the same moment, ``a`` (the mean of the test
    accuracies before and after the stretch): there is no generalisation gap and nothing is
    memorised yet. A wrong label is predicted with chance ``q = (1 - a) / (C - 1)`` (uniform
    flips). So each stretch's hit rate is ``o = a - s (a - q)``, and ``s`` is the
    least-squares slope of ``a - o`` on ``a - q`` over the stretches, each weighted by its
    samples: early stretches, where the model is still near chance and says little about
    the labels, weigh little. The share is 0 unless it is at least :data:`SHARE_Z` standard
    errors above 0, from the binomial noise of the hits and of the test accuracies: on small
    data a clean run's hits scatter by a few per cent. It under-counts flips to one
    confusable class (the model sometimes agrees with them). None without checks; 0 when the
    model never rises above chance in the first epoch."""
    rows = np.asarray(checks, dtype=np.float64).reshape(-1, 5)
    if num_classes < 2 or not len(rows) or not np.isfinite(rows).all():
        return None
    n, hits, before, after, m = rows.T
    keep = (n > 0) & (m > 0)
    if not keep.any():
        return None
    n, hits, m, a = n[keep], hits[keep], m[keep], ((before + after) / 2)[keep]
    o = hits / n
    signal = a - (1 - a) / (num_classes - 1)  # a - q: what a wrong label costs in hits
    weight = float((n * signal ** 2).sum())
    if weight <= 1e-12 or (signal <= 0).all():
        return 0.0
    slope = float((n * signal * (a - o)).sum()) / weight
    # each stretch's a - o is off by the binomial noise of its hits and of the test accuracy
    noise = o * (1 - o) / n + a * (1 - a) / m
    se = float(np.sqrt(((n * signal) ** 2 * noise).sum())) / weight
    if slope < SHARE_Z * se:  # not told apart from no wrong labels at all
        return 0.0
    return float(min(slope, 0.99))


def noise_share(train_error: float, test_error: float, num_classes: int) -> float | None:
    """The share of wrong training labels that the errors of the same epochs imply: beside
    :func:`first_epoch_share` (the larger is taken), and alone for runs without first-epoch
    checks, e.g. a file recorded in the user's own loop without ``Recorder.check``.

    Before memorising, the model errs on a clean training sample about as often as on a test
    sample (``test_error``); on a wrong label it errs unless its wrong answer happens to be
    the wrong label (``q = test_error / (C - 1)`` under uniform flips). So the training error
    measured against the given labels is (1 - s) e + s (1 - q), and s = (train_error - e) /
    (1 - q - e). Both errors are those of :func:`curator.scores.error_rates`: the test error
    as the training pass met the model, half an epoch before the end of each epoch. It
    under-counts when the model starts to fit the wrong labels inside the window, when the
    wrong labels raise the test error too (flips to one class), or when the model fits its
    clean training samples better than unseen ones (a generalisation gap: a weak model on
    mnist1d implies 0 for 20% flipped). None when it cannot be computed (no test split)."""
    e = float(test_error)
    if not np.isfinite(e) or not np.isfinite(train_error) or num_classes < 2:
        return None
    q = e / (num_classes - 1)
    if 1 - q - e <= 0:  # the model is no better than chance: nothing can be said
        return 0.0
    return float(np.clip((train_error - e) / (1 - q - e), 0.0, 0.99))


def _mixture(x: np.ndarray, seed: int) -> tuple[object, np.ndarray]:
    """A two-component mixture fitted to ``x`` (at most :data:`FIT_SAMPLES` of them, drawn
    at random), and the order of its components, low mean first."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    sample = x if len(x) <= FIT_SAMPLES else x[rng.choice(len(x), FIT_SAMPLES, replace=False)]
    gmm = GaussianMixture(2, n_init=2, random_state=seed, reg_covar=1e-6)
    gmm.fit(sample.reshape(-1, 1))
    return gmm, np.argsort(gmm.means_.ravel())


def _posterior(gmm: object, order: np.ndarray, x: np.ndarray, prior: float | None
               ) -> np.ndarray:
    """Each value's posterior under the low component, re-weighted from the mixture's own
    prior to ``prior`` (Bayes' rule in log-odds: only the prior odds change)."""
    weights = gmm.weights_[order]  # type: ignore[attr-defined]
    shift = 0.0 if prior is None else (np.log(prior / (1 - prior))
                                       - np.log(weights[0] / weights[1]))
    prob = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), 1 << 20):  # bounded memory for millions of samples
        block = x[start:start + (1 << 20)].reshape(-1, 1)
        post = np.clip(gmm.predict_proba(block)[:, order], 1e-300, None)  # type: ignore[attr-defined]
        log_odds = np.log(post[:, 0]) - np.log(post[:, 1]) + shift
        prob[start:start + len(block)] = 1 / (1 + np.exp(-np.clip(log_odds, -700, 700)))
    return prob


def _summary(gmm: object, order: np.ndarray) -> tuple[tuple[float, float], ...]:
    """(means, stds, weights) of a fitted mixture, low component first."""
    means = gmm.means_.ravel()[order]  # type: ignore[attr-defined]
    stds = np.sqrt(gmm.covariances_.ravel())[order]  # type: ignore[attr-defined]
    weights = gmm.weights_[order]  # type: ignore[attr-defined]
    return tuple((float(a), float(b)) for a, b in (means, stds, weights))


def fit_mislabelled(values: np.ndarray, *, by: str, seed: int = 0,
                    share: float | None = None, share_from: str | None = None,
                    labels: np.ndarray | None = None) -> MislabelFit:
    """Fit the two-component mixture to the score ``by``'s ``values`` (higher = easier).

    With ``labels`` (the given label of each value), one mixture is fitted per class, so a
    class that is hard as a whole is not taken for wrong labels; a class with fewer than
    :data:`MIN_CLASS` samples takes the mixture fitted to all of them, whose summary the fit
    keeps either way. ``share`` (:func:`first_epoch_share` or :func:`noise_share`), when
    known, is the prior of the low component in every posterior, and 0 means nothing is
    flagged; without it each mixture's own weight is the prior. A mixture flags nothing when
    its low component's mean is at or above 0 (the model, on average, gives those samples
    their label). ``share_from`` names what gave ``share`` (kept with the fit)."""
    scale = scale_of(by)
    x = transform(values, scale)
    n = len(x)
    if not np.isfinite(x).all():
        raise CuratorError(f"values of score {by!r}: {int((~np.isfinite(x)).sum())} are not "
                           "finite", param="values")
    if labels is not None and len(labels) != n:
        raise CuratorError(f"labels has {len(labels)} entries for {n} values", param="labels")
    zeros = np.zeros(n, np.float32)
    per_class = labels is not None
    if n < 10 or np.ptp(x) < 1e-9:  # nothing to separate
        return MislabelFit(zeros, (Mixture(by, (0.0, 0.0), (0.0, 0.0), (1.0, 0.0), False,
                                           per_class),), share, share_from)
    gmm, order = _mixture(x, seed)
    means, stds, weights = _summary(gmm, order)
    if share == 0:  # the errors say there are no wrong labels to find
        return MislabelFit(zeros, (Mixture(by, means, stds, weights, False, per_class),),
                           share, share_from)
    prob = zeros
    groups: list[tuple[np.ndarray | slice, object, np.ndarray]] = []
    if labels is None:
        groups.append((slice(None), gmm, order))
    else:
        # the samples of each class from one sort (not one scan of all labels per class)
        by_class = np.argsort(labels, kind="stable")
        classes, counts = np.unique(np.asarray(labels), return_counts=True)
        members = np.split(by_class, np.cumsum(counts)[:-1])
        small = [at for at, k in zip(members, counts, strict=True) if k < MIN_CLASS]
        if small:
            groups.append((np.concatenate(small), gmm, order))
        for at, k in zip(members, counts, strict=True):
            if k >= MIN_CLASS and np.ptp(x[at]) >= 1e-9:
                groups.append((at, *_mixture(x[at], seed)))
    found = False
    for at, mixture, low_first in groups:
        if mixture.means_.ravel()[low_first[0]] >= 0:  # type: ignore[attr-defined]
            continue  # the low component's labels are, on average, the model's answer
        found = True
        prob[at] = _posterior(mixture, low_first, x[at], share)
    return MislabelFit(prob, (Mixture(by, means, stds, weights, found, per_class),), share,
                       share_from)


@dataclass(frozen=True)
class FlagQuality:
    """Flags against the known flipped labels."""

    flagged: int
    flipped: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else float("nan")

    @property
    def recall(self) -> float:
        return self.true_positives / self.flipped if self.flipped else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def flag_quality(flagged: np.ndarray, noisy: np.ndarray) -> FlagQuality:
    flagged, noisy = np.asarray(flagged, bool), np.asarray(noisy, bool)
    return FlagQuality(int(flagged.sum()), int(noisy.sum()), int((flagged & noisy).sum()))


def early_window(test_acc: np.ndarray | None, num_epochs: int,
                 test_samples: int | None = None) -> int:
    """Epochs read by ``early_aum`` and ``early_learnability`` (the window before memorising):
    up to the first (1-based) epoch whose mean test accuracy over the runs is level with the
    best one: within one standard error sqrt(a (1 - a) / m) of the best accuracy a, the
    sampling error of an accuracy measured on ``test_samples`` = m test samples (the
    one-standard-error rule of model selection — Breiman et al. 1984, "Classification and
    Regression Trees"; Hastie, Tibshirani, Friedman, "The Elements of Statistical
    Learning", section 7.10 —, with the epochs trained as the complexity). A model that
    creeps up for tens of epochs after that (a weak one, whose test accuracy memorising does
    not lower) memorises wrong labels in them. Without ``test_samples``, the epoch of the
    best mean; without test accuracies, the first ceil(T/5)."""
    fallback = max(1, -(-num_epochs // 5))
    if test_acc is None:
        return fallback
    acc = np.asarray(test_acc, dtype=np.float64).reshape(-1, num_epochs)
    acc = acc[:, :num_epochs]
    if acc.size == 0 or not np.isfinite(acc).all():
        return fallback
    mean = acc.mean(axis=0)
    best = float(mean.max())
    level = best
    if test_samples:
        level = best - WINDOW_Z * float(np.sqrt(best * (1 - best) / test_samples))
    return int(np.argmax(mean >= level)) + 1  # the first epoch at the level


def file_mislabel(f: ScoresFile) -> MislabelFit | None:
    """The stored ``mislabel_probability`` of an open scores file and the fit behind it,
    computed from its trajectories when it was scored before that score existed; None when
    it has no complete reference run with recorded probabilities. A score stored before its
    params were (no prior known) comes back with ``share`` None."""
    from curator.scores import FileTrajectories, compute_scores

    if "mislabel_probability" in f.score_names():
        score = f.score("mislabel_probability")
    elif not any(r.complete and r.kind == "reference" and "p_true" in r.stats
                 for r in f.runs()):
        return None
    else:
        score = compute_scores(FileTrajectories(f), ["mislabel_probability"])[
            "mislabel_probability"]
    fit = MislabelFit.from_stored(score)
    return fit if fit is not None else MislabelFit(
        np.asarray(score.values, dtype=np.float32), ())


def best_test_accuracy(f: ScoresFile) -> float | None:
    """The best test accuracy of an open file's reference runs (their mean, epoch by epoch):
    what the model behind the flags could learn. None without complete runs or with an epoch
    whose test accuracy was not recorded."""
    from curator.scores import FileTrajectories

    try:
        acc = np.asarray(FileTrajectories(f).test_acc, dtype=np.float64)
    except CuratorError:
        return None
    return float(acc.mean(axis=0).max()) if acc.size and np.isfinite(acc).all() else None


def share_basis(source: str | None) -> str:
    """Which errors gave the noise share (``MislabelFit.share_from``), for messages."""
    if source == "holdout":
        return "the held-out and test errors of the holdout runs"
    if source == "first-epoch":
        return "the first epoch's predictions against the test accuracy"
    return "the training and test errors before memorising"


def file_noise_share(f: ScoresFile, by: str = DEFAULT_BY) -> tuple[float | None, str | None]:
    """The noise share of an open file for the score ``by``, and what gave it, from the runs
    the score is computed from: the holdout runs' held-out and test errors for
    ``heldout_learnability`` (:func:`curator.scores.heldout_error_rates`), else the
    reference runs (:func:`curator.scores.reference_noise_share`). (None, None) without
    those runs or a test split."""
    from curator.scores import (
        SCORES,
        FileTrajectories,
        heldout_error_rates,
        reference_noise_share,
    )

    kind = "reference" if by == DEFAULT_BY else SCORES.entry(by).meta.get("runs", "reference")
    try:
        traj = FileTrajectories(f, kind=kind)
    except CuratorError:
        return None, None
    if kind == "holdout":
        return noise_share(*heldout_error_rates(traj), f.num_classes), kind
    return reference_noise_share(traj, early_window(traj.test_acc, traj.num_epochs,
                                                     traj.test_samples))


def score_for_flags(f: ScoresFile, by: str) -> tuple[ScoreValues, bool]:
    """The score ``by`` of an open file and whether it is stored; a score the file does not
    store (``early_aum`` of an older file) is computed from the trajectories."""
    from curator.scores import SCORES, FileTrajectories, compute_scores

    scale_of(by)
    if by in f.score_names():
        return f.score(by), True
    traj = FileTrajectories(f, kind=SCORES.entry(by).meta.get("runs", "reference"))
    return compute_scores(traj, [by])[by], False


@dataclass(frozen=True)
class FlagReport:
    """What ``curator flag`` found in a file."""

    fit: MislabelFit
    labels: np.ndarray  # (N,) the training labels
    classes: list[str]
    noisy: np.ndarray | None  # (N,) the injected flips, when the file records them
    out: Path | None  # where the flagged indices were written
    stored: bool = True  # False when the fit was read back from the file (nothing written)
    # the reference runs' best mean test accuracy over the epochs (None: none recorded)
    test_acc: float | None = None

    @property
    def flagged_indices(self) -> np.ndarray:
        return np.flatnonzero(self.fit.flagged)

    @property
    def quality(self) -> FlagQuality | None:
        return None if self.noisy is None else flag_quality(self.fit.flagged, self.noisy)


def flag(path: str | Path, *, by: str = DEFAULT_BY, out: str | Path | None = None) -> FlagReport:
    """Estimate which labels in the scores file ``path`` are wrong, store the probabilities
    as the score ``mislabel_probability`` and, with ``out``, write the flagged indices
    (``.npy``, ``.txt`` or ``.csv``). Flagging nothing is a normal result on clean data.

    ``by``: :data:`DEFAULT_BY`, the default estimate (:func:`estimate_mislabelled`), or one
    score (:data:`SCALES`), whose mixture over all samples is then the estimate. The estimate
    ``curator score`` stored is read back when it was made from ``by`` (no new fit, the file
    is not written); otherwise it is made and stored."""
    from curator import store
    from curator.errors import FormatError
    from curator.pruning import export_selection
    from curator.scores import FileTrajectories, compute_scores

    if by != DEFAULT_BY:
        scale_of(by)
    out = None if out is None else Path(out)
    if out is not None and out.suffix not in (".npy", ".txt", ".csv"):
        raise CuratorError(f"out {str(out)!r} must end in .npy, .txt or .csv", param="out")
    scores: dict[str, ScoreValues] = {}
    with store.open_scores(path) as f:
        if not f.score_names():
            raise FormatError(f"{str(path)!r} has no scores yet",
                              hint="finish the reference run with `curator score --resume`")
        fit = (MislabelFit.from_stored(f.score("mislabel_probability"))
               if "mislabel_probability" in f.score_names() else None)
        if fit is not None and fit.by != by:
            fit = None
        if fit is None and by == DEFAULT_BY:  # the registered score, with its sources
            scores = compute_scores(FileTrajectories(f), ["mislabel_probability"])
            scores = {k: v for k, v in scores.items()
                      if k == "mislabel_probability" or k not in f.score_names()}
            fit = MislabelFit.from_stored(scores["mislabel_probability"])
        elif fit is None:
            score, _ = score_for_flags(f, by)
            share, share_from = file_noise_share(f, by)
            fit = fit_mislabelled(score.ease, by=by, share=share, share_from=share_from)
            scores["mislabel_probability"] = store.ScoreValues(
                fit.probability, "harder",
                f"probability that the label is wrong: posterior of the low component of a "
                f"two-component mixture on {by} (docs/flags.md)", score.runs, fit.params)
        labels, noisy = f.labels, f.noisy
        classes = list(f.data_spec.get("classes") or [])
        test_acc = best_test_accuracy(f)
    assert fit is not None
    written = None
    if out is not None:  # written before the score is stored: a failure leaves the file as it was
        written = export_selection(np.flatnonzero(fit.flagged), out)
    if scores:
        with store.writer_lock(path):
            store.write_scores(path, scores)
    return FlagReport(fit, labels, classes if len(classes) == int(labels.max()) + 1 else
                      [str(c) for c in range(int(labels.max()) + 1)], noisy, written,
                      stored=bool(scores), test_acc=test_acc)
