"""A PyTorch Lightning callback that records training into a curator scores file.

    pip install 'torch-curator[lightning]'

    class Model(lightning.LightningModule):
        def training_step(self, batch, batch_idx):
            x, y, index = batch                        # curator.with_indices(train_set)
            logits = self(x)
            loss = F.cross_entropy(logits, y)
            return {"loss": loss, "logits": logits.detach(), "index": index, "target": y}

    trainer = lightning.Trainer(max_epochs=30, callbacks=[
        CuratorCallback("scores.h5", labels=train_labels, num_classes=10)])

Each training step's ``logits``, ``index`` (and optional ``target``) outputs go to
:meth:`curator.Recorder.update`, each epoch's end to :meth:`~curator.Recorder.end_epoch` with
the logged ``val_acc`` and ``val_loss`` (or the metrics named by ``test_metric`` and
``test_loss_metric``; the loss tells where memorising begins, docs/flags.md, step 1), and the
end of fitting
finishes the run and writes the scores. Resuming from a Lightning checkpoint
(``trainer.fit(..., ckpt_path=...)``) continues the run at the checkpoint's epoch; under
Lightning's DDP strategy each rank records its own samples and rank 0 writes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from curator.errors import CuratorError
from curator.recorder import Recorder


class CuratorCallback(pl.Callback):
    """Record a Lightning fit into ``path``; ``recorder_kwargs`` go to
    :class:`curator.Recorder` (``labels`` is required; ``epochs`` defaults to the trainer's
    ``max_epochs``; ``seed`` names the run, ``seed-<seed>``)."""

    def __init__(self, path: str | Path, *, test_metric: str = "val_acc",
                 test_loss_metric: str = "val_loss", **recorder_kwargs: Any) -> None:
        if "labels" not in recorder_kwargs:
            raise CuratorError("CuratorCallback needs labels= (the training labels in index "
                               "order)", param="labels")
        self.path = Path(path)
        self.test_metric = test_metric
        self.test_loss_metric = test_loss_metric
        self.kwargs = recorder_kwargs
        self.recorder: Recorder | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        kwargs = {"epochs": epochs, **self.kwargs}
        self.recorder = Recorder(self.path, start_epoch=trainer.current_epoch, **kwargs)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.recorder is None:
            return
        if not isinstance(outputs, dict) or "logits" not in outputs or "index" not in outputs:
            raise CuratorError("CuratorCallback needs training_step to return a dict with "
                               "'logits' and 'index' (and 'loss'), but got "
                               f"{type(outputs).__name__}"
                               + (f" with keys {sorted(outputs)}" if isinstance(outputs, dict)
                                  else ""),
                               hint="return {'loss': loss, 'logits': logits.detach(), "
                                    "'index': index}; curator.with_indices(train_set) puts "
                                    "the index in each batch")
        self.recorder.update(outputs["index"], outputs["logits"], outputs.get("target"))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.recorder is None or trainer.sanity_checking:
            return
        acc, loss = (trainer.callback_metrics.get(name)
                     for name in (self.test_metric, self.test_loss_metric))
        self.recorder.end_epoch(test_acc=math.nan if acc is None else float(acc),
                                test_loss=math.nan if loss is None else float(loss))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if self.recorder is not None:  # leave the run open: a resumed fit continues it
            self.recorder.close(finish=False)
            self.recorder = None
