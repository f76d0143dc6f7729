"""Drop-in samplers for any DataLoader, driven by curator's per-sample scores.

    from samplers import EasyToHardSampler
    sampler = EasyToHardSampler.from_h5("scores.h5", score="learnability", epochs=30)
    loader = DataLoader(train_set, batch_size=128, sampler=sampler)
    for epoch in range(30):
        sampler.set_epoch(epoch)
        ...

This package depends on torch, numpy and (to read a scores file) h5py, never on the training
code in :mod:`curator`. Every sampler follows ``DistributedSampler``'s contract
(``num_replicas``, ``rank``, ``seed``, ``drop_last``, ``set_epoch``) and is registered in
:data:`SAMPLERS`; pacing functions are in :data:`PACINGS`, weighting schemes in
:data:`SCHEMES`. The names are imported on first use (so that ``samplers._registry`` can be
used without torch); any of them loads every sampler, which fills the registry.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "derive_seed": "samplers._rng", "make_generator": "samplers._rng",
    "SAMPLERS": "samplers.base", "ScoreSampler": "samplers.base",
    "CurriculumSampler": "samplers.curriculum", "EasyToHardSampler": "samplers.curriculum",
    "HardToEasySampler": "samplers.curriculum",
    "RandomCurriculumSampler": "samplers.curriculum",
    "DynamicPruningSampler": "samplers.dynamic",
    "SCHEMES": "samplers.importance", "ImportanceSampler": "samplers.importance",
    "ShuffleSampler": "samplers.importance", "probabilities": "samplers.importance",
    "PACINGS": "samplers.pacing",
    "as_ease": "samplers.scores", "read_h5": "samplers.scores",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'samplers' has no attribute {name!r}")
    for module in sorted(set(_EXPORTS.values())):  # all of them: the registry is complete
        import_module(module)
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
