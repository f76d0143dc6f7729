"""Scores computed from recorded trajectories, registered by name.

A *per-sample* score reduces the (R runs, T epochs, B samples) block of the statistics it
needs to (B,) values; the engine reads the file in column blocks so memory stays bounded by
``R * T * block`` values of one statistic, whatever N. A *derived* score is computed from
another score's (N,) values (e.g. the rank of Eq. 2).

Definitions follow ../shared/PAPERS.md; docs/scores.md states each formula and its source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from curator.errors import CuratorError, FormatError
from curator.registry import Registry
from curator.store import ScoresFile, ScoreValues, open_scores, write_scores

SCORES: Registry[Callable[..., np.ndarray]] = Registry("score")
BLOCK_BYTES = 256 << 20  # at most this much of one statistic is read at once


def rank_easiest_first(values: np.ndarray) -> np.ndarray:
    """Eq. 2 of seed 001: R_i = sum_j 1[L(i) <= L(j)], so rank 1 is the easiest.

    Tied samples all get the largest rank of their group (the number of samples at least as
    easy). O(N log N), vectorised.
    """
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise CuratorError("cannot rank scores that contain NaN")
    ascending = np.sort(values)
    below = np.searchsorted(ascending, values, side="left")  # #{j : L(j) < L(i)}
    return (len(values) - below).astype(np.int64)


# --------------------------------------------------------------------------------------
# Registered scores
# --------------------------------------------------------------------------------------


@SCORES.register("learnability", kind="per_sample", needs=("p_true",), higher_is="easier",
                 description="mean probability of the given label over epochs and runs "
                             "(seed 001, Eq. 1)")
def learnability(p_true: np.ndarray) -> np.ndarray:
    """L(i) = mean over runs of (1/T) sum_t p_t(i)."""
    return p_true.mean(axis=1, dtype=np.float64).mean(axis=0)


@SCORES.register("learnability_rank", kind="derived", source="learnability",
                 higher_is="harder",
                 description="rank of learnability, 1 = easiest, ties share the largest rank "
                             "(seed 001, Eq. 2)")
def learnability_rank(values: np.ndarray) -> np.ndarray:
    return rank_easiest_first(values)


@SCORES.register("hit_rate", kind="per_sample", needs=("correct",), higher_is="easier",
                 description="fraction of epochs (and runs) in which the sample was predicted "
                             "correctly (seed 001's hits and misses)")
def hit_rate(correct: np.ndarray) -> np.ndarray:
    return correct.mean(axis=(0, 1), dtype=np.float64)


# --------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------


class Trajectories(Protocol):
    """Recorded statistics of R runs: ``read(stat, start, stop)`` -> (R, T, stop - start)."""

    runs: tuple[str, ...]
    num_samples: int
    num_epochs: int

    def read(self, stat: str, start: int, stop: int) -> np.ndarray: ...


@dataclass
class ArrayTrajectories:
    """In-memory trajectories: ``stats[name]`` has shape (R, T, N)."""

    stats: Mapping[str, np.ndarray]
    runs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        shapes = {np.shape(v) for v in self.stats.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3:
            raise ValueError(f"every statistic must have one (R, T, N) shape, got {shapes}")
        r, t, n = next(iter(shapes))
        self.num_epochs, self.num_samples = t, n
        if not self.runs:
            self.runs = tuple(f"run-{i}" for i in range(r))

    def read(self, stat: str, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.stats[stat])[:, :, start:stop]


class FileTrajectories:
    """The complete runs of a scores file (all with the same number of epochs)."""

    def __init__(self, scores: ScoresFile, runs: Sequence[str] | None = None) -> None:
        complete = [r for r in scores.runs() if r.complete and r.stats]
        if runs is not None:
            complete = [r for r in complete if r.name in set(runs)]
        if not complete:
            raise FormatError(f"{str(scores.path)!r} has no complete run with recorded "
                              "statistics", hint="finish the run with `curator score --resume`")
        epochs = {r.epochs_done for r in complete}
        if len(epochs) != 1:
            raise FormatError(f"the runs of {str(scores.path)!r} have different epoch counts "
                              f"{sorted(epochs)}; scores average over runs of equal length")
        self.file = scores
        self.runs = tuple(r.name for r in complete)
        self.num_epochs = epochs.pop()
        self.num_samples = scores.num_samples

    def read(self, stat: str, start: int, stop: int) -> np.ndarray:
        return np.stack([self.file.read_stat(r, stat, start, stop) for r in self.runs])


def compute_scores(traj: Trajectories, names: Sequence[str] | None = None
                   ) -> dict[str, ScoreValues]:
    """Compute the named scores (default: every registered one) from ``traj``."""
    entries = [SCORES.entry(n) for n in (names or SCORES.names())]
    for e in list(entries):  # a derived score brings its source along
        if e.meta["kind"] == "derived" and e.meta["source"] not in {x.name for x in entries}:
            entries.insert(0, SCORES.entry(e.meta["source"]))
    per_sample = [e for e in entries if e.meta["kind"] == "per_sample"]
    n = traj.num_samples
    values = {e.name: np.empty(n, dtype=np.float64) for e in per_sample}
    block = max(1, BLOCK_BYTES // (4 * max(1, len(traj.runs)) * max(1, traj.num_epochs)))
    for start in range(0, n, block):
        stop = min(n, start + block)
        cache: dict[str, np.ndarray] = {}
        for e in per_sample:
            args = []
            for stat in e.meta["needs"]:
                if stat not in cache:
                    cache[stat] = traj.read(stat, start, stop)
                args.append(cache[stat])
            values[e.name][start:stop] = e.fn(*args)
    for e in entries:
        if e.meta["kind"] == "derived":
            values[e.name] = e.fn(values[e.meta["source"]])
    out = {}
    for e in entries:
        v = values[e.name]
        v = v.astype(np.float32) if v.dtype.kind == "f" else v
        out[e.name] = ScoreValues(v, e.meta["higher_is"], e.meta["description"], traj.runs)
    return out


def rescore(path: str | Path, names: Sequence[str] | None = None) -> dict[str, ScoreValues]:
    """Recompute scores from the complete runs stored in ``path`` and write them back."""
    with open_scores(path) as f:
        scores = compute_scores(FileTrajectories(f), names)
    write_scores(path, scores)
    return scores
