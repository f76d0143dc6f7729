"""Every hyperparameter in one place: a dataclass with units in comments, loadable from TOML.

``configs/default.toml`` mirrors the defaults below; command-line flags override a config
file, which overrides these defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib  # type: ignore[no-redef]

from curator.errors import ConfigError, CuratorError

PROBES = ("train", "eval", "none")
SCHEDULES = ("cosine", "constant", "step")
AUGMENTS = ("none", "flip", "crop-flip")
AMPS = ("auto", "bf16", "fp16", "off")
SWITCHES = ("auto", "on", "off")
# label noise (curator.noise): each written once here, where the CLI reads them without torch
NOISE_KINDS = ("symmetric", "asymmetric", "pairs", "classdep", "instance")


def check_noise_kind(kind: str, error: type[CuratorError] = ConfigError) -> None:
    """Raise ``error`` unless ``kind`` is one of :data:`NOISE_KINDS` (the one check the
    configuration, the data loaders and :func:`curator.noise.flip_labels` share)."""
    if kind not in NOISE_KINDS:
        raise error(f"noise_kind must be one of {', '.join(NOISE_KINDS)}, but got {kind!r}",
                    param="noise_kind")


# the registered models (curator.models.MODELS; a test keeps the two equal), named here so
# that `curator --help` need not import torch
MODEL_NAMES = ("mlp", "cnn", "resnet20", "resnet18", "vgg16", "mobilenet_v2")


@dataclass
class TrainConfig:
    """Hyperparameters of one training run (the reference run and the second run alike)."""

    # --- data -------------------------------------------------------------------------
    data: str = "digits"  # digits | npz:PATH | cifar10 | ... | imagefolder:DIR
    root: str = "data"  # directory of torchvision data sets
    download: bool = False  # let torchvision download a missing data set
    label_noise: float = 0.0  # fraction of training labels flipped to another class
    noise_seed: int = 0  # seed of the label flips (independent of the training seed)
    noise_kind: str = "symmetric"  # symmetric (to any other class) | asymmetric (each class
    # to its one most confusable class: the nearest class mean) | pairs (confusable pairs,
    # both ways) | classdep (rates by class) | instance (ambiguous samples, to the class
    # they resemble): curator/noise.py
    noise_test: bool = False  # flip the test split's labels the same way (as real data)
    image_size: int = 0  # imagefolder: resize + centre-crop to this many px (0: first image's)
    # --- model ------------------------------------------------------------------------
    model: str = "mlp"
    # --- optimisation -------------------------------------------------------------------
    epochs: int = 30  # recorded epochs T
    batch_size: int = 64  # samples per optimisation step
    lr: float = 0.05  # peak learning rate of SGD
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4  # L2 on all parameters
    schedule: str = "cosine"  # cosine (to 0 over all steps) | constant | step (x0.1 at 50% and 75%)
    warmup_epochs: float = 0.0  # linear warm-up, in epochs
    label_smoothing: float = 0.0  # training loss only; recorded stats use the plain label
    augment: str = "none"  # none | flip | crop-flip (pad 4, crop, h-flip), on the device
    # --- runs -------------------------------------------------------------------------
    seed: int = 0  # seed of the first run; run r uses seed + r
    seeds: int = 3  # independent runs R; learnability averages over them
    probe: str = "train"  # train | eval | none: where per-sample statistics come from
    holdout: int = 0  # K > 1: also train K models per seed, each without one stratified fold
    prediction_depth: bool = False  # k-NN probes on each run's final model (seed 002)
    knn_k: int = 30  # neighbours of the prediction-depth probes
    # --- hardware ---------------------------------------------------------------------
    device: str = "auto"  # auto (cuda when present) | cpu | cuda | cuda:N | mps
    amp: str = "auto"  # auto (bf16 on CUDA, off elsewhere) | bf16 | fp16 | off
    num_workers: int = 0  # DataLoader workers for file-based data sets
    eval_batch_size: int = 1024  # batch size of test evaluation and the eval probe
    channels_last: str = "auto"  # auto (on CUDA for image models) | on | off
    compile: bool = False  # torch.compile the model (CUDA; the first epoch pays the compile)

    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` quoting the first invalid value; return self."""
        _positive_int(self, "epochs")
        _positive_int(self, "batch_size")
        _positive_int(self, "seeds")
        _positive_int(self, "eval_batch_size")
        _positive_int(self, "knn_k")
        if self.num_workers < 0:
            raise ConfigError(f"num_workers must be >= 0, but got {self.num_workers}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, but got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), but got {self.momentum}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, but got {self.weight_decay}")
        check_noise_kind(self.noise_kind)
        if not 0 <= self.label_noise < 1:
            raise ConfigError(
                f"label_noise must be in [0, 1), but got {self.label_noise}",
                hint="it is the fraction of training labels to flip, e.g. --label-noise 0.2",
            )
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), but got {self.label_smoothing}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"warmup_epochs must be >= 0, but got {self.warmup_epochs}")
        if self.holdout == 1 or self.holdout < 0:
            raise ConfigError(f"holdout must be 0 (off) or at least 2 folds, but got "
                              f"{self.holdout}", hint="e.g. --holdout 4")
        if self.image_size < 0:
            raise ConfigError(f"image_size must be >= 0, but got {self.image_size}")
        _choice(self, "probe", PROBES)
        _choice(self, "schedule", SCHEDULES)
        _choice(self, "augment", AUGMENTS)
        _choice(self, "amp", AMPS)
        _choice(self, "channels_last", SWITCHES)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @property
    def run_seeds(self) -> list[int]:
        return [self.seed + r for r in range(self.seeds)]

    def with_budget(self, budget: float) -> TrainConfig:
        """The cheap reference run that costs ``budget`` of this one (seeds x epochs): one
        seed of round(budget x seeds x epochs) epochs (at least 2), with its own schedule.
        ``budget`` 1 leaves the config as it is. benchmarks/RESULTS.md measures how close
        its scores come to the full run's (docs/scores.md, "Scoring on a budget")."""
        if not 0 < budget <= 1:
            raise ConfigError(f"budget must be in (0, 1], but got {budget}",
                              hint="e.g. --budget 0.1: a tenth of the full reference run",
                              param="budget")
        if budget == 1:
            return self
        epochs = max(2, int(round(budget * self.seeds * self.epochs)))
        return self.replace(seeds=1, epochs=epochs, warmup_epochs=min(self.warmup_epochs,
                                                                      epochs / 2))


