"""The validating reader: readers are registered per (encoding-type, encoding-version) in
:data:`READERS` (and per element encoding for scores in :data:`SCORE_READERS`), and a file
or element of an unknown one is refused with an error that names it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

import curator
from curator.errors import CuratorError, FormatError
from curator.store.lock import writer_lock
from curator.store.repair import _left_open, repair
from curator.store.spec import (
    ENCODING_TYPE,
    FIRST_EPOCH_COLUMNS,
    HISTORY,
    RECORDER_SOURCE,
    SCORE_ENCODING,
    STAT_DTYPES,
    RunInfo,
    ScoreValues,
)
from samplers.scores import TMP_PREFIX

if TYPE_CHECKING:
    from curator.data import DataBundle

OPEN_RETRY_S = 10.0  # how long a reader waits for a writer's short non-SWMR write


class ScoresFile:
    """Read access to a curator scores file (open it with :func:`open_scores`)."""

    def __init__(self, path: Path, f: h5py.File) -> None:
        self.path = path
        self._f = f
        attrs, where = f.attrs, f"{str(path)!r}: the root"
        self.version = _attr(attrs, "encoding-version", "str", where)
        self.num_samples = _attr(attrs, "num_samples", "count", where)
        self.num_classes = _attr(attrs, "num_classes", "count", where)
        self.fingerprint = _attr(attrs, "fingerprint", "str", where)
        self.data_spec: dict[str, Any] = _attr(attrs, "data", "object", where)
        self.config: dict[str, Any] = _attr(attrs, "config", "object", where)
        self.curator_version = _attr(attrs, "curator-version", "str", where, default="?")
        for key in ("data", "label_noise", "noise_seed"):
            if key not in self.data_spec:
                raise FormatError(f"{where} attribute 'data' has no key {key!r}",
                                  hint="the file is damaged or was not written by curator")

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ScoresFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def labels(self) -> np.ndarray:
        return self._labels("labels")

    @property
    def test_samples(self) -> int | None:
        """The test samples behind each epoch's ``test_acc`` (the data spec's ``num_test``);
        None when the file does not say (a loop recorded without ``test_samples=``)."""
        return int(self.data_spec.get("num_test") or 0) or None

    def _labels(self, key: str) -> np.ndarray:
        values = self._f[key][()]
        if values.dtype.kind not in "iu":
            raise FormatError(f"'/{key}' of {str(self.path)!r} has dtype {values.dtype}; "
                              "labels are integers")
        values = values.astype(np.int64)
        bad = (values < 0) | (values >= self.num_classes)
        if bad.any():
            raise FormatError(f"'/{key}' of {str(self.path)!r} holds {values[bad][0]}, "
                              f"outside 0..{self.num_classes - 1} (num_classes = "
                              f"{self.num_classes})", hint="the file is damaged")
        return values

    @property
    def from_own_loop(self) -> bool:
        """Whether ``curator.Recorder`` wrote it from a user's loop (its data is the user's:
        curator cannot load it again)."""
        return self.config.get("source") == RECORDER_SOURCE

    @property
    def noisy(self) -> np.ndarray | None:
        return self._f["data/noisy"][()] if "noisy" in self._f["data"] else None

    @property
    def original_labels(self) -> np.ndarray:
        """The labels before any injected noise (the labels themselves without noise)."""
        if "original_labels" in self._f["data"]:
            return self._labels("data/original_labels")
        return self.labels

    def check_data(self, bundle: DataBundle) -> None:
        """Refuse data other than the data this file was scored on (by fingerprint)."""
        if bundle.fingerprint != self.fingerprint:
            raise FormatError(
                f"{str(self.path)!r} was scored on other data: its fingerprint is "
                f"{self.fingerprint}, but {bundle.spec!r} (label noise {bundle.label_noise}, "
                f"noise seed {bundle.noise_seed}) has {bundle.fingerprint}",
                hint=f"the file was made from {self.data_spec['data']!r} with label noise "
                     f"{self.data_spec['label_noise']} and noise seed "
                     f"{self.data_spec['noise_seed']}"
                     + (f" ({self.data_spec['noise_kind']})" if "noise_kind" in self.data_spec
                        else "") + "; pass the same data options")

    def runs(self) -> list[RunInfo]:
        out = []
        for name, run in self._f["runs"].items():
            a, where = run.attrs, f"{str(self.path)!r}: run {name!r}"
            if not isinstance(run, h5py.Group) or "history" not in run:
                raise FormatError(f"{where} is not a run group with a history",
                                  hint="the file is damaged")
            stats = tuple(s for s in STAT_DTYPES if s in run)
            for stat in stats:
                if run[stat].ndim != 2 or run[stat].shape[1] != self.num_samples:
                    raise FormatError(f"{where}: {stat!r} has shape {run[stat].shape}, "
                                      f"expected (epochs, {self.num_samples})")
            out.append(RunInfo(
                name=name, kind=_attr(a, "kind", "str", where, default="reference"),
                model=_attr(a, "model", "str", where), seed=_attr(a, "seed", "int", where),
                probe=_attr(a, "probe", "str", where),
                epochs=_attr(a, "epochs", "count0", where),
                epochs_done=min(_committed(run, where),
                                _attr(a, "epochs", "count0", where) or 1 << 62),
                complete=_attr(a, "complete", "bool", where),
                wall_time_s=_attr(a, "wall_time_s", "float", where),
                final_train_acc=_attr(a, "final_train_acc", "float", where),
                final_test_acc=_attr(a, "final_test_acc", "float", where),
                config=_attr(a, "config", "object", where), stats=stats))
        return sorted(out, key=lambda r: (r.kind != "reference", r.seed, r.name))

    def run(self, name: str) -> RunInfo:
        for info in self.runs():
            if info.name == name:
                return info
        raise FormatError(f"{str(self.path)!r} has no run {name!r}",
                          hint=f"runs: {', '.join(r.name for r in self.runs()) or 'none'}")

    def history(self, name: str) -> dict[str, np.ndarray]:
        info = self.run(name)
        hist = self._f["runs"][name]["history"]
        return {k: hist[k][: info.epochs_done] for k in HISTORY}

    def first_epoch(self, name: str) -> np.ndarray | None:
        """The first-epoch checks of run ``name`` ((K, 5), columns
        :data:`~curator.store.spec.FIRST_EPOCH_COLUMNS`), or None when the run has none or
        has not finished its first epoch."""
        run = self._f["runs"][name]
        if "first_epoch" not in run or self.run(name).epochs_done < 1:
            return None
        rows = np.asarray(run["first_epoch"][()], dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(FIRST_EPOCH_COLUMNS) or not len(rows):
            raise FormatError(f"{str(self.path)!r}: run {name!r} has a first_epoch of shape "
                              f"{rows.shape}, expected (K, {len(FIRST_EPOCH_COLUMNS)})",
                              hint="the file is damaged")
        return rows

    def read_stat(self, run: str, stat: str, start: int = 0, stop: int | None = None
                  ) -> np.ndarray:
        """Rows of finished epochs (epochs_done, stop - start) of one statistic of one run."""
        info = self.run(run)
        if stat not in info.stats:
            raise FormatError(f"run {run!r} of {str(self.path)!r} has no statistic {stat!r}",
                              hint="runs scored with --probe none record no statistics")
        return self._f["runs"][run][stat][: info.epochs_done, start:stop]

    def selection_names(self) -> list[str]:
        return (_visible(self._f["selections"]) if "selections" in self._f else [])

    def selection(self, name: str) -> np.ndarray:
        """The sorted sample indices of selection ``name`` (made by `curator prune`)."""
        if name not in self.selection_names():
            raise FormatError(f"{str(self.path)!r} has no selection {name!r}",
                              hint=f"selections: {', '.join(self.selection_names()) or 'none'}"
                                   "; make one with `curator prune`")
        return self._f["selections"][name][()].astype(np.int64)

    def selection_attrs(self, name: str) -> dict[str, Any]:
        self.selection(name)
        return dict(self._f["selections"][name].attrs)

    def score_names(self) -> list[str]:
        return _visible(self._f["scores"])

    def score(self, name: str) -> ScoreValues:
        group = self._f["scores"]
        if name not in group:
            raise FormatError(f"{str(self.path)!r} has no score {name!r}",
                              hint=f"scores: {', '.join(self.score_names()) or 'none yet'}")
        ds, where = group[name], f"{str(self.path)!r}: score {name!r}"
        encoding = (_attr(ds.attrs, "encoding-type", "str", where, default=SCORE_ENCODING[0]),
                    _attr(ds.attrs, "encoding-version", "str", where,
                          default=SCORE_ENCODING[1]))
        if encoding not in SCORE_READERS:
            raise FormatError(f"{where} has encoding {encoding[0]!r} version {encoding[1]!r}, "
                              f"which this curator ({curator.__version__}) cannot read",
                              hint="readable: " + ", ".join(f"{t} {v}"
                                                            for t, v in SCORE_READERS))
        if not isinstance(ds, h5py.Dataset) or ds.shape != (self.num_samples,) \
                or ds.dtype.kind not in "iufb":
            raise FormatError(f"{where} is not {self.num_samples} numbers "
                              f"({getattr(ds, 'shape', 'a group')})", hint="the file is damaged")
        higher_is = _attr(ds.attrs, "higher_is", "str", where)
        if higher_is not in ("easier", "harder"):
            raise FormatError(f"{where} attribute 'higher_is' is {higher_is!r}, expected "
                              "'easier' or 'harder'")
        runs = _attr(ds.attrs, "runs", "list", where)
        return ScoreValues(ds[()], higher_is, _attr(ds.attrs, "description", "str", where),
                           tuple(str(r) for r in runs),
                           _attr(ds.attrs, "params", "object", where, default={}))


def _committed(run: h5py.Group, where: str = "a run") -> int:
    """Epochs of a run a reader may trust: ``epochs_done``, and never more rows than every
    statistic and history series holds (a torn epoch is not data)."""
    rows = [run[s].shape[0] for s in STAT_DTYPES if s in run]
    rows += [run["history"][k].shape[0] for k in HISTORY if k in run["history"]]
    return min([_attr(run.attrs, "epochs_done", "count0", where), *rows])


_MISSING = object()


_KINDS = {"str": "a string", "int": "an integer", "count": "an integer >= 1",
          "count0": "an integer >= 0", "float": "a number", "bool": "true or false",
          "object": "a JSON object", "list": "a JSON list"}


def _attr(attrs: h5py.AttributeManager, key: str, kind: str, where: str,
          default: Any = _MISSING) -> Any:
    """Attribute ``key`` converted to ``kind``, or a FormatError naming it and its value."""
    if key not in attrs:
        if default is not _MISSING:
            return default
        raise FormatError(f"{where} has no attribute {key!r}",
                          hint="the file is damaged or was not written by curator")
    try:
        value = attrs[key]
    except (OSError, TypeError, ValueError) as exc:
        raise FormatError(f"{where} attribute {key!r} cannot be read: {exc}") from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, str):  # bytes that were not UTF-8 arrive as surrogates: show them as �
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    ok, out = False, None
    if kind == "str":
        ok, out = isinstance(value, str), value
    elif kind in ("int", "count", "count0"):
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
        out = int(value) if ok else None
        ok = ok and (kind == "int" or out >= (1 if kind == "count" else 0))  # type: ignore
    elif kind == "float":
        ok = isinstance(value, int | float | np.integer | np.floating) \
            and not isinstance(value, bool | np.bool_)
        out = float(value) if ok else None
    elif kind == "bool":
        ok = isinstance(value, bool | np.bool_)
        out = bool(value) if ok else None
    elif kind in ("object", "list") and isinstance(value, str):
        try:
            out = json.loads(value)
        except ValueError:
            out = None
        ok = isinstance(out, dict if kind == "object" else list)
    if not ok:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise FormatError(f"{where} attribute {key!r} is {shown}, expected {_KINDS[kind]}",
                          hint="the file is damaged or was not written by curator")
    return out


def _visible(group: h5py.Group) -> list[str]:
    """Dataset names of a group, without a derived write's leftover temporaries."""
    return sorted(k for k in group if not k.startswith(TMP_PREFIX))


