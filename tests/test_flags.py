"""Mislabel flags: the estimator on known mixtures, `curator flag` end to end, and the
default pruning on a run long enough to memorise its flipped labels."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from curator import flags
from curator.cli import app
from curator.errors import CuratorError
from curator.flags import (
    early_window,
    fit_mislabelled,
    flag_quality,
    loss_settled,
    memorising_onset,
    noise_share,
)
from curator.store import open_scores

runner = CliRunner()


def mixture(n: int, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Early learnability of n samples, ``share`` of them mislabelled: the model gives a
    mislabelled sample's label a low probability (Beta(2, 8), mean 0.2) and a clean one a
    high one (Beta(8, 2)), with a tail of clean-but-hard samples (Beta(3, 3))."""
    rng = np.random.default_rng(seed)
    noisy = rng.random(n) < share
    hard = ~noisy & (rng.random(n) < 0.1)
    values = np.where(noisy, rng.beta(2, 8, n), np.where(hard, rng.beta(3, 3, n),
                                                         rng.beta(8, 2, n)))
    return values, noisy


@pytest.mark.parametrize("share", [0.1, 0.2, 0.4])
def test_the_estimate_finds_the_noisy_share(share: float) -> None:
    values, noisy = mixture(6000, share)
    fit = fit_mislabelled(values, by="early_learnability", scale="probability")
    assert fit.noise_found and fit.mixtures[0].means[0] < 0 < fit.mixtures[0].means[1]
    # it errs towards flagging: the clean-but-hard tail (mean 0.5) shares the low component
    # a little, so the flagged share is the true one or up to 5 points above it
    assert -0.01 < fit.flagged.mean() - noisy.mean() < 0.05
    assert -0.01 < fit.estimated_share - noisy.mean() < 0.1
    q = flag_quality(fit.flagged, noisy)
    assert q.recall > 0.9 and q.precision > 0.65 and q.f1 > 0.78, q
    assert fit.probability.dtype == np.float32
    assert (fit.probability >= 0).all() and (fit.probability <= 1).all()


def test_clean_data_flags_nothing() -> None:
    values, _ = mixture(6000, 0.0)  # easy and clean-but-hard samples only
    fit = fit_mislabelled(values, by="early_learnability", scale="probability")
    assert not fit.noise_found and fit.mixtures[0].means[0] >= 0
    assert not fit.flagged.any() and fit.estimated_share == 0


def test_degenerate_inputs_flag_nothing() -> None:
    # nothing to separate; too few to fit
    assert not fit_mislabelled(np.full(100, 0.3), by="aum", scale="margin").flagged.any()
    assert not fit_mislabelled(np.array([0.1, 0.9]), by="aum", scale="margin").flagged.any()
    assert len(fit_mislabelled(np.zeros(0), by="aum", scale="margin").probability) == 0


def test_margins_use_zero_as_the_level() -> None:
    rng = np.random.default_rng(1)
    noisy = rng.random(4000) < 0.25
    aum = np.where(noisy, rng.normal(-2, 1, 4000), rng.normal(3, 1.5, 4000))
    fit = fit_mislabelled(aum, by="aum", scale="margin")
    assert flag_quality(fit.flagged, noisy).f1 > 0.9
    # every margin positive
    assert not fit_mislabelled(aum + 10, by="aum", scale="margin").noise_found


def test_one_mixture_per_class() -> None:
    """One class easy, one hard as a whole, 20% wrong labels in each (margins): the pooled
    mixture splits the classes, not the labels, and flags nothing; one per class finds them."""
    rng = np.random.default_rng(0)
    n = 6000
    labels = rng.integers(0, 2, n)
    noisy = rng.random(n) < 0.2
    clean = np.where(labels == 0, rng.normal(5, 1, n), rng.normal(1.5, 1, n))
    wrong = np.where(labels == 0, rng.normal(-1.5, 1, n), rng.normal(-3, 1, n))
    margins = np.where(noisy, wrong, clean)
    pooled = fit_mislabelled(margins, by="aum", scale="margin", share=0.2)
    assert not pooled.flagged.any() and not pooled.mixtures[0].per_class
    fit = fit_mislabelled(margins, by="aum", scale="margin", share=0.2, labels=labels)
    assert fit.noise_found and fit.params["mixtures"][0]["per_class"] is True
    q = flag_quality(fit.flagged, noisy)
    # a wrong label the model accepts (margin above 0: 7% of class 0's, N(-1.5, 1)) is not
    # flagged, whatever its posterior
    assert not fit.flagged[margins >= 0].any()
    assert q.precision > 0.95 and q.recall > 0.93, q
    for c in (0, 1):  # each class's wrong labels found
        at = labels == c
        assert flag_quality(fit.flagged[at], noisy[at]).f1 > 0.95
    # a class too small for a mixture of its own (20 < MIN_CLASS) takes the pooled one
    aum = np.where(noisy, rng.normal(-2, 1, n), rng.normal(3, 1.5, n))
    few = np.r_[np.zeros(n - 20, np.int64), np.ones(20, np.int64)]
    pooled = fit_mislabelled(aum, by="aum", scale="margin", share=0.2)
    assert pooled.noise_found
    small = fit_mislabelled(aum, by="aum", scale="margin", share=0.2, labels=few).probability[-20:]
    np.testing.assert_array_equal(small, pooled.probability[-20:])
    with pytest.raises(CuratorError, match="labels has 3 entries"):
        fit_mislabelled(margins, by="aum", scale="margin", labels=labels[:3])


def test_the_default_estimate_flags_what_both_views_reject() -> None:
    """Within its class, an atypical clean sample of an easy class looks rejected; over all
    samples, a clean sample of a hard class does; a wrong label looks rejected both ways."""
    rng = np.random.default_rng(0)
    n = 8000
    labels = rng.integers(0, 2, n)
    noisy = rng.random(n) < 0.2
    atypical = ~noisy & (labels == 0) & (rng.random(n) < 0.15)
    clean = np.where(labels == 0, np.where(atypical, rng.normal(1.0, 0.7, n),
                                           rng.normal(3.5, 0.8, n)), rng.normal(1.2, 1, n))
    margin = np.where(noisy, rng.normal(-2.5, 1, n), clean)
    prob = 1 / (1 + np.exp(-(margin + rng.normal(0, 0.3, n))))  # the probability, noisier
    within = fit_mislabelled(margin, by="early_aum", scale="margin", share=0.2, labels=labels)
    overall = fit_mislabelled(prob, by="early_learnability", scale="probability", share=0.2)
    fit = flags.estimate_mislabelled(margin, prob, labels, share=0.2)
    assert fit.by == flags.DEFAULT_BY and len(fit.mixtures) == 2 and fit.noise_found
    # the smaller of the two posteriors; the second view is an opinion on every sample (its
    # fit alone keeps only samples whose probability is below one half)
    rejects = prob < 0.5
    np.testing.assert_array_equal(fit.probability[rejects], np.minimum(
        within.probability, overall.probability)[rejects])
    assert (fit.probability <= within.probability).all()

    def wrongly(f: flags.MislabelFit, where: np.ndarray) -> int:
        return int((f.flagged & ~noisy & where).sum())

    hard = labels == 1
    assert wrongly(fit, atypical) < wrongly(within, atypical) / 2  # the overall view vetoes
    assert wrongly(fit, hard) < wrongly(overall, hard) / 3  # the class view vetoes
    q = flag_quality(fit.flagged, noisy)
    assert q.precision > max(flag_quality(f.flagged, noisy).precision
                             for f in (within, overall))
    assert q.recall > 0.95 and q.f1 > 0.95, q
    # a test split that implies no wrong labels (as noisy as the training split) is no
    # evidence against them: the mixtures' own weights are the priors
    own = flags.estimate_mislabelled(margin, prob, labels, share=0.0)
    np.testing.assert_array_equal(
        own.probability, flags.estimate_mislabelled(margin, prob, labels).probability)
    assert own.share_from == "mixtures" and own.share == pytest.approx(own.estimated_share)
    assert flag_quality(own.flagged, noisy).f1 > 0.9


def test_the_cli_default_is_the_default_estimate() -> None:
    import inspect

    from curator import cli

    assert inspect.signature(cli.flag).parameters["by"].default == flags.DEFAULT_BY


def test_stored_fits_read_back_old_and_new() -> None:
    from curator.store import ScoreValues

    values, _ = mixture(2000, 0.2)
    fit = flags.estimate_mislabelled(values * 4 - 2, values, None, share=0.2)
    stored = ScoreValues(fit.probability, "harder", "", ("seed-0",), fit.params)
    back = flags.MislabelFit.from_stored(stored.values, stored.params)
    assert back is not None and back.mixtures == fit.mixtures and back.by == fit.by
    assert back.share == 0.2 and back.share_from == "reference"
    # one mixture's params at the top level, as files stored them before `mixtures`
    old = {"by": "early_learnability", "means": [-1.0, 2.0], "stds": [1.0, 0.5],
           "weights": [0.2, 0.8], "noise_found": True, "noise_share": 0.2,
           "noise_share_from": "reference"}
    back = flags.MislabelFit.from_stored(fit.probability, old)
    assert back is not None and back.by == "early_learnability" and back.noise_found
    assert back.mixtures[0].means == (-1.0, 2.0) and not back.mixtures[0].per_class
    assert flags.MislabelFit.from_stored(fit.probability, {}) is None


def test_fitted_on_a_subsample_for_large_n(monkeypatch: pytest.MonkeyPatch) -> None:
    values, noisy = mixture(20_000, 0.2)
    full = fit_mislabelled(values, by="early_learnability", scale="probability")
    monkeypatch.setattr(flags, "FIT_SAMPLES", 2_000)
    sampled = fit_mislabelled(values, by="early_learnability", scale="probability")
    assert len(sampled.probability) == 20_000  # applied to every sample
    assert abs(sampled.flagged.mean() - full.flagged.mean()) < 0.02
    assert flag_quality(sampled.flagged, noisy).f1 > 0.85


def test_bad_score_and_values() -> None:
    from curator.scores import scale_of

    with pytest.raises(CuratorError, match="'el2n' is not a score") as info:
        scale_of("el2n")
    assert info.value.param == "by" and "early_aum" in (info.value.hint or "")
    assert scale_of("aum") == "margin" and scale_of("hit_rate") == "probability"
    with pytest.raises(CuratorError, match="scale 'loss'") as info:
        fit_mislabelled(np.zeros(10), by="el2n", scale="loss")
    assert info.value.param == "scale"
    with pytest.raises(CuratorError, match="not finite"):
        fit_mislabelled(np.array([0.5, np.nan] * 10), by="aum", scale="margin")


def test_noise_share_from_the_errors() -> None:
    # test error e = 0.1, 10 classes: a clean sample is wrong 10% of the time, a flipped one
    # unless the wrong answer is its flipped label (q = 0.1 / 9); 20% flipped gives
    e, share = 0.1, 0.2
    q = e / 9
    train = (1 - share) * e + share * (1 - q)
    assert noise_share(train, e, 10) == pytest.approx(share)
    assert noise_share(0.05, 0.1, 10) == 0.0  # fits its labels better than the test set
    assert noise_share(0.5, float("nan"), 10) is None  # no test split
    assert noise_share(0.95, 0.9, 10) == 0.0  # a model at chance says nothing


def checks_of(share: float, classes: int = 10, k: int = 10, n: int = 100_000) -> np.ndarray:
    """First-epoch checks of a run whose test accuracy rises from chance to 0.8 and whose
    given labels are wrong for ``share`` of the samples (flipped uniformly)."""
    acc = np.linspace(1 / classes, 0.8, k + 1)
    a = (acc[:-1] + acc[1:]) / 2
    hits = (1 - share) * a + share * (1 - a) / (classes - 1)
    return np.stack([np.full(k, n / k), hits * n / k, acc[:-1], acc[1:], np.full(k, n)],
                    axis=1)


