"""The registry shared with ``samplers``, raising :class:`~curator.errors.CuratorError`s with a
hint that names the close matches and every known entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from curator.errors import CuratorError
from samplers._registry import Entry
from samplers._registry import Registry as _Registry

__all__ = ["Entry", "Registry"]
T = TypeVar("T", bound=Callable[..., Any])


class Registry(_Registry[T]):
    def __init__(self, kind: str, *, error: type[CuratorError] = CuratorError) -> None:
        super().__init__(kind)
        self._error = error

    def _unknown(self, name: str) -> Exception:
        return self._error(f"unknown {self.kind} {name!r}", hint=self.suggest(name))
