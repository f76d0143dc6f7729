"""Prediction depth: k-NN probes by hand, a tiny model whose depths are known, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from curator.cli import app
from curator.data import TensorSplit
from curator.depth import depth_from_predictions, knn_predict, prediction_depth
from curator.errors import CuratorError
from curator.models import MODELS, build_model, probe_layers
from curator.store import open_scores

CPU = torch.device("cpu")


def test_knn_leaves_each_point_out() -> None:
    emb = torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    # k = 1: nearest other point; point 2's nearest is point 1 (label 0)
    assert knn_predict(emb, labels, 2, k=1).tolist() == [0, 0, 0, 1, 1]
    # k = 2: point 0 sees 1 (0) and 2 (1): a tie goes to class 0
    assert knn_predict(emb, labels, 2, k=2, chunk=2).tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(CuratorError, match="k must be in 1..4"):
        knn_predict(emb, labels, 2, k=5)


def test_knn_blocks_match_one_block() -> None:
    torch.manual_seed(0)
    emb = torch.randn(97, 5).half()
    labels = torch.randint(0, 4, (97,))
    whole = knn_predict(emb, labels, 4, k=7, chunk=1000, support_chunk=1000)
    blocked = knn_predict(emb, labels, 4, k=7, chunk=8, support_chunk=13)
    assert torch.equal(whole, blocked)
    # brute force: leave-self-out, k smallest float32 distances, majority with low-class ties
    d = torch.cdist(emb.float(), emb.float()).fill_diagonal_(float("inf"))
    nbr = d.topk(7, dim=1, largest=False).indices
    votes = torch.zeros(97, 4).scatter_add_(1, labels[nbr], torch.ones(97, 7))
    assert torch.equal(whole, votes.argmax(dim=1))


def test_depth_from_predictions_by_hand() -> None:
    probe = np.array([[1, 0, 0, 1],   # input
                      [1, 1, 0, 1],   # block
                      [1, 1, 1, 0]])  # softmax
    network = np.array([1, 1, 1, 1])
    # sample 0: all agree -> 0; 1: from probe 1; 2: only the softmax -> 2; 3: softmax wrong -> 3
    np.testing.assert_array_equal(depth_from_predictions(probe, network), [0, 1, 2, 3])
    # agreeing early but not later does not count: input agrees, block does not
    assert depth_from_predictions(np.array([[1], [0], [1]]), np.array([1]))[0] == 2


class _Known(nn.Module):
    """Probe 1 keeps only the y coordinate; the logits depend only on x (x > 5: class 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.keep_y = nn.Linear(2, 1, bias=False)
        self.keep_y.weight.data = torch.tensor([[0.0, 1.0]])
        self.head = nn.Linear(2, 2)
        self.head.weight.data = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
        self.head.bias.data = torch.tensor([5.0, -5.0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.keep_y(x)  # a probe point; the logits do not use it
        return self.head(x)


def test_tiny_model_with_known_depths() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(scale=0.1, size=(10, 2))  # class 0 around (0, 0)
    b = rng.normal(scale=0.1, size=(10, 2)) + 10  # class 1 around (10, 10)
    odd = np.array([[9.0, 0.0]])  # x says class 1; the input and y-only probes say class 0
    x = torch.tensor(np.concatenate([a, b, odd]), dtype=torch.float32)
    y = torch.tensor([0] * 10 + [1] * 10 + [1])
    split = TensorSplit(x, y, mean=torch.zeros(1, 2), std=torch.ones(1, 2))
    model = _Known()
    r = prediction_depth(model, [model.keep_y], split, 2, k=3, device=CPU, batch_size=8)
    assert r.network_prediction.tolist() == [0] * 10 + [1] * 11
    assert r.probe_names == ["input", "probe-1", "softmax"]
    # cluster points agree at every probe: depth 0; the odd point agrees only at the softmax
    np.testing.assert_array_equal(r.depth, [0] * 20 + [2])
    np.testing.assert_array_equal(r.probe_predictions[:, 20], [0, 0, 1])


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_model_has_probes(name: str) -> None:
    torch.manual_seed(0)
    shape = (3, 8, 8)
    model = build_model(name, shape, 3)
    probes = probe_layers(name, model)
    assert probes and all(isinstance(m, nn.Module) for m in probes)
    split = TensorSplit(torch.randn(24, *shape), torch.arange(24) % 3)
    r = prediction_depth(model, probes, split, 3, k=3, device=CPU, batch_size=10)
    assert r.probe_predictions.shape == (len(probes) + 2, 24)
    assert ((r.depth >= 0) & (r.depth <= len(probes) + 2)).all()


@pytest.mark.slow
def test_prediction_depth_cli(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    runner = CliRunner()
    r = runner.invoke(app, ["score", "--epochs", "3", "--seeds", "1", "--quiet",
                            "--prediction-depth", "--knn-k", "5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        depth = f.score("prediction_depth")
        assert depth.params["k"] == 5
        assert depth.params["probes"] == ["input", "2", "4", "softmax"]  # mlp: both ReLUs
        per_run = f._f["runs/seed-0/prediction_depth"][()]
        np.testing.assert_array_equal(per_run, depth.values)
    r = runner.invoke(app, ["scores", "depth", str(out), "--k", "7", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        assert f.score("prediction_depth").params["k"] == 7
    (tmp_path / "s.h5.ckpt" / "seed-0.pt").unlink()
    r = runner.invoke(app, ["scores", "depth", str(out)])
    assert r.exit_code == 1 and "final model of run 'seed-0' is missing" in r.stderr
