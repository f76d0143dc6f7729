"""Read a per-sample score as *ease*: higher always means easier.

From an array or tensor (with ``higher_is``) or from a curator scores file, whose
``/scores/<name>`` datasets carry ``higher_is`` themselves. Only h5py is needed to read a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

DIRECTIONS = ("easier", "harder")
# derived datasets of a curator scores file are written under this prefix and then swapped in
# (curator.store writes with it; a reader skips names that carry it)
TMP_PREFIX = ".new-"


def as_ease(scores: Any, higher_is: str = "easier", *, num_samples: int | None = None,
            name: str = "scores") -> np.ndarray:
    """(N,) float64 ease from an array-like score; ``higher_is`` says which way it points."""
    if higher_is not in DIRECTIONS:
        raise ValueError(f"higher_is must be 'easier' or 'harder', but got {higher_is!r}")
    if hasattr(scores, "detach") and hasattr(scores, "cpu"):  # a torch tensor
        scores = scores.detach().cpu().numpy()
    values = np.asarray(scores)
    if values.dtype.kind not in "iubf":
        raise ValueError(f"{name} must be numeric, but have dtype {values.dtype}")
    values = values.astype(np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (N,), but have shape "
                         f"{values.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite, but hold {float(values[i])} at index {i} "
                         f"({int(bad.sum())} such values)")
    if num_samples is not None and len(values) != num_samples:
        raise ValueError(f"{name} have {len(values)} values, but the data set has "
                         f"{num_samples} samples")
    return values if higher_is == "easier" else -values


def read_h5(path: str | Path, score: str = "learnability") -> tuple[np.ndarray, str, int]:
    """``(values, higher_is, num_samples)`` of ``/scores/<score>`` in a curator scores file."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"scores file {str(path)!r} does not exist")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{str(path)!r} is not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:  # a run appending to it (or killed while appending): SWMR view
        if "already open for write" not in str(exc):
            raise ValueError(f"cannot open {str(path)!r}: {exc}") from None
        f = h5py.File(path, "r", swmr=True)
    with f:
        kind = f.attrs.get("encoding-type")
        if not isinstance(kind, str | bytes) or _text(kind) != "curator-scores":
            raise ValueError(f"{str(path)!r} is not a curator scores file")
        group = f.get("scores")
        names = sorted(n for n in group if not n.startswith(TMP_PREFIX)) \
            if isinstance(group, h5py.Group) else []
        if score not in names:
            raise ValueError(f"{str(path)!r} has no score {score!r}; it has: "
                             f"{', '.join(names) or 'none'}")
        ds = group[score]
        higher_is = ds.attrs.get("higher_is", "easier")
        higher_is = _text(higher_is) if isinstance(higher_is, str | bytes) else None
        if higher_is not in ("easier", "harder"):
            raise ValueError(f"score {score!r} of {str(path)!r} has higher_is = {higher_is!r}; "
                             "expected 'easier' or 'harder'")
        params = ds.attrs.get("params")
        if isinstance(params, str | bytes) and json.loads(_text(params) or "{}").get(
                "ordering", True) is False:
            raise ValueError(f"score {score!r} of {str(path)!r} does not order the samples "
                             "(a class index, such as suggested_label): choose a score "
                             "such as learnability")
        values = ds[()]
        if values.ndim != 1 or values.dtype.kind not in "biuf":
            raise ValueError(f"score {score!r} of {str(path)!r} is not a 1-D numeric array "
                             f"(shape {values.shape}, dtype {values.dtype})")
        return values, higher_is, len(values)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def check_dataset(dataset: Any, num_samples: int, path: str | Path) -> np.ndarray | None:
    """The positions in the scores file of the samples ``dataset`` holds, in its order: None
    when it is the whole training set the file scores (or not given); the subset's indices
    when it is a ``torch.utils.data.Subset`` of it (``curator.subset(train_set, FILE,
    SELECTION)``, a pruned selection). A data set of another length that is no such subset is
    refused (a sampler would otherwise index it silently misaligned)."""
    if dataset is None:
        return None
    try:
        n = len(dataset)
    except TypeError:
        raise ValueError(f"dataset must have a length, but {type(dataset).__name__} has "
                         "none") from None
    if n == num_samples:
        return None
    inner = getattr(dataset, "dataset", None)
    indices = getattr(dataset, "indices", None)
    if indices is not None and inner is not None and _length(inner) == num_samples:
        at = np.asarray(indices, dtype=np.int64)
        if at.ndim == 1 and (len(at) == 0 or (at.min() >= 0 and at.max() < num_samples)):
            return at  # a selection of the scored training set: its samples' scores
    raise ValueError(
        f"the data set has {n} samples, but {str(path)!r} scores {num_samples}: it was made on "
        "another training set (curator score trains on a stratified 80% of a data set without "
        "a test split: curator.training_data(path) rebuilds it); for a pruned selection pass "
        "curator.subset(train_set, path, name), whose samples' scores are then used")


def _length(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None


def scores_for(path: str | Path, score: str, dataset: Any = None
               ) -> tuple[np.ndarray, str, np.ndarray | None]:
    """A sampler's scores: ``score``'s values from the file (:func:`read_h5`) for the samples
    of ``dataset`` in its order (:func:`check_dataset`), its ``higher_is``, and their positions
    in the file (None: all of them)."""
    values, higher_is, n = read_h5(path, score)
    at = check_dataset(dataset, n, path)
    return (values if at is None else values[at]), higher_is, at
