"""`curator bench`: the grid, the statistics on known inputs, the JSON schema, end to end."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curator.bench import (
    Regime,
    Row,
    Strategy,
    epochs_to_reach,
    make_regimes,
    make_strategies,
    summarise,
    to_markdown,
)
from curator.cli import app
from curator.errors import ConfigError
from curator.retrain import TrainResult

FROZEN = Path(__file__).parent / "data" / "scores-v0.1.0.h5"  # digits, label noise 0.1
runner = CliRunner()


def fake(accs: list[float], epochs: int = 3) -> TrainResult:
    history = [{"epoch": e + 1, "test_acc": a} for e, a in enumerate(accs)]
    return TrainResult(config={"epochs": epochs}, plan={}, num_train=100, history=history,
                       final_test_acc=accs[-1], best_test_acc=max(accs), wall_s=1.0)


def test_statistics_on_known_inputs() -> None:
    regime = Regime("standard", 3, 0.0)
    base = Row(Strategy("random"), regime, [fake([0.5, 0.7, 0.80]), fake([0.5, 0.7, 0.82]),
                                            fake([0.5, 0.7, 0.84])])
    other = Row(Strategy("easy-to-hard"), regime, [fake([0.6, 0.83, 0.90]),
                                                   fake([0.6, 0.80, 0.86]),
                                                   fake([0.6, 0.7, 0.88])])
    summarise([base, other])
    s = other.summary
    assert s["test_acc_mean"] == pytest.approx(0.88)
    assert s["test_acc_std"] == pytest.approx(0.02)
    assert s["delta_vs_random"] == pytest.approx(0.06)
    # Welch by hand: both variances 0.0004, n = 3: t = 0.06 / sqrt(2 * 0.0004 / 3), df = 4
    t = 0.06 / math.sqrt(2 * 0.0004 / 3)
    from scipy import stats

    assert s["p_value"] == pytest.approx(2 * stats.t.sf(t, 4))
    # random's final mean is 0.82: reached at epochs 2, 3, 3 -> 2.67
    assert s["epochs_to_random_final"] == pytest.approx(8 / 3)
    assert s["seeds_reaching_random_final"] == 3
    assert math.isnan(base.summary["p_value"]) and base.summary["delta_vs_random"] == 0
    md = to_markdown([base, other])
    assert "| standard | easy-to-hard | 3 | 0.8800 ± 0.0200 |" in md


def test_epochs_to_reach() -> None:
    assert epochs_to_reach(fake([0.1, 0.5, 0.4]), 0.45) == 2
    assert epochs_to_reach(fake([0.1, 0.2]), 0.45) is None


def test_regimes() -> None:
    r = make_regimes(["standard", "budget", "noisy", "budget+noisy"], epochs=40, budget=0.25,
                     noise=0.3)
    assert [(x.epochs, x.label_noise) for x in r] == [(40, 0), (10, 0), (40, 0.3), (10, 0.3)]
    with pytest.raises(ConfigError, match="unknown regime 'fast'"):
        make_regimes(["fast"], epochs=4)


def test_grid_starts_with_random() -> None:
    grid = make_strategies(orderings=["easy-to-hard"], schemes=["hard-first"],
                           prune=["easy"], keeps=[0.5, 0.7])
    assert [s.label for s in grid] == [
        "random", "easy-to-hard", "importance hard-first",
        "prune easy keep 0.5 (same epochs)", "prune easy keep 0.5 (same steps)",
        "prune easy keep 0.7 (same epochs)", "prune easy keep 0.7 (same steps)"]
    with pytest.raises(ConfigError, match="unknown ordering 'importance'"):
        make_strategies(orderings=["importance"])
    with pytest.raises(ConfigError, match="unknown importance scheme 'middle'"):
        make_strategies(schemes=["middle"])
    with pytest.raises(ConfigError, match=r"--keep must be fractions in \(0, 1\]"):
        make_strategies(prune=["easy"], keeps=[1.5])


@pytest.mark.slow
def test_bench_end_to_end(tmp_path: Path) -> None:
    out, md, work = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "work"
    args = ["bench", "--epochs", "2", "--seeds", "2", "--ref-seeds", "1", "--device", "cpu",
            "--regimes", "standard,budget", "--budget", "0.5", "--orderings", "easy-to-hard",
            "--schemes", "", "--prune", "easy", "--keep", "0.5", "--work", str(work),
            "--out", str(out), "--markdown", str(md)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "reference run: mlp on digits" in r.stderr
    result = json.loads(out.read_text())
    assert result["baseline"] == "random" and "env" in result
    rows = result["results"]
    # 2 regimes x (random, easy-to-hard, prune x 2 budgets, dynamic, random as many samples,
    # relabel, drop-flagged keeping as many)
    assert len(rows) == 2 * 8
    for row in rows:
        assert {"strategy", "keep", "regime", "seeds", "test_acc_mean", "test_acc_std",
                "delta_vs_random", "p_value", "wall_s"} <= set(row)
        assert row["seeds"] == 2
    budget = [row for row in rows if row["regime"] == "budget"]
    assert {row["epochs"] for row in budget if row["keep"] is None} == {1}
    steps = next(row for row in rows if row["strategy"].endswith("(same steps)")
                 and row["regime"] == "standard")
    assert steps["epochs"] == 4 and steps["num_train"] == 718  # 2 epochs x 1437 / 718
    assert md.read_text().startswith("| regime | strategy |")
    by = {(row["regime"], row["strategy"]): row for row in rows}
    # 2 epochs: the first skips 40% (by the reference scores), the last trains on all
    assert by["standard", "dynamic skip 0.4"]["samples_vs_random"] == pytest.approx(
        (1437 - 575 + 1437) / (2 * 1437))
    assert by["standard", "random (samples of dynamic skip 0.4)"]["epochs"] == 2  # 1.6 -> 2
    assert by["budget", "dynamic skip 0.4"]["samples_vs_random"] == 1  # 1 epoch: all full
    assert by["standard", "random"]["samples_vs_random"] == 1
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "reusing the reference run" in again.stderr


@pytest.mark.slow
def test_bench_uses_matching_scores(tmp_path: Path) -> None:
    scores = tmp_path / "s.h5"
    shutil.copy(FROZEN, scores)
    r = runner.invoke(app, ["bench", "--epochs", "1", "--seeds", "2", "--device", "cpu",
                            "--label-noise", "0.1", "--regimes", "standard", "--orderings",
                            "", "--schemes", "easy-first", "--prune", "", "--scores",
                            str(scores), "--work", str(tmp_path / "w")])
    assert r.exit_code == 0, r.output
    assert "reference run" not in r.stderr and not (tmp_path / "w").exists()
    assert "relabel" in r.stderr and "records no rival class" in " ".join(r.stderr.split())


@pytest.mark.slow
def test_bench_relabels_beside_the_default_pruning_of_as_many(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["bench", "--epochs", "8", "--seeds", "2", "--ref-seeds", "1",
                            "--device", "cpu", "--regimes", "noisy", "--noise", "0.3",
                            "--orderings", "", "--schemes", "", "--prune", "", "--dynamic",
                            "", "--work", str(tmp_path / "w"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = {row["strategy"]: row for row in json.loads(out.read_text())["results"]}
    relabel = rows["relabel (flagged: confident suggestions relabelled, the rest dropped)"]
    twin = rows["prune drop-flagged keep as many as relabel (at most the unflagged)"]
    assert relabel["relabel"] == "relabel" and twin["relabel"] == "count"
    # relabel keeps the flagged it relabels; the default pruning keeps no flagged sample
    assert twin["num_train"] < relabel["num_train"] < rows["random"]["num_train"] == 1437
    assert "relabel" in r.stderr


def test_bench_needs_two_seeds(tmp_path: Path) -> None:
    r = runner.invoke(app, ["bench", "--seeds", "1", "--work", str(tmp_path)])
    assert r.exit_code == 1 and "--seeds must be at least 2" in r.stderr

