"""The samplers package: one contract over the registry, properties, errors, files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset

from samplers import (
    PACINGS,
    SAMPLERS,
    EasyToHardSampler,
    HardToEasySampler,
    ImportanceSampler,
    RandomCurriculumSampler,
    probabilities,
)
from samplers.curriculum import balanced_order
from samplers.importance import hardness_rank

N = 103
SCORES = np.random.default_rng(0).random(N)
LABELS = np.arange(N) % 4
FROZEN = Path(__file__).parent / "data" / "scores-v0.1.0.h5"


def make(name: str, **kw):
    cls = SAMPLERS.get(name)
    return cls(SCORES, epochs=5, **kw)


@pytest.mark.parametrize("name", SAMPLERS.names())
class TestContract:
    def test_len_matches_iter(self, name: str) -> None:
        for kw in ({}, {"epoch_length": 50}, {"num_replicas": 3, "rank": 2},
                   {"num_replicas": 3, "rank": 1, "drop_last": True}):
            s = make(name, **kw)
            for epoch in (0, 3):
                s.set_epoch(epoch)
                assert len(list(s)) == len(s), kw

    def test_deterministic_per_seed_and_epoch(self, name: str) -> None:
        a, b = make(name, seed=3), make(name, seed=3)
        a.set_epoch(2)
        b.set_epoch(2)
        assert list(a) == list(b)
        assert list(a) == list(a)  # iterating twice gives the same epoch
        b.set_epoch(4)
        assert list(a) != list(b)  # a new epoch changes the order
        c = make(name, seed=4)
        c.set_epoch(2)
        assert list(a) != list(c)

    def test_touches_no_global_rng(self, name: str) -> None:
        torch_state, np_state = torch.get_rng_state(), np.random.get_state()
        s = make(name)
        s.set_epoch(1)
        list(s)
        assert torch.equal(torch_state, torch.get_rng_state())
        assert np.array_equal(np_state[1], np.random.get_state()[1])

    @pytest.mark.parametrize("replicas", [2, 3])
    @pytest.mark.parametrize("drop_last", [False, True])
    def test_ranks_are_disjoint_shards_of_one_order(self, name: str, replicas: int,
                                                    drop_last: bool) -> None:
        shards = []
        for rank in range(replicas):
            s = make(name, num_replicas=replicas, rank=rank, drop_last=drop_last, seed=7)
            s.set_epoch(1)
            shards.append(list(s))
        assert len({len(x) for x in shards}) == 1  # equal counts
        whole = make(name, seed=7).epoch_indices(1).tolist()
        total = len(shards[0]) * replicas
        padded = (whole * 2)[:total]
        # rank r holds positions r, r + R, ... of the one global order: disjoint, covering
        for rank, shard in enumerate(shards):
            assert shard == padded[rank::replicas]
        if not drop_last:
            assert total >= len(whole) > total - replicas
        else:
            assert total <= len(whole) < total + replicas

    def test_resume_mid_epoch(self, name: str) -> None:
        s = make(name, seed=5)
        s.set_epoch(2)
        it = iter(s)
        head = [next(it) for _ in range(17)]
        state = s.state_dict()
        fresh = make(name, seed=5)
        fresh.load_state_dict(state)
        assert head + list(fresh) == list(make_at(name, 2))
        assert len(list(fresh)) == len(fresh)  # the epoch after is whole again
        with pytest.raises(ValueError, match="seed"):
            make(name, seed=6).load_state_dict(state)

    def test_dataloader_with_workers(self, name: str) -> None:
        s = make(name, seed=2)
        s.set_epoch(1)
        loader = DataLoader(_Index(), batch_size=16, sampler=s, num_workers=2)
        got = torch.cat(list(loader)).tolist()
        assert got == list(s)


def make_at(name: str, epoch: int):
    s = make(name, seed=5)
    s.set_epoch(epoch)
    return s


class _Index(Dataset):
    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> int:
        return i


# --- pacing ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(PACINGS.names()), start=st.floats(0.01, 1.0),
       saturation=st.floats(0.05, 1.0))
def test_pacings_rise_from_start_to_one(name: str, start: float, saturation: float) -> None:
    g = PACINGS.get(name)
    s = np.linspace(0, 1, 201)
    values = g(s, start, saturation)
    assert values[0] == pytest.approx(start, abs=1e-9)
    assert np.all(np.diff(values) >= -1e-12)  # never shrinks
    assert np.all((values >= start - 1e-9) & (values <= 1 + 1e-12))
    assert np.allclose(values[s >= saturation + 1e-9], 1.0)


@settings(max_examples=40, deadline=None)
@given(start=st.floats(0.05, 1.0), saturation=st.floats(0.1, 1.0),
       pacing=st.sampled_from(PACINGS.names()), epochs=st.integers(1, 12),
       seed=st.integers(0, 2**31), balanced=st.booleans())
def test_pool_is_the_prefix_the_pacing_asks_for(start: float, saturation: float, pacing: str,
                                                epochs: int, seed: int,
                                                balanced: bool) -> None:
    s = EasyToHardSampler(SCORES, epochs=epochs, pacing=pacing, start=start,
                          saturation=saturation, seed=seed, class_balanced=balanced,
                          labels=LABELS)
    for epoch in range(epochs):
        size = s.pool_size(epoch)
        expected = int(np.clip(np.ceil(s.fraction(epoch / epochs) * N - 1e-9), 1, N))
        assert size == expected
        pool = s.pool(epoch)
        assert torch.equal(pool, s.order[:size])
        drawn = set(s.epoch_indices(epoch).tolist())
        assert drawn == set(pool.tolist()) or len(pool) > N  # a full pass covers the pool
        if balanced:
            counts = np.bincount(LABELS[pool.numpy()], minlength=4)
            share = size * np.bincount(LABELS) / N
            assert np.all(np.abs(counts - share) <= 1)


def test_easy_first_order_and_direction() -> None:
    e2h = EasyToHardSampler(SCORES, epochs=3)
    h2e = HardToEasySampler(SCORES, epochs=3)
    assert e2h.order[0] == np.argmax(SCORES) and h2e.order[0] == np.argmin(SCORES)
    flipped = EasyToHardSampler(-SCORES, higher_is="harder", epochs=3)
    assert torch.equal(flipped.order, e2h.order)
    rand = RandomCurriculumSampler(SCORES, epochs=3, seed=1)
    assert sorted(rand.order.tolist()) == list(range(N))
    assert torch.equal(rand.order, RandomCurriculumSampler(SCORES, epochs=3, seed=1).order)


def test_step_unit_grows_the_pool_within_an_epoch() -> None:
    s = EasyToHardSampler(np.arange(100)[::-1], epochs=2, unit="step", batch_size=10,
                          start=0.1, saturation=1.0)
    idx = s.epoch_indices(0).reshape(10, 10)
    for step in range(10):
        assert idx[step].max() < s.pool_size(0, step)  # drawn from that step's pool
    assert s.pool_size(0, 0) == 10 and s.pool_size(1, 9) > s.pool_size(0, 9)


def test_balanced_order_every_prefix_proportional() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    order = balanced_order(np.arange(100), labels, num_samples=100)
    for k in range(1, 101):
        counts = np.bincount(labels[order[:k]], minlength=3)
        assert np.all(np.abs(counts - k * np.array([0.6, 0.3, 0.1])) <= 1)


# --- importance -----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
       scheme=st.sampled_from(["easy-first", "hard-first", "medium-first", "two-ends-first"]),
       temperature=st.floats(0.01, 10), floor=st.floats(0.0, 1.0))
def test_probabilities_are_a_distribution(scores, scheme, temperature, floor) -> None:
    p = probabilities(np.array(scores), scheme, temperature=temperature, floor=floor)
    assert p.sum() == pytest.approx(1.0)
    assert np.all(p >= floor / len(p) * (1 - 1e-9)) and np.all(p > 0)
    w = 1 / (len(p) * p)
    assert np.all(np.isfinite(w))
    assert (p * w).sum() == pytest.approx(1.0)  # unbiased: E_p[w x] = mean of x


def test_hardness_rank_ties_share_the_average() -> None:
    np.testing.assert_allclose(hardness_rank(np.array([0.9, 0.5, 0.5, 0.1])),
                               [0, 0.5, 0.5, 1])


def test_schemes_put_mass_where_they_say() -> None:
    ease = np.linspace(1, 0, 11)  # sample 0 easiest, 10 hardest
    p = {s: probabilities(ease, s, floor=0.0) for s in
         ("easy-first", "hard-first", "medium-first", "two-ends-first")}
    assert p["easy-first"].argmax() == 0 and p["hard-first"].argmax() == 10
    assert p["medium-first"].argmax() == 5
    assert p["two-ends-first"][[0, 10]].min() > p["two-ends-first"][5]


def test_importance_draws_follow_p_and_weights_unbias() -> None:
    s = ImportanceSampler(SCORES, scheme="hard-first", epoch_length=200_000, seed=1)
    idx = s.epoch_indices(0)
    freq = torch.bincount(idx, minlength=N).double() / len(idx)
    assert torch.allclose(freq, s.probabilities, atol=0.004)
    x = torch.from_numpy(SCORES)
    estimate = (s.batch_weights(idx).double() * x[idx]).mean()
    assert estimate == pytest.approx(x.mean().item(), rel=0.02)


# --- errors and files -----------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scores": np.array([0.1, np.nan, 0.3])}, r"must be finite, but hold nan at index 1"),
    ({"scores": SCORES, "num_samples": 100}, r"have 103 values, but the data set has 100"),
    ({"scores": SCORES, "start": 0.0}, r"pacing start must be in \(0, 1\], but got 0.0"),
    ({"scores": SCORES, "start": 1.5}, r"pacing start must be in \(0, 1\], but got 1.5"),
    ({"scores": SCORES, "saturation": 0}, r"saturation must be in \(0, 1\], but got 0"),
    ({"scores": SCORES, "pacing": "cubic"}, r"unknown pacing 'cubic'"),
    ({"scores": SCORES, "unit": "batch"}, r"unit must be 'epoch' or 'step', but got 'batch'"),
    ({"scores": SCORES, "unit": "step"}, r"needs batch_size >= 1"),
    ({"scores": SCORES, "class_balanced": True}, r"needs the labels"),
    ({"scores": SCORES, "higher_is": "better"}, r"higher_is must be 'easier' or 'harder'"),
    ({"scores": SCORES, "rank": 2, "num_replicas": 2}, r"rank must be in \[0, 1\], but got 2"),
])
def test_curriculum_errors_quote_the_value(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        EasyToHardSampler(epochs=3, **kwargs)


def test_misspelt_options_are_refused() -> None:
    with pytest.raises(TypeError, match="tempreature"):
        ImportanceSampler(SCORES, tempreature=0.5)
    with pytest.raises(TypeError, match="pacnig"):
        EasyToHardSampler(SCORES, epochs=3, pacnig="root")


def test_importance_errors() -> None:
    with pytest.raises(ValueError, match="unknown weighting scheme 'easy'"):
        ImportanceSampler(SCORES, scheme="easy")
    with pytest.raises(ValueError, match="temperature must be > 0, but got 0"):
        ImportanceSampler(SCORES, temperature=0)


def test_from_h5_orients_by_higher_is(tmp_path: Path) -> None:
    import h5py

    with h5py.File(FROZEN) as f:
        learn = f["scores/learnability"][()]
        labels = f["labels"][()]
    s = EasyToHardSampler.from_h5(FROZEN, score="learnability", epochs=10)
    assert learn[s.order[0]] == learn.max()
    r = EasyToHardSampler.from_h5(FROZEN, score="learnability_rank", epochs=10)
    assert learn[r.order[0]] == learn.max()  # rank 1 (higher_is harder) is the easiest
    b = EasyToHardSampler.from_h5(FROZEN, epochs=10, class_balanced=True)
    assert np.all(np.abs(np.bincount(labels[b.pool(0).numpy()], minlength=10)
                         - len(b.pool(0)) * np.bincount(labels) / len(labels)) <= 1)
    i = ImportanceSampler.from_h5(FROZEN, score="hit_rate")
    assert len(i) == len(labels)
    with pytest.raises(ValueError, match="has no score 'aum'; it has: hit_rate, learnability"):
        EasyToHardSampler.from_h5(FROZEN, score="aum", epochs=3)
    with pytest.raises(ValueError, match="does not exist"):
        EasyToHardSampler.from_h5(tmp_path / "none.h5", epochs=3)


def test_from_h5_on_a_pruned_selection_uses_its_samples_scores() -> None:
    """A selection (a Subset of the scored training set, as curator.subset makes) with a
    sampler in one's own loop: the sampler indexes the subset's positions, ordered by the
    scores of the samples it holds; a data set of another length is still refused."""
    import h5py
    from torch.utils.data import Subset

    with h5py.File(FROZEN) as f:
        learn = f["scores/learnability"][()]
        labels = f["labels"][()]
    full = list(range(len(learn)))
    kept = np.flatnonzero(learn > np.median(learn))[::2]  # any selection, in file order
    subset = Subset(full, kept.tolist())
    s = EasyToHardSampler.from_h5(FROZEN, dataset=subset, epochs=10)
    assert len(s.order) == len(kept) and s.order.max() < len(kept)
    assert learn[kept[s.order[0]]] == learn[kept].max()  # its easiest first
    b = EasyToHardSampler.from_h5(FROZEN, dataset=subset, epochs=10, class_balanced=True)
    pool = kept[b.pool(0).numpy()]
    expected = len(pool) * np.bincount(labels[kept], minlength=10) / len(kept)
    assert np.all(np.abs(np.bincount(labels[pool], minlength=10) - expected) <= 1)
    assert len(ImportanceSampler.from_h5(FROZEN, dataset=subset)) == len(kept)
    from samplers.dynamic import DynamicPruningSampler

    dynamic = DynamicPruningSampler.from_h5(FROZEN, dataset=subset, epochs=4)
    assert dynamic.num_samples_total == len(kept)
    with pytest.raises(ValueError, match="for a pruned selection pass curator.subset"):
        EasyToHardSampler.from_h5(FROZEN, dataset=full[:10], epochs=3)


def test_samplers_does_not_import_curator() -> None:
    code = ("import sys, samplers; bad = [m for m in sys.modules if m.split('.')[0] == "
            "'curator']; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
