"""`curator compare` on files with known correlations, and `curator export`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from curator import store
from curator.cli import app
from curator.compare import compare_files, extremes
from curator.data import load_data
from curator.errors import CuratorError, FormatError
from curator.store import ScoreValues

runner = CliRunner()


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def _file(path: Path, bundle, values: np.ndarray, higher_is: str = "easier") -> Path:
    store.create(path, bundle, {"model": "mlp"})
    store.write_scores(path, {"learnability": ScoreValues(values, higher_is, "test", ())})
    return path


def test_known_correlations(tmp_path: Path, digits) -> None:
    n = digits.num_samples
    rng = np.random.default_rng(0)
    v = rng.random(n)
    w = v + rng.normal(scale=0.3, size=n)
    a = _file(tmp_path / "a.h5", digits, v)
    b = _file(tmp_path / "b.h5", digits, 3 * v + 1)  # same order: correlation 1
    c = _file(tmp_path / "c.h5", digits, -v)  # reversed order
    d = _file(tmp_path / "d.h5", digits, w)  # noisy copy
    e = _file(tmp_path / "e.h5", digits, -v, higher_is="harder")  # same as a, other sign
    cmp = compare_files([a, b, c, d, e])
    assert cmp.pearson[0, 1] == pytest.approx(1) and cmp.rank_pearson[0, 1] == pytest.approx(1)
    assert cmp.pearson[0, 2] == pytest.approx(-1)
    assert cmp.pearson[0, 3] == pytest.approx(np.corrcoef(v, w)[0, 1])
    assert cmp.pearson[0, 4] == pytest.approx(1)  # higher_is decides the direction
    assert cmp.jaccard_easiest[0, 1] == 1 and cmp.jaccard_hardest[0, 1] == 1
    assert cmp.jaccard_easiest[0, 2] == 0  # c's easiest are a's hardest
    k = int(np.ceil(0.1 * n))
    top_v, top_w = set(np.argsort(-v)[:k]), set(np.argsort(-w)[:k])
    assert cmp.jaccard_easiest[0, 3] == pytest.approx(len(top_v & top_w) / len(top_v | top_w))
    np.testing.assert_allclose(np.diag(cmp.pearson), 1)


def test_extremes_sizes_and_order() -> None:
    ease = np.array([0.5, 0.9, 0.1, 0.7, 0.3])
    easy, hard = extremes(ease, 0.4)
    assert easy.tolist() == [1, 3] and hard.tolist() == [2, 4]


def test_refuses_other_data_and_missing_scores(tmp_path: Path, digits) -> None:
    a = _file(tmp_path / "a.h5", digits, np.arange(digits.num_samples, dtype=float))
    noisy = load_data("digits", label_noise=0.1)
    b = _file(tmp_path / "b.h5", noisy, np.arange(noisy.num_samples, dtype=float))
    with pytest.raises(FormatError, match="scored on other data"):
        compare_files([a, b])
    with pytest.raises(FormatError, match="has no score 'aum'"):
        compare_files([a, a], score="aum")
    with pytest.raises(CuratorError, match="at least two files"):
        compare_files([a])


def test_compare_cli_json_and_table(tmp_path: Path, digits) -> None:
    v = np.random.default_rng(1).random(digits.num_samples)
    a = _file(tmp_path / "a.h5", digits, v)
    b = _file(tmp_path / "b.h5", digits, v ** 2)
    r = runner.invoke(app, ["compare", str(a), str(b), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["rank_pearson"][0][1] == pytest.approx(1)  # a monotone map keeps the ranks
    assert out["jaccard_easiest"][0][1] == 1
    r = runner.invoke(app, ["compare", str(a), str(b)])
    assert r.exit_code == 0 and "1.000 / 1.000" in r.stdout
    r = runner.invoke(app, ["compare", str(a), str(tmp_path / "none.h5")])
    assert r.exit_code == 1 and "does not exist" in r.stderr


@pytest.mark.parametrize("fmt", ["csv", "npy"])
def test_export(tmp_path: Path, fmt: str) -> None:
    bundle = load_data("digits", label_noise=0.1)
    v = np.linspace(0, 1, bundle.num_samples).astype(np.float32)
    path = _file(tmp_path / "s.h5", bundle, v)
    r = runner.invoke(app, ["export", str(path), "--format", fmt])
    assert r.exit_code == 0, r.output
    out = tmp_path / f"s.{fmt}"
    if fmt == "npy":
        table = np.load(out)
        names = table.dtype.names
    else:
        table = np.genfromtxt(out, delimiter=",", names=True)
        names = table.dtype.names
    assert names == ("index", "label", "noisy", "original_label", "learnability")
    np.testing.assert_array_equal(table["index"], np.arange(bundle.num_samples))
    np.testing.assert_array_equal(table["label"], bundle.labels)
    np.testing.assert_array_equal(table["noisy"], bundle.noisy)
    np.testing.assert_allclose(table["learnability"], v, rtol=1e-6)
    r = runner.invoke(app, ["export", str(path), "--format", "parquet"])
    assert r.exit_code == 1 and "unknown export format 'parquet'" in r.stderr
    r = runner.invoke(app, ["export", str(path), "--scores", "aum"])
    assert r.exit_code == 1 and "has no score 'aum'" in r.stderr
