"""Data sources: every training sample has a stable index 0..N-1, and every batch carries it.

A source is registered in :data:`DATASETS` and returns a :class:`Source`; :func:`load_data`
adds label noise, checks everything and returns a :class:`DataBundle`. In-memory sources are
kept as raw tensors (``uint8`` images stay ``uint8``) and normalised per batch on the device;
file-based sources (``imagefolder:DIR``) go through a DataLoader.
"""

from __future__ import annotations

import functools
import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from curator import noise
from curator.config import check_noise_kind, config_from_dict
from curator.errors import DataError
from curator.plugins import arrays_of, is_import_path, resolve
from curator.registry import Registry

if TYPE_CHECKING:
    from curator.config import TrainConfig

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (indices, inputs, labels)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------------------
# Splits: what the training loop iterates over
# --------------------------------------------------------------------------------------


class TensorSplit:
    """An in-memory split: raw inputs ``x`` (N, ...) and labels (N,).

    Inputs are normalised per batch as ``(x * scale - mean) / std``, so ``uint8`` images cost
    one byte per value in (device) memory.
    """

    def __init__(self, x: torch.Tensor, labels: torch.Tensor, *, scale: float = 1.0,
                 mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> None:
        if len(x) != len(labels):
            raise DataError(f"inputs and labels differ in length: {len(x)} vs {len(labels)}")
        self.x = x
        self.labels = labels.long()
        self.scale = float(scale)
        if mean is None or std is None:
            mean, std = feature_stats(x, scale=self.scale)
        self.mean, self.std = mean.float(), std.float()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.x.device

    def to(self, device: torch.device | str) -> TensorSplit:
        return TensorSplit(self.x.to(device), self.labels.to(device), scale=self.scale,
                           mean=self.mean.to(device), std=self.std.to(device))

    def with_labels(self, labels: torch.Tensor) -> TensorSplit:
        return TensorSplit(self.x, labels, scale=self.scale, mean=self.mean, std=self.std)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() * self.scale - self.mean) / self.std

    def batches(self, order: torch.Tensor, batch_size: int, *, device: torch.device,
                num_workers: int = 0) -> Iterator[Batch]:
        """Yield ``(indices, inputs, labels)`` on ``device`` in the given order."""
        order = order.to(self.device)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x = self.normalise(self.x[idx].to(device, non_blocking=True))
            yield idx.to(device), x, self.labels[idx].to(device, non_blocking=True)


class _Indexed(Dataset):
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.dataset[i][0], i


class FileSplit:
    """A file-based split: a map-style dataset of ``(tensor in [0, 1], label)`` read by a
    DataLoader; labels come from ``labels`` (so injected noise applies)."""

    def __init__(self, dataset: Dataset, labels: torch.Tensor, *, mean: torch.Tensor,
                 std: torch.Tensor, sample_shape: tuple[int, ...]) -> None:
        self.dataset = dataset
        self.labels = labels.long()
        self.mean, self.std = mean.float(), std.float()
        self._sample_shape = sample_shape
        self.scale = 1.0

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self._sample_shape

    def to(self, device: torch.device | str) -> FileSplit:
        return FileSplit(self.dataset, self.labels, mean=self.mean.to(device),
                         std=self.std.to(device), sample_shape=self._sample_shape)

    def with_labels(self, labels: torch.Tensor) -> FileSplit:
        return FileSplit(self.dataset, labels, mean=self.mean, std=self.std,
                         sample_shape=self._sample_shape)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std

    def batches(self, order: torch.Tensor, batch_size: int, *, device: torch.device,
                num_workers: int = 0) -> Iterator[Batch]:
        loader = DataLoader(_Indexed(self.dataset), batch_size=batch_size,
                            sampler=order.tolist(), num_workers=num_workers,
                            pin_memory=device.type == "cuda",
                            persistent_workers=False)
        labels = self.labels.to(device)
        for x, idx in loader:
            idx = idx.to(device, non_blocking=True)
            yield idx, self.normalise(x.to(device, non_blocking=True)), labels[idx]


Split = TensorSplit | FileSplit


