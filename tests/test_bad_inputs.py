"""The table of bad inputs (docs/reliability.md): each through the CLI, each answered with
exit code 1, an `Error:` line that names the problem and the value, and no traceback."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from curator.cli import app

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "tests" / "data" / "scores-v0.1.0.h5"
runner = CliRunner()
QUICK = ["--epochs", "1", "--seeds", "1", "--device", "cpu", "--quiet"]


def scores(tmp: Path) -> Path:
    """A copy of the frozen scores file (digits, label noise 0.1)."""
    path = tmp / "s.h5"
    shutil.copy(FROZEN, path)
    return path


def edit_h5(edit: Callable[[h5py.File], None]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = scores(tmp)
        with h5py.File(path, "a") as f:
            edit(f)
        return path
    return make


def npz(**arrays: object) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / "d.npz"
        np.savez(path, **arrays)
        return path
    return make


def write(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content)
        return path
    return make


def truncated(tmp: Path) -> Path:
    path = scores(tmp)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def without_scores(tmp: Path) -> Path:
    """A scores file with no run yet (as `curator score` leaves it before its first epoch)."""
    from curator import store
    from curator.data import load_data

    path = tmp / "s.h5"
    store.create(path, load_data("digits"), {})
    return path


def answers_of_other_data(tmp: Path) -> Path:
    """The scores file, and beside it (c.csv) a person's answers made for other data."""
    write("c.csv", b"# curator-corrections 1\n# fingerprint 0000000000000000\n"
          b"# num_samples 10\n# num_classes 10\nindex,action,label,given\n1,keep,,3\n")(tmp)
    return scores(tmp)


def read_only_dir(tmp: Path) -> Path:
    if os.geteuid() == 0:  # root writes through permission bits; sysfs refuses even root
        return Path("/sys")
    d = tmp / "ro"
    d.mkdir()
    d.chmod(0o555)
    return d


RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(40, 4)), np.arange(40) % 2


@dataclass
class Case:
    id: str
    make: Callable[[Path], Path] | None  # writes the input; its path replaces {p} in args
    args: list[str]
    expect: list[str]  # all in the Error: line (the problem and the value)


