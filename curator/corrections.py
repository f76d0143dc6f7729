"""Corrections: which samples of a scored training set get a new label, and which are dropped.

One small CSV file (docs/format.md, "The corrections file"), made by ``curator relabel`` and by
a person reviewing the flags, read by ``curator train --corrections`` and
:func:`with_corrections` in anyone's loop::

    # curator-corrections 1
    # fingerprint 3f2a...   (of the training data the scores file was made on)
    # num_samples 60000
    # num_classes 10
    index,action,label,given
    42018,relabel,3,2
    51735,drop,,0
    100,keep,,7

``action``: ``relabel`` (train on ``label`` instead), ``drop`` (leave the sample out) or
``keep`` (looked at, the given label stands). ``given`` is the label the correction was made
against: a row whose ``given`` is not the data's label is refused, as is a file made for other
data (its fingerprint), an index out of range, a label outside the classes, or an index twice.
Written whole to a temporary file and renamed over the old one, so a reader never sees half a
file.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curator.errors import CuratorError, FormatError

MAGIC = "curator-corrections"
VERSION = 1
COLUMNS = ("index", "action", "label", "given")
ACTIONS = ("relabel", "drop", "keep")


@dataclass(frozen=True)
class Corrections:
    """The rows of a corrections file, as arrays in index order."""

    fingerprint: str
    num_samples: int
    num_classes: int
    index: np.ndarray  # (K,) int64, sorted, unique
    action: np.ndarray  # (K,) str: relabel | drop | keep
    label: np.ndarray  # (K,) int64: the new label of a relabel row, -1 for the others
    given: np.ndarray  # (K,) int64: the label the row was made against

    def __len__(self) -> int:
        return len(self.index)

    @property
    def relabelled(self) -> np.ndarray:
        return self.index[self.action == "relabel"]

    @property
    def dropped(self) -> np.ndarray:
        return self.index[self.action == "drop"]

    def labels(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` (N,) with the relabel rows applied (after :meth:`check_labels`)."""
        out = np.array(labels, dtype=np.int64, copy=True)
        rows = self.action == "relabel"
        out[self.index[rows]] = self.label[rows]
        return out

    def kept(self) -> np.ndarray:
        """(N,) bool: the samples not dropped."""
        keep = np.ones(self.num_samples, dtype=bool)
        keep[self.dropped] = False
        return keep

    def check_data(self, fingerprint: str, num_samples: int, where: str) -> None:
        """Refuse corrections made for other data than ``where`` (a scores file)."""
        if self.num_samples != num_samples or self.fingerprint != fingerprint:
            raise FormatError(
                f"the corrections were made for other data ({self.num_samples} samples, "
                f"fingerprint {self.fingerprint[:12]}) than {where} ({num_samples} samples, "
                f"fingerprint {fingerprint[:12]})",
                hint="make them from this scores file: `curator relabel FILE` or `curator "
                     "review FILE`")

    def check_labels(self, labels: np.ndarray, where: str) -> None:
        """Refuse rows whose ``given`` is not the label of ``labels`` (N,)."""
        labels = np.asarray(labels)
        if len(labels) != self.num_samples:
            raise FormatError(f"the corrections are for {self.num_samples} samples, but "
                              f"{where} has {len(labels)}")
        wrong = np.flatnonzero(labels[self.index] != self.given)
        if len(wrong):
            i = wrong[0]
            raise FormatError(f"row of index {int(self.index[i])}: given label "
                              f"{int(self.given[i])}, but {where} labels it "
                              f"{int(labels[self.index[i]])} ({len(wrong)} such rows)",
                              hint="the corrections were made against other labels")


def make(fingerprint: str, labels: np.ndarray, num_classes: int, *,
         relabel: Mapping[int, int] | None = None, drop: Any = (), keep: Any = ()
         ) -> Corrections:
    """Corrections for data with ``labels`` (N,): ``relabel`` {index: new label}, ``drop`` and
    ``keep`` indices (checked as a file's rows are)."""
    relabel = dict(relabel or {})
    rows = ([(int(i), "relabel", int(y)) for i, y in relabel.items()]
            + [(int(i), "drop", -1) for i in np.asarray(drop, dtype=np.int64)]
            + [(int(i), "keep", -1) for i in np.asarray(keep, dtype=np.int64)])
    labels = np.asarray(labels, dtype=np.int64)
    given = [int(labels[i]) if 0 <= i < len(labels) else -1 for i, _, _ in rows]
    return _checked(fingerprint, len(labels), num_classes,
                    [(i, a, y, g, f"{a} of {i}") for (i, a, y), g in zip(rows, given,
                                                                        strict=True)])