def feature_stats(x: torch.Tensor, *, scale: float = 1.0,
                  chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of ``x * scale`` per channel (images, signals) or per feature (vectors).

    Computed in float64 over chunks of samples; returned with a shape that broadcasts against a
    batch. Constant features get std 1.
    """
    reduce_dims = (0, *range(2, x.dim())) if x.dim() >= 3 else (0,)
    total = torch.zeros((), dtype=torch.float64)
    s1 = s2 = None
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].to(torch.float64) * scale
        a, b = part.sum(dim=reduce_dims), (part * part).sum(dim=reduce_dims)
        s1 = a if s1 is None else s1 + a
        s2 = b if s2 is None else s2 + b
        total += part.numel() / a.numel()
    assert s1 is not None and s2 is not None
    mean = s1 / total
    std = (s2 / total - mean * mean).clamp_min(0).sqrt()
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    shape = (1, -1, *([1] * (x.dim() - 2))) if x.dim() >= 3 else (1, -1)
    return mean.reshape(shape).float(), std.reshape(shape).float()


# --------------------------------------------------------------------------------------
# Sources and the registry
# --------------------------------------------------------------------------------------


@dataclass
class Source:
    """What a registered loader returns: clean training labels, before any noise."""

    train: Split
    test: Split | None
    num_classes: int
    classes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoadOptions:
    root: str = "data"
    download: bool = False
    image_size: int = 0


DATASETS: Registry[Callable[[str, LoadOptions], Source]] = Registry("data set", error=DataError)


@dataclass
class DataBundle:
    """A loaded data set: the training split carries the labels that training uses."""

    spec: str
    train: Split
    test: Split | None
    num_classes: int
    classes: list[str]
    original_labels: np.ndarray  # (N,) the labels as loaded
    noisy: np.ndarray | None  # (N,) bool: which training labels were flipped, or None
    label_noise: float = 0.0
    noise_seed: int = 0
    noise_kind: str = "symmetric"  # curator.noise.NOISE_KINDS
    noise_test: bool = False  # whether the test labels were flipped too

    @property
    def labels(self) -> np.ndarray:
        return self.train.labels.cpu().numpy()

    @property
    def num_samples(self) -> int:
        return len(self.train)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.train.sample_shape

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels, self.sample_shape, self.num_classes)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> DataBundle:
        """The data of a training config (its data keys), as both runs load it."""
        return load_data(cfg.data, root=cfg.root, download=cfg.download,
                         label_noise=cfg.label_noise, noise_seed=cfg.noise_seed,
                         image_size=cfg.image_size, noise_kind=cfg.noise_kind,
                         noise_test=cfg.noise_test)

    @classmethod
    def from_stored(cls, config: Mapping[str, Any], *, source: str,
                    root: str | None = None) -> DataBundle:
        """The data a scores file was made on, loaded again from the training config it
        stores (``source`` names the file in errors; ``root`` overrides the stored data
        directory). Not checked against the file: :meth:`ScoresFile.check_data` does that."""
        cfg = config_from_dict(dict(config), source=source)
        return cls.from_config(cfg if root is None else cfg.replace(root=root))

    def describe(self) -> dict[str, Any]:
        """The data spec stored in a scores file (enough to load the same data again)."""
        return {"data": self.spec, "label_noise": self.label_noise,
                "noise_seed": self.noise_seed, "noise_kind": self.noise_kind,
                "noise_test": self.noise_test, "sample_shape": list(self.sample_shape),
                "num_test": 0 if self.test is None else len(self.test),
                "classes": self.classes}


def fingerprint(labels: np.ndarray, sample_shape: tuple[int, ...], num_classes: int) -> str:
    """A short hash of the training labels, their count, the sample shape and class count."""
    head = json.dumps({"n": int(len(labels)), "shape": list(sample_shape),
                       "classes": int(num_classes)}, sort_keys=True)
    h = hashlib.sha256(b"curator-fingerprint-v1\0" + head.encode())
    h.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return h.hexdigest()[:16]


def flip_labels(labels: np.ndarray, fraction: float, num_classes: int,
                seed: int, *, partner: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric noise, or, given ``partner`` (C,), asymmetric noise: class c always to
    ``partner[c]`` (:func:`curator.noise.flip_labels`, which has every kind)."""
    return noise.flip_labels(labels, fraction, num_classes, seed, partner=partner,
                             kind="symmetric" if partner is None else "asymmetric")


def _in_memory(split: Split, kind: str) -> TensorSplit:
    if not isinstance(split, TensorSplit):
        raise DataError(f"{kind} label noise needs an in-memory data set (its class means, or a "
                        "model of its inputs)", hint="use noise_kind symmetric or classdep for "
                        "image folders")
    return split


def class_distances(split: Split, num_classes: int, kind: str = "asymmetric") -> torch.Tensor:
    """(C, C) Euclidean distances between the class means of the normalised inputs; inf for
    a class with no samples and on the diagonal."""
    split = _in_memory(split, kind)
    x = split.normalise(split.x.cpu()).reshape(len(split), -1).double()
    y = split.labels.cpu()
    counts = torch.bincount(y, minlength=num_classes).double()
    means = torch.zeros(num_classes, x.shape[1], dtype=torch.float64).index_add_(0, y, x)
    means /= counts.clamp(min=1)[:, None]
    dist = torch.cdist(means, means)
    dist[counts == 0] = float("inf")
    dist[:, counts == 0] = float("inf")
    dist.fill_diagonal_(float("inf"))
    return dist


def confusable_classes(split: Split, num_classes: int) -> np.ndarray:
    """For each class, the class whose mean input is nearest (Euclidean, normalised inputs):
    the class it is most easily mistaken for. (C,) int64; a class with no samples keeps its
    successor."""
    dist = class_distances(split, num_classes)
    partner = dist.argmin(dim=1).numpy().astype(np.int64)
    empty = ~np.isfinite(dist.min(dim=1).values.numpy())
    partner[empty] = (np.flatnonzero(empty) + 1) % num_classes
    return partner


def linear_probabilities(train: Split, num_classes: int, *others: Split,
                         steps: int = 100) -> list[np.ndarray]:
    """(N, C) probabilities of a multinomial logistic regression fitted to ``train``
    (full-batch L-BFGS, ``steps`` iterations, a little L2), for ``train`` and each split in
    ``others``: the separately trained model of instance-dependent noise. Deterministic on a
    CPU."""
    train = _in_memory(train, "instance")

    def features(split: Split) -> torch.Tensor:
        s = _in_memory(split, "instance")
        return train.normalise(s.x.cpu()).reshape(len(s), -1).float()

    x, y = features(train), train.labels.cpu()
    w = torch.zeros(x.shape[1], num_classes, requires_grad=True)
    b = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, history_size=10,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 1e-4 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return [torch.softmax(features(s) @ w + b, dim=1).numpy()
                for s in (train, *others)]


def parse_spec(spec: str) -> tuple[str, str]:
    name, _, arg = spec.partition(":")
    return name.strip().lower(), arg


def absolute_spec(spec: str) -> str:
    """``npz:PATH`` / ``imagefolder:DIR`` / ``hf:DIR[,options]`` with the path made absolute
    (as scores files store it, so that they can be used from another directory); others
    unchanged."""
    name, arg = parse_spec(spec)
    path, comma, rest = arg.partition(",") if name == "hf" else (arg, "", "")
    if (name in ("npz", "imagefolder", "hf") and path
            and not Path(path).expanduser().is_absolute()):
        return f"{name}:{Path(path).expanduser().resolve()}{comma}{rest}"
    return spec


def load_data(spec: str = "digits", *, root: str = "data", download: bool = False,
              label_noise: float = 0.0, noise_seed: int = 0, image_size: int = 0,
              noise_kind: str = "symmetric", noise_test: bool = False) -> DataBundle:
    """Load the data set named by ``spec`` (see :data:`DATASETS`; ``package.module:function``
    for your own, see :mod:`curator.plugins`), with optional label noise
    (:mod:`curator.noise`; ``noise_test``: the test split's labels flipped the same way, as
    real data sets' test labels carry the errors of their training labels)."""
    name, arg = parse_spec(spec)
    if name not in DATASETS and is_import_path(spec):
        _check_noise(label_noise, noise_kind)
        return _with_noise(spec, _plugin_source(spec), label_noise, noise_seed, noise_kind,
                           noise_test)
    entry = DATASETS.entry(name)
    if entry.meta.get("needs_arg") and not arg:
        raise DataError(f"data set {name!r} needs a path: {name}:PATH",
                        hint=f"e.g. --data {entry.meta['example']}")
    if not entry.meta.get("needs_arg") and arg:
        raise DataError(f"data set {name!r} takes no path, but got {spec!r}")
    _check_noise(label_noise, noise_kind)
    source = entry.fn(arg, LoadOptions(root=root, download=download, image_size=image_size))
    return _with_noise(spec, source, label_noise, noise_seed, noise_kind, noise_test)


def _check_noise(label_noise: float, noise_kind: str) -> None:
    if not 0 <= label_noise < 1:
        raise DataError(f"label noise must be in [0, 1), but got {label_noise}")
    check_noise_kind(noise_kind, DataError)


def _plugin_source(spec: str) -> Source:
    arrays = arrays_of(spec, resolve(spec, "data")())
    as_np = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
             for k, v in arrays.items()}
    return arrays_to_source(np.asarray(as_np["x"]), np.asarray(as_np["y"]),
                            None if as_np.get("x_test") is None else np.asarray(as_np["x_test"]),
                            None if as_np.get("y_test") is None else np.asarray(as_np["y_test"]),
                            where=f"data {spec!r}", num_classes=as_np.get("num_classes"),
                            classes=as_np.get("classes"))


