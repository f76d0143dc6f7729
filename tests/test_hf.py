"""Recording a Hugging Face Trainer (curator.hf) on a generated text task (examples/hf_text.py)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("datasets")
pytest.importorskip("accelerate")

from curator.errors import CuratorError  # noqa: E402
from curator.flagging import read_report  # noqa: E402
from curator.store import open_scores  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from examples import hf_text  # noqa: E402


@pytest.mark.slow
def test_a_trainer_run_is_recorded_from_its_own_forward_passes(tmp_path: Path) -> None:
    """Every training step's logits reach the file without a second forward pass: a hook on
    the model sees as many training forwards as the Trainer takes steps, and the recorded
    probability of each sample's label in epoch 1 is the softmax of the logits the hook saw
    for it. The flags find the flipped labels; the test accuracy is the Trainer's own."""
    import torch
    import transformers

    seen: dict[int, np.ndarray] = {}
    calls = {"train": 0}
    original = transformers.BertForSequenceClassification.forward

    def spy(self, *args, **kwargs):  # the model's own forward, watched
        out = original(self, *args, **kwargs)
        if self.training:
            calls["train"] += 1
            if calls["train"] <= 38:  # epoch 1: 1200 samples / 32 a batch
                idx = spy.index.pop(0)
                p = torch.softmax(out.logits.detach().float(), -1).numpy()
                y = kwargs["labels"].numpy()
                for i, row, label in zip(idx, p, y, strict=True):
                    seen[int(i)] = row[label]
        return out

    spy.index = []
    spy = functools.wraps(original)(spy)  # the Trainer reads forward's signature
    spy.index = []
    from curator import hf

    compute = hf.CuratorMixin.compute_loss

    def catch(self, model, inputs, return_outputs=False, **kwargs):
        if model.training:
            spy.index.append(inputs[self._curator_index].numpy().copy())
        return compute(self, model, inputs, return_outputs=return_outputs, **kwargs)

    out = tmp_path / "text.h5"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transformers.BertForSequenceClassification, "forward", spy)
        mp.setattr(hf.CuratorMixin, "compute_loss", catch)
        hf_text.run(out, epochs=3, work=tmp_path / "run", first_epoch_checks=10)
    assert calls["train"] == 3 * 38  # one forward a step, none extra
    with open_scores(out) as f:
        (run,) = f.runs()
        assert run.complete and run.epochs_done == 3
        p1 = f.read_stat(run.name, "p_true", 0, f.num_samples)[0]
        correct1 = f.read_stat(run.name, "correct", 0, f.num_samples)[0]
        test_acc = f.history(run.name)["test_acc"]
        test_loss = f.history(run.name)["test_loss"]
        checks = f.first_epoch(run.name)
    # the first-epoch checks: ten stretches covering the epoch, each sample predicted before
    # its step, the test accuracy measured on the 400 evaluation samples at both ends
    assert checks.shape == (10, 5) and checks[:, 0].sum() == 1200
    assert checks[:, 1].sum() == correct1.sum() and (checks[:, 4] == 400).all()
    np.testing.assert_array_equal(checks[1:, 2], checks[:-1, 3])
    assert len(seen) == 1200
    idx = np.array(sorted(seen))
    np.testing.assert_allclose(p1[idx], [seen[i] for i in idx], rtol=1e-3, atol=1e-4)
    assert np.isfinite(test_acc).all() and test_acc.max() > 0.9  # the Trainer's evaluation
    assert np.isfinite(test_loss).all() and (test_loss > 0).all()  # its eval_loss
    report, _ = read_report(out)
    assert report.quality is not None and report.quality.f1 > 0.7, report.quality


