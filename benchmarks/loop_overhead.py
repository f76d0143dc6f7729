"""curator's training loop against a bare PyTorch loop doing the same work, per epoch.

The same work: the default MLP, SGD with Nesterov momentum and weight decay (none on biases
and norms), a per-step cosine schedule, batch 64, per-batch standardisation of the inputs, and
a test pass after each epoch. Variants, each its own model from the same initial weights,
trained epoch by epoch in a rotating order in one process (so drifts of the machine hit each
alike); the first epoch of each is a warm-up:

- ``bare``: a plain loop written as a user would, indexing the tensors in memory;
- ``trainer``: curator's ``Trainer.train_epoch`` with ``probe = none`` (the loop alone);
- ``trainer+record``: with ``probe = train`` (the per-sample statistics);
- ``score``: what ``curator score`` does per epoch: recording, the HDF5 append and the
  checkpoint.

    python benchmarks/loop_overhead.py --n 20000 --features 784 --epochs 8 --threads 1
    python benchmarks/loop_overhead.py --images 4000 --threads 1   # 28x28 uint8 images
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from curator import store  # noqa: E402
from curator.config import TrainConfig  # noqa: E402
from curator.data import TensorSplit, fingerprint  # noqa: E402
from curator.loop import Trainer  # noqa: E402
from curator.models import build_model  # noqa: E402
from curator.reference import _save_atomic  # noqa: E402

VARIANTS = ("bare", "trainer", "trainer+record", "score")


def make_data(args: argparse.Namespace) -> tuple[TensorSplit, TensorSplit]:
    g = torch.Generator().manual_seed(0)
    n = args.images or args.n
    y = torch.randint(0, 10, (n + n // 5,), generator=g)
    if args.images:  # 28x28 uint8 images, normalised per batch (scale 1/255)
        x = (torch.rand(len(y), 1, 28, 28, generator=g) * 200 + y[:, None, None, None] * 5)
        x, scale = x.to(torch.uint8), 1 / 255
    else:
        centres = torch.randn(10, args.features, generator=g)
        x, scale = centres[y] + torch.randn(len(y), args.features, generator=g), 1.0
    train = TensorSplit(x[:n], y[:n], scale=scale)
    test = TensorSplit(x[n:], y[n:], scale=scale, mean=train.mean, std=train.std)
    return train, test


class Bare:
    """The plain loop, as a user writes it."""

    def __init__(self, model: torch.nn.Module, train: TensorSplit, test: TensorSplit,
                 cfg: TrainConfig) -> None:
        self.model, self.train, self.test, self.cfg = model, train, test, cfg
        decay = [p for p in model.parameters() if p.dim() > 1]
        rest = [p for p in model.parameters() if p.dim() <= 1]
        self.opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                    {"params": rest, "weight_decay": 0.0}], lr=cfg.lr,
                                   momentum=cfg.momentum, nesterov=True)
        steps = cfg.epochs * math.ceil(len(train) / cfg.batch_size)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
        self.mean, self.std, self.scale = train.mean, train.std, train.scale

    def epoch(self, epoch: int) -> None:
        self.model.train()
        perm = torch.randperm(len(self.train), generator=torch.Generator().manual_seed(epoch))
        for idx in perm.split(self.cfg.batch_size):
            x = (self.train.x[idx].float() * self.scale - self.mean) / self.std
            loss = F.cross_entropy(self.model(x), self.train.labels[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
        self.model.eval()
        with torch.no_grad():
            for idx in torch.arange(len(self.test)).split(1024):
                x = (self.test.x[idx].float() * self.scale - self.mean) / self.std
                self.model(x).argmax(1).eq(self.test.labels[idx]).sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--images", type=int, default=0, help="N 28x28 uint8 images instead")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(describe())
    train, test = make_data(args)
    cfg = TrainConfig(epochs=args.epochs, device="cpu")
    print(f"data: {len(train)} x {tuple(train.sample_shape)} {train.x.dtype}, test "
          f"{len(test)}; mlp, batch {cfg.batch_size}; {args.epochs} epochs (first is "
          f"warm-up); threads {args.threads}")
    torch.manual_seed(0)
    base = build_model("mlp", train.sample_shape, 10)
    cpu = torch.device("cpu")
    runs = {"bare": Bare(copy.deepcopy(base), train, test, cfg)}
    for name, probe in (("trainer", "none"), ("trainer+record", "train"), ("score", "train")):
        runs[name] = Trainer(copy.deepcopy(base), train, cfg.replace(probe=probe), seed=0,
                             device=cpu, test=test)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.h5"
        labels = train.labels.numpy()
        store.create_file(path, labels=labels, num_classes=10,
                          data={"data": "synthetic", "label_noise": 0.0, "noise_seed": 0},
                          fingerprint=fingerprint(labels, train.sample_shape, 10),
                          config=cfg.to_dict())
        store.add_run(path, "seed-0", seed=0, config=cfg.to_dict(), epochs=cfg.epochs,
                      record=True)
        for epoch in range(args.epochs):
            k = epoch % len(VARIANTS)
            for v in VARIANTS[k:] + VARIANTS[:k]:
                start = time.perf_counter()
                if v == "bare":
                    runs[v].epoch(epoch)
                else:
                    result = runs[v].train_epoch(epoch)
                    if v == "score":
                        store.append_epoch(path, "seed-0", epoch, result.stats,
                                           result.metrics())
                        _save_atomic(runs[v].state_dict(), Path(tmp) / "seed-0.pt")
                if epoch:
                    times[v].append(time.perf_counter() - start)
    bare = times["bare"]
    print(f"{'variant':<16} {'s / epoch':>16} {'vs bare':>16} {'median ratio':>13}")
    for v in VARIANTS:
        ratios = [t / b for t, b in zip(times[v], bare, strict=True)]
        print(f"{v:<16} {mean_std(times[v]):>16} {mean_std(ratios):>16} "
              f"{statistics.median(ratios):>13.3f}")
    print(f"goal (issue 15): trainer within 5% of bare; median ratio "
          f"{statistics.median(t / b for t, b in zip(times['trainer'], bare, strict=True)):.3f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
