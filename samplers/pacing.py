"""Pacing functions g(s): the fraction of the data (easiest first) available at progress s.

Progress s runs from 0 (start of training) to 1 (end). Every pacing starts at ``start`` = b,
reaches 1 at the saturation point ``saturation`` = a and stays there (Wu, Dyer & Neyshabur
2021, "When do curricula work?", whose families and parameters these are; x = s / a):

- ``linear``       b + (1 - b) x
- ``quadratic``    b + (1 - b) x^2
- ``root``         b + (1 - b) sqrt(x)
- ``step``         b + (1 - b) floor(steps x) / steps (``steps`` = 1: b until a, then all)
- ``exponential``  b + (1 - b) (e^(10 x) - 1) / (e^10 - 1)
- ``logarithmic``  b + (1 - b) (1 + 0.1 log(x + e^-10))
- ``fixed-exponential`` (Hacohen & Weinshall 2019): b * increase^floor(s / step_length),
  the fraction multiplied by ``increase`` every ``step_length`` of progress; by default the
  step length makes it saturate at a.

All are vectorised over s (numpy arrays) and clipped to [b, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from samplers._registry import Registry

Pacing = Callable[..., np.ndarray]
PACINGS: Registry[Pacing] = Registry("pacing")


def _x(s: np.ndarray, saturation: float) -> np.ndarray:
    return np.clip(np.asarray(s, dtype=np.float64) / saturation, 0.0, 1.0)


@PACINGS.register("linear")
def linear(s: np.ndarray, start: float, saturation: float) -> np.ndarray:
    return start + (1 - start) * _x(s, saturation)


@PACINGS.register("quadratic")
def quadratic(s: np.ndarray, start: float, saturation: float) -> np.ndarray:
    return start + (1 - start) * _x(s, saturation) ** 2


@PACINGS.register("root")
def root(s: np.ndarray, start: float, saturation: float) -> np.ndarray:
    return start + (1 - start) * np.sqrt(_x(s, saturation))


@PACINGS.register("step")
def step(s: np.ndarray, start: float, saturation: float, steps: int = 1) -> np.ndarray:
    if steps < 1:
        raise ValueError(f"step pacing needs steps >= 1, but got {steps}")
    return start + (1 - start) * np.floor(steps * _x(s, saturation)) / steps


@PACINGS.register("exponential")
def exponential(s: np.ndarray, start: float, saturation: float) -> np.ndarray:
    return start + (1 - start) * np.expm1(10 * _x(s, saturation)) / math.expm1(10)


@PACINGS.register("logarithmic")
def logarithmic(s: np.ndarray, start: float, saturation: float) -> np.ndarray:
    x = _x(s, saturation)
    return np.clip(start + (1 - start) * (1 + 0.1 * np.log(x + math.exp(-10))), start, 1.0)


@PACINGS.register("fixed-exponential")
def fixed_exponential(s: np.ndarray, start: float, saturation: float, increase: float = 2.0,
                      step_length: float | None = None) -> np.ndarray:
    if increase <= 1:
        raise ValueError(f"fixed-exponential pacing needs increase > 1, but got {increase}")
    if step_length is None:
        grows = max(1, math.ceil(math.log(1 / start) / math.log(increase))) if start < 1 else 1
        step_length = saturation / grows
    if step_length <= 0:
        raise ValueError(f"fixed-exponential pacing needs step_length > 0, got {step_length}")
    s = np.asarray(s, dtype=np.float64)
    k = np.floor(np.clip(s, 0, None) / step_length + 1e-12)
    return np.minimum(1.0, start * increase ** k)


def check_pacing(name: str, start: float, saturation: float) -> Pacing:
    """The registered pacing ``name``, after checking its start and saturation point."""
    if not (isinstance(start, int | float) and 0 < start <= 1):
        raise ValueError(f"pacing start must be in (0, 1], but got {start!r}")
    if not (isinstance(saturation, int | float) and 0 < saturation <= 1):
        raise ValueError(f"pacing saturation must be in (0, 1], but got {saturation!r}")
    return PACINGS.get(name)


def pool_size(fraction: np.ndarray | float, n: int) -> np.ndarray:
    """Samples in the pool for a fraction of n: ceil(g n), at least 1, at most n."""
    return np.clip(np.ceil(np.asarray(fraction) * n - 1e-9), 1, n).astype(np.int64)