@pytest.mark.slow
def test_the_trainer_records_what_an_equivalent_plain_loop_records(tmp_path: Path) -> None:
    """The same model, data, batches, optimiser, schedule and gradient clipping, trained once
    by the Trainer through CuratorTrainer and once by a plain loop with curator.Recorder:
    both files hold the same trajectories (every statistic, every epoch, bit for bit) and
    test accuracies. Dropout is off, so the two runs are the same computation."""
    import copy

    import torch
    import transformers

    from curator import Recorder, hf

    task = hf_text.prepare(n_train=960, n_test=200, seed=0, dropout=0.0)
    init = copy.deepcopy(task.model.state_dict())
    batches: list[torch.Tensor] = []  # the Trainer's batches, in its order

    class Watched(hf.CuratorTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            if model.training:
                batches.append(inputs[self._curator_index].clone())
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        **kwargs)

    epochs = 3
    args = hf_text.arguments(tmp_path / "run", epochs=epochs, seed=0)
    Watched(model=task.model, args=args, train_dataset=task.train, eval_dataset=task.test,
            compute_metrics=task.accuracy, curator_path=tmp_path / "trainer.h5",
            labels=task.noisy_y).train()

    model = type(task.model)(task.model.config)
    model.load_state_dict(init)
    cls, options = transformers.Trainer.get_optimizer_cls_and_kwargs(args, model)
    optimizer = cls(model.parameters(), weight_decay=args.weight_decay, **options)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, 0, len(batches))
    columns = ("input_ids", "attention_mask")
    train = {c: torch.tensor(task.train[c]) for c in columns}
    test = {c: torch.tensor(task.test[c]) for c in columns}
    labels, test_labels = torch.tensor(task.noisy_y), torch.tensor(task.test["label"])
    steps = len(batches) // epochs
    with Recorder(tmp_path / "plain.h5", labels=task.noisy_y, num_classes=4,
                  epochs=epochs, seed=0) as rec:
        for epoch in range(epochs):
            model.train()
            for idx in batches[epoch * steps:(epoch + 1) * steps]:
                out = model(**{c: v[idx] for c, v in train.items()}, labels=labels[idx])
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                rec.update(idx, out.logits.detach(), labels[idx])
            model.eval()
            with torch.no_grad():
                guess = model(**test).logits.argmax(1)
            rec.end_epoch(test_acc=float((guess == test_labels).double().mean()))

    assert len(batches) == epochs * 30 and torch.cat(batches[:30]).sort()[0].tolist() == list(
        range(960))
    with open_scores(tmp_path / "trainer.h5") as a, open_scores(tmp_path / "plain.h5") as b:
        (ra,), (rb,) = a.runs(), b.runs()
        assert ra.epochs_done == rb.epochs_done == epochs
        names = sorted(set(ra.stats) & set(rb.stats))
        assert {"p_true", "correct", "loss", "margin"} <= set(names)
        for name in names:
            np.testing.assert_array_equal(a.read_stat(ra.name, name, 0, 960),
                                          b.read_stat(rb.name, name, 0, 960), err_msg=name)
        test_acc = a.history(ra.name)["test_acc"]
        np.testing.assert_array_equal(test_acc, b.history(rb.name)["test_acc"])
    assert test_acc[-1] > 0.8  # the model learns: the trajectories are not flat


@pytest.mark.slow
def test_a_batch_without_the_index_is_refused(tmp_path: Path) -> None:
    """Training on a data set without curator.hf.with_index: a clear error at the first step,
    not a model that receives an unexpected column or a file of nothing."""
    import datasets

    from curator import hf

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf, "with_index", lambda ds, column=hf.INDEX: ds)
        with pytest.raises(CuratorError, match="has no column 'curator_index'"):
            hf_text.run(tmp_path / "t.h5", epochs=1, work=tmp_path / "run")
    with pytest.raises(CuratorError, match="already has a column"):
        hf.with_index(hf.with_index(datasets.Dataset.from_dict({"text": ["a"], "label": [0]})))
    task = hf_text.prepare(n_train=64, n_test=32)
    args = hf_text.arguments(tmp_path / "run2", epochs=1, seed=0)
    with pytest.raises(CuratorError,
                       match="(?s)labels are strings .e.g. .sport.*class_encode_column"):
        hf.CuratorTrainer(model=task.model, args=args, train_dataset=task.train,
                          curator_path=tmp_path / "s.h5", labels=["sport"] * 64)


@pytest.mark.slow
def test_remove_unused_columns_either_way(tmp_path: Path) -> None:
    """With remove_unused_columns=False the index column reaches compute_loss as it is and is
    taken out before the model (which would refuse it); with True (the default) it is kept
    through the column removal: both record a complete run of every sample."""
    from curator import hf

    for remove in (False, True):
        task = hf_text.prepare(n_train=96, n_test=32)
        train = task.train.remove_columns(["text"])  # only what the model and curator take
        test = task.test.remove_columns(["text"])
        args = hf_text.arguments(tmp_path / f"run{remove}", epochs=2, seed=0)
        args.remove_unused_columns = remove
        out = tmp_path / f"s{remove}.h5"
        hf.CuratorTrainer(model=task.model, args=args, train_dataset=train, eval_dataset=test,
                          compute_metrics=task.accuracy, curator_path=out,
                          labels=task.noisy_y).train()
        with open_scores(out) as f:
            (run,) = f.runs()
            assert run.complete and run.epochs_done == 2
            assert np.isfinite(f.read_stat(run.name, "p_true", 0, 96)).all()


