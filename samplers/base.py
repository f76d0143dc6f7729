"""What every score-driven sampler shares: DistributedSampler's semantics and resumable state.

A subclass implements :meth:`ScoreSampler.epoch_indices`, the global order of one epoch (a
1-D int64 tensor of ``epoch_length`` sample indices) computed from (seed, epoch) alone. This
class pads or drops it to a multiple of the replicas, as ``DistributedSampler`` does, and
gives each rank its strided shard, so ranks are disjoint within an epoch, get equal counts,
and all compute the same global order without communicating.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from samplers._registry import Registry

SAMPLERS: Registry[type] = Registry("sampler")


class ScoreSampler(Sampler[int]):
    """Base class: ``num_replicas``, ``rank``, ``shuffle``, ``seed`` and ``drop_last`` mean
    what they mean for ``torch.utils.data.DistributedSampler``; ``epoch_length`` is the number
    of indices one epoch draws over all ranks (default N, so learning-rate schedules that count
    steps per epoch keep working). Call :meth:`set_epoch` before each epoch."""

    def __init__(self, num_samples: int, *, epoch_length: int | None = None,
                 num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = dist.get_world_size() if dist.is_available() and \
                dist.is_initialized() else 1
        if rank is None:
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        if num_replicas < 1:
            raise ValueError(f"num_replicas must be >= 1, but got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas - 1}], but got {rank}")
        epoch_length = num_samples if epoch_length is None else epoch_length
        if epoch_length < 1:
            raise ValueError(f"epoch_length must be >= 1, but got {epoch_length}")
        if drop_last and epoch_length < num_replicas:
            raise ValueError(f"epoch_length {epoch_length} is smaller than num_replicas "
                             f"{num_replicas} with drop_last=True: no rank would get a sample")
        self.num_samples_total = num_samples
        self.epoch_length = epoch_length
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        self._skip = 0  # samples of the current epoch already consumed (resume)
        self._yielded = 0
        if drop_last:
            self.per_rank = epoch_length // num_replicas
        else:
            self.per_rank = math.ceil(epoch_length / num_replicas)
        self.total_size = self.per_rank * num_replicas

    # --- to implement -----------------------------------------------------------------
    def epoch_indices(self, epoch: int) -> torch.Tensor:
        """The global order of ``epoch``: ``epoch_length`` indices, a function of (seed,
        epoch) only."""
        raise NotImplementedError

    # --- the DistributedSampler contract --------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self._skip = 0
        self.epoch = int(epoch)

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global order (padded by wrapping, or trimmed)."""
        if self.drop_last:
            indices = indices[: self.total_size]
        elif len(indices) < self.total_size:
            reps = math.ceil(self.total_size / len(indices))
            indices = indices.repeat(reps)[: self.total_size]
        return indices[self.rank: self.total_size: self.num_replicas]

    def rank_indices(self, epoch: int | None = None) -> torch.Tensor:
        """This rank's indices of an epoch (default: the current one), as a tensor."""
        return self.shard(self.epoch_indices(self.epoch if epoch is None else epoch))

    def __iter__(self) -> Iterator[int]:
        indices = self.rank_indices().tolist()
        skip, self._skip = self._skip, 0
        self._yielded = skip
        for i in indices[skip:]:
            self._yielded += 1
            yield i

    def __len__(self) -> int:
        return self.per_rank

    # --- resuming -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Epoch, seed and how many indices of this epoch were already yielded (on this rank)."""
        return {"epoch": self.epoch, "seed": self.seed, "yielded": self._yielded,
                "num_replicas": self.num_replicas, "epoch_length": self.epoch_length}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue where :meth:`state_dict` left off: the next ``iter`` yields the rest of
        that epoch (so, once, fewer than ``len`` indices)."""
        for key in ("seed", "num_replicas", "epoch_length"):
            if state[key] != getattr(self, key):
                raise ValueError(f"cannot resume: the state has {key} = {state[key]!r}, this "
                                 f"sampler {getattr(self, key)!r}")
        self.epoch = int(state["epoch"])
        self._skip = int(state["yielded"])
        self._yielded = self._skip


def random_order(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randperm(n, generator=generator)


def fill(pool: torch.Tensor, length: int, generator: torch.Generator, *,
         shuffle: bool = True) -> torch.Tensor:
    """``length`` indices from ``pool``: whole passes over the pool, each in a fresh random
    order (or in the pool's order without ``shuffle``), the last pass cut short."""
    passes = math.ceil(length / len(pool))
    if shuffle:
        keys = torch.rand((passes, len(pool)), generator=generator)
        order = keys.argsort(dim=1).flatten()
        return pool[order[:length]]
    return pool.repeat(passes)[:length]
