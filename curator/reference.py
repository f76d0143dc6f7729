"""The reference (scoring) run: R seeds of the one training loop, recorded into a scores file.

``score(cfg, out=...)`` loads the data, checks the model on one batch, creates the file,
trains each seed with :class:`~curator.loop.Trainer` and appends every finished epoch. After
each epoch the trainer's state is saved beside the file (``<out>.ckpt/<run>.pt``), so
``resume=True`` continues an interrupted run to the same scores as an uninterrupted one.

Under ``torchrun`` every rank trains and records its shard (see :mod:`curator.distributed`);
rank 0 alone creates and writes the file and the checkpoints, and the ranks meet at a barrier
wherever the others read what rank 0 wrote, so the file is laid out as a single process's.
"""

from __future__ import annotations

import os
import shutil
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from curator import faults, store
from curator.config import TrainConfig, config_from_dict
from curator.data import DataBundle, absolute_spec, stratified_folds
from curator.depth import prediction_depth
from curator.distributed import SINGLE, Context
from curator.errors import (
    ConfigError,
    CuratorError,
    FormatError,
    check_output_dir,
)
from curator.loop import (
    FIRST_EPOCH_CHECKS,
    Trainer,
    amp_dtype,
    autocast,
    check_setup,
    resolve_device,
)
from curator.models import build_model, probe_layers
from curator.progress import TrainingProgress
from curator.scores import FileTrajectories, compute_scores
from curator.store import FIRST_EPOCH_COLUMNS, ScoreValues

# config keys that may differ when a run is resumed (they do not change the result on a CPU)
RESUMABLE_CHANGES = ("device", "num_workers", "eval_batch_size", "root", "download")


@dataclass
class ScoreSummary:
    path: Path
    runs: list[str]
    scores: dict[str, ScoreValues]
    seconds: float


def checkpoint_dir(out: Path) -> Path:
    return out.with_name(out.name + ".ckpt")


def run_name(seed: int) -> str:
    return f"seed-{seed}"


def holdout_name(seed: int, fold: int) -> str:
    return f"holdout-{seed}-fold-{fold}"


@dataclass(frozen=True)
class RunPlan:
    """One training run of a scores file: a reference run, or a run without one fold."""

    name: str
    seed: int
    kind: str = "reference"
    folds: np.ndarray | None = None  # (N,) fold of each sample, for holdout runs
    fold: int | None = None  # the fold held out

    @property
    def train_indices(self) -> torch.Tensor | None:
        if self.folds is None:
            return None
        return torch.from_numpy(np.flatnonzero(self.folds != self.fold))

    @property
    def heldout_indices(self) -> torch.Tensor | None:
        if self.folds is None:
            return None
        return torch.from_numpy(np.flatnonzero(self.folds == self.fold))


def _stored_config(path: Path, cfg: TrainConfig, overrides: set[str]) -> TrainConfig:
    """The config a file was started with; explicit flags may change only harmless keys."""
    with store.open_scores(path) as f:
        stored = config_from_dict(f.config, source=repr(str(path)))
    for key in sorted(overrides):
        if key in RESUMABLE_CHANGES or key == "out":
            continue
        if getattr(cfg, key) != getattr(stored, key):
            raise ConfigError(
                f"--resume continues {str(path)!r} as it was started, but {key} = "
                f"{getattr(cfg, key)!r} differs from the file's {getattr(stored, key)!r}",
                hint="drop that option, or start a new file with --force or another --out")
    return stored.replace(**{k: getattr(cfg, k) for k in RESUMABLE_CHANGES})


def score(cfg: TrainConfig, *, out: str | Path = "scores.h5", resume: bool = False,
          force: bool = False, progress: TrainingProgress | None = None,
          overrides: set[str] | None = None,
          score_options: dict[str, int | None] | None = None,
          bundle: DataBundle | None = None, ctx: Context = SINGLE) -> ScoreSummary:
    """Run (or resume) the reference run of ``cfg`` into ``out`` and write its scores.

    ``bundle`` reuses already loaded data; it must be ``cfg``'s (a resumed file still checks
    its fingerprint). ``ctx`` is this process's place under torchrun (``cfg.device`` is
    then this rank's device)."""
    out = Path(out)
    cfg = cfg.replace(data=absolute_spec(cfg.data)).validate()
    if resume and force:
        raise ConfigError("--resume and --force contradict each other",
                          hint="--resume continues the file, --force starts it anew")
    if resume:
        if not out.exists():
            raise FormatError(f"cannot resume: {str(out)!r} does not exist",
                              hint="drop --resume to start a new run")
        cfg = _stored_config(out, cfg, overrides or set())
    elif out.exists() and not force:
        raise CuratorError(f"output file {str(out)!r} already exists",
                           hint="pass --resume to continue it, --force to overwrite it, or "
                                "--out for another file")
    check_output_dir(out)
    device = resolve_device(cfg.device)
    bundle = bundle or DataBundle.from_config(cfg)
    check_setup(cfg, bundle)
    with store.writer_lock(out) if ctx.is_main else nullcontext():
        return _score(cfg, out, resume, force, progress, score_options, bundle, ctx, device)


