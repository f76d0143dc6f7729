"""Eq. 1 and Eq. 2 of seed 001 on hand-made trajectories."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from curator import scores as scores_mod
from curator.errors import CuratorError
from curator.scores import ArrayTrajectories, compute_scores, rank_easiest_first

# R = 2 runs, T = 3 epochs, N = 4 samples: p_t(i) chosen so the means are exact
P_TRUE = np.array([
    [[0.9, 0.1, 0.5, 0.5], [1.0, 0.2, 0.5, 0.6], [0.8, 0.3, 0.5, 0.7]],  # run 0
    [[0.7, 0.0, 0.5, 0.5], [1.0, 0.1, 0.5, 0.6], [1.0, 0.2, 0.5, 0.7]],  # run 1
])
# run means: sample 0: 0.9, 0.9; sample 1: 0.2, 0.1; sample 2: 0.5, 0.5; sample 3: 0.6, 0.6
EXPECTED_L = np.array([0.9, 0.15, 0.5, 0.6])
CORRECT = P_TRUE > 0.5


def test_learnability_is_mean_over_epochs_then_runs() -> None:
    s = compute_scores(ArrayTrajectories({"p_true": P_TRUE, "correct": CORRECT}))
    np.testing.assert_allclose(s["learnability"].values, EXPECTED_L, rtol=1e-6)
    assert s["learnability"].higher_is == "easier"
    assert s["learnability"].runs == ("run-0", "run-1")


def test_learnability_rank_is_eq2() -> None:
    s = compute_scores(ArrayTrajectories({"p_true": P_TRUE, "correct": CORRECT}))
    # easiest (0.9) is rank 1, then 0.6, 0.5, 0.15
    np.testing.assert_array_equal(s["learnability_rank"].values, [1, 4, 3, 2])
    assert s["learnability_rank"].higher_is == "harder"


def test_hit_rate_counts_correct_epochs_over_runs() -> None:
    s = compute_scores(ArrayTrajectories({"p_true": P_TRUE, "correct": CORRECT}))
    # sample 0: 6/6; sample 1: 0/6; sample 2: 0.5 is not > 0.5: 0/6; sample 3: 0.6, 0.7 twice
    np.testing.assert_allclose(s["hit_rate"].values, [1.0, 0.0, 0.0, 4 / 6], rtol=1e-6)


def test_ties_share_the_largest_rank() -> None:
    # Eq. 2 with <=: tied samples count each other, so both 0.8s get rank 3
    np.testing.assert_array_equal(rank_easiest_first(np.array([0.8, 0.9, 0.8, 0.95, 0.1])),
                                  [4, 2, 4, 1, 5])
    np.testing.assert_array_equal(rank_easiest_first(np.full(3, 0.5)), [3, 3, 3])


def test_single_epoch_single_run() -> None:
    p = np.array([[[0.25, 0.75]]])
    s = compute_scores(ArrayTrajectories({"p_true": p, "correct": p > 0.5}))
    np.testing.assert_allclose(s["learnability"].values, [0.25, 0.75])
    np.testing.assert_array_equal(s["learnability_rank"].values, [2, 1])


def test_rank_refuses_nan() -> None:
    with pytest.raises(CuratorError, match="NaN"):
        rank_easiest_first(np.array([0.1, np.nan]))


def test_blocks_give_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    p = rng.random((3, 5, 101))
    traj = ArrayTrajectories({"p_true": p, "correct": p > 0.4})
    whole = compute_scores(traj)
    monkeypatch.setattr(scores_mod, "BLOCK_BYTES", 3 * 5 * 4 * 7)  # 7 samples per block
    blocked = compute_scores(traj)
    for name in whole:
        np.testing.assert_array_equal(whole[name].values, blocked[name].values)


def test_derived_score_brings_its_source() -> None:
    s = compute_scores(ArrayTrajectories({"p_true": P_TRUE, "correct": CORRECT}),
                       ["learnability_rank"])
    assert set(s) == {"learnability", "learnability_rank"}


@given(arrays(np.float64, st.integers(1, 60),
              elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])))
def test_rank_matches_the_definition(values: np.ndarray) -> None:
    brute = (values[:, None] <= values[None, :]).sum(axis=1)
    np.testing.assert_array_equal(rank_easiest_first(values), brute)
