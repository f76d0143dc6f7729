"""`curator report`: every figure is produced for a small file and decodes as an image."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from typer.testing import CliRunner

from curator.cli import app

runner = CliRunner()
FAST = ["--epochs", "3", "--seeds", "2", "--device", "cpu", "--quiet", "--label-noise", "0.2"]
ALL = {"learnability_histogram", "learnability_per_class", "learnability_rank_histogram",
       "compare_b", "easiest_images", "hardest_images", "cartography", "forgetting_histogram",
       "prediction_depth_histogram", "roc_flipped", "bench_accuracy", "bench_curves"}


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report")
    r = invoke("score", *FAST, "--prediction-depth", "--out", d / "a.h5")
    assert r.exit_code == 0, r.output
    r = invoke("score", *FAST, "--model", "cnn", "--out", d / "b.h5")
    assert r.exit_code == 0, r.output
    r = invoke("bench", "--epochs", "2", "--seeds", "2", "--scores", d / "a.h5",
               "--label-noise", "0.2", "--device", "cpu", "--orderings", "easy-to-hard",
               "--schemes", "", "--prune", "", "--regimes", "standard", "--quiet",
               "--work", d / "work", "--out", d / "bench.json")
    assert r.exit_code == 0, r.output
    return d


@pytest.mark.slow
def test_every_figure_is_drawn_and_decodes(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    r = invoke("report", inputs / "a.h5", "--compare", inputs / "b.h5", "--bench",
               inputs / "bench.json", "--out", out)
    assert r.exit_code == 0, r.output
    assert f"wrote {len(ALL)} figures" in r.stdout
    pngs = {p.stem for p in out.glob("*.png")}
    assert pngs == ALL
    for png in out.glob("*.png"):
        img = mpimg.imread(png)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, png.name
        assert img.std() > 0.01, png.name  # not blank
    page = (out / "index.html").read_text()
    embedded = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(embedded) == len(ALL)  # self-contained: every figure inside the page
    for data in embedded:
        assert base64.b64decode(data).startswith(b"\x89PNG")
    assert "Not drawn" not in page and "Pearson r" not in page  # captions, not titles


def test_missing_inputs_are_said_not_drawn(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    r = invoke("report", inputs / "b.h5", "--out", out)
    assert r.exit_code == 0, r.output
    assert "not drawn: learnability between two models" in r.stdout
    assert "not drawn: prediction depth" in r.stdout
    assert (out / "roc_flipped.png").exists() and not (out / "bench_accuracy.png").exists()
    assert "Not drawn" in (out / "index.html").read_text()


def test_report_errors(inputs: Path, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    for args, text in (
            (["report", tmp_path / "none.h5"], "does not exist"),
            (["report", inputs / "a.h5", "--bench", tmp_path / "x.json", "--out",
              tmp_path / "r"], "is not a `curator bench --out` file"),
            (["report", inputs / "a.h5", "--score", "nope", "--out", tmp_path / "r"],
             "has no score 'nope'")):
        r = invoke(*args)
        assert r.exit_code == 1 and text in r.stderr, r.output
