"""An interrupted reference run, resumed, ends with the same scores as an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curator import loop
from curator.config import TrainConfig
from curator.reference import checkpoint_dir, score
from curator.store import open_scores

CFG = TrainConfig(model="cnn", epochs=4, seeds=2, device="cpu", batch_size=128)


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    """Raise KeyboardInterrupt in the middle of the (calls+1)-th epoch, after one batch."""
    real = loop.Trainer.train_epoch
    count = {"n": 0}

    def epoch(self, e, *, on_batch=None):
        count["n"] += 1
        if count["n"] > calls:
            def stop(n):
                raise KeyboardInterrupt
            return real(self, e, on_batch=stop)
        return real(self, e, on_batch=on_batch)

    monkeypatch.setattr(loop.Trainer, "train_epoch", epoch)


@pytest.mark.slow
@pytest.mark.parametrize("stop_after", [1, 5])  # inside run seed-0; inside run seed-1
def test_resume_gives_identical_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       stop_after: int) -> None:
    whole = score(CFG, out=tmp_path / "whole.h5")
    out = tmp_path / "cut.h5"
    with monkeypatch.context() as m:
        _interrupt_after(m, stop_after)
        with pytest.raises(KeyboardInterrupt):
            score(CFG, out=out)
    with open_scores(out) as f:
        done = sum(r.epochs_done for r in f.runs())
        assert done == stop_after, "every finished epoch is kept, the torn one is not"
        assert not f.score_names()
    resumed = score(CFG, out=out, resume=True)
    assert set(resumed.scores) == set(whole.scores)
    for name, s in whole.scores.items():
        np.testing.assert_array_equal(resumed.scores[name].values, s.values, err_msg=name)
    with open_scores(out) as a, open_scores(tmp_path / "whole.h5") as b:
        for run in ("seed-0", "seed-1"):
            for stat in ("p_true", "loss", "margin"):
                np.testing.assert_array_equal(a.read_stat(run, stat), b.read_stat(run, stat))


def test_interrupt_before_any_epoch_leaves_nothing(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "s.h5"
    _interrupt_after(monkeypatch, 0)
    with pytest.raises(KeyboardInterrupt):
        score(CFG.replace(model="mlp"), out=out)
    assert not out.exists() and not checkpoint_dir(out).exists()


def test_resume_without_checkpoint_restarts_the_run(tmp_path: Path) -> None:
    cfg = CFG.replace(model="mlp", seeds=1, epochs=2)
    out = tmp_path / "s.h5"
    whole = score(cfg, out=out)
    from curator import store

    store.truncate_run(out, "seed-0", 1)
    for p in checkpoint_dir(out).iterdir():
        p.unlink()
    again = score(cfg, out=out, resume=True)
    np.testing.assert_array_equal(again.scores["learnability"].values,
                                  whole.scores["learnability"].values)
