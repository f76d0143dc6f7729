"""Eq. 1 and Eq. 2 of seed 001 on hand-made trajectories."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from curator import flags
from curator import scores as scores_mod
from curator.errors import CuratorError, FormatError
from curator.scores import ArrayTrajectories, compute_scores, rank_easiest_first

# R = 2 runs, T = 3 epochs, N = 4 samples: p_t(i) chosen so the means are exact
P_TRUE = np.array([
    [[0.9, 0.1, 0.5, 0.5], [1.0, 0.2, 0.5, 0.6], [0.8, 0.3, 0.5, 0.7]],  # run 0
    [[0.7, 0.0, 0.5, 0.5], [1.0, 0.1, 0.5, 0.6], [1.0, 0.2, 0.5, 0.7]],  # run 1
])
# run means: sample 0: 0.9, 0.9; sample 1: 0.2, 0.1; sample 2: 0.5, 0.5; sample 3: 0.6, 0.6
EXPECTED_L = np.array([0.9, 0.15, 0.5, 0.6])
CORRECT = P_TRUE > 0.5


def full(p_true: np.ndarray, correct: np.ndarray | None = None, **stats: np.ndarray
         ) -> ArrayTrajectories:
    """Trajectories with every statistic; unspecified ones derived from p_true."""
    correct = p_true > 0.5 if correct is None else correct
    base = {"p_true": p_true, "correct": correct, "loss": -np.log(np.maximum(p_true, 1e-9)),
            "margin": p_true - 0.5, "el2n": 1 - p_true,
            "rival": np.ones(np.shape(p_true), dtype=np.uint8)}
    base.update(stats)
    return ArrayTrajectories(base)


def test_learnability_is_mean_over_epochs_then_runs() -> None:
    s = compute_scores(full(P_TRUE))
    np.testing.assert_allclose(s["learnability"].values, EXPECTED_L, rtol=1e-6)
    assert s["learnability"].higher_is == "easier"
    assert s["learnability"].runs == ("run-0", "run-1")


def test_learnability_rank_is_eq2() -> None:
    s = compute_scores(full(P_TRUE))
    # easiest (0.9) is rank 1, then 0.6, 0.5, 0.15
    np.testing.assert_array_equal(s["learnability_rank"].values, [1, 4, 3, 2])
    assert s["learnability_rank"].higher_is == "harder"


def test_hit_rate_counts_correct_epochs_over_runs() -> None:
    s = compute_scores(full(P_TRUE))
    # sample 0: 6/6; sample 1: 0/6; sample 2: 0.5 is not > 0.5: 0/6; sample 3: 0.6, 0.7 twice
    np.testing.assert_allclose(s["hit_rate"].values, [1.0, 0.0, 0.0, 4 / 6], rtol=1e-6)


def test_ties_share_the_largest_rank() -> None:
    # Eq. 2 with <=: tied samples count each other, so both 0.8s get rank 3
    np.testing.assert_array_equal(rank_easiest_first(np.array([0.8, 0.9, 0.8, 0.95, 0.1])),
                                  [4, 2, 4, 1, 5])
    np.testing.assert_array_equal(rank_easiest_first(np.full(3, 0.5)), [3, 3, 3])


def test_rank_is_eq2_of_the_stored_values_when_float32_ties() -> None:
    # the two means differ in float64 (5e-13) but are equal once stored as float32: the
    # stored rank must be Eq. 2 of the stored values, so both share the larger rank
    p = np.array([[[0.5, 0.5 + 1e-12, 0.9], [0.5, 0.5, 0.9]]])
    s = compute_scores(full(p), ["learnability_rank"])
    stored = s["learnability"].values
    assert stored.dtype == np.float32 and stored[0] == stored[1]
    np.testing.assert_array_equal(s["learnability_rank"].values, [3, 3, 1])
    np.testing.assert_array_equal(s["learnability_rank"].values, eq2(stored))


def eq2(values: np.ndarray) -> np.ndarray:
    """Seed 001's Eq. 2 written as its sum, O(N^2): R_i = sum_j 1[L_i <= L_j]."""
    v = np.asarray(values, dtype=np.float64)
    return (v[:, None] <= v[None, :]).sum(axis=1)


def test_single_epoch_single_run() -> None:
    p = np.array([[[0.25, 0.75]]])
    s = compute_scores(full(p))
    np.testing.assert_allclose(s["learnability"].values, [0.25, 0.75])
    np.testing.assert_array_equal(s["learnability_rank"].values, [2, 1])
    np.testing.assert_array_equal(s["forgetting"].values, [1, 0])  # never learned = T = 1
    np.testing.assert_array_equal(s["iteration_learned"].values, [1, 0])
    np.testing.assert_array_equal(s["unforgettable"].values, [0, 1])
    np.testing.assert_array_equal(s["variability"].values, [0, 0])
    np.testing.assert_allclose(s["el2n"].values, [0.75, 0.25])
    assert s["el2n"].params == {"el2n_epoch": 1}


