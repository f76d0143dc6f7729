"""`curator score` and `curator inspect` end to end, and every bad input answered clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from curator.cli import app
from curator.store import open_scores

runner = CliRunner()
FAST = ["--epochs", "2", "--seeds", "2", "--quiet", "--device", "cpu"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_ranks_are_eq2(path: Path) -> None:
    """Every stored ``<score>_rank`` is seed 001's Eq. 2 of the stored ``<score>``, ties
    included: R_i = sum_j 1[L_i <= L_j]."""
    with open_scores(path) as f:
        names = f.score_names()
        ranked = [n for n in names if n.endswith("_rank")]
        assert ranked, names
        for name in ranked:
            values = f.score(name.removesuffix("_rank")).values.astype(np.float64)
            eq2 = (values[:, None] <= values[None, :]).sum(axis=1)
            np.testing.assert_array_equal(f.score(name).values, eq2, err_msg=name)


@pytest.mark.slow
def test_score_then_inspect(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    r = invoke("score", *FAST, "--out", out)
    assert r.exit_code == 0, r.output
    assert "wrote" in r.stdout and "learnability" in r.stdout
    assert_ranks_are_eq2(out)
    with open_scores(out) as f:
        assert [x.name for x in f.runs()] == ["seed-0", "seed-1"]
        assert {"learnability", "learnability_rank", "hit_rate"} <= set(f.score_names())
        rank = f.score("learnability_rank").values
        assert rank.min() == 1 and rank.max() == 1437
    r = invoke("inspect", out)
    assert r.exit_code == 0, r.output
    for text in ("seed-0", "2/2", "learnability_rank", "histogram (N = 1437)", "digits"):
        assert text in r.stdout


@pytest.mark.slow
def test_score_with_config_file_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "cnn"\nepochs = 5\nseeds = 1\nprobe = "eval"\n')
    out = tmp_path / "s.h5"
    r = invoke("score", "--config", cfg, "--epochs", "1", "--quiet", "--out", out)
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        (run,) = f.runs()
        assert (run.model, run.probe, run.epochs) == ("cnn", "eval", 1)


def test_probe_none_writes_no_scores(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    r = invoke("score", "--epochs", "1", "--seeds", "1", "--probe", "none", "--quiet",
               "--out", out)
    assert r.exit_code == 0, r.output
    assert "none (--probe none)" in r.stdout
    r = invoke("inspect", out)
    assert r.exit_code == 0 and "no scores yet" in r.stdout


def _npz(tmp_path: Path, name: str = "d.npz", **arrays) -> str:
    np.savez(tmp_path / name, **arrays)
    return f"npz:{tmp_path / name}"


GOOD_X = np.random.default_rng(0).normal(size=(200, 4))
GOOD_Y = np.arange(200) % 4

ERROR_CASES = {
    "unknown data set": (lambda t: ["--data", "cifar11"], "unknown data set 'cifar11'",
                         "did you mean 'cifar10'"),
    "unknown model": (lambda t: ["--model", "resnet2"], "unknown model 'resnet2'",
                      "did you mean 'resnet20'"),
    "missing npz": (lambda t: ["--data", f"npz:{t / 'none.npz'}"], "does not exist", "npz:PATH"),
    "not an npz": (lambda t: (t / "bad.npz").write_bytes(b"junk") and ["--data",
                   f"npz:{t / 'bad.npz'}"], "cannot read", "numpy.savez"),
    "npz without y": (lambda t: ["--data", _npz(t, x=GOOD_X)], "has no array 'y'", "'x'"),
    "object array": (lambda t: (np.save(t / "o.npy", np.array([1, "a"], dtype=object),
                                        allow_pickle=True), ["--data",
                                _npz(t, x=np.array([[1], ["a"]], dtype=object), y=GOOD_Y)])[1],
                     "object arrays", "numeric"),
    "negative label": (lambda t: ["--data", _npz(t, x=GOOD_X, y=GOOD_Y - 1)],
                       "labels must be 0..C-1, but found -1 in 'y'", None),
    "label too large": (lambda t: ["--data", _npz(t, x=GOOD_X, y=GOOD_Y, num_classes=3)],
                        "labels must be 0..2, but found 3", None),
    "lengths differ": (lambda t: ["--data", _npz(t, x=GOOD_X, y=GOOD_Y[:-1])],
                       "differ in length: 200 vs 199", None),
    "nan input": (lambda t: ["--data", _npz(t, x=np.where(GOOD_X > 2, np.nan, GOOD_X),
                                            y=GOOD_Y)], "inputs must be finite", None),
    "empty arrays": (lambda t: ["--data", _npz(t, x=np.zeros((0, 3)), y=np.zeros(0, int))],
                     "is empty", None),
    "zero epochs": (lambda t: ["--epochs", "0"], "epochs must be >= 1, but got 0", "--epochs"),
    "unknown probe": (lambda t: ["--probe", "both"], "unknown probe 'both'", "train, eval"),
    "huge batch": (lambda t: ["--batch-size", "5000"], "batch_size 5000 is larger than the "
                   "training set (1437 samples)", "--batch-size"),
    "bad label noise": (lambda t: ["--label-noise", "1.5"], "label_noise must be in [0, 1)",
                        None),
    "image model on vectors": (lambda t: ["--data", _npz(t, x=GOOD_X, y=GOOD_Y), "--model",
                                          "resnet20"], "needs image inputs", "mlp"),
    "missing torchvision data": (lambda t: ["--data", "mnist", "--root", str(t)],
                                 "was not found", "--download"),
    "missing config": (lambda t: ["--config", str(t / "none.toml")], "does not exist", None),
    "unknown device": (lambda t: ["--device", "tpu"], "unknown device 'tpu'", None),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_input_gets_error_and_hint(tmp_path: Path, case: str) -> None:
    make_args, message, hint = ERROR_CASES[case]
    out = tmp_path / "out.h5"
    r = invoke("score", *make_args(tmp_path), "--epochs", "1", "--seeds", "1", "--quiet",
               "--out", out) if case != "zero epochs" else invoke(
        "score", *make_args(tmp_path), "--quiet", "--out", out)
    assert r.exit_code == 1, r.output
    err = " ".join(r.stderr.split())
    assert err.startswith("Error: ") and message in err, r.stderr
    if hint:
        assert "Hint:" in err and hint in err.split("Hint:", 1)[1]
    assert "Traceback" not in r.output
    assert not out.exists(), "no half-written file is left behind"
    assert not (tmp_path / "out.h5.ckpt").exists()


def test_existing_output_needs_resume_or_force(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    out.write_bytes(b"keep me")
    r = invoke("score", "--quiet", "--out", out)
    assert r.exit_code == 1
    assert "Error: output file" in r.stderr and "already exists" in r.stderr
    assert "--resume" in r.stderr and "--force" in r.stderr
    assert out.read_bytes() == b"keep me"


def test_resume_without_file_and_with_conflicting_flags(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    r = invoke("score", "--resume", "--quiet", "--out", out)
    assert r.exit_code == 1 and "cannot resume" in r.stderr
    assert invoke("score", "--epochs", "1", "--seeds", "1", "--quiet", "--out", out
                  ).exit_code == 0
    r = invoke("score", "--resume", "--epochs", "3", "--quiet", "--out", out)
    assert r.exit_code == 1 and "epochs = 3 differs from the file's 1" in r.stderr


def test_force_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    out.write_bytes(b"old")
    r = invoke("score", "--epochs", "1", "--seeds", "1", "--quiet", "--force", "--out", out)
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        assert len(f.runs()) == 1


def test_inspect_errors(tmp_path: Path) -> None:
    r = invoke("inspect", tmp_path / "none.h5")
    assert r.exit_code == 1 and "does not exist" in r.stderr
    (tmp_path / "t.txt").write_text("text")
    r = invoke("inspect", tmp_path / "t.txt")
    assert r.exit_code == 1 and "is not an HDF5 file" in r.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    r = runner.invoke(app, ["--debug", "score", "--model", "nope", "--out",
                            str(tmp_path / "s.h5")])
    assert r.exit_code != 0 and r.exception is not None


@pytest.mark.slow
def test_scores_recompute_rebuilds_from_trajectories(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    assert invoke("score", *FAST, "--out", out).exit_code == 0
    with open_scores(out) as f:
        before = f.score("learnability").values
        assert f.score("el2n").params == {"el2n_epoch": 1}
    r = invoke("scores", "recompute", out, "--el2n-epoch", "2", "--only", "el2n,learnability")
    assert r.exit_code == 0, r.output
    assert "recomputed 2 scores" in r.stdout
    with open_scores(out) as f:
        assert f.score("el2n").params == {"el2n_epoch": 2}
        np.testing.assert_array_equal(f.score("learnability").values, before)
    assert_ranks_are_eq2(out)
    r = invoke("scores", "recompute", out, "--el2n-epoch", "3")
    assert r.exit_code == 1 and "el2n_epoch must be in 1..2" in r.stderr
    r = invoke("scores", "list")
    assert r.exit_code == 0 and "forgetting" in r.stdout and "Toneva" in r.stdout


@pytest.mark.slow
def test_holdout_runs_record_each_sample_once_per_seed(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    r = invoke("score", "--epochs", "2", "--seeds", "1", "--holdout", "3", "--quiet",
               "--out", out)
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        runs = f.runs()
        assert [x.kind for x in runs] == ["reference"] + ["holdout"] * 3
        recorded = np.zeros(f.num_samples, dtype=int)
        for run in runs[1:]:
            p = f.read_stat(run.name, "p_true")
            held = ~np.isnan(p[0])
            recorded += held
            folds = f._f["runs"][run.name]["folds"][()]
            fold = int(f._f["runs"][run.name].attrs["fold"])
            np.testing.assert_array_equal(held, folds == fold)
        np.testing.assert_array_equal(recorded, 1)
        held = f.score("heldout_learnability")
        assert held.runs == tuple(x.name for x in runs[1:])
        assert f.score("learnability").runs == ("seed-0",)
        assert np.isfinite(f.score("heldout_loss").values).all()
    assert_ranks_are_eq2(out)
    r = invoke("score", "--holdout", "1", "--quiet", "--out", tmp_path / "x.h5")
    assert r.exit_code == 1 and "holdout must be 0 (off) or at least 2" in r.stderr


def test_score_budget_trains_one_short_seed(tmp_path: Path) -> None:
    out = tmp_path / "cheap.h5"
    r = runner.invoke(app, ["score", "--budget", "0.2", "--epochs", "5", "--seeds", "3",
                            "--device", "cpu", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "budget 0.2: 1 seed x 3 epochs instead of 3 x 5" in r.stderr
    with open_scores(out) as f:
        runs = f.runs()
        assert [(x.seed, x.epochs_done, x.complete) for x in runs] == [(0, 3, True)]
        assert f.config["seeds"] == 1 and f.config["epochs"] == 3
        assert "learnability" in f.score_names()
    r = runner.invoke(app, ["score", "--budget", "1.5", "--out", str(tmp_path / "x.h5")])
    assert r.exit_code == 1 and "--budget must be in (0, 1], but got 1.5" in r.output


def test_help_paragraphs_flow_as_one_line() -> None:
    """A command's help after its first paragraph is wrapped by the terminal only, not also
    at the docstring's line breaks (which left a word alone on every other line)."""
    r = runner.invoke(app, ["relabel", "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert r.exit_code == 0, r.output
    assert ("Train on them with curator train --scores FILE --corrections corrections.csv, or "
            "in your own loop") in r.output
    r = runner.invoke(app, ["score", "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    lines = [line.strip() for line in r.output.splitlines()]
    at = lines.index("Examples:")  # an indented list keeps its lines
    assert lines[at + 1: at + 3] == ["curator score",
                                     "curator score --model cnn --label-noise 0.2 --out noisy.h5"]
