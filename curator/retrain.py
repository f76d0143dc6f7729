"""The second run: the same training loop, ordered by a sampler, on all data or a selection.

``train(cfg, plan)`` loads the data, checks a scores file against it (fingerprint), builds
the sampler of ``plan`` from the file's score (over the selection's samples when
``plan.subset`` names one), and trains with :class:`~curator.loop.Trainer`. ``random`` is
plain shuffling, exactly the reference run's. Importance sampling weights each sample's loss
by 1 / (N p_i) unless ``plan.unbiased`` is off.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import curator
from curator import corrections
from curator.config import TrainConfig
from curator.data import DataBundle
from curator.distributed import SINGLE, Context
from curator.errors import ConfigError, DataError
from curator.loop import EpochResult, Trainer, check_setup, resolve_device
from curator.models import build_model
from curator.progress import TrainingProgress
from curator.store import open_scores
from samplers import SAMPLERS, ImportanceSampler


@dataclass
class TrainPlan:
    """How the second run orders and chooses its data."""

    sampler: str = "random"  # random | easy-to-hard | hard-to-easy | random-curriculum |
    # importance | dynamic
    scores: str | None = None  # a curator scores file (needed unless sampler is random)
    score: str = "learnability"  # the score that orders the samples
    subset: str | None = None  # a selection stored in the scores file (curator prune)
    corrections: str | None = None  # a corrections file (curator relabel, curator review)
    pacing: str = "linear"  # curriculum pacing g(s)
    start: float = 0.1  # g(0): fraction of the data at the start
    saturation: float = 0.8  # progress at which all data is used
    unit: str = "epoch"  # progress counted in epochs or steps
    class_balanced: bool = False  # curriculum pools keep each class's share
    scheme: str = "easy-first"  # importance weighting scheme
    temperature: float = 0.25  # importance temperature
    floor: float = 0.1  # importance: every sample keeps at least floor / N probability
    unbiased: bool = True  # importance: weight losses by 1 / (N p_i)
    prune: float = 0.4  # dynamic: share of the samples skipped in each pruning epoch
    anneal: float = 0.125  # dynamic: the last share of the epochs trains on everything
    max_rate: float = 0.7  # dynamic: most a well-learned sample is skipped with


@dataclass
class TrainResult:
    config: dict[str, Any]
    plan: dict[str, Any]
    num_train: int  # samples the run draws from (the selection's size, or N)
    history: list[dict[str, float]]
    final_test_acc: float
    best_test_acc: float
    wall_s: float
    samples_seen: int = 0  # samples presented over all epochs (the compute spent)
    samples_full: int = 0  # what plain shuffling of num_train samples would present
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=float)


def environment(device: torch.device) -> dict[str, str]:
    return {"curator": curator.__version__, "torch": torch.__version__,
            "python": platform.python_version(), "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "none",
            "cpu": platform.processor() or platform.machine()}


DATA_KEYS = ("data", "label_noise", "noise_seed", "noise_kind", "noise_test", "image_size")


def with_data_of(cfg: TrainConfig, scores: str | Path, *, given: set[str] = frozenset()
                 ) -> TrainConfig:
    """``cfg`` with the data settings that ``scores`` was made with, except those in
    ``given`` (set explicitly). A data path stored there that no longer exists is an error
    that says where it came from."""
    from curator.data import parse_spec

    with open_scores(scores) as f:
        stored, own_loop = f.config, f.from_own_loop
    if own_loop:
        raise ConfigError(f"{str(scores)!r} was recorded from your own training loop; curator "
                          "cannot load its data", hint="train with your own loop, using "
                                                       "the samplers (docs/api.md)")
    cfg = cfg.replace(**{k: stored[k] for k in DATA_KEYS if k not in given and k in stored})
    name, arg = parse_spec(cfg.data)
    if "data" not in given and name in ("npz", "imagefolder") and not Path(arg).exists():
        raise DataError(f"data {cfg.data!r}, stored in {str(scores)!r}: the path no longer "
                        "exists", param="data",
                        hint=f"pass data={name}:NEW_PATH for the same data where it is now "
                             "(the fingerprint check makes sure it is the same)")
    return cfg


def build_sampler(plan: TrainPlan, cfg: TrainConfig, values: np.ndarray | None,
                  higher_is: str | None, labels: np.ndarray, ctx: Context = SINGLE) -> Any:
    """The registered sampler of ``plan`` over ``values`` (positions 0..len-1; None for the
    dynamic sampler without a prior), sharded for this rank under DDP."""
    cls = SAMPLERS.get(plan.sampler)
    kwargs: dict[str, Any] = {"higher_is": higher_is or "easier", "seed": cfg.seed,
                              "num_replicas": ctx.world, "rank": ctx.rank}
    if plan.sampler == "dynamic":
        kwargs.update(epochs=cfg.epochs, prune=plan.prune, anneal=plan.anneal,
                      max_rate=plan.max_rate, num_samples=len(labels))
    elif plan.sampler == "importance":
        kwargs.update(scheme=plan.scheme, temperature=plan.temperature, floor=plan.floor)
    else:
        kwargs.update(epochs=cfg.epochs, pacing=plan.pacing, start=plan.start,
                      saturation=plan.saturation, unit=plan.unit,
                      batch_size=cfg.batch_size, class_balanced=plan.class_balanced,
                      labels=labels)
    try:
        return cls(values, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"cannot build sampler {plan.sampler!r}: {exc}") from None


def train(cfg: TrainConfig, plan: TrainPlan, *, progress: TrainingProgress | None = None,
          indices: np.ndarray | None = None, bundle: DataBundle | None = None,
          ctx: Context = SINGLE, fixes: corrections.Corrections | None = None
          ) -> TrainResult:
    """Train one model (seed ``cfg.seed``) as ``plan`` says and report its test accuracy.

    ``indices`` trains on those samples instead of a stored selection; ``bundle`` reuses
    already loaded data (it must be ``cfg``'s); ``fixes`` applies corrections made in memory
    instead of reading ``plan.corrections``. Under torchrun (``ctx``) each rank trains on
    its shard of the sampler's epochs, and the metrics are those of all ranks.
    """
    cfg = cfg.replace(probe="none").validate()
    if plan.sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {plan.sampler!r}",
                          hint=SAMPLERS.suggest(plan.sampler))
    if plan.sampler not in ("random", "dynamic") and plan.scores is None:
        raise ConfigError(f"--sampler {plan.sampler} needs --scores FILE",
                          hint="make one with `curator score`")
    if plan.subset is not None and plan.scores is None:
        raise ConfigError("--subset needs --scores FILE (the file that holds the selection)")
    if plan.corrections is not None and plan.scores is None:
        raise ConfigError("--corrections needs --scores FILE (the file they were made from)")
    device = resolve_device(cfg.device)
    bundle = bundle or DataBundle.from_config(cfg)
    subset = None if indices is None else np.sort(np.asarray(indices, dtype=np.int64))
    values = higher_is = None
    if plan.scores is not None:
        with open_scores(plan.scores) as f:
            f.check_data(bundle)
            if plan.subset is not None:
                subset = f.selection(plan.subset)
            if plan.sampler != "random":
                s = f.score(plan.score)
                values, higher_is = s.values, s.higher_is
            if fixes is None and plan.corrections is not None:
                fixes = corrections.read(plan.corrections)
            if fixes is not None:
                fixes.check_data(f.fingerprint, f.num_samples, repr(str(plan.scores)))
    if fixes is not None:  # the new labels; the dropped leave the (selected) samples
        fixes.check_labels(bundle.labels, repr(str(plan.scores)))
        bundle = replace(bundle, train=bundle.train.with_labels(
            torch.from_numpy(fixes.labels(bundle.labels))))
        subset = corrections.kept_rows(bundle.num_samples, fixes, subset)
    n_used = len(subset) if subset is not None else bundle.num_samples
    check_setup(cfg, bundle, n_used)
    positions = subset if subset is not None else np.arange(bundle.num_samples)
    sampler, weights = None, None
    if values is not None or plan.sampler == "dynamic":
        sampler = build_sampler(plan, cfg, None if values is None else values[positions],
                                higher_is,
                                bundle.labels[positions], ctx)
        if isinstance(sampler, ImportanceSampler) and plan.unbiased:
            weights = torch.zeros(bundle.num_samples)
            weights[torch.from_numpy(positions)] = sampler.weights
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
    trainer = Trainer(model, bundle.train, cfg, seed=cfg.seed, device=device, test=bundle.test,
                      sampler=sampler,
                      subset=None if subset is None else torch.from_numpy(subset),
                      loss_weights=weights, ctx=ctx)
    progress = progress or TrainingProgress(enabled=False)
    history: list[EpochResult] = []
    t0 = time.perf_counter()
    with progress:
        progress.start_run(f"{plan.sampler}", first_epoch=0,
                           epoch_lengths=trainer.epoch_lengths)
        for epoch in range(cfg.epochs):
            result = trainer.train_epoch(epoch, on_batch=progress.advance)
            history.append(result)
            progress.end_epoch(result)
    accs = [r.test_acc for r in history]
    return TrainResult(config=cfg.to_dict(), plan=asdict(plan), num_train=n_used,
                       history=[{"epoch": r.epoch + 1, **r.metrics(), "samples": r.samples}
                                for r in history],
                       final_test_acc=accs[-1], best_test_acc=float(np.nanmax(accs)),
                       wall_s=time.perf_counter() - t0, env=environment(device),
                       samples_seen=sum(r.samples for r in history),
                       samples_full=cfg.epochs * n_used)
