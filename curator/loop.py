"""The one training loop, shared by the reference (scoring) run and the second run.

:class:`Trainer` owns a model, its optimiser and schedule, and trains epoch by epoch over a
:class:`~curator.data.TensorSplit` or :class:`~curator.data.FileSplit`. Each epoch is a pure
function of (model state, optimiser state, seed, epoch): the order and augmentation come from
generators derived from (seed, epoch), so a run resumed from a checkpoint matches an
uninterrupted one on the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from curator import faults
from curator.config import TrainConfig
from curator.data import Batch, DataBundle, Split
from curator.distributed import SINGLE, Context
from curator.errors import ConfigError, ModelError, TrainingError
from curator.models import build_model
from curator.record import StatBuffer
from samplers import make_generator

STREAM_ORDER, STREAM_AUGMENT, STREAM_CHECKS = 0, 1, 2
FIRST_EPOCH_CHECKS = 10  # test evaluations inside the first epoch of a reference run
# each on at most this many test samples (a fixed random subset): ten passes over 10,000
# test images made a CNN's first epoch on a CPU 116 s against 23 s for the next (13% of a
# 30-epoch run); over 2,000, 34 s (RESULTS.md, 2026-12-05). The checks only set the flags'
# prior (docs/flags.md, step 4), where the test accuracy's sampling error matters little
CHECK_TEST_SAMPLES = 2_000


class EpochSampler(Protocol):
    """Anything that yields sample indices and can be told the epoch (torch samplers do)."""

    def __iter__(self) -> Iterator[int]: ...

    def __len__(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...


@dataclass
class EpochResult:
    epoch: int
    train_loss: float  # mean cross-entropy with the given labels over the epoch's batches
    train_acc: float  # fraction of presented samples predicted correctly (during training;
    # from the recorder when it records: the given label's logit above every other's)
    test_loss: float  # NaN when there is no test split
    test_acc: float
    lr: float  # learning rate at the end of the epoch
    seconds: float  # wall time of the epoch, recording and test evaluation included
    samples: int  # samples presented
    stats: dict[str, np.ndarray] | None = field(default=None, repr=False)
    # the first epoch's checks (Trainer's ``first_epoch_checks``): (K, 5) rows of samples
    # trained on in a stretch of the epoch, how many of them were predicted as their label
    # before the step that trained on them, test accuracy before and after the stretch, and
    # the number of test samples it was measured on
    checks: np.ndarray | None = field(default=None, repr=False)

    def metrics(self) -> dict[str, float]:
        return {"train_loss": self.train_loss, "train_acc": self.train_acc,
                "test_loss": self.test_loss, "test_acc": self.test_acc, "lr": self.lr,
                "seconds": self.seconds}


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else the CPU; anything else is checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}",
                          hint="use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for, but CUDA is not available here",
                          hint="use --device cpu (or auto)")
    if device.type == "cuda" and device.index is not None \
            and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} does not exist: {torch.cuda.device_count()} GPUs")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for, but MPS is not available here")
    return device


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an ``amp`` setting: ``auto`` is bf16 on CUDA, off elsewhere."""
    if amp == "auto":
        amp = "bf16" if device.type == "cuda" else "off"
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager[Any]:
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


class _Schedule:
    """Learning-rate factor per optimisation step: linear warm-up, then cosine/constant/step."""

    def __init__(self, kind: str, total_steps: int, warmup_steps: int) -> None:
        self.kind, self.total, self.warmup = kind, max(total_steps, 1), warmup_steps

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = (step - self.warmup) / max(self.total - self.warmup, 1)
        if self.kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        if self.kind == "step":
            return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
        return 1.0


def augment_batch(x: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """On-device, vectorised augmentation of an image batch (B, C, H, W).

    ``flip``: horizontal flip with probability 1/2; ``crop-flip``: the flip, then zero-pad 4
    pixels and crop back at a random offset (the standard CIFAR augmentation).
    """
    if kind == "none":
        return x
    b, device = x.shape[0], x.device
    flip = torch.rand(b, generator=generator, device=device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if kind == "crop-flip":
        pad, (h, w) = 4, x.shape[2:]
        padded = F.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=device)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=device)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, :]
        x = padded[torch.arange(b, device=device)[:, None, None], :, rows, cols]
        x = x.permute(0, 3, 1, 2)
    return x