def combined(first: Corrections, second: Corrections) -> Corrections:
    """The rows of both, for the same data; an index in both is refused (naming it)."""
    if ((first.fingerprint, first.num_samples, first.num_classes)
            != (second.fingerprint, second.num_samples, second.num_classes)):
        raise FormatError("corrections for different data cannot be combined")
    rows = [(int(i), str(a), int(y), int(g), f"{a} of {i}")
            for c in (first, second)
            for i, a, y, g in zip(c.index, c.action, c.label, c.given, strict=True)]
    return _checked(first.fingerprint, first.num_samples, first.num_classes, rows)


def _checked(fingerprint: str, n: int, classes: int,
             rows: list[tuple[int, str, int, int, str]]) -> Corrections:
    """(index, action, label, given, where) rows -> Corrections, each row checked."""
    seen: dict[int, str] = {}
    for index, action, label, given, where in rows:
        if not 0 <= index < n:
            raise FormatError(f"{where}: index {index} is outside the {n} samples")
        if action not in ACTIONS:
            raise FormatError(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
        if action == "relabel" and not 0 <= label < classes:
            raise FormatError(f"{where}: label {label} is outside the {classes} classes")
        if action == "relabel" and label == given:
            raise FormatError(f"{where}: relabels index {index} to its given label {label}",
                              hint="use action keep")
        if not 0 <= given < classes:
            raise FormatError(f"{where}: given label {given} is outside the {classes} classes")
        if index in seen:
            raise FormatError(f"{where}: index {index} again (first in {seen[index]})",
                              hint="one row per sample")
        seen[index] = where
    rows = sorted(rows)
    return Corrections(
        fingerprint, n, classes,
        index=np.array([r[0] for r in rows], dtype=np.int64),
        action=np.array([r[1] for r in rows], dtype="<U7"),
        label=np.array([r[2] if r[1] == "relabel" else -1 for r in rows], dtype=np.int64),
        given=np.array([r[3] for r in rows], dtype=np.int64))


def read(path: str | Path) -> Corrections:
    """Read and check a corrections file; every problem is named with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CuratorError(f"no corrections file {str(path)!r}",
                           hint="make one with `curator relabel FILE --out "
                                f"{path.name}`") from None
    lines = text.splitlines()
    meta: dict[str, str] = {}
    body_start = 0
    for number, line in enumerate(lines):
        if not line.startswith("#"):
            body_start = number
            break
        key, _, value = line[1:].strip().partition(" ")
        meta[key] = value.strip()
    else:
        body_start = len(lines)
    where = repr(str(path))
    if meta.get(MAGIC) != str(VERSION):
        raise FormatError(f"{where} is not a curator corrections file (its first line must be "
                          f"'# {MAGIC} {VERSION}')")
    for key in ("fingerprint", "num_samples", "num_classes"):
        if key not in meta:
            raise FormatError(f"{where} has no '# {key} ...' line")
    try:
        n, classes = int(meta["num_samples"]), int(meta["num_classes"])
    except ValueError:
        raise FormatError(f"{where}: num_samples and num_classes must be integers") from None
    reader = csv.reader(lines[body_start:])
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise FormatError(f"{where} line {body_start + 1}: the header must be "
                          f"{','.join(COLUMNS)}, not {','.join(header or [])!r}")
    rows = []
    for offset, fields in enumerate(reader):
        number = body_start + 2 + offset
        if not fields or not "".join(fields).strip():
            continue
        at = f"{where} line {number}"
        if len(fields) != len(COLUMNS):
            raise FormatError(f"{at}: {len(fields)} fields, expected {len(COLUMNS)}")
        index, action, label, given = (f.strip() for f in fields)
        try:
            values = int(index), int(label) if label else -1, int(given)
        except ValueError:
            raise FormatError(f"{at}: index, label and given must be integers "
                              f"({','.join(fields)!r})") from None
        if action == "relabel" and not label:
            raise FormatError(f"{at}: a relabel row needs a label")
        rows.append((values[0], action, values[1], values[2], at))
    return _checked(meta["fingerprint"], n, classes, rows)


def write(corrections: Corrections, path: str | Path) -> Path:
    """Write ``corrections`` to ``path`` whole (a temporary file renamed over it, synced)."""
    path = Path(path)
    buffer = io.StringIO()
    buffer.write(f"# {MAGIC} {VERSION}\n# fingerprint {corrections.fingerprint}\n"
                 f"# num_samples {corrections.num_samples}\n"
                 f"# num_classes {corrections.num_classes}\n")
    buffer.write(",".join(COLUMNS) + "\n")
    # every field an integer or an action word: nothing to quote (one join, not a csv row
    # each: curator review writes the whole file at every answer)
    buffer.write("".join(
        f"{i},{a},{y if a == 'relabel' else ''},{g}\n" for i, a, y, g in zip(
            corrections.index.tolist(), corrections.action.tolist(),
            corrections.label.tolist(), corrections.given.tolist(), strict=True)))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def kept_rows(num_samples: int, corrections: Corrections | None, keep: Any = None
              ) -> np.ndarray:
    """Sorted indices of the rows a training run takes: those ``corrections`` (or None) does
    not drop and, with ``keep`` (a pruning selection's indices), those in it."""
    mask = np.ones(num_samples, dtype=bool) if corrections is None else corrections.kept()
    if keep is not None:
        chosen = np.asarray(keep, dtype=np.int64)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= num_samples):
            raise CuratorError(f"keep has indices outside the data set's {num_samples} rows",
                               param="keep")
        selected = np.zeros(num_samples, dtype=bool)
        selected[chosen] = True
        mask &= selected
    return np.flatnonzero(mask)


class CorrectedDataset:
    """``dataset`` without its dropped samples (and, with ``keep``, only those), each item's
    label replaced by its correction. ``indices[i]``: the original index of item ``i``. Items
    are tuples ``(x, y, ...)`` (the label second) or dicts with ``label_key``."""

    def __init__(self, dataset: Any, corrections: Corrections, keep: Any = None, *,
                 label_key: str = "label") -> None:
        n = len(dataset)
        if n != corrections.num_samples:
            raise CuratorError(f"the data set has {n} samples, but the corrections are for "
                               f"{corrections.num_samples}",
                               hint="pass the training split the scores file was made on")
        self.dataset, self.corrections, self.label_key = dataset, corrections, label_key
        self.indices = kept_rows(n, corrections, keep)
        rows = corrections.action == "relabel"
        self._new = dict(zip(corrections.index[rows].tolist(), corrections.label[rows].tolist(),
                             strict=True))
        self._given = dict(zip(corrections.index[rows].tolist(),
                               corrections.given[rows].tolist(), strict=True))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        index = int(self.indices[i])
        item = self.dataset[index]
        new = self._new.get(index)
        if new is None:
            return item
        if isinstance(item, Mapping):
            self._check(index, item[self.label_key])
            return {**item, self.label_key: _like(item[self.label_key], new)}
        if isinstance(item, tuple | list) and len(item) >= 2:
            self._check(index, item[1])
            return (item[0], _like(item[1], new), *item[2:])
        raise CuratorError(f"item {index} is a {type(item).__name__}; corrections need "
                           "(x, y, ...) tuples or dicts", param="dataset")

    def _check(self, index: int, label: Any) -> None:
        given = int(label)
        if given != self._given[index]:
            raise FormatError(f"sample {index} of the data set is labelled {given}, but its "
                              f"correction was made against label {self._given[index]}",
                              hint="pass the training split the scores file was made on")


def _like(label: Any, new: int) -> Any:
    """``new`` as the same kind of value as ``label`` (a tensor of its dtype, a numpy scalar,
    an int), so a DataLoader batches relabelled and other items alike."""
    import torch

    if isinstance(label, torch.Tensor):
        return torch.tensor(new, dtype=label.dtype)
    if isinstance(label, np.generic):
        return label.dtype.type(new)
    return new


def with_corrections(dataset: Any, corrections: str | Path | Corrections, *,
                     keep: Any = None, label_key: str = "label") -> CorrectedDataset:
    """``dataset`` (the training split a scores file was made on, in its order) with the
    corrections applied: dropped samples left out, relabelled ones carrying their new label
    (:class:`CorrectedDataset`); ``keep``: indices of a pruning selection to intersect with
    (``f.selection(name)``, ``curator.plan_selection``)."""
    if not isinstance(corrections, Corrections):
        corrections = read(corrections)
    return CorrectedDataset(dataset, corrections, keep, label_key=label_key)
