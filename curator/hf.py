"""Record a Hugging Face ``transformers.Trainer`` run into a curator scores file.

    pip install transformers datasets

    from curator.hf import CuratorTrainer, with_index

    train = with_index(train)                      # a datasets.Dataset: + column curator_index
    trainer = CuratorTrainer(model=model, args=args, train_dataset=train,
                             eval_dataset=test, compute_metrics=accuracy,
                             curator_path="scores.h5", labels=train["label"])
    trainer.train()                                # then: curator flag scores.h5

    # the second run, on what the scores decided (a datasets.Dataset again):
    kept = curator.prune("scores.h5", keep=0.8).selection.indices
    clean = with_corrections(train, "corrections.csv", keep=kept)  # curator relabel / review

A ``Trainer`` drops the columns its model's ``forward`` does not take and never shows a
callback the logits of a training step. :class:`CuratorTrainer` (or :class:`CuratorMixin`
before any ``Trainer`` subclass) keeps the index column through ``remove_unused_columns`` and
the collator, takes it out of the batch before the model sees it, and hands the logits of
every training step's own forward pass to :class:`curator.Recorder` — no second forward
pass. Each epoch's test accuracy and loss are the ``Trainer``'s own evaluation
(``eval_accuracy`` and ``eval_loss``, or the metrics named by ``test_metric`` and
``test_loss_metric``; run it every epoch: ``eval_strategy="epoch"``), and the end of training
finishes the run and writes the scores. Training resumed from a checkpoint saved at an
epoch's end (``trainer.train(resume_from_checkpoint=...)``, ``save_strategy=
"epoch"``) continues the run at that epoch. Under ``torchrun`` every rank records the
samples it trained on and rank 0 writes the file (:class:`curator.Recorder` under DDP).

Tested with transformers 4.49 to 5.25, datasets 2.21 to 5.2, accelerate 1.1 to 1.16.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

from curator.errors import CuratorError
from curator.loop import CHECK_TEST_SAMPLES
from curator.recorder import Recorder

INDEX = "curator_index"


def with_index(dataset: Any, column: str = INDEX) -> Any:
    """``dataset`` (a ``datasets.Dataset``) with a column ``column`` holding each row's index,
    the sample index the scores file uses."""
    if column in dataset.column_names:
        raise CuratorError(f"the data set already has a column {column!r}",
                           hint="pass column= another name (and curator_index= the same to "
                                "CuratorTrainer)")
    return dataset.add_column(column, list(range(len(dataset))))


def with_corrections(dataset: Any, corrections: Any, *, keep: Any = None,
                     label_column: str = "label") -> Any:
    """``dataset`` (the ``datasets.Dataset`` a scores file was recorded on, in its order) with
    the corrections applied, as a ``datasets.Dataset`` for the next ``Trainer``: the dropped
    rows left out (with ``keep``, the indices of a pruning selection, only those rows), the
    relabelled rows with their new label, every row in its order (its
    :func:`with_index` column, if any, still the original index). A corrections file
    (``curator relabel``, ``curator review``) or :class:`curator.corrections.Corrections`;
    one made against other labels is refused. ``with_corrections(train, None, keep=...)``
    selects without corrections."""
    from curator.corrections import Corrections, kept_rows, read

    if label_column not in dataset.column_names:
        raise CuratorError(f"the data set has no column {label_column!r} (it has "
                           f"{', '.join(map(repr, dataset.column_names))})",
                           param="label_column")
    labels = np.asarray(dataset[label_column])
    if corrections is not None:
        if not isinstance(corrections, Corrections):
            corrections = read(corrections)
        corrections.check_labels(labels, "the data set")
        new = corrections.labels(labels)
        if (new != labels).any():
            feature = dataset.features[label_column]
            dataset = dataset.remove_columns(label_column).add_column(
                label_column, new.tolist()).cast_column(label_column, feature)
    return dataset.select(kept_rows(len(labels), corrections, keep).tolist())


class _EpochEnd(transformers.TrainerCallback):
    """Ends the recorder's epoch with the test accuracy and loss of the evaluation that
    follows the epoch (the ``Trainer`` evaluates after ``on_epoch_end``), or without them."""

    def __init__(self, owner: CuratorMixin) -> None:
        self.owner = owner

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.owner._curator_pending = True

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                    **kwargs: Any) -> None:
        if self.owner._curator_pending:
            found = metrics or {}
            acc, loss = (found.get(name) for name in self.owner._curator_metrics)
            self.owner._curator_end_epoch(math.nan if acc is None else float(acc),
                                          math.nan if loss is None else float(loss))

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.owner._curator_pending:  # no evaluation after the last epoch
            self.owner._curator_end_epoch(math.nan)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.owner._curator_after_step(state)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.owner._curator_pending:
            self.owner._curator_end_epoch(math.nan)
        self.owner._curator_close()


class CuratorMixin:
    """Put before a ``transformers.Trainer`` (sub)class to record its training: see the
    module docstring. ``curator_path``: the scores file; ``labels``: the training labels in
    index order (required); ``curator_index``: the index column (:func:`with_index`);
    ``test_metric``, ``test_loss_metric``: the evaluation metrics taken for the test accuracy
    and loss (the loss tells where memorising begins: docs/flags.md, step 1);
    ``first_epoch_checks``: test evaluations inside the first epoch (before its first step,
    then after every ``1/k`` of its steps, on at most 2,000 evaluation samples, as ``curator
    score`` makes them with 10; 0, the default: none) — a second count of the share of wrong
    labels (docs/flags.md, step 3; :meth:`curator.Recorder.check`), at the cost of ``k + 1``
    evaluations in the first epoch (with 2,000 training and 2,000 evaluation texts, 10 checks
    took 44% of a 2-epoch run);
    ``recorder_kwargs``: keyword arguments of :class:`curator.Recorder` (``epochs`` defaults
    to the arguments' ``num_train_epochs``, ``seed`` to theirs, ``test_samples`` to the
    evaluation set's size, ``start_epoch`` to the epochs of the checkpoint resumed from); the
    other keyword arguments go to the ``Trainer``."""

    def __init__(self, *args: Any, curator_path: str | Path, labels: Any,
                 curator_index: str = INDEX, test_metric: str = "eval_accuracy",
                 test_loss_metric: str = "eval_loss", first_epoch_checks: int = 0,
                 recorder_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        given = np.asarray(labels)
        if given.dtype.kind in "USO":  # the Trainer's loss needs class numbers, and so do we
            raise CuratorError(
                f"labels are {given.dtype.kind == 'O' and 'objects' or 'strings'} (e.g. "
                f"{str(given.flat[0])!r}): the Trainer and the scores file need class numbers",
                param="labels", hint="number them first: train = train.class_encode_column("
                                     "'label'), then labels=train['label']")
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._curator_path = Path(curator_path)
        self._curator_labels = labels
        self._curator_index = curator_index
        self._curator_metrics = (test_metric, test_loss_metric)
        self._curator_kwargs = dict(recorder_kwargs or {})
        self._curator_recorder: Recorder | None = None
        self._curator_pending = False
        self._curator_checks = int(first_epoch_checks)
        self._curator_marks: set[int] = set()  # the first epoch's steps followed by a check
        self._curator_check_set: Any = None  # the evaluation samples the checks measure
        self.add_callback(_EpochEnd(self))  # type: ignore[attr-defined]

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()  # type: ignore[misc]
        if self._curator_index not in self._signature_columns:  # type: ignore[attr-defined]
            self._signature_columns.append(self._curator_index)  # type: ignore[attr-defined]

    def _curator_open(self) -> Recorder:
        if self._curator_recorder is None:
            args = self.args  # type: ignore[attr-defined]
            kwargs = dict(self._curator_kwargs)
            epochs = kwargs.pop("epochs", None)
            if epochs is None and args.max_steps <= 0:
                epochs = math.ceil(args.num_train_epochs)
            test = getattr(self, "eval_dataset", None)
            if "test_samples" not in kwargs and test is not None and hasattr(test, "__len__"):
                kwargs["test_samples"] = len(test)  # the one-standard-error window
            kwargs.setdefault("seed", args.seed)
            # the epochs the Trainer has done: 0, or those of the checkpoint it resumed from
            kwargs.setdefault("start_epoch", math.floor(
                float(self.state.epoch or 0.0) + 1e-6))  # type: ignore[attr-defined]
            self._curator_recorder = Recorder(self._curator_path, labels=self._curator_labels,
                                              epochs=epochs, **kwargs)
            self._curator_plan_checks()
        return self._curator_recorder

    def _curator_plan_checks(self) -> None:
        """At the first update of a run's first epoch: the steps after which the first-epoch
        checks come, and the check before the first step."""
        rec, state = self._curator_recorder, self.state  # type: ignore[attr-defined]
        test = getattr(self, "eval_dataset", None)
        if (rec is None or rec.epochs_done or self._curator_checks <= 0 or test is None
                or not hasattr(test, "__len__") or state.global_step):
            return
        args = self.args  # type: ignore[attr-defined]
        steps = max(1, math.ceil(state.max_steps / max(args.num_train_epochs, 1e-9))
                    if args.max_steps <= 0 else state.max_steps)
        k = max(1, min(self._curator_checks, steps))
        self._curator_marks = {max(1, round(steps * (i + 1) / k)) for i in range(k)}
        if len(test) > CHECK_TEST_SAMPLES:  # the same subset at every check
            generator = torch.Generator().manual_seed(int(args.seed))
            test = test.select(torch.randperm(len(test), generator=generator)
                               [:CHECK_TEST_SAMPLES].tolist())
        if hasattr(test, "column_names"):  # a datasets.Dataset: the model's columns only
            test = self._remove_unused_columns(test, description="check")  # type: ignore[attr-defined]
        self._curator_check_set = test
        self._curator_check()

    def _curator_after_step(self, state: Any) -> None:
        if state.global_step in self._curator_marks:
            self._curator_marks.discard(state.global_step)
            self._curator_check()

    def _curator_check(self) -> None:
        """The model's accuracy now on the check set (at most CHECK_TEST_SAMPLES of the
        evaluation set, chosen once by :meth:`_curator_plan_checks`), in eval mode, without
        the Trainer's evaluation loop (no callbacks, no logs): handed to
        :meth:`curator.Recorder.check`. Every rank evaluates the same samples."""
        rec = self._curator_recorder
        if rec is None or rec.epochs_done or self._curator_check_set is None:
            return
        loader = torch.utils.data.DataLoader(
            self._curator_check_set, batch_size=self.args.per_device_eval_batch_size,  # type: ignore[attr-defined]
            collate_fn=self.data_collator)  # type: ignore[attr-defined]
        model = self.model  # type: ignore[attr-defined]
        training = model.training
        model.eval()
        hits = seen = 0
        with torch.no_grad():
            for batch in loader:
                inputs = self._prepare_inputs(batch)  # type: ignore[attr-defined]
                inputs.pop(self._curator_index, None)
                labels = inputs.pop("labels")
                out = model(**inputs)
                logits = out["logits"] if isinstance(out, dict) else out.logits
                hits += int((logits.argmax(-1) == labels).sum())
                seen += len(labels)
        model.train(training)
        rec.check(hits / max(seen, 1), test_samples=max(seen, 1))

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any],
                     return_outputs: bool = False, **kwargs: Any) -> Any:
        index = inputs.pop(self._curator_index, None)
        if not model.training:  # evaluation and prediction: nothing to record
            return super().compute_loss(model, inputs, return_outputs=return_outputs,  # type: ignore[misc]
                                        **kwargs)
        if index is None:
            raise CuratorError(f"the training batch has no column {self._curator_index!r}",
                               hint="train on curator.hf.with_index(train_dataset)")
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True,  # type: ignore[misc]
                                             **kwargs)
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        self._curator_open().update(index, logits.detach(), inputs.get("labels"))
        return (loss, outputs) if return_outputs else loss

    def _curator_end_epoch(self, test_acc: float, test_loss: float = math.nan) -> None:
        self._curator_pending = False
        if self._curator_recorder is not None:
            self._curator_recorder.end_epoch(test_acc=test_acc, test_loss=test_loss)

    def _curator_close(self) -> None:
        if self._curator_recorder is not None:
            self._curator_recorder.close()
            self._curator_recorder = None


class CuratorTrainer(CuratorMixin, transformers.Trainer):
    """A ``transformers.Trainer`` that records its training (:class:`CuratorMixin`)."""
