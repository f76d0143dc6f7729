"""Label noise families (curator/noise.py): each flips the asked share, the way it says."""

from __future__ import annotations

import numpy as np
import pytest

from curator.data import load_data
from curator.errors import DataError
from curator.noise import NOISE_KINDS, flip_labels, pair_classes


def labels_of(n: int = 5000, classes: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, classes, n)


@pytest.mark.parametrize("kind", ["symmetric", "classdep"])
def test_counts_and_targets(kind: str) -> None:
    y = labels_of()
    new, noisy = flip_labels(y, 0.2, 10, seed=3, kind=kind)
    assert noisy.sum() == 1000 and (new[noisy] != y[noisy]).all()
    assert (new[~noisy] == y[~noisy]).all() and new.dtype == np.int64
    again, _ = flip_labels(y, 0.2, 10, seed=3, kind=kind)
    np.testing.assert_array_equal(new, again)  # a seed gives the same flips


def test_symmetric_is_what_it_was() -> None:
    """The flips of files scored before the noise families: the same draws."""
    y = labels_of(1000)
    rng = np.random.default_rng(np.random.SeedSequence([0, 0x6E6F6973]))
    chosen = rng.choice(1000, size=200, replace=False)
    old = y.copy()
    old[chosen] = (old[chosen] + rng.integers(1, 10, size=200)) % 10
    np.testing.assert_array_equal(flip_labels(y, 0.2, 10, seed=0)[0], old)


def test_classdep_rates_differ_by_class() -> None:
    y = labels_of(20_000)
    _, noisy = flip_labels(y, 0.2, 10, seed=1, kind="classdep")
    rates = np.array([noisy[y == c].mean() for c in range(10)])
    assert rates.min() < 0.01  # a clean class
    assert rates.max() > 0.3  # a heavily corrupted one
    with pytest.raises(DataError, match="more than 95% of a class"):
        flip_labels(y, 0.6, 10, seed=1, kind="classdep")


def test_pairs_flip_both_ways_inside_pairs() -> None:
    dist = np.array([[0, 1, 5, 5, 9], [1, 0, 5, 5, 9], [5, 5, 0, 2, 9], [5, 5, 2, 0, 9],
                     [9, 9, 9, 9, 0]], dtype=float)
    partner = pair_classes(dist)
    np.testing.assert_array_equal(partner, [1, 0, 3, 2, 4])  # the odd one out keeps itself
    y = labels_of(5000, 5)
    new, noisy = flip_labels(y, 0.3, 5, seed=0, kind="pairs", partner=partner)
    assert noisy.sum() == 1500 and not noisy[y == 4].any()
    np.testing.assert_array_equal(new[noisy], partner[y[noisy]])
    assert {(int(a), int(b)) for a, b in zip(y[noisy], new[noisy], strict=True)} == {
        (0, 1), (1, 0), (2, 3), (3, 2)}
    with pytest.raises(DataError, match="paired classes"):
        flip_labels(y, 0.9, 5, seed=0, kind="pairs", partner=partner)


def test_instance_flips_the_ambiguous_towards_their_look_alike() -> None:
    rng = np.random.default_rng(0)
    n, c = 20_000, 4
    y = rng.integers(0, c, n)
    ambiguity = rng.random(n) * 0.5  # the probability a model gives the other class
    other = (y + 1 + rng.integers(0, c - 1, n)) % c
    probs = np.zeros((n, c))
    probs[np.arange(n), y] = 1 - ambiguity
    probs[np.arange(n), other] = ambiguity
    new, noisy = flip_labels(y, 0.2, c, seed=0, kind="instance", others=probs)
    assert noisy.sum() == 4000
    np.testing.assert_array_equal(new[noisy], other[noisy])  # to the class it resembles
    # drawn in proportion to the ambiguity a ~ U(0, 0.5): E[a | drawn] = 1/3 against 1/4
    assert ambiguity[noisy].mean() > 0.31 and ambiguity[~noisy].mean() < 0.24
    with pytest.raises(DataError, match="probabilities"):
        flip_labels(y, 0.2, c, seed=0, kind="instance")


def test_unknown_kind_and_nothing_to_flip() -> None:
    with pytest.raises(DataError, match="noise_kind must be one of"):
        flip_labels(labels_of(), 0.2, 10, seed=0, kind="human")
    new, noisy = flip_labels(labels_of(), 0.0, 10, seed=0, kind="pairs")
    assert not noisy.any()


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_every_kind_loads_with_test_noise(kind: str) -> None:
    clean = load_data("digits")
    d = load_data("digits", label_noise=0.2, noise_kind=kind, noise_test=True)
    assert d.noisy is not None and d.noisy.sum() == round(0.2 * d.num_samples)
    np.testing.assert_array_equal(d.original_labels, clean.labels)
    changed = (d.test.labels != clean.test.labels).float().mean().item()
    assert abs(changed - 0.2) < 0.01  # the test split flipped as much, independently
    assert d.describe()["noise_test"] is True and d.describe()["noise_kind"] == kind
    train_only = load_data("digits", label_noise=0.2, noise_kind=kind)
    np.testing.assert_array_equal(train_only.labels, d.labels)  # the same training flips
    assert (train_only.test.labels == clean.test.labels).all()
    with pytest.raises(DataError, match="noise_test needs label_noise"):
        load_data("digits", noise_test=True)