@pytest.mark.parametrize("share", [0.0, 0.2, 0.4])
def test_first_epoch_share_reads_the_hits_against_the_test_accuracy(share: float) -> None:
    from curator.flags import first_epoch_share

    assert first_epoch_share(checks_of(share), 10) == pytest.approx(share)
    runs = np.stack([checks_of(share), checks_of(share)])  # (R, K, 4) as read from a file
    assert first_epoch_share(runs, 10) == pytest.approx(share)


def test_first_epoch_share_edges() -> None:
    from curator.flags import first_epoch_share

    rows = checks_of(0.0)
    rows[:, 1] += 0.02 * rows[:, 0]  # predicted better than the test split: no wrong labels
    assert first_epoch_share(rows, 10) == 0.0
    chance = checks_of(0.0)
    chance[:, 2:] = 0.1  # never above chance: nothing can be said
    assert first_epoch_share(chance, 10) == 0.0
    assert first_epoch_share(np.zeros((0, 5)), 10) is None
    assert first_epoch_share(checks_of(0.2), 1) is None
    rows = checks_of(0.2)
    rows[0, 1] = rows[0, 0] * 0.5  # the first stretch, near chance, weighs little
    assert first_epoch_share(rows, 10) == pytest.approx(0.2, abs=0.02)
    # 5% wrong labels are found in 100,000 samples, but not in 1,000 with 300 test samples,
    # where sampling noise alone moves the hits and the test accuracy by that much
    assert first_epoch_share(checks_of(0.05), 10) == pytest.approx(0.05)
    small = checks_of(0.05, n=1000)
    small[:, 4] = 300
    assert first_epoch_share(small, 10) == 0.0
    assert first_epoch_share(checks_of(0.3, n=1000), 10) == pytest.approx(0.3)


def test_the_share_sets_the_prior_and_zero_is_no_veto() -> None:
    values, noisy = mixture(6000, 0.2)
    own = fit_mislabelled(values, by="early_learnability", scale="probability")
    assert own.share_from == "mixtures" and own.share == pytest.approx(own.estimated_share)
    fewer = fit_mislabelled(values, by="early_learnability", scale="probability", share=0.1)
    more = fit_mislabelled(values, by="early_learnability", scale="probability", share=0.3)
    assert fewer.flagged.sum() < own.flagged.sum() < more.flagged.sum()
    np.testing.assert_array_equal(fewer.probability > 0, own.probability > 0)
    assert np.all(np.argsort(fewer.probability, kind="stable")
                  == np.argsort(own.probability, kind="stable"))  # same ranking
    # 0 from a test split as noisy as the training split: the mixture's own weight
    zero = fit_mislabelled(values, by="early_learnability", scale="probability", share=0.0)
    np.testing.assert_array_equal(zero.probability, own.probability)


def test_early_window() -> None:
    acc = np.array([[0.5, 0.7, 0.8, 0.75, 0.7], [0.5, 0.72, 0.78, 0.76, 0.7]])
    # 1-based: the epoch of the best mean (3), and one more, since the model reached it only
    # during epoch 3 ((0.71 + 0.79) / 2 below it: test_the_early_window_waits_...)
    assert early_window(acc, 5) == 4
    assert early_window(None, 30) == 6  # no test split: the first ceil(T/5)
    assert early_window(np.full((2, 10), np.nan), 10) == 2
    assert early_window(np.array([[0.9]]), 1) == 1
    assert early_window(acc, 5, test_samples=360) == 4  # 0.71 is 3.7 SE below 0.79
    # a weak model creeping up after its plateau (mnist1d's MLP): the window ends at the
    # first epoch within one standard error of the best for a test split of m samples
    creep = np.array([[0.30, 0.43, 0.50, 0.52, 0.53, 0.533, 0.536, 0.54, 0.542]])
    assert early_window(creep, 9) == 9  # the best epoch, without the test split's size
    # SE = sqrt(0.542 * 0.458 / m): 0.0158 with 1,000 test samples, 0.0050 with 10,000
    assert early_window(creep, 9, test_samples=1000) == 6  # level 0.5262, reached in epoch 5
    assert early_window(creep, 9, test_samples=10_000) == 8  # level 0.5370


def test_the_early_window_waits_for_an_epoch_that_learned_late() -> None:
    """An epoch's statistics come from its training pass, half an epoch behind its end: when
    the model reaches its level only during the window's last epoch (the mean of the test
    accuracies before and after it is below the level), the window takes one epoch more."""
    # a text model that tells two pairs of topics apart first, then the topics in epoch 3
    jump = np.array([[0.55, 0.52, 1.0, 1.0, 0.999, 1.0]])
    assert early_window(jump, 6, test_samples=1000, num_classes=4) == 4  # (0.52 + 1) / 2
    # a gradual rise: the first epoch at the level began below it (one SE: 0.0108 for
    # 1,000 test samples, 0.0034 for 10,000)
    gradual = np.array([[0.80, 0.84, 0.86, 0.865, 0.866]])
    assert early_window(gradual, 5, test_samples=1000) == 4  # level 0.855; (0.84 + 0.86) / 2
    assert early_window(gradual, 5, test_samples=10_000) == 5  # level 0.8626; 0.8625 below
    # a model already at the level before the epoch keeps the window as it was
    flat = np.array([[0.848, 0.852, 0.86]])
    assert early_window(flat, 3, test_samples=1000) == 2  # level 0.849; (0.848 + 0.852) / 2
    assert early_window(np.array([[0.3, 0.9]]), 2, test_samples=100) == 2  # never past T
    # the first epoch: from chance (1 / C) before it
    assert early_window(np.array([[0.95, 0.95, 0.96]]), 3, test_samples=100,
                        num_classes=10) == 2
    assert early_window(np.array([[0.95, 0.95, 0.96]]), 3, test_samples=100) == 2


# per-run test accuracy and loss of two real reference runs (tests/data/README.md)
CURVES = json.loads((Path(__file__).parent / "data" / "test-curves.json").read_text())


