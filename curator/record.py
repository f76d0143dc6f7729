"""Per-sample statistics of a batch, and a recorder that scatters them into epoch buffers.

For a batch of logits z (B, C) and given labels y (B,):

- ``p_true``  softmax(z)_y, the probability of the given label (seed 001's f_Y(x));
- ``correct`` z_y > max_{j != y} z_j (a tie counts as wrong);
- ``loss``    -log softmax(z)_y, the cross-entropy with the given label;
- ``margin``  z_y - max_{j != y} z_j (AUM's margin, Pleiss et al. 2020);
- ``el2n``    ||softmax(z) - onehot(y)||_2 (Paul et al. 2021).

The recorder keeps one (S, N) float32 buffer on the training device; a batch costs a handful
of vectorised kernels and one scatter, and the buffer is copied to the host once per epoch.
"""

from __future__ import annotations

import numpy as np
import torch

# statistic -> dtype in the HDF5 file (p_true keeps full precision: learnability is its mean)
STAT_DTYPES: dict[str, np.dtype] = {
    "p_true": np.dtype("float32"),
    "correct": np.dtype("bool"),
    "loss": np.dtype("float16"),
    "margin": np.dtype("float16"),
    "el2n": np.dtype("float16"),
}
STATS: tuple[str, ...] = tuple(STAT_DTYPES)


def batch_stats(logits: torch.Tensor, labels: torch.Tensor,
                log_probs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The five statistics of each sample of a batch (float32; ``correct`` is bool).

    ``log_probs`` may pass the already computed ``log_softmax(logits)`` to avoid recomputing it.
    """
    z = logits.detach().float()
    logp = log_softmax(z) if log_probs is None else log_probs.detach().float()
    y = labels.unsqueeze(1)
    logp_y = logp.gather(1, y).squeeze(1)
    p_y = logp_y.exp()
    z_y = z.gather(1, y).squeeze(1)
    z_other = z.scatter(1, y, float("-inf")).amax(dim=1)
    margin = z_y - z_other
    sq = logp.exp().square().sum(dim=1)
    el2n = (sq - 2 * p_y + 1).clamp_min(0).sqrt()
    return {"p_true": p_y, "correct": margin > 0, "loss": -logp_y, "margin": margin,
            "el2n": el2n}


def log_softmax(z: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(z, dim=1)


class Recorder:
    """Epoch buffers of every statistic for N samples, kept on ``device``.

    A sample not presented in an epoch keeps ``p_true`` (and every float statistic) NaN.
    """

    def __init__(self, num_samples: int, device: torch.device | str) -> None:
        self.num_samples = num_samples
        self.buffer = torch.empty((len(STATS), num_samples), dtype=torch.float32, device=device)
        self.reset()

    def reset(self) -> None:
        self.buffer.fill_(float("nan"))

    def update(self, indices: torch.Tensor, stats: dict[str, torch.Tensor]) -> None:
        values = torch.stack([stats[s].float() for s in STATS])
        self.buffer[:, indices] = values

    def collect(self) -> dict[str, np.ndarray]:
        """Copy the epoch's buffers to the host (one transfer) in their storage dtypes."""
        host = self.buffer.cpu().numpy()
        out = {}
        for row, name in enumerate(STATS):
            dtype = STAT_DTYPES[name]
            out[name] = (host[row] == 1) if dtype == np.bool_ else host[row].astype(dtype)
        return out
