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
    # 6 epochs left after the first one timed, at 20 s each; said once, then again after
    # the second epoch (the first carries one-off costs)
    assert text.count("estimate: about 2 min more for 6 epochs in 2 run(s) (from the first "
                      "epoch, 20.0 s)") == 1
    assert text.count("estimate: about 2 min more for 5 epochs in 2 run(s) (20.0 s an "
                      "epoch, from the epochs after the first)") == 1


def test_the_estimate_follows_the_run(monkeypatch) -> None:
    """A CNN's first epoch took twice the later ones (the first-epoch checks): the estimate
    from it is corrected after the second epoch and then holds; the samples/s column is each
    epoch's own rate, not a mean from the start."""
    import curator.progress as progress_module

    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: clock[0])
    out = io.StringIO()
    progress = TrainingProgress(Console(file=out, width=200), enabled=True)
    progress.expect(10, 1)
    seconds = [46.0] + [20.0] * 9
    with progress:
        progress.start_run("seed-0", first_epoch=0, epoch_lengths=[1000] * 10)
        for epoch, s in enumerate(seconds):
            progress.advance(1000)
            clock[0] += s
            progress.end_epoch(result(epoch, seconds=s))
    lines = [x for x in out.getvalue().splitlines() if x.startswith("estimate")]
    assert lines[0].startswith("estimate: about 7 min more for 9 epochs")  # 9 x 46 s
    assert lines[1].startswith("estimate: about 3 min more for 8 epochs")  # 8 x 20 s: true
    assert len(lines) == 2  # the later epochs keep to it
    rates = [x.split(" samples/s")[0].rsplit(" ", 1)[1] for x in out.getvalue().splitlines()
             if "samples/s" in x]
    assert rates[0] == "22" and rates[1:] == ["50"] * 9  # 1000 / 46, 1000 / 20


def test_no_estimate_for_short_work() -> None:
    out = io.StringIO()
    progress = TrainingProgress(Console(file=out, width=200), enabled=True)
    progress.expect(3, 1)
    with progress:
        progress.start_run("seed-0", first_epoch=0, epoch_lengths=[100] * 3)
        progress.end_epoch(result(0, seconds=1.0))
    assert "estimate" not in out.getvalue()
