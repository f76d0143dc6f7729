"""Importance sampling by difficulty, with weights for an unbiased loss.

Samples are ranked by hardness, u_i in [0, 1] (0 = easiest, 1 = hardest; tied scores share
their average rank, so the scale of the score does not matter). A scheme (easy-first,
hard-first, medium-first, two-ends-first: Zhou et al. 2022 and "Which samples should be
learned first: easy or hard?", arXiv 2110.05481) gives each sample a logit l(u); then

    p_i = (1 - floor) * softmax(l(u) / temperature)_i + floor / N,

so every sample keeps probability at least floor / N. An epoch draws ``epoch_length`` indices
with replacement from p. Weighting each drawn sample's loss by w_i = 1 / (N p_i) makes the
expected loss equal to the plain mean over the data set (:meth:`ImportanceSampler.weights`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from samplers._registry import Registry
from samplers._rng import make_generator
from samplers.base import SAMPLERS, ScoreSampler, fill
from samplers.scores import as_ease, scores_for

STREAM_DRAW = 201
SCHEMES: Registry[Callable[[np.ndarray], np.ndarray]] = Registry("weighting scheme")


@SCHEMES.register("easy-first")
def easy_first(u: np.ndarray) -> np.ndarray:
    return -u


@SCHEMES.register("hard-first")
def hard_first(u: np.ndarray) -> np.ndarray:
    return u


@SCHEMES.register("medium-first")
def medium_first(u: np.ndarray) -> np.ndarray:
    return -2 * np.abs(u - 0.5)


@SCHEMES.register("two-ends-first")
def two_ends_first(u: np.ndarray) -> np.ndarray:
    return 2 * np.abs(u - 0.5) - 1


def hardness_rank(ease: np.ndarray) -> np.ndarray:
    """u in [0, 1]: 0 for the easiest, 1 for the hardest; ties share their average rank."""
    n = len(ease)
    if n == 1:
        return np.zeros(1)
    _, inverse, counts = np.unique(-ease, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    return (starts + (counts - 1) / 2)[inverse] / (n - 1)


def probabilities(ease: np.ndarray, scheme: str = "easy-first", *, temperature: float = 0.25,
                  floor: float = 0.1) -> np.ndarray:
    """The sampling probabilities p (N,) of a scheme; they sum to one."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, but got {temperature!r}")
    if not 0 <= floor <= 1:
        raise ValueError(f"floor must be in [0, 1], but got {floor!r}")
    logits = SCHEMES.get(scheme)(hardness_rank(ease)) / temperature
    w = np.exp(logits - logits.max())
    p = (1 - floor) * w / w.sum() + floor / len(ease)
    return p / p.sum()


@SAMPLERS.register("importance")
class ImportanceSampler(ScoreSampler):
    """Draws each epoch's indices with replacement from :func:`probabilities`."""

    def __init__(self, scores: Any, *, higher_is: str = "easier", scheme: str = "easy-first",
                 temperature: float = 0.25, floor: float = 0.1, num_samples: int | None = None,
                 epoch_length: int | None = None, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, epochs: int | None = None) -> None:
        # ``epochs`` is accepted (and unused) so that every registered sampler shares one call
        ease = as_ease(scores, higher_is, num_samples=num_samples)
        super().__init__(len(ease), epoch_length=epoch_length, num_replicas=num_replicas,
                         rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        self.scheme, self.temperature, self.floor = scheme, temperature, floor
        p = probabilities(ease, scheme, temperature=temperature, floor=floor)
        self.probabilities = torch.from_numpy(p)
        self._cdf = torch.cumsum(self.probabilities, dim=0)
        self.weights = torch.from_numpy(1.0 / (len(p) * p)).float()

    @classmethod
    def from_h5(cls, path: str | Path, score: str = "learnability", *, dataset: Any = None,
                **kwargs: Any) -> ImportanceSampler:
        """Build from ``/scores/<score>`` of a curator scores file; pass the ``dataset`` the
        sampler will index: one of another length is refused."""
        values, higher_is, _ = scores_for(path, score, dataset)
        return cls(values, higher_is=higher_is, **kwargs)

    def epoch_indices(self, epoch: int) -> torch.Tensor:
        gen = make_generator(self.seed, epoch, STREAM_DRAW)
        r = torch.rand(self.epoch_length, generator=gen, dtype=torch.float64) * self._cdf[-1]
        return torch.searchsorted(self._cdf, r, right=True).clamp_max(len(self._cdf) - 1)

    def batch_weights(self, indices: torch.Tensor) -> torch.Tensor:
        """w_i = 1 / (N p_i) of a batch's sample indices, on their device: multiply the
        per-sample losses by these and average for an unbiased estimate of the mean loss."""
        return self.weights.to(indices.device)[indices]


@SAMPLERS.register("random")
class ShuffleSampler(ScoreSampler):
    """Plain shuffling (the baseline): each epoch a permutation of all N samples, repeated
    as needed to fill ``epoch_length``. Scores only set N (pass ``num_samples`` alone)."""

    def __init__(self, scores: Any = None, *, num_samples: int | None = None,
                 epoch_length: int | None = None, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, epochs: int | None = None) -> None:
        n = len(as_ease(scores, num_samples=num_samples)) if scores is not None else num_samples
        if n is None or n < 1:
            raise ValueError(f"ShuffleSampler needs scores or num_samples >= 1, got {n!r}")
        super().__init__(n, epoch_length=epoch_length, num_replicas=num_replicas, rank=rank,
                         shuffle=shuffle, seed=seed, drop_last=drop_last)

    def epoch_indices(self, epoch: int) -> torch.Tensor:
        gen = make_generator(self.seed, epoch, STREAM_DRAW)
        return fill(torch.arange(self.num_samples_total), self.epoch_length, gen,
                    shuffle=self.shuffle)