def test_rank_refuses_nan() -> None:
    with pytest.raises(CuratorError, match="NaN"):
        rank_easiest_first(np.array([0.1, np.nan]))


def test_blocks_give_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    p = rng.random((3, 5, 101))
    traj = full(p, p > 0.4)
    whole = compute_scores(traj)
    monkeypatch.setattr(scores_mod, "BLOCK_BYTES", 3 * 5 * 4 * 5 * 7)  # 7 samples per block
    blocked = compute_scores(traj)
    for name in whole:
        np.testing.assert_array_equal(whole[name].values, blocked[name].values)


def test_derived_score_brings_its_source() -> None:
    s = compute_scores(full(P_TRUE), ["learnability_rank"])
    assert set(s) == {"learnability", "learnability_rank"}
    s = compute_scores(full(P_TRUE), ["cartography_region"])
    assert set(s) == {"confidence", "variability", "cartography_region"}


@given(arrays(np.float64, st.integers(1, 60),
              elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])))
def test_rank_matches_the_definition(values: np.ndarray) -> None:
    brute = (values[:, None] <= values[None, :]).sum(axis=1)
    np.testing.assert_array_equal(rank_easiest_first(values), brute)


# R = 2, T = 4, N = 4 correctness patterns, with the expected values worked out by hand
PATTERNS = np.array([
    [[1, 0, 1, 0], [1, 0, 0, 1], [1, 0, 1, 1], [1, 0, 1, 0]],  # run 0, epochs x samples
    [[1, 0, 1, 1], [1, 0, 1, 0], [1, 0, 0, 1], [1, 1, 1, 0]],  # run 1
], dtype=bool)
# sample 0: 1111 / 1111; sample 1: 0000 / 0001; sample 2: 1011 / 1101; sample 3: 0110 / 1010


def test_forgetting_iteration_learned_unforgettable_by_hand() -> None:
    s = compute_scores(full(np.where(PATTERNS, 0.9, 0.1), PATTERNS))
    # forgetting: s0 0/0; s1 never learned = T = 4 / 0; s2 1/1; s3 1/2
    np.testing.assert_allclose(s["forgetting"].values, [0, 2, 1, 1.5])
    # first epoch from which always correct: s0 0/0; s1 4 (never) / 3; s2 2/3; s3 4/4
    np.testing.assert_allclose(s["iteration_learned"].values, [0, 3.5, 2.5, 4])
    np.testing.assert_array_equal(s["unforgettable"].values, [1, 0, 0, 0])
    np.testing.assert_allclose(s["hit_rate"].values, [1, 1 / 8, 6 / 8, 4 / 8])
    np.testing.assert_allclose(s["correctness"].values, s["hit_rate"].values)
    assert s["forgetting"].higher_is == "harder" and s["unforgettable"].higher_is == "easier"


def test_easiness_counts_the_first_k_epochs() -> None:
    s = compute_scores(full(np.where(PATTERNS, 0.9, 0.1), PATTERNS), ["easiness"],
                       options={"easy_epochs": 2})
    np.testing.assert_allclose(s["easiness"].values, [1, 0, 0.75, 0.5])
    assert s["easiness"].params == {"easy_epochs": 2}
    default = compute_scores(full(np.where(PATTERNS, 0.9, 0.1), PATTERNS), ["easiness"])
    assert default["easiness"].params == {"easy_epochs": 1}  # ceil(4 / 5)


def test_the_early_window_reads_the_test_loss_where_the_runs_record_it() -> None:
    """``early_aum`` reads the epochs before the test loss clearly rises (memorising a test
    split whose labels are wrong the way the training labels are); runs recorded without a
    test loss (NaN: ``Recorder.end_epoch(test_acc=...)`` alone) keep the accuracy's window."""
    from curator.scores import options_of
    t = 10
    p = np.tile(np.linspace(0.2, 0.9, t)[None, :, None], (1, 1, 3))
    acc = np.array([[0.60, 0.65, 0.68, 0.70, 0.69, 0.70, 0.71, 0.72, 0.73, 0.74]])
    loss = np.array([[0.90, 0.80, 0.75, 0.70, 0.72, 0.80, 0.90, 1.00, 1.10, 1.20]])
    base = full(p)
    plain = ArrayTrajectories(base.stats, test_acc=acc, test_samples=100_000, num_classes=10)
    assert options_of(plain)["early_epochs"] == 10  # the best accuracy: the last epoch
    told = ArrayTrajectories(base.stats, test_acc=acc, test_samples=100_000, num_classes=10,
                             test_loss=loss)
    # the loss's noise 0.0586: risen from epoch 7 (0.90 >= 0.70 + 3 x 0.0586); the best
    # accuracy before it, 0.70, is reached in epoch 4, during it (from 0.68): one more
    assert options_of(told)["early_epochs"] == 5
    early = compute_scores(told, ["early_learnability"])["early_learnability"]
    assert early.params == {"early_epochs": 5}
    np.testing.assert_allclose(early.values, p[0, :5, 0].mean(), rtol=1e-6)
    unknown = ArrayTrajectories(base.stats, test_acc=acc, test_samples=100_000,
                                num_classes=10, test_loss=np.full((1, t), np.nan))
    assert options_of(unknown)["early_epochs"] == 10


