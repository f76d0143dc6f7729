"""The Lightning callback: a tiny LightningModule on digits, resumed from a checkpoint, and
under Lightning's DDP strategy (2 CPU processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from curator import store

pytest.importorskip("lightning")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "lightning_loop.py"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLE), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})


@pytest.mark.slow
def test_the_lightning_example_records_and_resumes_from_a_checkpoint(tmp_path: Path) -> None:
    first = run("--epochs", "2", "--out", "s.h5", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "runs seed-0" in first.stdout
    with store.open_scores(tmp_path / "s.h5") as f:
        assert (f.run("seed-0").epochs_done, f.run("seed-0").complete) == (2, True)
        two = f.read_stat("seed-0", "p_true")
        history = f.history("seed-0")
        assert np.isfinite(history["test_acc"]).all()  # the logged val_acc
        assert np.isfinite(history["test_loss"]).all()  # and val_loss
    again = run("--epochs", "3", "--out", "s.h5", "--resume", "checkpoints/last.ckpt",
                cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    with store.open_scores(tmp_path / "s.h5") as f:
        info = f.run("seed-0")
        assert (info.epochs_done, info.epochs, info.complete) == (3, 3, True)
        np.testing.assert_array_equal(f.read_stat("seed-0", "p_true")[:2], two)
        assert f.score("learnability").values.shape == (1400,)


@pytest.mark.slow
def test_the_callback_under_lightnings_ddp(tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(ROOT / 'examples')!r})
import lightning, torch
from torch.utils.data import DataLoader, TensorDataset
from sklearn.datasets import load_digits
import curator
from curator.lightning import CuratorCallback
from lightning_loop import Digits

if __name__ == "__main__":
    x, y = load_digits(return_X_y=True)
    train = curator.with_indices(TensorDataset(torch.tensor(x[:1400] / 16, dtype=torch.float32),
                                               torch.tensor(y[:1400])))
    trainer = lightning.Trainer(max_epochs=2, accelerator="cpu", devices=2,
                                strategy="ddp_spawn", logger=False, enable_progress_bar=False,
                                enable_model_summary=False, enable_checkpointing=False,
                                callbacks=[CuratorCallback("ddp.h5", labels=y[:1400],
                                                           num_classes=10)])
    trainer.fit(Digits(), DataLoader(train, batch_size=64, shuffle=True))
""")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    with store.open_scores(tmp_path / "ddp.h5") as f:
        info = f.run("seed-0")
        assert (info.epochs_done, info.complete) == (2, True)
        # every sample was presented by one of the two ranks in each epoch
        assert np.isfinite(f.read_stat("seed-0", "p_true")).all()


def test_training_step_must_return_logits_and_index(tmp_path: Path) -> None:
    import torch

    from curator.errors import CuratorError
    from curator.lightning import CuratorCallback

    cb = CuratorCallback(tmp_path / "s.h5", labels=np.arange(10) % 2, num_classes=2)

    class FakeTrainer:
        max_epochs, current_epoch = 1, 0

    cb.on_train_start(FakeTrainer(), None)
    with pytest.raises(CuratorError, match="training_step to return a dict with 'logits' "
                                           "and 'index'"):
        cb.on_train_batch_end(FakeTrainer(), None, torch.tensor(1.0), None, 0)
    with pytest.raises(CuratorError, match="needs labels="):
        CuratorCallback(tmp_path / "t.h5")
