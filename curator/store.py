"""The curator scores file: a versioned HDF5 format (see docs/format.md).

Writers always write :data:`VERSION`; readers are registered per version in :data:`READERS`,
and a file of an unknown version is refused with an error that names the file, the key and
the version. Epochs are appended and flushed as they finish (the file is opened for each write
and closed again), so an interrupted run keeps every finished epoch.

Crash safety (docs/reliability.md): files use the HDF5 1.10 format, and an epoch is appended
in SWMR mode, whose ordered metadata flushes keep the file readable at every moment; the rows
are flushed before ``epochs_done`` (the commit) is raised, so a reader never sees a torn epoch.
A writer that was killed leaves HDF5's "open for writing" mark: readers then open the file in
SWMR mode, and the next writer copies the committed content into a fresh file first
(:func:`recover`). Derived writes (scores, selections, per-run arrays) write new datasets
under temporary names and swap them in only when all are written. One writer at a time: a
``<file>.lock`` beside the file (:func:`writer_lock`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

import curator
from curator import faults
from curator.errors import CuratorError, FormatError
from samplers.scores import TMP_PREFIX  # derived datasets are written under it, then swapped in

if TYPE_CHECKING:
    from curator.data import DataBundle

ENCODING_TYPE = "curator-scores"
VERSION = "0.1.0"
RUN_ENCODING = ("curator-run", "0.1.0")
SCORE_ENCODING = ("curator-score", "0.1.0")
HISTORY = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds")
CHUNK_SAMPLES = 1 << 16  # samples per chunk of a (T, N) statistic: one epoch row per chunk
COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
LIBVER = ("v110", "v110")  # SWMR needs the 1.10 format; HDF5 >= 1.10 reads it
OPEN_RETRY_S = 10.0  # how long a reader waits for a writer's short non-SWMR write
WRITE_WAIT_S = 60.0  # how long a writer waits for readers that hold the file open
# statistic -> dtype in the file (p_true keeps full precision: learnability is its mean); the
# recorder (curator.record) computes these and stores them in these dtypes
STAT_DTYPES: dict[str, np.dtype] = {
    "p_true": np.dtype("float32"),
    "correct": np.dtype("bool"),
    "loss": np.dtype("float16"),
    "margin": np.dtype("float16"),
    "el2n": np.dtype("float16"),
}


def _label_dtype(num_classes: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.int32):
        if num_classes <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def create(path: str | Path, bundle: DataBundle, config: dict[str, Any]) -> None:
    """Write a new file for the data of ``bundle``, with no runs."""
    noise = ({"label_noise": bundle.label_noise, "noise_seed": bundle.noise_seed,
              "noise_kind": bundle.noise_kind} if bundle.noisy is not None else None)
    create_file(path, labels=bundle.labels, num_classes=bundle.num_classes,
                data=bundle.describe(), fingerprint=bundle.fingerprint, config=config,
                noisy=bundle.noisy, original_labels=bundle.original_labels, noise=noise)


def create_file(path: str | Path, *, labels: np.ndarray, num_classes: int,
                data: dict[str, Any], fingerprint: str, config: dict[str, Any],
                noisy: np.ndarray | None = None, original_labels: np.ndarray | None = None,
                noise: dict[str, Any] | None = None) -> None:
    """Write a new file with the data description and no runs (atomically: temp + rename).

    ``data`` is the data spec (``data``, ``label_noise``, ``noise_seed``, ...); with ``noisy``
    (the mask of injected wrong labels) come ``original_labels`` and the ``noise`` attributes.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w", libver=LIBVER) as f:
        f.attrs["encoding-type"] = ENCODING_TYPE
        f.attrs["encoding-version"] = VERSION
        f.attrs["curator-version"] = curator.__version__
        f.attrs["data"] = _json(data)
        f.attrs["num_samples"] = len(labels)
        f.attrs["num_classes"] = num_classes
        f.attrs["fingerprint"] = fingerprint
        f.attrs["config"] = _json(config)
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        f.create_dataset("labels", data=np.asarray(labels).astype(_label_dtype(num_classes)))
        group = f.create_group("data")
        if noisy is not None:
            group.create_dataset("noisy", data=np.asarray(noisy, dtype=bool))
            originals = labels if original_labels is None else original_labels
            group.create_dataset("original_labels", data=np.asarray(originals).astype(
                _label_dtype(num_classes)))
            group.attrs.update(noise or {})
        f.create_group("runs")
        f.create_group("scores")
    os.replace(tmp, path)


