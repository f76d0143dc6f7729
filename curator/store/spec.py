"""The format's vocabulary: encodings and versions, the statistics and their dtypes, and
the values a reader returns (docs/format.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ENCODING_TYPE = "curator-scores"


VERSION = "0.2.0"  # 0.2.0: runs record ``rival``; 0.1.0 files are read too


RUN_ENCODING = ("curator-run", "0.1.0")


SCORE_ENCODING = ("curator-score", "0.1.0")
# config["source"] of a file written by curator.Recorder from a user's own loop
RECORDER_SOURCE = "curator.Recorder"


HISTORY = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds")


# /runs/<name>/first_epoch: one row per stretch of the first epoch's steps (curator.loop's
# first-epoch checks): samples trained on, of which predicted as their label before the step
# that trained on them, test accuracy before and after the stretch, test samples it was
# measured on
FIRST_EPOCH_COLUMNS = ("samples", "hits", "test_acc_before", "test_acc_after", "test_samples")


CHUNK_SAMPLES = 1 << 16  # samples per chunk of a (T, N) statistic: one epoch row per chunk


COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


LIBVER = ("v110", "v110")  # SWMR needs the 1.10 format; HDF5 >= 1.10 reads it


# statistic -> dtype in the file (p_true keeps full precision: learnability is its mean); the
# recorder (curator.record) computes these and stores them in these dtypes
STAT_DTYPES: dict[str, np.dtype] = {
    "p_true": np.dtype("float32"),
    "correct": np.dtype("bool"),
    "loss": np.dtype("float16"),
    "margin": np.dtype("float16"),
    "el2n": np.dtype("float16"),
    # the most likely class other than the given label (the prediction when ``correct`` is
    # False); the dtype shown is for up to 255 classes: :func:`stat_dtype`; a sample not
    # presented in the epoch holds the dtype's largest value (:func:`no_rival`). Files of
    # format 0.1.0 have none
    "rival": np.dtype("uint8"),
}


def stat_dtype(stat: str, num_classes: int) -> np.dtype:
    """The dtype of statistic ``stat`` in a file of ``num_classes`` classes: ``rival`` takes
    the smallest unsigned integer that holds every class and one value more (1 byte for up
    to 255 classes), the others :data:`STAT_DTYPES`."""
    if stat != "rival":
        return STAT_DTYPES[stat]
    for dtype in (np.uint8, np.uint16, np.uint32):
        if num_classes <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"{num_classes} classes")


def no_rival(dtype: np.dtype) -> int:
    """The value ``rival`` holds for a sample not presented in the epoch."""
    return int(np.iinfo(dtype).max)


def _label_dtype(num_classes: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.int32):
        if num_classes <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class ScoreValues:
    values: np.ndarray
    higher_is: str  # "easier" or "harder"
    description: str
    runs: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)  # e.g. el2n_epoch, region labels

    @property
    def ease(self) -> np.ndarray:
        """The values oriented so that higher is easier, as float64."""
        return ease_of(self.values, self.higher_is)


def ease_of(values: np.ndarray, higher_is: str) -> np.ndarray:
    """A score's values oriented so that higher is easier, as float64."""
    v = np.asarray(values, dtype=np.float64)
    return v if higher_is == "easier" else -v


@dataclass(frozen=True)
class RunInfo:
    name: str
    kind: str  # "reference" or "holdout"
    model: str
    seed: int
    probe: str
    epochs: int  # planned epochs (0: a recorded loop of no planned length, still open)
    epochs_done: int
    complete: bool
    wall_time_s: float
    final_train_acc: float
    final_test_acc: float
    config: dict[str, Any]
    stats: tuple[str, ...]