def _check_v0_1(path: Path, f: h5py.File) -> None:
    for key in ("labels", "data", "runs", "scores"):
        if key not in f:
            raise FormatError(f"{str(path)!r} is missing {'/' + key!r}",
                              hint="the file is damaged or was not written by curator")
    for attr in ("num_samples", "num_classes", "fingerprint", "data", "config"):
        if attr not in f.attrs:
            raise FormatError(f"{str(path)!r} is missing the root attribute {attr!r}")
    for key, kind in (("labels", h5py.Dataset), ("data", h5py.Group), ("runs", h5py.Group),
                      ("scores", h5py.Group)):
        if not isinstance(f[key], kind):
            raise FormatError(f"'/{key}' of {str(path)!r} is not a {kind.__name__.lower()}",
                              hint="the file is damaged or was not written by curator")
    n = _attr(f.attrs, "num_samples", "count", f"{str(path)!r}: the root")
    if f["labels"].shape != (n,):
        raise FormatError(f"'/labels' of {str(path)!r} has shape {f['labels'].shape}, but the "
                          f"file says num_samples = {n}")


# (encoding-type, encoding-version) of the file -> its checker; of a score dataset -> True
READERS: dict[tuple[str, str], Callable[[Path, h5py.File], None]] = {
    (ENCODING_TYPE, "0.1.0"): _check_v0_1,  # runs without ``rival``
    (ENCODING_TYPE, "0.2.0"): _check_v0_1}  # the same layout; runs may record ``rival``
