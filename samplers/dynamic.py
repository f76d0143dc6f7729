"""Dynamic pruning: each epoch, skip a share of the samples the model has already learned,
and up-weight the rest of them so that the epoch's expected total loss is unchanged.

The idea is InfoBatch's (Qin et al., "InfoBatch: Lossless Training Speed Up by Unbiased
Dynamic Data Pruning", ICLR 2024, arXiv:2303.04947): samples whose last loss is below the mean
are *well learned*; a random share r of them is skipped and the kept ones are weighted by
1 / (1 - r); the last epochs train on everything. Done here to this package's contract:

- **A controlled share.** ``prune`` is the share of *all* samples skipped in each pruning
  epoch, exactly: k = round(prune x N) samples, drawn uniformly from the well-learned pool W.
  W is the samples below the mean loss, widened to the k / ``max_rate`` lowest-loss samples
  when that is too few, so that r = k / |W| never exceeds ``max_rate`` (the largest weight is
  1 / (1 - max_rate)). Every sample of W is kept with probability exactly 1 - r, so the
  weighted sum of an epoch's losses is an unbiased estimate of the full epoch's.
- **Known epoch lengths.** A pruning epoch yields N - k indices, the others N (the first
  epoch without a prior ranking, and the last ``ceil(anneal x epochs)``), so
  :meth:`DynamicPruningSampler.epoch_lengths` tells a learning-rate schedule its steps.
- **DistributedSampler semantics.** The plan of an epoch is a pure function of (seed, epoch,
  the losses known when the epoch began): every rank computes the same one. Each rank tells
  :meth:`~DynamicPruningSampler.update` the losses of its own samples; :meth:`set_epoch`
  merges the ranks' updates with one all-reduce (under an initialised process group), so the
  ranks agree on what the next epoch skips. No global state, no patching of DataLoaders.
- **Resumable.** :meth:`state_dict` holds the losses and the updates of the current epoch.

A sample whose loss is not known yet (skipped before it was ever seen) ranks last: it is
presented unless W must reach that far. A prior ranking (``scores``, e.g. learnability from a
reference run) chooses the first epoch's well-learned pool; without one, the first epoch
presents everything.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from samplers._rng import make_generator
from samplers.base import SAMPLERS, ScoreSampler
from samplers.scores import as_ease, scores_for

STREAM_SKIP, STREAM_ORDER, STREAM_TIES = 201, 202, 203


@SAMPLERS.register("dynamic")
class DynamicPruningSampler(ScoreSampler):
    """Skips ``prune`` of the samples each epoch among the well learned (see the module).

    ``scores`` (optional, with ``higher_is``) is a prior ranking for the first epoch; without
    it pass ``num_samples``. In the loop: ``set_epoch(e)``, then for each batch multiply the
    per-sample losses by :meth:`batch_weights` and report them with :meth:`update`.
    """

    def __init__(self, scores: Any = None, *, epochs: int, num_samples: int | None = None,
                 higher_is: str = "easier", prune: float = 0.4, max_rate: float = 0.7,
                 anneal: float = 0.125, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, **_: Any) -> None:
        prior = None if scores is None else as_ease(scores, higher_is,
                                                    num_samples=num_samples)
        n = len(prior) if prior is not None else num_samples
        if n is None or n < 1:
            raise ValueError(f"DynamicPruningSampler needs scores or num_samples >= 1, got "
                             f"{n!r}")
        super().__init__(n, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, but got {epochs!r}")
        if not 0 < max_rate < 1:
            raise ValueError(f"max_rate must be in (0, 1), but got {max_rate}")
        if not 0 <= prune <= max_rate:
            raise ValueError(f"prune must be in [0, max_rate = {max_rate}], but got {prune}: "
                             "each well-learned sample is skipped with probability at most "
                             "max_rate")
        if not 0 <= anneal <= 1:
            raise ValueError(f"anneal must be in [0, 1], but got {anneal}")
        self.epochs, self.prune, self.max_rate, self.anneal = epochs, prune, max_rate, anneal
        self.skip_count = int(round(prune * n))
        self.prior = None if prior is None else torch.from_numpy(prior)
        self.losses = torch.full((n,), math.nan)  # last known loss of each sample
        self._next: torch.Tensor | None = None  # this epoch's updates (NaN: none yet)
        self._planned: tuple[int, torch.Tensor, torch.Tensor, dict[str, float]] | None = None
        self.report: dict[str, float] = {}  # the current epoch's plan, in numbers

    @classmethod
    def from_h5(cls, path: Any, score: str = "learnability", *, dataset: Any = None,
                **kwargs: Any) -> DynamicPruningSampler:
        """With ``/scores/<score>`` of a curator scores file as the prior ranking."""
        values, higher_is, _ = scores_for(path, score, dataset)
        return cls(values, higher_is=higher_is, **kwargs)

    # --- the plan of an epoch ------------------------------------------------------------
    def prunes(self, epoch: int) -> bool:
        """Whether ``epoch`` skips samples (not the last ``anneal`` epochs, nor the first
        without a prior)."""
        full_from = self.epochs - math.ceil(self.anneal * self.epochs)
        return (self.skip_count > 0 and epoch < full_from
                and not (epoch == 0 and self.prior is None))

    def epoch_length_of(self, epoch: int) -> int:
        """Indices ``epoch`` yields on this rank (known in advance)."""
        return self._per_rank(self.num_samples_total
                              - (self.skip_count if self.prunes(epoch) else 0))

    def epoch_lengths(self, epochs: int | None = None) -> list[int]:
        """Indices each epoch yields on this rank (for learning-rate schedules)."""
        return [self.epoch_length_of(e) for e in range(self.epochs if epochs is None
                                                       else epochs)]

    def _per_rank(self, length: int) -> int:
        return (length // self.num_replicas if self.drop_last
                else math.ceil(length / self.num_replicas))

    def _plan(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """(global order, weights (N,), report) of ``epoch`` from the losses known now."""
        n, k = self.num_samples_total, self.skip_count
        weights = torch.ones(n)
        order_gen = make_generator(self.seed, epoch, STREAM_ORDER)
        if not self.prunes(epoch):
            order = torch.randperm(n, generator=order_gen) if self.shuffle else torch.arange(n)
            return order, weights, {"epoch": epoch, "skipped": 0, "share": 0.0, "rate": 0.0,
                                    "pool": 0}
        if epoch == 0 or torch.isnan(self.losses).all():
            assert self.prior is not None
            key = -self.prior.double()  # the prior: easier = lower
        else:
            key = self.losses.double()
        known = ~torch.isnan(key)
        mean = key[known].mean() if known.any() else torch.tensor(math.inf)
        below = known & (key < mean)
        need = min(n, math.ceil(k / self.max_rate))
        if int(below.sum()) >= need:
            pool = below.nonzero().squeeze(1)
        else:  # widen to the `need` lowest (unknown last, ties at random)
            ties = torch.rand(n, generator=make_generator(self.seed, epoch, STREAM_TIES),
                              dtype=torch.float64)
            filled = torch.where(known, key, torch.tensor(math.inf, dtype=torch.float64))
            rank = torch.from_numpy(np.lexsort((ties.numpy(), filled.numpy())))
            pool = rank[:need].sort().values
        skip_gen = make_generator(self.seed, epoch, STREAM_SKIP)
        skipped = pool[torch.randperm(len(pool), generator=skip_gen)[:k]]
        rate = k / len(pool)
        weights[pool] = 1.0 / (1.0 - rate)
        keep = torch.ones(n, dtype=torch.bool)
        keep[skipped] = False
        weights[skipped] = 0.0
        kept = keep.nonzero().squeeze(1)
        if self.shuffle:
            kept = kept[torch.randperm(len(kept), generator=order_gen)]
        return kept, weights, {"epoch": epoch, "skipped": k, "share": k / n, "rate": rate,
                               "pool": len(pool)}

    def _current(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        if self._planned is None or self._planned[0] != self.epoch:
            order, weights, report = self._plan(self.epoch)
            self._planned = (self.epoch, order, weights, report)
            self.report = report
        return self._planned[1], self._planned[2], self._planned[3]

    def epoch_indices(self, epoch: int) -> torch.Tensor:
        """The global order of ``epoch`` planned from the losses known now (the plan of the
        current epoch is fixed when :meth:`set_epoch` starts it)."""
        return self._current()[0] if epoch == self.epoch else self._plan(epoch)[0]

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        per_rank = self._per_rank(len(indices))
        total = per_rank * self.num_replicas
        if self.drop_last:
            indices = indices[:total]
        elif len(indices) < total:
            indices = indices.repeat(math.ceil(total / len(indices)))[:total]
        return indices[self.rank: total: self.num_replicas]

    def __len__(self) -> int:
        return self.epoch_length_of(self.epoch)

    # --- the loop's side -----------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch``: the updates of the epoch before become the known losses (merged
        over the ranks of an initialised process group: every rank must call this)."""
        if epoch != self.epoch:
            self._merge()
        super().set_epoch(epoch)

    def _merge(self) -> None:
        nxt, self._next = self._next, None
        if self.num_replicas > 1 and dist.is_available() and dist.is_initialized():
            if nxt is None:
                nxt = torch.full((self.num_samples_total,), math.nan)
            nxt = nxt.clone().nan_to_num_(nan=-math.inf)
            dist.all_reduce(nxt, op=dist.ReduceOp.MAX)
            nxt.masked_fill_(nxt == -math.inf, math.nan)
        if nxt is not None:
            nxt = nxt.cpu()
            self.losses = torch.where(torch.isnan(nxt), self.losses, nxt)
        self._planned = None

    def batch_weights(self, indices: torch.Tensor) -> torch.Tensor:
        """The loss weights of a batch's sample indices this epoch (1 / (1 - r) for kept
        well-learned samples, 1 for the rest), on the indices' device."""
        weights = self._current()[1]
        if weights.device != indices.device:  # once per epoch and device, not per batch
            weights = weights.to(indices.device)
            assert self._planned is not None
            self._planned = (*self._planned[:2], weights, self._planned[3])
        return weights[indices]

    def update(self, indices: torch.Tensor, losses: torch.Tensor) -> None:
        """Tell the sampler the (unweighted) per-sample losses of a batch; they decide the
        next epoch. Stays on the losses' device (no synchronisation per step)."""
        if self._next is None:
            self._next = torch.full((self.num_samples_total,), math.nan,
                                    device=losses.device)
        self._next[indices.to(losses.device)] = losses.detach().float()

    # --- resuming ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(losses=self.losses.clone(),
                     pending=None if self._next is None else self._next.cpu().clone())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.losses = state["losses"].clone()
        self._next = None if state["pending"] is None else state["pending"].clone()
        self._planned = None
