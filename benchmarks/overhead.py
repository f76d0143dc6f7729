"""Cost of recording: the same training loop with --probe none, train and eval, and a peer.

The peer is the ``aum`` package's ``AUMCalculator.update`` (Pleiss et al.'s own library),
called on every step's logits from the same loop with ``--probe none``. Each repeat builds one
trainer per mode (same seed, so the same training trajectory) and trains them epoch by epoch in
turn, the order alternating each epoch, so that drifts of the machine hit every mode alike. A
repeat's figure is its median epoch time, and the ratio to ``none`` is taken within each
repeat; test evaluation is off, so only training and recording are timed.

    python benchmarks/overhead.py --data synthetic:50000 --model mlp --epochs 5 --repeats 5
    python benchmarks/overhead.py --data digits --device cuda --model resnet20

``synthetic:N`` is N training samples (and N/5 test samples) of 64 features in 10 Gaussian
classes, written to a temporary npz and loaded through ``npz:`` like any user's arrays;
``synthetic-images:N`` is N CIFAR-10-shaped uint8 images (3 x 32 x 32), for GPU throughput.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from curator.config import TrainConfig  # noqa: E402
from curator.data import load_data  # noqa: E402
from curator.loop import Trainer, resolve_device  # noqa: E402
from curator.models import build_model  # noqa: E402

PROBES = ("none", "train", "eval")


def synthetic(spec: str, folder: Path) -> str:
    """Write the arrays of ``synthetic:N`` / ``synthetic-images:N`` and return an npz spec."""
    kind, _, n = spec.partition(":")
    n_train, rng = int(n), np.random.default_rng(0)
    n = n_train + n_train // 5  # and a test split of 20% more
    y = rng.integers(0, 10, n)
    if kind == "synthetic":
        x = (rng.normal(size=(10, 64)) * 0.5)[y] + rng.normal(size=(n, 64))
        x = x.astype(np.float32)
    else:  # CIFAR-10-shaped images: a class colour plus noise, uint8
        base = rng.integers(0, 256, (10, 3, 1, 1))
        x = np.clip(base[y] + rng.normal(0, 60, (n, 3, 32, 32)), 0, 255).astype(np.uint8)
    path = folder / "synthetic.npz"
    np.savez(path, x=x[:n_train], y=y[:n_train], x_test=x[n_train:], y_test=y[n_train:])
    return f"npz:{path}"


def aum_peer() -> tuple[object, object]:
    """The peer's recorder and the hook that feeds it every step's logits."""
    from aum import AUMCalculator

    calc = AUMCalculator(tempfile.mkdtemp(), compressed=True)

    def on_step(idx: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        calc.update(logits, y, idx.tolist())

    return calc, on_step


def measure(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spec = synthetic(args.data, Path(tmp)) if args.data.startswith("synthetic") \
            else args.data
        bundle = load_data(spec)
    device = resolve_device(args.device)
    cfg = TrainConfig(data=spec, model=args.model, epochs=args.epochs + 1,
                      batch_size=args.batch_size, device=args.device,
                      channels_last=args.channels_last, compile=args.compile)
    modes = [*PROBES, *(["aum"] if args.peer else [])]
    times: dict[str, list[float]] = {p: [] for p in modes}
    for r in range(args.repeats):
        trainers, hooks = {}, {}
        for mode in modes:
            torch.manual_seed(r)
            model = build_model(args.model, bundle.sample_shape, bundle.num_classes)
            probe = "none" if mode == "aum" else mode
            trainers[mode] = Trainer(model, bundle.train, cfg.replace(probe=probe), seed=r,
                                     device=device)
            hooks[mode] = aum_peer()[1] if mode == "aum" else None
            trainers[mode].train_epoch(0, on_step=hooks[mode])  # warm-up epoch, not timed
        epoch_s: dict[str, list[float]] = {p: [] for p in modes}
        for e in range(1, args.epochs + 1):
            for mode in (modes if e % 2 else modes[::-1]):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                trainers[mode].train_epoch(e, on_step=hooks[mode])
                if device.type == "cuda":
                    torch.cuda.synchronize()
                epoch_s[mode].append(time.perf_counter() - t0)
        for mode in modes:
            times[mode].append(statistics.median(epoch_s[mode]))
    return {"config": vars(args), "n": bundle.num_samples, "median_epoch_s": times,
            "modes": modes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per repeat")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--no-peer", dest="peer", action="store_false",
                        help="leave out the aum package's AUMCalculator")
    parser.add_argument("--out", type=Path, help="write config and results as JSON")
    args = parser.parse_args()
    print(describe())
    res = measure(args)
    t = res["median_epoch_s"]
    print(f"\nrecording overhead: data {args.data} (N = {res['n']}), model {args.model}, batch "
          f"{args.batch_size}, device {args.device}, channels-last {args.channels_last}, "
          f"compile {args.compile}, {args.repeats} repeats x {args.epochs} interleaved epochs "
          "(a repeat's figure: its median epoch; aum = --probe none + AUMCalculator.update)")
    print(f"{'mode':<7} {'epoch s, mean ± std':<22} {'samples/s':>10}  "
          f"{'ratio to none, mean ± std':<27} {'median ratio':>12}")
    for probe in res["modes"]:
        ratios = [a / b for a, b in zip(t[probe], t["none"], strict=True)]
        res.setdefault("ratio_to_none", {})[probe] = ratios
        rate = res["n"] / statistics.median(t[probe])
        print(f"{probe:<7} {mean_std(t[probe]):<22} {rate:>10,.0f}  {mean_std(ratios):<27} "
              f"{statistics.median(ratios):>12.3f}")
    if args.out:
        args.out.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
