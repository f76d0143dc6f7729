"""The one training loop: determinism, probes, augmentation, schedule and divergence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curator.config import TrainConfig
from curator.data import load_data
from curator.errors import ConfigError, TrainingError
from curator.loop import Trainer, _Schedule, augment_batch, resolve_device
from curator.models import build_model
from samplers import make_generator

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def _trainer(digits, checks: int = 0, **cfg) -> Trainer:
    config = TrainConfig(**cfg)
    torch.manual_seed(config.seed)
    model = build_model(config.model, digits.sample_shape, digits.num_classes)
    return Trainer(model, digits.train, config, seed=config.seed, device=CPU, test=digits.test,
                   first_epoch_checks=checks)


def test_same_seed_same_result_on_cpu(digits) -> None:
    a, b = _trainer(digits, epochs=2), _trainer(digits, epochs=2)
    ra = [a.train_epoch(e) for e in range(2)]
    rb = [b.train_epoch(e) for e in range(2)]
    assert [r.train_loss for r in ra] == [r.train_loss for r in rb]
    np.testing.assert_array_equal(ra[-1].stats["p_true"], rb[-1].stats["p_true"])


def test_first_epoch_checks_count_every_sample_and_do_not_change_training(digits) -> None:
    plain, checked = _trainer(digits, epochs=2), _trainer(digits, checks=5, epochs=2)
    first = checked.train_epoch(0)
    assert plain.train_epoch(0).train_loss == first.train_loss  # evaluation does not train
    rows = first.checks
    assert rows is not None and rows.shape == (5, 5)
    samples, hits, before, after, tested = rows.T
    assert (tested == len(digits.test)).all()
    assert samples.sum() == digits.num_samples  # each sample once, before it was trained on
    assert hits.sum() == pytest.approx(first.train_acc * digits.num_samples)
    np.testing.assert_array_equal(before[1:], after[:-1])  # the stretches follow each other
    assert after[-1] == pytest.approx(first.test_acc)  # the last check is the epoch's end
    second = checked.train_epoch(1)
    assert second.checks is None  # the first epoch only
    assert plain.train_epoch(1).train_loss == second.train_loss
    for a, b in zip(plain.module.parameters(), checked.module.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_probes_record_every_sample_and_do_not_change_training(digits) -> None:
    results, trainers = {}, {}
    for probe in ("none", "train", "eval"):
        trainers[probe] = t = _trainer(digits, epochs=1, probe=probe)
        results[probe] = t.train_epoch(0)
    assert results["none"].stats is None
    for probe in ("train", "eval"):  # the same weights, whatever is recorded
        for a, b in zip(trainers["none"].module.parameters(),
                        trainers[probe].module.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        # the epoch's loss and accuracy: per step without the train probe, from the
        # recorder's chunks with it (other kernels: the loss agrees to float rounding)
        assert results[probe].train_loss == pytest.approx(results["none"].train_loss,
                                                          rel=1e-6)
        assert results[probe].train_acc == results["none"].train_acc
    for probe in ("train", "eval"):
        stats = results[probe].stats
        assert set(stats) == {"p_true", "correct", "loss", "margin", "el2n", "rival"}
        assert not np.isnan(stats["p_true"]).any()  # every sample recorded once
        assert stats["p_true"].shape == (digits.num_samples,)
    # the eval probe is taken after the epoch, so it sees a better model than the train pass
    assert results["eval"].stats["p_true"].mean() > results["train"].stats["p_true"].mean()


def test_train_probe_matches_a_separate_forward_pass(digits) -> None:
    """The train probe records exactly the logits the optimiser step used."""
    t = _trainer(digits, epochs=1, batch_size=digits.num_samples, lr=1e-9)
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    r = t.train_epoch(0)
    t.model.load_state_dict(before)
    t.model.train()
    with torch.no_grad():
        logits = t.model(t.train_split.normalise(t.train_split.x))
        p = torch.softmax(logits, 1)[torch.arange(len(logits)), t.train_split.labels]
    np.testing.assert_allclose(r.stats["p_true"], p.numpy(), rtol=1e-5, atol=1e-6)


def test_learning_happens(digits) -> None:
    t = _trainer(digits, epochs=5)
    results = [t.train_epoch(e) for e in range(5)]
    assert results[-1].test_acc > 0.9
    assert results[-1].lr < 0.05 * 0.2  # cosine decays


def test_divergence_names_the_epoch(digits) -> None:
    t = _trainer(digits, epochs=1, lr=1e12, momentum=0.0)
    with pytest.raises(TrainingError, match="diverged.*epoch 1"):
        t.train_epoch(0)


def test_schedule_shapes() -> None:
    cos = _Schedule("cosine", 100, 10)
    assert cos(0) == pytest.approx(0.1) and cos(9) == pytest.approx(1.0)
    assert cos(10) == pytest.approx(1.0) and cos(55) == pytest.approx(0.5)
    assert cos(100) == pytest.approx(0.0, abs=1e-12)
    step = _Schedule("step", 100, 0)
    assert [step(0), step(50), step(75)] == pytest.approx([1.0, 0.1, 0.01])
    assert _Schedule("constant", 100, 0)(99) == 1.0


def test_crop_flip_keeps_shape_and_moves_content() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6) + 1
    y = augment_batch(x, "crop-flip", make_generator(0, 0))
    assert y.shape == x.shape
    # each output image is a shifted (maybe flipped) window of the zero-padded input
    for i in range(2):
        nonzero = y[i][y[i] != 0]
        assert set(nonzero.tolist()) <= set(x[i].flatten().tolist())
    z = augment_batch(x, "crop-flip", make_generator(0, 0))
    assert torch.equal(y, z)  # same generator stream, same augmentation
    flipped = augment_batch(x, "flip", make_generator(1, 0))
    for i in range(2):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(2))


def test_augment_needs_images() -> None:
    d = load_data("mnist1d")
    with pytest.raises(ConfigError, match="needs images"):
        Trainer(build_model("mlp", d.sample_shape, 10), d.train,
                TrainConfig(augment="flip"), seed=0, device=CPU)


def test_device_errors() -> None:
    assert resolve_device("cpu") == CPU
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