CASES = [
    # --- scores files -------------------------------------------------------------------
    Case("missing-scores-file", None, ["inspect", "nope.h5"],
         ["does not exist", "nope.h5"]),
    Case("truncated-scores-file", truncated, ["inspect", "{p}"], ["s.h5", "is truncated"]),
    Case("not-hdf5", write("s.h5", b"hello, I am text\n" * 10), ["inspect", "{p}"],
         ["is not an HDF5 file", "s.h5"]),
    Case("hdf5-not-curator", edit_h5(lambda f: f.attrs.__setitem__("encoding-type", "other")),
         ["inspect", "{p}"], ["not a curator scores file", "'other'"]),
    Case("newer-encoding-version",
         edit_h5(lambda f: f.attrs.__setitem__("encoding-version", "9.0.0")),
         ["inspect", "{p}"], ["'encoding-version' = '9.0.0'", "cannot read"]),
    Case("missing-labels", edit_h5(lambda f: f.__delitem__("labels")), ["inspect", "{p}"],
         ["is missing '/labels'"]),
    Case("missing-root-attribute", edit_h5(lambda f: f.attrs.__delitem__("fingerprint")),
         ["inspect", "{p}"], ["missing the root attribute 'fingerprint'"]),
    Case("labels-disagree-with-num-samples",
         edit_h5(lambda f: f.attrs.__setitem__("num_samples", 5)), ["inspect", "{p}"],
         ["'/labels'", "num_samples = 5"]),
    Case("scores-of-other-data", scores,
         ["train", "--scores", "{p}", "--sampler", "easy-to-hard", "--label-noise", "0.3",
          *QUICK[:2]], ["was scored on other data", "fingerprint"]),
    Case("unknown-score", scores, ["prune", "{p}", "--keep", "0.5", "--by", "nope"],
         ["no score 'nope'"]),
    Case("flag-file-without-scores", without_scores, ["flag", "{p}"],
         ["has no scores yet", "s.h5"]),
    Case("flag-unknown-score", scores, ["flag", "{p}", "--by", "nope"],
         ["--by 'nope'", "is not a score mislabels can be estimated from"]),
    Case("flag-score-without-probabilities", scores, ["flag", "{p}", "--by", "el2n"],
         ["--by 'el2n'"]),
    Case("unknown-selection", scores,
         ["train", "--scores", "{p}", "--subset", "nope", *QUICK[:2]],
         ["no selection 'nope'"]),
    # --- npz data -----------------------------------------------------------------------
    Case("npz-missing-file", None, ["score", "--data", "npz:nope.npz", *QUICK],
         ["npz file '", "/nope.npz' does not exist"]),  # the path made absolute
    Case("npz-not-a-zip", write("d.npz", b"not a zip"), ["score", "--data", "npz:{p}", *QUICK],
         ["not an npz", "d.npz"]),
    Case("npz-missing-key", npz(x=X), ["score", "--data", "npz:{p}", *QUICK],
         ["has no array 'y'"]),
    Case("npz-object-array", npz(x=np.array([[1], "a"], dtype=object), y=Y[:2]),
         ["score", "--data", "npz:{p}", *QUICK], ["object arrays"]),
    Case("npz-nan-in-x", npz(x=np.where(np.arange(160).reshape(40, 4) == 7, np.nan, X), y=Y),
         ["score", "--data", "npz:{p}", *QUICK], ["holds nan", "'x'"]),
    Case("npz-inf-in-x", npz(x=np.where(np.arange(160).reshape(40, 4) == 9, np.inf, X), y=Y),
         ["score", "--data", "npz:{p}", *QUICK], ["holds inf", "'x'"]),
    Case("npz-negative-label", npz(x=X, y=Y - 1), ["score", "--data", "npz:{p}", *QUICK],
         ["label", "-1"]),
    Case("npz-label-too-large", npz(x=X, y=Y * 7, num_classes=np.int64(3)),
         ["score", "--data", "npz:{p}", *QUICK], ["label", "7"]),
    Case("npz-float-labels", npz(x=X, y=Y + 0.5), ["score", "--data", "npz:{p}", *QUICK],
         ["label", "0.5"]),
    Case("npz-empty", npz(x=np.zeros((0, 4)), y=np.zeros(0, dtype=int)),
         ["score", "--data", "npz:{p}", *QUICK], ["is empty", "(0, 4)"]),
    Case("npz-lengths-disagree", npz(x=X, y=Y[:39]), ["score", "--data", "npz:{p}", *QUICK],
         ["40", "39"]),
    # --- outputs ------------------------------------------------------------------------
    Case("read-only-output-dir", read_only_dir, ["score", *QUICK, "--out", "{p}/s.h5"],
         ["is not writable"]),
    Case("missing-output-dir", None, ["score", *QUICK, "--out", "no/such/dir/s.h5"],
         ["output directory 'no/such/dir' does not exist"]),
    Case("output-exists", scores, ["score", *QUICK, "--out", "{p}"],
         ["already exists", "s.h5"]),
    Case("resume-missing-file", None, ["score", *QUICK, "--resume", "--out", "none.h5"],
         ["cannot resume", "none.h5"]),
    # --- values and names ---------------------------------------------------------------
    Case("keep-zero", scores, ["prune", "{p}", "--keep", "0"], ["--keep", "0"]),
    Case("keep-above-one", scores, ["prune", "{p}", "--keep", "1.5"], ["--keep", "1.5"]),
    Case("keep-not-a-number", scores, ["prune", "{p}", "--keep", "lots"], ["--keep", "lots"]),
    Case("flag-out-bad-suffix", scores, ["flag", "{p}", "--out", "f.parquet"],
         ["--out 'f.parquet' must end in .npy, .txt or .csv"]),
    Case("flag-answers-for-other-data", answers_of_other_data,
         ["flag", "{p}", "--answers", "c.csv"],
         ["the corrections were made for other data", "10 samples", "1437 samples"]),
    Case("unknown-strategy", scores, ["prune", "{p}", "--keep", "0.5", "--strategy", "best"],
         ["unknown", "'best'"]),
    Case("option-of-another-strategy", scores, ["prune", "{p}", "--keep", "0.5",
                                                "--drop-hardest", "0"],
         ["--drop-hardest is an option of strategy stratified", "drop-flagged"]),
    Case("unknown-sampler", None, ["train", "--sampler", "sorted", *QUICK[:2]],
         ["unknown sampler 'sorted'"]),
    Case("unknown-model", None, ["score", "--model", "resnet9000", *QUICK],
         ["unknown model 'resnet9000'"]),
    Case("unknown-data-set", None, ["score", "--data", "imagenet22k", *QUICK],
         ["unknown data set 'imagenet22k'"]),
    Case("zero-epochs", None, ["score", "--epochs", "0", "--quiet"],
         ["epochs must be >= 1", "0"]),
    Case("batch-larger-than-data", None, ["score", *QUICK, "--batch-size", "5000"],
         ["batch_size 5000 is larger than the training set", "1437"]),
    Case("unknown-noise-kind", None, ["score", *QUICK, "--label-noise", "0.1",
                                      "--noise-kind", "human"],
         ["--noise-kind must be one of symmetric, asymmetric, pairs", "'human'"]),
    Case("label-noise-out-of-range", None, ["score", *QUICK, "--label-noise", "1.5"],
         ["label_noise must be in [0, 1)", "1.5"]),
    Case("holdout-one-fold", None, ["score", *QUICK, "--holdout", "1"],
         ["holdout", "1"]),
    Case("unknown-config-key", write("c.toml", b"epochz = 3\n"),
         ["score", "--config", "{p}", "--quiet"], ["epochz"]),
    Case("config-not-toml", write("c.toml", b"epochs = = 3\n"),
         ["score", "--config", "{p}", "--quiet"], ["c.toml"]),
    Case("config-wrong-type", write("c.toml", b'epochs = "many"\n'),
         ["score", "--config", "{p}", "--quiet"], ["epochs", "'many'"]),
    Case("unknown-device", None, ["score", *QUICK[:-3], "--device", "tpu", "--quiet"],
         ["device", "'tpu'"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    p = case.make(tmp_path) if case.make else None
    args = [a.replace("{p}", str(p)) for a in case.args]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for text in case.expect:
        assert text in errors[0], (text, errors[0])
    assert "Traceback" not in result.output


def test_the_table_in_the_docs_is_this_table() -> None:
    doc = (ROOT / "docs" / "reliability.md").read_text()
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", doc, flags=re.M)
    assert ids == [c.id for c in CASES]
    assert len(ids) >= 25


def test_hints_show_in_python_tracebacks() -> None:
    """A CuratorError raised from the Python API carries its hint in its text, so a
    traceback shows the way forward; the CLI prints the message and the hint apart."""
    from curator.errors import CuratorError, check_output_dir

    with pytest.raises(CuratorError) as info:
        check_output_dir("/no/such/dir/out.h5")
    text = str(info.value)
    assert text.startswith("output directory '/no/such/dir' does not exist")
    assert text.endswith("\nHint: create it first, or choose another output path")
    assert info.value.message == text.split("\n")[0]
    assert str(CuratorError("just the message")) == "just the message"