def test_aum_el2n_variability_by_hand() -> None:
    margin = np.array([[[2.0, -1.0], [4.0, -3.0]], [[0.0, 1.0], [2.0, -1.0]]])  # R=2, T=2
    el2n = np.array([[[0.2, 1.0], [0.1, 1.2]], [[0.4, 0.8], [0.3, 1.0]]])
    p = np.array([[[0.0, 0.5], [1.0, 0.5]], [[0.5, 0.2], [0.5, 0.4]]])
    s = compute_scores(full(p, margin=margin, el2n=el2n), options={"el2n_epoch": 2})
    np.testing.assert_allclose(s["aum"].values, [2.0, -1.0])
    early = compute_scores(full(p, margin=margin), ["early_aum"], options={"early_epochs": 1})
    np.testing.assert_allclose(early["early_aum"].values, [1.0, 0.0])  # epoch 1, over runs
    assert early["early_aum"].params == {"early_epochs": 1}
    np.testing.assert_allclose(s["el2n"].values, [0.2, 1.1])  # epoch 2, mean over runs
    # std over epochs per run: s0: 0.5, 0.0; s1: 0.0, 0.1
    np.testing.assert_allclose(s["variability"].values, [0.25, 0.05], rtol=1e-6)
    np.testing.assert_allclose(s["confidence"].values, s["learnability"].values)


def test_cartography_regions_follow_the_documented_thresholds() -> None:
    conf = np.array([0.9, 0.3, 0.6, 0.2, 0.5])
    var = np.array([0.05, 0.05, 0.25, 0.2, 0.19])
    np.testing.assert_array_equal(scores_mod.cartography_region(conf, var), [0, 2, 1, 1, 0])
    s = compute_scores(full(P_TRUE), ["cartography_region"])
    assert s["cartography_region"].params["labels"] == ["easy-to-learn", "ambiguous",
                                                       "hard-to-learn"]


def test_options_outside_the_recorded_epochs_are_refused() -> None:
    with pytest.raises(CuratorError, match=r"el2n_epoch must be in 1..3 .* but got 4"):
        compute_scores(full(P_TRUE), ["el2n"], options={"el2n_epoch": 4})


def test_heldout_scores_average_only_recorded_values() -> None:
    nan = np.nan
    # 2 holdout runs (folds) x 2 epochs x 3 samples; each sample recorded in one run only
    p = np.array([[[0.2, nan, 0.6], [0.4, nan, 0.8]], [[nan, 0.9, nan], [nan, 0.7, nan]]])
    loss = -np.log(np.where(np.isnan(p), 0.5, p))
    loss[np.isnan(p)] = nan
    s = compute_scores(full(np.full((1, 2, 3), 0.5)),
                       ["heldout_learnability", "heldout_loss", "learnability"],
                       holdout=full(p, loss=loss))
    np.testing.assert_allclose(s["heldout_learnability"].values, [0.3, 0.8, 0.7])
    np.testing.assert_allclose(s["heldout_loss"].values,
                               [-(np.log(0.2) + np.log(0.4)) / 2, -(np.log(0.9) + np.log(0.7)) / 2,
                                -(np.log(0.6) + np.log(0.8)) / 2], rtol=1e-6)
    assert s["heldout_learnability"].runs == ("run-0", "run-1")
    with pytest.raises(CuratorError, match="needs holdout runs"):
        compute_scores(full(p), ["heldout_loss"])
    default = compute_scores(full(np.full((1, 2, 3), 0.5)))
    assert "heldout_loss" not in default  # only what the file's runs allow


def test_every_registered_score_is_finite_with_direction() -> None:
    rng = np.random.default_rng(1)
    p = rng.random((2, 6, 30))
    s = compute_scores(full(p), holdout=full(rng.random((2, 6, 30))))
    assert set(s) == set(scores_mod.SCORES.names())
    for name, score in s.items():
        assert score.values.shape == (30,) and np.isfinite(score.values).all(), name
        assert score.higher_is in ("easier", "harder") and score.description, name