def _score(cfg: TrainConfig, out: Path, resume: bool, force: bool,
           progress: TrainingProgress | None, score_options: dict[str, int | None] | None,
           bundle: DataBundle, ctx: Context, device: torch.device) -> ScoreSummary:
    """:func:`score` once the inputs are checked and (on rank 0) the file is locked."""
    ctx.barrier()  # every rank has checked the output before rank 0 creates it
    if resume:
        with store.open_scores(out) as f:
            f.check_data(bundle)
    elif ctx.is_main:
        if force:
            out.unlink(missing_ok=True)
            shutil.rmtree(checkpoint_dir(out), ignore_errors=True)
        store.create(out, bundle, cfg.to_dict())
    ctx.barrier()  # the file exists before any rank reads it
    progress = progress or TrainingProgress(enabled=False)
    with store.open_scores(out) as f:  # a resumed command has only the rest to train
        done = {r.name: min(r.epochs_done, cfg.epochs) for r in f.runs()}
    names = [run_name(s) for s in cfg.run_seeds] + [
        holdout_name(s, k) for s in cfg.run_seeds for k in range(cfg.holdout)]
    left = [cfg.epochs - done.get(name, 0) for name in names]
    progress.expect(sum(left), sum(1 for n in left if n))
    try:
        with progress:
            for seed in cfg.run_seeds:
                _train_run(out, bundle, cfg, RunPlan(run_name(seed), seed), device, progress,
                           ctx)
            for seed in cfg.run_seeds if cfg.holdout else ():
                folds = stratified_folds(bundle.labels, cfg.holdout, seed)
                for fold in range(cfg.holdout):
                    plan = RunPlan(holdout_name(seed, fold), seed, "holdout", folds, fold)
                    _train_run(out, bundle, cfg, plan, device, progress, ctx)
    except BaseException:
        if ctx.is_main and not resume and not _epochs_written(out):
            out.unlink(missing_ok=True)  # nothing finished: leave nothing behind
            shutil.rmtree(checkpoint_dir(out), ignore_errors=True)
        raise
    ctx.barrier()
    if not ctx.is_main:  # scores and prediction depth are rank 0's work
        ctx.barrier()
        return ScoreSummary(out, [], {}, 0.0)
    with store.open_scores(out) as f:
        runs = [r for r in f.runs() if r.complete]
        seconds = sum(r.wall_time_s for r in runs)
        scores = (compute_scores(FileTrajectories(f), options=score_options,
                                 holdout=FileTrajectories.holdout_of(f))
                  if any(r.stats for r in runs if r.kind == "reference") else {})
    if cfg.prediction_depth:
        scores["prediction_depth"] = score_prediction_depth(out, cfg, bundle, device, progress)
    if scores:
        store.write_scores(out, scores)
    ctx.barrier()  # the other ranks return once the file is whole
    return ScoreSummary(out, [r.name for r in runs], scores, seconds)


def score_prediction_depth(out: Path, cfg: TrainConfig, bundle: DataBundle,
                           device: torch.device,
                           progress: TrainingProgress | None = None) -> ScoreValues:
    """Prediction depth of every sample under each complete reference run's final model
    (from its checkpoint); stored per run and, averaged over runs, as a score."""
    with store.open_scores(out) as f:
        f.check_data(bundle)
        runs = [r for r in f.runs() if r.kind == "reference" and r.complete]
    if not runs:
        raise FormatError(f"{str(out)!r} has no complete reference run",
                          hint="finish the runs with `curator score --resume`")
    depths, names = [], []
    dtype = amp_dtype(cfg.amp, device)
    for run in runs:
        ckpt = checkpoint_dir(out) / f"{run.name}.pt"
        if not ckpt.exists():
            raise FormatError(f"the final model of run {run.name!r} is missing: {str(ckpt)!r}",
                              hint="prediction depth needs the checkpoints that "
                                   "`curator score` keeps beside the file")
        model = build_model(run.model, bundle.sample_shape, bundle.num_classes)
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        probes = probe_layers(run.model, model)
        if progress is not None:
            progress.log(f"{run.name}: prediction depth, {len(probes) + 2} k-NN probes "
                         f"(k = {cfg.knn_k})")
        module_names = {id(m): name for name, m in model.named_modules()}
        result = prediction_depth(model, probes, bundle.train, bundle.num_classes,
                                  k=cfg.knn_k, device=device, batch_size=cfg.eval_batch_size,
                                  autocast=lambda: autocast(device, dtype),
                                  probe_names=[module_names[id(m)] for m in probes])
        store.write_run_array(out, run.name, "prediction_depth",
                              result.depth.astype(np.int16), k=cfg.knn_k,
                              probes=result.probe_names)
        depths.append(result.depth)
        names = result.probe_names
    return ScoreValues(np.mean(depths, axis=0).astype(np.float32), "harder",
                       "prediction depth: earliest k-NN probe (input = 0, softmax = L - 1; L "
                       "if none) from which all probes agree with the network, mean over runs "
                       "(Baldock 2021)", tuple(r.name for r in runs),
                       {"k": cfg.knn_k, "probes": names})


