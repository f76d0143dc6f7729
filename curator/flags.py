"""Which labels are wrong: a threshold-free estimate from the training dynamics.

A model fits the clean samples of a class first and memorises the mislabelled ones later
(the "early learning" of noisy-label training). Before it memorises, a mislabelled sample
looks like another class: the model's logit for its label is below its logit for some other
class (a negative margin) and the probability of its label is low; after, both are high. So
the estimate reads the trajectories only up to the first epoch whose test accuracy is level
with the best (where memorising starts to cost accuracy, or stops gaining it; on clean data
that is late in training), before the test loss has clearly risen (memorising raises it even
where it raises the accuracy on test labels as noisy as the training labels:
:func:`early_window`) — or sooner, where the wrong labels' separation has fallen well below
its peak within that window (the model learning flips that the test labels carry too:
:func:`separation_window`) —, and asks two questions of each sample
(:func:`estimate_mislabelled`):

- within its class: is its mean margin over those epochs (``early_aum``, the area under the
  margin of Pleiss et al. 2020, "Identifying Mislabeled Data using the Area Under the Margin
  Ranking", arXiv:2001.10528, before memorising) in the low component of a two-component
  Gaussian mixture fitted to its class, as DivideMix fits one to the loss (Li et al. 2020,
  "DivideMix", arXiv:2002.07394) and confident learning sets a threshold per class?
- among all samples: is the logit of its mean probability of the label over those epochs
  (``early_learnability``) in the low component of a mixture fitted to all samples?

A low component is taken for wrong labels only where the evidence is there: in some class
the model rejects it on average (mean margin below 0) *and* it stands apart from the rest of
the class (Ashman's D at least :data:`SEPARATION`), as a population of wrong labels does and
the hard end of a class does not; or where a class is contested (:func:`contested_classes`):
its rejected samples are not apart, but the model has narrowed the class down to two classes,
the label and one rival, as flips inside confusable pairs or towards the class an image
resembles leave it — there a label is wrong where the model prefers the rival. Nothing else
is asked of the data: real data sets' test labels are as noisy as their training labels, so
the test split may not be taken as clean.
A sample's probability of being mislabelled is the smaller of its two posteriors, and 0
where the model accepts its label before memorising (``early_aum`` at or above 0); it is
flagged when that is at least :data:`FLAG_AT`. Each question alone flags clean samples the
other keeps — an atypical member of an easy class, a member of a hard class —; a wrong label
fails both. The prior of each low component is the mixture's own weight, or the share of
wrong labels the test split implies when it implies some (:func:`first_epoch_share`,
:func:`noise_share`: more than the test labels' own share).

Everything here is a pure function of arrays (no file, no other curator module but the
errors): :mod:`curator.flagging` reads files for it, and the CLI, ``curator prune``,
``curator bench`` and the benchmarks all call the one estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from curator.errors import CuratorError

# the estimate's version, stored with its fit: 1 took the prior from the test split alone and
# flagged nothing when it implied no wrong labels; 2 (2026-12-05) needs no clean test split;
# 3 (2026-12-05, later) flags in contested classes too; 4 (2026-12-05) takes one epoch more
# into the early window when the model reached its level only during the window's last epoch;
# 5 fits a mixture again when a component collapsed onto a few outliers; 6 takes no evidence
# from a class whose mixture rejects both components (a class the model has not learned);
# 7 (2026-12-06) weighs, in a class whose rejected samples do not stand apart, the labels
# whose rival the model nearly prefers too (:func:`in_doubt`); 8 (2026-12-06) lets the
# posteriors flag a label in doubt in a contested class too, where the mixture over all
# samples does not find the wrong labels apart; 9 (2026-12-06) ends the early window before
# the test loss rises clearly above its minimum (:func:`memorising_onset`), and not before it
# has settled (:func:`loss_settled`); 10 (2026-12-06) contests, beside a contested class, a
# class flooded by look-alike flips: no rejected component, but in doubt as a whole
# (:func:`contested_classes`); 11 (2026-12-06) reads the loss's settling epoch half an epoch
# later, as the accuracy's (:func:`loss_settled`); 12 (2026-12-06) ends the early window
# sooner where memorising has eroded the separation within it (:func:`separation_window`);
# 13 (2026-12-06) takes a class's low component for its rejected samples only where it holds
# a good share of them, not where it is their far tail (:func:`_tail_only`); 14 (2026-12-06)
# compares the windows of 12 on enough samples for a mixture per class
# (:func:`window_sample_count`) and keeps a shorter window only where the estimate over it
# finds wrong labels too (an ImageNet-sized file lost all its flags to a window of 14 epochs);
# 15 (2026-12-06) takes a flooded class for contested also where the model has not narrowed
# it down to two and its mixture has a rejected component not apart (a CNN spreads a class
# flooded from several look-alikes over them: :func:`contested_classes`)
ESTIMATE = 15
FLAG_AT = 0.5  # flagged: probability of being mislabelled at least this
# a suggested label needs at least this mean probability before memorising (and more than
# the given label's): on the flipped samples of Fashion-MNIST 20,000 with 20% symmetric noise,
# suggestions above the given label alone were right for 88.4% of the 97% they covered, at
# 0.3 for 92.4% of 89% (benchmarks/RESULTS.md, "Suggested labels and relabelling")
SUGGEST_AT = 0.3
# relabelled (not dropped): a flagged sample whose suggested class has at least this mean
# probability before memorising (``suggestion_confidence``; :func:`relabel_plan`)
RELABEL_AT = 0.5
# A person's count of a contested class (:func:`recount`; docs/flags.md, "A person's count
# of a contested class"): how many answers of the class's review sample `curator flag` asks
# for, the fewest it reads a count from, and the level of the count's interval (Wilson, 99%:
# the flags stand unless the count clearly contradicts them). Simulated on the grid's files
# (benchmarks/RESULTS.md, "A person's count of the contested classes"): at 95%, with 40% flips
# inside pairs, where the flags are right, counts that missed by chance set classes and cost
# up to 0.017 of F1; at 99% up to 0.007, the gains elsewhere within 0.01
COUNT_ASKED = 50
COUNT_MIN = 20
COUNT_Z = 2.575829
# the answers of a class's review sample are those among its first members of which at
# least this share is answered (a few skipped do not end the sample)
COUNT_PREFIX = 0.9
FIT_SAMPLES = 200_000  # the mixture is fitted on at most this many samples (then applied to all)
MIN_CLASS = 50  # a class with fewer samples takes the mixture fitted to all the samples
# a mixture component holding fewer than this share of the values (or fewer than
# COLLAPSED_COUNT of them) has collapsed onto a few outliers: the mixture is fitted again to
# the values winsorized at this share on each side (:func:`_mixture`)
COLLAPSED = 0.01
COLLAPSED_COUNT = 5
# a low component counts as wrong labels only if it is at least this far from the high one
# (Ashman's D; :func:`_rejected_separation`)
SEPARATION = 2.0
# ... and, in a class's mixture, only if it holds at least this share of the samples the
# model rejects (early_aum < 0; :func:`_tail_only`): else it is their far tail, not them.
# Measured over 118 reference-run files (benchmarks/RESULTS.md, "The far tail of the
# rejected samples"): the tails held 3-5% of their class's rejected samples, every other
# component apart held 34% or more
CLAIMED = 0.25
# a class is contested when the model, before memorising, has narrowed its samples down to
# two classes, the label and the rival: their mean probabilities of the two add up to at
# least this, over the class and over all samples (:func:`contested_classes`). Measured
# (benchmarks/RESULTS.md, "Contested classes"): clean mnist1d, where an MLP has not learned
# several classes, 0.56-0.72 in the classes whose low component is rejected and 0.62-0.79
# over all samples; Fashion-MNIST 20,000 with flips inside pairs, to one class or towards the
# class an image resembles, 0.87-0.97 and 0.92-0.96
CONTESTED = 0.8
# in a class whose rejected samples do not stand apart, a label is in doubt also where the
# model gives the rival at least this share of the label's probability before memorising
# (:func:`in_doubt`): flips towards the class an image resembles sit at the boundary, and the
# model prefers the wrong label for about half of them. Of 0.3, 0.5 and 0.7, 0.5 had the best
# F1, or within 0.002 of it, on each file whose flags the rule changes (benchmarks/RESULTS.md,
# "Labels in doubt")
DOUBT = 0.5
# the early window ends sooner where memorising has eroded the evidence within it: where the
# largest Ashman's D of the class mixtures has fallen by more than this share of its peak over
# the shorter windows (:func:`separation_window`). On the grid's 44 reference-run files of
# Fashion-MNIST 20,000 and digits and 24 of mnist1d (benchmarks/RESULTS.md, "The window where
# memorising erodes the separation"), 0.25 and 0.3 shorten the window of digits' 40%
# instance-dependent flips in both splits only (D 6.3 at 2 epochs, 3.9 and 3.5 at the
# curves' 8 and 10); 0.2 shortens mnist1d's 40% flips inside pairs after 60 epochs too
# (a fall of 22%, where the longer window was the better one)
SEPARATION_FALL = 0.3
WINDOW_CANDIDATES = 16  # the shorter windows compared: every epoch up to this many
# they are compared on this many samples (evenly strided), or on more where the data have so
# many classes that a class would hold fewer than twice MIN_CLASS of them
# (:func:`window_sample_count`)
WINDOW_SAMPLES = 50_000
CLIP = 1e-4  # probabilities are clipped to [CLIP, 1 - CLIP] before the logit
SHARE_Z = 2.0  # the first epoch's share counts when at least this many standard errors above 0
# the early window ends at the first epoch within this many standard errors of the best test
# accuracy: the one-standard-error rule of model selection, with the epochs as the complexity
WINDOW_Z = 1.0
# memorising has begun where the mean test loss over the runs is this many times its
# epoch-to-epoch noise above its minimum (:func:`memorising_onset`). Every epoch after the
# minimum is a chance to cross the level, so it asks for more than the usual 2. On 76
# reference-run files 3 cut the window in five: the two 60-epoch files that abstained (the
# loss up 20-30%), two class-dependent files (F1 within 0.002) and mnist1d with 40%
# class-dependent flips (-0.019); 2 with the runs' spread as the noise also cut it where the
# later epochs were better (mnist1d, 40% symmetric flips, F1 0.663 -> 0.630)
# (benchmarks/RESULTS.md, "Memorising a noisy test split")
LOSS_Z = 3.0
# how a score is made comparable to the level 0 ("the model rejects the label"):
# probabilities of the label through the logit, margins as they are. Each score declares its
# own at registration (curator.scores: scale=...).
SCALE_NAMES = ("probability", "margin")
# the default estimate: the margin before memorising, one mixture per class, and the
# probability of the label before memorising, one mixture over all samples; a label is
# flagged only when both reject it (docs/flags.md)
DEFAULT_PARTS = (("early_aum", "margin", True),  # (score, its scale, per class)
                 ("early_learnability", "probability", False))
DEFAULT_BY = "+".join(score for score, _, _ in DEFAULT_PARTS)


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
    # the largest Ashman's D between the components of a mixture (of its classes' mixtures)
    # whose low component the model rejects on average; None when none has a negative mean
    # (or for a fit stored before 2026-12-05)
    separation: float | None = None

    @property
    def params(self) -> dict[str, object]:
        return {"by": self.by, "means": list(self.means), "stds": list(self.stds),
                "weights": list(self.weights), "noise_found": self.noise_found,
                "per_class": self.per_class, "separation": self.separation}

    @classmethod
    def from_params(cls, p: dict[str, object]) -> Mixture:
        return cls(str(p["by"]), tuple(float(v) for v in p["means"]),  # type: ignore[arg-type, attr-defined]
                   tuple(float(v) for v in p["stds"]),  # type: ignore[arg-type, attr-defined]
                   tuple(float(v) for v in p["weights"]),  # type: ignore[arg-type, attr-defined]
                   bool(p["noise_found"]), bool(p.get("per_class", False)),
                   None if p.get("separation") is None else float(p["separation"]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClassCount:
    """A person's count of one contested class (:func:`recount`): ``answered`` of its review
    sample, ``wrong`` of them relabelled or dropped, the share's Wilson interval
    [``low``, ``high``], and the class's flagged samples before and after. ``recounted``:
    whether the flags of the class were set by the count (the share flagged before lay
    outside the interval). Where the estimate with no class contested was given
    (:func:`recount`): ``plain``, the class's samples it flags, and of the counted answers,
    how many the flags (``errors``) and it (``plain_errors``) contradict — a flagged sample
    answered right, or an unflagged one answered wrong; None otherwise."""

    cls: int
    answered: int
    wrong: int
    low: float
    high: float
    flagged_before: int
    flagged_after: int
    size: int
    recounted: bool
    plain: int | None = None
    errors: int | None = None
    plain_errors: int | None = None

    @property
    def params(self) -> dict[str, object]:
        return {"class": self.cls, "answered": self.answered, "wrong": self.wrong,
                "low": self.low, "high": self.high,
                "flagged_before": self.flagged_before, "flagged_after": self.flagged_after,
                "size": self.size, "recounted": self.recounted, "plain": self.plain,
                "errors": self.errors, "plain_errors": self.plain_errors}

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> ClassCount:
        return cls(int(p["class"]), int(p["answered"]), int(p["wrong"]), float(p["low"]),
                   float(p["high"]), int(p["flagged_before"]), int(p["flagged_after"]),
                   int(p["size"]), bool(p["recounted"]),
                   *(None if p.get(k) is None else int(p[k])
                     for k in ("plain", "errors", "plain_errors")))


@dataclass(frozen=True)
class MislabelFit:
    """The mixtures and what they say about every sample: a label's probability of being
    wrong (flagged at :data:`FLAG_AT`) — the smaller of the mixtures' posteriors where the
    first mixture found wrong labels, else the other class's probability of the outliers the
    model is sure of (:attr:`outliers`)."""

    probability: np.ndarray  # (N,) float32: probability that the label is wrong
    mixtures: tuple[Mixture, ...]
    share: float | None = None  # the share of wrong labels that was the prior, if known
    # what gave it: "first-epoch" (the reference runs' first-epoch checks), "reference"
    # (their errors before memorising), "holdout" (the holdout runs' errors) or "mixtures"
    # (none above 0: the mixtures' own weights, summed up as the expected share)
    share_from: str | None = None
    # which estimate made it (:data:`ESTIMATE`); a stored fit of an older one is made again
    estimate: int = ESTIMATE
    # with no separate component of wrong labels: how many samples were flagged as outliers
    # the model is sure of (:func:`confident_outliers`); None when the mixtures decided
    outliers: int | None = None
    # the contested classes (:func:`contested_classes`), where a label is wrong when the
    # model prefers the rival before memorising
    contested: tuple[int, ...] = ()
    # how the early window its scores read was chosen (:func:`separation_window`); None where
    # not known (a fit of other scores, a window set by the caller, a fit stored before
    # estimate 12)
    window: SeparationWindow | None = None
    # a person's counts of the contested classes (:func:`recount`); () where none was read.
    # Then the probability of every answered sample is the person's answer (1 or 0)
    counts: tuple[ClassCount, ...] = ()
    answered: int = 0  # samples a person answered (every class), 0 without answers
    # where the counted answers contradicted the estimate with no class contested less
    # often than the flags (:func:`recount`): how many samples outside the contested
    # classes were flagged before, on the evidence they lent them; None where it stands
    withdrawn: int | None = None

    @property
    def by(self) -> str:
        """The scores the mixtures were fitted on, joined by "+"."""
        return "+".join(m.by for m in self.mixtures)

    @property
    def noise_found(self) -> bool:
        """Whether the evidence mixture (the first) found wrong labels, or some class is
        contested."""
        return (bool(self.mixtures) and self.mixtures[0].noise_found) or bool(self.contested)

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
                "noise_share_from": self.share_from, "estimate": self.estimate,
                "outliers": self.outliers, "contested": list(self.contested),
                "window": None if self.window is None else self.window.params,
                **({"counts": [c.params for c in self.counts], "answered": self.answered,
                    "withdrawn": self.withdrawn} if self.answered else {})}

    @classmethod
    def from_stored(cls, values: np.ndarray, params: dict[str, Any]) -> MislabelFit | None:
        """The fit behind a stored ``mislabel_probability`` (its values and params); None
        when the file predates the stored params (then the fit is made again)."""
        p = params
        if "mixtures" in p:
            mixtures = tuple(Mixture.from_params(m) for m in p["mixtures"])  # type: ignore[attr-defined]
        elif {"by", "means", "stds", "weights", "noise_found"} <= set(p):
            mixtures = (Mixture.from_params(p),)  # one, as files before `mixtures` held it
        else:
            return None
        share = p.get("noise_share")
        return cls(np.asarray(values, dtype=np.float32), mixtures,
                   None if share is None else float(share),  # type: ignore[arg-type]
                   p.get("noise_share_from"),  # type: ignore[arg-type]
                   int(p.get("estimate", 1)),  # type: ignore[call-overload]
                   None if p.get("outliers") is None else int(p["outliers"]),  # type: ignore[call-overload]
                   tuple(int(c) for c in p.get("contested", ())),  # type: ignore[attr-defined]
                   None if not p.get("window") else SeparationWindow.from_params(
                       p["window"]),  # type: ignore[arg-type]
                   tuple(ClassCount.from_params(c) for c in p.get("counts", ())),  # type: ignore[attr-defined]
                   int(p.get("answered", 0)),  # type: ignore[call-overload]
                   None if p.get("withdrawn") is None else int(p["withdrawn"]))  # type: ignore[call-overload]


def review_order(labels: np.ndarray, cls: int, seed: int) -> np.ndarray:
    """The members of class ``cls`` in a fixed random order: the class's *review sample*.
    Whatever first part of it a person answers is a random draw of the class, so the share
    of wrong labels among the answers counts the class's (:func:`recount`). ``seed``: the
    data's (``curator review`` and ``curator flag`` take it from the fingerprint)."""
    return _review_permutation(np.flatnonzero(np.asarray(labels) == cls), cls, seed)


