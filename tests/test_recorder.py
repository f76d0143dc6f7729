"""curator.Recorder: your own loop, recorded into the file `curator score` writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from typer.testing import CliRunner

import curator
from curator import store
from curator.cli import app
from curator.config import TrainConfig
from curator.data import DataBundle
from curator.errors import CuratorError, FormatError
from curator.loop import Trainer
from curator.models import build_model
from curator.reference import score
from samplers import EasyToHardSampler

ROOT = Path(__file__).resolve().parents[1]


def toy(n: int = 120, c: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    x = torch.randn(n, 8, generator=g) + 2 * F.one_hot(y, 8).float()
    return x, y


def train_toy(path: Path, n_epochs: int, *, seed: int = 0, stop_after: int | None = None,
              **kwargs: object) -> curator.Recorder:
    """A plain PyTorch loop on a toy problem, recorded; ``stop_after`` raises mid-run."""
    x, y = toy()
    data = curator.with_indices(TensorDataset(x, y))
    torch.manual_seed(seed)
    model = torch.nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with curator.Recorder(path, labels=y, num_classes=3, seed=seed, **kwargs) as rec:
        for epoch in range(rec.epochs_done, n_epochs):
            if stop_after is not None and epoch == stop_after:
                raise KeyboardInterrupt
            loader = DataLoader(data, batch_size=32, shuffle=True,
                                generator=torch.Generator().manual_seed(seed * 100 + epoch))
            for xb, yb, idx in loader:
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                rec.update(idx, logits, yb)
            rec.end_epoch(test_acc=0.5)
    return rec


def test_with_indices_appends_the_index_to_tuples_and_dicts() -> None:
    data = curator.with_indices(TensorDataset(torch.arange(4), torch.arange(4) * 2))
    assert len(data) == 4
    x, y, i = data[2]
    assert (int(x), int(y), i) == (2, 4, 2)
    assert curator.with_indices([{"a": 1}])[0] == {"a": 1, "index": 0}
    assert curator.with_indices(["s"])[0] == ("s", 0)
    with pytest.raises(CuratorError, match="map-style"):
        curator.with_indices(iter([1]))


def test_the_same_loop_recorded_gives_the_trajectories_of_curator_score(tmp_path: Path
                                                                        ) -> None:
    cfg = TrainConfig(epochs=3, seeds=1, device="cpu")
    ref = score(cfg, out=tmp_path / "ref.h5")
    bundle = DataBundle.from_config(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
    trainer = Trainer(model, bundle.train, cfg.replace(probe="none"), seed=cfg.seed,
                      device=torch.device("cpu"), test=bundle.test)
    # test_samples: the test split behind test_acc, which sets the early window as it does
    # for curator score (docs/flags.md, step 1)
    with curator.Recorder(tmp_path / "own.h5", labels=bundle.labels,
                          num_classes=bundle.num_classes, epochs=cfg.epochs,
                          test_samples=len(bundle.test)) as rec:
        for epoch in range(cfg.epochs):
            result = trainer.train_epoch(epoch, on_step=rec.update)
            rec.end_epoch(test_acc=result.test_acc, test_loss=result.test_loss, lr=result.lr)
    with store.open_scores(tmp_path / "ref.h5") as a, store.open_scores(tmp_path / "own.h5") as b:
        assert a.data_spec["num_test"] == b.data_spec["num_test"] == 360
        for stat in store.STAT_DTYPES:
            np.testing.assert_array_equal(a.read_stat("seed-0", stat),
                                          b.read_stat("seed-0", stat), err_msg=stat)
        np.testing.assert_array_equal(a.history("seed-0")["test_acc"],
                                      b.history("seed-0")["test_acc"])
        for name in ref.scores:
            if name != "prediction_depth":
                np.testing.assert_array_equal(a.score(name).values, b.score(name).values,
                                              err_msg=name)


def test_first_epoch_checks_in_your_own_loop_are_those_of_curator_score(tmp_path: Path
                                                                         ) -> None:
    """check() at the steps where `curator score` checks, with the same test accuracies:
    the stored first_epoch rows are the loop's own, and the flags' share is counted from
    them."""
    cfg = TrainConfig(epochs=2, seeds=1, device="cpu", label_noise=0.2)
    bundle = DataBundle.from_config(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, bundle.sample_shape, bundle.num_classes)
    trainer = Trainer(model, bundle.train, cfg.replace(probe="none"), seed=cfg.seed,
                      device=torch.device("cpu"), test=bundle.test, first_epoch_checks=10)
    steps = trainer.steps_per_epoch
    marks = {max(1, round(steps * (i + 1) / 10)) for i in range(10)}
    n_test = len(bundle.test)
    path = tmp_path / "own.h5"
    with curator.Recorder(path, labels=bundle.labels, num_classes=bundle.num_classes,
                          epochs=2, noisy=bundle.noisy) as rec:
        step = 0

        def on_step(idx: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
            nonlocal step
            rec.update(idx, logits, y)
            step += 1
            if step in marks:
                rec.check(trainer.evaluate(trainer.test_split)[1], test_samples=n_test)

        rec.check(trainer.evaluate(trainer.test_split)[1], test_samples=n_test)
        first = trainer.train_epoch(0, on_step=on_step)
        rec.end_epoch(test_acc=first.test_acc)
        with pytest.raises(CuratorError, match="measures the first epoch, but run 'seed-0' is "
                                               "in epoch 2"):
            rec.check(0.5, test_samples=n_test)
        rec.end_epoch(test_acc=trainer.train_epoch(1, on_step=rec.update).test_acc)
    assert first.checks is not None and first.checks.shape == (10, 5)
    with store.open_scores(path) as f:
        np.testing.assert_array_equal(f.first_epoch("seed-0"), first.checks)
        params = f.score("mislabel_probability").params
        assert params["noise_share_from"] == "first-epoch" and params["noise_share"] > 0.1


def test_first_epoch_checks_need_a_stretch_and_good_values(tmp_path: Path) -> None:
    x, y = toy()
    with curator.Recorder(tmp_path / "a.h5", labels=y, num_classes=3) as rec:
        for bad, message in ((1.5, "test_acc must be an accuracy in .0, 1., but got 1.5"),
                             (float("nan"), "test_acc must be an accuracy"),
                             ("x", None)):
            with pytest.raises((CuratorError, ValueError), match=message):
                rec.check(bad, test_samples=10)  # type: ignore[arg-type]
        for bad in (0, 2.5, True):
            with pytest.raises(CuratorError, match="test_samples must be a positive integer"):
                rec.check(0.5, test_samples=bad)  # type: ignore[arg-type]
        rec.check(0.4, test_samples=10)  # one check and no second: no stretch to store
        rec.update(torch.arange(120), torch.zeros(120, 3))
        rec.end_epoch(test_acc=0.5)
        rec.wait()  # the epoch is written in the background
        with store.open_scores(tmp_path / "a.h5") as f:
            assert f.first_epoch("seed-0") is None
    # updates before the first check and after the last belong to no stretch; two checks
    # with no update between them measure nothing
    with curator.Recorder(tmp_path / "b.h5", labels=y, num_classes=3) as rec:
        logits = 5 * F.one_hot(y, 3).float()  # every label predicted
        rec.update(torch.arange(0, 30), logits[:30])
        rec.check(0.2, test_samples=50)
        rec.check(0.25, test_samples=50)
        rec.update(torch.arange(30, 90), logits[30:90])
        rec.check(0.5, test_samples=40)
        rec.update(torch.arange(90, 120), logits[90:])
        rec.end_epoch(test_acc=0.5)
        rec.wait()
        with store.open_scores(tmp_path / "b.h5") as f:
            np.testing.assert_array_equal(f.first_epoch("seed-0"),
                                          [[60, 60, 0.25, 0.5, 40]])
    # a restart from epoch 1 drops the checks of the first epoch with it
    with curator.Recorder(tmp_path / "b.h5", labels=y, num_classes=3, start_epoch=0) as rec:
        rec.update(torch.arange(120), torch.zeros(120, 3))
        rec.end_epoch(test_acc=0.5)
    with store.open_scores(tmp_path / "b.h5") as f:
        assert f.first_epoch("seed-0") is None


def test_every_command_and_sampler_reads_a_recorded_file(tmp_path: Path) -> None:
    path = tmp_path / "own.h5"
    x, y = toy()
    noisy = np.zeros(len(y), bool)
    noisy[:6] = True
    for seed in (0, 1):
        train_toy(path, 4, seed=seed, noisy=noisy)
    loaded = curator.load(path)
    assert loaded.runs == ("seed-0", "seed-1")
    # learnability is Eq. 1: mean p_true over epochs, averaged over the runs
    with store.open_scores(path) as f:
        p = np.stack([f.read_stat(r, "p_true") for r in ("seed-0", "seed-1")])
        assert f.config["source"] == "curator.Recorder"
    np.testing.assert_allclose(loaded["learnability"].values, p.mean(axis=(0, 1)), rtol=1e-6)
    assert loaded["learnability"].higher_is == "easier"
    runner = CliRunner()
    for args in (["inspect", str(path)], ["flag", str(path)],
                 ["prune", str(path), "--keep", "0.7"],
                 ["export", str(path), "--out", str(tmp_path / "s.csv")],
                 ["compare", str(path), str(path)],
                 ["report", str(path), "--out", str(tmp_path / "report")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    sampler = EasyToHardSampler.from_h5(path, epochs=4, dataset=TensorDataset(x, y))
    assert len(list(sampler)) == len(y)


def test_a_run_cut_short_continues_after_its_last_committed_epoch(tmp_path: Path) -> None:
    path = tmp_path / "own.h5"
    with pytest.raises(KeyboardInterrupt):
        train_toy(path, 5, stop_after=2, epochs=5)
    with store.open_scores(path) as f:
        info = f.run("seed-0")
        assert (info.epochs_done, info.complete) == (2, False)
        first = f.read_stat("seed-0", "p_true")
    rec = train_toy(path, 5, epochs=5)
    with store.open_scores(path) as f:
        info = f.run("seed-0")
        assert (info.epochs_done, info.epochs, info.complete) == (5, 5, True)
        np.testing.assert_array_equal(f.read_stat("seed-0", "p_true")[:2], first)
        assert "learnability" in f.score_names()
    assert rec.closed
    with pytest.raises(FormatError, match="is complete"):
        train_toy(path, 5)


def test_an_open_ended_run_ends_with_the_epochs_it_has(tmp_path: Path) -> None:
    path = tmp_path / "own.h5"
    train_toy(path, 3)
    with store.open_scores(path) as f:
        info = f.run("seed-0")
    assert (info.epochs, info.epochs_done, info.complete) == (3, 3, True)


def test_other_labels_are_refused_by_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "own.h5"
    train_toy(path, 2)
    _, y = toy()
    with pytest.raises(FormatError, match="other labels"):
        curator.Recorder(path, labels=y.flip(0), num_classes=3, seed=1)
    curator.Recorder(path, labels=y.flip(0), num_classes=3, force=True).close()


@pytest.mark.parametrize(("call", "message"), [
    (lambda r: r.update(torch.tensor([0, 200]), torch.zeros(2, 3)), "indices must be in 0..119"),
    (lambda r: r.update(torch.tensor([0, -1]), torch.zeros(2, 3)), "indices must be in 0..119"),
    (lambda r: r.update(torch.tensor([0, 1]), torch.zeros(2, 4)), "logits have 4 classes"),
    (lambda r: r.update(torch.tensor([0, 1]), torch.zeros(2)), "logits must be a .B, C."),
    (lambda r: r.update(torch.tensor([0, 1, 2]), torch.zeros(2, 3)), "indices must be B = 2"),
    (lambda r: r.update(torch.tensor([0.0, 1.0]), torch.zeros(2, 3)), "indices must be B = 2"),
    # the first batch is checked at once, with the usual cause in the hint ...
    (lambda r: r.update(torch.tensor([0, 1]), torch.zeros(2, 3), torch.tensor([1, 1])),
     "labels disagree with the recorder's at 1 of the first batch's 2 samples: sample 0 has "
     "label 1 in the batch but 0(.|\n)*curator.with_indices"),
    (lambda r: r.update(torch.tensor([0, 300]), torch.zeros(2, 3)),
     "got 300 in the first batch(.|\n)*curator.with_indices"),
    # ... later batches are counted on the device and refused at end_epoch
    (lambda r: (r.update(torch.tensor([0, 1]), torch.zeros(2, 3), torch.tensor([0, 1])),
                r.update(torch.tensor([2, 3]), torch.zeros(2, 3), torch.tensor([1, 0]))),
     "labels disagree with the recorder's at 1 samples of epoch 1: sample 2 has label 1 in "
     "the batch but 2(.|\n)*curator.with_indices"),
    (lambda r: r.update(torch.tensor([0, 1]), torch.zeros(2, 3), torch.tensor([1])),
     r"labels must have shape \(2,\)"),
    (lambda r: r.end_epoch(), "epoch 1 of run 'seed-0' had no updates"),
])
def test_bad_updates_are_answered_with_the_value(tmp_path: Path, call, message: str) -> None:
    _, y = toy()
    rec = curator.Recorder(tmp_path / "own.h5", labels=y, num_classes=3)
    with pytest.raises(CuratorError, match=message):
        call(rec)
        rec.end_epoch()
    rec.close()


def test_recorder_settings_are_checked(tmp_path: Path) -> None:
    _, y = toy()
    with pytest.raises(CuratorError, match="num_classes 2 is too small"):
        curator.Recorder(tmp_path / "a.h5", labels=y, num_classes=2)
    with pytest.raises(CuratorError, match="labels must be a non-empty 1-D integer"):
        curator.Recorder(tmp_path / "a.h5", labels=np.zeros(3))
    with pytest.raises(CuratorError, match="epochs must be a positive integer"):
        curator.Recorder(tmp_path / "a.h5", labels=y, epochs=0)
    with pytest.raises(CuratorError, match=r"noisy must have shape \(120,\)"):
        curator.Recorder(tmp_path / "a.h5", labels=y, noisy=[True])
    for bad in (0, 2.5, True):
        with pytest.raises(CuratorError, match="test_samples must be a positive integer"):
            curator.Recorder(tmp_path / "a.h5", labels=y, test_samples=bad)
    rec = curator.Recorder(tmp_path / "a.h5", labels=y, epochs=1)
    rec.update(torch.arange(3), torch.zeros(3, 3))
    with pytest.raises(CuratorError, match="updated 3 of 120 samples; every sample must be "
                                           "updated once per epoch .never: 3, 4, 5, 6, 7, ...."):
        rec.end_epoch()
    rec.update(torch.arange(120), torch.zeros(120, 3))
    rec.end_epoch()
    with pytest.raises(CuratorError, match="planned 1 epochs"):
        rec.end_epoch()
    rec.close()
    with pytest.raises(CuratorError, match="update after close"):
        rec.update(torch.arange(3), torch.zeros(3, 3))


@pytest.mark.slow
def test_recorder_under_the_users_own_process_group(tmp_path: Path) -> None:
    """Two gloo ranks, each updating its half of every batch: the file equals one process's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "ddp.h5"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(ROOT / "tests" / "dist_recorder.py"), str(out)],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = tmp_path / "single.h5"  # the same script in this process: one rank
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import dist_recorder
    finally:
        sys.path.remove(str(ROOT / "tests"))
    dist_recorder.main(str(single))
    with store.open_scores(out) as a, store.open_scores(single) as b:
        for stat in store.STAT_DTYPES:
            np.testing.assert_array_equal(a.read_stat("seed-0", stat),
                                          b.read_stat("seed-0", stat), err_msg=stat)
        np.testing.assert_array_equal(a.score("learnability").values,
                                      b.score("learnability").values)
        # first-epoch checks: one process counts every sample; under DDP, rank 0's shard
        # (its half of every batch), with no collective added
        tests = [[0.3, 0.4, 100], [0.4, 0.5, 100], [0.5, 0.6, 100]]
        single_checks, ddp_checks = b.first_epoch("seed-0"), a.first_epoch("seed-0")
        order = torch.randperm(90, generator=torch.Generator().manual_seed(0))
        correct = b.read_stat("seed-0", "correct")[0].astype(np.float64)
        for checks, rows in ((single_checks, order.split(30)),
                             (ddp_checks, [batch[0::2] for batch in order.split(30)])):
            assert checks[:, 0].tolist() == [len(r) for r in rows]
            assert checks[:, 1].tolist() == [correct[r.numpy()].sum() for r in rows]
            np.testing.assert_allclose(checks[:, 2:], tests)
    assert json.loads(Path(str(out) + ".ranks").read_text()) == [0, 1]


