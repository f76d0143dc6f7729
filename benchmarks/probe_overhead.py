"""Cost of recording: the same training loop with --probe none, train and eval.

Each repeat builds one trainer per probe (same seed, so the same training trajectory) and
trains them epoch by epoch in turn, the order alternating each epoch, so that drifts of the
machine hit every probe alike. A repeat's figure is its median epoch time, and the ratio to
``none`` is taken within each repeat; test evaluation is off, so only training and recording
are timed.

    python benchmarks/probe_overhead.py --data digits --model mlp --epochs 10 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from benchmarks._env import describe, mean_std
from curator.config import TrainConfig
from curator.data import load_data
from curator.models import build_model
from curator.train import Trainer, resolve_device

PROBES = ("none", "train", "eval")


def measure(args: argparse.Namespace) -> dict:
    bundle = load_data(args.data)
    device = resolve_device(args.device)
    cfg = TrainConfig(data=args.data, model=args.model, epochs=args.epochs + 1,
                      batch_size=args.batch_size, device=args.device)
    times: dict[str, list[float]] = {p: [] for p in PROBES}
    for r in range(args.repeats):
        trainers = {}
        for probe in PROBES:
            torch.manual_seed(r)
            model = build_model(args.model, bundle.sample_shape, bundle.num_classes)
            trainers[probe] = Trainer(model, bundle.train, cfg.replace(probe=probe), seed=r,
                                      device=device)
            trainers[probe].train_epoch(0)  # warm-up epoch, not timed
        epoch_s: dict[str, list[float]] = {p: [] for p in PROBES}
        for e in range(1, args.epochs + 1):
            for probe in (PROBES if e % 2 else PROBES[::-1]):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                trainers[probe].train_epoch(e)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                epoch_s[probe].append(time.perf_counter() - t0)
        for probe in PROBES:
            times[probe].append(statistics.median(epoch_s[probe]))
    return {"config": vars(args), "n": bundle.num_samples, "median_epoch_s": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per repeat")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="write config and results as JSON")
    args = parser.parse_args()
    print(describe())
    res = measure(args)
    t = res["median_epoch_s"]
    print(f"\nprobe overhead: data {args.data} (N = {res['n']}), model {args.model}, batch "
          f"{args.batch_size}, device {args.device}, {args.repeats} repeats x {args.epochs} "
          "interleaved epochs (a repeat's figure: its median epoch)")
    print(f"{'probe':<7} {'epoch s, mean ± std':<22} {'samples/s':>10}  "
          f"{'ratio to none, mean ± std':<27} {'median ratio':>12}")
    for probe in PROBES:
        ratios = [a / b for a, b in zip(t[probe], t["none"], strict=True)]
        res.setdefault("ratio_to_none", {})[probe] = ratios
        rate = res["n"] / statistics.median(t[probe])
        print(f"{probe:<7} {mean_std(t[probe]):<22} {rate:>10,.0f}  {mean_std(ratios):<27} "
              f"{statistics.median(ratios):>12.3f}")
    if args.out:
        args.out.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