def _positive_int(cfg: TrainConfig, name: str) -> None:
    value = getattr(cfg, name)
    if value < 1:
        flag = "--" + name.replace("_", "-")
        raise ConfigError(f"{name} must be >= 1, but got {value}", hint=f"pass {flag} 1 or more")


def _choice(cfg: TrainConfig, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(cfg, name)
    if value not in allowed:
        raise ConfigError(
            f"unknown {name} {value!r}", hint=f"choose one of: {', '.join(allowed)}"
        )


def config_from_dict(values: dict[str, Any], *, base: TrainConfig | None = None,
                     source: str = "config") -> TrainConfig:
    """Overlay ``values`` on ``base`` (default: the defaults), checking names and types."""
    base = base or TrainConfig()
    known = {f.name: f for f in fields(TrainConfig)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            raise ConfigError(
                f"unknown key {key!r} in {source}",
                hint=(f"did you mean {close[0]!r}?" if close else "see configs/default.toml"),
            )
        changes[name] = _coerce(name, value, type(getattr(base, name)), source)
    return dataclasses.replace(base, **changes)


def _coerce(name: str, value: Any, kind: type, source: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is str and isinstance(value, str):
        return value
    raise ConfigError(
        f"{name} in {source} must be {_article(kind.__name__)} {kind.__name__}, but got "
        f"{value!r}"
    )


def load_config(path: str | Path, *, base: TrainConfig | None = None) -> TrainConfig:
    """Read a flat TOML file of :class:`TrainConfig` keys (``[section]`` tables are flattened)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist",
                          hint="the configs/ folder of the repository holds examples")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse config file {str(path)!r}: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return config_from_dict(flat, base=base, source=repr(str(path)))


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
