"""Hypothesis fuzzes what users hand us: npz contents and HDF5 attributes.

Every case must end in a clear error (CuratorError; through the CLI, exit code 1 and one
`Error:` line) or in a correct result; never in another exception or a silently wrong one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from curator.cli import app
from curator.data import load_data
from curator.errors import CuratorError

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "tests" / "data" / "scores-v0.1.0.h5"
# CI replays one fixed sequence (a green CI stays green); elsewhere each run explores anew
SETTINGS = settings(max_examples=60, deadline=None, derandomize=bool(os.environ.get("CI")),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

X_DTYPES = st.sampled_from(["float32", "float64", "int64", "uint8", "bool", "complex64",
                            "float16"])
Y_DTYPES = st.sampled_from(["int64", "int8", "uint8", "float64", "bool"])


@st.composite
def npz_arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(0, 40))
    extra = draw(st.lists(st.integers(0, 4), max_size=3))
    x = draw(hnp.arrays(draw(X_DTYPES), (n, *extra)))
    y_len = draw(st.sampled_from([n, n, n, max(0, n - 1), n + 1]))
    y = draw(hnp.arrays(draw(Y_DTYPES), y_len))
    arrays = {"x": x, "y": y}
    if draw(st.booleans()):
        arrays["num_classes"] = np.int64(draw(st.integers(-1, 12)))
    for key in draw(st.sets(st.sampled_from(["x", "y"]), max_size=1)):
        del arrays[key]
    return arrays


@pytest.mark.filterwarnings("error::RuntimeWarning")  # an overflowing cast is a wrong answer
@SETTINGS
@given(arrays=npz_arrays())
def test_npz_fuzz(arrays: dict[str, np.ndarray]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.npz"
        np.savez(path, **arrays)
        try:
            bundle = load_data(f"npz:{path}")
        except CuratorError as exc:
            assert exc.message
            return
    # a result: it must be exactly the arrays given
    x, y = arrays["x"], arrays["y"]
    assert x.dtype.kind in "biuf" and y.dtype.kind in "biuf"
    n_test = 0 if bundle.test is None else len(bundle.test)
    assert bundle.num_samples + n_test == len(x) == len(y)
    assert np.isfinite(x.astype(np.float64)).all()
    labels = np.concatenate([bundle.labels] + ([] if bundle.test is None else
                                               [bundle.test.labels.numpy()]))
    assert sorted(labels.tolist()) == sorted(y.astype(np.int64).tolist())
    assert (y == y.astype(np.int64)).all()  # integral labels only
    assert labels.min() >= 0 and labels.max() < bundle.num_classes
    if "num_classes" in arrays:
        assert bundle.num_classes == int(arrays["num_classes"])
    assert torch.isfinite(bundle.train.x.float()).all()
    flat = bundle.train.x.reshape(bundle.num_samples, -1) if hasattr(bundle.train, "x") \
        else None
    if flat is not None:
        assert flat.shape[1] == int(np.prod(x.shape[1:]))


ATTR_VALUES = st.one_of(
    st.integers(-3, 5000), st.floats(allow_nan=True),
    st.text(st.characters(exclude_characters='\x00'), max_size=12), st.booleans(),
    st.binary(max_size=8).filter(lambda b: b'\x00' not in b), st.just('{"a": 1}'),
    st.just("[1, 2]"), st.just("null"),
    st.lists(st.integers(0, 3), min_size=1, max_size=3).map(np.array),
    st.sampled_from(["easier", "harder", "seed-0", "0.1.0", "curator-scores"]))


def _targets(f: h5py.File) -> list[tuple[str, str]]:
    """(object path, attribute name) of every attribute of the file."""
    out: list[tuple[str, str]] = [("/", k) for k in f.attrs]

    def visit(name: str, obj: h5py.HLObject) -> None:
        out.extend((name, k) for k in obj.attrs)
    f.visititems(visit)
    return out


TARGETS = None


@SETTINGS
@given(data=st.data())
def test_hdf5_attribute_fuzz(data: st.DataObject) -> None:
    global TARGETS
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.h5"
        shutil.copy(FROZEN, path)
        with h5py.File(path, "a") as f:
            if TARGETS is None:
                TARGETS = _targets(f)
            edits = data.draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=3))
            for obj, key in edits:
                if data.draw(st.booleans()):
                    if key in f[obj].attrs:
                        del f[obj].attrs[key]
                else:
                    f[obj].attrs[key] = data.draw(ATTR_VALUES)
        for args in (["inspect", str(path)], ["export", str(path), "--out",
                                              str(Path(tmp) / "e.csv")],
                     ["prune", str(path), "--keep", "0.5"]):
            result = CliRunner().invoke(app, args)
            assert result.exit_code in (0, 1), (args, edits, result.output, result.exception)
            assert isinstance(result.exception, SystemExit | None), (
                args, edits, repr(result.exception))
            if result.exit_code == 1:
                errors = [s for s in result.stderr.splitlines() if s.startswith("Error: ")]
                assert len(errors) == 1, result.stderr
