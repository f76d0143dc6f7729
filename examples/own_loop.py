"""Record your own PyTorch training loop with curator, then prune with the scores.

    python examples/own_loop.py [--out scores.h5] [--epochs 10] [--seeds 2]

Trains a small MLP on scikit-learn's digits (20% of the labels flipped, to have something to
find) with a plain PyTorch loop; curator.Recorder writes the same scores file as
`curator score`, so `curator inspect/flag/prune/report` and the samplers read it.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

import curator


def main(out: str, epochs: int, seeds: int) -> None:
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    noisy = rng.random(len(y)) < 0.2  # flip 20% of the labels to another class
    y = np.where(noisy, (y + rng.integers(1, 10, len(y))) % 10, y)
    train = curator.with_indices(TensorDataset(torch.tensor(x / 16, dtype=torch.float32),
                                               torch.tensor(y)))
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                    torch.nn.Linear(128, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        with curator.Recorder(out, labels=y, num_classes=10, seed=seed, epochs=epochs,
                              noisy=noisy, config={"lr": 0.1}) as rec:
            for _ in range(rec.epochs_done, epochs):  # continues a run that was cut short
                for xb, yb, idx in DataLoader(train, batch_size=64, shuffle=True):
                    logits = model(xb)
                    loss = F.cross_entropy(logits, yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    rec.update(idx, logits, yb)
                rec.end_epoch()
    scores = curator.load(out)
    ease = scores["learnability"].ease
    hardest = np.argsort(ease)[: int(noisy.sum())]
    print(f"{out}: {len(scores.runs)} runs; {noisy[hardest].mean():.0%} of the "
          f"{int(noisy.sum())} least learnable samples have a flipped label")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="scores.h5")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    main(args.out, args.epochs, args.seeds)
