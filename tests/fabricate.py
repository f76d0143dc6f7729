"""Writers of small data sets in the real on-disk formats torchvision reads.

No network here, so the loaders are tested on files these functions write. CIFAR and SVHN
files carry md5 sums in torchvision that fabricated files cannot match; tests that use them
patch only that md5 check (see ``skip_md5``).
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def cifar(root: Path, *, hundred: bool = False, per_batch: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    classes = 100 if hundred else 10
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    key = "fine_labels" if hundred else "labels"
    files = ["train", "test"] if hundred else [f"data_batch_{i}" for i in range(1, 6)] + [
        "test_batch"]
    for name in files:
        n = per_batch * (5 if hundred and name == "train" else 1)
        labels = (np.arange(n) % classes).tolist()
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), key: labels}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    meta_key = "fine_label_names" if hundred else "label_names"
    with open(folder / ("meta" if hundred else "batches.meta"), "wb") as f:
        pickle.dump({meta_key: [f"class{i}" for i in range(classes)]}, f)


def _idx(path: Path, array: np.ndarray, *, gz: bool = False) -> None:
    import gzip

    magic = {1: 0x0801, 3: 0x0803}[array.ndim]
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


def mnist(root: Path, *, folder: str = "MNIST", n_train: int = 40, n_test: int = 20,
          seed: int = 0, flat: bool = False, gz: bool = False) -> None:
    """The four IDX files in torchvision's layout (``root/folder/raw/``), or ``flat`` in
    ``root`` as the data sets' authors and Debian's packages ship them; ``gz``: gzipped."""
    rng = np.random.default_rng(seed)
    raw = root if flat else root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), gz=gz)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, gz=gz)


def svhn(root: Path, *, n_train: int = 30, n_test: int = 20, seed: int = 0) -> None:
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1)  # SVHN stores digit 0 as label 10
        savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})


def image_folder(root: Path, *, classes: int = 3, per_class: int = 6, size: int = 8,
                 splits: tuple[str, ...] = ()) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in splits or ("",):
        for c in range(classes):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(d / f"img{i}.png")
