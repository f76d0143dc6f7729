"""The flags of scores files already made, beside their bound: one row per file.

For each file (``curator score --label-noise R --noise-kind K [--noise-test]``, or real data
with no injected noise): the noise it records, the reference runs' best test accuracy, the
evidence of the default estimate (the largest Ashman's D of a class mixture whose low
component the model rejects; wrong labels are taken to be there at D >= 2), how many samples
it flags and, against the injected flips, precision, recall and F1; beside them the bound:
the best F1 any fixed count of the lowest samples on any stored score reaches, and the best
stored score's AUROC (``benchmarks/mislabel_flags.py`` computes the same per cell). The
estimate is made anew from the trajectories (the stored fit of an older estimate is not
read), so this measures the code as it is.

    python benchmarks/flags_on_files.py runs/*.h5 [--json out.json] [--windows]

``--windows``: for each file, also the estimate read over every early window from 1 epoch to
one past the default's (:func:`curator.flags.early_window`): its evidence D, how many it
flags and their F1, so a rule for the window can be tried on the files before it is
adopted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe  # noqa: E402
from benchmarks.mislabel_flags import oracle  # noqa: E402
from curator.flagging import best_test_accuracy, fresh_fit, stored_fit  # noqa: E402
from curator.flags import flag_quality  # noqa: E402
from curator.scores import FileTrajectories, compute_scores, options_of  # noqa: E402
from curator.store import open_scores  # noqa: E402


def row(path: Path) -> dict[str, object]:
    with open_scores(path) as f:
        fit, _ = fresh_fit(f)
        noisy = f.noisy
        spec = f.data_spec
        n = f.num_samples
        bound = oracle(f, noisy) if noisy is not None else {}
        traj = FileTrajectories(f)
        acc = best_test_accuracy(f, traj)
        # the window the estimate read: the curves', or shorter where the separation fell
        epochs = fit.window.epochs if fit.window else options_of(traj)["early_epochs"]
    out: dict[str, object] = {
        "file": path.name, "n": n, "noise": spec.get("label_noise", 0.0),
        "kind": spec.get("noise_kind", "symmetric") if noisy is not None else "-",
        "test_noise": bool(spec.get("noise_test", False)), "test_acc": acc,
        "window": epochs, "separation": fit.mixtures[0].separation,
        "contested": list(fit.contested),
        "flagged": int(fit.flagged.sum()), "share": fit.share, "share_from": fit.share_from,
        **bound}
    if noisy is not None:
        q = flag_quality(fit.flagged, noisy)
        out.update(precision=q.precision, recall=q.recall, f1=q.f1, flipped=q.flipped)
    return out


def windows(path: Path, window: int) -> str:
    """One line: for every early window k from 1 to ``window`` + 1 epochs (``window``: the
    default's), ``k:D/flagged`` and the F1 against the injected flips where there are some
    (``c``: some class contested)."""
    parts = []
    with open_scores(path) as f:
        traj, noisy = FileTrajectories(f), f.noisy
        for k in range(1, min(window + 1, traj.num_epochs) + 1):
            scored = compute_scores(traj, ["mislabel_probability"], options={"early_epochs": k})
            fit = stored_fit(scored["mislabel_probability"])
            assert fit is not None
            d = fit.mixtures[0].separation
            part = f"{k}:{fmt(d, '.1f')}/{int(fit.flagged.sum())}"
            if noisy is not None and noisy.any():
                part += f"/{flag_quality(fit.flagged, noisy).f1:.3f}"
            parts.append(part + ("c" if fit.contested else ""))
    return f"{path.name} (window {window}): " + " ".join(parts)


def fmt(v: object, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="write the rows here too")
    parser.add_argument("--windows", action="store_true",
                        help="also the estimate over every early window, a line per file")
    args = parser.parse_args()
    print(describe())
    rows = [row(p) for p in args.files]
    print(f"{'file':<42} {'kind':<10} {'rate':>4} {'test':>4} {'acc':>6} {'D':>5} "
          f"{'flagged':>13} {'P':>6} {'R':>6} {'F1':>6} | {'oracle':>6} {'ratio':>5} "
          f"{'AUROC':>5} contested")
    for r in rows:
        flagged = f"{r['flagged']} ({100 * r['flagged'] / r['n']:.1f}%)"  # type: ignore[operator]
        f1, orc = r.get("f1"), r.get("oracle_f1")
        ratio = f1 / orc if f1 is not None and orc else None  # type: ignore[operator]
        print(f"{r['file']:<42} {r['kind']:<10} {r['noise']:>4} "
              f"{'yes' if r['test_noise'] else 'no':>4} {fmt(r['test_acc'], '.4f'):>6} "
              f"{fmt(r['separation'], '.2f'):>5} {flagged:>13} "
              f"{fmt(r.get('precision'), '.3f'):>6} {fmt(r.get('recall'), '.3f'):>6} "
              f"{fmt(f1, '.3f'):>6} | {fmt(orc, '.3f'):>6} {fmt(ratio, '.2f'):>5} "
              f"{fmt(r.get('best_auroc'), '.3f'):>5} "
              f"{','.join(map(str, r['contested'])) or '-'}")  # type: ignore[call-overload]
    print("D: the largest Ashman's D of a class's early_aum mixture whose low component the "
          "model rejects (wrong labels at D >= 2; - where no low mean is below 0); test: the "
          "test labels flipped too; oracle: the best F1 of any fixed count of the lowest "
          "samples on any stored score; ratio: F1 / oracle; AUROC: the best stored score's; "
          "contested: the classes where a label is flagged when the model prefers the rival "
          "(docs/flags.md, step 3)")
    if args.windows:
        print("\nevery early window k: k:D/flagged[/F1][c] (D: as above, - where no low mean "
              "is below 0; F1 against the injected flips; c: some class contested)")
        for p, r in zip(args.files, rows, strict=True):
            print(windows(p, int(r["window"])), flush=True)  # type: ignore[call-overload]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