def _left_open(exc: OSError) -> bool:
    """HDF5's error for a file whose last writer did not close it (killed, or writing now)."""
    return "already open for write" in str(exc)


@contextmanager
def _open_for_write(path: Path) -> Iterator[h5py.File]:
    """Open for a write (the caller holds :func:`writer_lock`). A file left open by a killed
    writer is repaired first (:func:`repair`)."""
    deadline = time.monotonic() + WRITE_WAIT_S
    while True:
        try:
            f = h5py.File(path, "a", libver=LIBVER)
            break
        except OSError as exc:
            if _left_open(exc):
                repair(path)
            elif "unable to lock file" not in str(exc) or time.monotonic() > deadline:
                raise FormatError(f"cannot open {str(path)!r} for writing: {exc}",
                                  hint="another program may hold the file open") from None
            else:  # a reader has it open for a moment
                time.sleep(0.05)
    with f:
        yield f
        f.flush()


# HDF5 superblock v2/v3 (the 1.10 format): signature, version, sizes, consistency flags...
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_FLAGS_AT = 11
_WRITE_ACCESS, _SWMR_WRITE_ACCESS = 0x01, 0x04


def _superblock(path: Path) -> tuple[bytes, int]:
    """The superblock bytes before its checksum, and the stored checksum."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head.startswith(_SIGNATURE) or head[8] not in (2, 3):
        raise FormatError(f"{str(path)!r} does not start with an HDF5 1.10 superblock")
    end = 12 + 4 * head[9]  # four addresses of 'size of offsets' bytes
    return head[:end], int.from_bytes(head[end:end + 4], "little")


def _open_mark(path: Path) -> int:
    """The superblock's file-consistency flags (non-zero: a writer has it open)."""
    return _superblock(path)[0][_FLAGS_AT]


def repair(path: str | Path) -> None:
    """Make a file whose writer was killed writable and readable again.

    Killed while appending in SWMR mode: the committed content is copied into a fresh file
    (:func:`recover`). Killed in any other write: HDF5 had flushed nothing of that write (it
    writes metadata when the file closes), so the file is its state before the write, and
    only the "open for writing" mark is cleared, as ``h5clear --status`` does; the
    superblock's checksum is recomputed, after checking that this code reproduces the stored
    one."""
    path = Path(path)
    body, checksum = _superblock(path)
    if body[_FLAGS_AT] & _SWMR_WRITE_ACCESS:
        recover(path)
        return
    if _lookup3(body) != checksum:
        raise FormatError(f"cannot repair {str(path)!r}: its superblock checksum does not "
                          "match", hint="the file is damaged; score again with --force")
    cleared = bytearray(body)
    cleared[_FLAGS_AT] = 0
    with open(path, "r+b") as fh:
        fh.write(bytes(cleared) + _lookup3(bytes(cleared)).to_bytes(4, "little"))
        fh.flush()
        os.fsync(fh.fileno())


