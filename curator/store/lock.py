"""One writer at a time: ``<file>.lock`` beside the file, and writes that a Ctrl-C cannot
cut in half."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from curator.errors import CuratorError


@contextmanager
def writer_lock(path: str | Path) -> Iterator[None]:
    """Hold ``<path>.lock`` for the duration: a second writer of the same file is refused.

    The lock is an advisory ``flock``: it dies with its process (a killed run leaves no stale
    lock), and the lock file is removed on release."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    lock = Path(path).with_name(Path(path).name + ".lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise CuratorError(f"{str(path)!r} is being written by another process ({holder})",
                               hint="wait for it to finish, or write to another --out"
                               ) from None
        try:  # the lock file we locked may have been removed by a writer that just finished
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, since {time.strftime('%H:%M:%S')}".encode())
        yield
    finally:
        with suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


@contextmanager
def _no_interrupt() -> Iterator[None]:
    """Defer Ctrl-C (SIGINT) until the block is done: the block must not be cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[object] = []
    previous = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt
