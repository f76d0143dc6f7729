"""Per-sample statistics of a batch, and the buffer that scatters them into one
epoch's (S, N) arrays.

For a batch of logits z (B, C) and given labels y (B,):

- ``p_true``  softmax(z)_y, the probability of the given label (seed 001's f_Y(x));
- ``correct`` z_y > max_{j != y} z_j (a tie counts as wrong);
- ``loss``    -log softmax(z)_y, the cross-entropy with the given label;
- ``margin``  z_y - max_{j != y} z_j (AUM's margin, Pleiss et al. 2020);
- ``el2n``    ||softmax(z) - onehot(y)||_2 (Paul et al. 2021);
- ``rival``   argmax_{j != y} z_j, the most likely other class (the prediction when not
  ``correct``): what a suggested label is made of (``suggested_label``).

The buffer keeps one (S, N) float32 buffer on the training device; batches are processed
in chunks (a handful of vectorised kernels and one scatter per chunk), and the buffer is copied
to the host once per epoch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from curator.store import STAT_DTYPES, no_rival, stat_dtype

STATS: tuple[str, ...] = tuple(STAT_DTYPES)


def batch_stats(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """The statistics of each sample of a batch (float32; ``correct`` bool, ``rival``
    int64)."""
    z = logits.detach().float()
    logp = torch.log_softmax(z, dim=1)
    y = labels.unsqueeze(1)
    logp_y = logp.gather(1, y).squeeze(1)
    p_y = logp_y.exp()
    z_y = z.gather(1, y).squeeze(1)
    z_other, rival = z.scatter(1, y, float("-inf")).max(dim=1)
    margin = z_y - z_other
    sq = logp.exp().square().sum(dim=1)
    el2n = (sq - 2 * p_y + 1).clamp_min(0).sqrt()
    return {"p_true": p_y, "correct": margin > 0, "loss": -logp_y, "margin": margin,
            "el2n": el2n, "rival": rival}


class StatBuffer:
    """Epoch buffers of every statistic for N samples, kept on ``device``.

    ``update`` only keeps a reference to the batch's detached logits; every ``chunk_samples``
    samples (and at ``collect``) the pending batches are concatenated and their statistics
    computed and scattered at once, so the per-batch cost is a list append whatever the batch
    size, and pending memory is bounded by ``chunk_samples x C`` logits.
    A sample not presented in an epoch keeps ``p_true`` (and every float statistic) NaN,
    and ``rival`` the largest value of its dtype (``num_classes``: from the first batch's
    logits unless given).
    ``presented_loss`` and ``presented_correct`` sum the loss and the correct predictions
    over every presentation since ``reset`` (a sample presented twice counts twice), so a
    loop that records needs no per-step tallies of its own.
    """

    def __init__(self, num_samples: int, device: torch.device | str, *,
                 num_classes: int | None = None, chunk_samples: int = 16384,
                 check: Callable[[torch.Tensor, torch.Tensor],
                                 tuple[torch.Tensor, torch.Tensor]] | None = None
                 ) -> None:
        self.num_samples, self.num_classes = num_samples, num_classes
        self.chunk_samples = chunk_samples
        self.check = check  # (indices, labels) of a chunk -> the ones to score it with
        self.buffer = torch.empty((len(STATS), num_samples), dtype=torch.float32, device=device)
        self._pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._pending_samples = 0
        self.reset()

    def reset(self) -> None:
        self._pending.clear()
        self._pending_samples = 0
        self.buffer.fill_(float("nan"))
        device = self.buffer.device
        self.presented_loss = torch.zeros((), dtype=torch.float64, device=device)
        self.presented_correct = torch.zeros((), dtype=torch.int64, device=device)

    def update(self, indices: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Record a batch: its sample indices, logits (B, C) and labels (B,)."""
        if self.num_classes is None:  # what rival's dtype needs, from the first batch
            self.num_classes = logits.shape[1]
        self._pending.append((indices, logits.detach(), labels))
        self._pending_samples += len(indices)
        if self._pending_samples >= self.chunk_samples:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        idx, logits, labels = (torch.cat(t) for t in zip(*self._pending, strict=True))
        self._pending.clear()
        self._pending_samples = 0
        if self.check is not None:
            idx, labels = self.check(idx, labels)
        stats = batch_stats(logits, labels)
        self.presented_loss += stats["loss"].double().sum()
        self.presented_correct += stats["correct"].sum()
        self.scatter(idx, stats)

    def scatter(self, indices: torch.Tensor, stats: dict[str, torch.Tensor]) -> None:
        """Write computed statistics of samples ``indices`` (a later write wins)."""
        self.buffer[:, indices] = torch.stack([stats[s].float() for s in STATS])

    def collect(self, merge: Callable[[torch.Tensor], torch.Tensor] | None = None
                ) -> dict[str, np.ndarray]:
        """Copy the epoch's buffers to the host (one transfer) in their storage dtypes;
        ``merge`` first combines the buffer in place with other processes' (DDP)."""
        self.flush()
        if merge is not None:
            merge(self.buffer)
        host = self.buffer.cpu().numpy()
        out = {}
        with np.errstate(over="ignore"):  # a loss past float16's range is stored as inf
            for row, name in enumerate(STATS):
                dtype = stat_dtype(name, self.num_classes or 2)
                if name == "rival":  # a sample not presented: the dtype's largest value
                    values = host[row]
                    rival = np.nan_to_num(values).astype(dtype)
                    rival[np.isnan(values)] = no_rival(dtype)
                    out[name] = rival
                else:
                    out[name] = ((host[row] == 1) if dtype == np.bool_
                                 else host[row].astype(dtype))
        return out