def curves(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(test accuracy, test loss) as (R, T), and the test samples, of a run in CURVES."""
    run = CURVES[name]
    return np.array(run["test_acc"]), np.array(run["test_loss"]), run["test_samples"]


def test_the_early_window_ends_before_the_test_loss_rises() -> None:
    """Fashion-MNIST 20,000, 40% instance-dependent flips in the training and the test
    labels, three MLP runs of 60 epochs: memorising the training flips raises the accuracy on
    test labels flipped the same way (0.723 at epoch 7, 0.760 at 51), and the
    one-standard-error rule alone put the window at epoch 48, where no label is rejected any
    more (the flags abstained: F1 0.006). The mean test loss, lowest at epoch 6, rose clearly
    from epoch 11: the best accuracy before it ends the window."""
    acc, loss, m = curves("fashion-mnist20000-instance0.4T-60")
    assert acc.shape == loss.shape == (3, 60)
    assert early_window(acc, 60, test_samples=m, num_classes=10) == 48
    mean = loss.mean(axis=0)
    noise = float(np.sqrt(np.mean(np.diff(mean) ** 2) / 2))
    assert int(np.argmin(mean)) + 1 == 6
    onset = memorising_onset(loss, 60)
    assert onset == 11 and mean[onset - 1] >= mean[5] + 3 * noise > mean[6:onset - 1].max()
    assert early_window(acc, 60, test_samples=m, num_classes=10, test_loss=loss) == 7
    # one run tells the same (a user's own loop records one)
    assert early_window(acc[:1], 60, m, 10, loss[:1]) < 30 < early_window(acc[:1], 60, m, 10)
    # a window that ends before the rise stays as it was
    assert (early_window(acc[:, :10], 10, m, 10, loss[:, :10])
            == early_window(acc[:, :10], 10, m, 10))


def test_the_early_window_lasts_until_the_test_loss_has_settled() -> None:
    """digits (360 test samples), 40% one-target flips in the training and the test labels,
    three MLP runs of 15 epochs: the accuracy on the noisy test labels is level within its
    standard error (0.026) from epoch 2, while the loss still falls to epoch 7 — the model
    still learns. The window lasts until the loss is within its noise of its minimum (F1
    0.276 -> 0.432 at 15 epochs, 0.228 -> 0.714 at 60: benchmarks/RESULTS.md, "Memorising a
    noisy test split"), and as the accuracy's, half an epoch later: epoch 4's training pass
    met the loss between its values after epochs 3 and 4, still above the level (0.432 ->
    0.720: "The loss's settling epoch, half an epoch later")."""
    acc, loss, m = curves("digits-asymmetric0.4T-15")
    assert early_window(acc, 15, test_samples=m, num_classes=10) == 3
    mean = loss.mean(axis=0)
    level = mean.min() + float(np.sqrt(np.mean(np.diff(mean) ** 2) / 2))
    settled = loss_settled(loss, 15)
    assert mean[2] > level >= mean[3]  # settled after epoch 4
    assert (mean[2] + mean[3]) / 2 > level and settled == 5  # not yet in its pass
    assert memorising_onset(loss, 15) is None
    assert early_window(acc, 15, test_samples=m, num_classes=10, test_loss=loss) == 5
    # settled in the first epoch: its pass began from an untrained model's loss, log C
    flat = np.array([[0.5, 0.52, 0.49, 0.51, 0.5]])
    assert loss_settled(flat, 5, num_classes=10) == 2 and loss_settled(flat, 5) == 1
    # where the loss settles before the accuracy's window ends, that window stands
    acc60, loss60, m60 = curves("fashion-mnist20000-instance0.4T-60")
    assert loss_settled(loss60, 60) == 5 < early_window(acc60, 60, m60, 10, loss60)
    assert loss_settled(np.full((1, 5), np.nan), 5) is None


def test_curator_flag_says_where_the_window_ends_and_why() -> None:
    from curator.flagging import EarlyWindow

    assert EarlyWindow(7, 60, 11).line() == (
        "read the first 7 of 60 epochs, where the test loss rose clearly from epoch 11, "
        "though the test accuracy crept on: memorising (docs/flags.md, step 1)")
    assert "the test accuracy was level with its best" in EarlyWindow(5, 60).line()
    assert "the test loss had settled" in EarlyWindow(4, 15, loss_settled=True).line()
    # what ended the window, from the curves: the loss's rise, its settling, the accuracy
    from curator.flags import WindowParts, window_parts

    acc, loss, m = curves("fashion-mnist20000-instance0.4T-60")
    assert window_parts(acc, 60, m, 10, loss) == WindowParts(7, 11, False)
    acc, loss, m = curves("digits-asymmetric0.4T-15")
    assert window_parts(acc, 15, m, 10, loss) == WindowParts(5, None, True)
    assert window_parts(acc, 15, m, 10) == WindowParts(3)
    assert window_parts(None, 10) == WindowParts(2)


def test_memorising_onset_needs_a_rise_well_above_the_curve_s_noise() -> None:
    falling = np.array([[1.0, 0.8, 0.7, 0.65, 0.62, 0.60, 0.59, 0.585]])
    assert memorising_onset(falling, 8) is None  # no epoch after the minimum
    # a curve that scatters about its minimum: nothing stands 3 x its noise above it
    scatter = np.array([[0.50, 0.40, 0.36, 0.38, 0.35, 0.37, 0.36, 0.38, 0.355, 0.37]])
    assert memorising_onset(scatter, 10) is None
    # a clear rise after a smooth descent; the noise is that of the whole curve
    rising = np.array([[0.9, 0.7, 0.6, 0.55, 0.56, 0.6, 0.7, 0.8, 0.9, 1.0]])
    noise = float(np.sqrt(np.mean(np.diff(rising[0]) ** 2) / 2))  # 0.0723
    assert 0.55 + 3 * noise == pytest.approx(0.7670, abs=1e-4)
    assert memorising_onset(rising, 10) == 8  # 0.8, the first at or above 0.7670
    # nothing to tell from: too few epochs, a loss not measured (NaN), a flat curve
    assert memorising_onset(np.array([[0.5, 0.9]]), 2) is None
    assert memorising_onset(np.full((1, 10), np.nan), 10) is None
    assert memorising_onset(np.full((2, 10), 0.4), 10) is None
    assert early_window(np.array([[0.5, 0.6, 0.7, 0.8]]), 4, 100, 10,
                        np.full((1, 4), np.nan)) == early_window(
        np.array([[0.5, 0.6, 0.7, 0.8]]), 4, 100, 10)


def test_error_rates_meet_the_model_half_an_epoch_earlier() -> None:
    """The training pass of epoch t is compared with the mean of the test errors after
    epochs t-1 and t (chance before the first), over the epochs after the first."""
    from curator.scores import ArrayTrajectories, error_rates

    n = 1000
    correct = np.zeros((1, 3, n), np.uint8)
    for t, acc in enumerate((0.5, 0.8, 0.9)):
        correct[0, t, :int(acc * n)] = 1
    traj = ArrayTrajectories({"correct": correct}, test_acc=np.array([[0.7, 0.9, 0.92]]),
                             num_classes=10)
    train, test = error_rates(traj, 3)
    assert train == pytest.approx((0.2 + 0.1) / 2)
    assert test == pytest.approx(((0.3 + 0.1) / 2 + (0.1 + 0.08) / 2) / 2)
    train, test = error_rates(traj, 1)  # one epoch: only it, from chance (0.9) to 0.3
    assert train == pytest.approx(0.5) and test == pytest.approx((0.9 + 0.3) / 2)
    # recorded training accuracies are used as they are
    traj.train_acc = np.array([[0.5, 0.7, 0.7]])
    assert error_rates(traj, 3)[0] == pytest.approx(0.3)
    assert np.isnan(error_rates(ArrayTrajectories({"correct": correct}), 3)[1])


def test_heldout_errors_are_read_where_each_run_held_out() -> None:
    from curator.scores import ArrayTrajectories, heldout_error_rates

    p_true = np.full((2, 2, 6), np.nan, np.float32)
    p_true[0, :, :3] = 0.5  # run 0 held out samples 0-2, run 1 samples 3-5
    p_true[1, :, 3:] = 0.5
    correct = np.zeros((2, 2, 6), bool)
    correct[0, :, 0] = True  # run 0: 1 of 3 right in both epochs (errors 2/3)
    correct[1, 0, 3:] = True  # run 1: all right, then none (errors 0 and 1)
    correct[0, :, 3:] = True  # not held out by run 0: not counted
    traj = ArrayTrajectories({"p_true": p_true, "correct": correct},
                             test_acc=np.array([[0.8, 0.9], [0.7, 0.6]]), num_classes=3)
    held, test = heldout_error_rates(traj)
    assert held == pytest.approx((2 / 3 + 2 / 3 + 0 + 1) / 4)
    assert test == pytest.approx(1 - 0.75)


def test_flags_by_heldout_learnability_take_the_share_from_the_holdout_runs(
        tmp_path: Path) -> None:
    """Held-out and test errors of the same models differ by the wrong labels alone; the
    default estimate keeps the reference runs' first-epoch checks."""
    out = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--label-noise", "0.2", "--holdout", "3", "--epochs", "4",
                            "--seeds", "1", "--device", "cpu", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        s, noisy = f.score("mislabel_probability"), f.noisy
    assert s.params["noise_share_from"] == "first-epoch"
    assert flag_quality(s.values >= 0.5, noisy).f1 > 0.8
    r = runner.invoke(app, ["flag", str(out), "--by", "heldout_learnability"])
    assert r.exit_code == 0, r.output
    assert "held-out and test errors" in " ".join(r.stdout.split())
    with open_scores(out) as f:
        s = f.score("mislabel_probability")
    assert s.params["by"] == "heldout_learnability"
    assert s.params["noise_share_from"] == "holdout"
    assert 0.1 < s.params["noise_share"] < 0.3  # 20% flipped
    assert flag_quality(s.values >= 0.5, noisy).f1 > 0.7


def test_a_short_clean_run_flags_nothing(tmp_path: Path) -> None:
    """Four epochs on clean digits flag nothing, from either share. The first-epoch checks
    of 1,437 samples and 360 test samples can imply a few per cent by chance (0, 0 and 0.038
    over three seeds, after the test against sampling noise), which the two mixtures do not
    turn into flags. From the errors (a file
    without checks, as the user's own loop records): the training pass errs more than the
    test pass after each epoch only because the model improves inside the epoch; compared
    with the model half an epoch earlier, no labels look wrong (compared with the errors
    after the epochs, the same run with 3 seeds implied 9% wrong labels)."""
    import h5py

    from curator.scores import FileTrajectories, compute_scores

    out = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--epochs", "4", "--seeds", "1", "--device", "cpu",
                            "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        s = f.score("mislabel_probability")
    assert s.params["noise_share_from"] == "first-epoch"
    # no separate component of wrong labels; at most a few outliers the model is sure of
    assert s.params["noise_share"] < 0.05 and (s.values >= 0.5).mean() <= 0.005
    assert not s.params["mixtures"][0]["noise_found"]
    with h5py.File(out, "a") as h:
        for run in h["runs"].values():
            del run["first_epoch"]
    with open_scores(out) as f:
        s = compute_scores(FileTrajectories(f), ["mislabel_probability"])[
            "mislabel_probability"]
    assert s.params["noise_share_from"] == "reference"
    assert s.params["noise_share"] == 0 and (s.values >= 0.5).mean() <= 0.005


def noisy_scores(tmp_path: Path, seeds: int) -> Path:
    """`curator score` on digits with 20% flipped labels, 10 epochs."""
    out = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--label-noise", "0.2", "--epochs", "10", "--seeds",
                            str(seeds), "--device", "cpu", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.slow
def test_flag_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = noisy_scores(tmp_path, seeds=2)
    with open_scores(out) as f:
        scored = f.score("mislabel_probability")
    csv = tmp_path / "flagged.csv"

    def no_refit(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fit `curator score` stored is read back, not made again")

    from curator import flagging

    monkeypatch.setattr(flagging, "fresh_fit", no_refit)
    r = runner.invoke(app, ["flag", str(out), "--out", str(csv)])
    monkeypatch.undo()
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "flagged" in text and "per class" in text and "precision" in text
    assert "read from the score 'mislabel_probability'" in text and "stored as" not in text
    with open_scores(out) as f:
        s = f.score("mislabel_probability")
        window = f.score("early_aum").params["early_epochs"]
        noisy = f.noisy
        assert s.higher_is == "harder" and s.params["by"] == flags.DEFAULT_BY
        np.testing.assert_array_equal(s.values, scored.values)
        assert s.params == scored.params and len(s.params["mixtures"]) == 2
        early = f.score("early_learnability")
        assert 1 <= early.params["early_epochs"] <= 10
    assert f"read the first {window} of " in text  # the window, and why it ends there
    import csv as csv_module

    with open(csv) as handle:
        rows = list(csv_module.DictReader(handle))
    assert list(rows[0]) == ["index", "flagged", "given_label", "suggested_label",
                             "mislabel_probability", "suggestion_confidence", "given_name",
                             "suggested_name"]
    flagged = np.array([int(row["index"]) for row in rows if row["flagged"] == "1"])
    np.testing.assert_array_equal(np.sort(flagged), np.flatnonzero(s.values >= 0.5))
    probability = [float(row["mislabel_probability"]) for row in rows]
    assert probability[:len(flagged)] == sorted(probability[:len(flagged)], reverse=True)
    with open_scores(out) as f:  # the suggestions, as `curator score` stored them
        suggested, original = f.score("suggested_label").values, f.original_labels
        labels = f.labels
    given = [int(row["given_label"]) for row in rows]
    np.testing.assert_array_equal(given, labels[[int(row["index"]) for row in rows]])
    for row in rows:
        i = int(row["index"])
        assert int(row["suggested_label"]) == suggested[i]
        assert (row["suggested_name"] == "") == (suggested[i] < 0)
    right = np.mean([suggested[i] == original[i] for i in flagged if suggested[i] >= 0])
    assert right > 0.85, right  # the suggestions give most flipped labels back
    q = flag_quality(s.values >= 0.5, noisy)
    assert q.f1 > 0.8, q
    f1 = float(text.split("F1 ")[1].split()[0])
    assert abs(f1 - q.f1) < 1e-3
    suspects = int(flags.suspected(s.values, s.params["noise_share"]).sum())
    assert (f"{suspects} more suspected" in text) == (suspects > 0)
    # another score through --by, stored with its name in the params
    r = runner.invoke(app, ["flag", str(out), "--by", "aum"])
    assert r.exit_code == 0, r.output
    assert "stored as score 'mislabel_probability'" in " ".join(r.stdout.split())
    assert "read the first" not in r.stdout  # aum reads every epoch, not the early window
    with open_scores(out) as f:
        assert f.score("mislabel_probability").params["by"] == "aum"


@pytest.mark.slow
def test_clean_run_flags_few(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--epochs", "10", "--seeds", "2", "--device", "cpu",
                            "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["flag", str(out)])
    assert r.exit_code == 0, r.output  # an empty result is a normal result
    with open_scores(out) as f:
        share = (f.score("mislabel_probability").values >= 0.5).mean()
    assert share < 0.02


@pytest.mark.slow
def test_a_hard_data_set_without_noise_flags_nothing(tmp_path: Path) -> None:
    """mnist1d, where an MLP stays near 60% test accuracy: most clean labels get a low
    probability early on, but the training labels are not wrong more often than the test
    labels, so nothing is flagged and the default prune keeps the count asked."""
    out = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--data", "mnist1d", "--epochs", "8", "--seeds", "1",
                            "--device", "cpu", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        early = f.score("early_learnability").values
        assert (early < 0.5).mean() > 0.3  # hard: a fixed threshold would flag these
        assert not (f.score("mislabel_probability").values >= 0.5).any()
    r = runner.invoke(app, ["prune", str(out), "--keep", "0.8"])
    assert r.exit_code == 0, r.output
    assert "kept 3200 of 4000" in " ".join(r.stdout.split())
    # `flag` says what the empty result rests on: the test accuracy the model reached
    with open_scores(out) as f:
        best = float(f.history("seed-0")["test_acc"].max())
    r = runner.invoke(app, ["flag", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "flagged 0 of 4000" in text
    assert f"reached a test accuracy of {best:.4g} at best" in text


@pytest.mark.slow
def test_default_prune_after_memorising(tmp_path: Path) -> None:
    """60 epochs: the MLP memorises the flipped labels, so the old default (learnability
    below 0.5 as the share to drop) found under half of them; the flags find them."""
    out = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--label-noise", "0.2", "--epochs", "60", "--seeds", "1",
                            "--device", "cpu", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        learnability, noisy = f.score("learnability").values, f.noisy
    old_recall = ((learnability < 0.5) & noisy).sum() / noisy.sum()
    assert old_recall < 0.6  # memorised: the fixed threshold misses most flipped labels
    r = runner.invoke(app, ["prune", str(out), "--keep", "0.8"])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        kept = f.selection("drop-flagged-learnability-0.8")
        params = json.loads(f.selection_attrs("drop-flagged-learnability-0.8")["params"])
    assert noisy[kept].mean() < 0.05  # fewer than 5% flipped labels among those kept
    assert "flagged as mislabelled" in r.stdout
    dropped = params["suspected_dropped"]  # after the flagged, while more had to go
    assert (f"then {dropped} suspected" in " ".join(r.stdout.split())) == (dropped > 0)


def test_early_rival_is_the_other_class_probability() -> None:
    from curator.scores import early_rival

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (2, 3, 50, 4))  # (R, T, N, C)
    y = rng.integers(0, 4, 50)
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    p_true = np.take_along_axis(p, y[None, None, :, None], -1)[..., 0]
    others = np.where(np.arange(4) == y[:, None], -np.inf, logits)
    margin = np.take_along_axis(logits, y[None, None, :, None], -1)[..., 0] - others.max(-1)
    rival = np.where(np.arange(4) == y[:, None], 0, p).max(-1)
    np.testing.assert_allclose(early_rival(p_true, margin, early_epochs=2),
                               rival[:, :2].mean(axis=(0, 1)), rtol=1e-9)


def outlier_data(seed: int = 0) -> tuple[np.ndarray, ...]:
    """Two learned classes of 500 (typical probability of the label about 0.9, margins
    skewed around 4) with 5 wrong labels each that the model is sure of (margins -9 to -5,
    rival 0.97), a
    few hard but clean samples (margin -0.5, rival 0.5), and a class the model has not
    learned (probability 0.3, the rival's 0.3: a weak model spreads the rest over the other
    classes, as an MLP does on mnist1d), whose low tail is not taken for wrong labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], 500)
    margin = 7 - rng.gamma(2, 1.5, 1500)  # a long tail of harder samples, as real classes
    prob = np.clip(rng.normal(0.9, 0.05, 1500), 0, 1)
    rival = 1 - prob
    wrong = np.zeros(1500, bool)
    wrong[[0, 1, 2, 3, 4, 500, 501, 502, 503, 504]] = True
    margin[wrong], prob[wrong], rival[wrong] = rng.uniform(-9, -5, 10), 0.01, 0.97
    hard = np.zeros(1500, bool)
    hard[[10, 11, 12, 510, 511]] = True
    margin[hard], prob[hard], rival[hard] = -0.5, 0.35, 0.5
    weak = labels == 2
    margin[weak] = rng.normal(-0.5, 2, 500)
    prob[weak] = np.clip(rng.normal(0.3, 0.1, 500), 0, 1)
    rival[weak] = np.clip(rng.normal(0.3, 0.1, 500), 0, 1)
    return margin, prob, rival, labels, wrong


def test_confident_outliers_name_the_few_wrong_labels() -> None:
    margin, prob, rival, labels, wrong = outlier_data()
    out = flags.confident_outliers(margin, prob, rival, labels)
    np.testing.assert_array_equal(out, wrong)  # not the hard ones, nothing in class 2
    # each condition alone is not enough: sure but within the class's spread, or far out
    # but unsure
    sure = rival.copy()
    sure[wrong] = 0.5
    assert not flags.confident_outliers(margin, prob, sure, labels).any()
    within = margin.copy()
    within[wrong] = 1.0
    assert not flags.confident_outliers(within, prob, rival, labels).any()
    with pytest.raises(CuratorError, match="differ in length"):
        flags.confident_outliers(margin, prob, rival[:3], labels)


def test_the_estimate_falls_back_to_confident_outliers() -> None:
    margin, prob, rival, labels, wrong = outlier_data()
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert not fit.noise_found and fit.outliers == 10  # too few for a component
    np.testing.assert_array_equal(fit.flagged, wrong)
    np.testing.assert_allclose(fit.probability[wrong], 0.97)  # the rival's probability
    assert fit.params["outliers"] == 10 and not fit.suspected.any()
    back = flags.MislabelFit.from_stored(fit.probability, fit.params)
    assert back is not None and back.outliers == 10 and back.estimate == flags.ESTIMATE
    # without the rival's probability (an older caller) nothing is flagged
    assert not flags.estimate_mislabelled(margin, prob, labels).flagged.any()


def contested_data(spread: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Classes 0 and 1 a confusable pair with 400 of their 1,200 labels flipped to the
    partner: the model, before memorising, gives each sample its true class about 0.62
    (sd 0.12) of what is left after ``spread`` (the probability of all other classes), so
    flipped and clean samples overlap around a margin of 0; class 2 is easy and clean."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], 600)
    wrong = np.zeros(1800, bool)
    wrong[rng.choice(1200, 400, replace=False)] = True
    q = np.clip(rng.normal(0.62, 0.12, 1800), 0.05, 0.95) * (1 - spread)
    prob = np.where(wrong, 1 - spread - q, q)
    rival = 1 - spread - prob
    easy = labels == 2
    prob[easy], rival[easy] = 0.95, 0.04
    margin = np.log(prob / rival) + rng.normal(0, 0.2, 1800)
    margin[easy] = rng.normal(5, 1, 600)
    return margin, prob, rival, labels, wrong


def test_contested_classes_are_flagged_where_the_model_prefers_the_rival() -> None:
    """Flips inside a pair make no separate component (Ashman's D below 2 in both classes):
    estimate 2 flagged nothing. The model has narrowed those classes down to two (label +
    rival 0.97 on average), so they are contested and a label is flagged where the rival
    has the larger share. The same overlap where the model spreads its probability over
    other classes (label + rival 0.6: a class it has not learned) is not."""
    margin, prob, rival, labels, wrong = contested_data(spread=0.03)
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert fit.mixtures[0].separation is not None
    assert fit.mixtures[0].separation < flags.SEPARATION and not fit.mixtures[0].noise_found
    assert fit.contested == (0, 1) and fit.noise_found
    assert flag_quality(fit.flagged, wrong).f1 > 0.75
    assert not fit.flagged[labels == 2].any()
    share = np.where(margin < 0, rival / (prob + rival), 0)[labels < 2]
    # the posteriors (neither view finds these wrong labels apart: estimate 8) may raise a
    # probability, and flag nothing the rival's share does not flag here
    assert (fit.probability[labels < 2] >= share - 1e-6).all()
    np.testing.assert_array_equal(fit.flagged[labels < 2], share >= flags.FLAG_AT)
    back = flags.MislabelFit.from_stored(fit.probability, fit.params)
    assert back is not None and back.contested == (0, 1) and back.noise_found
    # a small share from a test split flipped the same way is not taken for the prior: the
    # test split under-counts flips to a look-alike class
    small = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival, share=0.01,
                                       share_from="first-epoch")
    np.testing.assert_array_equal(small.probability, fit.probability)
    assert small.share_from == "mixtures"
    # without the rival's probability there is nothing to tell two classes from many
    assert not flags.estimate_mislabelled(margin, prob, labels).flagged.any()
    margin, prob, rival, labels, _ = contested_data(spread=0.4)
    weak = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert weak.contested == () and not weak.flagged.any()


def test_contested_classes_weigh_their_labels_in_doubt_where_no_view_finds_them_apart(
) -> None:
    """Real arrays (tests/data/README.md: Fashion-MNIST, 40% of the labels flipped towards
    the class each image resembles): the contested classes hold flips the model accepts
    before memorising, which the rival's share (flagged where the model prefers the rival)
    leaves out. Where neither mixture finds the wrong labels apart, the posteriors flag a
    label in doubt there too (estimate 8); where the mixture over all samples does find
    them apart (a class of plainly wrong labels added), the rival's share decides again."""
    data = np.load(Path(__file__).parent / "data" / "fmnist-instance40-early.npz")
    margin, prob, rival = (data[k].astype(np.float64) for k in
                           ("early_aum", "early_learnability", "early_rival"))
    labels, wrong = data["labels"].astype(np.int64), data["flipped"]
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert fit.contested and not fit.mixtures[1].noise_found
    contested = np.isin(labels, fit.contested)
    share = np.where(margin < 0, rival / (prob + rival), 0)
    rival_only = np.where(contested, share, fit.probability) >= flags.FLAG_AT
    accepted = wrong & contested & (margin >= 0)
    assert accepted.sum() > 100 and not rival_only[accepted].any()
    assert fit.flagged[accepted].mean() > 0.5
    assert flag_quality(fit.flagged, wrong).f1 > flag_quality(rival_only, wrong).f1 + 0.03
    # 1,000 samples of an eleventh class, half of them plainly wrong: the mixture over all
    # samples now finds wrong labels apart, and vetoes the accepted flips again
    rng = np.random.default_rng(0)
    bad = rng.random(1000) < 0.5
    more = flags.estimate_mislabelled(
        np.r_[margin, np.where(bad, rng.normal(-4, 0.5, 1000), rng.normal(5, 0.5, 1000))],
        np.r_[prob, np.where(bad, 0.02, 0.98)], np.r_[labels, np.full(1000, 10)],
        early_rival=np.r_[rival, np.where(bad, 0.95, 0.01)])
    assert more.contested and more.mixtures[1].noise_found
    assert not more.flagged[:len(labels)][accepted].any()
    assert more.flagged[len(labels):][bad].all()


def flooded_class(seed: int) -> tuple[np.ndarray, ...]:
    """A fourth class of 900 beside :func:`contested_data`'s: two thirds of its labels
    flipped to it from look-alikes, their margins spread around 0 (a heavy-tailed spread),
    the clean ones at 0.8; the model has narrowed it down to two classes (label + rival
    0.9)."""
    rng = np.random.default_rng(seed)
    wrong = rng.random(900) < 2 / 3
    margin = np.where(wrong, rng.standard_t(3, 900) * 0.45 + 0.05, rng.normal(0.8, 0.45, 900))
    prob = 0.9 / (1 + np.exp(-margin))
    return margin, prob, 0.9 - prob, np.full(900, 3), wrong


@pytest.mark.parametrize("seed", [0, 3])
def test_a_class_flooded_by_look_alike_flips_is_contested_too(seed: int) -> None:
    """Where two thirds of a class's labels are flips from look-alike classes (Fashion-MNIST
    20,000, 40% instance-dependent flips: Coat), its mixture is a wide and a narrow
    component around one centre, neither rejected on average: no separation to speak of, so
    its own posteriors flagged 31 to 132 of its ~280 rejected labels, 96% of them wrong
    (estimate 9). Beside a contested pair it is contested too, and a label is flagged where
    the model prefers the rival; alone (no contested class: no evidence of look-alike flips)
    it is not."""
    margin, prob, rival, labels, wrong = (np.r_[a, b] for a, b in zip(
        contested_data(spread=0.03), flooded_class(seed), strict=True))
    flooded = labels == 3
    assert flags._groups_of(margin, by="early_aum", scale="margin", seed=0,
                            labels=labels).classes[3][1] is None  # no rejected component
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert 3 in fit.contested
    np.testing.assert_array_equal(fit.flagged[flooded], margin[flooded] < 0)
    assert wrong[flooded & fit.flagged].mean() > 0.9
    assert flag_quality(fit.flagged, wrong).f1 > 0.68
    assert not fit.flagged[labels == 2].any()  # the easy class: narrowed, but not rejected
    alone = labels >= 2
    fit = flags.estimate_mislabelled(margin[alone], prob[alone], labels[alone],
                                     early_rival=rival[alone])
    assert fit.contested == ()


def test_a_class_flooded_from_several_look_alikes_is_contested_too() -> None:
    """Real arrays of a CNN (tests/data/README.md: Fashion-MNIST, 40% of the labels flipped
    towards the class each image resembles): Pullover, Coat and Shirt hold more flips than
    clean labels, from several look-alike classes, and the CNN shares their probability
    among those, so the label and the rival add up to less than :data:`CONTESTED`. In doubt
    as a whole, with no rejected component apart, they are contested beside the contested
    Sandal (estimate 15); until estimate 14 only Sandal was, and F1 was 0.47."""
    data = np.load(Path(__file__).parent / "data" / "fmnist-cnn-instance40-early.npz")
    margin, prob, rival = (data[k].astype(np.float64) for k in
                           ("early_aum", "early_learnability", "early_rival"))
    labels, wrong = data["labels"].astype(np.int64), data["flipped"]
    flooded = np.isin(labels, [2, 4, 6])
    for c in (2, 4, 6):
        at = labels == c
        assert wrong[at].mean() > 0.5 and (prob[at] + rival[at]).mean() < flags.CONTESTED
        assert rival[at].mean() >= flags.DOUBT * prob[at].mean()
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert {2, 4, 5, 6} <= set(fit.contested)
    assert flag_quality(fit.flagged, wrong).f1 > 0.7
    assert wrong[flooded & fit.flagged].mean() > 0.85 and (flooded & fit.flagged).sum() > 500
    assert fit.flagged[labels == 1].mean() < 0.15  # Trouser, 8% of its labels flips


def test_two_classes_are_never_contested() -> None:
    """With two classes the label's and the rival's probabilities always add up to 1: the
    test says nothing, and the pair is left to the separation (none here: only the few
    outliers the model is sure of are flagged)."""
    margin, prob, rival, labels, _ = contested_data(spread=0.0)
    pair = labels < 2
    fit = flags.estimate_mislabelled(margin[pair], prob[pair], labels[pair],
                                     early_rival=rival[pair])
    assert fit.contested == () and not fit.noise_found
    assert fit.outliers is not None and fit.flagged.sum() == fit.outliers < 50


def test_a_hard_tail_is_not_a_population() -> None:
    """One skewed population whose hard end the model rejects (a weak model's clean data):
    the mixture's low component has a negative mean but is not apart from the rest
    (Ashman's D below 2), so nothing is flagged; the same samples with 20% wrong labels
    far below are apart, and flagged."""
    rng = np.random.default_rng(0)
    labels = np.zeros(4000, np.int64)
    skewed = 1.0 - rng.gamma(2, 1.5, 4000)  # 60% of the margins below 0
    fit = fit_mislabelled(skewed, by="aum", scale="margin", labels=labels)
    sep = fit.mixtures[0].separation
    assert sep is not None and sep < flags.SEPARATION and fit.mixtures[0].means[0] < 0
    assert not fit.noise_found and not fit.flagged.any()
    noisy = rng.random(4000) < 0.2
    margins = np.where(noisy, rng.normal(-8, 1, 4000), skewed + 6)
    fit = fit_mislabelled(margins, by="aum", scale="margin", labels=labels)
    assert fit.noise_found and fit.mixtures[0].separation >= flags.SEPARATION
    assert flag_quality(fit.flagged, noisy).f1 > 0.95


def test_a_component_collapsed_onto_one_outlier_is_fitted_again() -> None:
    """A Gaussian mixture's likelihood is unbounded as a component shrinks onto one value:
    sklearn's fit of one class (41% flipped labels overlapping the clean ones, and one
    sample far out) spends a component on the outlier, whose Ashman's D is then huge. The
    estimate fits again to the winsorized values: it finds the flipped heap, and on a clean
    class with the same outlier it finds nothing."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(1)
    noisy = np.r_[np.ones(58, bool), np.zeros(84, bool)]
    values = np.concatenate([rng.normal(-0.35, 0.2, 58), rng.normal(0.3, 0.2, 83), [-4.0]])
    plain = GaussianMixture(2, n_init=2, random_state=0, reg_covar=1e-6)
    plain.fit(values.reshape(-1, 1))
    assert plain.weights_.min() * len(values) < 2  # the premise: sklearn collapses here
    labels = np.zeros(len(values), np.int64)
    fit = fit_mislabelled(values, by="aum", scale="margin", labels=labels)
    assert 0.3 < fit.mixtures[0].weights[0] < 0.6 and fit.noise_found
    assert flag_quality(fit.flagged, noisy).f1 > 0.9
    clean = np.concatenate([rng.normal(0.3, 0.2, 141), [-4.0]])
    plain.fit(clean.reshape(-1, 1))
    order = np.argsort(plain.means_.ravel())
    assert flags._rejected_separation(plain, order) > 10  # collapsed: "wrong labels" before
    fit = fit_mislabelled(clean, by="aum", scale="margin", labels=labels)
    assert not fit.noise_found and not fit.flagged.any()


def tailed_pair(seed: int) -> tuple[np.ndarray, ...]:
    """A confusable pair (classes 0 and 1, 600 each) with 40% of the labels flipped to the
    partner: 220 flips at a margin of -0.3 beside 360 clean samples at +0.4 (sd 0.2), and
    20 flips far below (-2.4, sd 0.9); the model has narrowed the pair down to the two
    classes (label + rival 0.97). Class 2 is easy and clean."""
    rng = np.random.default_rng(seed)
    margin = np.concatenate([np.r_[rng.normal(0.4, 0.2, 360), rng.normal(-0.3, 0.2, 220),
                                   rng.normal(-2.4, 0.9, 20)] for _ in range(2)]
                            + [rng.normal(5, 1, 600)])
    wrong = np.r_[np.tile(np.r_[np.zeros(360, bool), np.ones(240, bool)], 2),
                  np.zeros(600, bool)]
    labels = np.repeat([0, 1, 2], 600)
    prob = 0.97 / (1 + np.exp(-margin))
    return margin, prob, 0.97 - prob, labels, wrong


@pytest.mark.parametrize("seed", [0, 1])
def test_the_far_tail_of_the_rejected_samples_is_not_them(seed: int) -> None:
    """The mixture of highest likelihood spends each pair class's low component on the 20
    flips far below and its high one on both heaps (Fashion-MNIST 20,000, 40% flips inside
    pairs, two draws of five: Dress and Bag). That component is apart (Ashman's D above 2)
    yet holds a few of the rejected samples: estimate 12 took the class for one whose wrong
    labels stand apart and flagged the 40 (F1 0.14). Estimate 13 takes such a class as one
    whose rejected samples are not apart: contested, flagged where the model prefers the
    rival. A component that holds the rejected samples (a few wrong labels far below an
    accepted class) stays apart."""
    from sklearn.mixture import GaussianMixture

    margin, prob, rival, labels, wrong = tailed_pair(seed)
    pair = labels == 1
    plain = GaussianMixture(2, n_init=2, random_state=0, reg_covar=1e-6)
    plain.fit(margin[pair].reshape(-1, 1))
    order = np.argsort(plain.means_.ravel())
    assert plain.weights_[order[0]] < 0.06  # the premise: the low component is the tail
    assert flags._rejected_separation(plain, order, one_class=True) > flags.SEPARATION
    assert flags._tail_only(plain, order, margin[pair])
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert fit.contested == (0, 1)
    assert flag_quality(fit.flagged, wrong).f1 > 0.9
    assert not fit.flagged[labels == 2].any()
    # a few plainly wrong labels below an accepted class: the low component holds them
    rng = np.random.default_rng(seed)
    few = rng.random(1200) < 0.05
    values = np.where(few, rng.normal(-2.5, 0.5, 1200), rng.normal(1.5, 0.4, 1200))
    plain.fit(values.reshape(-1, 1))
    assert not flags._tail_only(plain, np.argsort(plain.means_.ravel()), values)
    fit = fit_mislabelled(values, by="aum", scale="margin", labels=np.zeros(1200, np.int64))
    assert fit.noise_found and flag_quality(fit.flagged, few).f1 > 0.95


def test_a_class_rejected_as_a_whole_is_no_evidence() -> None:
    """Wrong labels are rejected beside samples the model accepts. A class whose margins sit
    in two heaps both below 0 (a weak model rejects the whole class) is apart (Ashman's D
    above 2) but holds no evidence: nothing is flagged. The same heaps shifted so that the
    high one is accepted are flagged."""
    rng = np.random.default_rng(0)
    labels = np.zeros(2000, np.int64)
    low = rng.random(2000) < 0.3
    margins = np.where(low, rng.normal(-1.4, 0.3, 2000), rng.normal(-0.15, 0.3, 2000))
    fit = fit_mislabelled(margins, by="aum", scale="margin", labels=labels)
    assert fit.mixtures[0].means[1] < 0 and fit.mixtures[0].separation == 0.0
    assert not fit.noise_found and not fit.flagged.any()
    fit = fit_mislabelled(margins + 1.0, by="aum", scale="margin", labels=labels)
    assert fit.noise_found and fit.mixtures[0].separation >= flags.SEPARATION
    assert flag_quality(fit.flagged, low).f1 > 0.9


def test_flag_says_why_it_abstains() -> None:
    from curator.flagging import flag_lines

    zeros = np.zeros(100, np.float32)

    def fit_with(separation: float | None, outliers: int | None = None) -> flags.MislabelFit:
        m = flags.Mixture("early_aum", (-0.5, 2.0), (1.0, 1.0), (0.3, 0.7),
                          flags.found(separation), True, separation)
        return flags.MislabelFit(zeros, (m,), outliers=outliers)

    (line,) = flag_lines(fit_with(None))
    assert "nothing flagged" in line and "every low mean at or above 0" in line
    (line,) = flag_lines(fit_with(1.5))
    assert "nothing flagged" in line and "Ashman's D at most 1.50, below 2" in line
    (line,) = flag_lines(fit_with(0.0))
    assert "nothing flagged" in line and "rejects the rest of that class too" in line
    (line,) = flag_lines(fit_with(1.5, outliers=3))
    assert "only the 3 outliers the model is sure of" in line and "1.50" in line
    found = flag_lines(fit_with(4.2))
    assert any("Ashman's D up to 4.20" in x for x in found)
    contested = flag_lines(replace(fit_with(1.5), contested=(0, 6)),
                           ["T-shirt", "b", "c", "d", "e", "f", "Shirt"])
    assert any("contested classes: T-shirt, Shirt" in x for x in contested)
    assert not any("nothing flagged" in x for x in contested)
    # with the labels: how many flags the contested classes' evidence lent the others
    probability = np.zeros(100, np.float32)
    probability[[1, 50, 51, 52]] = 0.9  # one flagged in class 0 (contested), three in 5
    labels = np.repeat(np.arange(10), 10)
    lent = flag_lines(replace(fit_with(1.5), contested=(0, 6), probability=probability),
                      None, labels)
    assert any("3 of the flags lie in the other classes" in x for x in lent), lent
    # the second view vetoes only where it is apart itself, and the rule printed says so
    for d, says in ((3.0, "both mixtures' low components claim it"),
                    (0.8, "is not apart, so it vetoes nothing")):
        second = flags.Mixture("early_learnability", (-0.6, -0.3), (0.6, 0.3), (0.4, 0.6),
                               flags.found(d), False, d)
        two = replace(fit_with(4.2), mixtures=(fit_with(4.2).mixtures[0], second))
        assert any(says in x for x in flag_lines(two)), flag_lines(two)
        # in a contested class the posteriors speak too where neither view is apart
        lines = flag_lines(replace(two, contested=(1,)))
        assert any("contested classes: 1" in x and ("both mixtures' low components claim "
                                                    "it (neither" in x) == (d < 2)
                   for x in lines), lines


@pytest.mark.slow
def test_flags_with_test_labels_as_noisy_as_the_training_labels(tmp_path: Path) -> None:
    """Pairs noise on digits with the test labels flipped the same way: the test split
    implies no wrong labels at all, and estimate 1 flagged nothing; the training data's own
    margins find them. The file records the noise kind and that the test labels were
    flipped; inspect says so."""
    out = tmp_path / "s.h5"
    r = runner.invoke(app, ["score", "--label-noise", "0.2", "--noise-kind", "pairs",
                            "--noise-test", "--epochs", "12", "--seeds", "2", "--device",
                            "cpu", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        assert f.data_spec["noise_kind"] == "pairs" and f.data_spec["noise_test"] is True
        s = f.score("mislabel_probability")
        noisy = f.noisy
    assert s.params["estimate"] == flags.ESTIMATE
    assert s.params["noise_share"] is not None
    q = flag_quality(s.values >= 0.5, noisy)
    assert q.f1 > 0.8, q
    r = runner.invoke(app, ["inspect", str(out)])
    assert "pairs, test labels flipped too" in " ".join(r.stdout.split())
    r = runner.invoke(app, ["flag", str(out)])
    assert r.exit_code == 0 and "Ashman's D up to" in " ".join(r.stdout.split())


@pytest.mark.slow
def test_a_stored_fit_of_the_older_estimate_is_made_again(tmp_path: Path) -> None:
    """A file scored before estimate 2 stores estimate 1's fit (no "estimate" in its params):
    prune reads the estimate made anew (without writing the file), flag stores it."""
    import h5py

    from curator.flagging import file_mislabel

    out = noisy_scores(tmp_path, seeds=1)
    with open_scores(out) as f:
        new = f.score("mislabel_probability")
    old = {k: v for k, v in new.params.items() if k != "estimate"} | {"noise_share": 0.0}
    with h5py.File(out, "a") as h:
        ds = h["scores/mislabel_probability"]
        ds[...] = 0  # estimate 1 on a noisy test split: nothing flagged
        ds.attrs["params"] = json.dumps(old)
        # its early scores and suggestions read another window than the estimate now reads
        for name in ("early_aum", "suggested_label"):
            params = json.loads(h[f"scores/{name}"].attrs["params"])
            h[f"scores/{name}"].attrs["params"] = json.dumps(
                params | {"early_epochs": params["early_epochs"] + 1})
    with open_scores(out) as f:
        assert f.score("mislabel_probability").params.get("estimate") is None
        fit = file_mislabel(f)
    assert fit is not None and fit.estimate == flags.ESTIMATE
    np.testing.assert_array_equal(fit.flagged, new.values >= 0.5)
    with open_scores(out) as f:  # read, not written
        assert not (f.score("mislabel_probability").values >= 0.5).any()
    r = runner.invoke(app, ["flag", str(out)])
    assert r.exit_code == 0 and "stored as score 'mislabel_probability'" in " ".join(
        r.stdout.split())
    with open_scores(out) as f:
        s = f.score("mislabel_probability")
        assert s.params["estimate"] == flags.ESTIMATE
        np.testing.assert_array_equal(s.values >= 0.5, new.values >= 0.5)
        # stored again over the window the estimate read
        window = s.params["window"]["epochs"]
        assert window == new.params["window"]["epochs"]
        for name in ("early_aum", "suggested_label", "suggestion_confidence"):
            assert f.score(name).params["early_epochs"] == window, name


def test_bad_input_one_class_and_everything_flagged() -> None:
    """One class: the estimate still runs (its mixture is the class's); every sample flagged:
    the default prune refuses with a clear error instead of keeping nothing."""
    from curator.pruning import plan_selection

    rng = np.random.default_rng(0)
    margin = np.r_[rng.normal(3, 1, 800), rng.normal(-3, 1, 200)]
    prob = 1 / (1 + np.exp(-margin))
    fit = flags.estimate_mislabelled(margin, prob, np.zeros(1000, np.int64),
                                     early_rival=1 - prob)
    assert fit.noise_found and 180 < fit.flagged.sum() < 230
    every = flags.MislabelFit(np.ones(1000, np.float32), ())
    with pytest.raises(CuratorError, match="every sample is flagged"):
        plan_selection(margin, 800, mislabel=every)


def test_labels_in_doubt_reach_the_boundary_only_where_wrong_labels_are_not_apart() -> None:
    """A rejected label is in doubt in every class; an accepted one whose rival gets at
    least DOUBT of its probability only in a learned class whose rejected samples do not
    stand apart (D below 2, or no rejected component at all)."""
    labels = np.repeat([0, 1, 2, 3], 4)
    margin = np.tile([-1.0, 0.3, 0.3, 2.0], 4)
    prob = np.tile([0.3, 0.45, 0.45, 0.9], 4)
    rival = np.tile([0.6, 0.4, 0.1, 0.05], 4)  # the second sample of each class hesitates
    classes = [(np.flatnonzero(labels == c), d) for c, d in enumerate([None, 5.0, 0.0, 1.2])]
    doubt = flags.in_doubt(margin, prob, rival, classes, 4).reshape(4, 4)
    np.testing.assert_array_equal(doubt, [[1, 1, 0, 0],   # not apart: the boundary too
                                          [1, 0, 0, 0],   # apart: the rejected only
                                          [1, 0, 0, 0],   # not learned (D 0): the same
                                          [1, 1, 0, 0]])  # not apart (D 1.2)
    # with two classes the rival is 1 - the label for every sample: the rejected only
    two = flags.in_doubt(margin[:8], prob[:8], 1 - prob[:8], classes[:2], 2)
    np.testing.assert_array_equal(two, margin[:8] < 0)
    with pytest.raises(CuratorError, match="differ in length"):
        flags.in_doubt(margin, prob, rival[:3], classes, 4)


def test_flips_at_the_boundary_are_flagged_where_the_model_accepts_them() -> None:
    """Class 0's wrong labels stand apart (the evidence); class 1's sit at the boundary
    (margins around +0.2, the rival 0.8 as likely as the label), as flips towards the class
    an image resembles do: flagged where the model still gives them their label, which the
    rejected-only rule left out; the clean samples stay unflagged."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 600)
    wrong = np.zeros(1800, bool)
    wrong[:150] = wrong[600:750] = True
    margin = rng.normal(4, 1, 1800)
    margin[:150] = rng.normal(-3, 0.5, 150)
    margin[600:750] = rng.normal(0.2, 0.5, 150)
    prob = np.clip(rng.normal(0.9, 0.03, 1800), 0, 0.99)
    prob[:150] = rng.uniform(0.05, 0.35, 150)
    prob[600:750] = rng.uniform(0.2, 0.4, 150)
    rival = np.where(wrong, 0.6, 0.05)
    rival[600:750] = 0.8 * prob[600:750]
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    assert fit.noise_found and fit.contested == ()
    accepted = wrong & (labels == 1) & (margin >= 0)
    assert accepted.sum() > 80 and fit.flagged[accepted].mean() > 0.9
    assert flag_quality(fit.flagged, wrong).f1 > 0.95
    assert not fit.flagged[~wrong].any()
    # the rejected-only rule (without the rival, nothing is in doubt beyond the rejected)
    old = flags.estimate_mislabelled(margin, prob, labels)
    assert not old.flagged[accepted].any() and flag_quality(old.flagged, wrong).f1 < 0.85


def test_the_window_ends_where_the_separation_has_fallen_well_below_its_peak() -> None:
    from curator.flags import SEPARATION_FALL, SeparationWindow, separation_window

    assert SEPARATION_FALL == 0.3
    # D 6.3 over 2 epochs, 3.9 over the curves' 8: fallen by 38%; the last window within
    # 30% of the peak (at least 4.41) is 6 (digits, 40% instance-dependent flips)
    ds = [(1, 2.6), (2, 6.3), (3, 6.2), (4, 5.7), (5, 5.3), (6, 4.6), (7, 4.1), (8, 3.9)]
    assert separation_window(ds, 8) == SeparationWindow(6, 8, 2, 6.3, 3.9)
    # fallen by 22% (mnist1d, 40% flips inside pairs, 60 epochs): the window stays
    ds = [(5, 3.6), (8, 3.4), (13, 2.8)]
    assert separation_window(ds, 13) == SeparationWindow(13, 13)
    # no evidence at the curves' window (clean data's hard classes early on), or a class
    # contested there (None): the window stays, however apart the early windows look
    assert separation_window([(2, 5.0), (8, 1.8)], 8) == SeparationWindow(8, 8)
    assert separation_window([(2, 5.0), (8, None)], 8) == SeparationWindow(8, 8)
    # a contested shorter window (None) is no peak; a growing separation keeps the window
    assert separation_window([(2, None), (3, 4.0), (8, 3.0)], 8) == SeparationWindow(8, 8)
    assert separation_window([(1, 3.0), (4, 6.0), (8, 6.5)], 8) == SeparationWindow(8, 8)
    assert separation_window([(8, 4.0)], 8) == SeparationWindow(8, 8)  # nothing shorter
    # the window's choice travels with a stored fit
    sep = SeparationWindow(6, 8, 2, 6.3, 3.9)
    assert SeparationWindow.from_params(sep.params) == sep
    # the shorter windows are compared only where the estimate found the wrong labels apart
    # with no class contested
    from curator.flags import MislabelFit, Mixture, may_shorten_window

    def fit(d: float | None, contested: tuple[int, ...] = ()) -> MislabelFit:
        mix = Mixture("early_aum", (-1.0, 2.0), (1.0, 1.0), (0.3, 0.7), True, True, d)
        return MislabelFit(np.zeros(3, np.float32), (mix,), contested=contested)

    assert may_shorten_window(fit(3.0))
    assert not may_shorten_window(fit(3.0, contested=(1,)))
    assert not may_shorten_window(fit(1.5)) and not may_shorten_window(fit(None))


def test_window_candidates_are_every_epoch_or_sixteen_spread_out() -> None:
    from curator.flags import window_candidates

    np.testing.assert_array_equal(window_candidates(5), [1, 2, 3, 4, 5])
    many = window_candidates(90)
    assert len(many) <= 16 and many[0] == 1 and many[-1] == 90
    assert (np.diff(many) > 0).all()


def four_classes(margin: np.ndarray, top: float) -> object:
    """Trajectories of 2 runs over 600 samples in 4 classes of 150 with these margins (2, T,
    600), the label's probability ``top`` x sigmoid(margin), and the test accuracy rising to
    the last epoch (the curves' window: all of them)."""
    from curator.scores import ArrayTrajectories

    t = margin.shape[1]
    p = top / (1 + np.exp(-margin))
    stats = {"p_true": p.astype(np.float32), "margin": margin.astype(np.float32),
             "correct": (margin > 0).astype(np.uint8)}
    acc = np.tile(np.linspace(0.6, 0.9, t), (2, 1))
    return ArrayTrajectories(stats, test_acc=acc, test_samples=1_000_000, num_classes=4,
                             labels=np.repeat(np.arange(4), 150))


def memorised_flips(erode: bool, seed: int = 0, t: int = 10) -> tuple[object, np.ndarray]:
    """4 classes with 30% flipped labels whose margins start well below the clean samples'
    and, with ``erode``, rise to theirs from the second epoch on (memorised)."""
    rng = np.random.default_rng(seed)
    n = 600
    flipped = rng.random(n) < 0.3
    base = np.where(flipped, rng.normal(-2.0, 0.6, n), rng.normal(2.0, 0.6, n))
    rise = np.clip((np.arange(t)[:, None] - 1) / (t - 2), 0, 1) * 4.0 * erode
    margin = base[None] + np.where(flipped[None], rise, 0) + rng.normal(0, 0.3, (2, t, n))
    return four_classes(margin, 0.95), flipped


def test_scores_read_the_window_before_memorising_eroded_the_separation() -> None:
    from curator.scores import compute_scores

    traj, flipped = memorised_flips(erode=True)
    scores = compute_scores(traj, ["mislabel_probability"])
    assert scores["early_aum"].params == {"early_epochs": 7}  # not the curves' 10
    window = scores["mislabel_probability"].params["window"]
    assert (window["epochs"], window["of"], window["peak"]) == (7, 10, 2)
    assert window["separation"] < 0.7 * window["peak_separation"]
    shorter = flag_quality(scores["mislabel_probability"].values >= 0.5, flipped).f1
    late = compute_scores(traj, ["mislabel_probability"], options={"early_epochs": 10})
    assert late["mislabel_probability"].params["window"] is None  # set by the caller
    assert shorter > flag_quality(late["mislabel_probability"].values >= 0.5, flipped).f1
    # a score of the window asked for alone reads the window the estimate reads
    alone = compute_scores(traj, ["early_aum"])
    assert list(alone) == ["early_aum"] and alone["early_aum"].params == {"early_epochs": 7}
    np.testing.assert_array_equal(alone["early_aum"].values, scores["early_aum"].values)
    # flips the model never fits keep the window of the curves
    traj, _ = memorised_flips(erode=False)
    kept = compute_scores(traj, ["mislabel_probability"])
    assert kept["early_aum"].params == {"early_epochs": 10}
    assert kept["mislabel_probability"].params["window"]["peak"] is None


def learned_late(seed: int = 0, t: int = 10) -> tuple[object, np.ndarray]:
    """4 classes the model learns from the third epoch on (every margin below 0 before), with
    20% flipped labels rejected throughout."""
    rng = np.random.default_rng(seed)
    flipped = rng.random(600) < 0.2
    clean = -2.0 + 6.0 * np.clip((np.arange(t)[:, None] - 2) / 4, 0, 1)
    margin = np.where(flipped[None], -4.0, clean)[None] + rng.normal(0, 0.3, (2, t, 600))
    return four_classes(margin, 0.5), flipped


def test_a_shorter_window_is_kept_only_where_its_estimate_finds_wrong_labels(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import curator.scores as scores_module
    from curator.flags import SeparationWindow
    from curator.scores import compute_scores

    traj, flipped = learned_late()
    # over the first 2 epochs no class is learned yet: the estimate finds no wrong labels
    early = compute_scores(traj, ["mislabel_probability"], options={"early_epochs": 2})
    assert not (early["mislabel_probability"].values >= 0.5).any()
    # a check that ends the window there (as a mixture without an accepted rest did on an
    # ImageNet-sized file) is not followed: the curves' window and its flags stay
    monkeypatch.setattr(scores_module, "memorising_window", lambda t, w: SeparationWindow(
        2, w, peak=2, peak_separation=9.0, separation=3.0))
    scores = compute_scores(traj, ["mislabel_probability"])
    assert scores["early_aum"].params == {"early_epochs": 10}
    assert scores["mislabel_probability"].params["window"]["peak"] is None
    assert flag_quality(scores["mislabel_probability"].values >= 0.5, flipped).f1 > 0.95


def test_the_window_check_keeps_a_mixture_per_class() -> None:
    from curator.flags import MIN_CLASS, WINDOW_SAMPLES, window_sample_count

    assert window_sample_count(60_000, 10) == WINDOW_SAMPLES
    assert window_sample_count(1_281_167, 1_000) == 2 * MIN_CLASS * 1_000  # ImageNet
    assert window_sample_count(20_000, 10) == 20_000  # all of a small data set
    assert window_sample_count(1_000_000, 21_841) == 1_000_000


def test_curator_flag_says_when_the_separation_ended_the_window() -> None:
    from curator.flagging import EarlyWindow

    line = EarlyWindow(6, 15, curves=8, peak=2, peak_separation=6.26,
                       separation=3.94).line()
    assert line == ("read the first 6 of 15 epochs, where the wrong labels' separation "
                    "(Ashman's D) fell from 6.3 over the first 2 to 3.9 over the 8 of the "
                    "test curves' window, though the test accuracy crept on: memorising "
                    "(docs/flags.md, step 1)")


# ---- a person's count of a contested class (flags.recount) -------------------------------


def overflagged_pair(seed: int = 0) -> tuple[flags.MislabelFit, np.ndarray, ...]:
    """Classes 0 and 1 contested, 10% and 30% of their 1,000 labels wrong, the model's rival
    share before memorising spread so widely that the flags (share at least 1/2) take 36%
    and 50%; class 2 clean and easy."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], 1000)
    wrong = np.zeros(3000, bool)
    wrong[rng.choice(1000, 100, replace=False)] = True
    wrong[1000 + rng.choice(1000, 300, replace=False)] = True
    share = np.where(wrong, rng.normal(0.72, 0.12, 3000), rng.normal(0.42, 0.15, 3000))
    share = np.clip(share, 0.01, 0.99)
    share[labels == 2] = 0.04
    prob, rival = 0.97 * (1 - share), 0.97 * share
    p = np.where((labels < 2) & (share >= 0.5), share, 0.0).astype(np.float32)
    fit = flags.MislabelFit(p, (), 0.2, "mixtures", contested=(0, 1))
    return fit, labels, prob, rival, wrong


def test_a_review_sample_is_a_fixed_random_order_of_the_class() -> None:
    labels = np.repeat([0, 1], 50)
    order = flags.review_order(labels, 1, seed=7)
    assert sorted(order) == list(range(50, 100))
    np.testing.assert_array_equal(order, flags.review_order(labels, 1, seed=7))
    assert not np.array_equal(order, flags.review_order(labels, 1, seed=8))
    assert not np.array_equal(order, np.arange(50, 100))


def test_only_the_first_answered_part_of_a_review_sample_counts() -> None:
    order = np.arange(100)[::-1]
    answered = np.zeros(100, bool)
    answered[order[:30]] = True
    answered[order[5]] = False  # one skipped: the draw goes on
    answered[order[80]] = True  # answered elsewhere (the flags' queue): not of the draw
    drawn = flags.sample_answers(order, answered)
    assert len(drawn) == 29 and order[80] not in drawn and order[5] not in drawn
    assert len(flags.sample_answers(order, np.zeros(100, bool))) == 0
    low, high = flags.wilson(13, 50, z=1.959964)  # at 95%
    assert round(low, 3) == 0.159 and round(high, 3) == 0.396
    assert flags.wilson(13, 50)[0] < low < 13 / 50 < high < flags.wilson(13, 50)[1] < 1
    assert flags.wilson(0, 50)[0] == 0 and flags.wilson(50, 50)[1] == pytest.approx(1)
    assert np.diff(flags.wilson(26, 100)) < np.diff(flags.wilson(13, 50))


def test_a_person_s_count_sets_the_flags_of_a_contested_class() -> None:
    """The flags take 36% and 50% of two contested classes where 10% and 30% are wrong; 50
    answers of each one's review sample count them, and the flags follow the count."""
    fit, labels, prob, rival, wrong = overflagged_pair()
    seed = 3
    asked = np.concatenate([flags.review_order(labels, c, seed)[:50] for c in (0, 1)])
    after = flags.recount(fit, labels, prob, rival, asked, wrong[asked], seed=seed)
    before_f1 = flag_quality(fit.flagged, wrong).f1
    assert [c.recounted for c in after.counts] == [True, True]
    for c, truth in zip(after.counts, (100, 300), strict=True):
        assert c.answered == 50 and c.low <= truth / 1000 <= c.high
        assert c.flagged_before == int(fit.flagged[labels == c.cls].sum())  # the model's
        assert c.flagged_before > 330 and abs(c.flagged_after - 1000 * c.wrong / 50) <= 50
    assert flag_quality(after.flagged, wrong).f1 > before_f1 + 0.05
    np.testing.assert_array_equal(after.probability[asked], wrong[asked])
    np.testing.assert_array_equal(after.probability[labels == 2], fit.probability[labels == 2])
    # the rival's share still orders each class: the flagged are its highest shares
    share = rival / (prob + rival)
    rest = np.setdiff1d(np.flatnonzero(labels == 0), asked)
    assert share[rest][after.flagged[rest]].min() >= share[rest][~after.flagged[rest]].max()
    back = flags.MislabelFit.from_stored(after.probability, after.params)
    assert back is not None and back.counts == after.counts and back.answered == 100


def test_a_count_that_agrees_with_the_flags_or_is_too_small_leaves_them() -> None:
    fit, labels, prob, rival, wrong = overflagged_pair()
    seed = 3
    asked = np.concatenate([flags.review_order(labels, c, seed)[:50] for c in (0, 1)])
    # a person who answers as the flags stand: the share flagged lies inside the count's
    agree = flags.recount(fit, labels, prob, rival, asked, fit.flagged[asked], seed=seed)
    assert not any(c.recounted for c in agree.counts)
    unanswered = np.setdiff1d(np.arange(3000), asked)
    np.testing.assert_array_equal(agree.probability[unanswered], fit.probability[unanswered])
    few = asked[:flags.COUNT_MIN - 1]
    small = flags.recount(fit, labels, prob, rival, few, wrong[few], seed=seed)
    assert [c.answered for c in small.counts] == [flags.COUNT_MIN - 1, 0]
    assert not any(c.recounted for c in small.counts)
    assert flags.recount(fit, labels, prob, rival, np.array([], np.int64),
                         np.array([], bool), seed=seed) is fit
    with pytest.raises(CuratorError, match="answers"):
        flags.recount(fit, labels, prob, rival, asked, wrong[asked][:3], seed=seed)
    with pytest.raises(CuratorError, match="outside the 3000 samples"):
        flags.recount(fit, labels, prob, rival, np.array([3000]), np.array([True]), seed=seed)


def _early_npz(name: str) -> tuple[np.ndarray, ...]:
    data = np.load(Path(__file__).parent / "data" / f"{name}.npz")
    return (*(data[k].astype(np.float64) for k in ("early_aum", "early_learnability",
                                                    "early_rival")),
            data["labels"].astype(np.int64), data["flipped"])


CNN_CLEAN_FINGERPRINT = "96d97f3ccd914f69"


def _cnn_clean_file(tmp_path: Path) -> tuple[Path, flags.MislabelFit]:
    """A scores file holding a CNN's clean arrays (:func:`_early_npz`) and the default
    estimate made from them (two classes contested), learnability the early probability."""
    from curator import store
    from curator.store import ScoreValues

    margin, prob, rival, labels, _ = _early_npz("fmnist-cnn-clean-early")
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    path = tmp_path / "s.h5"
    store.create_file(path, labels=labels, num_classes=10, data={
        "data": "npz:x.npz", "label_noise": 0.0, "noise_seed": 0, "noise_kind": "symmetric"},
                      fingerprint=CNN_CLEAN_FINGERPRINT, config={})
    early = {name: ScoreValues(v.astype(np.float32), h, name, ()) for name, v, h in
             (("early_aum", margin, "easier"), ("early_learnability", prob, "easier"),
              ("early_rival", rival, "harder"), ("learnability", prob, "easier"))}
    store.write_scores(path, {**early, "mislabel_probability": ScoreValues(
        fit.probability, "harder", "the estimate", (), fit.params)})
    return path, fit


def _count_all(fit: flags.MislabelFit, labels: np.ndarray, wrong: np.ndarray, seed: int,
               m: int = flags.COUNT_ASKED) -> tuple[np.ndarray, np.ndarray]:
    """A person who answers the first ``m`` of each contested class's review sample truly."""
    asked = np.concatenate([flags.review_order(labels, c, seed)[:m] for c in fit.contested])
    return asked, wrong[asked]


def test_a_count_that_finds_the_contested_classes_clean_withdraws_their_evidence() -> None:
    """Real arrays of a CNN on Fashion-MNIST with its real labels (tests/data/README.md):
    Coat and Shirt are contested, and their evidence lets the other classes flag too — 17%
    of the samples. A person who answers 50 of each one's review sample and finds every label
    right contradicts the flags far more often than the estimate with no class contested:
    the evidence is withdrawn, and the flags are that estimate's, at most 0.5% of the
    samples, in every draw."""
    margin, prob, rival, labels, wrong = _early_npz("fmnist-cnn-clean-early")
    assert not wrong.any()
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    plain = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival, contest=False)
    assert fit.contested == (4, 6) and fit.flagged.mean() > 0.1
    assert plain.contested == () and plain.flagged.mean() <= 0.005
    inside = np.isin(labels, fit.contested)
    for seed in range(3):
        asked, answers = _count_all(fit, labels, wrong, seed)
        after = flags.recount(fit, labels, prob, rival, asked, answers, seed=seed, plain=plain)
        for c in after.counts:
            at = labels == c.cls
            drawn = asked[labels[asked] == c.cls]
            assert c.plain == int(plain.flagged[at].sum())
            assert (c.errors, c.plain_errors) == (int(fit.flagged[drawn].sum()),
                                                  int(plain.flagged[drawn].sum()))
            assert c.errors >= 5 and c.plain_errors <= 1
        assert after.withdrawn == int(fit.flagged[~inside].sum()) > 0.1 * (~inside).sum()
        assert after.flagged.mean() <= 0.005
        np.testing.assert_array_equal(after.probability[~inside], plain.probability[~inside])
        assert (after.share, after.share_from) == (plain.share, plain.share_from)
        back = flags.MislabelFit.from_stored(after.probability, after.params)
        assert back is not None and back.withdrawn == after.withdrawn
        assert back.counts == after.counts
    # without the estimate to fall back on, the counts set the contested classes alone
    alone = flags.recount(fit, labels, prob, rival, asked, answers, seed=2)
    assert alone.withdrawn is None and alone.flagged[~inside].sum() == after.withdrawn


def test_a_count_that_finds_the_flips_keeps_the_evidence() -> None:
    """The CNN's arrays with 40% of the labels flipped: answers that tell the truth find the
    flips the contested classes hold, and the flags elsewhere stand."""
    margin, prob, rival, labels, wrong = _early_npz("fmnist-cnn-instance40-early")
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    plain = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival, contest=False)
    inside = np.isin(labels, fit.contested)
    for seed in range(3):
        asked, answers = _count_all(fit, labels, wrong, seed)
        after = flags.recount(fit, labels, prob, rival, asked, answers, seed=seed, plain=plain)
        assert after.withdrawn is None
        assert sum(c.plain_errors for c in after.counts) > sum(c.errors for c in after.counts)
        untouched = ~inside & ~np.isin(np.arange(len(labels)), asked)
        np.testing.assert_array_equal(after.flagged[untouched], fit.flagged[untouched])
        assert flag_quality(after.flagged, wrong).f1 >= flag_quality(fit.flagged, wrong).f1


def test_curator_flag_withdraws_the_evidence_a_count_finds_clean(tmp_path: Path) -> None:
    """The file layer: `curator flag --answers` on a file that stores the CNN's clean early
    scores and its estimate (no runs: the estimate with no class contested takes the
    mixtures' own weights), answers that keep every label of the contested classes' review
    samples: the evidence is withdrawn, said, and stored."""
    from curator import corrections
    from curator.flagging import data_seed, read_report

    margin, prob, rival, labels, _ = _early_npz("fmnist-cnn-clean-early")
    path, fit = _cnn_clean_file(tmp_path)
    fingerprint = CNN_CLEAN_FINGERPRINT
    seed = data_seed(fingerprint)
    asked = np.concatenate([flags.review_order(labels, c, seed)[:50] for c in fit.contested])
    answers = corrections.write(corrections.make(fingerprint, labels, 10, keep=asked),
                                tmp_path / "answers.csv")
    r = runner.invoke(app, ["flag", str(path), "--answers", str(answers)])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    outside = int(fit.flagged[~np.isin(labels, fit.contested)].sum())
    assert "evidence is withdrawn" in said and f"(were {outside})" in said
    plain = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival, contest=False)
    for c in fit.contested:
        assert f"with no class contested, which flags {int(plain.flagged[labels == c].sum())} (" \
            in said
    after = read_report(path)[0].fit  # read back: no new fit
    assert after.withdrawn == outside and after.answered == 100
    assert after.flagged.mean() <= 0.005 and not after.flagged[asked].any()


def test_the_answers_check_both_estimates_and_need_every_contested_class() -> None:
    """Two classes of a CNN's clean arrays contested; answers that find a few wrong labels
    (the ones the flags rank first) still contradict the flags more often than the estimate
    with no class contested, up to where the two err alike (then the flags stand); a class
    counted from fewer than :data:`COUNT_MIN` answers withdraws nothing; counts stored
    before these fields read back as None."""
    margin, prob, rival, labels, _ = _early_npz("fmnist-cnn-clean-early")
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    plain = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival, contest=False)
    share = flags.rival_share(prob, rival)
    asked = np.concatenate([flags.review_order(labels, c, 0)[:50] for c in fit.contested])
    withdrawn = []
    for k in (0, 4, 8, 12, 16, 20):
        wrong = np.zeros(len(asked), bool)
        for j in range(len(fit.contested)):  # the k the flags rank first, in each class
            part = np.arange(50 * j, 50 * j + 50)
            wrong[part[np.argsort(-share[asked[part]])[:k]]] = True
        after = flags.recount(fit, labels, prob, rival, asked, wrong, seed=0, plain=plain)
        errors = sum(c.errors for c in after.counts)
        assert (after.withdrawn is not None) == (sum(c.plain_errors for c in after.counts)
                                                 < errors)
        withdrawn.append(after.withdrawn is not None)
    assert withdrawn[:2] == [True, True] and not withdrawn[-1]
    assert withdrawn == sorted(withdrawn, reverse=True)  # more wrong: the flags stand sooner
    few = np.concatenate([asked[:50], asked[50:50 + flags.COUNT_MIN - 1]])
    after = flags.recount(fit, labels, prob, rival, few, np.zeros(len(few), bool), seed=0,
                          plain=plain)
    assert after.withdrawn is None and after.counts[1].answered == flags.COUNT_MIN - 1
    stored = {k: v for k, v in after.counts[0].params.items()
              if k not in ("plain", "errors", "plain_errors")}
    back = flags.ClassCount.from_params(stored)
    assert (back.plain, back.errors, back.plain_errors) == (None, None, None)


def test_curator_flag_reads_a_person_s_answers_and_stores_them(tmp_path: Path) -> None:
    """`curator flag --answers`: every answered sample flagged as answered, stored with the
    estimate (prune and relabel read it back), and answers for other data refused with the
    file left as it was."""
    import hashlib
    import shutil

    from curator import corrections
    from curator.flagging import read_report

    path = tmp_path / "s.h5"
    shutil.copy(Path(__file__).parent / "data" / "scores-v0.2.0.h5", path)
    before = read_report(path)[0]
    flagged = np.flatnonzero(before.fit.flagged)
    clean = np.flatnonzero(~before.fit.flagged)
    keep, drop = flagged[:3], clean[:2]
    rows = corrections.make(before.fingerprint, before.labels, len(before.classes),
                            keep=keep, drop=drop, relabel={int(flagged[3]): int(
                                (before.labels[flagged[3]] + 1) % len(before.classes))})
    answers = corrections.write(rows, tmp_path / "answers.csv")
    r = runner.invoke(app, ["flag", str(path), "--answers", str(answers)])
    assert r.exit_code == 0, r.output
    assert "a person's answers: 6 samples" in " ".join(r.output.split())
    after = read_report(path)[0]  # read back: no new fit
    assert after.fit.answered == 6
    assert not after.fit.flagged[keep].any() and after.fit.flagged[drop].all()
    assert after.fit.flagged[flagged[3]]
    others = np.setdiff1d(np.arange(len(before.labels)), [*keep, *drop, flagged[3]])
    np.testing.assert_array_equal(after.fit.flagged[others], before.fit.flagged[others])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    other = corrections.write(replace(rows, fingerprint="0" * 16), tmp_path / "other.csv")
    r = runner.invoke(app, ["flag", str(path), "--answers", str(other)])
    assert r.exit_code == 1 and "made for other data" in " ".join(r.output.split())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_relabel_says_when_contested_classes_are_not_counted() -> None:
    """`curator relabel` on flags whose contested classes no person counted says how many of
    its corrections lie in them and in the other classes (a CNN's clean arrays: every one of
    them is a clean sample), and nothing once they are counted or where none is contested."""
    from curator.flagging import planned_corrections, uncounted_lines

    margin, prob, rival, labels, _ = _early_npz("fmnist-cnn-clean-early")
    fit = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival)
    suggested = np.where(fit.flagged, (labels + 1) % 10, -1)
    confidence = np.where(np.arange(len(labels)) % 2 == 0, 0.9, 0.1)
    made = planned_corrections("0" * 16, labels, 10, fit.flagged, suggested, confidence)
    changed = np.isin(np.arange(len(labels)), made.index[made.action != "keep"])
    np.testing.assert_array_equal(changed, fit.flagged)
    inside = np.isin(labels, fit.contested) & fit.flagged
    lines = uncounted_lines(fit, labels, changed, "these corrections", "relabel",
                            [f"c{c}" for c in range(10)])
    said = " ".join(" ".join(lines).split())
    assert len(lines) == 1 and len(made.relabelled) and len(made.dropped)
    names = ", ".join(f"c{c}" for c in fit.contested)
    assert (f"the contested classes {names} are not counted: {int(inside.sum())} of these "
            f"corrections lie in them and {int((fit.flagged & ~inside).sum())} in the "
            "classes not contested") in said
    plain = flags.estimate_mislabelled(margin, prob, labels, early_rival=rival, contest=False)
    asked = np.concatenate([flags.review_order(labels, c, 0)[:50] for c in fit.contested])
    counted = flags.recount(fit, labels, prob, rival, asked, np.zeros(len(asked), bool),
                            seed=0, plain=plain)
    for other in (counted, plain, None):
        assert uncounted_lines(other, labels, changed, "these corrections", "relabel") == []
    _, second = fit.contested[:2]  # one class counted, the other short of COUNT_MIN
    few = np.concatenate([asked[:50], asked[50:50 + flags.COUNT_MIN - 1]])
    part = flags.recount(fit, labels, prob, rival, few, np.zeros(len(few), bool), seed=0,
                         plain=plain)
    said = " ".join(" ".join(uncounted_lines(part, labels, changed, "these corrections",
                                             "relabel")).split())
    left = int((changed & (labels == second)).sum())
    assert (f"the contested classes {second} are not counted: {left} of these corrections"
            in said)


def test_curator_prune_says_when_contested_classes_are_not_counted(tmp_path: Path) -> None:
    """The default `curator prune` on a CNN's clean arrays (two classes contested, no
    count) drops every flagged sample and says how many lie in the contested classes and
    how many in the others."""
    path, fit = _cnn_clean_file(tmp_path)
    _, _, _, labels, _ = _early_npz("fmnist-cnn-clean-early")
    r = runner.invoke(app, ["prune", str(path), "--keep", "0.7"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    inside = int((fit.flagged & np.isin(labels, fit.contested)).sum())
    assert (f"{int(fit.flagged.sum())} samples flagged as mislabelled" in said
            and f"are not counted: {inside} of the flagged it drops lie in them and "
            f"{int(fit.flagged.sum()) - inside} in the classes not contested" in said
            and "then prune" in said)


def test_relabel_keeps_a_person_s_answers(tmp_path: Path) -> None:
    """`curator relabel --answers`: the person's rows as they are (a relabel to their own
    class, a keep of a flagged sample, a drop), the flags' plan for the flagged samples they
    do not answer; answers for other data refused, and the same file for both refused."""
    import shutil

    from curator import corrections
    from curator.flagging import read_report

    path = tmp_path / "s.h5"
    shutil.copy(Path(__file__).parent / "data" / "scores-v0.2.0.h5", path)
    report = read_report(path)[0]
    flagged = np.flatnonzero(report.fit.flagged)
    assert len(flagged) >= 3
    k = len(report.classes)
    mine = {int(flagged[0]): int((report.labels[flagged[0]] + 1) % k)}
    rows = corrections.make(report.fingerprint, report.labels, k, relabel=mine,
                            keep=flagged[1:2], drop=flagged[2:3])
    answers = corrections.write(rows, tmp_path / "answers.csv")
    plain = tmp_path / "plain.csv"
    assert runner.invoke(app, ["relabel", str(path), "--out", str(plain)]).exit_code == 0
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["relabel", str(path), "--out", str(out), "--answers", str(answers)])
    assert r.exit_code == 0, r.output
    assert "help most" not in r.output  # the queue to answer is named only without answers
    got, before = corrections.read(out), corrections.read(plain)
    at = {int(i): (str(a), int(y)) for i, a, y in zip(got.index, got.action, got.label,
                                                      strict=True)}
    assert at[int(flagged[0])] == ("relabel", mine[int(flagged[0])])
    assert at[int(flagged[1])] == ("keep", -1) and at[int(flagged[2])] == ("drop", -1)
    rest = {int(i): (str(a), int(y)) for i, a, y in zip(before.index, before.action,
                                                        before.label, strict=True)
            if i not in flagged[:3]}
    assert {i: v for i, v in at.items() if i not in flagged[:3]} == rest
    other = corrections.write(replace(rows, fingerprint="0" * 16), tmp_path / "other.csv")
    r = runner.invoke(app, ["relabel", str(path), "--out", str(tmp_path / "o2.csv"),
                            "--answers", str(other)])
    assert r.exit_code == 1 and "made for other data" in " ".join(r.output.split())
    assert not (tmp_path / "o2.csv").exists()
    r = runner.invoke(app, ["relabel", str(path), "--out", str(answers), "--answers",
                            str(answers), "--force"])
    assert r.exit_code == 1 and "are the same file" in " ".join(r.output.split())
    assert corrections.read(answers).index.tolist() == rows.index.tolist()


def test_most_likely_first_breaks_ties_by_the_surest_suggestion() -> None:
    """Saturated posteriors (1.0 for many of a CNN's flags) are ordered by the suggestion's
    confidence, then by index; without confidences by index alone."""
    from curator.flags import most_likely_first

    p = np.array([0.2, 1.0, 0.7, 1.0, 1.0, 0.7])
    conf = np.array([0.9, 0.3, 0.8, 0.95, 0.3, 0.9])
    assert most_likely_first(p, conf).tolist() == [3, 1, 4, 5, 2, 0]
    assert most_likely_first(p).tolist() == [1, 3, 4, 2, 5, 0]