def _with_noise(spec: str, source: Source, label_noise: float, noise_seed: int,
                noise_kind: str, noise_test: bool = False) -> DataBundle:
    if len(source.train) == 0:
        raise DataError(f"data set {spec!r} has no training samples")
    original = source.train.labels.cpu().numpy().astype(np.int64)
    noisy = None
    train, test = source.train, source.test
    if label_noise > 0:
        c = source.num_classes
        partner = others = None
        if noise_kind == "asymmetric":
            partner = confusable_classes(source.train, c)
        elif noise_kind == "pairs":
            partner = noise.pair_classes(class_distances(source.train, c, "pairs").numpy())
        elif noise_kind == "instance":
            others = linear_probabilities(source.train, c,
                                          *([test] if noise_test and test is not None else []))
        flipped, noisy = noise.flip_labels(original, label_noise, c, noise_seed,
                                           kind=noise_kind, partner=partner,
                                           others=None if others is None else others[0])
        train = train.with_labels(torch.from_numpy(flipped))
        if noise_test and test is not None:  # the same noise, drawn independently
            test_labels = test.labels.cpu().numpy().astype(np.int64)
            test_flipped, _ = noise.flip_labels(test_labels, label_noise, c, noise_seed,
                                                kind=noise_kind, partner=partner, stream=1,
                                                others=None if others is None else others[1])
            test = test.with_labels(torch.from_numpy(test_flipped))
    elif noise_test:
        raise DataError("noise_test needs label_noise above 0", param="noise_test")
    return DataBundle(spec=spec, train=train, test=test, num_classes=source.num_classes,
                      classes=source.classes, original_labels=original, noisy=noisy,
                      label_noise=label_noise, noise_seed=noise_seed,
                      noise_kind=noise_kind if label_noise > 0 else "symmetric",
                      noise_test=bool(noise_test and label_noise > 0 and test is not None))