def _review_permutation(members: np.ndarray, cls: int, seed: int) -> np.ndarray:
    """:func:`review_order` of a class whose ``members`` (sorted indices) are known."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x636F756E, int(cls)]))
    return rng.permutation(members)


def rival_share(early_learnability: np.ndarray, early_rival: np.ndarray) -> np.ndarray:
    """rival / (label + rival): of the two classes the model hesitates between before
    memorising, the share of the rival (the evidence a contested class is flagged by)."""
    prob = np.asarray(early_learnability, dtype=np.float64)
    rival = np.asarray(early_rival, dtype=np.float64)
    return rival / np.maximum(prob + rival, 1e-12)


def wilson(wrong: int, n: int, z: float = COUNT_Z) -> tuple[float, float]:
    """The Wilson score interval of a share ``wrong`` / ``n`` (Wilson 1927; Brown, Cai,
    DasGupta 2001, "Interval Estimation for a Binomial Proportion")."""
    if n <= 0:
        return 0.0, 1.0
    p = wrong / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def sample_answers(order: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """The answered members of a review sample ``order`` that count as a random draw: those
    among its longest first part of which at least :data:`COUNT_PREFIX` is answered
    (``answered``: (N,) bool). A person who skips a few keeps the draw; answers given
    elsewhere (the flags' queue) that happen to sit further on do not count."""
    hit = np.asarray(answered, dtype=bool)[order]
    if not hit.any():
        return order[:0]
    seen = np.cumsum(hit)
    ok = np.flatnonzero(seen >= COUNT_PREFIX * np.arange(1, len(order) + 1))
    if not len(ok):
        return order[:0]
    first = order[:ok[-1] + 1]
    return first[hit[:ok[-1] + 1]]


def lent(flagged: np.ndarray, labels: np.ndarray, contested: Sequence[int]) -> int:
    """How many of the ``flagged`` samples lie outside the ``contested`` classes: the flags a
    contested class's evidence lets the other classes make (:func:`estimate_mislabelled`,
    step 3; what a person's count may withdraw, :func:`recount`); 0 with none contested."""
    if not len(contested):
        return 0
    return int(np.asarray(flagged, dtype=bool)[~np.isin(labels, contested)].sum())


def recount(fit: MislabelFit, labels: np.ndarray, early_learnability: np.ndarray,
            early_rival: np.ndarray, answered: np.ndarray, wrong: np.ndarray, *,
            seed: int, plain: MislabelFit | None = None) -> MislabelFit:
    """The fit with a person's answers read in: ``answered`` (indices) and ``wrong`` (bool,
    the same length: relabelled or dropped, not kept).

    In a contested class the model has narrowed its samples down to two classes, and how
    many of its labels are wrong is in no model's predictions (benchmarks/RESULTS.md,
    "Out-of-sample predictions in the contested classes"); a person's answers to its review
    sample (:func:`review_order`, :func:`sample_answers`) count it. Where at least
    :data:`COUNT_MIN` were answered and the share the flags take lies outside the count's
    99% interval, the class's prior odds are moved so that the share counted is flagged: a
    member's probability becomes σ(logit(s) − θ), s its rival's share rival / (label + rival)
    before memorising (the evidence the contested class is flagged by) and θ between the
    counted number's logit shares, where that is at least :data:`FLAG_AT`, and at most that
    elsewhere. Elsewhere the flags stand.

    A contested class is also evidence that the data hold wrong labels at all: it lets the
    posteriors of :func:`estimate_mislabelled`'s step 2 flag in the other classes. ``plain``:
    the estimate with no class contested (``contest=False``), which flags there only what it
    finds itself. The counted answers are a random draw of each contested class, so they
    check both: where every contested class is counted (at least :data:`COUNT_MIN` answers)
    and the answers contradict ``plain``'s flags less often than the fit's (a flagged sample
    answered right or an unflagged one answered wrong; summed over the contested classes),
    the contested classes' evidence is withdrawn: outside them the probabilities are
    ``plain``'s (its prior share too), and :attr:`MislabelFit.withdrawn` says how many were
    flagged there before. A CNN on Fashion-MNIST with its real labels contests Coat and
    Shirt, whose hard members it hesitates over as an MLP does over flips, and flagged 2,197
    samples of the other classes on their evidence (benchmarks/RESULTS.md, "A person's
    count that withdraws a contested class's evidence"). Then every answered sample's
    probability is the answer: 1 if wrong, 0 if kept."""
    labels = np.asarray(labels)
    answered = np.asarray(answered, dtype=np.int64)
    wrong = np.asarray(wrong, dtype=bool)
    if answered.shape != wrong.shape:
        raise CuratorError(f"{len(answered)} answered samples, but {len(wrong)} answers")
    if not len(answered):
        return fit
    n = len(labels)
    if answered.min() < 0 or answered.max() >= n:
        raise CuratorError(f"an answered sample's index is outside the {n} samples "
                           f"({int(answered.min())} to {int(answered.max())})")
    is_answered = np.zeros(n, dtype=bool)
    is_answered[answered] = True
    is_wrong = np.zeros(n, dtype=bool)
    is_wrong[answered[wrong]] = True
    p = np.array(fit.probability, dtype=np.float64, copy=True)
    logit = transform(rival_share(np.clip(early_learnability, 0, 1),
                                  np.clip(early_rival, 0, 1)), "probability")
    if plain is not None and len(plain.probability) != n:
        raise CuratorError(f"the estimate with no class contested has "
                           f"{len(plain.probability)} values for {n} samples", param="plain")
    rows = []
    for c in fit.contested:
        members = np.flatnonzero(labels == c)
        drawn = sample_answers(_review_permutation(members, c, seed), is_answered)
        bad = int(is_wrong[drawn].sum())
        low, high = wilson(bad, len(drawn))
        before = int((p[members] >= FLAG_AT).sum())  # the model's, before any answer
        recounted = len(drawn) >= COUNT_MIN and not low <= before / len(members) <= high
        rows.append((int(c), members, drawn, bad, low, high, before, recounted))
        if recounted:
            k = int(round(bad / len(drawn) * len(members)))
            ranked = np.sort(logit[members])[::-1]
            theta = (ranked[0] + 1 if k == 0 else ranked[-1] - 1 if k >= len(members)
                     else (ranked[k - 1] + ranked[k]) / 2)
            moved = 1 / (1 + np.exp(-(logit[members] - theta)))
            # the counted number flagged; below the level, no member gains probability (a
            # sample the estimate did not suspect does not become suspected by the shift)
            p[members] = np.where(moved >= FLAG_AT, moved, np.minimum(p[members], moved))

    flagged = fit.flagged  # the flags before any answer, and the plain estimate's: once
    plain_flagged = None if plain is None else plain.flagged

    def contradicted(by: np.ndarray, drawn: np.ndarray) -> int:  # by the answers
        return int((by[drawn] != is_wrong[drawn]).sum())

    counts = [ClassCount(c, len(drawn), bad, round(low, 4), round(high, 4), before,
                         int((p[members] >= FLAG_AT).sum()), len(members), recounted,
                         *((None,) * 3 if plain_flagged is None else
                           (int(plain_flagged[members].sum()),
                            contradicted(flagged, drawn),
                            contradicted(plain_flagged, drawn))))
              for c, members, drawn, bad, low, high, before, recounted in rows]
    withdrawn = None
    extra: dict[str, object] = {}
    if (plain is not None and all(c.answered >= COUNT_MIN for c in counts)
            and sum(int(c.plain_errors or 0) for c in counts)
            < sum(int(c.errors or 0) for c in counts)):
        withdrawn = lent(flagged, labels, fit.contested)
        p = np.where(np.isin(labels, fit.contested), p, plain.probability)
        extra = {"share": plain.share, "share_from": plain.share_from,
                 "outliers": plain.outliers}
    p[answered] = wrong
    counts = [replace(c, flagged_after=int((p[members] >= FLAG_AT).sum()))
              for c, (_, members, *_) in zip(counts, rows, strict=True)]
    return replace(fit, probability=p.astype(np.float32), counts=tuple(counts),
                   answered=len(answered), withdrawn=withdrawn, **extra)


def relabel_plan(flagged: np.ndarray, suggested: np.ndarray, confidence: np.ndarray, *,
                 at: float = RELABEL_AT) -> tuple[np.ndarray, np.ndarray]:
    """(relabel, drop), each (N,) bool, of the ``flagged`` samples: relabel those with a
    suggested class (``suggested`` >= 0) of ``confidence`` at least ``at``, drop the rest of
    the flagged; every other sample is kept as it is."""
    flagged = np.asarray(flagged, dtype=bool)
    if not 0 <= at <= 1:
        raise CuratorError(f"the relabel level must be in [0, 1], but got {at}", param="at")
    relabel = flagged & (np.asarray(suggested) >= 0) & (np.asarray(confidence) >= at)
    return relabel, flagged & ~relabel


def most_likely_first(probability: np.ndarray, confidence: np.ndarray | None = None
                      ) -> np.ndarray:
    """Every index, the highest probability of a wrong label first; ties broken by the
    suggestion's confidence (highest first, where given), then by index."""
    p = -np.asarray(probability, dtype=np.float64)
    if confidence is None:
        return np.argsort(p, kind="stable")
    return np.lexsort((-np.asarray(confidence, dtype=np.float64), p))


def unsure_first(flagged: np.ndarray, probability: np.ndarray, suggested: np.ndarray,
                 confidence: np.ndarray, *, at: float = RELABEL_AT) -> np.ndarray:
    """The ``flagged`` samples (indices) in the order a person's answers add most to
    relabelling (`curator review`'s queue "unsure", then `curator relabel --answers`): first
    those :func:`relabel_plan` at ``at`` would drop, having no suggestion that sure, the most
    likely wrong first (``probability``; ties, the surer suggestion first); then those it
    would relabel, the least sure suggestion first. An answer to the first kind turns a drop
    into the right label (or a keep); to the second, it catches a wrong relabel. Measured
    (benchmarks/RESULTS.md, "A person's answers for relabelling"; 40% of the labels flipped,
    every noise family): with answers to a quarter of the flagged in this order,
    relabelling was above dropping in 8 of digits' 10 cells and in all 5 of Fashion-MNIST
    20,000's, by 0.55 to 2.38 points there; in the order of the flags (most likely wrong
    first), in 6 and 5, by 0.20 to 1.12 points less on Fashion-MNIST."""
    relabel, drop = relabel_plan(flagged, suggested, confidence, at=at)
    p = np.asarray(probability, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    dropped = np.flatnonzero(drop)
    dropped = dropped[most_likely_first(p[dropped], conf[dropped])]
    relabelled = np.flatnonzero(relabel)
    relabelled = relabelled[np.argsort(conf[relabelled], kind="stable")]
    return np.concatenate([dropped, relabelled]).astype(np.int64)


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
                         labels: np.ndarray | None, *, early_rival: np.ndarray | None = None,
                         share: float | None = None, share_from: str | None = "reference",
                         seed: int = 0, contest: bool = True) -> MislabelFit:
    """The default estimate (:data:`DEFAULT_PARTS`; docs/flags.md, "How it decides").

    1. Evidence: a two-component mixture of the margin before memorising (``early_aum``)
       per class; the data hold a population of wrong labels only if some class's low
       component has a negative mean (the model, on average, prefers another class for
       those samples) and stands apart from the rest (Ashman's D at least
       :data:`SEPARATION`), the rest being accepted (a positive mean: a class the model has
       learned). Neither holds on clean data, nor for a weak model's hard samples.
    2. Per sample, the smaller of two posteriors: under the low component of its class's
       margin mixture, and under the low component of a mixture of logit(``early_learnability``)
       over all samples — within its class an atypical but clean member of an easy class
       looks rejected, over all samples a clean member of a hard class does; a wrong label
       looks rejected both ways. The second view counts only where its own mixture
       separates (the same test as step 1).
    3. Only a label in doubt can be wrong (:func:`in_doubt`): one the model rejects
       (``early_aum`` below 0) or, in a class whose rejected samples do not stand apart,
       one whose rival gets at least :data:`DOUBT` of its probability. In a contested
       class (:func:`contested_classes`, with ``early_rival``), whose rejected samples are
       not apart but which the model has narrowed down to two classes, its probability is
       the rival's share of the two, rival / (label + rival): flagged where the model
       prefers the rival; where the mixture over all samples of step 2 does not find the
       wrong labels apart either, the larger of that and the posterior of step 2 (for a
       label in doubt). A contested class is evidence too: the posteriors of step 2 then
       count in the other classes.
    4. Where step 1 finds no such class and none is contested — real data's few wrong
       labels are too few to form a component —, the outliers the model is sure of
       (:func:`confident_outliers`, with
       ``early_rival``, the mean probability of the most likely other class before
       memorising; without it nothing).

    The priors of the low components are the mixtures' own weights, or ``share`` when it is
    above 0 (:func:`_prior`) and no class is contested. ``contest`` False: no class is
    contested (what :func:`recount` falls back on where a person's counts prefer it)."""
    logit = transform(early_learnability, "probability")
    _check_values(logit, "early_learnability", None)
    n = len(early_aum)
    if len(logit) != n:
        raise CuratorError(f"early_learnability has {len(logit)} values for {n} samples",
                           param="early_learnability")
    fitted = _groups_of(early_aum, by="early_aum", scale="margin", seed=seed,
                        labels=labels)  # (checks early_aum and the labels)
    contested: list[np.ndarray] = []
    doubt = None  # the rejected labels
    if early_rival is not None and labels is not None and fitted is not None:
        num_classes = len(np.unique(labels))
        contested = contested_classes(fitted.classes, early_learnability, early_rival,
                                      num_classes) if contest else []
        if contested and _prior(share) is not None:
            # flips to a look-alike class are what contests a class, and the test split's
            # share under-counts them (the model often agrees with such a label): the
            # mixtures' own weights are the priors instead
            share = None
        doubt = in_doubt(early_aum, early_learnability, early_rival, fitted.classes,
                         num_classes)
    within, candidate = _fit_mixtures(early_aum, by="early_aum", scale="margin", seed=seed,
                                      share=share, share_from=share_from, labels=labels,
                                      fitted=fitted, doubt=doubt)
    if contested:  # wrong labels are there: the posteriors count in the other classes
        within = replace(within, probability=candidate)
    if n < 10 or np.ptp(logit) < 1e-9:
        overall = _nothing(n, "early_learnability", share, share_from)
    else:  # the second opinion: its posterior, whether or not the sample's margin is < 0
        pooled = _fit_groups(logit, None, seed)
        post, separation = _posteriors(pooled, _prior(share))
        overall = MislabelFit(post, (Mixture("early_learnability",
                                             *_summary(pooled.gmm, pooled.order),
                                             found(separation), False, separation),),
                              share, share_from)
    # the second view vetoes only where it sees wrong labels itself: a mixture over all
    # samples that does not separate (40% flips inside confusable pairs put every label of
    # a pair near one half) says nothing about any one sample
    fit = combined([within, overall]) if overall.noise_found else replace(
        within, mixtures=within.mixtures + overall.mixtures)
    if contested:
        # where the second view does not find the wrong labels apart either, the two
        # posteriors speak for a label in doubt in a contested class too (estimate 8)
        second = None if overall.noise_found else np.minimum(candidate, overall.probability)
        fit = replace(fit, probability=_contested_probability(
            fit.probability, contested, early_aum, early_learnability, early_rival,  # type: ignore[arg-type]
            second), contested=tuple(int(np.asarray(labels)[at[0]]) for at in contested))
    elif not within.noise_found and early_rival is not None and labels is not None:
        outliers = confident_outliers(early_aum, early_learnability, early_rival, labels)
        if outliers.any():
            rival = np.asarray(early_rival, dtype=np.float32)
            return replace(fit, probability=np.where(outliers, rival, 0).astype(np.float32),
                           outliers=int(outliers.sum()))
    if _prior(share) is None and fit.noise_found:  # the prior the posteriors used: the
        # mixtures' own weights, summed up as the expected share (what `suspected` compares)
        fit = replace(fit, share=fit.estimated_share, share_from="mixtures")
    return fit


def contested_classes(classes: Sequence[tuple[np.ndarray, float | None]],
                      early_learnability: np.ndarray, early_rival: np.ndarray,
                      num_classes: int) -> list[np.ndarray]:
    """The indices of each contested class: one whose margin mixture has a low component the
    model rejects on average but not apart from the rest (``classes``: each class's indices
    and :func:`_rejected_separation`, below :data:`SEPARATION`), and whose samples the
    model, before memorising, has narrowed down to two classes — the mean of
    ``early_learnability`` + ``early_rival`` (the probability of the label and of the most
    likely other class) at least :data:`CONTESTED`. Flips inside confusable pairs, to one
    class, or towards the class an image resembles make such classes: the wrong labels sit
    at the boundary between the label and one rival, beside the clean samples that look
    like the rival, so no component stands apart. A class the model has not learned (a
    weak model's clean data) spreads its probability over many classes instead. Only where
    hesitating says something (:func:`hesitation_tells`, ``num_classes``).

    Where some class is contested, so is a class *flooded* by such flips: in doubt as a
    whole (its mean ``early_rival`` at least :data:`DOUBT` times its mean
    ``early_learnability``) with no rejected component apart from the rest (D None or below
    :data:`SEPARATION`), whether or not it is narrowed down to two. With an MLP (Fashion-MNIST
    20,000, 40% instance-dependent flips: Coat) the flips, two thirds of its labels, spread
    their margins around 0 and the mixture takes a wide and a narrow component around one
    centre (D None; benchmarks/RESULTS.md, "A class flooded by look-alike flips"); with a
    CNN, T-shirt/top, Pullover, Coat and Shirt, 50-84% flips from several look-alike
    classes, share their probability among those (label + rival 0.72-0.76) and keep the wrong
    majority in their high component (estimate 15; "A class flooded from several
    look-alikes")."""
    prob = np.asarray(early_learnability, dtype=np.float64)
    rival = np.asarray(early_rival, dtype=np.float64)
    if len(rival) != len(prob):
        raise CuratorError("early_rival and early_learnability differ in length",
                           param="early_rival")
    if float((prob + rival).mean()) < CONTESTED or not hesitation_tells(num_classes):
        return []  # spread: a weak model

    def not_apart(d: float | None) -> bool:  # a rejected component, not apart from the rest
        return d is not None and d < SEPARATION

    def narrowed(at: np.ndarray) -> bool:
        return float((prob[at] + rival[at]).mean()) >= CONTESTED

    def flooded(at: np.ndarray, d: float | None) -> bool:
        return ((d is None or not_apart(d))
                and float(rival[at].mean()) >= DOUBT * float(prob[at].mean()))

    contested = [not_apart(d) and narrowed(at) for at, d in classes]  # each class's mean once
    if not any(contested):
        return []
    return [at for (at, d), c in zip(classes, contested, strict=True) if c or flooded(at, d)]


def hesitation_tells(num_classes: int) -> bool:
    """Whether the model's hesitating between a sample's label and its most likely other
    class (the rival) says more than a low probability of the label does: only with more
    than two classes. With two, the rival's probability is 1 - the label's for every sample
    (:func:`contested_classes`, :func:`in_doubt`)."""
    return num_classes > 2


def in_doubt(early_aum: np.ndarray, early_learnability: np.ndarray, early_rival: np.ndarray,
             classes: Sequence[tuple[np.ndarray, float | None]], num_classes: int
             ) -> np.ndarray:
    """(N,) bool: the samples whose label may be wrong, for the posteriors to weigh. A label
    the model rejects before memorising (``early_aum`` below 0), in every class; in a class
    whose rejected samples do not stand apart (``classes``: each class's indices and
    :func:`_rejected_separation`, below :data:`SEPARATION` or None) but which the model has
    learned (D not 0), also a label whose rival gets at least :data:`DOUBT` of its
    probability (``early_rival`` >= DOUBT x ``early_learnability``). Where wrong labels stand
    apart, they are the rejected component, and the samples at the boundary are the class's
    hard clean ones; where they do not, they sit at the boundary themselves — flips towards
    the class an image resembles, which the model gives their wrong label about half the
    time (benchmarks/RESULTS.md, "Labels in doubt"). Only where hesitating says something
    (:func:`hesitation_tells`, ``num_classes``)."""
    margin = np.asarray(early_aum, dtype=np.float64)
    prob = np.asarray(early_learnability, dtype=np.float64)
    rival = np.asarray(early_rival, dtype=np.float64)
    if not len(margin) == len(prob) == len(rival):
        raise CuratorError("early_aum, early_learnability and early_rival differ in length",
                           param="early_rival")
    out = margin < 0
    if not hesitation_tells(num_classes):
        return out
    hesitant = rival >= DOUBT * prob
    for at, d in classes:
        if d is None or 0 < d < SEPARATION:  # 0: a class the model has not learned
            out[at] |= hesitant[at]
    return out


def _contested_probability(probability: np.ndarray, contested: Sequence[np.ndarray],
                           early_aum: np.ndarray, early_learnability: np.ndarray,
                           early_rival: np.ndarray, second: np.ndarray | None = None
                           ) -> np.ndarray:
    """``probability`` with each contested class's samples set to the rival's share of the
    two probabilities, rival / (label + rival), where the model rejects the label
    (``early_aum`` below 0), else 0: of the two classes the model hesitates between, how
    likely the sample is the other one; or to ``second`` (the smaller of the two posteriors,
    0 where the label is not in doubt) where that is larger."""
    out = np.array(probability, dtype=np.float32, copy=True)
    margin = np.asarray(early_aum, dtype=np.float64)
    shares = rival_share(early_learnability, early_rival)
    for at in contested:
        out[at] = np.where(margin[at] < 0, shares[at], 0.0)
        if second is not None:
            out[at] = np.maximum(out[at], second[at])
    return out


def confident_outliers(early_aum: np.ndarray, early_learnability: np.ndarray,
                       early_rival: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) bool: the samples the model, before memorising, is sure belong to another class,
    and that stand out from their class. Both must hold:

    - *confident*: the most likely other class gets at least the probability the model
      gives a typical member of the sample's class its label (``early_rival`` at least the
      class's mean ``early_learnability``: confident learning's per-class threshold,
      Northcutt, Jiang, Chuang 2021, arXiv:1911.00068, with the given class's threshold for
      the other class's, which is not recorded), in a class the model has learned (that
      mean at least 1/2);
    - *an outlier*: ``early_aum`` below 0 and below its class's lower fence Q1 - 1.5 IQR
      (Tukey 1977, "Exploratory Data Analysis").

    Each alone flags clean samples (docs/flags.md, step 3): the ambiguous members of a
    class the model is unsure of, the far tail of a class a weak model barely learns."""
    margin = np.asarray(early_aum, dtype=np.float64)
    prob = np.asarray(early_learnability, dtype=np.float64)
    rival = np.asarray(early_rival, dtype=np.float64)
    labels = np.asarray(labels)
    if not (len(margin) == len(prob) == len(rival) == len(labels)):
        raise CuratorError("early_aum, early_learnability, early_rival and labels differ in "
                           "length", param="early_rival")
    out = np.zeros(len(margin), dtype=bool)
    for at in _class_members(labels):
        if len(at) < MIN_CLASS:
            continue
        typical = float(prob[at].mean())
        if typical < 0.5:
            continue
        q1, q3 = np.percentile(margin[at], [25, 75])
        fence = min(0.0, q1 - 1.5 * (q3 - q1))
        out[at] = (rival[at] >= typical) & (margin[at] < fence)
    return out


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
    at random), and the order of its components, low mean first.

    The likelihood of a Gaussian mixture grows without bound as a component shrinks onto a
    single value, so a fit may spend a component on one outlier (on digits with 40% flips
    inside pairs, one sample of 142 with a variance of 1e-6, Ashman's D 13.4, while the 41%
    of flipped labels shared the other component). A component holding fewer than
    :data:`COLLAPSED` of the values (or :data:`COLLAPSED_COUNT`) is such a collapse, not a
    population: the mixture is then fitted again to the values winsorized at :data:`COLLAPSED`
    on each side, so that no outlier stands alone."""
    from sklearn.mixture import GaussianMixture

    def fit(values: np.ndarray) -> GaussianMixture:
        return GaussianMixture(2, n_init=2, random_state=seed, reg_covar=1e-6).fit(
            values.reshape(-1, 1))

    rng = np.random.default_rng(seed)
    sample = x if len(x) <= FIT_SAMPLES else x[rng.choice(len(x), FIT_SAMPLES, replace=False)]
    gmm = fit(sample)
    if _collapsed(gmm, len(sample)):
        gmm = fit(np.clip(sample, *np.quantile(sample, [COLLAPSED, 1 - COLLAPSED])))
    return gmm, np.argsort(gmm.means_.ravel())