def _lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, HDF5's metadata checksum (H5_checksum_lookup3)."""
    mask = 0xFFFFFFFF

    def rot(x: int, k: int) -> int:
        return ((x << k) | (x >> (32 - k))) & mask

    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & mask
    i = 0
    while n - i > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & mask
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & mask
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & mask
        a = ((a - c) & mask) ^ rot(c, 4)
        c = (c + b) & mask
        b = ((b - a) & mask) ^ rot(a, 6)
        a = (a + c) & mask
        c = ((c - b) & mask) ^ rot(b, 8)
        b = (b + a) & mask
        a = ((a - c) & mask) ^ rot(c, 16)
        c = (c + b) & mask
        b = ((b - a) & mask) ^ rot(a, 19)
        a = (a + c) & mask
        c = ((c - b) & mask) ^ rot(b, 4)
        b = (b + a) & mask
        i += 12
    if n - i == 0:
        return c
    tail = data[i:] + bytes(12 - (n - i))
    a = (a + int.from_bytes(tail[0:4], "little")) & mask
    b = (b + int.from_bytes(tail[4:8], "little")) & mask
    c = (c + int.from_bytes(tail[8:12], "little")) & mask
    c = ((c ^ b) - rot(b, 14)) & mask
    a = ((a ^ c) - rot(c, 11)) & mask
    b = ((b ^ a) - rot(a, 25)) & mask
    c = ((c ^ b) - rot(b, 16)) & mask
    a = ((a ^ c) - rot(c, 4)) & mask
    b = ((b ^ a) - rot(a, 14)) & mask
    c = ((c ^ b) - rot(b, 24)) & mask
    return c


def recover(path: str | Path) -> None:
    """Rebuild a file whose writer was killed: copy what its SWMR view holds (every committed
    epoch; rows past ``epochs_done`` are dropped) into a fresh file and swap it in."""
    path = Path(path)
    tmp = path.with_name(path.name + ".recover")
    try:
        src = h5py.File(path, "r", swmr=True, libver=LIBVER)
    except OSError as exc:
        raise FormatError(f"{str(path)!r} was left open by a writer that stopped, and cannot "
                          f"be read: {exc}", hint="the file is damaged; score again with "
                          "--force") from None
    with src, h5py.File(tmp, "w", libver=LIBVER) as dst:
        dst.attrs.update(dict(src.attrs))
        for key in src:
            if key != "runs":
                src.copy(src[key], dst, name=key)
        runs = dst.create_group("runs")
        for name, run in src["runs"].items():
            src.copy(run, runs, name=name)
            _drop_uncommitted(runs[name])
    os.replace(tmp, path)


def _drop_uncommitted(run: h5py.Group) -> None:
    _cut_rows(run, int(run.attrs["epochs_done"]))


def _cut_rows(run: h5py.Group, epochs: int) -> None:
    """Shorten every statistic and history series of ``run`` to at most ``epochs`` rows."""
    series = [run[s] for s in STAT_DTYPES if s in run]
    series += [run["history"][k] for k in HISTORY]
    for ds in series:
        if ds.shape[0] > epochs:
            ds.resize(epochs, axis=0)


@contextmanager
def writer_lock(path: str | Path) -> Iterator[None]:
    """Hold ``<path>.lock`` for the duration: a second writer of the same file is refused.

    The lock is an advisory ``flock``: it dies with its process (a killed run leaves no stale
    lock), and the lock file is removed on release."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    lock = Path(path).with_name(Path(path).name + ".lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise CuratorError(f"{str(path)!r} is being written by another process ({holder})",
                               hint="wait for it to finish, or write to another --out"
                               ) from None
        try:  # the lock file we locked may have been removed by a writer that just finished
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, since {time.strftime('%H:%M:%S')}".encode())
        yield
    finally:
        with suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


@contextmanager
def _no_interrupt() -> Iterator[None]:
    """Defer Ctrl-C (SIGINT) until the block is done: the block must not be cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[object] = []
    previous = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def _swap_in(group: h5py.Group, items: dict[str, Callable[[h5py.Group, str], None]]) -> None:
    """Write each ``items[name](group, tmp_name)`` under a temporary name; once every one is
    written, replace the old datasets by them. A failure before the swap removes the new
    datasets and leaves the group as it was."""
    written = []
    try:
        for name, write in items.items():
            tmp = TMP_PREFIX + name
            if tmp in group:  # left by an earlier interrupted write
                del group[tmp]
            write(group, tmp)
            written.append(tmp)
        faults.point("derived")
    except BaseException:
        for tmp in written:
            with suppress(Exception):
                del group[tmp]
        raise
    with _no_interrupt():
        for name in items:
            if name in group:
                del group[name]
            group.move(TMP_PREFIX + name, name)