# --------------------------------------------------------------------------------------
# Helpers shared by array sources
# --------------------------------------------------------------------------------------


def stratified_split(labels: np.ndarray, *, test_fraction: float = 0.2,
                     seed: int = 0, where: str = "the data") -> tuple[np.ndarray, np.ndarray]:
    """Fixed stratified train/test split; returns sorted index arrays."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    try:
        train, test = train_test_split(idx, test_size=test_fraction, stratify=labels,
                                       random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot make a stratified 80/20 split of {where}: {exc}",
                        hint="give x_test and y_test explicitly, or more samples per class"
                        ) from None
    return np.sort(train), np.sort(test)


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Assign each sample to one of ``k`` folds, each class spread evenly over the folds, in
    an order drawn from ``seed``. Returns (N,) fold numbers 0..k-1."""
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x666F6C64]))
    order = np.lexsort((rng.random(len(labels)), labels))  # by class, shuffled within
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    folds = np.empty(len(labels), dtype=np.int64)
    folds[order] = (np.arange(len(labels)) - starts) % k
    return folds


def _model_layout(x: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1) vectors; (N, H, W) -> (N, 1, H, W) single-channel images."""
    if x.dim() == 1:
        return x.unsqueeze(1)
    if x.dim() == 3:
        return x.unsqueeze(1)
    return x


def _check_labels(y: np.ndarray, where: str, num_classes: int | None = None) -> np.ndarray:
    if y.ndim != 1:
        raise DataError(f"labels must be 1-D (N,), but {where} has shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            bad = y[~np.isfinite(y) | (y != np.round(y))][0]
            raise DataError(f"labels must be integers, but found {float(bad)} in {where}")
        if len(y) and (y.min() < 0 or y.max() >= 2**31):
            bad = y.min() if y.min() < 0 else y.max()
            raise DataError(f"labels must be 0..C-1, but found {float(bad):g} in {where}")
    elif y.dtype.kind not in "iub":
        raise DataError(f"labels must be integers, but {where} has dtype {y.dtype}")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise DataError(f"labels must be 0..C-1, but found {int(y.min())} in {where}")
    if num_classes is not None and len(y) and y.max() >= num_classes:
        raise DataError(f"labels must be 0..{num_classes - 1}, but found {int(y.max())} "
                        f"in {where}")
    return y


def _check_inputs(x: np.ndarray, where: str) -> np.ndarray:
    if x.dtype.kind not in "iubf":
        raise DataError(f"inputs must be numeric, but {where} has dtype {x.dtype}",
                        hint="save x as an integer or floating-point array")
    if x.ndim < 1 or len(x) == 0:
        raise DataError(f"{where} is empty (shape {x.shape})")
    if x[0].size == 0:
        raise DataError(f"the samples of {where} are empty (shape {x.shape})",
                        hint="x needs at least one feature per sample: (N, D) or (N, C, H, W)")
    if x.ndim > 4:
        raise DataError(f"{where} has {x.ndim} dimensions (shape {x.shape}); curator takes "
                        "(N,), (N, D), (N, H, W) or (N, C, H, W)")
    if x.dtype.kind == "f":
        finite = np.isfinite(x)
        if not finite.all():
            pos = np.unravel_index(int(np.argmin(finite)), x.shape)
            raise DataError(f"inputs must be finite, but {where} holds {float(x[pos])} at index "
                            f"{tuple(int(p) for p in pos)}")
        with np.errstate(over="ignore"):
            x32 = x.astype(np.float32, copy=False)
        if not np.isfinite(x32).all():
            pos = np.unravel_index(int(np.argmin(np.isfinite(x32))), x.shape)
            raise DataError(f"{where} holds {float(x[pos])} at index "
                            f"{tuple(int(p) for p in pos)}, beyond float32's range (3.4e38)",
                            hint="rescale the inputs")
        return x32
    if x.dtype == np.uint8:
        return x
    return x.astype(np.float32)


def arrays_to_source(x: np.ndarray, y: np.ndarray, x_test: np.ndarray | None,
                     y_test: np.ndarray | None, *, where: str, scale: float = 1.0,
                     num_classes: int | None = None, classes: list[str] | None = None) -> Source:
    """Checked arrays -> a :class:`Source`, with a fixed stratified split if no test set."""
    x = _check_inputs(x, f"'x' of {where}")
    y = _check_labels(y, f"'y' of {where}", num_classes)
    if len(x) != len(y):
        raise DataError(f"'x' and 'y' of {where} differ in length: {len(x)} vs {len(y)}")
    if (x_test is None) != (y_test is None):
        have, missing = ("x_test", "y_test") if y_test is None else ("y_test", "x_test")
        raise DataError(f"{where} has {have!r} but no {missing!r}",
                        hint="give both test arrays or neither")
    if x_test is None:
        train_idx, test_idx = stratified_split(y, where=where)
        x, x_test, y, y_test = x[train_idx], x[test_idx], y[train_idx], y[test_idx]
    else:
        x_test = _check_inputs(x_test, f"'x_test' of {where}")
        y_test = _check_labels(y_test, f"'y_test' of {where}", num_classes)
        if len(x_test) != len(y_test):
            raise DataError(f"'x_test' and 'y_test' of {where} differ in length: "
                            f"{len(x_test)} vs {len(y_test)}")
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(f"'x_test' of {where} has samples of shape {x_test.shape[1:]}, "
                            f"but 'x' has {x.shape[1:]}")
    assert y_test is not None
    inferred = int(max(y.max(), y_test.max() if len(y_test) else 0)) + 1
    num_classes = num_classes or inferred
    xt = _model_layout(torch.from_numpy(np.ascontiguousarray(x)))
    train = TensorSplit(xt, torch.from_numpy(y), scale=scale)
    test = TensorSplit(_model_layout(torch.from_numpy(np.ascontiguousarray(x_test))),
                       torch.from_numpy(y_test), scale=scale, mean=train.mean, std=train.std)
    return Source(train, test, num_classes, classes or [str(c) for c in range(num_classes)])


# --------------------------------------------------------------------------------------
# Registered sources
# --------------------------------------------------------------------------------------


@DATASETS.register("digits")
def digits(arg: str, opts: LoadOptions) -> Source:
    """scikit-learn's 8x8 handwritten digits (1,797 images), fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return arrays_to_source(d.images.astype(np.float32), d.target, None, None,
                            where="digits", scale=1 / 16, num_classes=10)


