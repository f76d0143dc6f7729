"""Your own model and data for `curator score` and `curator train`, named by import path:

    curator score --model examples.plugins:small_mlp --data examples.plugins:digits_halves

A model function takes (sample_shape, num_classes) and returns an nn.Module; a data function
takes nothing and returns arrays (here a dict; a tuple (x, y[, x_test, y_test]) or a Dataset
of (x, y) items work too). The module must be importable wherever the scores file is used
again (`curator train --scores`, `curator report`).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from torch import nn


def small_mlp(sample_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(sample_shape)), 32), nn.ReLU(),
                         nn.Linear(32, num_classes))


def digits_halves() -> dict[str, object]:
    """scikit-learn's digits, even indices to train and odd ones to test."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    return {"x": x[::2], "y": y[::2], "x_test": x[1::2], "y_test": y[1::2],
            "classes": [str(c) for c in range(10)]}
