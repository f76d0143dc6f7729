"""An epoch of `curator score` as users run it, against a bare PyTorch loop doing the same work.

`benchmarks/loop_overhead.py` times the loop in one process; this times the command itself, in
a fresh process each time, against a bare loop script in a fresh process, interleaved, with
the same data (an npz both read), model, optimiser, schedule, batch, per-batch
standardisation and a test pass per epoch, and one torch thread each. Two figures per repeat:

- **marginal**: (wall time of a 12-epoch run − wall time of a 4-epoch run) / 8, of the whole
  process: every cost an epoch brings (recording, the scores file's append, the checkpoint,
  the background writer, progress), and none of the start-up or the one-off first epoch;
- **in-epoch**: the median of epochs 2.. of what each reports for its epochs (the command: the
  file's `history/seconds`, training and test pass; the bare loop: the same span); the median,
  since on a shared machine one epoch in ten is slowed by a neighbour;
- **between epochs**: what the command's process spends outside its epochs (wall time less
  the epochs it reports), per epoch, from the same two runs: the scores file's append, the
  checkpoint, the progress, and the scores at the end where they grow with the epochs.

    python benchmarks/epoch_cost.py --repeats 3     # 20,000 x 784 float32, as the newcomer's
    python benchmarks/epoch_cost.py --probe none    # measurement (issue 30); without recording
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402

SHORT, LONG = 4, 12  # epochs of the two runs whose difference is the marginal cost


def make_npz(path: Path, n: int, features: int) -> None:
    """Gaussian clusters of 10 classes, a test split of n / 5 (as loop_overhead makes)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n + n // 5)
    centres = rng.normal(size=(10, features)).astype(np.float32)
    x = centres[y] + rng.normal(size=(len(y), features)).astype(np.float32)
    np.savez(path, x=x[:n], y=y[:n], x_test=x[n:], y_test=y[n:])


def bare(npz: str, epochs: int) -> list[float]:
    """The bare loop over ``npz`` for ``epochs`` epochs; each epoch's seconds (training and
    the test pass). Runs in its own process (``--bare``)."""
    import torch

    from benchmarks.loop_overhead import Bare
    from curator.config import TrainConfig
    from curator.data import load_data
    from curator.models import build_model

    data = load_data(f"npz:{npz}")
    cfg = TrainConfig(epochs=epochs, device="cpu")
    torch.manual_seed(0)
    model = build_model("mlp", data.sample_shape, data.num_classes)
    loop = Bare(model, data.train, data.test, cfg)
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        loop.epoch(epoch)
        seconds.append(time.perf_counter() - start)
    return seconds


def run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def command_seconds(path: Path) -> list[float]:
    import h5py

    with h5py.File(path, "r") as f:
        return [float(s) for s in f["runs/seed-0/history/seconds"][()]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet-off", action="store_true",
                        help="run the command without --quiet (its progress lines on a pipe)")
    parser.add_argument("--probe", default="train",
                        help="the command's --probe: train (records, the default) or none "
                             "(the loop without recording, to tell the two costs apart)")
    parser.add_argument("--bare", nargs=2, metavar=("NPZ", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:  # the child process of the bare loop
        print(json.dumps(bare(args.bare[0], int(args.bare[1]))))
        return
    import torch

    torch.set_num_threads(1)  # as the two children run (the header says so)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    print(describe())
    print(f"data: {args.n} x {args.features} float32, test {args.n // 5}; mlp, batch 64, "
          f"1 thread; marginal epoch = (run of {LONG} epochs - run of {SHORT}) / "
          f"{LONG - SHORT}; {args.repeats} repeats, the two interleaved"
          + ("; the command prints its progress" if args.quiet_off else "; --quiet")
          + f"; the command's --probe {args.probe}")
    figures: dict[str, list[float]] = {k: [] for k in (
        "command", "bare", "ratio", "command in-epoch", "bare in-epoch", "in-epoch ratio",
        "command between")}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "d.npz"
        make_npz(npz, args.n, args.features)
        for r in range(args.repeats):
            walls: dict[tuple[str, int], float] = {}
            in_epoch: dict[str, list[float]] = {}
            reported: dict[int, float] = {}  # the command's epochs, summed, per run length
            order = ["command", "bare"] if r % 2 == 0 else ["bare", "command"]
            for what in order:
                for epochs in (SHORT, LONG):
                    if what == "command":
                        out = Path(tmp) / f"s{epochs}.h5"
                        cmd = [sys.executable, "-m", "curator.cli", "score", "--data",
                               f"npz:{npz}", "--epochs", str(epochs), "--seeds", "1",
                               "--device", "cpu", "--force", "--out", str(out),
                               "--probe", args.probe]
                        walls[what, epochs] = run(cmd + ([] if args.quiet_off else
                                                         ["--quiet"]), env)
                        seconds = command_seconds(out)
                        reported[epochs] = sum(seconds)
                        if epochs == LONG:
                            in_epoch[what] = seconds
                    else:
                        start = time.perf_counter()
                        done = subprocess.run(
                            [sys.executable, __file__, "--bare", str(npz), str(epochs)],
                            check=True, env=env, capture_output=True, text=True, cwd=ROOT)
                        walls[what, epochs] = time.perf_counter() - start
                        if epochs == LONG:
                            in_epoch[what] = json.loads(done.stdout.strip().splitlines()[-1])
            marginal = {w: (walls[w, LONG] - walls[w, SHORT]) / (LONG - SHORT)
                        for w in ("command", "bare")}
            inside = {w: statistics.median(in_epoch[w][1:]) for w in ("command", "bare")}
            between = ((walls["command", LONG] - reported[LONG])
                       - (walls["command", SHORT] - reported[SHORT])) / (LONG - SHORT)
            figures["command"].append(marginal["command"])
            figures["bare"].append(marginal["bare"])
            figures["ratio"].append(marginal["command"] / marginal["bare"])
            figures["command in-epoch"].append(inside["command"])
            figures["bare in-epoch"].append(inside["bare"])
            figures["in-epoch ratio"].append(inside["command"] / inside["bare"])
            figures["command between"].append(between)
            print(f"repeat {r + 1}: marginal s/epoch command {marginal['command']:.3f}, bare "
                  f"{marginal['bare']:.3f} (ratio {figures['ratio'][-1]:.3f}); in-epoch "
                  f"command {inside['command']:.3f}, bare {inside['bare']:.3f} (ratio "
                  f"{figures['in-epoch ratio'][-1]:.3f}); between epochs {between:.3f} s; "
                  f"start-up and first epoch "
                  f"command {walls['command', SHORT] - SHORT * marginal['command']:.1f} s, "
                  f"bare {walls['bare', SHORT] - SHORT * marginal['bare']:.1f} s", flush=True)
    print(f"{'figure':<18} {'mean ± std':>18} {'median':>8}")  # the median: a repeat the
    for name, values in figures.items():  # machine slowed for one of the two is common
        print(f"{name:<18} {mean_std(values):>18} {statistics.median(values):>8.3f}")


if __name__ == "__main__":
    main()
