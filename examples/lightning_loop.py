"""Record a PyTorch Lightning fit with curator's callback.

    pip install 'torch-curator[lightning]'
    python examples/lightning_loop.py [--out scores.h5] [--epochs 10] [--resume CKPT]

An MLP on scikit-learn's digits; the callback writes the same scores file as `curator score`.
A fit resumed from a Lightning checkpoint continues the recorded run at the checkpoint's epoch.
"""

from __future__ import annotations

import argparse

import lightning
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

import curator
from curator.lightning import CuratorCallback


class Digits(lightning.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                       torch.nn.Linear(64, 10))

    def training_step(self, batch, batch_idx):
        x, y, index = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        return {"loss": loss, "logits": logits.detach(), "index": index, "target": y}

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_acc", (logits.argmax(1) == y).float().mean())
        self.log("val_loss", F.cross_entropy(logits, y))  # where memorising begins

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def main(out: str, epochs: int, resume: str | None, ckpt_dir: str) -> None:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16, dtype=torch.float32)
    y_train = y[:1400]
    train = curator.with_indices(TensorDataset(x[:1400], torch.tensor(y_train)))
    val = TensorDataset(x[1400:], torch.tensor(y[1400:]))
    lightning.seed_everything(0, verbose=False)
    trainer = lightning.Trainer(
        max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=ckpt_dir,
        callbacks=[CuratorCallback(out, labels=y_train, num_classes=10, test_samples=len(val)),
                   lightning.pytorch.callbacks.ModelCheckpoint(dirpath=ckpt_dir,
                                                                save_last=True)])
    trainer.fit(Digits(), DataLoader(train, batch_size=64, shuffle=True),
                DataLoader(val, batch_size=256), ckpt_path=resume)
    scores = curator.load(out)
    print(f"{out}: runs {', '.join(scores.runs)}; learnability median "
          f"{np.median(scores['learnability'].values):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="scores.h5")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--resume", help="a Lightning checkpoint to continue from")
    parser.add_argument("--checkpoints", default="checkpoints")
    args = parser.parse_args()
    main(args.out, args.epochs, args.resume, args.checkpoints)
