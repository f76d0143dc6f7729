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
:data:`SCHEMES`.
"""

from samplers._rng import derive_seed, make_generator
from samplers.base import SAMPLERS, ScoreSampler
from samplers.curriculum import (
    CurriculumSampler,
    EasyToHardSampler,
    HardToEasySampler,
    RandomCurriculumSampler,
)
from samplers.dynamic import DynamicPruningSampler
from samplers.importance import SCHEMES, ImportanceSampler, ShuffleSampler, probabilities
from samplers.pacing import PACINGS
from samplers.scores import as_ease, read_h5

__all__ = [
    "PACINGS", "SAMPLERS", "SCHEMES", "CurriculumSampler", "DynamicPruningSampler",
    "EasyToHardSampler",
    "HardToEasySampler", "ImportanceSampler", "RandomCurriculumSampler", "ScoreSampler",
    "ShuffleSampler", "as_ease", "derive_seed", "make_generator", "probabilities", "read_h5",
]
