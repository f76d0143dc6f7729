"""Drop-in samplers for any DataLoader, driven by curator's per-sample scores.

This package depends on torch, numpy and h5py only, never on the training code in
:mod:`curator`, so it can be used with any training script.
"""

from samplers._rng import derive_seed, make_generator

__all__ = ["derive_seed", "make_generator"]
