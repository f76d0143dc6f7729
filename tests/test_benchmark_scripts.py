"""Every benchmark script starts as its docstring says, ``python benchmarks/NAME.py``, from
any directory: its imports resolve and its arguments parse (``--help``). A benchmark is run
by hand, rarely; this keeps one from rotting unseen between runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_there_are_scripts_to_check() -> None:
    assert len(SCRIPTS) > 10


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_benchmark_starts_from_another_directory(script: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def _cell(noise: str, flipped: int, **selections: list[float]) -> dict:
    return {"data": "digits", "noise": noise, "epochs": 15, "n": 1000, "flipped": flipped,
            "curator": {"flagged": 210 if flipped else 3, "f1": 0.80, "oracle_f1": 0.95},
            "cleanlab": {"f1": 0.82} if flipped else None,
            "selections": {k.replace("_", "-"): {"acc": v} for k, v in selections.items()}}


def test_the_bars_table_marks_each_bar_met_or_not() -> None:
    from benchmarks.mislabel_flags import bars_table, cell_bars

    clean = cell_bars(_cell("none", 0))
    assert clean == {"clean": ("0.30%", True)}
    noisy = cell_bars(_cell("sym0.4", 400, default=[0.90, 0.91, 0.90], easy=[0.93, 0.94, 0.93],
                            random=[0.80, 0.81, 0.80], relabel=[0.90, 0.90, 0.91],
                            same_count=[0.90, 0.91, 0.90]))
    assert noisy["vs cleanlab"] == ("0.800/0.820", False)
    assert noisy["vs bound"] == ("0.84", False)  # 0.80 / 0.95 < 0.9
    assert noisy["vs random"][1] is True
    assert noisy["vs best fixed"] == ("-3.00 easy", False)
    assert noisy["relabel vs drop"][1] is False  # level at 40%: not above
    at20 = cell_bars(_cell("sym0.2", 200, relabel=[0.90, 0.90, 0.91],
                           same_count=[0.90, 0.91, 0.90]))
    assert at20["relabel vs drop"][1] is True  # level at 20%: not below
    assert "vs random" not in at20  # not trained in this run
    text = bars_table([_cell("none", 0), _cell("sym0.2", 200)])
    assert text.splitlines()[-1] == "cells meeting every bar measured: 1 of 2"


def test_draws_of_the_same_noise_are_summarised_together() -> None:
    from benchmarks.mislabel_flags import draws_table, noise_of

    assert noise_of("pairs0.2+test@3") == (0.2, "pairs", True, 3)
    assert noise_of("none") == (0.0, "symmetric", False, 0)
    with pytest.raises(SystemExit, match="whole number"):
        noise_of("sym0.2@x")
    cells = [{**_cell(noise, flipped), "model": "mlp"}
             for noise, flipped in [("sym0.2", 200), ("sym0.2@1", 200), ("sym0.4", 400)]]
    cells[1]["curator"] = {"flagged": 200, "f1": 0.90, "oracle_f1": 0.95}
    text = draws_table(cells).splitlines()
    assert len(text) == 3  # the head, its rule, and sym0.2's two draws (sym0.4 drawn once)
    assert "sym0.2" in text[2] and "0.850 ± 0.050" in text[2]  # F1 0.80 and 0.90
    assert text[2].split("|")[-1].split() == ["1/2", "1/2"]  # 0.90 >= 0.82; 0.90 >= 0.855
    assert draws_table(cells[:1]) == ""


def test_two_components_keep_the_typical_flips_of_a_contested_class() -> None:
    from benchmarks.flags_on_files import _two_components

    rng = np.random.default_rng(0)
    # flips from a class the model knows get its typical probability; clean look-alikes ~1/2
    typical = 1 / (1 + np.exp(-rng.normal(1.6, 0.3, 300)))
    ambiguous = 1 / (1 + np.exp(-rng.normal(0.0, 0.3, 500)))
    keep = _two_components(np.concatenate([typical, ambiguous]))
    assert keep[:300].mean() > 0.95 and keep[300:].mean() < 0.05
    # one component (flips as ambiguous as the clean samples): every flagged sample stays
    assert _two_components(ambiguous).all()
    assert _two_components(typical[:5]).all()  # too few to fit


@pytest.mark.slow
def test_the_relabel_counts_are_what_curator_relabel_does(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from benchmarks.flags_on_files import relabelled
    from curator import corrections
    from curator.cli import app
    from curator.store import open_scores

    runner = CliRunner()
    scores = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--label-noise", "0.2", "--epochs", "8", "--seeds", "1",
                            "--device", "cpu", "--quiet", "--out", str(scores)])
    assert r.exit_code == 0, r.output
    line = relabelled(scores)  # reads the file only: before `curator relabel` stores its fit
    r = runner.invoke(app, ["relabel", str(scores), "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    made = corrections.read(tmp_path / "c.csv")
    with open_scores(scores) as f:
        original = f.original_labels
    right = int((made.label[made.action == "relabel"] == original[made.relabelled]).sum())
    assert line is not None and f"0.5: {right}/{len(made.relabelled)} (" in line, line


@pytest.mark.slow
def test_a_simulated_review_is_what_curator_relabel_answers_does(tmp_path: Path) -> None:
    """The benchmark's ``reviewed`` selection: a person answering the first quarter of the
    queue "unsure", then `curator relabel --answers` on the file, as a user would run it."""
    from typer.testing import CliRunner

    from benchmarks.mislabel_flags import reviewed
    from curator import corrections
    from curator.cli import app
    from curator.flagging import flag

    runner = CliRunner()
    scores = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--label-noise", "0.3", "--epochs", "8", "--seeds", "1",
                            "--device", "cpu", "--quiet", "--out", str(scores)])
    assert r.exit_code == 0, r.output
    report = flag(scores)
    flagged = report.fit.flagged
    answers, made = reviewed(report.labels, report.original, len(report.classes),
                             report.fit.probability, flagged, report.suggested,
                             report.confidence, share=0.25, queue="unsure", at=0.5,
                             fingerprint=report.fingerprint)
    assert len(answers) == round(0.25 * flagged.sum()) > 0 and flagged[answers.index].all()
    assert (answers.label[answers.action == "relabel"]
            == report.original[answers.relabelled]).all()
    corrections.write(answers, tmp_path / "a.csv")
    r = runner.invoke(app, ["relabel", str(scores), "--answers", str(tmp_path / "a.csv"),
                            "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    got = corrections.read(tmp_path / "c.csv")

    def rows(c: corrections.Corrections) -> set[tuple[int, str, int]]:
        return set(zip(c.index.tolist(), c.action.tolist(), c.label.tolist(), strict=True))

    assert rows(got) == rows(made)
    flags_queue = reviewed(report.labels, report.original, len(report.classes),
                           report.fit.probability, flagged, report.suggested,
                           report.confidence, share=0.25, queue="flags", at=0.5)[0]
    assert set(flags_queue.index) != set(answers.index)  # the queues ask for other samples


def test_a_simulated_person_errs_the_worse_way() -> None:
    """``reviewed(errors=...)``: a right answer tells the original label; a wrong one keeps
    a wrong label or moves a right one (to the suggestion where there is one)."""
    from benchmarks.mislabel_flags import reviewed

    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    original = np.array([1, 1, 2, 2, 1, 0, 0, 1])  # 0, 3 and 5 wrong
    flagged = np.array([True, True, True, True, False, True, True, False])
    p = np.array([0.9, 0.8, 0.7, 0.95, 0.1, 0.6, 0.55, 0.2])
    suggested = np.array([1, 0, -1, 2, -1, 0, 1, -1])
    confidence = np.array([0.9, 0.6, 0.0, 0.8, 0.0, 0.3, 0.4, 0.0])

    def told(errors: float) -> dict[int, tuple[str, int]]:
        answers, made = reviewed(labels, original, 3, p, flagged, suggested, confidence,
                                 share=1.0, queue="unsure", at=0.5, errors=errors)
        assert len(answers) == flagged.sum() == len(made)  # every flagged answered
        return {int(i): (str(a), int(y)) for i, a, y in
                zip(answers.index, answers.action, answers.label, strict=True)}

    assert told(0.0) == {0: ("relabel", 1), 1: ("keep", -1), 2: ("keep", -1),
                         3: ("relabel", 2), 5: ("relabel", 0), 6: ("keep", -1)}
    wrong = told(1.0)
    assert {i: wrong[i] for i in (0, 3, 5)} == {i: ("keep", -1) for i in (0, 3, 5)}
    assert wrong[1] == ("relabel", 0) and wrong[6] == ("relabel", 1)  # their suggestions
    assert wrong[2][0] == "relabel" and wrong[2][1] != 2  # no suggestion: another class
    half = told(0.5)
    assert 0 < sum(half[i] != told(0.0)[i] for i in half) < len(half)


def test_a_second_opinion_relabels_only_where_it_agrees_with_the_suggestion() -> None:
    from benchmarks.second_opinion import cell_of, plans

    labels = np.array([0, 0, 1, 1, 2, 2])
    flagged = np.array([True, True, True, False, True, False])
    suggested = np.array([1, 2, 0, -1, -1, -1])
    confidence = np.array([0.6, 0.35, 0.7, 0, 0, 0])
    # the second model's probabilities of the flagged 0, 1, 2 and 4, in index order
    second = np.array([[0.05, 0.95, 0], [0, 0.02, 0.98], [0.5, 0.5, 0], [0.9, 0.1, 0]])
    out = plans(flagged, suggested, confidence, labels, second, 0.9)
    np.testing.assert_array_equal(out["drop"][0], [3, 5])
    np.testing.assert_array_equal(out["relabel"][0], [0, 2, 3, 5])  # confident: 0 and 2
    np.testing.assert_array_equal(out["agree"][0], [0, 1, 3, 5])  # agreed at >= 0.9: 0 and 1
    np.testing.assert_array_equal(out["agree"][1], [1, 2, 1, 1, 2, 2])
    np.testing.assert_array_equal(out["either"][0], [0, 1, 2, 3, 5])  # 4: no suggestion
    cell = cell_of(Path("fashion-mnist20000-pairs0.2+test@1-mlp-15.h5"), "fashion-mnist:20000",
                   "spec", 256)
    assert (cell["noise"], cell["model"], cell["epochs"]) == ("pairs0.2+test@1", "mlp", 15)


def test_rejected_out_of_sample_reads_only_the_runs_that_held_a_sample_out(tmp_path: Path
                                                                           ) -> None:
    """Each sample's margin in the holdout runs that did not train on it, over the first
    epochs: checked against the file's own arrays, fold by fold."""
    import h5py
    from typer.testing import CliRunner

    from benchmarks.flags_on_files import rejected_out_of_sample
    from curator.cli import app
    from curator.store import open_scores

    path = tmp_path / "held.h5"
    r = CliRunner().invoke(app, ["score", "--epochs", "3", "--seeds", "1", "--holdout", "2",
                                 "--label-noise", "0.2", "--quiet", "--out", str(path)])
    assert r.exit_code == 0, r.output
    with open_scores(path) as f:
        rejected = rejected_out_of_sample(f, 2)
    total, count = 0.0, 0
    with h5py.File(path, "r") as h:
        for name in [k for k in h["runs"] if k.startswith("holdout-")]:
            run = h["runs"][name]
            out = run["folds"][()] == run.attrs["fold"]
            margin = run["margin"][:2].astype(np.float64)
            total = total + np.where(out, margin.sum(axis=0), 0.0)
            count = count + 2 * out
        train = [k for k in h["runs"] if k.startswith("seed-")][0]
    assert rejected is not None and (count > 0).all()
    np.testing.assert_array_equal(rejected, total / count < 0)
    assert 0 < rejected.mean() < 1
    with h5py.File(path, "a") as h:  # the same file without its holdout runs
        for name in [k for k in h["runs"] if k.startswith("holdout-")]:
            del h["runs"][name]
    with open_scores(path) as f:
        assert train in [run.name for run in f.runs()]
        assert rejected_out_of_sample(f, 2) is None