def test_the_plain_pytorch_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from examples.own_loop import main

    out = tmp_path / "scores.h5"
    main(str(out), epochs=3, seeds=1)
    assert "least learnable samples have a flipped label" in capsys.readouterr().out
    assert "learnability" in curator.load(out)


def test_your_own_model_and_data_by_import_path(tmp_path: Path) -> None:
    scores = tmp_path / "s.h5"
    plug = ["--model", "examples.plugins:small_mlp", "--data", "examples.plugins:digits_halves"]
    r = CliRunner().invoke(app, ["score", *plug, "--epochs", "2", "--seeds", "1", "--quiet",
                                 "--device", "cpu", "--out", str(scores)])
    assert r.exit_code == 0, r.output
    with store.open_scores(scores) as f:
        assert f.num_samples == 899 and f.config["model"] == "examples.plugins:small_mlp"
    # the file's config names them: train --scores loads the same data and model again
    r = CliRunner().invoke(app, ["train", "--scores", str(scores), "--sampler", "easy-to-hard",
                                 "--epochs", "2", "--quiet", "--device", "cpu",
                                 "--model", "examples.plugins:small_mlp"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["score", "--model", "examples.plugins:nothing", "--epochs",
                                 "1", "--device", "cpu", "--out", str(tmp_path / "x.h5")])
    assert r.exit_code == 1
    assert "--model 'examples.plugins:nothing': module 'examples.plugins' has no function " \
           "'nothing'" in r.output
    r = CliRunner().invoke(app, ["score", "--data", "nosuchmodule:load", "--epochs", "1",
                                 "--device", "cpu", "--out", str(tmp_path / "x.h5")])
    assert r.exit_code == 1 and "cannot import 'nosuchmodule'" in r.output


def test_probabilities_for_logits_are_warned_about_once(tmp_path: Path) -> None:
    """A loop that passes softmax outputs records a near-uniform probability for every
    label: warned about once, with the fix; log-probabilities are as good as logits."""
    import warnings

    x, y = toy(60)
    model = torch.nn.Linear(8, 3)
    with torch.no_grad():
        logits = model(x)
    with pytest.warns(UserWarning, match="pass the logits") as caught, \
            curator.Recorder(tmp_path / "p.h5", labels=y, num_classes=3) as rec:
        for _ in range(2):  # once, not per batch
            rec.update(torch.arange(30), logits[:30].softmax(1), y[:30])
            rec.update(torch.arange(30, 60), logits[30:].softmax(1), y[30:])
            rec.end_epoch(test_acc=0.5)
    assert sum("pass the logits" in str(w.message) for w in caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log_softmax: no warning, the same statistics
        with curator.Recorder(tmp_path / "l.h5", labels=y, num_classes=3) as rec:
            rec.update(torch.arange(60), F.log_softmax(logits, 1), y)
            rec.end_epoch(test_acc=0.5)
        with curator.Recorder(tmp_path / "z.h5", labels=y, num_classes=3) as rec:
            rec.update(torch.arange(60), logits, y)
            rec.end_epoch(test_acc=0.5)
    with store.open_scores(tmp_path / "l.h5") as a, store.open_scores(tmp_path / "z.h5") as b:
        np.testing.assert_allclose(a.score("learnability").values,
                                   b.score("learnability").values, rtol=1e-5)


def test_inspect_a_recorded_file_without_a_sample_shape(tmp_path: Path) -> None:
    path = tmp_path / "own.h5"
    train_toy(path, 1)
    r = CliRunner().invoke(app, ["inspect", str(path)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "120 training samples (shape not recorded), 3 classes" in text
    assert "of shape ()" not in text
