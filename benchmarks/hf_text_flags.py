"""Mislabel flags on a noisy text task recorded through the Hugging Face ``Trainer``, against
cleanlab, with the bound beside them.

The task is examples/hf_text.py's: sentences of 12 words on four topics, each with a few of
its topic's words among filler (``--words 2 3``: two or three of them, harder than the
example's three to five; ``--others 0 2``: up to two words of another topic too, so some
sentences are ambiguous), a small BERT built from a config, a tokenizer trained on the texts,
nothing downloaded; the test labels are clean. Per cell (noise kind and rate) and seed:

1. curator: the ``Trainer`` recorded through ``curator.hf.CuratorTrainer``, then the flags as
   ``curator flag`` makes them (the file's stored fit);
2. the peer: cleanlab's ``find_label_issues`` on 5-fold out-of-sample probabilities of the
   same model trained the same way by the plain ``Trainer`` (stratified folds);
3. the bound: the best F1 that any fixed count of the lowest samples on any stored score
   reaches (an oracle picks the score and the count), and the clean test accuracy the model
   reaches (how hard the task is).

    python benchmarks/hf_text_flags.py --seeds 3      # needs the hf extra and cleanlab
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from benchmarks.mislabel_flags import oracle  # noqa: E402
from curator.flagging import read_report  # noqa: E402
from curator.flags import flag_quality  # noqa: E402
from curator.store import open_scores  # noqa: E402
from examples import hf_text  # noqa: E402

KINDS = {"sym": "symmetric", "pairs": "pairs", "asym": "asymmetric"}


def cleanlab_f1(task_options: dict, epochs: int, seed: int, work: Path) -> tuple[float, int]:
    """cleanlab's F1 (and count) from 5-fold out-of-sample probabilities of the same model
    trained by the plain Trainer on the other four folds."""
    import torch
    import transformers
    from cleanlab.filter import find_label_issues
    from sklearn.model_selection import StratifiedKFold

    task = hf_text.prepare(seed=seed, **task_options)
    n = len(task.noisy_y)
    probs = np.zeros((n, len(hf_text.TOPICS)))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for k, (train, held) in enumerate(folds.split(np.zeros(n), task.noisy_y)):
        task = hf_text.prepare(seed=seed, **task_options)  # the same untrained model
        trainer = transformers.Trainer(
            model=task.model, args=hf_text.arguments(work / f"fold{k}", epochs=epochs,
                                                     seed=seed),
            train_dataset=task.train.select(train), eval_dataset=task.test,
            compute_metrics=task.accuracy)
        trainer.train()
        logits = trainer.predict(task.train.select(held)).predictions
        probs[held] = torch.softmax(torch.as_tensor(logits).float(), -1).numpy()
    issues = find_label_issues(task.noisy_y, probs, n_jobs=1)
    return flag_quality(issues, task.noisy).f1, int(issues.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noise", nargs="+", default=["sym0.2", "sym0.4", "pairs0.2",
                                                       "pairs0.4"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", type=int, default=4000, help="training texts")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--words", type=int, nargs=2, default=[2, 3],
                        help="a topic's words in a sentence of 12: from, to")
    parser.add_argument("--others", type=int, nargs=2, default=[0, 0],
                        help="words of one other topic in each sentence: from, to")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-cleanlab", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(describe())
    import transformers

    print(f"transformers {transformers.__version__}; text: {args.n} training sentences, 1000 "
          f"test (clean labels), {args.words[0]}-{args.words[1]} topic words and "
          f"{args.others[0]}-{args.others[1]} of another topic of 12, 4 topics; "
          f"BERT 1 layer, hidden 32; {args.epochs} epochs, batch 32; seeds {args.seeds}; "
          f"threads {args.threads}")
    print(f"{'noise':<10} {'test acc':>15} {'curator F1':>15} {'flagged':>8} "
          f"{'cleanlab F1':>15} {'flagged':>8} {'bound F1':>15} {'AUROC':>15}")
    for cell in args.noise:
        kind = next(k for k in KINDS if cell.startswith(k))
        options = {"n_train": args.n, "n_test": 1000, "noise": float(cell[len(kind):]),
                   "noise_kind": KINDS[kind], "words": tuple(args.words),
                   "others": tuple(args.others)}
        rows: dict[str, list[float]] = {k: [] for k in (
            "acc", "f1", "flagged", "cl_f1", "cl_flagged", "bound", "auroc")}
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "text.h5"
                hf_text.fit(out, epochs=args.epochs, seed=seed, work=Path(tmp) / "run",
                            **options)
                report, _ = read_report(out)
                with open_scores(out) as f:
                    bound = oracle(f, f.noisy)
                    acc = float(np.nanmax(f.history(f.runs()[0].name)["test_acc"]))
                assert report.quality is not None
                rows["acc"].append(acc)
                rows["f1"].append(report.quality.f1)
                rows["flagged"].append(report.quality.flagged)
                rows["bound"].append(bound["oracle_f1"])
                rows["auroc"].append(bound["best_auroc"])
                if not args.no_cleanlab:
                    f1, count = cleanlab_f1(options, args.epochs, seed, Path(tmp))
                    rows["cl_f1"].append(f1)
                    rows["cl_flagged"].append(count)
        cl = (mean_std(rows["cl_f1"]), f"{np.mean(rows['cl_flagged']):.0f}") \
            if rows["cl_f1"] else ("-", "-")
        print(f"{cell:<10} {mean_std(rows['acc']):>15} {mean_std(rows['f1']):>15} "
              f"{np.mean(rows['flagged']):>8.0f} {cl[0]:>15} {cl[1]:>8} "
              f"{mean_std(rows['bound']):>15} {mean_std(rows['auroc']):>15}", flush=True)
        print("  per seed: " + "; ".join(
            f"test acc {a:.3f}, curator {c:.3f}"
            + (f", cleanlab {rows['cl_f1'][k]:.3f}" if rows["cl_f1"] else "")
            + f", bound {b:.3f}"
            for k, (a, c, b) in enumerate(zip(rows["acc"], rows["f1"], rows["bound"],
                                             strict=True))), flush=True)


if __name__ == "__main__":
    main()
