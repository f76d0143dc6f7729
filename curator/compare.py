"""Compare one score across scores files of the same data (seed 001's Table 1).

For every pair of files: the Pearson correlation of the score, the Pearson correlation of its
Eq. 2 ranks (a Spearman correlation with Eq. 2's tie rule), and the Jaccard overlap of the
easiest and of the hardest ``fraction`` of samples (seed 003: easy and hard examples are
"largely shared across architectures").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curator.errors import CuratorError, FormatError
from curator.scores import rank_easiest_first
from curator.store import open_scores


@dataclass
class Comparison:
    score: str
    files: list[str]
    labels: list[str]  # model of each file's first run
    fraction: float
    pearson: np.ndarray  # (F, F)
    rank_pearson: np.ndarray
    jaccard_easiest: np.ndarray
    jaccard_hardest: np.ndarray

    def to_dict(self) -> dict[str, object]:
        return {"score": self.score, "files": self.files, "models": self.labels,
                "fraction": self.fraction,
                "pearson": self.pearson.round(6).tolist(),
                "rank_pearson": self.rank_pearson.round(6).tolist(),
                "jaccard_easiest": self.jaccard_easiest.round(6).tolist(),
                "jaccard_hardest": self.jaccard_hardest.round(6).tolist()}


def extremes(ease: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the easiest and of the hardest ceil(fraction * N) samples (ties by index)."""
    k = max(1, math.ceil(fraction * len(ease)))
    order = np.argsort(-ease, kind="stable")
    return order[:k], order[::-1][:k]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def check_same_data(first: str | Path, first_fp: str, other: str | Path, other_fp: str
                    ) -> None:
    """Refuse to compare ``other`` with ``first`` when they were scored on other data."""
    if other_fp != first_fp:
        raise FormatError(f"{str(other)!r} was scored on other data than {str(first)!r} "
                          f"(fingerprints {other_fp} and {first_fp})",
                          hint="compare files made from the same --data, --label-noise "
                               "and --noise-seed")


def compare_files(paths: Sequence[str | Path], *, score: str = "learnability",
                  fraction: float = 0.1) -> Comparison:
    """Compare ``score`` across ``paths``; refuse files of different data."""
    if len(paths) < 2:
        raise CuratorError(f"compare needs at least two files, but got {len(paths)}")
    if not 0 < fraction <= 0.5:
        raise CuratorError(f"--fraction must be in (0, 0.5], but got {fraction}")
    eases, labels, fingerprints = [], [], []
    for path in paths:
        with open_scores(path) as f:
            s = f.score(score)
            eases.append(s.ease)
            runs = f.runs()
            labels.append(runs[0].model if runs else "?")
            fingerprints.append(f.fingerprint)
    for path, fp in zip(paths[1:], fingerprints[1:], strict=True):
        check_same_data(paths[0], fingerprints[0], path, fp)
    ranks = [rank_easiest_first(e).astype(np.float64) for e in eases]
    ext = [extremes(e, fraction) for e in eases]
    n = len(paths)
    mats = {k: np.eye(n) for k in ("p", "r", "je", "jh")}
    for i in range(n):
        for j in range(i + 1, n):
            values = {"p": _pearson(eases[i], eases[j]), "r": _pearson(ranks[i], ranks[j]),
                      "je": _jaccard(ext[i][0], ext[j][0]),
                      "jh": _jaccard(ext[i][1], ext[j][1])}
            for k, v in values.items():
                mats[k][i, j] = mats[k][j, i] = v
    return Comparison(score, [str(p) for p in paths], labels, fraction, mats["p"], mats["r"],
                      mats["je"], mats["jh"])
