"""Crashes for real: `curator score` subprocesses killed (SIGKILL, Ctrl-C) at many points.

Every killed run must leave a file that opens, whose committed epochs equal an uninterrupted
run's rows bit for bit (CPU, same seed), and which `--resume` completes to the same scores.
Kill points inside the code come from ``CURATOR_KILL_AT`` (curator/faults.py); others are
timed from outside.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from curator.store import open_scores, writer_lock

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["score", "--epochs", "4", "--seeds", "2", "--device", "cpu", "-q", "--out", "s.h5"]
pytestmark = pytest.mark.slow


def _env(kill_at: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("CURATOR_KILL_AT", None)
    if kill_at:
        env["CURATOR_KILL_AT"] = kill_at
    return env


def _curator(args: list[str], cwd: Path, kill_at: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "curator", *args], cwd=cwd,
                          env=_env(kill_at), capture_output=True, text=True, timeout=300)


def _rows(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every committed row of every statistic and history series, per run."""
    out = {}
    with open_scores(path) as f:
        for run in f.runs():
            out[run.name] = {s: f.read_stat(run.name, s) for s in run.stats}
            out[run.name].update({f"history/{k}": v for k, v in f.history(run.name).items()
                                  if k != "seconds"})
    return out


def _scores(path: Path) -> dict[str, np.ndarray]:
    with open_scores(path) as f:
        return {name: f.score(name).values for name in f.score_names()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted run: its rows and its scores."""
    cwd = tmp_path_factory.mktemp("reference")
    proc = _curator(ARGS, cwd)
    assert proc.returncode == 0, proc.stderr
    return {"rows": _rows(cwd / "s.h5"), "scores": _scores(cwd / "s.h5")}


def _check_prefix(path: Path, reference: dict) -> int:
    """The killed file opens, and each committed row equals the uninterrupted run's."""
    rows = _rows(path)
    committed = 0
    for run, series in rows.items():
        for key, values in series.items():
            expected = reference["rows"][run][key][: len(values)]
            np.testing.assert_array_equal(values, expected, err_msg=f"{run} {key}")
        committed += len(series["p_true"])
    return committed


def _resume_and_compare(cwd: Path, reference: dict) -> None:
    proc = _curator([*ARGS, "--resume"], cwd)
    assert proc.returncode == 0, proc.stderr
    got = _scores(cwd / "s.h5")
    assert got.keys() == reference["scores"].keys()
    for name, values in reference["scores"].items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)
    assert _rows(cwd / "s.h5").keys() == reference["rows"].keys()


# (point, count): in the first run's epochs, in the second run's, mid-epoch and mid-append
KILL_POINTS = ["batch:3", "batch:40", "write:1", "write:3", "commit:2", "commit:6",
               "written:4", "checkpoint:1", "checkpoint:5", "derived:1"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_run_keeps_its_epochs_and_resumes(tmp_path: Path, reference: dict,
                                                 kill_at: str) -> None:
    proc = _curator(ARGS, tmp_path, kill_at=kill_at)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    committed = _check_prefix(tmp_path / "s.h5", reference)
    assert committed < 8 or kill_at.startswith("derived")
    _resume_and_compare(tmp_path, reference)


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8])
def test_run_killed_from_outside_at_a_timed_moment(tmp_path: Path, reference: dict,
                                                   delay: float) -> None:
    """SIGKILL from outside, ``delay`` s after the file appeared: wherever it lands."""
    proc = subprocess.Popen([sys.executable, "-m", "curator", *ARGS], cwd=tmp_path,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (tmp_path / "s.h5").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    _check_prefix(tmp_path / "s.h5", reference)
    _resume_and_compare(tmp_path, reference)


def test_ctrl_c_keeps_the_finished_epochs(tmp_path: Path, reference: dict) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "curator", *ARGS], cwd=tmp_path,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if (tmp_path / "s.h5").exists():
            with open_scores(tmp_path / "s.h5") as f:
                if sum(r.epochs_done for r in f.runs()) >= 2:
                    break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt landed")
    assert proc.returncode == 130, err
    assert "Error: interrupted" in err and "Traceback" not in err
    assert _check_prefix(tmp_path / "s.h5", reference) >= 2
    _resume_and_compare(tmp_path, reference)


def test_killed_derived_writes_keep_the_file_as_it_was(tmp_path: Path, reference: dict
                                                        ) -> None:
    assert _curator(ARGS, tmp_path).returncode == 0
    path = tmp_path / "s.h5"
    before = _scores(path)
    for args in (["scores", "recompute", "s.h5", "--el2n-epoch", "2"],
                 ["prune", "s.h5", "--keep", "0.5"]):
        proc = _curator(args, tmp_path, kill_at="derived:1")
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        with open_scores(path) as f:
            assert f.selection_names() == []
            assert f.score_names() == sorted(before)
        after = _scores(path)
        for name, values in before.items():
            np.testing.assert_array_equal(after[name], values, err_msg=name)
    # and the same commands then succeed
    assert _curator(["prune", "s.h5", "--keep", "0.5"], tmp_path).returncode == 0
    with open_scores(path) as f:
        assert f.selection_names() == ["drop-flagged-learnability-0.5"]


def test_a_second_writer_is_refused(tmp_path: Path, reference: dict) -> None:
    assert _curator(ARGS, tmp_path).returncode == 0
    path = tmp_path / "s.h5"
    with writer_lock(path):
        for args in (["prune", "s.h5", "--keep", "0.5"], [*ARGS, "--force"],
                     ["scores", "recompute", "s.h5"]):
            proc = _curator(args, tmp_path)
            assert proc.returncode == 1, proc.stderr
            assert "is being written by another process (pid" in proc.stderr
            assert "Traceback" not in proc.stderr
    assert not (tmp_path / "s.h5.lock").exists()
    assert _curator(["prune", "s.h5", "--keep", "0.5"], tmp_path).returncode == 0


def test_reading_while_a_run_writes(tmp_path: Path) -> None:
    """A reader polling the file during a run always sees whole, committed epochs."""
    args = [*ARGS[:2], "8", *ARGS[3:]]
    proc = subprocess.Popen([sys.executable, "-m", "curator", *args], cwd=tmp_path,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen, reads = 0, 0
    while proc.poll() is None:
        if (tmp_path / "s.h5").exists():
            with open_scores(tmp_path / "s.h5") as f:
                done = sum(r.epochs_done for r in f.runs())
                for run in f.runs():
                    p = f.read_stat(run.name, "p_true")
                    assert p.shape[0] == run.epochs_done
                    assert not np.isnan(p).any()  # each committed epoch is whole
            assert done >= seen
            seen, reads = done, reads + 1
        time.sleep(0.01)
    assert proc.returncode == 0, proc.stderr.read()
    assert reads > 3 and seen == 16


def test_divergence_names_the_epoch_and_keeps_the_finished_ones(tmp_path: Path) -> None:
    proc = _curator(["score", "--epochs", "6", "--seeds", "1", "--warmup-epochs", "4",
                     "--lr", "300", "--device", "cpu", "-q", "--out", "d.h5"], tmp_path)
    assert proc.returncode == 1
    assert "Error: training diverged: the loss is nan in epoch" in proc.stderr
    assert "Traceback" not in proc.stderr
    epoch = int(proc.stderr.split("in epoch ")[1].split()[0])
    with open_scores(tmp_path / "d.h5") as f:
        assert f.runs()[0].epochs_done == epoch - 1 >= 1
    with h5py.File(tmp_path / "d.h5", "r") as f:  # the plain library reads it too
        assert f["runs/seed-0/p_true"].shape[0] == epoch - 1
