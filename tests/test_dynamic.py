"""The dynamic-pruning sampler: a controlled share, unbiased weights, resume, and the loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from curator.cli import app
from samplers import DynamicPruningSampler

runner = CliRunner()


def losses(n: int = 200, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).gamma(1.0, size=n)).float()


def fed(sampler: DynamicPruningSampler, values: torch.Tensor) -> DynamicPruningSampler:
    """Tell ``sampler`` every sample's loss during epoch 0, then start epoch 1."""
    sampler.set_epoch(0)
    sampler.update(torch.arange(len(values)), values)
    sampler.set_epoch(1)
    return sampler


def test_a_pruning_epoch_skips_exactly_the_share_asked_among_the_well_learned() -> None:
    loss = losses()
    s = fed(DynamicPruningSampler(num_samples=200, epochs=10, prune=0.3, seed=1), loss)
    order = s.epoch_indices(1)
    assert len(order) == len(set(order.tolist())) == 200 - 60 == len(s)
    skipped = np.setdiff1d(np.arange(200), order.numpy())
    assert (loss[skipped] < loss.mean()).all()  # only below-mean samples are skipped
    assert s.report["skipped"] == 60 and s.report["share"] == 0.3
    w = s.batch_weights(torch.arange(200))
    pool = loss < loss.mean()
    rate = 60 / int(pool.sum())
    assert s.report["rate"] == pytest.approx(rate)
    assert torch.allclose(w[~pool], torch.ones(int((~pool).sum())))
    kept_pool = pool & (w > 0)
    assert torch.allclose(w[kept_pool], torch.full((int(kept_pool.sum()),), 1 / (1 - rate)))


def test_the_pool_widens_so_no_sample_is_skipped_with_more_than_max_rate() -> None:
    loss = torch.cat([torch.zeros(10), torch.ones(190)])  # few below the mean
    s = fed(DynamicPruningSampler(num_samples=200, epochs=10, prune=0.5, max_rate=0.6), loss)
    s.epoch_indices(1)
    assert s.report["pool"] == math.ceil(100 / 0.6) and s.report["rate"] <= 0.6
    assert s.report["skipped"] == 100


def test_weighted_epoch_loss_is_unbiased() -> None:
    loss = losses(300, seed=3).double()
    totals = []
    for seed in range(400):
        s = fed(DynamicPruningSampler(num_samples=300, epochs=10, prune=0.4, seed=seed),
                loss.float())
        kept = s.epoch_indices(1)
        totals.append(float((s.batch_weights(kept).double() * loss[kept]).sum()))
    mean, sem = np.mean(totals), np.std(totals) / np.sqrt(len(totals))
    assert abs(mean - float(loss.sum())) < 4 * sem + 1e-9


def test_epoch_lengths_are_known_in_advance() -> None:
    s = DynamicPruningSampler(num_samples=100, epochs=8, prune=0.3, anneal=0.25)
    # no prior: the first epoch is full; the last 2 (25%) are full
    assert s.epoch_lengths() == [100, 70, 70, 70, 70, 70, 100, 100]
    prior = np.linspace(0, 1, 100)
    s = DynamicPruningSampler(prior, epochs=8, prune=0.3, anneal=0.25, num_replicas=3, rank=2)
    assert s.epoch_lengths() == [24, 24, 24, 24, 24, 24, 34, 34]
    for epoch, length in enumerate(s.epoch_lengths()):
        s.set_epoch(epoch)
        assert len(list(s)) == len(s) == length


def test_the_prior_chooses_the_first_epochs_pool() -> None:
    prior = np.arange(100, dtype=float)  # higher = easier
    s = DynamicPruningSampler(prior, epochs=4, prune=0.2)
    s.set_epoch(0)
    skipped = np.setdiff1d(np.arange(100), s.epoch_indices(0).numpy())
    assert len(skipped) == 20 and skipped.min() >= 50  # only the easier half


def test_resume_mid_epoch_yields_the_rest_of_the_same_epoch() -> None:
    loss = losses(120)
    a = DynamicPruningSampler(num_samples=120, epochs=6, prune=0.3, seed=5)
    fed(a, loss)
    it = iter(a)
    first = [next(it) for _ in range(30)]
    a.update(torch.tensor(first), torch.zeros(30))
    state = a.state_dict()
    rest = list(it)
    b = DynamicPruningSampler(num_samples=120, epochs=6, prune=0.3, seed=5)
    b.load_state_dict(state)
    assert list(b) == rest
    for s in (a, b):
        s.update(torch.tensor(rest), torch.ones(len(rest)))
        s.set_epoch(2)
    assert a.epoch_indices(2).tolist() == b.epoch_indices(2).tolist()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="prune must be in"):
        DynamicPruningSampler(num_samples=10, epochs=2, prune=0.8, max_rate=0.7)
    with pytest.raises(ValueError, match="needs scores or num_samples"):
        DynamicPruningSampler(epochs=2)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        DynamicPruningSampler(num_samples=10, epochs=0)


def test_curator_train_dynamic_on_a_subset_spends_less_and_ends_the_schedule(tmp_path) -> None:
    import json

    scores = tmp_path / "s.h5"
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["score", "--epochs", "2", "--seeds", "1", "--quiet", "--device",
                            "cpu", "--out", str(scores)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["prune", str(scores), "--keep", "0.8", "--strategy", "random",
                            "--name", "half"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", "--sampler", "dynamic", "--scores", str(scores),
                            "--subset", "half", "--epochs", "4", "--skip", "0.5", "--quiet",
                            "--device", "cpu", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "plain shuffling's" in r.output
    result = json.loads(out.read_text())
    n = result["num_train"]
    assert result["samples_full"] == 4 * n
    # prior from the scores: epochs 1-3 skip half, the last (12.5% of 4, rounded up) is full
    assert [h["samples"] for h in result["history"]] == [n - round(n / 2)] * 3 + [n]
    assert result["history"][-1]["lr"] == pytest.approx(0, abs=1e-9)  # cosine reaches 0