def test_suggested_label_is_the_early_rival_the_model_preferred() -> None:
    """Sample 0: class 2 is the rival in every early epoch with probability 0.6 against the
    label's 0.3 -> suggested 2, confidence 0.6. Sample 1: the rival flips between 1 and 2,
    and neither beats the label's 0.5 -> none. Sample 2: class 1 in two of the four early
    (run, epoch) pairs at 0.9, class 3 in the others at 0.2 -> 1, confidence (0.9 + 0.9) / 4.
    Epochs past the early window do not count."""
    p = np.array([[[0.3, 0.5, 0.05], [0.3, 0.5, 0.05], [0.99, 0.99, 0.99]],
                  [[0.3, 0.5, 0.05], [0.3, 0.5, 0.05], [0.99, 0.99, 0.99]]])
    rival_p = np.array([[[0.6, 0.3, 0.9], [0.6, 0.3, 0.2], [0.0, 0.0, 0.0]],
                        [[0.6, 0.3, 0.9], [0.6, 0.3, 0.2], [0.0, 0.0, 0.0]]])
    rival_p[:, 2] = 0.005
    margin = np.log(p) - np.log(rival_p)  # p_rival = p exp(-margin)
    rival = np.array([[[2, 1, 1], [2, 2, 3], [0, 0, 0]],
                      [[2, 2, 1], [2, 1, 3], [0, 0, 0]]], dtype=np.uint8)
    s = compute_scores(full(p, margin=margin, rival=rival),
                       ["suggested_label", "suggestion_confidence"],
                       options={"early_epochs": 2})
    np.testing.assert_array_equal(s["suggested_label"].values, [2, -1, 1])
    assert s["suggested_label"].values.dtype == np.int32
    np.testing.assert_allclose(s["suggestion_confidence"].values, [0.6, 0.0, 0.45], rtol=1e-5)
    # preferred to the given label (0.2 against 0.05), but below SUGGEST_AT: no suggestion
    p, rival_p = np.full((1, 2, 1), 0.05), np.full((1, 2, 1), 0.2)
    weak = compute_scores(full(p, margin=np.log(p) - np.log(rival_p),
                               rival=np.full((1, 2, 1), 4, dtype=np.uint8)),
                          ["suggested_label"], options={"early_epochs": 2})
    assert flags.SUGGEST_AT > 0.2 and weak["suggested_label"].values.tolist() == [-1]


@settings(max_examples=60, deadline=None)
@given(runs=st.integers(1, 3), epochs=st.integers(1, 6), samples=st.integers(1, 12),
       classes=st.integers(2, 5), seed=st.integers(0, 2**31 - 1))
def test_suggestion_sums_each_rival_class_like_a_loop_over_the_pairs(
        runs: int, epochs: int, samples: int, classes: int, seed: int) -> None:
    """The vectorised suggestion (pairs sorted by class, summed class by class) against the
    definition written as a loop: per sample, the rival class with the largest summed
    probability over the window's presented (run, epoch) pairs, its sum over the presented
    pairs its confidence; a suggestion only at SUGGEST_AT or more and above the label's."""
    rng = np.random.default_rng(seed)
    p = rng.random((runs, epochs, samples))
    p[rng.random(p.shape) < 0.2] = np.nan  # a pair where the sample was not presented
    margin = rng.normal(0, 1.5, p.shape)
    rival = rng.integers(0, classes, p.shape).astype(np.uint8)
    window = int(rng.integers(1, epochs + 1))
    label, confidence = scores_mod.suggestion(p, margin, rival, early_epochs=window)
    for i in range(samples):
        sums: dict[int, float] = {}
        presented, given_sum = 0, 0.0
        for r in range(runs):
            for t in range(window):
                if np.isnan(p[r, t, i]):
                    continue
                presented += 1
                given_sum += p[r, t, i]
                c = int(rival[r, t, i])
                sums[c] = sums.get(c, 0.0) + min(1.0, p[r, t, i] * np.exp(-margin[r, t, i]))
        k = max(presented, 1)
        best = max(sums.values(), default=0.0) / k
        if best >= flags.SUGGEST_AT and best > given_sum / k:
            assert sums[int(label[i])] / k == pytest.approx(best, abs=1e-12)
            assert confidence[i] == pytest.approx(best, abs=1e-12)
        else:
            assert label[i] == -1 and confidence[i] == 0.0


def test_runs_without_rival_give_every_other_score_and_a_clear_error() -> None:
    """A format-0.1.0 file's runs have no ``rival``: the default scores leave the suggestions
    out, and asking for one names the statistic."""
    traj = full(np.full((1, 3, 4), 0.5))
    old = ArrayTrajectories({k: v for k, v in traj.stats.items() if k != "rival"})
    default = compute_scores(old)
    assert "suggested_label" not in default and "mislabel_probability" in default
    with pytest.raises(FormatError, match="needs the statistic 'rival'"):
        compute_scores(old, ["suggested_label"])
