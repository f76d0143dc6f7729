"""Your own model or data for ``curator score``/``train``: ``package.module:function``.

``--model pkg.mod:make_model`` calls ``make_model(sample_shape, num_classes)`` and takes the
``nn.Module`` it returns; ``--data pkg.mod:load`` calls ``load()`` and takes arrays (see
:func:`arrays_of`). The string is stored in the scores file's config like any registered
name, so ``curator train --scores`` and ``curator report`` load the same model and data again
(the module must be importable there too; the data's fingerprint is checked).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from curator.errors import CuratorError

_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def is_import_path(spec: str) -> bool:
    """Whether ``spec`` has the form ``module.path:function``."""
    return bool(_PATH.match(spec))


def resolve(spec: str, what: str) -> Callable[..., Any]:
    """The function ``spec`` (``module.path:function``) names; ``what`` says which option
    (``model``, ``data``) for the error."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CuratorError(f"{what} {spec!r}: cannot import {module_name!r} ({exc})",
                           param=what,
                           hint="put the module on PYTHONPATH (or install it); a registered "
                                "name needs no ':'") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise CuratorError(f"{what} {spec!r}: module {module_name!r} has no function "
                           f"{attr!r}", param=what)
    return fn


def arrays_of(spec: str, result: Any) -> dict[str, Any]:
    """The arrays a data function returned: a dict with ``x``, ``y`` and optional
    ``x_test``, ``y_test``, ``num_classes``, ``classes``; a tuple ``(x, y)`` or ``(x, y,
    x_test, y_test)``; or a map-style Dataset of ``(x, y)`` items (read whole into memory)."""
    if isinstance(result, dict):
        if "x" not in result or "y" not in result:
            raise CuratorError(f"data {spec!r} returned a dict without 'x' and 'y' (keys: "
                               f"{', '.join(map(str, result)) or 'none'})", param="data")
        return result
    if isinstance(result, tuple) and len(result) in (2, 4):
        keys = ("x", "y", "x_test", "y_test")[: len(result)]
        return dict(zip(keys, result, strict=True))
    if hasattr(result, "__getitem__") and hasattr(result, "__len__"):
        import torch

        items = [result[i] for i in range(len(result))]
        if not items or not isinstance(items[0], tuple | list) or len(items[0]) < 2:
            raise CuratorError(f"data {spec!r} returned a Dataset whose items are not (x, y)",
                               param="data")
        xs = torch.stack([torch.as_tensor(item[0]) for item in items])
        ys = np.asarray([int(item[1]) for item in items])
        return {"x": xs.numpy(), "y": ys}
    raise CuratorError(f"data {spec!r} returned {type(result).__name__}; expected a dict "
                       "with 'x' and 'y', a tuple (x, y[, x_test, y_test]) or a Dataset of "
                       "(x, y)", param="data")
