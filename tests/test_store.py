"""The HDF5 format: layout, versions, refusals, and a frozen file from an earlier version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from curator import store
from curator.data import load_data
from curator.errors import FormatError
from curator.scores import FileTrajectories, compute_scores
from curator.store import STAT_DTYPES

DATA = Path(__file__).parent / "data"
FROZEN = DATA / "scores-v0.1.0.h5"


@pytest.fixture(scope="module")
def bundle():
    return load_data("digits", label_noise=0.1)


def _write(path: Path, bundle, epochs: int = 3) -> dict[str, np.ndarray]:
    store.create(path, bundle, {"model": "mlp", "probe": "train"})
    store.add_run(path, "seed-0", seed=0, config={"model": "mlp", "probe": "train"},
                  epochs=epochs, record=True)
    rng = np.random.default_rng(0)
    n = bundle.num_samples
    p = rng.random((epochs, n)).astype(np.float32)
    for e in range(epochs):
        stats = {"p_true": p[e], "correct": p[e] > 0.5, "loss": -np.log(p[e]),
                 "margin": p[e] - 0.5, "el2n": 1 - p[e],
                 "rival": np.full(n, e % 10, dtype=np.uint8)}
        metrics = {"train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0, "test_acc": 0.4,
                   "lr": 0.1, "seconds": 1.5}
        store.append_epoch(path, "seed-0", e, stats, metrics)
    return {"p_true": p}


def test_layout(tmp_path: Path, bundle) -> None:
    path = tmp_path / "s.h5"
    written = _write(path, bundle)
    with h5py.File(path, "r") as f:
        assert f.attrs["encoding-type"] == "curator-scores"
        assert f.attrs["encoding-version"] == store.VERSION
        assert f.attrs["num_samples"] == bundle.num_samples
        assert f.attrs["fingerprint"] == bundle.fingerprint
        assert json.loads(f.attrs["data"])["data"] == "digits"
        np.testing.assert_array_equal(f["labels"][()], bundle.labels)
        np.testing.assert_array_equal(f["data/noisy"][()], bundle.noisy)
        run = f["runs/seed-0"]
        assert run.attrs["epochs_done"] == 3 and not run.attrs["complete"]
        for stat in STAT_DTYPES:
            assert run[stat].shape == (3, bundle.num_samples)
            assert run[stat].dtype == store.stat_dtype(stat, bundle.num_classes)
            assert run[stat].compression == "gzip"
        np.testing.assert_array_equal(run["p_true"][()], written["p_true"])
        assert run.attrs["wall_time_s"] == pytest.approx(4.5)
        assert run["history/test_acc"].shape == (3,)


def test_first_epoch_checks_are_read_once_the_first_epoch_is_committed(tmp_path: Path,
                                                                      bundle) -> None:
    path = tmp_path / "s.h5"
    store.create(path, bundle, {"model": "mlp", "probe": "train"})
    store.add_run(path, "seed-0", seed=0, config={"model": "mlp", "probe": "train"}, epochs=2,
                  record=True)
    rows = np.array([[700.0, 300.0, 0.1, 0.5, 360.0], [737.0, 500.0, 0.5, 0.7, 360.0]])
    store.write_run_array(path, "seed-0", "first_epoch", rows,
                          columns=list(store.FIRST_EPOCH_COLUMNS))
    with store.open_scores(path) as f:
        assert f.first_epoch("seed-0") is None  # written, but epoch 1 is not committed yet
    p = np.full(bundle.num_samples, 0.5, np.float32)
    store.append_epoch(path, "seed-0", 0, {"p_true": p, "correct": p > 0, "loss": p,
                                           "margin": p, "el2n": p,
                                           "rival": np.zeros(len(p), np.uint8)},
                       {"train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0,
                        "test_acc": 0.7, "lr": 0.1, "seconds": 1.0})
    with store.open_scores(path) as f:
        np.testing.assert_array_equal(f.first_epoch("seed-0"), rows)
    store.write_run_array(path, "seed-0", "first_epoch", rows[:, :4])
    with store.open_scores(path) as f, pytest.raises(FormatError, match="first_epoch"):
        f.first_epoch("seed-0")


def test_only_the_next_epoch_can_be_written(tmp_path: Path, bundle) -> None:
    path = tmp_path / "s.h5"
    _write(path, bundle, epochs=3)
    with pytest.raises(FormatError, match="has 3 epochs; cannot write epoch 2"):
        store.append_epoch(path, "seed-0", 1, None, {})


def test_truncate_and_finish(tmp_path: Path, bundle) -> None:
    path = tmp_path / "s.h5"
    _write(path, bundle, epochs=3)
    store.finish_run(path, "seed-0")
    store.truncate_run(path, "seed-0", 1)
    with store.open_scores(path) as f:
        info = f.run("seed-0")
        assert info.epochs_done == 1 and not info.complete
        assert info.wall_time_s == pytest.approx(1.5)
        assert f.read_stat("seed-0", "p_true").shape == (1, bundle.num_samples)
    with pytest.raises(FormatError, match="not complete"):
        store.finish_run(path, "seed-0")


def test_unknown_version_names_file_key_and_version(tmp_path: Path, bundle) -> None:
    path = tmp_path / "s.h5"
    _write(path, bundle)
    with h5py.File(path, "a") as f:
        f.attrs["encoding-version"] = "9.0.0"
    with pytest.raises(FormatError, match=r"s\.h5.*'encoding-version' = '9\.0\.0'"):
        store.open_scores(path)


@pytest.mark.parametrize("content", [b"", b"not hdf5 at all"])
def test_non_hdf5_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    with pytest.raises(FormatError, match="is not an HDF5 file"):
        store.open_scores(path)


def test_other_hdf5_file_and_missing_parts(tmp_path: Path, bundle) -> None:
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = [1, 2]
    with pytest.raises(FormatError, match="not a curator scores file"):
        store.open_scores(other)
    path = tmp_path / "s.h5"
    _write(path, bundle)
    with h5py.File(path, "a") as f:
        del f["labels"]
    with pytest.raises(FormatError, match="missing '/labels'"):
        store.open_scores(path)
    with pytest.raises(FormatError, match="does not exist"):
        store.open_scores(tmp_path / "nope.h5")


def test_frozen_file_still_reads(tmp_path: Path) -> None:
    """A file written by curator 0.1.0 (command in tests/data/README.md) keeps reading."""
    copy = tmp_path / FROZEN.name
    shutil.copy(FROZEN, copy)
    with store.open_scores(copy) as f:
        assert f.version == "0.1.0"
        assert f.num_samples == 1437 and f.num_classes == 10
        assert f.data_spec["data"] == "digits" and f.data_spec["label_noise"] == 0.1
        assert [r.name for r in f.runs()] == ["seed-0", "seed-1"]
        assert all(r.complete and r.epochs_done == 2 for r in f.runs())
        stored = f.score("learnability")
        fresh = compute_scores(FileTrajectories(f), ["learnability"])["learnability"]
        np.testing.assert_allclose(stored.values, fresh.values, rtol=1e-6)
        assert f.noisy is not None and f.noisy.sum() == 144
        assert f.fingerprint == load_data("digits", label_noise=0.1).fingerprint


def test_frozen_v0_2_file_reads_with_its_suggestions(tmp_path: Path) -> None:
    """Format 0.2.0 (curator 0.1.0, 2026-12-05; tests/data/README.md): runs record
    ``rival`` and the file stores the suggested labels made from it."""
    copy = tmp_path / "scores-v0.2.0.h5"
    shutil.copy(DATA / copy.name, copy)
    with store.open_scores(copy) as f:
        assert f.version == "0.2.0"
        assert all("rival" in r.stats for r in f.runs())
        rival = f.read_stat("seed-0", "rival")
        assert rival.dtype == np.uint8 and rival.shape == (2, 1437) and rival.max() < 10
        stored = f.score("suggested_label")
        fresh = compute_scores(FileTrajectories(f), ["suggested_label"])["suggested_label"]
        np.testing.assert_array_equal(stored.values, fresh.values)
        assert (stored.values >= -1).all() and (stored.values < 10).all()


def test_a_v0_1_file_has_no_suggestions_and_says_why(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from curator.cli import app

    copy = tmp_path / FROZEN.name
    shutil.copy(FROZEN, copy)
    with store.open_scores(copy) as f:
        assert not any("rival" in r.stats for r in f.runs())
        with pytest.raises(FormatError, match="needs the statistic 'rival'"):
            compute_scores(FileTrajectories(f), ["suggested_label"])
    r = CliRunner().invoke(app, ["relabel", str(copy), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code != 0
    assert "records no rival class (a file of format 0.1.0)" in " ".join(r.output.split())


def test_fingerprint_refuses_other_data(tmp_path: Path, bundle) -> None:
    path = tmp_path / "s.h5"
    _write(path, bundle)
    with store.open_scores(path) as f:
        f.check_data(load_data("digits", label_noise=0.1))  # the same data: accepted
        for other in (load_data("digits"), load_data("digits", label_noise=0.1, noise_seed=1)):
            with pytest.raises(FormatError, match="was scored on other data") as info:
                f.check_data(other)
            assert "label noise 0.1 and noise seed 0" in (info.value.hint or "")


def test_a_score_of_an_unknown_element_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    shutil.copy(DATA / "scores-v0.1.0.h5", path)
    with h5py.File(path, "a") as f:
        f["scores/learnability"].attrs["encoding-version"] = "9.0.0"
    with store.open_scores(path) as f, pytest.raises(FormatError,
                                                     match="score 'learnability' has encoding "
                                                           "'curator-score' version '9.0.0'"):
        f.score("learnability")
