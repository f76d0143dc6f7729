"""Every data source, including torchvision loaders on fabricated files in the real format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from curator.data import DATASETS, flip_labels, load_data, stratified_folds
from curator.errors import DataError
from tests import fabricate


def test_digits_is_a_fixed_stratified_80_20_split() -> None:
    a, b = load_data("digits"), load_data("digits")
    assert a.num_samples == 1437 and len(a.test) == 360
    assert a.sample_shape == (1, 8, 8) and a.num_classes == 10
    assert a.fingerprint == b.fingerprint
    assert torch.equal(a.train.x, b.train.x)
    train_share = np.bincount(a.labels, minlength=10) / a.num_samples
    test_share = np.bincount(a.test.labels.numpy(), minlength=10) / len(a.test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)


def test_batches_carry_stable_indices() -> None:
    d = load_data("digits")
    order = torch.tensor([5, 0, 1436, 7])
    idx, x, y = next(d.train.batches(order, 3, device=torch.device("cpu")))
    assert idx.tolist() == [5, 0, 1436]
    assert torch.equal(y, d.train.labels[idx])
    assert torch.allclose(x, d.train.normalise(d.train.x[idx]))


def test_label_noise_flips_exactly_p_n_labels_to_other_classes() -> None:
    clean = load_data("digits")
    noisy = load_data("digits", label_noise=0.2, noise_seed=3)
    assert noisy.noisy is not None and noisy.noisy.sum() == round(0.2 * 1437)
    changed = noisy.labels != clean.labels
    np.testing.assert_array_equal(changed, noisy.noisy)
    np.testing.assert_array_equal(noisy.original_labels, clean.labels)
    assert noisy.fingerprint != clean.fingerprint
    again = load_data("digits", label_noise=0.2, noise_seed=3)
    np.testing.assert_array_equal(again.labels, noisy.labels)
    other = load_data("digits", label_noise=0.2, noise_seed=4)
    assert not np.array_equal(other.noisy, noisy.noisy)


def test_flip_labels_spreads_over_other_classes() -> None:
    labels = np.zeros(3000, dtype=np.int64)
    new, mask = flip_labels(labels, 0.5, 4, seed=0)
    assert mask.sum() == 1500 and (new[mask] != 0).all() and (new[~mask] == 0).all()
    counts = np.bincount(new[mask], minlength=4)[1:]
    assert counts.min() > 400  # uniform over the 3 other classes


def test_npz_without_test_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 7)).astype(np.float64)
    y = np.arange(50) % 5
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = load_data(f"npz:{tmp_path / 'd.npz'}")
    assert d.num_samples == 40 and len(d.test) == 10 and d.sample_shape == (7,)
    assert d.num_classes == 5
    assert d.train.x.dtype == torch.float32


def test_npz_with_test_split_and_images(tmp_path: Path) -> None:
    x = np.zeros((12, 5, 6), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(12) % 3, x_test=x[:4], y_test=np.arange(4) % 3)
    d = load_data(f"npz:{tmp_path / 'd.npz'}")
    assert d.num_samples == 12 and len(d.test) == 4
    assert d.sample_shape == (1, 5, 6)  # (N, H, W) -> single-channel images
    assert d.train.x.dtype == torch.uint8


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar_files(tmp_path: Path, skip_md5: None, hundred: bool) -> None:
    fabricate.cifar(tmp_path, hundred=hundred)
    d = load_data("cifar100" if hundred else "cifar10", root=str(tmp_path))
    assert d.sample_shape == (3, 32, 32)
    assert d.num_samples == 100 and len(d.test) == 20
    assert d.num_classes == (100 if hundred else 10)
    assert d.train.x.dtype == torch.uint8
    assert d.classes[0] == "class0"


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"),
                                              ("fashion-mnist", "FashionMNIST")])
def test_mnist_files(tmp_path: Path, name: str, folder: str) -> None:
    fabricate.mnist(tmp_path, folder=folder)
    d = load_data(name, root=str(tmp_path))
    assert d.sample_shape == (1, 28, 28) and d.num_samples == 40 and len(d.test) == 20
    np.testing.assert_array_equal(d.labels, np.arange(40) % 10)


def test_mnist_reads_as_torchvision_does(tmp_path: Path) -> None:
    import torchvision.datasets as tvd

    fabricate.mnist(tmp_path, folder="FashionMNIST")
    ours = load_data("fashion-mnist", root=str(tmp_path))
    theirs = tvd.FashionMNIST(str(tmp_path), train=True)
    np.testing.assert_array_equal(ours.train.x[:, 0].numpy(), theirs.data.numpy())
    np.testing.assert_array_equal(ours.labels, theirs.targets.numpy())
    assert ours.classes == theirs.classes


@pytest.mark.parametrize("flat", [True, False])
def test_mnist_gzipped_files_flat_or_in_torchvisions_layout(tmp_path: Path, flat: bool) -> None:
    # Debian's dataset-fashion-mnist ships the four .gz files flat in one folder
    fabricate.mnist(tmp_path, folder="FashionMNIST", flat=flat, gz=True, n_train=30)
    assert list(tmp_path.rglob("*.gz")) and not list(tmp_path.rglob("*ubyte"))
    d = load_data("fashion-mnist", root=str(tmp_path))
    assert d.sample_shape == (1, 28, 28) and d.num_samples == 30 and len(d.test) == 20
    np.testing.assert_array_equal(d.labels, np.arange(30) % 10)
    assert d.train.x.dtype == torch.uint8


def test_mnist_bad_or_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as info:
        load_data("mnist", root=str(tmp_path))
    assert "--root" in (info.value.hint or "")
    fabricate.mnist(tmp_path, flat=True)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])  # truncated
    with pytest.raises(DataError, match="header"):
        load_data("mnist", root=str(tmp_path))
    path.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="not an IDX file"):
        load_data("mnist", root=str(tmp_path))


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debians_package() -> None:
    d = load_data("fashion-mnist")  # no --root: the package's folder
    assert d.num_samples == 60_000 and len(d.test) == 10_000 and d.num_classes == 10
    assert d.classes[0] == "T-shirt/top"


def test_svhn_files(tmp_path: Path, skip_md5: None) -> None:
    fabricate.svhn(tmp_path)
    d = load_data("svhn", root=str(tmp_path))
    assert d.sample_shape == (3, 32, 32) and d.num_samples == 30
    # stored 1..10 with 10 for the digit 0; read back as 1..9, 0
    np.testing.assert_array_equal(d.labels, (np.arange(30) % 10 + 1) % 10)


def test_missing_torchvision_data_says_download(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as info:
        load_data("cifar10", root=str(tmp_path))
    assert "--download" in (info.value.hint or "")


def test_image_folder_split_and_train_test(tmp_path: Path) -> None:
    fabricate.image_folder(tmp_path / "flat", per_class=5)
    d = load_data(f"imagefolder:{tmp_path / 'flat'}")
    assert d.num_samples == 12 and len(d.test) == 3 and d.num_classes == 3
    idx, x, y = next(d.train.batches(torch.arange(4), 4, device=torch.device("cpu")))
    assert x.shape == (4, 3, 8, 8) and idx.tolist() == [0, 1, 2, 3]
    fabricate.image_folder(tmp_path / "split", per_class=2, splits=("train", "val"))
    d = load_data(f"imagefolder:{tmp_path / 'split'}", image_size=4)
    assert d.num_samples == 6 and len(d.test) == 6 and d.sample_shape == (3, 4, 4)


def test_image_folder_noise_changes_batch_labels(tmp_path: Path) -> None:
    fabricate.image_folder(tmp_path, per_class=10)
    d = load_data(f"imagefolder:{tmp_path}", label_noise=0.5)
    _, _, y = next(d.train.batches(torch.arange(d.num_samples), 100,
                                   device=torch.device("cpu")))
    np.testing.assert_array_equal(y.numpy(), d.labels)
    assert (y.numpy() != d.original_labels).sum() == round(0.5 * d.num_samples)


def test_mnist1d_is_generated_offline() -> None:
    d = load_data("mnist1d")
    assert d.num_samples == 4000 and len(d.test) == 1000 and d.sample_shape == (40,)
    assert d.num_classes == 10


def test_registry_lists_the_sources() -> None:
    assert {"digits", "npz", "mnist1d", "cifar10", "cifar100", "mnist", "fashion-mnist",
            "svhn", "imagefolder"} <= set(DATASETS.names())


def test_stratified_folds_spread_each_class_evenly() -> None:
    labels = np.repeat(np.arange(4), [10, 7, 3, 1])
    folds = stratified_folds(labels, 3, seed=0)
    for c in range(4):
        counts = np.bincount(folds[labels == c], minlength=3)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(folds, stratified_folds(labels, 3, seed=0))
    assert not np.array_equal(folds, stratified_folds(labels, 3, seed=1))


def test_asymmetric_noise_flips_each_class_to_its_nearest_class_mean(tmp_path: Path) -> None:
    # class means at 0, 1 and 10 on every feature: 0 and 1 are each other's confusable
    # class, and 2's nearest is 1
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    x = (np.array([0.0, 1.0, 10.0])[y][:, None] + 0.01 * rng.normal(size=(120, 5)))
    np.savez(tmp_path / "a.npz", x=x.astype(np.float32), y=y, x_test=x[:6].astype(np.float32),
             y_test=y[:6])
    d = load_data(f"npz:{tmp_path / 'a.npz'}", label_noise=0.25, noise_kind="asymmetric")
    from curator.data import confusable_classes

    np.testing.assert_array_equal(confusable_classes(d.train, 3), [1, 0, 1])
    assert d.noisy.sum() == 30 and d.noise_kind == "asymmetric"
    partner = np.array([1, 0, 1])
    np.testing.assert_array_equal(d.labels[d.noisy], partner[d.original_labels[d.noisy]])
    np.testing.assert_array_equal(d.labels[~d.noisy], d.original_labels[~d.noisy])
    assert d.describe()["noise_kind"] == "asymmetric"
    with pytest.raises(DataError, match="noise_kind must be one of"):
        load_data("digits", label_noise=0.1, noise_kind="human")