def add_prediction_depth(path: str | Path, *, k: int = 30, device: str = "auto",
                         root: str | None = None) -> ScoreValues:
    """Compute prediction depth for a finished file from the final models beside it and
    store it as the score ``prediction_depth`` (``root`` overrides the stored data
    directory)."""
    path = Path(path)
    with store.open_scores(path) as f:
        cfg = config_from_dict(f.config, source=repr(str(path)))
    cfg = cfg.replace(knn_k=k, device=device, **({"root": root} if root else {})).validate()
    bundle = DataBundle.from_config(cfg)
    with store.writer_lock(path):
        result = score_prediction_depth(path, cfg, bundle, resolve_device(device))
        store.write_scores(path, {"prediction_depth": result})
    return result


def _epochs_written(out: Path) -> int:
    with store.open_scores(out) as f:
        return sum(r.epochs_done for r in f.runs())


def _train_run(out: Path, bundle: DataBundle, cfg: TrainConfig, plan: RunPlan,
               device: torch.device, progress: TrainingProgress, ctx: Context = SINGLE
               ) -> None:
    """Train (or finish) one run, appending each finished epoch to ``out``.

    A holdout run trains on every fold but one and records, after each epoch, an eval-mode
    pass over the held-out fold (the other samples stay NaN). Under DDP every rank trains;
    rank 0 alone writes the file and the checkpoint.
    """
    name = plan.name
    with store.open_scores(out) as f:
        info = next((r for r in f.runs() if r.name == name), None)
    ctx.barrier()  # every rank has read the file before rank 0 writes it again
    if info is not None and info.complete:
        return
    run_cfg = cfg.replace(probe="eval") if plan.kind == "holdout" else cfg
    torch.manual_seed(plan.seed)
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
    trainer = Trainer(model, bundle.train, run_cfg, seed=plan.seed, device=device,
                      test=bundle.test, subset=plan.train_indices,
                      probe_indices=plan.heldout_indices, ctx=ctx,
                      first_epoch_checks=FIRST_EPOCH_CHECKS if plan.kind == "reference" else 0)
    ckpt = checkpoint_dir(out) / f"{name}.pt"
    start = 0
    if info is None:
        if ctx.is_main:
            store.add_run(out, name, seed=plan.seed, config=run_cfg.to_dict(),
                          epochs=cfg.epochs, record=run_cfg.probe != "none", kind=plan.kind,
                          folds=plan.folds, fold=plan.fold)
    else:
        if ckpt.exists():  # every rank loads rank 0's checkpoint
            state = torch.load(ckpt, map_location=device, weights_only=False)
            if int(state["epochs_done"]) <= info.epochs_done:
                trainer.load_state_dict(state)
                start = int(state["epochs_done"])
        if start == 0 and info.epochs_done:
            progress.log(f"[yellow]{name}: no usable checkpoint; restarting it from epoch 1")
        if ctx.is_main:
            store.truncate_run(out, name, start)
    progress.start_run(name, first_epoch=start, epoch_lengths=trainer.epoch_lengths)
    if ctx.is_main:
        ckpt.parent.mkdir(exist_ok=True)
    for epoch in range(start, cfg.epochs):
        result = trainer.train_epoch(epoch, on_batch=progress.advance)
        if ctx.is_main:
            if result.checks is not None:  # before the epoch is committed: read only after it
                store.write_run_array(out, name, "first_epoch", result.checks,
                                      columns=list(FIRST_EPOCH_COLUMNS))
            store.append_epoch(out, name, epoch, result.stats, result.metrics())
            faults.point("written")
            _save_atomic(trainer.state_dict(), ckpt)
            faults.point("checkpoint")
        progress.end_epoch(result)
    if ctx.is_main:
        store.finish_run(out, name)
    ctx.barrier()


def _save_atomic(state: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