def add_run(path: str | Path, name: str, *, seed: int, config: dict[str, Any],
            epochs: int | None, record: bool, kind: str = "reference",
            folds: np.ndarray | None = None, fold: int | None = None) -> None:
    """Add an empty run: statistics (0, N) growing to (epochs, N), per-epoch history (0,).

    ``epochs=None`` (a loop recorded by :class:`curator.Recorder` without a planned length)
    stores ``epochs = 0`` until :func:`finish_run` sets it to the epochs done.
    A ``holdout`` run also stores the fold of each sample and which ``fold`` it holds out.
    """
    with _open_for_write(Path(path)) as f:
        n = int(f.attrs["num_samples"])
        run = f["runs"].create_group(name)
        run.attrs["encoding-type"], run.attrs["encoding-version"] = RUN_ENCODING
        run.attrs["kind"] = kind
        if folds is not None:
            run.create_dataset("folds", data=folds.astype(np.int16), **COMPRESSION)
            run.attrs["fold"] = int(fold if fold is not None else -1)
        run.attrs.update({"model": config["model"], "seed": seed, "probe": config["probe"],
                          "config": _json(config), "epochs": epochs or 0, "epochs_done": 0,
                          "complete": False, "wall_time_s": 0.0,
                          "final_train_acc": np.nan, "final_test_acc": np.nan})
        if record:
            for stat, dtype in STAT_DTYPES.items():
                run.create_dataset(stat, shape=(0, n), maxshape=(None, n), dtype=dtype,
                                   chunks=(1, min(n, CHUNK_SAMPLES)), **COMPRESSION)
        history = run.create_group("history")
        for key in HISTORY:  # growable: a finished recorded run may be continued (reopen_run)
            history.create_dataset(key, shape=(0,), maxshape=(None,), dtype="float64",
                                   chunks=(max(1, min(epochs or 64, 1024)),))


def append_epoch(path: str | Path, name: str, epoch: int, stats: dict[str, np.ndarray] | None,
                 metrics: dict[str, float]) -> None:
    """Write epoch ``epoch`` (0-based) of run ``name``; it must be the next one.

    In SWMR mode: the rows are written and flushed first, then ``epochs_done`` (the commit)
    and the run's summary attributes, then flushed again."""
    with _open_for_write(Path(path)) as f:
        with suppress(ValueError, RuntimeError, OSError):  # files older than 1.10: no SWMR
            f.swmr_mode = True
        run = f["runs"][name]
        done = int(run.attrs["epochs_done"])
        if epoch != done:
            raise FormatError(f"run {name!r} of {str(path)!r} has {done} epochs; cannot write "
                              f"epoch {epoch + 1}")
        for stat in STAT_DTYPES:
            if stat in run:
                if stats is None:
                    raise FormatError(f"run {name!r} records statistics, but none were given")
                ds = run[stat]
                ds.resize(epoch + 1, axis=0)
                ds[epoch] = stats[stat]
        faults.point("write")
        for key in HISTORY:
            ds = run["history"][key]
            ds.resize(epoch + 1, axis=0)
            ds[epoch] = metrics[key]
        f.flush()
        faults.point("commit")
        run.attrs["wall_time_s"] = float(run.attrs["wall_time_s"]) + metrics["seconds"]
        run.attrs["final_train_acc"] = metrics["train_acc"]
        run.attrs["final_test_acc"] = metrics["test_acc"]
        # written last: a reader trusts only the first epochs_done rows
        run.attrs["epochs_done"] = epoch + 1


def truncate_run(path: str | Path, name: str, epochs: int) -> None:
    """Drop every epoch of run ``name`` from ``epochs`` on (to resume from a checkpoint)."""
    with _open_for_write(Path(path)) as f:
        run = f["runs"][name]
        run.attrs["epochs_done"] = min(int(run.attrs["epochs_done"]), epochs)
        run.attrs["complete"] = False
        _cut_rows(run, epochs)
        if epochs:
            hist = run["history"]
            run.attrs["wall_time_s"] = float(np.sum(hist["seconds"][:epochs]))
            run.attrs["final_train_acc"] = float(hist["train_acc"][epochs - 1])
            run.attrs["final_test_acc"] = float(hist["test_acc"][epochs - 1])
        else:
            run.attrs["wall_time_s"] = 0.0