@DATASETS.register("npz", needs_arg=True, example="npz:data.npz")
def npz(arg: str, opts: LoadOptions) -> Source:
    """``npz:PATH``: arrays ``x`` (N, ...) and ``y`` (N,); optional ``x_test``, ``y_test`` and
    ``num_classes``. (N, H, W) is read as single-channel images, (N, C, H, W) as images."""
    path = Path(arg).expanduser()
    if not path.is_file():
        raise DataError(f"npz file {str(path)!r} does not exist",
                        hint="pass --data npz:PATH with arrays 'x' and 'y'")
    if not zipfile.is_zipfile(path):
        raise DataError(f"cannot read {str(path)!r}: it is not an npz (zip) archive",
                        hint="write it with numpy.savez(path, x=..., y=...)")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{str(path)!r} holds object arrays, which curator does not load",
                            hint="save numeric arrays (np.savez with numeric dtypes)") from None
        raise DataError(f"cannot read {str(path)!r} as npz: {exc}") from None
    except Exception as exc:  # zipfile.BadZipFile, OSError, EOFError ...
        raise DataError(f"cannot read {str(path)!r} as npz: {exc}",
                        hint="write it with numpy.savez(path, x=..., y=...)") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(f"{str(path)!r} has no array {missing[0]!r} (it has: "
                        f"{', '.join(sorted(arrays)) or 'nothing'})",
                        hint="the npz needs 'x' (N, ...) and 'y' (N,); "
                             "'x_test', 'y_test' are optional")
    num_classes = None
    if "num_classes" in arrays:
        nc = arrays["num_classes"]
        if nc.shape != () or nc.dtype.kind not in "iu" or int(nc) < 1:
            raise DataError(f"'num_classes' in {str(path)!r} must be a positive integer "
                            f"scalar, but got {nc!r}")
        num_classes = int(nc)
    return arrays_to_source(arrays["x"], arrays["y"], arrays.get("x_test"),
                            arrays.get("y_test"), where=repr(str(path)), num_classes=num_classes)


