"""Writers: create a file, add and append runs (committed epoch by epoch in SWMR mode), and
swap in derived datasets (scores, selections, per-run arrays) all or nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

import curator
from curator import faults
from curator.errors import CuratorError, FormatError
from curator.store.lock import _no_interrupt
from curator.store.repair import _cut_rows, _left_open, repair
from curator.store.spec import (
    CHUNK_SAMPLES,
    COMPRESSION,
    ENCODING_TYPE,
    HISTORY,
    LIBVER,
    RUN_ENCODING,
    SCORE_ENCODING,
    STAT_DTYPES,
    VERSION,
    ScoreValues,
    _json,
    _label_dtype,
    stat_dtype,
)
from samplers.scores import TMP_PREFIX

if TYPE_CHECKING:
    from curator.data import DataBundle


WRITE_WAIT_S = 60.0  # how long a writer waits for readers that hold the file open


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
            classes = int(f.attrs["num_classes"])
            for stat in STAT_DTYPES:
                run.create_dataset(stat, shape=(0, n), maxshape=(None, n),
                                   dtype=stat_dtype(stat, classes),
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
                if stats is None or stat not in stats:
                    raise FormatError(f"run {name!r} records the statistic {stat!r}, but "
                                      f"{'none were' if stats is None else 'it was not'} given")
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
            if "first_epoch" in run:  # the first epoch's checks go with it
                del run["first_epoch"]


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


def export_indices(indices: np.ndarray, out: str | Path) -> Path:
    """Write sample indices to ``.npy``, ``.txt`` (one per line) or ``.csv`` (header
    ``index``): a selection's kept samples, or the flagged ones."""
    out = Path(out)
    if out.suffix == ".npy":
        np.save(out, indices)
    elif out.suffix in (".txt", ".csv"):
        header = "index" if out.suffix == ".csv" else ""
        np.savetxt(out, indices, fmt="%d", header=header, comments="")
    else:
        raise CuratorError(f"--out {str(out)!r} must end in .npy, .txt or .csv")
    return out