@pytest.mark.slow
def test_training_resumed_from_a_checkpoint_continues_the_run(tmp_path: Path) -> None:
    """Two epochs with a checkpoint at each end, then the same training asked for four and
    resumed from the last checkpoint: one run of four epochs, its first two as recorded
    before."""
    out = tmp_path / "text.h5"
    hf_text.run(out, epochs=2, work=tmp_path / "run", save=True)
    with open_scores(out) as f:
        (run,) = f.runs()
        before = f.read_stat(run.name, "p_true", 0, f.num_samples)
    assert run.complete and run.epochs_done == 2
    hf_text.run(out, epochs=4, work=tmp_path / "run", resume=True)
    with open_scores(out) as f:
        (run,) = f.runs()
        after = f.read_stat(run.name, "p_true", 0, f.num_samples)
        test_acc = f.history(run.name)["test_acc"]
    assert run.complete and run.epochs_done == 4 and np.isfinite(test_acc).all()
    np.testing.assert_array_equal(after[:2], before)


def _digits_as_hf(tmp: Path) -> tuple[Path, Path]:
    """The digits as a save_to_disk DatasetDict (an array column, string labels) and as a
    folder of parquet files (64 numeric columns, integer labels)."""
    import datasets
    import pandas as pd
    from sklearn.datasets import load_digits

    d = load_digits()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    saved, files = tmp / "saved", tmp / "files"
    datasets.DatasetDict(
        train=datasets.Dataset.from_dict({"pixels": d.images[:1400].tolist(),
                                          "label": names[d.target[:1400]].tolist(),
                                          "caption": ["a digit"] * 1400}),
        test=datasets.Dataset.from_dict({"pixels": d.images[1400:].tolist(),
                                         "label": names[d.target[1400:]].tolist(),
                                         "caption": ["a digit"] * 397})).save_to_disk(str(saved))
    files.mkdir()
    for name, part in (("train", slice(0, 1400)), ("test", slice(1400, None))):
        frame = pd.DataFrame(d.data[part], columns=[f"f{i}" for i in range(64)])
        frame["label"] = d.target[part]
        frame.to_parquet(files / f"{name}.parquet")
    return saved, files