@DATASETS.register("hf", needs_arg=True, example="hf:DIR,label=label,x=pixels")
def hugging_face(arg: str, opts: LoadOptions) -> Source:
    """``hf:DIR[,label=COLUMN][,x=COLUMN[+COLUMN...]]``: a Hugging Face ``datasets`` data set
    saved with ``save_to_disk`` (a ``Dataset``, or a ``DatasetDict`` with a ``train`` and
    optionally a ``test`` split), or a folder of ``.parquet``, ``.csv`` or ``.json``/``.jsonl``
    files (``train*`` and ``test*`` files where named so; else one training split). The label
    column (default ``label``) holds class indices (a ``ClassLabel`` column's names become the
    class names), or strings, which are numbered in sorted order and become the class names;
    the inputs are the ``x`` columns (default: an
    ``image`` column, else every other numeric column as one vector). Text needs a tokenizer
    and a model: record it in a ``Trainer`` with :mod:`curator.hf`."""
    path_text, *options = arg.split(",")
    path = Path(path_text).expanduser()
    opts_map: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key.strip() not in ("label", "x"):
            raise DataError(f"hf option {option!r} is not label=COLUMN or x=COLUMN[+COLUMN]",
                            hint="e.g. --data hf:DIR,label=label,x=pixels")
        opts_map[key.strip()] = value.strip()
    if not path.is_dir():
        raise DataError(f"hf data {str(path)!r} is not a folder",
                        hint="save it with Dataset.save_to_disk(DIR), or put parquet, csv or "
                             "json files in a folder")
    splits = hf_splits(path)
    train, test = splits["train"], splits.get("test")
    label = opts_map.get("label", "label")
    if label not in train.column_names:
        raise DataError(f"hf data {str(path)!r} has no label column {label!r} (columns: "
                        f"{_some(train.column_names)})", hint="pass ,label=COLUMN")
    x_cols = opts_map["x"].split("+") if "x" in opts_map else None
    y, classes = _hf_labels(train[label], None if test is None else test[label], path)
    y_train, y_test = y
    names = getattr(train.features[label], "names", None)  # a ClassLabel feature's names
    if classes is None and names:
        if int(y_train.max()) >= len(names) or (y_test is not None and len(y_test)
                                                and int(y_test.max()) >= len(names)):
            raise DataError(f"the labels of hf data {str(path)!r} go past the "
                            f"{len(names)} names of its ClassLabel column {label!r}")
        classes = [str(n) for n in names]
    x_train = _hf_inputs(train, label, x_cols, path)
    x_test = None if test is None else _hf_inputs(test, label, x_cols, path)
    return arrays_to_source(x_train, y_train, x_test, y_test, where=f"hf data {str(path)!r}",
                            num_classes=len(classes) if classes else None, classes=classes)


def _some(names: list[str], most: int = 8) -> str:
    return ", ".join(names[:most]) + (f", ... ({len(names)} in all)" if len(names) > most else "")


def hf_splits(path: Path) -> dict[str, Any]:
    """The splits of a Hugging Face data set folder — saved with ``save_to_disk``, or a
    folder of data files (:func:`hugging_face`) — with a ``train`` split, by name (for
    ``--data hf:`` and ``curator review --texts``)."""
    try:
        import datasets
    except ImportError:
        raise DataError("a Hugging Face data set needs the datasets package",
                        hint="pip install 'torch-curator[hf]'") from None
    splits = _hf_folder(datasets, path)
    if "train" not in splits:
        raise DataError(f"hf data {str(path)!r} has no train split (it has: "
                        f"{', '.join(sorted(splits)) or 'none'})")
    return splits


def _hf_folder(datasets: Any, path: Path) -> dict[str, Any]:
    """The splits of a ``save_to_disk`` folder or of a folder of data files."""
    if (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists():
        loaded = datasets.load_from_disk(str(path))
        return dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    kinds = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}
    files = sorted(f for f in path.iterdir() if f.suffix in kinds)
    if not files:
        raise DataError(f"hf data {str(path)!r} holds no saved data set and no .parquet, .csv "
                        "or .json files")
    if len({kinds[f.suffix] for f in files}) > 1:
        raise DataError(f"hf data {str(path)!r} mixes file formats",
                        hint="keep one of parquet, csv, json in the folder")
    test = [str(f) for f in files if f.name.startswith("test")]
    train = [str(f) for f in files if not f.name.startswith("test")]
    loaded = datasets.load_dataset(kinds[files[0].suffix],
                                   data_files={"train": train, **({"test": test} if test else {})})
    return dict(loaded)


def _hf_labels(train: Any, test: Any, path: Path
               ) -> tuple[tuple[np.ndarray, np.ndarray | None], list[str] | None]:
    """Class indices of the label columns; strings numbered in sorted order (their names the
    classes)."""
    y, yt = np.asarray(train), None if test is None else np.asarray(test)
    if y.dtype.kind == "U" and (yt is None or yt.dtype.kind == "U"):  # a column of strings
        classes, codes = np.unique(y if yt is None else np.concatenate([y, yt]),
                                   return_inverse=True)
        codes = codes.astype(np.int64)
        return (codes[:len(y)], None if yt is None else codes[len(y):]), classes.tolist()
    try:
        y = y.astype(np.int64)
        yt = None if yt is None else yt.astype(np.int64)
    except (TypeError, ValueError):
        raise DataError(f"the labels of hf data {str(path)!r} are neither class indices nor "
                        "strings") from None
    return (y, yt), None


