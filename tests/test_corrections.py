"""Corrections: the file format, its refusals, and training on them (curator relabel,
curator train --corrections, curator.with_corrections)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset
from typer.testing import CliRunner

import curator
from curator import corrections
from curator.cli import app
from curator.errors import CuratorError, FormatError
from curator.flags import relabel_plan, unsure_first
from curator.store import open_scores

runner = CliRunner()
LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def _made() -> corrections.Corrections:
    return corrections.make("abc123", LABELS, 3, relabel={4: 2, 1: 0}, drop=[6],
                            keep=[0])


def test_round_trip(tmp_path: Path) -> None:
    made = _made()
    path = corrections.write(made, tmp_path / "c.csv")
    text = path.read_text().splitlines()
    assert text[:5] == ["# curator-corrections 1", "# fingerprint abc123", "# num_samples 8",
                        "# num_classes 3", "index,action,label,given"]
    assert text[5:] == ["0,keep,,0", "1,relabel,0,1", "4,relabel,2,1", "6,drop,,0"]
    back = corrections.read(path)
    for key in ("index", "action", "label", "given"):
        np.testing.assert_array_equal(getattr(back, key), getattr(made, key))
    assert (back.fingerprint, back.num_samples, back.num_classes) == ("abc123", 8, 3)
    np.testing.assert_array_equal(back.labels(LABELS), [0, 0, 2, 0, 2, 2, 0, 1])
    np.testing.assert_array_equal(np.flatnonzero(~back.kept()), [6])
    assert not list(tmp_path.glob("*.tmp"))  # written through a renamed temporary file


@pytest.mark.parametrize("row, message", [
    ("9,drop,,0", "line 6: index 9 is outside the 8 samples"),
    ("-1,drop,,0", "line 6: index -1 is outside"),
    ("2,relabel,3,2", "line 6: label 3 is outside the 3 classes"),
    ("2,relabel,,2", "line 6: a relabel row needs a label"),
    ("2,relabel,2,2", "line 6: relabels index 2 to its given label 2"),
    ("2,fix,1,2", "line 6: action 'fix' is not one of relabel, drop, keep"),
    ("2,drop,,x", "line 6: index, label and given must be integers"),
    ("2,drop,0", "line 6: 3 fields, expected 4"),
    ("0,drop,,0\n0,keep,,0", "line 7: index 0 again \\(first in .* line 6\\)"),
])
def test_bad_rows_are_refused_by_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text("# curator-corrections 1\n# fingerprint f\n# num_samples 8\n"
                    f"# num_classes 3\nindex,action,label,given\n{row}\n")
    with pytest.raises(FormatError, match=message):
        corrections.read(path)


def test_not_a_corrections_file(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("index\n1\n2\n")
    with pytest.raises(FormatError, match="not a curator corrections file"):
        corrections.read(path)
    with pytest.raises(CuratorError, match="no corrections file"):
        corrections.read(tmp_path / "missing.csv")


def test_other_data_and_other_labels_are_refused() -> None:
    made = _made()
    with pytest.raises(FormatError, match="made for other data"):
        made.check_data("zzz", 8, "'s.h5'")
    with pytest.raises(FormatError, match="made for other data"):
        made.check_data("abc123", 9, "'s.h5'")
    made.check_data("abc123", 8, "'s.h5'")
    other = LABELS.copy()
    other[4] = 0
    with pytest.raises(FormatError, match="row of index 4: given label 1, but 's.h5' "
                                          "labels it 0"):
        made.check_labels(other, "'s.h5'")


def test_combined_rows_and_an_index_in_both_refused() -> None:
    made = _made()
    more = corrections.make("abc123", LABELS, 3, relabel={2: 1}, drop=[7])
    both = corrections.combined(made, more)
    assert both.index.tolist() == [0, 1, 2, 4, 6, 7]
    assert both.action.tolist() == ["keep", "relabel", "relabel", "relabel", "drop", "drop"]
    assert both.label.tolist() == [-1, 0, 1, 2, -1, -1]
    with pytest.raises(FormatError, match="index 6 again"):
        corrections.combined(made, corrections.make("abc123", LABELS, 3, keep=[6]))
    with pytest.raises(FormatError, match="different data"):
        corrections.combined(made, corrections.make("zzz", LABELS, 3, keep=[3]))


def test_relabel_plan() -> None:
    flagged = np.array([True, True, True, False, True])
    suggested = np.array([2, -1, 1, 0, 3])
    confidence = np.array([0.9, 0.0, 0.4, 0.9, 0.5])
    relabel, drop = relabel_plan(flagged, suggested, confidence, at=0.5)
    np.testing.assert_array_equal(relabel, [True, False, False, False, True])
    np.testing.assert_array_equal(drop, [False, True, True, False, False])
    with pytest.raises(CuratorError, match="relabel level"):
        relabel_plan(flagged, suggested, confidence, at=1.5)


def test_unsure_first() -> None:
    """The flagged the plan would drop come first, most likely wrong first (ties: the surer
    suggestion), then the relabelled, least sure first; the unflagged never."""
    flagged = np.array([True, True, True, False, True, True, True])
    probability = np.array([0.9, 0.6, 0.9, 0.99, 0.7, 0.95, 0.9])
    suggested = np.array([2, -1, 1, 0, 3, 1, 0])
    confidence = np.array([0.9, 0.0, 0.4, 0.9, 0.5, 0.6, 0.45])
    order = unsure_first(flagged, probability, suggested, confidence, at=0.5)
    assert order.tolist() == [6, 2, 1, 4, 5, 0]
    relabel, drop = relabel_plan(flagged, suggested, confidence, at=0.5)
    assert set(order[:3]) == set(np.flatnonzero(drop))
    assert set(order[3:]) == set(np.flatnonzero(relabel))
    assert unsure_first(flagged, probability, suggested, confidence, at=0.0).tolist() == [
        1, 2, 6, 4, 5, 0]  # at 0 only the sample with no suggestion is dropped
    assert len(unsure_first(np.zeros(7, bool), probability, suggested, confidence)) == 0


def test_with_corrections_in_anyones_loop() -> None:
    x = torch.arange(8.0)[:, None]
    data = TensorDataset(x, torch.from_numpy(LABELS))
    fixed = curator.with_corrections(data, _made())
    assert len(fixed) == 7  # index 6 dropped
    np.testing.assert_array_equal(fixed.indices, [0, 1, 2, 3, 4, 5, 7])
    items = [fixed[i] for i in range(len(fixed))]
    assert [int(y) for _, y in items] == [0, 0, 2, 0, 2, 2, 1]
    assert [float(x[0]) for x, _ in items] == [0, 1, 2, 3, 4, 5, 7]
    xb, yb = next(iter(torch.utils.data.DataLoader(fixed, batch_size=7)))  # batches alike
    assert yb.tolist() == [0, 0, 2, 0, 2, 2, 1] and yb.dtype == torch.from_numpy(LABELS).dtype
    kept = curator.with_corrections(data, _made(), keep=[1, 4, 5, 6])
    np.testing.assert_array_equal(kept.indices, [1, 4, 5])  # a selection, less the dropped
    dicts = curator.with_corrections([{"x": i, "label": int(y)} for i, y in enumerate(LABELS)],
                                     _made())
    assert dicts[1] == {"x": 1, "label": 0}
    shifted = TensorDataset(x, torch.from_numpy(np.roll(LABELS, 1)))
    with pytest.raises(FormatError, match="labelled 0, but its correction was made against "
                                          "label 1"):
        curator.with_corrections(shifted, _made())[1]
    with pytest.raises(CuratorError, match="has 7 samples, but the corrections are for 8"):
        curator.with_corrections(TensorDataset(x[:7], x[:7]), _made())


@pytest.mark.slow
def test_relabel_and_train_on_the_corrections(tmp_path: Path) -> None:
    scores = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--label-noise", "0.2", "--epochs", "8", "--seeds", "1",
                            "--device", "cpu", "--quiet", "--out", str(scores)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "c.csv"
    r = runner.invoke(app, ["relabel", str(scores), "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "relabelled" in text and "get it back" in text
    # where a person's answers help most, and how they join the plan
    assert (f"curator review {scores} --out answers.csv (show: the flags to relabel)" in text
            and f"curator relabel {scores} --answers answers.csv" in text)
    made = corrections.read(out)
    with open_scores(scores) as f:
        original, labels, noisy = f.original_labels, f.labels, f.noisy
        flagged = f.score("mislabel_probability").values >= 0.5
        fingerprint = f.fingerprint
    assert made.fingerprint == fingerprint
    np.testing.assert_array_equal(np.sort(np.concatenate([made.relabelled, made.dropped])),
                                  np.flatnonzero(flagged))
    assert len(made.relabelled) > 0.5 * noisy.sum()
    back = (made.label[made.action == "relabel"] == original[made.relabelled]).mean()
    assert back > 0.9, back
    assert (made.labels(labels) != original).sum() < noisy.sum() / 2  # fewer wrong labels
    r = runner.invoke(app, ["relabel", str(scores), "--out", str(out)])
    assert r.exit_code != 0 and "exists" in r.output  # a review is never overwritten
    result_json = tmp_path / "r.json"
    r = runner.invoke(app, ["train", "--scores", str(scores), "--corrections", str(out),
                            "--epochs", "2", "--device", "cpu", "--quiet", "--out",
                            str(result_json)])
    assert r.exit_code == 0, r.output
    import json

    result = json.loads(result_json.read_text())
    assert result["num_train"] == len(labels) - len(made.dropped)
    # with a selection: its samples, less the dropped
    r = runner.invoke(app, ["prune", str(scores), "--keep", "0.7", "--strategy", "random",
                            "--name", "half"])
    assert r.exit_code == 0, r.output
    with open_scores(scores) as f:
        selection = f.selection("half")
    r = runner.invoke(app, ["train", "--scores", str(scores), "--subset", "half",
                            "--corrections", str(out), "--epochs", "1", "--device", "cpu",
                            "--quiet", "--out", str(result_json)])
    assert r.exit_code == 0, r.output
    assert json.loads(result_json.read_text())["num_train"] == len(
        np.setdiff1d(selection, made.dropped)) < len(selection)
    # corrections made for other data are refused before training
    other = corrections.make("0" * 16, labels, 10, drop=[0])
    corrections.write(other, tmp_path / "other.csv")
    r = runner.invoke(app, ["train", "--scores", str(scores), "--corrections",
                            str(tmp_path / "other.csv"), "--epochs", "1", "--device", "cpu"])
    assert r.exit_code != 0 and "made for other data" in " ".join(r.output.split())


@pytest.mark.slow
def test_relabel_on_clean_data_changes_nothing(tmp_path: Path) -> None:
    """The README's main job (every default) on clean digits: nothing to correct. (A short
    run of one seed may flag a few outliers the model is sure of: 2 in 6 epochs.)"""
    scores = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--device", "cpu", "--quiet", "--out", str(scores)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "c.csv"
    r = runner.invoke(app, ["relabel", str(scores), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(corrections.read(out)) == 0


def test_a_class_index_is_not_an_ordering(tmp_path: Path) -> None:
    """suggested_label is stored with params ordering: false; pruning and the samplers refuse
    to order samples by it."""
    from samplers import EasyToHardSampler

    scores = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--epochs", "2", "--seeds", "1", "--device", "cpu",
                            "--quiet", "--out", str(scores)])
    assert r.exit_code == 0, r.output
    with open_scores(scores) as f:
        assert f.score("suggested_label").params["ordering"] is False
        assert "ordering" not in f.score("learnability").params
    r = runner.invoke(app, ["prune", str(scores), "--keep", "0.5", "--by", "suggested_label"])
    assert r.exit_code != 0 and "does not order the samples" in " ".join(r.output.split())
    with pytest.raises(ValueError, match="does not order the samples"):
        EasyToHardSampler.from_h5(scores, score="suggested_label", epochs=2)