def test_score_reads_hugging_face_data(tmp_path: Path) -> None:
    """--data hf:DIR: a save_to_disk folder with string labels (numbered in sorted order,
    their names the classes) and an array column; a folder of parquet files with numeric
    columns; bad input answered: no such label column, a text column as input."""
    from typer.testing import CliRunner

    from curator.cli import app

    saved, files = _digits_as_hf(tmp_path)
    runner = CliRunner()
    quick = ["--epochs", "1", "--seeds", "1", "--device", "cpu", "--quiet"]
    out = tmp_path / "a.h5"
    r = runner.invoke(app, ["score", "--data", f"hf:{saved},x=pixels", *quick, "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        assert f.num_samples == 1400 and f.data_spec["sample_shape"] == [1, 8, 8]
        assert f.data_spec["classes"][:3] == ["eight", "five", "four"]
    out = tmp_path / "b.h5"
    r = runner.invoke(app, ["score", "--data", f"hf:{files}", *quick, "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        assert f.num_samples == 1400 and f.data_spec["sample_shape"] == [64]
    r = runner.invoke(app, ["score", "--data", f"hf:{files},label=digit", *quick,
                            "--out", str(tmp_path / "c.h5")])
    assert r.exit_code == 1 and "has no label column 'digit'" in r.output
    assert "(65 in all)" in r.output and ",label=COLUMN" in r.output
    r = runner.invoke(app, ["score", "--data", f"hf:{saved}", *quick,  # caption left out
                            "--out", str(tmp_path / "e.h5")])
    assert r.exit_code == 0, r.output
    named = tmp_path / "named"  # a ClassLabel column: its names are the classes
    datasets = pytest.importorskip("datasets")
    part = datasets.load_from_disk(str(files.parent / "saved"))["train"].select(range(300))
    digits = [str(i) for i in range(10)]
    part = part.remove_columns("label").add_column(
        "label", [int(v) for v in np.arange(300) % 10]).cast_column(
        "label", datasets.ClassLabel(names=[f"digit {d}" for d in digits]))
    part.save_to_disk(str(named))
    out = tmp_path / "n.h5"
    r = runner.invoke(app, ["score", "--data", f"hf:{named},x=pixels", *quick, "--out", str(out)])
    assert r.exit_code == 0, r.output
    with open_scores(out) as f:
        assert f.data_spec["classes"][:2] == ["digit 0", "digit 1"]
    r = runner.invoke(app, ["score", "--data", f"hf:{saved},x=caption", *quick,
                            "--out", str(tmp_path / "d.h5")])
    assert r.exit_code == 1 and "is not numeric" in " ".join(r.output.split())


def test_with_indices_on_a_hugging_face_dataset() -> None:
    """curator.with_indices on a datasets.Dataset (torch format): a DataLoader's batches carry
    the index under "index"; a data set with its own "index" column is refused, not
    overwritten."""
    import datasets
    import torch

    import curator

    ds = datasets.Dataset.from_dict({"x": np.arange(10.0).reshape(5, 2).tolist(),
                                     "label": [0, 1, 0, 1, 1]}).with_format("torch")
    batch = next(iter(torch.utils.data.DataLoader(curator.with_indices(ds), batch_size=5)))
    assert batch["index"].tolist() == [0, 1, 2, 3, 4] and batch["x"].shape == (5, 2)
    with pytest.raises(CuratorError, match="already has a column 'index'"):
        curator.with_indices(ds.add_column("index", [9] * 5))


@pytest.mark.slow
def test_a_trainer_under_torchrun_records_every_ranks_samples(tmp_path: Path) -> None:
    """The Trainer on two gloo ranks (torchrun, CPU), 301 training samples (the Trainer's
    distributed sampler pads one rank's shard with a repeated sample): one complete run whose
    first epoch holds, for every sample, the probability of its label that the rank which
    trained it computed; the test accuracy is the Trainer's (every rank's evaluation)."""
    import json
    import os
    import subprocess

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "ddp.h5"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         "2", str(root / "tests" / "dist_hf.py"), str(out), "301"],
        env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads(Path(f"{out}.rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 2 * 5  # 151 a rank, batch 32
    seen: dict[int, float] = {}
    for r in ranks:
        for i, p in r["seen"].items():
            seen[int(i)] = max(seen.get(int(i), -1.0), p)
    assert sorted(seen) == list(range(301))  # every sample trained on by some rank
    with open_scores(out) as f:
        (run,) = f.runs()
        assert run.complete and run.epochs_done == 2
        p1 = f.read_stat(run.name, "p_true", 0, 301)[0]
        test_acc = f.history(run.name)["test_acc"]
    np.testing.assert_allclose(p1, [seen[i] for i in range(301)], rtol=1e-3, atol=1e-4)
    assert np.isfinite(test_acc).all()


@pytest.mark.slow
def test_the_second_run_trains_on_what_the_scores_decided(tmp_path: Path) -> None:
    """The recorded example, then `curator.prune` and `curator.relabel` on its file, and the
    selection and the corrections applied to the same datasets.Dataset for the next Trainer
    (curator.hf.with_corrections): the dropped rows and the rows outside the selection gone,
    the relabelled rows carrying their new label, fewer wrong labels than before; a Trainer
    trains on it. Corrections made against other labels are refused."""
    import datasets
    import transformers

    import curator
    from curator import hf

    out = tmp_path / "text.h5"
    hf_text.run(out, epochs=4, work=tmp_path / "run")
    kept = curator.prune(out, keep=0.8).selection.indices
    made, _ = curator.relabel(out, tmp_path / "corrections.csv")
    task = hf_text.prepare()  # the same generated data set, in index order
    clean = hf.with_corrections(task.train, tmp_path / "corrections.csv")
    expect = np.flatnonzero(made.kept())
    assert clean[hf.INDEX] == expect.tolist()
    new = made.labels(task.noisy_y)
    assert clean["label"] == new[expect].tolist()
    assert len(made.relabelled) and set(made.relabelled) <= set(expect)
    wrong_before = float((task.noisy_y != task.train_y).mean())
    wrong_after = float((new[expect] != task.train_y[expect]).mean())
    assert wrong_after < wrong_before / 3, (wrong_before, wrong_after)
    both = hf.with_corrections(task.train, made, keep=range(600))  # with a selection
    assert both[hf.INDEX] == expect[expect < 600].tolist()
    assert isinstance(clean, datasets.Dataset)
    args = hf_text.arguments(tmp_path / "second", epochs=1, seed=0)
    done = transformers.Trainer(model=hf_text.prepare().model, args=args, train_dataset=clean,
                                eval_dataset=task.test, compute_metrics=task.accuracy).train()
    assert done.global_step == -(-len(clean) // 32)
    selected = hf.with_corrections(task.train, None, keep=kept)  # a selection alone
    assert selected[hf.INDEX] == sorted(np.asarray(kept).tolist())
    other = task.train.remove_columns("label").add_column(
        "label", ((task.noisy_y + 1) % 4).tolist())
    with pytest.raises(CuratorError, match="made against other labels"):
        hf.with_corrections(other, tmp_path / "corrections.csv")
    with pytest.raises(CuratorError, match="outside the data set's 1200 rows"):
        hf.with_corrections(task.train, None, keep=[1200])