def _hf_inputs(split: Any, label: str, columns: list[str] | None, path: Path) -> np.ndarray:
    """The inputs of one split as an array: an image column, one array column, or numeric
    columns stacked as a vector."""
    if columns is None:
        if "image" in split.column_names:
            columns = ["image"]
        else:  # the numeric columns (text and other strings left out)
            columns = [c for c in split.column_names
                       if c != label and "string" not in str(split.features[c])]
    missing = [c for c in columns if c not in split.column_names]
    if missing:
        raise DataError(f"hf data {str(path)!r} has no column {missing[0]!r} (columns: "
                        f"{_some(split.column_names)})")
    if not columns:
        raise DataError(f"hf data {str(path)!r} has no input column beside the labels")
    parts = []
    for c in columns:
        values = split.with_format("numpy")[c]
        if isinstance(values, list):  # images (PIL) or ragged arrays
            try:
                values = np.stack([np.asarray(v) for v in values])
            except ValueError:
                raise DataError(f"column {c!r} of hf data {str(path)!r} holds inputs of "
                                "different shapes") from None
        values = np.asarray(values)
        if values.dtype.kind not in "iubf":
            raise DataError(f"column {c!r} of hf data {str(path)!r} is not numeric "
                            f"({values.dtype}); text needs a tokenizer and a model",
                            hint="record a transformers Trainer with curator.hf "
                                 "(docs/api.md), or pass ,x=COLUMN of numbers")
        parts.append(values if len(columns) == 1 else values.reshape(len(values), -1))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


@DATASETS.register("mnist1d")
def mnist1d(arg: str, opts: LoadOptions) -> Source:
    """MNIST-1D (Greydanus 2020), generated offline by the ``mnist1d`` package: 4,000 train and
    1,000 test signals of length 40."""
    x, y, x_test, y_test = _mnist1d_arrays()
    return arrays_to_source(x.copy(), y.copy(), x_test.copy(), y_test.copy(), where="mnist1d",
                            num_classes=10)


@functools.lru_cache(maxsize=1)
def _mnist1d_arrays() -> tuple[np.ndarray, ...]:
    """The generated arrays, once per process (generation takes several seconds)."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise DataError("data set 'mnist1d' needs the mnist1d package",
                        hint="pip install mnist1d") from None
    d = make_dataset(get_dataset_args())
    return (np.asarray(d["x"], np.float32), np.asarray(d["y"]),
            np.asarray(d["x_test"], np.float32), np.asarray(d["y_test"]))


def _torchvision(cls_name: str, name: str, opts: LoadOptions, **split_kw: Any) -> Any:
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    try:
        return cls(opts.root, download=opts.download, **split_kw)
    except RuntimeError as exc:
        if "not found" in str(exc).lower() or "corrupted" in str(exc).lower():
            raise DataError(f"data set {name!r} was not found (or is corrupted) under "
                            f"{opts.root!r}",
                            hint="pass --download to fetch it, or --root DIR where it lives"
                            ) from None
        raise DataError(f"cannot load {name!r} from {opts.root!r}: {exc}") from None
    except OSError as exc:  # failed download, unreadable files
        raise DataError(f"cannot load {name!r} from {opts.root!r}: {exc}",
                        hint="check the network for --download, or the files under --root"
                        ) from None


def _tv_source(name: str, cls_name: str, opts: LoadOptions, split: str) -> Source:
    kw_train: dict[str, Any] = {"split": "train"} if split == "split" else {"train": True}
    kw_test: dict[str, Any] = {"split": "test"} if split == "split" else {"train": False}
    parts = []
    for kw in (kw_train, kw_test):
        ds = _torchvision(cls_name, name, opts, **kw)
        x = torch.as_tensor(np.asarray(ds.data))
        if x.dim() == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
            x = x.permute(0, 3, 1, 2)  # CIFAR stores (N, H, W, C)
        y = torch.as_tensor(np.asarray(ds.labels if hasattr(ds, "labels") else ds.targets))
        parts.append((_model_layout(x.contiguous()), y.long()))
        classes = list(getattr(ds, "classes", []))
    (x, y), (xt, yt) = parts
    train = TensorSplit(x, y, scale=1 / 255)
    test = TensorSplit(xt, yt, scale=1 / 255, mean=train.mean, std=train.std)
    num_classes = int(max(y.max(), yt.max())) + 1
    return Source(train, test, num_classes, classes or [str(c) for c in range(num_classes)])


def _register_torchvision(name: str, cls_name: str, split: str = "train") -> None:
    def load(arg: str, opts: LoadOptions) -> Source:
        return _tv_source(name, cls_name, opts, split)

    load.__doc__ = f"torchvision's {cls_name} under --root (fetch with --download)."
    DATASETS.register(name, torchvision=cls_name)(load)


for _name, _cls, _split in [("cifar10", "CIFAR10", "train"), ("cifar100", "CIFAR100", "train"),
                            ("svhn", "SVHN", "split")]:
    _register_torchvision(_name, _cls, _split)


# MNIST-format data sets: the four IDX files, gzipped or not, in torchvision's layout
# (ROOT/<Folder>/raw/) or flat in ROOT, as their authors and Debian's packages ship them.
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SYSTEM_ROOTS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}  # apt's dataset-fashion-mnist


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (LeCun's MNIST format), gzipped when its name ends in ``.gz``."""
    import gzip

    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES:
        raise DataError(f"{str(path)!r} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim, dtype = raw[3], np.dtype(IDX_TYPES[raw[2]])
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    need = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - 4 - 4 * ndim != need:
        raise DataError(f"{str(path)!r} holds {len(raw) - 4 - 4 * ndim} bytes of data, but its "
                        f"header {shape} says {need}")
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape).astype(
        dtype.newbyteorder("="))


