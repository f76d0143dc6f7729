"""Pruning: each strategy keeps what it claims; sizes, order, balance, errors, the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import TensorDataset
from typer.testing import CliRunner

import curator
from curator.cli import app
from curator.errors import CuratorError
from curator.flags import MislabelFit
from curator.pruning import (
    STRATEGIES,
    PruneOptions,
    class_budgets,
    parse_keep,
    plan_selection,
    select,
)
from curator.store import open_scores

FROZEN = Path(__file__).parent / "data" / "scores-v0.1.0.h5"
runner = CliRunner()
EASE = np.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4, 0.0])  # sample 0 easiest


def test_easy_and_hard_keep_the_ends() -> None:
    assert select(EASE, 3, strategy="easy").tolist() == [0, 3, 5]
    assert select(EASE, 3, strategy="hard").tolist() == [1, 6, 9]


def test_random_is_seeded() -> None:
    a = select(EASE, 4, strategy="random", opts=PruneOptions(seed=1))
    assert a.tolist() == select(EASE, 4, strategy="random", opts=PruneOptions(seed=1)).tolist()
    others = {tuple(select(EASE, 4, strategy="random", opts=PruneOptions(seed=s)))
              for s in range(10)}
    assert len(others) > 1


def test_drop_noisy_removes_only_flagged() -> None:
    kept = select(EASE, 10, strategy="drop-noisy", opts=PruneOptions(threshold=0.35))
    assert kept.tolist() == [0, 2, 3, 5, 7, 8]  # the four below 0.35 are gone
    mislabel = np.zeros(10)
    mislabel[[2, 7]] = [0.9, 0.6]  # flagged, whatever their ease
    kept = select(EASE, 10, strategy="drop-noisy", mislabel=mislabel)
    assert kept.tolist() == [0, 1, 3, 4, 5, 6, 8, 9]
    with pytest.raises(CuratorError, match="needs the mislabel estimate or a threshold"):
        select(EASE, 5, strategy="drop-noisy")


def test_default_drops_the_flagged_then_keeps_a_random_share() -> None:
    rng = np.random.default_rng(0)
    ease = rng.random(1000)
    mislabel = np.zeros(1000)
    flagged = rng.choice(1000, 150, replace=False)
    mislabel[flagged] = rng.uniform(0.5, 1.0, 150)
    plan = plan_selection(ease, 900, mislabel=mislabel)
    # 900 asked, 150 flagged: every flagged sample goes, so 850 are kept, not 900
    np.testing.assert_array_equal(plan.indices, np.setdiff1d(np.arange(1000), flagged))
    assert plan.params == {"flags": True, "asked": 900, "suspected_dropped": 0}
    plan = plan_selection(ease, 700, mislabel=mislabel)
    assert len(plan.indices) == 700 and not np.isin(flagged, plan.indices).any()
    # no flags (clean data, or a model too weak to tell): exactly the random selection
    opts = PruneOptions(seed=4)
    np.testing.assert_array_equal(
        plan_selection(ease, 700, mislabel=np.zeros(1000), opts=opts).indices,
        plan_selection(ease, 700, strategy="random", opts=opts).indices)
    np.testing.assert_array_equal(select(ease, 700, opts=opts),
                                  select(ease, 700, strategy="random", opts=opts))
    with pytest.raises(CuratorError, match="every sample is flagged"):
        plan_selection(ease, 700, mislabel=np.ones(1000))
    # class-balanced: the flagged go inside each class too
    labels = np.arange(1000) % 4
    kept = select(ease, 700, labels=labels, class_balanced=True, mislabel=mislabel)
    assert not np.isin(flagged, kept).any()
    assert np.bincount(labels[kept]).tolist() == [175] * 4


def test_default_drops_the_suspected_next_most_likely_first() -> None:
    rng = np.random.default_rng(1)
    n = 1000
    ease = rng.random(n)
    prob = rng.uniform(0, 0.1, n)  # below the prior: the evidence says the label is right
    order = rng.permutation(n)
    flagged, suspect = order[:100], order[100:300]
    prob[flagged] = rng.uniform(0.5, 1.0, 100)
    prob[suspect] = rng.uniform(0.1, 0.5, 200)  # at or above the prior, below FLAG_AT
    fit = MislabelFit(prob.astype(np.float32), (), share=0.1)
    np.testing.assert_array_equal(np.flatnonzero(fit.suspected), np.sort(suspect))
    # 200 must go: the flagged 100, then the 100 most likely wrong of the suspected
    plan = plan_selection(ease, 800, mislabel=fit)
    likeliest = suspect[np.argsort(-fit.probability[suspect], kind="stable")]
    np.testing.assert_array_equal(
        plan.indices, np.setdiff1d(np.arange(n), np.concatenate([flagged, likeliest[:100]])))
    assert plan.params == {"flags": True, "asked": 800, "suspected_dropped": 100}
    # 400 must go: all flagged and suspected, then 100 at random from the rest
    plan = plan_selection(ease, 600, mislabel=fit)
    assert len(plan.indices) == 600 and not np.isin(order[:300], plan.indices).any()
    assert plan.params["suspected_dropped"] == 200
    # 50 must go, fewer than the flagged: the flagged still all go (keep is capped)
    assert len(plan_selection(ease, 950, mislabel=fit).indices) == 900
    # the probabilities alone carry no prior: the flagged, then random
    bare = plan_selection(ease, 800, mislabel=prob)
    assert bare.params["suspected_dropped"] == 0
    assert np.isin(suspect, bare.indices).sum() > 150
    # a share of 0 or unknown, or one no sample's probability confirms: nothing is suspected
    unconfirmed = np.minimum(prob, 0.49).astype(np.float32)
    for share, values in ((0.0, prob), (None, prob), (0.1, unconfirmed)):
        none = MislabelFit(values.astype(np.float32), (), share=share)
        assert not none.suspected.any()
        np.testing.assert_array_equal(  # the flagged, then random
            plan_selection(ease, 800, mislabel=none).indices,
            plan_selection(ease, 800, mislabel=none.probability).indices)
    np.testing.assert_array_equal(plan_selection(ease, 800, mislabel=none).indices,
                                  plan_selection(ease, 800, strategy="random").indices)
    # class-balanced: inside each class the suspected go before the random share
    labels = np.arange(n) % 4
    kept = select(ease, 800, labels=labels, class_balanced=True, mislabel=fit)
    assert np.bincount(labels[kept]).tolist() == [200] * 4
    assert not np.isin(flagged, kept).any()
    for c in range(4):
        mine = likeliest[labels[likeliest] == c]
        gone = ~np.isin(mine, kept)
        assert gone.sum() == 50 - (labels[flagged] == c).sum()  # 50 drops a class
        assert gone[: gone.sum()].all()  # the most likely wrong of its suspected


def test_stratified_auto_drops_the_flagged_then_covers_the_rest() -> None:
    rng = np.random.default_rng(0)
    ease = rng.random(1000)
    mislabel = np.zeros(1000)
    flagged = rng.choice(1000, 150, replace=False)
    mislabel[flagged] = 0.9
    plan = plan_selection(ease, 900, strategy="stratified", mislabel=mislabel)
    np.testing.assert_array_equal(plan.indices, np.setdiff1d(np.arange(1000), flagged))
    assert plan.params == {"drop_hardest": "auto", "asked": 900, "strata": 50,
                           "dropped_first": 150}
    plan = plan_selection(ease, 700, strategy="stratified", mislabel=mislabel)
    assert len(plan.indices) == 700 and not np.isin(flagged, plan.indices).any()
    assert plan_selection(ease, 700, strategy="stratified", mislabel=np.zeros(1000)
                          ).params["dropped_first"] == 0


def test_options_are_never_changed() -> None:
    opts = PruneOptions(seed=3)
    plan_selection(EASE, 5, mislabel=np.zeros(10), opts=opts)
    assert opts == PruneOptions(seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.drop_hardest = 0.1  # type: ignore[misc]


def test_stratified_drops_the_hardest_then_covers_the_range() -> None:
    ease = np.concatenate([np.linspace(0, 0.1, 100), np.linspace(0.9, 1, 900)])
    kept = select(ease, 200, strategy="stratified",
                  opts=PruneOptions(drop_hardest=0.05, strata=10))
    assert len(kept) == 200
    assert not np.isin(np.arange(50), kept).any()  # the 5% hardest are dropped
    # the sparse low stratum (50 left) is kept whole, not 20% of it as random would
    assert np.isin(np.arange(50, 100), kept).all()
    plain = select(ease, 200, strategy="easy")
    assert not np.isin(np.arange(100), plain).any()


def test_class_balanced_keeps_each_share_exactly() -> None:
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    ease = np.random.default_rng(0).random(100)
    for strategy in STRATEGIES.names():
        opts = PruneOptions(threshold=-1.0)
        kept = select(ease, 70, strategy=strategy, labels=labels, class_balanced=True,
                      mislabel=np.zeros(100), opts=opts)
        assert np.bincount(labels[kept]).tolist() == [35, 21, 14], strategy
    assert class_budgets(np.array([0, 0, 1]), 2).tolist() == [1, 1]
    assert class_budgets(labels, 33).sum() == 33


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 300), fraction=st.floats(0.01, 1.0),
       strategy=st.sampled_from(["easy", "hard", "random", "stratified", "drop-flagged"]),
       seed=st.integers(0, 10**6), balanced=st.booleans(), data=st.data())
def test_properties(n, fraction, strategy, seed, balanced, data) -> None:
    ease = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    labels = np.arange(n) % 3
    keep = max(1, int(round(fraction * n)))
    opts = PruneOptions(seed=seed, drop_hardest=0.1)
    kept = select(ease, keep, strategy=strategy, labels=labels, class_balanced=balanced,
                  opts=opts)
    assert len(kept) == keep  # exact size
    assert np.all(np.diff(kept) > 0)  # sorted, no duplicates
    assert kept.min() >= 0 and kept.max() < n
    again = select(ease, keep, strategy=strategy, labels=labels, class_balanced=balanced,
                   opts=opts)
    assert np.array_equal(kept, again)  # deterministic per seed
    if balanced:
        budgets = class_budgets(labels, keep)
        assert np.array_equal(np.bincount(labels[kept], minlength=len(budgets)), budgets)


@pytest.mark.parametrize(("value", "count"), [("0.7", 7), ("1", 10), (0.05, 1), ("4", 4)])
def test_parse_keep(value, count) -> None:
    assert parse_keep(value, 10) == count


@pytest.mark.parametrize(("value", "message"), [
    ("0", "keep must be a fraction in (0, 1] or a count, but got 0"),
    ("-2", "but got -2"), ("1.5", "keep 1.5 is neither a fraction"),
    ("11", "keep 11 is more than the 10 training samples"), ("lots", "but got 'lots'"),
])
def test_parse_keep_errors(value, message) -> None:
    # the library names its parameter; the CLI shows the flag (test_prune_errors_...)
    with pytest.raises(CuratorError) as info:
        parse_keep(value, 10)
    assert info.value.message.startswith("keep") and message in info.value.message
    assert info.value.param == "keep"
    assert info.value.as_flag()[0].startswith("--keep")


@pytest.fixture
def scores_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.h5"
    shutil.copy(FROZEN, path)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_prune_cli_stores_and_reports(scores_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.csv"
    r = runner.invoke(app, ["prune", str(scores_file), "--keep", "0.7", "--class-balanced",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "kept 1006 of 1437" in r.stdout and "per class" in r.stdout
    assert "flipped labels:" in r.stdout and "removed" in r.stdout
    with open_scores(scores_file) as f:
        name = "drop-flagged-learnability-0.7-balanced"
        kept = f.selection(name)
        attrs = f.selection_attrs(name)
    assert len(kept) == 1006 and np.all(np.diff(kept) > 0)
    assert attrs["strategy"] == "drop-flagged" and attrs["class_balanced"]
    assert attrs["score"] == "learnability" and attrs["keep"] == 0.7
    np.testing.assert_array_equal(np.loadtxt(out, skiprows=1, dtype=np.int64), kept)
    data = TensorDataset(torch.arange(1437))
    sub = curator.subset(data, scores_file, name)
    assert len(sub) == 1006 and sub[0][0].item() == kept[0]
    with pytest.raises(CuratorError, match="the data set has 10 samples"):
        curator.subset(TensorDataset(torch.arange(10)), scores_file, name)


@pytest.mark.parametrize(("args", "message"), [
    (["--keep", "0"], "--keep must be a fraction"),
    (["--keep", "1.5"], "--keep 1.5 is neither"),
    (["--keep", "99999"], "more than the 1437 training samples"),
    (["--keep", "0.5", "--by", "aum"], "has no score 'aum'"),
    (["--keep", "0.5", "--strategy", "median"], "unknown prune strategy 'median'"),
    ([], "--keep is required"),
    (["--keep", "0.5", "--out", "k.parquet"], "must end in .npy, .txt or .csv"),
    (["--keep", "0.5", "--out", "missing/k.csv"], "does not exist"),
])
def test_prune_errors_leave_the_file_unchanged(scores_file: Path, args, message) -> None:
    before = _digest(scores_file)
    r = runner.invoke(app, ["prune", str(scores_file), *args])
    assert r.exit_code == 1, r.output
    assert message in " ".join(r.stderr.split()) and "Traceback" not in r.output
    assert _digest(scores_file) == before


def test_existing_selection_needs_force(scores_file: Path) -> None:
    args = ["prune", str(scores_file), "--keep", "0.5", "--name", "half"]
    assert runner.invoke(app, args).exit_code == 0
    before = _digest(scores_file)
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "already has a selection 'half'" in r.stderr
    assert "--force" in r.stderr and _digest(scores_file) == before
    assert runner.invoke(app, [*args, "--force", "--strategy", "easy"]).exit_code == 0


def test_file_without_scores(tmp_path: Path) -> None:
    from curator import store
    from curator.data import load_data

    path = tmp_path / "empty.h5"
    store.create(path, load_data("digits"), {})
    r = runner.invoke(app, ["prune", str(path), "--keep", "0.5"])
    assert r.exit_code == 1 and "has no scores yet" in r.stderr


def test_only_a_strategy_that_keeps_what_it_does_not_drop_goes_without_keep(
        scores_file: Path) -> None:
    from curator.pruning import STRATEGIES, resolve_keep

    assert [e.name for e in STRATEGIES if e.meta.get("keep_all")] == ["drop-noisy"]
    assert resolve_keep("easy", 0.7) == 0.7
    with pytest.raises(CuratorError, match="keep is required with strategy easy"):
        resolve_keep("easy", None)
    # through the CLI: drop-noisy without --keep keeps every sample above its threshold
    with open_scores(scores_file) as f:
        ease = f.score("learnability").ease
    level = float(np.median(ease))
    r = runner.invoke(app, ["prune", str(scores_file), "--strategy", "drop-noisy",
                            "--threshold", str(level)])
    assert r.exit_code == 0, r.output
    with open_scores(scores_file) as f:
        kept = f.selection("drop-noisy-learnability-1")
    np.testing.assert_array_equal(np.sort(kept), np.flatnonzero(ease >= level))
    assert 0 < len(kept) < len(ease)


def test_the_cli_lists_the_registered_strategies_and_samplers() -> None:
    """The help of `--strategy` and `--sampler` names what the registries hold, and the
    CLI's default strategy is the API's: a new entry is not left out of the help."""
    import inspect
    import typing

    from curator import cli
    from curator.pruning import DEFAULT_STRATEGY, STRATEGIES
    from samplers import SAMPLERS

    def listed(command: object, param: str) -> list[str]:
        text = typing.get_type_hints(command, include_extras=True)[param].__metadata__[0].help
        return sorted(text.split(" (")[0].split(" | "))

    assert listed(cli.prune, "strategy") == STRATEGIES.names()
    assert listed(cli.train, "sampler") == SAMPLERS.names()
    assert inspect.signature(cli.prune).parameters["strategy"].default == DEFAULT_STRATEGY


def test_each_strategy_reads_only_its_own_options() -> None:
    from curator.errors import CuratorError
    from curator.pruning import STRATEGIES, check_options

    check_options("stratified", {"drop_hardest", "strata", "seed"})
    check_options("drop-noisy", {"threshold"})
    for name in STRATEGIES.names():
        check_options(name, {"seed"})
    with pytest.raises(CuratorError, match="drop_hardest is an option of strategy stratified"):
        check_options("drop-flagged", {"drop_hardest"})
    with pytest.raises(CuratorError, match="threshold is an option of strategy drop-noisy"):
        check_options("easy", {"threshold"})
