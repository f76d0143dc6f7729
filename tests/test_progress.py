"""Progress output: one plain line per epoch off a terminal, bars sized by each epoch's
samples (dynamic pruning shortens epochs), and an estimate of what is left."""

from __future__ import annotations

import io

from rich.console import Console

from curator.loop import EpochResult
from curator.progress import TrainingProgress


def result(epoch: int, seconds: float) -> EpochResult:
    return EpochResult(epoch, train_loss=0.5, train_acc=0.8, test_loss=0.6, test_acc=0.75,
                       lr=0.1, seconds=seconds, samples=100)


def test_plain_lines_bar_totals_and_the_estimate_of_what_is_left() -> None:
    out = io.StringIO()
    progress = TrainingProgress(Console(file=out, width=200), enabled=True)
    assert progress.plain  # not a terminal
    progress.expect(7, 2)  # a resumed command: 7 epochs left in 2 runs
    with progress:
        progress.start_run("seed-1", first_epoch=1, epoch_lengths=[100, 60, 60, 40])
        task = progress._progress.tasks[0]
        assert task.total == 260 and task.completed == 100
        progress.advance(60)
        progress.end_epoch(result(1, seconds=20.0))
        progress.end_epoch(result(2, seconds=20.0))
    text = out.getvalue()
    assert "seed-1 epoch 2/4 loss 0.5000 acc 0.800 test 0.750" in text
    # 6 epochs left after the first one timed, at 20 s each; said once
    assert text.count("estimate: about 2 min more for 6 epochs in 2 run(s)") == 1


def test_no_estimate_for_short_work() -> None:
    out = io.StringIO()
    progress = TrainingProgress(Console(file=out, width=200), enabled=True)
    progress.expect(3, 1)
    with progress:
        progress.start_run("seed-0", first_epoch=0, epoch_lengths=[100] * 3)
        progress.end_epoch(result(0, seconds=1.0))
    assert "estimate" not in out.getvalue()
