"""`curator train`: the second run with each sampler, on a selection, its JSON, its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from curator.cli import app
from curator.config import TrainConfig
from curator.retrain import TrainPlan, train
from curator.store import open_scores
from samplers import SAMPLERS

FROZEN = Path(__file__).parent / "data" / "scores-v0.1.0.h5"  # digits, label noise 0.1
runner = CliRunner()
FAST = ["--epochs", "2", "--quiet", "--device", "cpu"]


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    path = tmp_path / "s.h5"
    shutil.copy(FROZEN, path)
    return path


@pytest.mark.parametrize("sampler", SAMPLERS.names())
def test_each_sampler_trains(scores: Path, tmp_path: Path, sampler: str) -> None:
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["train", *FAST, "--sampler", sampler, "--scores", str(scores),
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    result = json.loads(out.read_text())
    assert set(result) == {"config", "plan", "num_train", "history", "final_test_acc",
                           "best_test_acc", "wall_s", "env", "samples_seen", "samples_full"}
    assert result["plan"]["sampler"] == sampler
    assert result["config"]["label_noise"] == 0.1  # the file's data, not given again
    assert result["num_train"] == 1437 and len(result["history"]) == 2
    assert set(result["history"][0]) == {"epoch", "train_loss", "train_acc", "test_loss",
                                         "test_acc", "lr", "seconds", "samples"}
    assert result["samples_full"] == 2 * 1437
    # the dynamic sampler skips 40% of the first epoch (its prior: the file's scores)
    assert result["samples_seen"] == (1437 + 1437 - round(0.4 * 1437) if sampler == "dynamic"
                                      else 2 * 1437)
    assert 0.15 < result["final_test_acc"] <= 1  # above chance (10 classes)
    assert result["best_test_acc"] >= result["final_test_acc"]


def test_random_sampler_is_the_reference_shuffle(scores: Path) -> None:
    cfg = TrainConfig(epochs=2, label_noise=0.1, device="cpu")
    a = train(cfg, TrainPlan(sampler="random"))
    b = train(cfg, TrainPlan(sampler="random", scores=str(scores)))
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]


def test_subset_trains_on_the_selection_only(scores: Path, monkeypatch) -> None:
    assert runner.invoke(app, ["prune", str(scores), "--keep", "300", "--name", "small",
                               "--strategy", "easy"]).exit_code == 0
    from curator import loop as train_mod

    seen: set[int] = set()
    real = train_mod.Trainer.epoch_order

    def spy(self, epoch):
        order = real(self, epoch)
        seen.update(order.tolist())
        return order

    monkeypatch.setattr(train_mod.Trainer, "epoch_order", spy)
    for sampler in ("random", "easy-to-hard", "importance"):
        seen.clear()
        result = train(TrainConfig(epochs=1, label_noise=0.1, device="cpu"),
                       TrainPlan(sampler=sampler, scores=str(scores), subset="small"))
        assert result.num_train == 300
        with open_scores(scores) as f:
            kept = set(f.selection("small").tolist())
        assert seen <= kept and len(seen) >= 30, sampler  # a curriculum starts at 10%


def test_a_selection_trains_another_model(scores: Path, tmp_path: Path) -> None:
    """Scores from one model (the frozen file's MLP) prune for another: the data settings
    come from the file, the model from the command (docs/flags.md: score with a model that
    learns the data, train any model on its selection)."""
    with open_scores(scores) as f:
        scored_with = f.config["model"]
    assert runner.invoke(app, ["prune", str(scores), "--keep", "300", "--name", "small"]
                         ).exit_code == 0
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["train", "--epochs", "1", "--quiet", "--device", "cpu",
                            "--scores", str(scores), "--subset", "small", "--model", "cnn",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    result = json.loads(out.read_text())
    assert scored_with == "mlp" and result["config"]["model"] == "cnn"
    assert result["num_train"] == 300 and result["config"]["label_noise"] == 0.1


def test_importance_weights_enter_the_loss(scores: Path, monkeypatch) -> None:
    from curator import loop as train_mod

    captured = {}
    real_init = train_mod.Trainer.__init__

    def spy(self, *args, **kwargs):
        captured["weights"] = kwargs.get("loss_weights")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(train_mod.Trainer, "__init__", spy)
    cfg = TrainConfig(epochs=1, label_noise=0.1, device="cpu")
    train(cfg, TrainPlan(sampler="importance", scores=str(scores)))
    w = captured["weights"]
    assert w is not None and w.shape == (1437,) and torch.isfinite(w).all() and (w > 0).all()
    train(cfg, TrainPlan(sampler="importance", scores=str(scores), unbiased=False))
    assert captured["weights"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["--sampler", "easy-to-hard"], "--sampler easy-to-hard needs --scores FILE"),
    (["--sampler", "easiest"], "unknown sampler 'easiest'"),
    (["--subset", "small"], "--subset needs --scores FILE"),
    (["--scores", "{scores}", "--subset", "nope"], "has no selection 'nope'"),
    (["--scores", "{scores}", "--sampler", "easy-to-hard", "--start", "0"],
     "pacing start must be in (0, 1], but got 0.0"),
    (["--scores", "{scores}", "--sampler", "easy-to-hard", "--score", "aum"],
     "has no score 'aum'"),
    (["--scores", "{scores}", "--label-noise", "0.3"], "was scored on other data"),
    (["--scores", "{scores}", "--sampler", "importance", "--scheme", "middle"],
     "unknown weighting scheme 'middle'"),
    (["--batch-size", "5000"], "batch_size 5000 is larger than the training set (1437 samples)"),
])
def test_train_errors(scores: Path, args, message) -> None:
    args = [a.replace("{scores}", str(scores)) for a in args]
    r = runner.invoke(app, ["train", *FAST, *args])
    assert r.exit_code == 1, r.output
    assert message in " ".join(r.stderr.split()) and "Traceback" not in r.output


def test_data_paths_are_stored_absolute_and_a_moved_file_is_named(tmp_path: Path,
                                                                  monkeypatch) -> None:
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez("d.npz", x=rng.normal(size=(60, 4)).astype(np.float32), y=np.arange(60) % 3)
    r = runner.invoke(app, ["score", "--data", "npz:d.npz", "--epochs", "1", "--seeds", "1",
                            "--batch-size", "8", "--quiet", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    from curator.store import open_scores

    with open_scores("scores.h5") as f:
        assert f.config["data"] == f"npz:{tmp_path / 'd.npz'}"
    Path("d.npz").rename("moved.npz")
    r = runner.invoke(app, ["train", "--scores", "scores.h5", "--epochs", "1", "--quiet",
                            "--batch-size", "8", "--device", "cpu"])
    assert r.exit_code == 1
    assert f"--data 'npz:{tmp_path / 'd.npz'}', stored in 'scores.h5': the path no longer " \
           "exists" in " ".join(r.output.split())
    r = runner.invoke(app, ["train", "--scores", "scores.h5", "--data", "npz:moved.npz",
                            "--epochs", "1", "--quiet", "--batch-size", "8", "--device", "cpu"])
    assert r.exit_code == 0, r.output
