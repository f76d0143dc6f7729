"""The Python API's entry points that are not a module's own function (docs/api.md).

``load`` reads a scores file into numpy arrays without importing torch; ``score`` runs
curator's own reference run from keyword settings; ``training_data`` rebuilds the exact
training split a file was scored on, as a Dataset whose items carry their index.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from curator.errors import CuratorError
from curator.store import ScoreValues, open_scores

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from curator.config import TrainConfig
    from curator.reference import ScoreSummary


@dataclass(frozen=True)
class Scores(Mapping[str, ScoreValues]):
    """Every score of a file, by name (``scores["learnability"].values``), with the labels.

    Each :class:`~curator.store.ScoreValues` has ``values`` (N,), ``higher_is`` ("easier" or
    "harder") and ``ease`` (the values turned so that higher = easier)."""

    path: Path
    labels: np.ndarray
    num_classes: int
    noisy: np.ndarray | None  # (N,) bool: injected wrong labels, when the file records them
    runs: tuple[str, ...]
    values: dict[str, ScoreValues] = field(repr=False)

    def __getitem__(self, name: str) -> ScoreValues:
        if name not in self.values:
            raise KeyError(f"{str(self.path)!r} has no score {name!r}; it has: "
                           f"{', '.join(self.values) or 'none'}")
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def load(path: str | Path) -> Scores:
    """The scores of a curator scores file as numpy arrays (see :class:`Scores`)."""
    with open_scores(path) as f:
        return Scores(Path(path), f.labels, f.num_classes, f.noisy,
                      tuple(r.name for r in f.runs()),
                      {name: f.score(name) for name in f.score_names()})


def score(config: TrainConfig | None = None, *, out: str | Path = "scores.h5",
          resume: bool = False, force: bool = False, progress: bool = False,
          **settings: Any) -> ScoreSummary:
    """Curator's own reference run: ``config`` (default: the defaults) with ``settings``
    replaced (any :class:`~curator.config.TrainConfig` field: ``data="digits"``,
    ``epochs=30``, ``seeds=3``, ...), written to ``out``. Returns the runs and the scores."""
    from curator.config import TrainConfig
    from curator.progress import TrainingProgress
    from curator.reference import score as run_score

    cfg = (config or TrainConfig())
    unknown = sorted(set(settings) - set(cfg.to_dict()))
    if unknown:
        raise CuratorError(f"unknown setting {unknown[0]!r}",
                           hint=f"TrainConfig's fields: {', '.join(cfg.to_dict())}")
    cfg = cfg.replace(**settings).validate()
    return run_score(cfg, out=out, resume=resume, force=force,
                     progress=TrainingProgress(enabled=progress), overrides=set(settings))


class TrainingSplit:
    """The training split of a scores file as a map-style Dataset of ``(x, y, index)``:
    x as the training loop sees it (normalised), y the label trained on (with any injected
    noise), index the sample's position in the file."""

    def __init__(self, split: Any) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[Any, int, int]:
        import torch

        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} samples")
        index = index % len(self)
        _, x, y = next(iter(self.split.batches(torch.tensor([index]), 1,
                                               device=torch.device("cpu"))))
        return x[0], int(y[0]), index


def training_data(path: str | Path, *, root: str | None = None) -> Dataset:
    """The exact training split that ``path`` was scored on (``curator score`` keeps 80% of a
    data set without its own test split, by a fixed stratified cut), rebuilt from the file's
    data settings and checked against its labels. ``root`` overrides the stored data
    directory."""
    from curator.data import DataBundle

    with open_scores(path) as f:
        if f.from_own_loop:
            raise CuratorError(f"{str(path)!r} was recorded from your own training loop; its "
                               "training data is yours (curator.with_indices(train_set))",
                               param="path")
        bundle = DataBundle.from_stored(f.config, source=repr(str(path)), root=root)
        f.check_data(bundle)
    return TrainingSplit(bundle.train)