def _collapsed(gmm: object, n: int) -> bool:
    """Whether a fitted mixture of ``n`` values has a component of fewer than
    :data:`COLLAPSED` of them, or fewer than :data:`COLLAPSED_COUNT` (:func:`_mixture`)."""
    smallest = float(gmm.weights_.min()) * n  # type: ignore[attr-defined]
    return smallest < max(COLLAPSED_COUNT, COLLAPSED * n)


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


@dataclass(frozen=True)
class _Mixtures:
    """The mixtures of one score, fitted once (the priors are applied afterwards, so a
    change of prior needs no new fit): the mixture over all samples with the order of its
    components, the groups it is applied to — (indices, mixture, order, its
    :func:`_rejected_separation`) —, of those the classes fitted on their own, and the
    values they were fitted to (on the score's scale, :func:`transform`)."""

    gmm: object
    order: np.ndarray
    groups: list[tuple[np.ndarray | slice, object, np.ndarray, float | None]]
    classes: list[tuple[np.ndarray, float | None]]  # (indices, separation) of each class
    x: np.ndarray


def _fit_groups(x: np.ndarray, labels: np.ndarray | None, seed: int) -> _Mixtures:
    """One mixture per class with ``labels`` (a class of fewer than :data:`MIN_CLASS`
    samples taking the mixture of all samples), one over all without."""
    gmm, order = _mixture(x, seed)
    groups: list[tuple[np.ndarray | slice, object, np.ndarray, float | None]] = []
    if labels is None:
        groups.append((slice(None), gmm, order, _rejected_separation(gmm, order)))
        return _Mixtures(gmm, order, groups, [], x)
    members = _class_members(labels)
    small = [at for at in members if len(at) < MIN_CLASS]
    if small:
        groups.append((np.concatenate(small), gmm, order, _rejected_separation(gmm, order)))
    classes: list[tuple[np.ndarray, float | None]] = []
    for at in members:
        if len(at) >= MIN_CLASS and np.ptp(x[at]) >= 1e-9:
            mixture, low_first = _mixture(x[at], seed)
            d = _rejected_separation(mixture, low_first, one_class=True)
            if found(d) and _tail_only(mixture, low_first, x[at]):
                d = 0.0  # apart, but the far tail of the rejected samples (estimate 13)
            groups.append((at, mixture, low_first, d))
            classes.append((at, d))
    return _Mixtures(gmm, order, groups, classes, x)


