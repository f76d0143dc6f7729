"""A small registry: a new data set, model, score, pacing or sampler is one decorated function.

It lives in ``samplers`` (which depends on torch and numpy only) so that ``curator`` can share
it; ``curator.registry`` raises curator's own errors through it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    fn: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Named entries of one kind (``"model"``, ``"data set"``, ``"score"``, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str | None = None, **meta: Any) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("mlp")`` adds the function under that name."""

        def add(fn: T) -> T:
            key = name or fn.__name__
            if key in self._entries:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = Entry(key, fn, dict(meta))
            return fn

        return add

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise self._unknown(name) from None

    def get(self, name: str) -> T:
        return self.entry(name).fn

    def _unknown(self, name: str) -> Exception:
        """The error for an unknown name (subclasses raise their own kind)."""
        return ValueError(f"unknown {self.kind} {name!r}: {self.suggest(name)}")

    def suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return hint + f"known {self.kind}s: {', '.join(self.names())}"

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[k] for k in self.names())
