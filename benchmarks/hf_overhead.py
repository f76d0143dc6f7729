"""What recording costs a Hugging Face ``Trainer`` run: ``curator.hf.CuratorTrainer`` against
the plain ``Trainer`` on the same model, data, seed and arguments (examples/hf_text.py: a
small BERT built from a config on generated topic sentences), alternated, several repeats.

Two figures. The ratio of the two runs' ``train_runtime``, which the machine's noise blurs;
and, inside each recording run, the time curator's own code took (timed around it:
``Recorder.__init__``, ``update``, ``end_epoch``, the background append of each epoch,
``close`` with the scores, and the first-epoch checks), as a share of that run's
``train_runtime`` — what recording costs, read directly rather than as a difference of two
noisy runs. The background append overlaps training, so counting it is an upper bound.

    python benchmarks/hf_overhead.py [--train 20000] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from examples import hf_text  # noqa: E402

TIMED = {"Recorder": ("__init__", "update", "end_epoch", "_append", "close"),
         "CuratorMixin": ("_curator_check",)}
ONCE = ("__init__", "close")  # a run's start and end (the scores), not an epoch's


def timers() -> dict[str, float]:
    """Wrap curator's code in a recording run with timers; returns the running totals (s)."""
    import functools
    import threading
    import time

    from curator import hf, recorder

    totals: dict[str, float] = {}
    lock = threading.Lock()  # the append runs on the recorder's writer thread
    owners = {"Recorder": recorder.Recorder, "CuratorMixin": hf.CuratorMixin}
    for owner, names in TIMED.items():
        cls = owners[owner]
        for name in names:
            original = getattr(cls, name)

            def timed(*a, _f=original, _n=name, **k):
                start = time.perf_counter()
                try:
                    return _f(*a, **k)
                finally:
                    with lock:
                        totals[_n] = totals.get(_n, 0.0) + time.perf_counter() - start

            setattr(cls, name, functools.wraps(original)(timed))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    print(describe())
    print(f"transformers {transformers.__version__}; {args.train} training texts, "
          f"{args.epochs} epochs with an evaluation each, {args.repeats} repeats, alternated")
    times: dict[bool, list[float]] = {False: [], True: []}
    totals = timers()
    shares: list[float] = []
    parts: dict[str, list[float]] = {}
    for r in range(args.repeats):
        for record in (False, True) if r % 2 == 0 else (True, False):
            totals.clear()
            with tempfile.TemporaryDirectory() as tmp:
                _, seconds = hf_text.fit(Path(tmp) / "t.h5", epochs=args.epochs,
                                         n_train=args.train, n_test=2000,
                                         work=Path(tmp) / "run", record=record)
                times[record].append(seconds)  # trainer.train() alone: its train_runtime
            if record:  # the epochs' share; opening and closing the file are once a run
                shares.append(sum(t for n, t in totals.items() if n not in ONCE) / seconds)
                for name, t in totals.items():
                    parts.setdefault(name, []).append(t if name in ONCE else t / seconds)
    plain, rec = times[False], times[True]
    ratios = [b / a for a, b in zip(plain, rec, strict=True)]
    print("trainer.train(), the Trainer's train_runtime (evaluations included, setup "
          "not): ")
    print(f"plain Trainer: {mean_std(plain)} s; CuratorTrainer: {mean_std(rec)} s "
          f"(each pair: {', '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(plain, rec, strict=True))})")
    print(f"recording / plain: {statistics.mean(ratios):.3f} ± "
          f"{statistics.stdev(ratios) if len(ratios) > 1 else 0:.3f}")
    spread = statistics.stdev(shares) if len(shares) > 1 else 0.0
    print(f"curator's code in the epochs of the recording runs (update, end_epoch, the "
          f"append, the first-epoch checks), share of train_runtime: "
          f"{100 * statistics.mean(shares):.2f}% ± {100 * spread:.2f}%")
    for name, values in parts.items():
        print(f"  {name:<16} " + (f"{statistics.mean(values):.3f} s a run" if name in ONCE
                                  else f"{100 * statistics.mean(values):.3f}%"))


if __name__ == "__main__":
    main()
