"""curator: score training samples by learnability, then curricula, importance sampling and
pruning for PyTorch.

The Python API (docs/api.md); names are imported on first use, so ``import curator`` is cheap:

- :class:`Recorder`, :func:`with_indices`: record your own training loop into a scores file;
- :func:`score`: curator's own reference run; :func:`load`: a file's scores as numpy arrays;
- :func:`flag`, :func:`prune`, :func:`plan_selection`: which labels are wrong, what to keep;
- :func:`training_data`, :func:`subset`: the exact training split a file was scored on;
- :func:`relabel`, :func:`with_corrections`: corrections from the flags' suggested labels,
  and a data set with them applied.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Recorder": "curator.recorder",
    "with_indices": "curator.recorder",
    "IndexedDataset": "curator.recorder",
    "load": "curator.api",
    "Scores": "curator.api",
    "score": "curator.api",
    "training_data": "curator.api",
    "flag": "curator.flagging",
    "relabel": "curator.flagging",
    "prune": "curator.pruning",
    "plan_selection": "curator.pruning",
    "subset": "curator.pruning",
    "with_corrections": "curator.corrections",
    "TrainConfig": "curator.config",
    "CuratorError": "curator.errors",
    "ScoreValues": "curator.store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'curator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
