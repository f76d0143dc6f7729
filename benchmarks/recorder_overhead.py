"""Cost of recording your own loop: a plain PyTorch loop bare, with curator.Recorder, and with
the ``aum`` package's AUMCalculator (the peer whose whole API is this call).

Three copies of one model (same initial weights) train side by side, epoch by epoch, the
order of the three rotating each epoch so that drifts of the machine hit each alike. An
epoch's time includes everything the recorder does for it: ``update`` on every step and
``end_epoch`` (the epoch's statistics copied to the host, appended to the HDF5 file and
committed). AUMCalculator's ``update`` returns per-sample records, as it does in its own
examples. The first epoch of each variant is a warm-up and not counted.

    python benchmarks/recorder_overhead.py --n 20000 --features 784 --epochs 6 --threads 1
    python benchmarks/recorder_overhead.py --device cuda --model resnet20 --n 50000

The CPU case is the default MLP of curator (784 -> 512 -> 512 -> 10, batch 64) on 20,000
float32 samples; on a GPU, a ResNet-20 on CIFAR-shaped tensors (batch 512, bf16 autocast).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from curator.models import build_model  # noqa: E402

VARIANTS = ("bare", "curator", "aum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-peer", action="store_true", help="leave out aum")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(describe())
    image = args.model != "mlp"
    shape = (3, 32, 32) if image else (args.features,)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (args.n,), generator=g)
    x = torch.randn(args.n, *shape, generator=g) + F.one_hot(y, 10).float().repeat(
        1, shape[0] // 10 + 1)[:, : shape[0]].reshape(args.n, shape[0], *([1] * (len(shape) - 1)))
    x, y = x.to(device), y.to(device)
    torch.manual_seed(0)
    base = build_model(args.model, shape, 10).to(device)
    if image and device.type == "cuda":
        base = base.to(memory_format=torch.channels_last)
    variants = [v for v in VARIANTS if not (v == "aum" and args.no_peer)]
    models = {v: copy.deepcopy(base) for v in variants}
    opts = {v: torch.optim.SGD(models[v].parameters(), lr=0.05, momentum=0.9, nesterov=True,
                               weight_decay=5e-4) for v in variants}
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
    print(f"data: {args.n} x {shape} float32 on {device}; model {args.model}; batch "
          f"{args.batch_size}; {args.epochs} epochs (first is warm-up); threads {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        from curator import Recorder

        rec = Recorder(Path(tmp) / "own.h5", labels=y.cpu(), num_classes=10)
        calc = None
        if "aum" in variants:
            from aum import AUMCalculator

            calc = AUMCalculator(tmp, compressed=True)
        times: dict[str, list[float]] = {v: [] for v in variants}
        for epoch in range(args.epochs):
            order = variants[epoch % len(variants):] + variants[: epoch % len(variants)]
            perm = torch.randperm(args.n, generator=torch.Generator().manual_seed(epoch))
            perm = perm.to(device)
            for v in order:
                model, opt = models[v], opts[v]
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                for idx in perm.split(args.batch_size):
                    xb = x[idx]
                    if image and device.type == "cuda":
                        xb = xb.contiguous(memory_format=torch.channels_last)
                    if amp is not None:
                        with amp:
                            logits = model(xb)
                    else:
                        logits = model(xb)
                    loss = F.cross_entropy(logits.float(), y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if v == "curator":
                        rec.update(idx, logits, y[idx])
                    elif v == "aum":
                        calc.update(logits.detach().float(), y[idx], idx.tolist())
                if v == "curator":
                    rec.end_epoch()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if epoch:
                    times[v].append(time.perf_counter() - start)
        rec.close(finish=False)
    bare = times["bare"]
    print(f"{'variant':<10} {'s / epoch':>18} {'vs bare (per epoch ratio)':>30}")
    for v in variants:
        ratios = [t / b for t, b in zip(times[v], bare, strict=True)]
        print(f"{v:<10} {mean_std(times[v]):>18} {mean_std(ratios):>30}")
    over = statistics.median(t / b for t, b in zip(times["curator"], bare, strict=True)) - 1
    print(f"curator.Recorder overhead (median of the epochs): {100 * over:+.1f}%")


if __name__ == "__main__":
    main()
