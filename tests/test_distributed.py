"""Samplers under a real 2-process gloo torchrun: equal, disjoint shards of one global order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from samplers import SAMPLERS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_samplers_under_torchrun(tmp_path: Path) -> None:
    out = tmp_path / "shards.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(ROOT / "tests" / "dist_samplers.py"), str(out)],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["world"] == 2
    for name in SAMPLERS.names():
        a, b = result[name]
        assert a["replicas"] == b["replicas"] == 2, name
        assert a["global"] == b["global"], name  # every rank computes the same order
        # every epoch of 101 samples; the dynamic sampler's prunes 40% of them by its prior
        n = 101 - (40 if name == "dynamic" else 0)
        per = (n + 1) // 2
        assert len(a["global"]) == n, name
        assert len(a["indices"]) == len(b["indices"]) == a["len"] == per, name
        padded = (a["global"] * 2)[:2 * per]
        assert a["indices"] == padded[0::2] and b["indices"] == padded[1::2], name
    union = set(result["random"][0]["indices"]) | set(result["random"][1]["indices"])
    assert union == set(range(101))
    # the dynamic sampler's ranks merged their losses: one plan, the single process's
    a, b = result["dynamic-merged"]
    single = SAMPLERS.get("dynamic")(num_samples=101, epochs=4, prune=0.3, seed=3)
    single.set_epoch(0)
    single.update(torch.arange(101), torch.from_numpy(np.random.default_rng(0).random(101)).float())
    single.set_epoch(1)
    assert a == b == single.epoch_indices(1).tolist()
    assert len(a) == 101 - 30


def _torchrun(args: list[str], nproc: int, cwd: Path, timeout: int = 600,
              kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("CURATOR_KILL_AT", None)
    if kill_at:
        env["CURATOR_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         str(nproc), "-m", "curator", *args],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _layout(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every dataset of a scores file: its shape and dtype."""
    import h5py

    out: dict[str, tuple[tuple[int, ...], str]] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, (obj.shape, str(obj.dtype)))
                     if isinstance(obj, h5py.Dataset) else None)
    return out


SCORE_ARGS = ["score", "--epochs", "3", "--seeds", "2", "--holdout", "2", "--batch-size",
              "32", "--device", "cpu", "--quiet", "--force"]


@pytest.mark.slow
def test_score_under_torchrun_has_the_single_process_layout(tmp_path: Path) -> None:
    from curator.store import open_scores

    two = _torchrun([*SCORE_ARGS, "--out", "two.h5"], 2, tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("wrote two.h5") == 1  # rank 0 alone reports
    one = _torchrun([*SCORE_ARGS, "--out", "one.h5"], 1, tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    assert _layout(tmp_path / "two.h5") == _layout(tmp_path / "one.h5")
    with open_scores(tmp_path / "two.h5") as f2, open_scores(tmp_path / "one.h5") as f1:
        assert (f2.labels == f1.labels).all()
        assert f2.fingerprint == f1.fingerprint
        assert [r.name for r in f2.runs()] == [r.name for r in f1.runs()]
        for run in f2.runs():
            assert run.complete and run.epochs_done == 3
            p = f2.read_stat(run.name, "p_true")
            if run.kind == "reference":  # every sample presented by one of the ranks
                assert not np.isnan(p).any(), run.name
            else:  # held-out fold recorded, the rest NaN, as in one process
                q = f1.read_stat(run.name, "p_true")
                assert (np.isnan(p) == np.isnan(q)).all(), run.name
            hist = f2.history(run.name)
            assert np.isfinite(hist["train_loss"]).all()
            assert (hist["test_acc"] > 0.5).all()  # the whole test split, evaluated
        s2, s1 = f2.score("learnability").values, f1.score("learnability").values
        assert np.corrcoef(s2, s1)[0, 1] > 0.8  # different batches, the same easy samples


@pytest.mark.slow
def test_resume_keeps_the_config_and_train_under_torchrun(tmp_path: Path) -> None:
    from curator.store import open_scores

    first = _torchrun(["score", "--epochs", "2", "--seeds", "1", "--device", "cpu", "-q",
                       "--out", "s.h5"], 2, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    # continue the finished file with more seeds: the first run is kept, a second is added
    more = _torchrun(["score", "--epochs", "2", "--seeds", "2", "--device", "cpu", "-q",
                      "--out", "s.h5", "--resume"], 2, tmp_path)
    assert more.returncode != 0 and "seeds" in more.stderr  # a resume keeps the config
    with open_scores(tmp_path / "s.h5") as f:
        assert [r.name for r in f.runs()] == ["seed-0"]
    trained = _torchrun(["train", "--scores", "s.h5", "--sampler", "easy-to-hard",
                         "--epochs", "2", "--device", "cpu", "-q", "--out", "r.json"],
                        2, tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    result = json.loads((tmp_path / "r.json").read_text())
    assert len(result["history"]) == 2 and result["final_test_acc"] > 0.5


@pytest.mark.slow
def test_killed_ddp_run_resumes_to_the_uninterrupted_scores(tmp_path: Path) -> None:
    """Rank 0 killed after its second checkpoint (torchrun then stops the other rank);
    `--resume` under torchrun finishes the file with the uninterrupted 2-process scores."""
    from curator.store import open_scores

    args = ["score", "--epochs", "3", "--seeds", "2", "--device", "cpu", "-q"]
    whole = _torchrun([*args, "--out", "whole.h5"], 2, tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = _torchrun([*args, "--out", "s.h5"], 2, tmp_path, kill_at="checkpoint:2")
    assert killed.returncode != 0
    with open_scores(tmp_path / "s.h5") as f:
        assert [r.epochs_done for r in f.runs()] == [2]
    resumed = _torchrun([*args, "--out", "s.h5", "--resume"], 2, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open_scores(tmp_path / "s.h5") as f, open_scores(tmp_path / "whole.h5") as g:
        assert f.score_names() == g.score_names()
        for name in g.score_names():
            np.testing.assert_allclose(f.score(name).values, g.score(name).values,
                                       rtol=1e-5, atol=1e-6, err_msg=name)