SCORE_READERS: dict[tuple[str, str], bool] = {SCORE_ENCODING: True}


def _open_read(path: Path) -> h5py.File:
    """Open for reading while a run may write the file: a file in SWMR mode (a writer
    appending, or killed while appending) opens in SWMR mode; a short non-SWMR write (a run
    being added, scores being written) is waited for, up to :data:`OPEN_RETRY_S`."""
    deadline = time.monotonic() + OPEN_RETRY_S
    while True:
        try:
            return h5py.File(path, "r")
        except OSError as exc:
            error = exc
        if _left_open(error):
            try:
                return h5py.File(path, "r", swmr=True)
            except OSError as exc:
                error = exc
            with suppress(CuratorError):  # no writer holds the lock: its writer was killed
                with writer_lock(path):
                    try:
                        repair(path)
                    except PermissionError:
                        raise FormatError(
                            f"{str(path)!r} was left open by a writer that stopped, and this "
                            "process may not write it to repair it",
                            hint="run `curator score --resume` (or any curator write) on it "
                                 "as its owner") from None
                continue
        busy = "unable to lock file" in str(error) or _left_open(error)
        if time.monotonic() > deadline or not busy:
            break
        time.sleep(0.2)
    if _left_open(error) or "unable to lock file" in str(error):
        raise FormatError(f"cannot open {str(path)!r}: another process is writing it, or "
                          "stopped while writing it", hint="wait for the writer; a stopped "
                          "run is repaired by `curator score --resume`") from None
    match = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(error))
    if match:
        raise FormatError(f"{str(path)!r} is truncated: it has {match[1]} bytes, but its "
                          f"header says {match[2]}", hint="the copy is incomplete or the disk "
                          "filled up; copy it again, or score again") from None
    raise FormatError(f"cannot open {str(path)!r}: {error}",
                      hint="the file may be truncated or damaged") from None


