"""The curator scores file: a versioned HDF5 format (see docs/format.md).

Writers always write :data:`VERSION`; readers are registered per (encoding-type,
encoding-version) in :data:`READERS`,
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

The package: :mod:`~curator.store.spec` (encodings, statistics, values),
:mod:`~curator.store.write`, :mod:`~curator.store.read`, :mod:`~curator.store.lock` and
:mod:`~curator.store.repair`.
"""

from curator.store.lock import writer_lock
from curator.store.read import READERS, SCORE_READERS, ScoresFile, open_scores
from curator.store.repair import recover, repair
from curator.store.spec import (
    CHUNK_SAMPLES,
    COMPRESSION,
    ENCODING_TYPE,
    FIRST_EPOCH_COLUMNS,
    HISTORY,
    LIBVER,
    RECORDER_SOURCE,
    RUN_ENCODING,
    SCORE_ENCODING,
    STAT_DTYPES,
    VERSION,
    RunInfo,
    ScoreValues,
    ease_of,
    no_rival,
    stat_dtype,
)
from curator.store.write import (
    add_run,
    append_epoch,
    create,
    create_file,
    export_indices,
    finish_run,
    reopen_run,
    truncate_run,
    write_run_array,
    write_scores,
    write_selection,
)
from samplers.scores import TMP_PREFIX

__all__ = [
    "CHUNK_SAMPLES", "COMPRESSION", "ENCODING_TYPE", "FIRST_EPOCH_COLUMNS", "HISTORY", "LIBVER",
    "READERS", "RECORDER_SOURCE",
    "RUN_ENCODING", "SCORE_ENCODING", "SCORE_READERS", "STAT_DTYPES", "TMP_PREFIX", "VERSION",
    "RunInfo", "ScoreValues", "ScoresFile", "add_run", "append_epoch", "create", "create_file",
    "ease_of", "export_indices", "finish_run", "no_rival", "open_scores", "recover",
    "reopen_run", "repair", "stat_dtype", "truncate_run",
    "write_run_array", "write_scores", "write_selection", "writer_lock",
]
