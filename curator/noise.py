"""Label noise as benchmarks inject it: pure functions of arrays (labels in, labels out).

Real label noise is rarely uniform: human labellers confuse look-alike classes in both
directions (CIFAR-10N, Wei et al. 2022, "Learning with Noisy Labels Revisited: A Study Using
Real-World Human Annotations", arXiv:2110.12088), some classes are labelled worse than others,
and ambiguous samples are mislabelled more often than clear ones, towards the class they
resemble (Xia et al. 2020, "Part-dependent Label Noise", arXiv:2006.10229). Each kind here
flips ``round(fraction * N)`` labels and returns the new labels and the mask of flipped
samples:

- ``symmetric``: samples chosen uniformly, each to a uniformly chosen other class;
- ``asymmetric``: samples chosen uniformly, class c always to its most confusable class
  (``partner[c]``; Patrini et al. 2017, "Making Deep Neural Networks Robust to Label Noise:
  a Loss Correction Approach", arXiv:1609.03683, flip look-alike classes one way);
- ``pairs``: the classes paired with each other, most confusable pairs first
  (:func:`pair_classes`), and samples of paired classes flipped to their partner, in both
  directions (an odd class out stays clean);
- ``classdep``: class-dependent rates, from 0 (clean classes) to twice the mean rate, in an
  order drawn from the seed, each flipped sample to a uniformly chosen other class;
- ``instance``: instance-dependent: a sample is chosen with probability proportional to how
  close a separately trained model puts it to another class (its probability of the most
  likely other class, ``others``), and flipped to that class.
"""

from __future__ import annotations

import numpy as np

from curator.config import NOISE_KINDS, check_noise_kind
from curator.errors import DataError

__all__ = ["NOISE_KINDS", "flip_labels", "pair_classes"]


def _rng(seed: int, stream: int = 0) -> np.random.Generator:
    """The flips' generator: stream 0 draws as curator always has (files scored before the
    streams keep their flips), another stream independently."""
    entropy = [int(seed), 0x6E6F6973] + ([int(stream)] if stream else [])
    return np.random.default_rng(np.random.SeedSequence(entropy))


def pair_classes(distance: np.ndarray) -> np.ndarray:
    """(C,) the partner of each class: the closest two classes paired, then the closest two
    of the rest, and so on (greedy matching on the (C, C) class ``distance``); with an odd
    number of classes the one left over is its own partner (never flipped)."""
    d = np.array(distance, dtype=np.float64, copy=True)
    c = len(d)
    partner = np.arange(c)
    np.fill_diagonal(d, np.inf)
    free = np.ones(c, dtype=bool)
    for _ in range(c // 2):
        masked = np.where(free[:, None] & free[None, :], d, np.inf)
        if not np.isfinite(masked).any():
            break
        a, b = np.unravel_index(int(np.argmin(masked)), masked.shape)
        partner[a], partner[b] = b, a
        free[a] = free[b] = False
    return partner


def _choose_weighted(rng: np.random.Generator, weights: np.ndarray, count: int) -> np.ndarray:
    """``count`` indices drawn without replacement with probability proportional to
    ``weights`` (Efraimidis and Spirakis 2006: the largest keys u^(1/w); vectorised)."""
    w = np.asarray(weights, dtype=np.float64)
    u = rng.random(len(w))
    with np.errstate(divide="ignore"):
        keys = np.where(w > 0, np.log(u) / np.where(w > 0, w, 1.0), -np.inf)
    return np.argsort(-keys, kind="stable")[:count]


def flip_labels(labels: np.ndarray, fraction: float, num_classes: int, seed: int, *,
                kind: str = "symmetric", partner: np.ndarray | None = None,
                others: np.ndarray | None = None, stream: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``round(fraction * N)`` of ``labels`` as ``kind`` does (module docstring).

    ``partner`` (C,): for ``asymmetric``, each class's most confusable class; for ``pairs``,
    the pairing (:func:`pair_classes`). ``others`` (N, C): for ``instance``, a separately
    trained model's probabilities (the given class is ignored). ``stream`` draws another,
    independent set of flips from the same seed (the test split's). Returns the new labels
    (int64) and the (N,) bool mask of flipped samples."""
    check_noise_kind(kind, DataError)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    count = int(round(fraction * n))
    new = labels.copy()
    noisy = np.zeros(n, dtype=bool)
    if count == 0:
        return new, noisy
    if num_classes < 2:
        raise DataError(f"cannot flip labels of a data set with {num_classes} class")
    rng = _rng(seed, stream)
    if kind in ("asymmetric", "pairs"):
        if partner is None:
            raise DataError(f"{kind} label noise needs each class's partner")
        partner = np.asarray(partner, dtype=np.int64)
    if kind == "symmetric":
        chosen = rng.choice(n, size=count, replace=False)
        shift = rng.integers(1, num_classes, size=count)
        new[chosen] = (labels[chosen] + shift) % num_classes
    elif kind == "asymmetric":
        chosen = rng.choice(n, size=count, replace=False)
        new[chosen] = partner[labels[chosen]]  # type: ignore[index]
    elif kind == "pairs":
        paired = np.flatnonzero(partner[labels] != labels)  # type: ignore[index]
        if count > len(paired):
            raise DataError(f"pairs label noise of {fraction} needs {count} samples in paired "
                            f"classes, and there are {len(paired)}")
        chosen = rng.choice(paired, size=count, replace=False)
        new[chosen] = partner[labels[chosen]]  # type: ignore[index]
    elif kind == "classdep":
        counts = np.bincount(labels, minlength=num_classes)
        order = rng.permutation(num_classes)
        rates = np.empty(num_classes)
        rates[order] = np.linspace(0.0, 2.0, num_classes) if num_classes > 1 else 1.0
        # rates 0 .. 2x the mean, scaled so that the expected count is ``count``
        rates *= count / max(float((rates * counts).sum()), 1e-12)
        if (rates > 0.95).any():
            raise DataError(f"classdep label noise of {fraction} would flip more than 95% of "
                            "a class", hint="use a rate of at most 0.45")
        weights = rates[labels]
        chosen = _choose_weighted(rng, weights, count)
        shift = rng.integers(1, num_classes, size=count)
        new[chosen] = (labels[chosen] + shift) % num_classes
    else:  # instance
        if others is None or np.shape(others) != (n, num_classes):
            raise DataError("instance label noise needs a model's (N, C) probabilities")
        p = np.array(others, dtype=np.float64, copy=True)
        p[np.arange(n), labels] = -np.inf
        target = p.argmax(axis=1)
        closeness = np.clip(p[np.arange(n), target], 0.0, None)
        if int((closeness > 0).sum()) < count:
            closeness = closeness + 1e-12  # too few ambiguous samples: the rest uniformly
        chosen = _choose_weighted(rng, closeness, count)
        new[chosen] = target[chosen]
    noisy[chosen] = True
    return new, noisy
