"""What recording costs a Hugging Face ``Trainer`` run: ``curator.hf.CuratorTrainer`` against
the plain ``Trainer`` on the same model, data, seed and arguments (examples/hf_text.py: a
small BERT built from a config on generated topic sentences), alternated, several repeats.

    python benchmarks/hf_overhead.py [--train 20000] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe, mean_std  # noqa: E402
from examples import hf_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    print(describe())
    print(f"transformers {transformers.__version__}; {args.train} training texts, "
          f"{args.epochs} epochs with an evaluation each, {args.repeats} repeats, alternated")
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(args.repeats):
        for record in (False, True) if r % 2 == 0 else (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                _, seconds = hf_text.fit(Path(tmp) / "t.h5", epochs=args.epochs,
                                         n_train=args.train, n_test=2000,
                                         work=Path(tmp) / "run", record=record)
                times[record].append(seconds)  # trainer.train() alone: its train_runtime
    plain, rec = times[False], times[True]
    ratios = [b / a for a, b in zip(plain, rec, strict=True)]
    print("trainer.train(), the Trainer's train_runtime (evaluations included, setup "
          "not): ")
    print(f"plain Trainer: {mean_std(plain)} s; CuratorTrainer: {mean_std(rec)} s "
          f"(each pair: {', '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(plain, rec, strict=True))})")
    print(f"recording / plain: {statistics.mean(ratios):.3f} ± "
          f"{statistics.stdev(ratios) if len(ratios) > 1 else 0:.3f}")


if __name__ == "__main__":
    main()
