"""Random streams derived from (seed, epoch, ...) without touching global RNG state."""

from __future__ import annotations

import numpy as np
import torch


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed from ``seed`` and ``keys`` via :class:`numpy.random.SeedSequence`.

    ``(seed=1, epoch=0)`` and ``(seed=0, epoch=1)`` give unrelated streams, unlike
    ``seed + epoch``.
    """
    words = np.random.SeedSequence([int(seed), *(int(k) for k in keys)]).generate_state(2)
    return int((int(words[0]) << 32 | int(words[1])) & 0x7FFF_FFFF_FFFF_FFFF)


def make_generator(seed: int, *keys: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh :class:`torch.Generator` for the stream ``(seed, *keys)``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(seed, *keys))
    return gen
