"""Curriculum samplers: at training progress s, draw from the first g(s) N samples of a fixed
order — easiest first (:class:`EasyToHardSampler`), hardest first
(:class:`HardToEasySampler`), or a random order drawn once per seed
(:class:`RandomCurriculumSampler`, the control Wu, Dyer & Neyshabur 2021 show is needed).

Progress counts epochs (``unit="epoch"``: s = epoch / epochs, one pool per epoch) or
optimisation steps (``unit="step"``: every global batch of ``batch_size x num_replicas``
indices is drawn, with replacement, from the pool of its own step). An epoch always yields
``epoch_length`` indices (default N): a small pool is passed over several times, each pass
freshly shuffled. With ``class_balanced=True`` each class enters the pool in proportion to
its size: the order is re-sorted by each sample's fractional position within its class, so
every prefix holds each class's share (up to rounding).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from samplers._rng import make_generator
from samplers.base import SAMPLERS, ScoreSampler, fill
from samplers.pacing import check_pacing, pool_size
from samplers.scores import as_ease, scores_for

STREAM_ORDER, STREAM_EPOCH = 101, 102
UNITS = ("epoch", "step")


class CurriculumSampler(ScoreSampler):
    """Base of the curriculum samplers; subclasses choose :meth:`base_order`."""

    def __init__(self, scores: Any, *, epochs: int, higher_is: str = "easier",
                 pacing: str = "linear", start: float = 0.1, saturation: float = 0.8,
                 pacing_kwargs: dict[str, Any] | None = None, unit: str = "epoch",
                 batch_size: int | None = None, class_balanced: bool = False,
                 labels: Any = None, num_samples: int | None = None,
                 epoch_length: int | None = None, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        ease = as_ease(scores, higher_is, num_samples=num_samples)
        n = len(ease)
        super().__init__(n, epoch_length=epoch_length, num_replicas=num_replicas, rank=rank,
                         shuffle=shuffle, seed=seed, drop_last=drop_last)
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, but got {epochs!r}")
        if unit not in UNITS:
            raise ValueError(f"unit must be 'epoch' or 'step', but got {unit!r}")
        if unit == "step" and (batch_size is None or batch_size < 1):
            raise ValueError(f"unit='step' needs batch_size >= 1, but got {batch_size!r}")
        self.pacing_fn = check_pacing(pacing, start, saturation)
        self.pacing, self.start, self.saturation = pacing, float(start), float(saturation)
        self.pacing_kwargs = dict(pacing_kwargs or {})
        self.pacing_fn(np.zeros(1), self.start, self.saturation, **self.pacing_kwargs)
        self.epochs, self.unit, self.batch_size = epochs, unit, batch_size
        order = self.base_order(ease)
        if class_balanced:
            if labels is None:
                raise ValueError("class_balanced=True needs the labels")
            order = balanced_order(order, np.asarray(labels), num_samples=n)
        self.order = torch.from_numpy(np.ascontiguousarray(order, dtype=np.int64))
        self.class_balanced = class_balanced

    def base_order(self, ease: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def from_h5(cls, path: str | Path, score: str = "learnability", *, dataset: Any = None,
                **kwargs: Any) -> CurriculumSampler:
        """Build from ``/scores/<score>`` of a curator scores file (its ``higher_is`` decides
        what is easy); with ``class_balanced=True`` the labels come from ``/labels``. Pass
        the ``dataset`` the sampler will index: the training set the file scores, or a
        ``Subset`` of it (``curator.subset(train_set, path, name)``, a pruned selection, whose
        samples' scores are then used); another is refused."""
        values, higher_is, at = scores_for(path, score, dataset)
        if kwargs.get("class_balanced") and kwargs.get("labels") is None:
            import h5py

            with h5py.File(path, "r") as f:
                labels = f["labels"][()]
            kwargs["labels"] = labels if at is None else labels[at]
        return cls(values, higher_is=higher_is, **kwargs)

    # --- pacing -----------------------------------------------------------------------
    def fraction(self, progress: np.ndarray | float) -> np.ndarray:
        """g(s): the fraction of the data in the pool at progress s in [0, 1]."""
        g = self.pacing_fn(np.clip(np.asarray(progress, dtype=np.float64), 0, 1), self.start,
                           self.saturation, **self.pacing_kwargs)
        return np.clip(g, 0, 1)

    @property
    def steps_per_epoch(self) -> int:
        assert self.batch_size is not None
        return math.ceil(self.epoch_length / (self.batch_size * self.num_replicas))

    def pool_size(self, epoch: int, step: int = 0) -> int:
        """Samples in the pool at (epoch, step within the epoch)."""
        if self.unit == "epoch":
            s = epoch / self.epochs
        else:
            s = (epoch * self.steps_per_epoch + step) / (self.epochs * self.steps_per_epoch)
        return int(pool_size(self.fraction(s), len(self.order)))

    def pool(self, epoch: int, step: int = 0) -> torch.Tensor:
        """The pool's sample indices: a prefix of :attr:`order`."""
        return self.order[: self.pool_size(epoch, step)]

    # --- the epoch ----------------------------------------------------------------------
    def epoch_indices(self, epoch: int) -> torch.Tensor:
        gen = make_generator(self.seed, epoch, STREAM_EPOCH)
        if self.unit == "epoch":
            return fill(self.pool(epoch), self.epoch_length, gen, shuffle=self.shuffle)
        steps, per_step = self.steps_per_epoch, self.batch_size * self.num_replicas
        first = epoch * steps
        s = (first + np.arange(steps)) / (self.epochs * steps)
        sizes = torch.from_numpy(pool_size(self.fraction(s), len(self.order)))
        u = torch.rand((steps, per_step), generator=gen, dtype=torch.float64)
        positions = (u * sizes[:, None]).long().clamp_max(len(self.order) - 1)
        return self.order[positions.flatten()[: self.epoch_length]]


def balanced_order(order: np.ndarray, labels: np.ndarray, *,
                   num_samples: int) -> np.ndarray:
    """Re-sort ``order`` by each sample's fractional position within its class, so that every
    prefix holds each class in proportion to its size (ties keep ``order``)."""
    if labels.shape != (num_samples,):
        raise ValueError(f"labels must have shape ({num_samples},), but have {labels.shape}")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"labels must be >= 0, but found {int(labels.min())}")
    lab = labels[order]
    counts = np.bincount(labels)
    # rank of each position of `order` within its class, via a stable sort by class
    by_class = np.argsort(lab, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_class = np.empty(len(order), dtype=np.int64)
    rank_in_class[by_class] = np.arange(len(order)) - starts[lab[by_class]]
    key = (rank_in_class + 0.5) / counts[lab]
    return order[np.argsort(key, kind="stable")]


@SAMPLERS.register("easy-to-hard")
class EasyToHardSampler(CurriculumSampler):
    """Curriculum: the easiest g(s) N samples first (ties by sample index)."""

    def base_order(self, ease: np.ndarray) -> np.ndarray:
        return np.argsort(-ease, kind="stable")


@SAMPLERS.register("hard-to-easy")
class HardToEasySampler(CurriculumSampler):
    """Anti-curriculum: the hardest g(s) N samples first (ties by sample index)."""

    def base_order(self, ease: np.ndarray) -> np.ndarray:
        return np.argsort(ease, kind="stable")


@SAMPLERS.register("random-curriculum")
class RandomCurriculumSampler(CurriculumSampler):
    """The same pacing over a random order, drawn once from the seed (scores only set N)."""

    def base_order(self, ease: np.ndarray) -> np.ndarray:
        gen = make_generator(self.seed, STREAM_ORDER)
        return torch.randperm(len(ease), generator=gen).numpy()