def find_idx(name: str, folder: str, root: Path) -> list[Path] | None:
    """The four IDX files of ``name`` under ``root`` (either layout, .gz or not), or None."""
    for where in (root / folder / "raw", root):
        found = []
        for stem in IDX_FILES:
            candidates = [where / stem, where / f"{stem}.gz"]
            found.append(next((c for c in candidates if c.is_file()), None))
        if all(found):
            return found  # type: ignore[return-value]
    return None


def _register_idx(name: str, folder: str) -> None:
    def load(arg: str, opts: LoadOptions) -> Source:
        root = Path(opts.root).expanduser()
        files = find_idx(name, folder, root)
        system = SYSTEM_ROOTS.get(name)
        if files is None and system and opts.root == LoadOptions.root:
            files = find_idx(name, folder, Path(system))
        if files is None:
            if not opts.download:
                hint = f"pass --root DIR holding {IDX_FILES[0]}.gz and the others"
                if system:
                    hint += (f", or install Debian's dataset-{name} package (it puts them in "
                             f"{system}, read when --root is not given)")
                raise DataError(f"data set {name!r} was not found under {str(root)!r} "
                                f"(neither {folder}/raw/ nor the IDX files themselves)",
                                hint=hint + "; --download fetches it")
            _torchvision(folder, name, opts, train=True)  # downloads into torchvision's layout
            files = find_idx(name, folder, root)
            assert files is not None
        x, y, xt, yt = (torch.from_numpy(read_idx(f)) for f in files)
        for images, labels, which in ((x, y, "train"), (xt, yt, "t10k")):
            if images.dim() != 3 or labels.dim() != 1 or len(images) != len(labels):
                raise DataError(f"the {which} IDX files of {name!r} do not match: images "
                                f"{tuple(images.shape)}, labels {tuple(labels.shape)}")
        train = TensorSplit(x[:, None].contiguous(), y.long(), scale=1 / 255)
        test = TensorSplit(xt[:, None].contiguous(), yt.long(), scale=1 / 255,
                           mean=train.mean, std=train.std)
        num_classes = int(max(y.max(), yt.max())) + 1
        import torchvision.datasets as tvd

        classes = list(getattr(tvd, folder).classes)
        if len(classes) != num_classes:
            classes = [str(c) for c in range(num_classes)]
        return Source(train, test, num_classes, classes)

    load.__doc__ = (f"{folder} from its IDX files under --root (torchvision's {folder}/raw/ "
                    "or flat, gzipped or not)" + (f"; else {SYSTEM_ROOTS[name]}"
                                                  if name in SYSTEM_ROOTS else "") + ".")
    DATASETS.register(name, torchvision=folder)(load)


for _name, _folder in [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")]:
    _register_idx(_name, _folder)


@DATASETS.register("imagefolder", needs_arg=True, example="imagefolder:DIR")
def imagefolder(arg: str, opts: LoadOptions) -> Source:
    """``imagefolder:DIR``: class sub-folders of images. With ``DIR/train`` (and ``DIR/test`` or
    ``DIR/val``) those are the splits; otherwise a fixed stratified 80/20 split of ``DIR``.
    Images are resized and centre-cropped to ``--image-size`` (default: the first image's)."""
    from PIL import Image
    from torch.utils.data import Subset
    from torchvision import datasets as tvd
    from torchvision import transforms as T

    root = Path(arg).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist")
    train_dir = root / "train" if (root / "train").is_dir() else root
    test_dir = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)

    def folder(path: Path, transform: Any = None) -> Any:
        try:
            return tvd.ImageFolder(str(path), transform=transform)
        except (FileNotFoundError, RuntimeError) as exc:
            raise DataError(f"cannot read image folder {str(path)!r}: {exc}",
                            hint="it needs one sub-folder per class holding image files"
                            ) from None

    probe = folder(train_dir)
    size = opts.image_size
    if not size:
        with Image.open(probe.samples[0][0]) as im:
            size = min(im.size)
    transform = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor()])
    train_ds = folder(train_dir, transform)
    labels = np.asarray(train_ds.targets, dtype=np.int64)
    classes = list(train_ds.classes)
    if test_dir is not None:
        test_ds = folder(test_dir, transform)
        if test_ds.classes != classes:
            raise DataError(f"class folders of {str(test_dir)!r} ({test_ds.classes}) differ "
                            f"from those of {str(train_dir)!r} ({classes})")
        test_labels = np.asarray(test_ds.targets, dtype=np.int64)
    else:
        train_idx, test_idx = stratified_split(labels, where=repr(str(root)))
        test_ds, test_labels = Subset(train_ds, test_idx.tolist()), labels[test_idx]
        train_ds, labels = Subset(train_ds, train_idx.tolist()), labels[train_idx]
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    shape = (3, size, size)
    train = FileSplit(train_ds, torch.from_numpy(labels), mean=mean, std=std, sample_shape=shape)
    test = FileSplit(test_ds, torch.from_numpy(test_labels), mean=mean, std=std,
                     sample_shape=shape)
    return Source(train, test, len(classes), classes)
