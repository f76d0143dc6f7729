"""Record any training loop into a curator scores file.

    import curator
    train = curator.with_indices(train_set)      # items become (x, y, index)
    with curator.Recorder("scores.h5", labels=train_labels, num_classes=10) as rec:
        for epoch in range(rec.epochs_done, epochs):  # resumes after the last committed epoch
            for x, y, idx in DataLoader(train, batch_size=128, shuffle=True):
                logits = model(x)
                ...
                rec.update(idx, logits, y)
            rec.end_epoch(test_acc=evaluate(model))   # appends and commits the epoch
    # leaving the block normally finishes the run and writes every score

Optionally, :meth:`Recorder.check` the test accuracy at a few points of the first epoch
(before its first update, then e.g. every tenth of its steps and after its last): the share
of wrong labels behind the mislabel flags is then counted from the first epoch as well
(docs/flags.md, step 3), as ``curator score`` does.

The file is the one ``curator score`` writes (docs/format.md), so every command and sampler
reads it. :meth:`Recorder.update` keeps a reference to the batch's detached logits; the
statistics are computed and scattered on the logits' device in chunks, and copied to the host
once per epoch (as in ``curator score``, :mod:`curator.record`). Under a process group the
user started (DDP), each rank updates the samples it trained on, :meth:`Recorder.end_epoch`
merges the ranks' buffers with one all-reduce, and rank 0 alone writes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset

from curator import store
from curator.data import fingerprint
from curator.distributed import SINGLE, Context
from curator.errors import CuratorError, FormatError, check_output_dir
from curator.record import StatBuffer

SOURCE = store.RECORDER_SOURCE


class IndexedDataset(Dataset):
    """``dataset`` whose items carry their index: ``(x, y)`` becomes ``(x, y, index)``, any
    other tuple gets the index appended, and a dict item gets the key ``"index"``."""

    def __init__(self, dataset: Any) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise CuratorError(f"dataset must be a map-style Dataset (with __getitem__ and "
                               f"__len__), but got {type(dataset).__name__}", param="dataset")
        if "index" in (getattr(dataset, "column_names", None) or ()):  # a datasets.Dataset
            raise CuratorError("the data set already has a column 'index', which with_indices "
                               "would overwrite", param="dataset",
                               hint="rename it (dataset.rename_column('index', ...)) first")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        if isinstance(item, Mapping):
            return {**item, "index": index}
        if isinstance(item, tuple | list):
            return (*item, index)
        return item, index


def with_indices(dataset: Any) -> IndexedDataset:
    """``dataset`` with each item's index, for :meth:`Recorder.update` (see
    :class:`IndexedDataset`)."""
    return IndexedDataset(dataset)


def _context() -> Context:
    """This process's place in a process group the user started (one process without)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return Context(rank=dist.get_rank(), world=dist.get_world_size())
    return SINGLE


def _labels_array(labels: Any) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    values = np.asarray(labels)
    if values.ndim != 1 or len(values) == 0 or values.dtype.kind not in "iu":
        raise CuratorError(f"labels must be a non-empty 1-D integer array (N,), but have shape "
                           f"{values.shape} and dtype {values.dtype}", param="labels")
    if values.min() < 0:
        raise CuratorError(f"labels must be >= 0, but hold {int(values.min())}", param="labels")
    return values.astype(np.int64)


