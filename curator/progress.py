"""Progress for training: run, epoch, loss, accuracy, samples/s and ETA.

On a terminal, one rich bar per run; otherwise (a log file, a pipe, a batch job) one plain line
per finished epoch, as log-friendly tools print. The samples/s column is the last epoch's own
rate. When the number of runs is known (:meth:`TrainingProgress.expect`), an estimate of the
time the command has left: after the first epoch, again after the second (the first carries
one-off costs: warm-up, and ``curator score``'s first-epoch checks), and again whenever the
epochs since the first say otherwise by more than :data:`REESTIMATE`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from curator.loop import EpochResult

REESTIMATE = 0.25  # a new estimate when the old one is off by more than this share


class TrainingProgress:
    """One bar per run, advanced per batch; the fields show the last finished epoch."""

    def __init__(self, console: Console | None = None, *, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.plain = enabled and not self.console.is_terminal  # one line per epoch
        self._runs = 0  # runs the command will train (0: unknown)
        self._left = 0  # epochs they have left
        self._done = 0  # epochs finished since expect()
        self._later: list[float] = []  # seconds of each of them but the first
        self._said: tuple[float, float] | None = None  # (time, remaining) of the last estimate
        self._name = ""
        self._first_epoch = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=20),
            TextColumn("epoch {task.fields[epoch]}"), TextColumn("loss {task.fields[loss]}"),
            TextColumn("acc {task.fields[acc]}"), TextColumn("{task.fields[rate]} samples/s"),
            TimeRemainingColumn(),
            console=self.console, disable=not enabled or self.plain, transient=False)
        self._task: TaskID | None = None
        self._epochs = 0
        self._t0 = 0.0
        self._samples = 0

    def __enter__(self) -> TrainingProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def expect(self, epochs: int, runs: int) -> None:
        """The epochs this command has left to train, in how many runs (for the estimate
        after the first epoch; a resumed command counts only what is left)."""
        self._left, self._runs = epochs, runs
        self._done, self._later, self._said = 0, [], None

    def start_run(self, name: str, *, first_epoch: int, epoch_lengths: Sequence[int]) -> None:
        """A run of ``len(epoch_lengths)`` epochs presenting that many samples each (they
        differ under dynamic pruning), resumed after ``first_epoch`` finished ones."""
        epochs = len(epoch_lengths)
        self._epochs, self._name = epochs, name
        self._first_epoch = first_epoch
        self._task = self._progress.add_task(
            name, total=sum(epoch_lengths), completed=sum(epoch_lengths[:first_epoch]),
            epoch=f"{first_epoch}/{epochs}", loss="-", acc="-", rate="-")
        self._t0, self._samples = time.perf_counter(), 0

    def advance(self, samples: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, samples)
            self._samples += samples

    def end_epoch(self, result: EpochResult) -> None:
        if self._task is None:
            return
        now = time.perf_counter()
        rate = self._samples / max(now - self._t0, 1e-9)  # this epoch's own rate
        self._t0, self._samples = now, 0
        acc = f"{result.train_acc:.3f}"
        if result.test_acc == result.test_acc:  # not NaN
            acc += f" test {result.test_acc:.3f}"
        self._progress.update(self._task, epoch=f"{result.epoch + 1}/{self._epochs}",
                              loss=f"{result.train_loss:.4f}", acc=acc, rate=f"{rate:,.0f}")
        if self.plain:
            self.console.print(f"{self._name} epoch {result.epoch + 1}/{self._epochs} loss "
                               f"{result.train_loss:.4f} acc {acc} {rate:,.0f} samples/s "
                               f"{result.seconds:.1f} s", highlight=False, soft_wrap=True)
        if self.enabled and self._runs:
            self._estimate(result.seconds, now)

    def _estimate(self, seconds: float, now: float) -> None:
        """Say what the command has left after the first and the second epoch, and after a
        later one when the estimate moved by more than :data:`REESTIMATE`."""
        self._done += 1
        if self._done > 1:
            self._later.append(seconds)
        left = self._left - self._done
        if left <= 0:
            return
        per_epoch = sum(self._later) / len(self._later) if self._later else seconds
        remaining = left * per_epoch
        basis = (f"{per_epoch:.1f} s an epoch, from the epochs after the first"
                 if self._later else f"from the first epoch, {seconds:.1f} s")
        if self._said is None:
            if remaining >= 30:  # worth saying
                self._say(remaining, left, basis)
                self._said = (now, remaining)
            return
        said_at, said = self._said
        expected = max(said - (now - said_at), 1e-9)  # what the last estimate left now
        if self._done == 2 or abs(remaining - expected) > REESTIMATE * expected:
            self._say(remaining, left, basis)
            self._said = (now, remaining)

    def _say(self, remaining: float, left: int, basis: str) -> None:
        self.console.print(f"estimate: about {_duration(remaining)} more for {left} epochs "
                           f"in {self._runs} run(s) ({basis})", highlight=False)

    def log(self, message: str) -> None:
        if self.enabled:
            self.console.print(message)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