def check_setup(cfg: TrainConfig, bundle: DataBundle, num_train: int | None = None) -> None:
    """Before any training or writing: the batch fits the ``num_train`` samples trained on
    (default: the whole training split), and the model takes two samples on the CPU (shape
    errors do not depend on the device)."""
    n = bundle.num_samples if num_train is None else num_train
    if bundle.num_classes < 2:  # the data first: no batch size helps one class
        raise ModelError(f"a classifier needs at least 2 classes, but the data have "
                         f"{bundle.num_classes}", hint="check --data")
    if cfg.batch_size > n:
        raise ConfigError(f"batch_size {cfg.batch_size} is larger than the training set "
                          f"({n} samples)", hint=f"pass --batch-size {min(64, n)} or less")
    cpu = torch.device("cpu")
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes).eval()
    order = torch.arange(min(2, len(bundle.train)))
    _, x, _ = next(iter(bundle.train.batches(order, 2, device=cpu)))
    try:
        with torch.no_grad():
            logits = model(x)
    except RuntimeError as exc:
        raise ModelError(f"model {cfg.model!r} cannot take samples of shape "
                         f"{bundle.sample_shape}: {exc}",
                         hint="choose another --model (`curator score --help` lists them)"
                         ) from None
    if tuple(logits.shape) != (len(order), bundle.num_classes):
        raise ModelError(f"model {cfg.model!r} returned logits of shape {tuple(logits.shape)}, "
                         f"expected ({len(order)}, {bundle.num_classes})")


class Trainer:
    """Trains ``model`` on ``train`` with SGD (momentum, weight decay, a per-step schedule).

    ``sampler`` decides each epoch's order (default: a fresh permutation per (seed, epoch));
    with a ``subset`` too, the sampler's indices are positions in the subset.
    ``loss_weights`` (N,) multiply each sample's loss (importance sampling's 1 / (N p_i));
    ``cfg.probe`` decides where per-sample statistics come from (``train``: the training
    forward pass itself; ``eval``: an extra eval-mode pass over the training split after the
    epoch; ``none``: nothing is recorded).
    ``first_epoch_checks`` K > 0 (with a test split): the first epoch is cut into K stretches
    of steps and the test accuracy is measured after each (on at most
    :data:`CHECK_TEST_SAMPLES` test samples), so that the first epoch's predictions, each made
    before the model trained on that sample, can be compared with the test accuracy of the
    same moments (:func:`curator.flags.first_epoch_share`; ``EpochResult.checks``).

    Under ``torchrun`` (``ctx.world > 1``) the model is wrapped in DistributedDataParallel,
    each rank trains on its shard of the epoch (``batch_size`` samples per rank and step),
    and statistics, losses and accuracies are combined over the ranks after each epoch.
    On CUDA, image models use the channels-last layout (``cfg.channels_last``), and
    ``cfg.compile`` compiles the model with ``torch.compile``.
    """

    def __init__(self, model: nn.Module, train: Split, cfg: TrainConfig, *, seed: int,
                 device: torch.device, test: Split | None = None,
                 sampler: EpochSampler | None = None, subset: torch.Tensor | None = None,
                 probe_indices: torch.Tensor | None = None,
                 loss_weights: torch.Tensor | None = None, ctx: Context = SINGLE,
                 first_epoch_checks: int = 0) -> None:
        if cfg.augment != "none" and len(train.sample_shape) != 3:
            raise ConfigError(f"augment {cfg.augment!r} needs images (C, H, W), but samples "
                              f"have shape {train.sample_shape}", hint="use --augment none")
        self.cfg, self.seed, self.device, self.ctx = cfg, seed, device, ctx
        self.channels_last = len(train.sample_shape) == 3 and (
            cfg.channels_last == "on" or (cfg.channels_last == "auto" and device.type == "cuda"))
        self.module = model.to(device)  # the bare model: its state is what is saved
        if self.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.model: nn.Module = self.module  # what trains: DDP- and compile-wrapped
        if ctx.active:
            self.model = nn.parallel.DistributedDataParallel(
                self.module, device_ids=[device.index] if device.type == "cuda" else None)
        # evaluation runs the bare model: DDP's forward would synchronise the ranks, and
        # their evaluation shards differ in length
        self.eval_model: nn.Module = self.module
        if cfg.compile:
            self.model = torch.compile(self.model)
            self.eval_model = torch.compile(self.module)
        self.train_split = train.to(device)
        self.test_split = None if test is None else test.to(device)
        self.sampler = sampler
        self.subset = None if subset is None else torch.as_tensor(subset, dtype=torch.long)
        self.probe_indices = (None if probe_indices is None
                              else torch.as_tensor(probe_indices, dtype=torch.long))
        # samples one epoch presents on this rank: the sampler's length (a distributed
        # sampler's is per rank), else this rank's shard of the subset or the split
        n_order = len(self.subset) if self.subset is not None else len(train)
        self.epoch_length = (len(sampler) if sampler is not None
                             else math.ceil(n_order / ctx.world))
        if loss_weights is not None and len(loss_weights) != len(train):
            raise ConfigError(f"loss_weights has {len(loss_weights)} values for "
                              f"{len(train)} samples")
        self.loss_weights = (None if loss_weights is None
                             else torch.as_tensor(loss_weights, dtype=torch.float32).to(device))
        self.steps_per_epoch = max(1, math.ceil(self.epoch_length / cfg.batch_size))
        # a sampler whose epochs differ in length (dynamic pruning) tells the schedule each
        self.epoch_lengths = (sampler.epoch_lengths(cfg.epochs)
                              if hasattr(sampler, "epoch_lengths")
                              else [self.epoch_length] * cfg.epochs)
        lengths = self.epoch_lengths
        # a sampler that learns from the losses (dynamic pruning) weights them too
        self.loss_feedback = callable(getattr(sampler, "update", None))
        self._position: torch.Tensor | None = None  # dataset index -> position in the subset
        if self.loss_feedback and self.subset is not None:
            self._position = torch.full((len(train),), -1, dtype=torch.long)
            self._position[self.subset] = torch.arange(len(self.subset))
            self._position = self._position.to(device)
        decay, no_decay = [], []
        for p in self.module.parameters():
            (no_decay if p.dim() <= 1 else decay).append(p)
        self.optimizer = torch.optim.SGD(
            [{"params": decay, "weight_decay": cfg.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
        total = sum(max(1, math.ceil(n / cfg.batch_size)) for n in lengths)
        warmup = int(round(cfg.warmup_epochs * self.steps_per_epoch))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _Schedule(cfg.schedule, total, warmup))
        self.amp_dtype = amp_dtype(cfg.amp, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.recorder = (StatBuffer(len(train), device) if cfg.probe != "none" else None)
        self.first_epoch_checks = first_epoch_checks if test is not None else 0
        self.epochs_done = 0

    # ------------------------------------------------------------------------------
    def _autocast(self) -> AbstractContextManager[Any]:
        return autocast(self.device, self.amp_dtype)

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """This epoch's sample indices on this rank: the sampler's, or this rank's shard of a
        fresh permutation of the training split (or of the subset) drawn from (seed, epoch)
        (the same on every rank)."""
        if self.sampler is None:
            n = len(self.subset) if self.subset is not None else len(self.train_split)
            perm = torch.randperm(n, generator=make_generator(self.seed, epoch, STREAM_ORDER))
            perm = self.ctx.shard(perm)
            return perm if self.subset is None else self.subset[perm]
        self.sampler.set_epoch(epoch)
        rank_indices = getattr(self.sampler, "rank_indices", None)
        order = (rank_indices() if rank_indices is not None  # samplers' vectorised path
                 else torch.as_tensor(list(self.sampler), dtype=torch.long))
        return order if self.subset is None else self.subset[order]

    def train_epoch(self, epoch: int, *,
                    on_batch: Callable[[int], None] | None = None,
                    on_step: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]
                    | None = None) -> EpochResult:
        """Train one epoch; return its metrics and, unless probe is ``none``, its statistics.

        ``on_batch(n)`` is told how many samples each step took (progress bars);
        ``on_step(indices, logits, labels)`` sees each step's detached logits (for peers
        that record their own statistics)."""
        start = time.perf_counter()
        cfg, model = self.cfg, self.model
        model.train()
        recorder = self.recorder if cfg.probe == "train" else None
        if recorder is not None:
            recorder.reset()
        aug_keys = (STREAM_AUGMENT, self.ctx.rank) if self.ctx.active else (STREAM_AUGMENT,)
        aug_gen = (make_generator(self.seed, epoch, *aug_keys, device=self.device)
                   if cfg.augment != "none" else None)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct_sum = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = 0
        order = self.epoch_order(epoch)
        checks = (_FirstEpochChecks(self, math.ceil(len(order) / cfg.batch_size))
                  if epoch == 0 and self.first_epoch_checks else None)
        # the epoch's loss and accuracy: from the recorder's chunks when it records (no
        # per-step work), else tallied per step; the first-epoch checks count per step too
        tally = recorder is None
        count_correct = tally or checks is not None
        # the mean loss in one fused kernel, unless per-sample losses are needed
        per_sample_needed = (bool(cfg.label_smoothing) or self.loss_weights is not None
                             or self.loss_feedback)
        for idx, x, y in self.train_split.batches(order, cfg.batch_size, device=self.device,
                                                  num_workers=cfg.num_workers):
            if aug_gen is not None:
                x = augment_batch(x, cfg.augment, aug_gen)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                logits = model(x)
            if per_sample_needed:
                nll = F.cross_entropy(logits.float(), y, reduction="none")  # one fused kernel
                per_sample = nll
                if cfg.label_smoothing:  # (1 - e) nll + e * mean over classes of -log p
                    per_sample = F.cross_entropy(logits.float(), y, reduction="none",
                                                 label_smoothing=cfg.label_smoothing)
                if self.loss_weights is not None:
                    per_sample = per_sample * self.loss_weights[idx]
                if self.loss_feedback:
                    pos = idx if self._position is None else self._position[idx]
                    per_sample = per_sample * self.sampler.batch_weights(pos)  # type: ignore[union-attr]
                    self.sampler.update(pos, nll.detach())  # type: ignore[union-attr]
                loss = per_sample.mean()
            else:
                loss = F.cross_entropy(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler.is_enabled():  # fp16 autocast only
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            self.scheduler.step()
            with torch.no_grad():
                if recorder is not None:
                    recorder.update(idx, logits, y)
                if on_step is not None:
                    on_step(idx, logits.detach(), y)
                if tally:  # the mean is of the given labels' cross-entropy in the plain case
                    if per_sample_needed:
                        loss_sum += nll.detach().sum()
                    else:
                        loss_sum.add_(loss.detach(), alpha=len(idx))
                if count_correct:
                    correct_sum += (logits.argmax(dim=1) == y).sum()
            seen += len(idx)
            if checks is not None:
                checks.after_step(seen, correct_sum)
            faults.point("batch")
            if on_batch is not None:
                on_batch(len(idx))
        if not tally:
            assert recorder is not None
            recorder.flush()
            loss_sum, correct_sum = recorder.presented_loss, recorder.presented_correct
        totals = self.ctx.sum(torch.stack([loss_sum, correct_sum.double(),
                                           torch.tensor(float(seen), dtype=torch.float64,
                                                        device=self.device)]))
        loss_total, correct_total, seen = totals.tolist()
        seen = int(seen)
        train_loss = loss_total / max(seen, 1)
        if not math.isfinite(train_loss):
            raise TrainingError(
                f"training diverged: the loss is {train_loss} in epoch {epoch + 1}",
                hint="lower --lr, or check the inputs for extreme values; finished epochs "
                     "are kept")
        stats_out = None
        if cfg.probe == "eval":
            stats_out = self.probe(self.train_split, self.probe_indices)
        elif recorder is not None:
            stats_out = recorder.collect(merge=self.ctx.merge_presented)
        test_loss, test_acc = (self.evaluate(self.test_split) if self.test_split is not None
                               else (float("nan"), float("nan")))
        self.epochs_done = epoch + 1
        return EpochResult(epoch=epoch, train_loss=train_loss,
                           train_acc=correct_total / max(seen, 1),
                           test_loss=test_loss, test_acc=test_acc,
                           lr=self.optimizer.param_groups[0]["lr"],
                           seconds=time.perf_counter() - start, samples=seen, stats=stats_out,
                           checks=None if checks is None else checks.rows(self.ctx))

    def _eval_batches(self, split: Split, indices: torch.Tensor | None = None
                      ) -> Iterable[Batch]:
        """Batches of ``split`` (or of its samples ``indices``): this rank's disjoint part."""
        order = torch.arange(len(split)) if indices is None else indices
        order = self.ctx.shard(order, pad=False)
        for idx, x, y in split.batches(order, self.cfg.eval_batch_size, device=self.device,
                                       num_workers=self.cfg.num_workers):
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield idx, x, y

    @torch.no_grad()
    def probe(self, split: Split, indices: torch.Tensor | None = None
              ) -> dict[str, np.ndarray]:
        """Statistics from an eval-mode forward pass over ``split`` (or only its samples
        ``indices``; the others stay NaN)."""
        recorder = self.recorder or StatBuffer(len(split), self.device)
        recorder.reset()
        was_training = self.module.training
        self.module.eval()
        for idx, x, y in self._eval_batches(split, indices):
            with self._autocast():
                logits = self.eval_model(x)
            recorder.update(idx, logits, y)
        self.module.train(was_training)
        return recorder.collect(merge=self.ctx.merge_presented)

    @torch.no_grad()
    def class_probabilities(self, split: Split, indices: torch.Tensor | None = None
                            ) -> np.ndarray:
        """Softmax of the model in eval mode on ``split`` (or its samples ``indices``, in that
        order): (n, C) float32, e.g. out-of-sample ``pred_probs`` for confident learning."""
        order = torch.arange(len(split)) if indices is None else torch.as_tensor(indices)
        out: np.ndarray | None = None
        position = torch.empty(len(split), dtype=torch.long)
        position[order] = torch.arange(len(order))
        was_training = self.module.training
        self.module.eval()
        for idx, x, _ in split.batches(order, self.cfg.eval_batch_size, device=self.device,
                                       num_workers=self.cfg.num_workers):
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                probs = torch.softmax(self.eval_model(x).float(), dim=1).cpu().numpy()
            if out is None:
                out = np.empty((len(order), probs.shape[1]), dtype=np.float32)
            out[position[idx.cpu()].numpy()] = probs
        self.module.train(was_training)
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    @torch.no_grad()
    def evaluate(self, split: Split, indices: torch.Tensor | None = None
                 ) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on ``split`` (or its samples ``indices``) in eval
        mode."""
        was_training = self.module.training
        self.module.eval()
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)  # loss, correct
        for _, x, y in self._eval_batches(split, indices):
            with self._autocast():
                logits = self.eval_model(x).float()
            sums[0] += F.cross_entropy(logits, y, reduction="sum")
            sums[1] += (logits.argmax(dim=1) == y).sum()
        self.module.train(was_training)
        loss_sum, correct = self.ctx.sum(sums).tolist()
        n = max(len(split) if indices is None else len(indices), 1)
        return loss_sum / n, correct / n

    # ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                 "epochs_done": self.epochs_done, "rng_cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epochs_done = int(state["epochs_done"])
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"], self.device)


class _FirstEpochChecks:
    """The first epoch cut into ``trainer.first_epoch_checks`` stretches of steps: how many
    samples each stretch trained on, how many of them the model predicted as their label
    (before the step that trained on them: in the first epoch no sample has been seen
    before), and the test accuracy before and after the stretch. On every rank at the same
    steps (the test evaluation is collective under DDP); the counts are summed over ranks."""

    def __init__(self, trainer: Trainer, steps: int) -> None:
        self.trainer = trainer
        k = max(1, min(trainer.first_epoch_checks, steps))
        self.marks = {max(1, round(steps * (i + 1) / k)) for i in range(k)}
        test = trainer.test_split
        assert test is not None
        self.subset = None
        if len(test) > CHECK_TEST_SAMPLES:  # the same subset at every check of the run
            gen = make_generator(trainer.seed, 0, STREAM_CHECKS)
            self.subset = torch.randperm(len(test), generator=gen)[:CHECK_TEST_SAMPLES]
        self.test_samples = float(len(test) if self.subset is None else len(self.subset))
        self.step = 0
        self.last = (0, 0)  # samples and hits at the previous mark
        self.before = self._test_acc()
        self.found: list[list[float]] = []

    def _test_acc(self) -> float:
        assert self.trainer.test_split is not None
        return self.trainer.evaluate(self.trainer.test_split, self.subset)[1]

    def after_step(self, seen: int, correct: torch.Tensor) -> None:
        self.step += 1
        if self.step not in self.marks:
            return
        hits = int(correct.item())
        after = self._test_acc()
        self.found.append([seen - self.last[0], hits - self.last[1], self.before, after,
                           self.test_samples])
        self.last, self.before = (seen, hits), after

    def rows(self, ctx: Context) -> np.ndarray:
        rows = torch.tensor(self.found, dtype=torch.float64, device=self.trainer.device)
        counts = ctx.sum(rows[:, :2].contiguous())  # test figures are global already
        return torch.cat([counts, rows[:, 2:]], dim=1).cpu().numpy()
