"""Fault injection for the crash tests: kill this process at a named point.

``CURATOR_KILL_AT="write:3"`` sends SIGKILL to the process the third time it reaches the
point ``write``. Points: ``batch`` (inside an epoch, after a training step), ``write``
(inside an epoch's append to the scores file, after its statistics and before its commit),
``written`` (after the append, before the checkpoint), ``checkpoint`` (after the checkpoint),
``derived`` (inside a derived write: scores or a selection, before its commit). Unset, the
check is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_seen: Counter[str] = Counter()


def point(name: str) -> None:
    spec = os.environ.get("CURATOR_KILL_AT")
    if not spec:
        return
    target, _, count = spec.partition(":")
    if target != name:
        return
    _seen[name] += 1
    if _seen[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
