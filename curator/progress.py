"""Rich progress for training: run, epoch, loss, accuracy, samples/s and ETA."""

from __future__ import annotations

import time
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


class TrainingProgress:
    """One bar per run, advanced per batch; the fields show the last finished epoch."""

    def __init__(self, console: Console | None = None, *, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=20),
            TextColumn("epoch {task.fields[epoch]}"), TextColumn("loss {task.fields[loss]}"),
            TextColumn("acc {task.fields[acc]}"), TextColumn("{task.fields[rate]} samples/s"),
            TimeRemainingColumn(),
            console=self.console, disable=not enabled, transient=False)
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

    def start_run(self, name: str, *, epochs: int, first_epoch: int, samples_per_epoch: int
                  ) -> None:
        self._epochs = epochs
        self._task = self._progress.add_task(
            name, total=epochs * samples_per_epoch, completed=first_epoch * samples_per_epoch,
            epoch=f"{first_epoch}/{epochs}", loss="-", acc="-", rate="-")
        self._t0, self._samples = time.perf_counter(), 0

    def advance(self, samples: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, samples)
            self._samples += samples

    def end_epoch(self, result: EpochResult) -> None:
        if self._task is None:
            return
        rate = self._samples / max(time.perf_counter() - self._t0, 1e-9)
        acc = f"{result.train_acc:.3f}"
        if result.test_acc == result.test_acc:  # not NaN
            acc += f" test {result.test_acc:.3f}"
        self._progress.update(self._task, epoch=f"{result.epoch + 1}/{self._epochs}",
                              loss=f"{result.train_loss:.4f}", acc=acc, rate=f"{rate:,.0f}")

    def log(self, message: str) -> None:
        if self.enabled:
            self.console.print(message)