def _tail_only(gmm: object, order: np.ndarray, x: np.ndarray) -> bool:
    """Whether a class's low component holds fewer than :data:`CLAIMED` of the samples the
    model rejects (``x`` < 0; a sample is held where its posterior under the low component
    is at least 1/2).

    Such a component is the far tail of the rejected samples, not them: with 40% of the
    labels flipped inside pairs (Fashion-MNIST 20,000, some draws of the flips) a class's
    flips sit at margins around -0.3 beside its clean samples around +0.4, and the mixture
    of highest likelihood spends its low component on the 2% far below (mean -2.4) and its
    high one on both heaps together. That component is apart (Ashman's D 3.1), so the
    class counted as having found its wrong labels and flagged the 2%; its rejected samples
    are in truth not apart from the rest, and the class is treated so (D 0: contested where
    the model has narrowed it down to two classes, :func:`contested_classes`)."""
    rejected = x[x < 0]
    if not len(rejected):
        return False
    low = gmm.predict_proba(rejected.reshape(-1, 1))[:, order[0]]  # type: ignore[attr-defined]
    return float((low >= 0.5).mean()) < CLAIMED


def _posteriors(fitted: _Mixtures, prior: float | None) -> tuple[np.ndarray, float | None]:
    """Every fitted value's posterior under the low component of its group's mixture, with
    ``prior`` (None: each mixture's own weight), and the largest
    :func:`_rejected_separation` of the mixtures (None: no low component has a negative
    mean)."""
    x = fitted.x
    prob = np.zeros(len(x), np.float32)
    for at, mixture, low_first, _ in fitted.groups:
        prob[at] = _posterior(mixture, low_first, x[at], prior)
    return prob, _separation(fitted)


def _separation(fitted: _Mixtures) -> float | None:
    """The largest :func:`_rejected_separation` of the fitted groups' mixtures; None where
    no low component has a negative mean."""
    ds = [d for _, _, _, d in fitted.groups if d is not None]
    return max(ds) if ds else None


def _class_members(labels: np.ndarray) -> list[np.ndarray]:
    """The indices of each class present in ``labels``, in class order, from one sort (not
    one scan of all labels per class)."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    _, counts = np.unique(labels, return_counts=True)
    return np.split(order, np.cumsum(counts)[:-1])


def _nothing(n: int, by: str, share: float | None, share_from: str | None,
             per_class: bool = False) -> MislabelFit:
    """The fit of values with nothing to separate (too few, or all equal): no flags."""
    return MislabelFit(np.zeros(n, np.float32), (Mixture(by, (0.0, 0.0), (0.0, 0.0),
                                                         (1.0, 0.0), False, per_class),),
                       share, share_from)


def _rejected_separation(gmm: object, order: np.ndarray, one_class: bool = False
                         ) -> float | None:
    """How far a mixture's low component is from its high one, Ashman's D = sqrt(2) |m1 -
    m0| / sqrt(s0^2 + s1^2), when the model rejects the low component on average (mean
    below 0); None when it does not. D of at least :data:`SEPARATION` is a clean separation
    of two normal components (Ashman, Bird, Zeps 1994, "Detecting bimodality in
    astronomical datasets"): wrong labels rather than the hard end of one population.

    Apart from what, though: wrong labels are rejected beside samples the model accepts.
    In the mixture of one class (``one_class``), where the high component is rejected too
    (its mean at or below 0: the model has not learned the class, and its low end is the
    hardest of a class it takes for others), D is 0 — no separation from an accepted rest
    (estimate 6: on mnist1d with 40% instance-dependent flips, a class the MLP rejects as a
    whole, margins -1.38 and -0.14, reached D 2.10, and the flags it let in were right less
    often than a random draw)."""
    means = gmm.means_.ravel()[order]  # type: ignore[attr-defined]
    if means[0] >= 0:
        return None
    if one_class and means[1] <= 0:
        return 0.0
    var = gmm.covariances_.ravel()[order]  # type: ignore[attr-defined]
    return float(np.sqrt(2) * abs(means[1] - means[0]) / np.sqrt(max(var[0] + var[1], 1e-12)))


def found(separation: float | None) -> bool:
    """Whether a mixture with this :func:`_rejected_separation` found wrong labels."""
    return separation is not None and separation >= SEPARATION


def _check_values(x: np.ndarray, by: str, labels: np.ndarray | None) -> None:
    if not np.isfinite(x).all():
        raise CuratorError(f"values of score {by!r}: {int((~np.isfinite(x)).sum())} are not "
                           "finite", param="values")
    if labels is not None and len(labels) != len(x):
        raise CuratorError(f"labels has {len(labels)} entries for {len(x)} values",
                           param="labels")


def _prior(share: float | None) -> float | None:
    """The prior of the low components: the share of wrong labels that the test split
    implies when it implies some; else (None) each mixture's own weight. A share of 0 is no
    evidence against wrong labels: a test split whose labels are as noisy as the training
    labels implies 0 (docs/flags.md)."""
    return float(share) if share is not None and share > 0 else None


def fit_mislabelled(values: np.ndarray, *, by: str, scale: str, seed: int = 0,
                    share: float | None = None, share_from: str | None = None,
                    labels: np.ndarray | None = None) -> MislabelFit:
    """Fit the two-component mixture to the score ``by``'s ``values`` (higher = easier), on
    its ``scale`` ("probability": through the logit; "margin": as they are).

    With ``labels`` (the given label of each value), one mixture is fitted per class, so a
    class that is hard as a whole is not taken for wrong labels; a class with fewer than
    :data:`MIN_CLASS` samples takes the mixture fitted to all of them, whose summary the fit
    keeps either way. A sample's probability of a wrong label is its posterior under its
    mixture's low component if the model rejects its label (its value below 0 on the scale)
    and at least one mixture's low component is rejected on average and apart from its high
    one (Ashman's D at least :data:`SEPARATION`: the evidence that the low values are wrong
    labels rather than hard samples); else 0. ``share``
    (:func:`first_epoch_share` or :func:`noise_share`), when above 0, is the prior of every
    low component; otherwise each mixture's own weight is. ``share_from`` names what gave
    ``share`` (kept with the fit)."""
    return _fit_mixtures(values, by=by, scale=scale, seed=seed, share=share,
                         share_from=share_from, labels=labels)[0]


def _groups_of(values: np.ndarray, *, by: str, scale: str, seed: int,
               labels: np.ndarray | None) -> _Mixtures | None:
    """The mixtures of a score's ``values`` on its ``scale`` (one per class with
    ``labels``), after checking them; None when there is nothing to separate (fewer than 10
    values, or all alike)."""
    if scale not in SCALE_NAMES:
        raise CuratorError(f"scale {scale!r} of score {by!r} is not one of "
                           f"{', '.join(SCALE_NAMES)}", param="scale")
    x = transform(values, scale)
    _check_values(x, by, labels)
    if len(x) < 10 or np.ptp(x) < 1e-9:
        return None
    return _fit_groups(x, labels, seed)


def _fit_mixtures(values: np.ndarray, *, by: str, scale: str, seed: int,
                  share: float | None, share_from: str | None, labels: np.ndarray | None,
                  fitted: _Mixtures | None = None, doubt: np.ndarray | None = None
                  ) -> tuple[MislabelFit, np.ndarray]:
    """:func:`fit_mislabelled`'s fit; beside it each sample's posterior where its label is
    in ``doubt`` (default: where the model rejects it) whether or not the mixtures are apart
    (what the fit's probability is when they are). ``fitted``: the mixtures of these values
    (:func:`_groups_of`), when the caller has them already."""
    fitted = fitted or _groups_of(values, by=by, scale=scale, seed=seed, labels=labels)
    n = len(values)
    per_class = labels is not None
    if fitted is None:  # nothing to separate
        return _nothing(n, by, share, share_from, per_class), np.zeros(n, np.float32)
    x = fitted.x
    post, separation = _posteriors(fitted, _prior(share))
    rejected = found(separation)
    candidate = np.where(x < 0 if doubt is None else doubt, post, 0).astype(np.float32)
    prob = candidate if rejected else np.zeros(n, np.float32)
    fit = MislabelFit(prob, (Mixture(by, *_summary(fitted.gmm, fitted.order), rejected,
                                     per_class, separation),), share, share_from)
    if _prior(share) is None and rejected:  # the expected share stands for the prior
        fit = replace(fit, share=fit.estimated_share, share_from="mixtures")
    return fit, candidate


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


def during_epochs(after: np.ndarray, start: float) -> np.ndarray:
    """(R, T) test accuracies (or errors) after each epoch -> what each epoch's training pass
    met, on average: the mean of the value after the epoch before (``start``, chance, before
    the first) and after this one. The one reading of a training pass that
    :func:`early_window` and :func:`curator.scores.error_rates` share."""
    values = np.asarray(after, dtype=np.float64)
    before = np.concatenate([np.full((len(values), 1), start), values[:, :-1]], axis=1)
    return (before + values) / 2


def early_window(test_acc: np.ndarray | None, num_epochs: int,
                 test_samples: int | None = None, num_classes: int | None = None,
                 test_loss: np.ndarray | None = None) -> int:
    """Epochs read by ``early_aum`` and ``early_learnability`` (the window before memorising):
    up to the first (1-based) epoch whose mean test accuracy over the runs is level with the
    best one: within one standard error sqrt(a (1 - a) / m) of the best accuracy a, the
    sampling error of an accuracy measured on ``test_samples`` = m test samples (the
    one-standard-error rule of model selection — Breiman et al. 1984, "Classification and
    Regression Trees"; Hastie, Tibshirani, Friedman, "The Elements of Statistical
    Learning", section 7.10 —, with the epochs trained as the complexity). A model that
    creeps up for tens of epochs after that (a weak one, whose test accuracy memorising does
    not lower) memorises wrong labels in them. Without ``test_samples``, the epoch of the
    best mean; without test accuracies, the first ceil(T/5).

    Where the test labels are wrong the way the training labels are (flips towards the class
    an image resembles, in both splits: real data), memorising the training flips can raise
    the test accuracy too, for tens of epochs, while the test loss climbs. So with
    ``test_loss`` (R, T), the best accuracy is sought only among the epochs before
    :func:`memorising_onset`, when the window would reach it; and the window lasts at least
    until the loss has settled (:func:`loss_settled`): on a small test split with labels as
    noisy as the training labels, the accuracy can stay level within its standard error for
    epochs in which the model still learns.

    An epoch's statistics are read in its training pass, from a model half an epoch, on
    average, before the epoch's end (as :func:`curator.scores.error_rates` compares them).
    So when the model reached the level only during that epoch — the mean of the test
    accuracies before it (chance, 1 / ``num_classes``, before the first) and after it is
    below the level — the window takes one epoch more: a model that learns a distinction in
    one epoch (a text model telling two topics apart) has not yet shown it in that epoch's
    statistics."""
    return window_parts(test_acc, num_epochs, test_samples, num_classes, test_loss).epochs


@dataclass(frozen=True)
class WindowParts:
    """:func:`early_window` and what ended it: ``loss_rose_from``, the epoch from which the
    test loss had clearly risen, where that ended the window sooner than the accuracy
    would have (:func:`memorising_onset`); ``loss_settled``, whether the loss settling
    later than the accuracy made it longer (:func:`loss_settled`)."""

    epochs: int
    loss_rose_from: int | None = None
    loss_settled: bool = False


def window_parts(test_acc: np.ndarray | None, num_epochs: int,
                 test_samples: int | None = None, num_classes: int | None = None,
                 test_loss: np.ndarray | None = None) -> WindowParts:
    """:func:`early_window`, with what ended it (what ``curator flag`` says)."""
    acc = np.asarray([] if test_acc is None else test_acc, dtype=np.float64)
    if acc.size == 0 or not np.isfinite(acc).all():
        return WindowParts(max(1, -(-num_epochs // 5)))
    mean = acc.reshape(-1, num_epochs).mean(axis=0)
    window = _accuracy_window(mean, test_samples, num_classes)
    if test_loss is None:
        return WindowParts(window)
    onset = memorising_onset(test_loss, num_epochs)
    rose = onset is not None and window >= onset
    if rose:
        window = _accuracy_window(mean[:onset - 1], test_samples, num_classes)
    settled = loss_settled(test_loss, num_epochs, num_classes)
    if settled is not None and settled > window:
        return WindowParts(settled, onset if rose else None, True)
    return WindowParts(window, onset if rose else None)


def _accuracy_window(mean: np.ndarray, test_samples: int | None,
                     num_classes: int | None) -> int:
    """:func:`early_window`'s rule on the mean test accuracy per epoch (T,)."""
    best = float(mean.max())
    level = best
    if test_samples:
        level = best - WINDOW_Z * float(np.sqrt(best * (1 - best) / test_samples))
    first = int(np.argmax(mean >= level))  # 0-based: the first epoch at the level
    met = during_epochs(mean[None], 1 / num_classes if num_classes else 0.0)[0]
    return _window_end(first, met[first] >= level, len(mean))


def _window_end(first: int, met: bool, num_epochs: int) -> int:
    """The window (1-based epochs) that ends at the 0-based epoch ``first``, where a curve
    reached its level, and one epoch more where that epoch's training pass had not ``met``
    it yet: the pass reads the model half an epoch, on average, before the epoch's end."""
    return first + 1 if met else min(first + 2, num_epochs)


def _loss_curve(test_loss: np.ndarray, num_epochs: int) -> tuple[np.ndarray, float] | None:
    """The mean test loss over the runs per epoch and its noise, sqrt(mean(diff^2) / 2) —
    von Neumann's mean square successive difference, which a slow trend barely moves (von
    Neumann, Kent, Bellinson, Hart 1941, "The mean square successive difference"), so one
    run serves as well as several —; None with fewer than 3 epochs, without a loss for every
    epoch (a run recorded without ``test_loss``) or a flat curve."""
    loss = np.asarray(test_loss, dtype=np.float64).reshape(-1, num_epochs)
    if num_epochs < 3 or loss.size == 0 or not np.isfinite(loss).all():
        return None
    mean = loss.mean(axis=0)
    noise = float(np.sqrt(np.mean(np.diff(mean) ** 2) / 2))
    return (mean, noise) if noise > 0 else None


def loss_settled(test_loss: np.ndarray, num_epochs: int, num_classes: int | None = None
                 ) -> int | None:
    """The first (1-based) epoch whose mean test loss over the runs is within
    :data:`WINDOW_Z` times the curve's noise of its minimum (:func:`_loss_curve`): the loss's
    one-standard-error epoch. As in :func:`early_window`, an epoch's statistics are read in
    its training pass, half an epoch before its end: where the loss that pass met — the
    mean of the losses after the epoch before (before the first, log ``num_classes``, an
    untrained model's) and after this one — is still above that level, one epoch more (on
    digits with 40% one-target flips in both splits: settled after epoch 4, 0.838 against a
    level of 0.857, but met at 0.859 in its pass; benchmarks/RESULTS.md, "The loss's
    settling epoch, half an epoch later"). None where :func:`_loss_curve` is."""
    curve = _loss_curve(test_loss, num_epochs)
    if curve is None:
        return None
    mean, noise = curve
    level = mean.min() + WINDOW_Z * noise
    first = int(np.argmax(mean <= level))  # 0-based
    met = during_epochs(mean[None], float(np.log(num_classes)) if num_classes else mean[0])[0]
    return _window_end(first, met[first] <= level, num_epochs)


def memorising_onset(test_loss: np.ndarray, num_epochs: int) -> int | None:
    """The first (1-based) epoch after the minimum of the mean test loss over the runs
    (``test_loss``, (R, T)) whose loss is at least :data:`LOSS_Z` times the curve's noise
    (:func:`_loss_curve`) above that minimum; None where there is none, or where
    :func:`_loss_curve` is None. A model that memorises wrong labels grows sure of
    predictions that the test labels contradict, and its test loss rises, whatever its test
    accuracy does (early stopping on the validation loss: Prechelt, "Early Stopping — But
    When?", 1998)."""
    curve = _loss_curve(test_loss, num_epochs)
    if curve is None:
        return None
    mean, noise = curve
    low = int(np.argmin(mean))
    risen = np.flatnonzero(mean[low + 1:] >= mean[low] + LOSS_Z * noise)
    return low + 2 + int(risen[0]) if len(risen) else None


@dataclass(frozen=True)
class SeparationWindow:
    """:func:`separation_window`'s answer: the window (``epochs``) and, where memorising had
    eroded the separation within the window of the curves (``of``), the shorter window where
    it peaked (``peak``), its separation there (``peak_separation``) and at ``of``
    (``separation``); ``peak`` None where the window stays."""

    epochs: int
    of: int
    peak: int | None = None
    peak_separation: float | None = None
    separation: float | None = None

    @property
    def params(self) -> dict[str, object]:
        return {"epochs": self.epochs, "of": self.of, "peak": self.peak,
                "peak_separation": self.peak_separation, "separation": self.separation}

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> SeparationWindow:
        def num(v: object) -> float | None:
            return None if v is None else float(v)  # type: ignore[arg-type]

        return cls(int(p["epochs"]), int(p["of"]), None if p.get("peak") is None
                   else int(p["peak"]), num(p.get("peak_separation")), num(p.get("separation")))


def window_candidates(window: int) -> np.ndarray:
    """The windows (1-based epochs, ascending, ``window`` the last) that
    :func:`separation_window` compares: every one up to ``window`` where there are at most
    :data:`WINDOW_CANDIDATES`, else that many, spaced geometrically from 1."""
    if window <= WINDOW_CANDIDATES:
        return np.arange(1, window + 1)
    return np.unique(np.round(np.geomspace(1, window, WINDOW_CANDIDATES)).astype(np.int64))


def window_sample_count(num_samples: int, num_classes: int) -> int:
    """How many samples (evenly strided) :func:`window_evidence` compares the windows on:
    :data:`WINDOW_SAMPLES`, or twice :data:`MIN_CLASS` per class where that is more, so that
    each class keeps a mixture of its own as the estimate over all samples fits it. With
    fewer, a class below :data:`MIN_CLASS` takes the mixture of all samples, which has no
    accepted rest to be apart from: on an ImageNet-sized file (1,000 classes, 50 strided
    samples per class) that mixture found wrong labels apart in 6 epochs where no class was
    learned yet, and the window ended there, where the estimate over all samples found none
    and flagged nothing (benchmarks/RESULTS.md, "Scale" and "The check of the early window at
    ImageNet size")."""
    return min(num_samples, max(WINDOW_SAMPLES, 2 * MIN_CLASS * num_classes))


def window_evidence(early_aum: np.ndarray, early_learnability: np.ndarray,
                    early_rival: np.ndarray, labels: np.ndarray) -> float | None:
    """How far apart the wrong labels stand in one window's early scores: the largest
    Ashman's D of the class mixtures of ``early_aum`` whose low component the model rejects
    (the evidence of :func:`estimate_mislabelled`, step 1). None where no low component is
    rejected, or where some class is contested (:func:`contested_classes`): there the wrong
    labels are not apart, and D is not their separation."""
    fitted = _groups_of(early_aum, by="early_aum", scale="margin", seed=0, labels=labels)
    if fitted is None or (separation := _separation(fitted)) is None:
        return None
    if contested_classes(fitted.classes, early_learnability, early_rival,
                         len(np.unique(labels))):
        return None
    return float(separation)


def may_shorten_window(fit: MislabelFit) -> bool:
    """Whether a default estimate found the wrong labels apart (Ashman's D at least
    :data:`SEPARATION`) with no class contested: where :func:`separation_window` may end
    the window it read sooner, and so where the shorter windows are worth comparing."""
    if not fit.mixtures or fit.contested:
        return False
    return found(fit.mixtures[0].separation)


def separation_window(separations: Sequence[tuple[int, float | None]], window: int
                      ) -> SeparationWindow:
    """The early window, shortened where memorising has eroded the evidence within it.

    ``separations``: (k, :func:`window_evidence` over the first k epochs) for the windows
    of :func:`window_candidates`, ``window`` (the window of the test curves,
    :func:`early_window`) among them. As the model fits the wrong labels, their margins rise
    towards the clean samples' and the two components of a class merge: the separation
    falls. Where the test labels carry the same flips and the flips are a function of the
    image (flips towards the class an image resembles), the model learning them raises the
    noisy test accuracy, so the window of the curves runs on into the memorising
    (benchmarks/RESULTS.md, "The window where memorising erodes the separation"). So where
    the window of the curves finds the wrong labels apart (D at least :data:`SEPARATION`,
    no class contested) but its D has fallen by more than :data:`SEPARATION_FALL` from the
    largest D of a shorter window, the window ends at the last of the shorter windows whose
    D is within that share of the peak. Elsewhere (clean data, whose window holds no
    evidence; a contested class; a separation that holds or grows) the window stays."""
    d = dict(separations)
    here = d.get(window)
    if here is None or not found(here):
        return SeparationWindow(window, window)
    shorter = {k: v for k, v in d.items() if k < window and v is not None}
    if not shorter:
        return SeparationWindow(window, window)
    peak = max(shorter, key=lambda k: (shorter[k], -k))  # the largest D, earliest on ties
    level = (1 - SEPARATION_FALL) * shorter[peak]
    if here >= level:
        return SeparationWindow(window, window)
    epochs = max(k for k, v in shorter.items() if v >= level)
    return SeparationWindow(epochs, window, peak, shorter[peak], here)