def open_scores(path: str | Path) -> ScoresFile:
    """Open a scores file for reading, checking its encoding type and version."""
    path = Path(path)
    if not path.exists():
        raise FormatError(f"scores file {str(path)!r} does not exist",
                          hint="create one with `curator score --out FILE`")
    if not path.is_file() or not h5py.is_hdf5(path):
        raise FormatError(f"{str(path)!r} is not an HDF5 file",
                          hint="pass a file written by `curator score`")
    f = _open_read(path)
    try:
        kind = f.attrs.get("encoding-type")
        if isinstance(kind, bytes):
            kind = kind.decode("utf-8", errors="replace")
        if not isinstance(kind, str) or kind != ENCODING_TYPE:
            raise FormatError(f"{str(path)!r} is not a curator scores file: its "
                              f"'encoding-type' is {kind!r}, expected {ENCODING_TYPE!r}")
        version = _attr(f.attrs, "encoding-version", "str", f"{str(path)!r}: the root",
                        default="none")
        if (kind, version) not in READERS:
            raise FormatError(
                f"{str(path)!r} has '/' attribute 'encoding-version' = {version!r}, which this "
                f"curator ({curator.__version__}) cannot read",
                hint=f"readable versions: {', '.join(v for _, v in READERS)}; a newer file "
                     "needs a newer curator")
        READERS[kind, version](path, f)
        return ScoresFile(path, f)
    except BaseException:
        f.close()
        raise