def reopen_run(path: str | Path, name: str, *, epochs: int | None, keep: int) -> None:
    """Continue run ``name`` (complete or not) after its first ``keep`` epochs, now planned
    to last ``epochs`` (None: no planned length); a resumed training that trains longer."""
    with _open_for_write(Path(path)) as f:
        run = f["runs"][name]
        for stat in STAT_DTYPES:
            if stat in run and run[stat].maxshape[0] is not None and epochs is not None \
                    and run[stat].maxshape[0] < epochs:
                raise FormatError(f"run {name!r} of {str(path)!r} was created for at most "
                                  f"{run[stat].maxshape[0]} epochs and cannot grow to "
                                  f"{epochs}", hint="record the longer training as a new run")
        run.attrs["epochs"] = epochs or 0
    truncate_run(path, name, keep)


def write_run_array(path: str | Path, run: str, key: str, values: np.ndarray,
                    **attrs: Any) -> None:
    """Replace the per-sample array ``/runs/<run>/<key>`` (e.g. ``prediction_depth``)."""
    def write(group: h5py.Group, name: str) -> None:
        ds = group.create_dataset(name, data=values, **COMPRESSION)
        ds.attrs.update({k: _json(v) if isinstance(v, list | dict) else v
                         for k, v in attrs.items()})

    with _open_for_write(Path(path)) as f:
        _swap_in(f["runs"][run], {key: write})


def finish_run(path: str | Path, name: str, *, early: bool = False) -> None:
    """Mark run ``name`` complete. It must have all its planned epochs, unless ``early``
    (or it has no planned length): then its length becomes the epochs it has."""
    with _open_for_write(Path(path)) as f:
        run = f["runs"][name]
        done = int(run.attrs["epochs_done"])
        if done and (early or int(run.attrs["epochs"]) == 0):
            run.attrs["epochs"] = done
        if done == 0 or done != int(run.attrs["epochs"]):
            raise FormatError(f"run {name!r} has {int(run.attrs['epochs_done'])} of "
                              f"{int(run.attrs['epochs'])} epochs; it is not complete")
        run.attrs["complete"] = True


def write_scores(path: str | Path, scores: dict[str, ScoreValues]) -> None:
    """Replace ``/scores/<name>`` for each given score: all of them, or none on a failure."""
    def writer(score: ScoreValues) -> Callable[[h5py.Group, str], None]:
        def write(group: h5py.Group, name: str) -> None:
            ds = group.create_dataset(name, data=score.values, **COMPRESSION)
            ds.attrs["encoding-type"], ds.attrs["encoding-version"] = SCORE_ENCODING
            ds.attrs["higher_is"] = score.higher_is
            ds.attrs["description"] = score.description
            ds.attrs["runs"] = _json(list(score.runs))
            ds.attrs["params"] = _json(score.params)
        return write

    with _open_for_write(Path(path)) as f:
        _swap_in(f["scores"], {name: writer(score) for name, score in scores.items()})


def write_selection(path: str | Path, name: str, indices: np.ndarray,
                    attrs: dict[str, Any]) -> None:
    """Replace ``/selections/<name>`` (sorted sample indices made by `curator prune`)."""
    def write(group: h5py.Group, tmp: str) -> None:
        ds = group.create_dataset(tmp, data=indices, **COMPRESSION)
        ds.attrs.update({"encoding-type": "curator-selection", "encoding-version": "0.1.0",
                         "count": len(indices), **attrs,
                         "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    with _open_for_write(Path(path)) as f:
        _swap_in(f.require_group("selections"), {name: write})


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


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


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


READERS: dict[str, Callable[[Path, h5py.File], None]] = {"0.1.0": _check_v0_1}


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
        if version not in READERS:
            raise FormatError(
                f"{str(path)!r} has '/' attribute 'encoding-version' = {version!r}, which this "
                f"curator ({curator.__version__}) cannot read",
                hint=f"readable versions: {', '.join(READERS)}; a newer file needs a newer "
                     "curator")
        READERS[version](path, f)
        return ScoresFile(path, f)
    except BaseException:
        f.close()
        raise