def _test_samples(value: Any, what: str) -> int:
    """``value`` as a count of test samples; a CuratorError naming ``test_samples`` (and
    ``what`` it counts) unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise CuratorError(f"test_samples must be a positive integer ({what}), but got "
                           f"{value!r}", param="test_samples")
    return int(value)


# the usual cause of wrong indices or labels, said where either is refused
INDEX_HINT = ("the indices must be each sample's position in the data set the labels came "
              "from: wrap the training set as curator.with_indices(train_set), whose items "
              "end with that index (for x, y, idx in loader), and pass the labels in that order")


def warn_if_probabilities(logits: torch.Tensor) -> bool:
    """Warn (once, by the caller) when ``logits`` look like probabilities — every entry in
    [0, 1], every row summing to 1 —: their softmax is nearly uniform, so the recorded
    probability of the label tops out near 1/C + a little and every score is wrong. Returns
    whether it warned."""
    import warnings

    x = logits.detach().float()
    if not len(x) or x.shape[1] < 2:
        return False
    looks = bool(((x >= 0) & (x <= 1)).all() and
                 torch.allclose(x.sum(dim=1), torch.ones(len(x), device=x.device), atol=1e-3))
    if looks:
        warnings.warn("Recorder.update got rows that are probabilities (non-negative, summing "
                      "to 1): pass the logits, the model's output before the softmax, or "
                      "log-probabilities (log_softmax); the recorded scores are wrong "
                      "otherwise", UserWarning, stacklevel=3)
    return looks


class Recorder:
    """Records per-sample statistics of a training loop, epoch by epoch, into ``path``.

    ``labels`` (N,) are the training labels in index order; the file is created on first use
    (``force=True`` replaces an existing one). A file that already has run ``run`` continues
    it after its last committed epoch (:attr:`epochs_done`); another ``run`` name (e.g. one
    per seed) adds a run to the same file, and learnability averages over the complete runs.
    The labels must be the file's (checked by fingerprint).

    ``start_epoch`` (resuming from a training checkpoint) drops the recorded epochs from
    that one on, so that the file follows the checkpoint. ``epochs`` is the planned length
    (optional): leaving the ``with`` block normally, or
    :meth:`close`, finishes the run with the epochs it has and computes every score.
    ``noisy`` (N,) bool marks labels known to be wrong (injected noise) so that ``curator
    flag`` and ``curator report`` can measure against it; ``config`` (any JSON) is stored with
    the run; ``model`` and ``data`` name them in ``curator inspect``. ``test_samples`` is the
    size of the test split behind :meth:`end_epoch`'s ``test_acc``: the window before
    memorising then ends at the first epoch whose accuracy a test split of that size cannot
    tell from the best, as in ``curator score`` (docs/flags.md, step 1); without it, at the
    best epoch.
    """

    def __init__(self, path: str | Path, *, labels: Any, num_classes: int | None = None,
                 run: str | None = None, seed: int = 0, epochs: int | None = None,
                 config: Mapping[str, Any] | None = None, model: str = "custom",
                 data: str = "custom", classes: Sequence[str] | None = None,
                 sample_shape: Sequence[int] = (), noisy: Any = None,
                 original_labels: Any = None, force: bool = False,
                 device: torch.device | str | None = None,
                 score_options: Mapping[str, int | None] | None = None,
                 start_epoch: int | None = None, test_samples: int | None = None) -> None:
        self.path = Path(path)
        self.labels = _labels_array(labels)
        n = len(self.labels)
        top = int(self.labels.max()) + 1
        self.num_classes = top if num_classes is None else int(num_classes)
        if self.num_classes < max(top, 2):
            raise CuratorError(f"num_classes {num_classes} is too small: the labels go up to "
                               f"{top - 1}, and a classifier needs at least 2 classes",
                               param="num_classes")
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise CuratorError(f"epochs must be a positive integer or None, but got {epochs!r}",
                               param="epochs")
        self.test_samples = None if test_samples is None else _test_samples(
            test_samples, "the size of the test split behind test_acc, or None")
        self.run = run if run is not None else f"seed-{seed}"
        self.seed, self.epochs = int(seed), epochs
        self.score_options = dict(score_options or {})
        self.ctx = _context()
        self.closed = False
        self._buffer: StatBuffer | None = None
        self._device = None if device is None else torch.device(device)
        self._labels_dev: torch.Tensor | None = None
        self._faults: torch.Tensor | None = None  # (bad indices, wrong labels) this epoch
        self._examples: torch.Tensor | None = None  # first bad index; first wrong (i, y, y')
        self._updates = 0
        self._probabilities_checked = False
        # first-epoch checks (check()): (test accuracy, test samples) at each, and the
        # stretch between checks in which each sample was updated (NaN: in none)
        self._checks: list[tuple[float, int]] = []
        self._stretch: torch.Tensor | None = None
        self._tick = time.perf_counter()
        self._writer: threading.Thread | None = None
        self._write_error: BaseException | None = None
        noisy_mask = None
        if noisy is not None:
            noisy_mask = np.asarray(noisy.cpu() if isinstance(noisy, torch.Tensor) else noisy,
                                    dtype=bool)
            if noisy_mask.shape != (n,):
                raise CuratorError(f"noisy must have shape ({n},) like the labels, but has "
                                   f"{noisy_mask.shape}", param="noisy")
        originals = None if original_labels is None else _labels_array(original_labels)
        if originals is not None and len(originals) != n:
            raise CuratorError(f"original_labels has {len(originals)} values for {n} labels",
                               param="original_labels")
        shape = tuple(int(d) for d in sample_shape)
        self.fingerprint = fingerprint(self.labels, shape, self.num_classes)
        user = dict(config or {})
        self.file_config = {"source": SOURCE, "model": model, "data": data, "user": user}
        self._lock = ExitStack()  # rank 0 holds the file's writer lock until close
        if self.ctx.is_main:
            check_output_dir(self.path)
            self._lock.enter_context(store.writer_lock(self.path))
            try:
                self._open_file(force, shape, data, classes, noisy_mask, originals)
            except BaseException:
                self._lock.close()
                raise
        try:
            self._open_run(epochs, start_epoch)
        except BaseException:
            self._lock.close()
            raise

    def _open_run(self, epochs: int | None, start_epoch: int | None) -> None:
        self.ctx.barrier()  # the file exists before any rank reads it
        with store.open_scores(self.path) as f:
            info = next((r for r in f.runs() if r.name == self.run), None)
        if info is not None and info.complete and start_epoch is None:
            raise FormatError(f"run {self.run!r} of {str(self.path)!r} is complete "
                              f"({info.epochs_done} epochs)",
                              hint="pass run= (or seed=) for another run, or force=True to "
                                   "start the file anew")
        self.epochs_done = 0 if info is None else info.epochs_done
        if start_epoch is not None:  # a training checkpoint from an earlier epoch wins
            if start_epoch > self.epochs_done:
                raise FormatError(f"training resumes at epoch {start_epoch + 1}, but run "
                                  f"{self.run!r} of {str(self.path)!r} has only "
                                  f"{self.epochs_done} epochs", param="start_epoch",
                                  hint="resume from an earlier checkpoint, or record another "
                                       "run")
            self.epochs_done = start_epoch
        self.ctx.barrier()  # every rank has read the file before rank 0 writes it again
        if self.ctx.is_main:
            if info is None:
                store.add_run(self.path, self.run, seed=self.seed,
                              config={**self.file_config, "probe": "train"},
                              epochs=epochs, record=True)
            elif info.complete or (epochs or 0) != info.epochs:  # continued, maybe longer
                store.reopen_run(self.path, self.run, epochs=epochs, keep=self.epochs_done)
            else:
                store.truncate_run(self.path, self.run, self.epochs_done)

    def _open_file(self, force: bool, shape: tuple[int, ...], data: str,
                   classes: Sequence[str] | None, noisy: np.ndarray | None,
                   originals: np.ndarray | None) -> None:
        if self.path.exists() and not force:
            with store.open_scores(self.path) as f:
                if f.fingerprint != self.fingerprint:
                    raise FormatError(
                        f"{str(self.path)!r} was recorded with other labels: its fingerprint "
                        f"is {f.fingerprint}, these {len(self.labels)} labels (sample shape "
                        f"{shape}, {self.num_classes} classes) give {self.fingerprint}",
                        hint="pass the same labels, sample_shape and num_classes, or "
                             "force=True to replace the file")
            return
        if force:
            self.path.unlink(missing_ok=True)
        label_noise = float(noisy.mean()) if noisy is not None else 0.0
        spec = {"data": data, "label_noise": label_noise, "noise_seed": 0,
                "sample_shape": list(shape), "num_test": self.test_samples or 0,
                "classes": list(classes) if classes is not None
                else [str(c) for c in range(self.num_classes)]}
        store.create_file(self.path, labels=self.labels, num_classes=self.num_classes,
                          data=spec, fingerprint=self.fingerprint, config=self.file_config,
                          noisy=noisy, original_labels=originals,
                          noise={"label_noise": label_noise, "noise_seed": 0,
                                 "noise_kind": "given"} if noisy is not None else None)

    # --- recording -------------------------------------------------------------------
    def _check_open(self, what: str) -> None:
        if self.closed:
            raise CuratorError(f"{what} after close: the recorder of run {self.run!r} of "
                               f"{str(self.path)!r} is closed",
                               hint="record another run with a new Recorder")

    def _start(self, device: torch.device) -> StatBuffer:
        self._device = self._device or device
        self._labels_dev = torch.from_numpy(self.labels).to(self._device)
        self._faults = torch.zeros(2, dtype=torch.long, device=self._device)
        self._examples = torch.zeros(4, dtype=torch.long, device=self._device)
        self._buffer = StatBuffer(len(self.labels), self._device, check=self._check_chunk)
        return self._buffer

    def update(self, indices: Any, logits: torch.Tensor, labels: Any = None) -> None:
        """Record a batch: the dataset ``indices`` (B,) of its samples, the ``logits`` (B, C)
        the model gave them in this training step, and (optional) the ``labels`` (B,) it
        trained on, which must be the recorder's labels of those samples.

        ``logits``: the model's output before the softmax, or log-probabilities
        (``log_softmax``, whose softmax is the same), never probabilities: a first batch
        whose rows are all non-negative and sum to 1 is warned about once
        (:func:`warn_if_probabilities`).

        Cheap: the logits are detached and kept; statistics are computed in chunks, on
        their device, without synchronising it. Bad indices and labels are counted there
        too, and :meth:`end_epoch` raises for them.
        """
        self._check_open("update")
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
            raise CuratorError(f"logits must be a (B, C) tensor, but got "
                               f"{_describe(logits)}", param="logits")
        if logits.shape[1] != self.num_classes:
            raise CuratorError(f"logits have {logits.shape[1]} classes, but the recorder has "
                               f"num_classes = {self.num_classes}", param="logits")
        buffer = self._buffer or self._start(logits.device)
        idx = torch.as_tensor(indices)
        if len(logits) == 0:
            return
        if idx.ndim != 1 or idx.shape[0] != logits.shape[0] or \
                idx.dtype in (torch.bool, torch.float16, torch.float32, torch.float64):
            raise CuratorError(f"indices must be B = {logits.shape[0]} integers (one per row "
                               f"of the logits), but got {_describe(indices)}",
                               param="indices")
        idx = idx.to(self._device, dtype=torch.long, non_blocking=True)
        if labels is None:
            y = torch.full_like(idx, -1)  # not given: nothing to check
        else:
            y = torch.as_tensor(labels)
            if y.shape != idx.shape:
                raise CuratorError(f"labels must have shape ({len(idx)},) like the indices, "
                                   f"but have {tuple(y.shape)}", param="labels")
            y = y.to(self._device, dtype=torch.long, non_blocking=True)
        if not self._probabilities_checked:  # once per recorder: one sync, not per step
            self._probabilities_checked = True
            warn_if_probabilities(logits)
            if not self.ctx.active:  # (under DDP every rank raises together, at end_epoch)
                self._check_first_batch(idx, y)
        self._updates += 1
        if self._checks and self.ctx.is_main:  # first epoch, checked: the stretch of each
            n = len(self.labels)
            if self._stretch is None:
                self._stretch = torch.full((n,), math.nan, device=self._device)
            self._stretch[idx.clamp(0, n - 1)] = float(len(self._checks) - 1)
        buffer.update(idx, logits.to(self._device), y)

    def check(self, test_acc: float, *, test_samples: int) -> None:
        """A first-epoch check: the accuracy ``test_acc`` of the model as it is now on
        ``test_samples`` held-out samples (the test split, in eval mode). Call it while the
        run's first epoch trains: before its first update, then at a few points (ten, as
        ``curator score`` does: every tenth of the epoch's steps) and after its last update.
        In the first epoch each sample is predicted before the model trains on it, so the
        hits between two checks against the test accuracy at both ends count the wrong
        labels (docs/flags.md, step 3); :meth:`end_epoch` stores the stretches between
        consecutive checks as the run's ``first_epoch`` (docs/format.md). Optional: without
        checks the share comes from the training and test errors alone. Under DDP the checks
        count rank 0's samples (its shard of every batch, a random part of the epoch: no
        collective is added); the other ranks' calls are accepted and not used."""
        self._check_open("check")
        if self.epochs_done:
            raise CuratorError(f"check() measures the first epoch, but run {self.run!r} is in "
                               f"epoch {self.epochs_done + 1}", param="test_acc",
                               hint="call it only while epoch 1 trains (if epoch == 0: ...)")
        acc = float(test_acc)
        if not 0 <= acc <= 1:  # NaN too
            raise CuratorError(f"test_acc must be an accuracy in [0, 1], but got {test_acc!r}",
                               param="test_acc")
        self._checks.append((acc, _test_samples(test_samples,
                                                "the samples test_acc was measured on")))

    def _first_epoch_rows(self, correct: np.ndarray) -> np.ndarray | None:
        """The first epoch's checks as (K, 5) rows (``FIRST_EPOCH_COLUMNS``): per stretch
        between consecutive checks, its samples, their hits, the test accuracy at both ends
        and the test samples; None without a complete stretch (or on ranks but 0, which
        write nothing)."""
        count = len(self._checks)
        if count < 2 or self._stretch is None:
            return None
        ids = self._stretch.cpu().numpy()
        within = ~np.isnan(ids) & (ids < count - 1)  # after the last check: no end to it
        at = ids[within].astype(np.int64)
        samples = np.bincount(at, minlength=count - 1).astype(np.float64)
        hits = np.bincount(at, weights=correct[within].astype(np.float64),
                           minlength=count - 1)
        acc, tests = (np.asarray(v, dtype=np.float64) for v in zip(*self._checks, strict=True))
        rows = np.column_stack([samples, hits, acc[:-1], acc[1:],
                                np.minimum(tests[:-1], tests[1:])])
        rows = rows[samples > 0]  # two checks with no update between them measure nothing
        return rows if len(rows) else None

    def _faults_of(self, idx: torch.Tensor, given: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(indices out of range, given labels that disagree with the recorder's, the
        indices clamped into range, the recorder's labels there), on the device."""
        n = len(self.labels)
        assert self._labels_dev is not None
        bad = (idx < 0) | (idx >= n)
        safe = idx.clamp(0, n - 1)
        y = self._labels_dev[safe]
        return bad, (given >= 0) & (given != y) & ~bad, safe, y

    def _check_chunk(self, idx: torch.Tensor, given: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices safe to scatter, the recorder's labels) of a chunk. Bad indices and labels
        that disagree are counted on the device, without synchronising it; ``end_epoch``
        raises for them (and drops the epoch)."""
        assert self._faults is not None
        bad, wrong, safe, y = self._faults_of(idx, given)
        first_bad, first_wrong = bad.int().argmax(), wrong.int().argmax()
        found = torch.stack([bad.sum(), wrong.sum()])
        example = torch.stack([idx[first_bad], safe[first_wrong], given[first_wrong],
                               y[first_wrong]])
        keep = torch.stack([self._faults[0] > 0, self._faults[0] > 0, self._faults[1] > 0,
                            self._faults[1] > 0])
        self._examples = torch.where(keep, self._examples, example)
        self._faults += found
        return safe, y

    def _check_first_batch(self, idx: torch.Tensor, given: torch.Tensor) -> None:
        """The first batch's indices and labels, checked at once (one sync): the usual
        mistake — a loader that yields positions of its own, or no index at all — is then an
        error at the first step, not after a whole epoch. Later batches are counted on the
        device and raised for at ``end_epoch``."""
        n = len(self.labels)
        bad, wrong, _, y = self._faults_of(idx, given)
        if bool(bad.any()):
            raise CuratorError(f"indices must be in 0..{n - 1} (the {n} labels), but got "
                               f"{int(idx[bad][0])} in the first batch", param="indices",
                               hint=INDEX_HINT)
        if bool(wrong.any()):
            at = int(torch.nonzero(wrong)[0])
            raise CuratorError(
                f"labels disagree with the recorder's at {int(wrong.sum())} of the first "
                f"batch's {len(idx)} samples: sample {int(idx[at])} has label "
                f"{int(given[at])} in the batch but {int(y[at])} in the recorder's labels",
                param="labels", hint=INDEX_HINT)

    def _raise_faults(self, epoch: int) -> None:
        """Raise for the bad indices or labels an epoch's updates had (one sync)."""
        assert self._faults is not None
        (bad, wrong), example = self._faults.tolist(), self._examples.tolist()
        self._faults.zero_()
        n = len(self.labels)
        if bad:
            raise CuratorError(f"indices must be in 0..{n - 1} (the {n} labels), but got "
                               f"{example[0]} ({bad} such in epoch {epoch + 1})",
                               param="indices", hint=INDEX_HINT)
        if wrong:
            raise CuratorError(
                f"labels disagree with the recorder's at {wrong} samples of epoch {epoch + 1}:"
                f" sample {example[1]} has label {example[2]} in the batch but {example[3]} "
                "in the recorder's labels", param="labels", hint=INDEX_HINT)

    def end_epoch(self, *, test_acc: float = math.nan, test_loss: float = math.nan,
                  lr: float = math.nan) -> None:
        """Append the epoch's statistics to the file and commit it (an epoch once committed
        survives a crash). The write runs in the background while the next epoch trains;
        the next ``end_epoch``, :meth:`wait` and :meth:`close` wait for it.
        ``test_acc``/``test_loss`` (optional) are stored in the run's
        history; curator uses them to find the epochs before memorisation
        (``early_aum``, ``early_learnability``; the loss where memorising raises it while the
        accuracy still creeps up: docs/flags.md, step 1). Under DDP every rank calls it; rank
        0 writes."""
        self._check_open("end_epoch")
        epoch = self.epochs_done
        if self.epochs is not None and epoch >= self.epochs:
            raise CuratorError(f"run {self.run!r} planned {self.epochs} epochs, and epoch "
                               f"{epoch + 1} is one more", param="epochs",
                               hint="pass a larger epochs= (or None)")
        buffer = self._buffer
        if buffer is None:  # this rank saw no update: it still takes part in the merge
            buffer = self._start(self._device or torch.device("cpu"))
        self._updates = 0
        checks = None
        try:
            stats = buffer.collect(merge=self.ctx.merge_presented)
            self._raise_faults(epoch)
            if epoch == 0:
                checks = self._first_epoch_rows(stats["correct"])
        except BaseException:
            buffer.reset()  # the epoch is dropped: its next updates start afresh
            self._checks, self._stretch = [], None
            raise
        presented = ~np.isnan(stats["p_true"])
        count = int(presented.sum())
        if count < len(presented):  # refused below: the epoch, and its checks, are dropped
            self._checks, self._stretch = [], None
        if count == 0:
            buffer.reset()
            raise CuratorError(f"epoch {epoch + 1} of run {self.run!r} had no updates: call "
                               "update(indices, logits, labels) for each training batch "
                               "before end_epoch()")
        if count < len(presented):
            buffer.reset()
            missing = np.flatnonzero(~presented)
            raise CuratorError(
                f"epoch {epoch + 1} of run {self.run!r} updated {count} of {len(presented)} "
                f"samples; every sample must be updated once per epoch (never: "
                f"{', '.join(map(str, missing[:5]))}{', ...' if len(missing) > 5 else ''})",
                hint="a DataLoader or DistributedSampler with drop_last=True skips the last "
                     "partial batch: use drop_last=False, or record the subset you train on "
                     "with its own labels")
        loss = stats["loss"].astype(np.float64)
        now = time.perf_counter()
        metrics = {"train_loss": float(np.mean(loss)),
                   "train_acc": float(stats["correct"].mean()),
                   "test_loss": float(test_loss), "test_acc": float(test_acc), "lr": float(lr),
                   "seconds": now - self._tick}
        self._tick = now
        if self.ctx.is_main:  # written while the next epoch trains
            self.wait()
            self._writer = threading.Thread(target=self._append,
                                            args=(epoch, stats, metrics, checks),
                                            name=f"curator-recorder-{self.run}", daemon=True)
            self._writer.start()
        self.epochs_done = epoch + 1
        self._checks, self._stretch = [], None
        buffer.reset()

    def _append(self, epoch: int, stats: dict[str, np.ndarray], metrics: dict[str, float],
                checks: np.ndarray | None) -> None:
        try:
            if checks is not None:  # before the epoch is committed: read only after it
                store.write_run_array(self.path, self.run, "first_epoch", checks,
                                      columns=list(store.FIRST_EPOCH_COLUMNS))
            store.append_epoch(self.path, self.run, epoch, stats, metrics)
        except BaseException as exc:  # raised in the loop's thread by the next wait()
            self._write_error = exc

    def wait(self) -> None:
        """Wait until every ended epoch is committed to the file (``end_epoch`` writes in
        the background while the next epoch trains; ``close`` waits too)."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._write_error is not None:
            exc, self._write_error = self._write_error, None
            raise exc

    def close(self, *, finish: bool = True) -> dict[str, store.ScoreValues]:
        """Stop recording. With ``finish`` (the default) the run is marked complete with the
        epochs it has, and every score is computed over the file's complete runs and written
        (returned as well); ``finish=False`` leaves the run open, to be continued by a later
        Recorder of the same ``path`` and ``run``. An epoch updated but not ended is dropped."""
        if self.closed:
            return {}
        self.closed = True
        if self._updates:
            import warnings

            warnings.warn(f"run {self.run!r}: {self._updates} updates after the last "
                          "end_epoch() were not recorded", stacklevel=2)
        scores: dict[str, store.ScoreValues] = {}
        finish = finish and bool(self.epochs_done) and self.ctx.is_main
        try:
            self.wait()
            if finish:
                store.finish_run(self.path, self.run, early=True)
        finally:
            self._lock.close()
        if finish:  # rescore takes the writer lock itself
            from curator.scores import rescore

            scores = rescore(self.path, options=self.score_options)
        self.ctx.barrier()  # the other ranks return once the file is whole
        return scores

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # an exception leaves the run open: a new Recorder continues it
        self.close(finish=kind is None)


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor | np.ndarray):
        return f"a {type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:120]

