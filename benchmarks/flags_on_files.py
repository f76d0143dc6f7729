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

``--contested``: for each file with a contested class (docs/flags.md, step 3), each such
class's share of flips beside what its own scores show (the share the model rejects, the
mean rival share rival / (label + rival), the share flagged), and the file's F1 with the
contested classes flagged by other rules (:data:`CONTESTED_RULES`), so that a rule for them
can be tried on the files before it is adopted. Where the file has holdout runs (``curator
score --holdout K``), also the share rejected out of sample: whose mean margin over the same
early epochs, in the runs that held the sample out, is below 0.

``--count M``: for each file with a contested class and injected flips, the F1 with a
person's count of each contested class read in (:func:`curator.flags.recount`, what
``curator flag --answers`` does): the first M members of each contested class's review
sample answered, by the injected flips (a person who tells every wrong label), over
:data:`COUNT_SEEDS` draws of the review samples; beside it the file's F1 as it is and its
bound.

``--relabel``: for each file with injected flips, what ``curator relabel`` would relabel at
the levels :data:`RELABEL_LEVELS`: right (the original label) out of relabelled, and the
wrong ones split into clean samples the flags took for wrong and flips suggested another
wrong class; then two ways tried to tell the wrong relabels from the right (each pair of
classes relabelled one way only, another stored score than the suggestion's confidence).
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
from curator.flagging import (  # noqa: E402
    best_test_accuracy,
    file_suggestions,
    file_window,
    fresh_fit,
    stored_fit,
)
from curator.flags import (  # noqa: E402
    MislabelFit,
    flag_quality,
    relabel_plan,
    rival_share,
    transform,
)
from curator.scores import FileTrajectories, compute_scores, options_of  # noqa: E402
from curator.store import ScoresFile, open_scores  # noqa: E402


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


def _two_components(rival: np.ndarray) -> np.ndarray:
    """Of a contested class's flagged samples (``rival``: their rival's probability), those
    to keep flagged: where a two-component mixture of logit(rival) stands apart (Ashman's D
    >= 2), the higher component's (flips from a class the model knows are that class's
    typical members, so the rival gets its typical probability; clean samples that look
    like the rival sit near one half); else all."""
    from sklearn.mixture import GaussianMixture

    if len(rival) < 10:
        return np.ones(len(rival), dtype=bool)
    x = transform(rival, "probability")  # the logit the estimate's mixtures read
    gm = GaussianMixture(2, random_state=0).fit(x.reshape(-1, 1))
    mu, sd = gm.means_.ravel(), np.sqrt(gm.covariances_.ravel())
    d = np.sqrt(2) * abs(mu[0] - mu[1]) / np.sqrt(sd[0] ** 2 + sd[1] ** 2)
    if d < 2:
        return np.ones(len(rival), dtype=bool)
    return gm.predict_proba(x.reshape(-1, 1))[:, int(mu.argmax())] >= 0.5


# each rule: (its name, (flagged, label prob, rival prob, the class's mean label prob) of a
# contested class's samples -> which of them it flags)
CONTESTED_RULES = (
    ("share>=0.4", lambda fl, p, r, mean: r / np.maximum(p + r, 1e-12) >= 0.4),
    ("share>=0.6", lambda fl, p, r, mean: r / np.maximum(p + r, 1e-12) >= 0.6),
    # confident learning's per-class threshold (arXiv:1911.00068), the class's own
    ("rival>=mean", lambda fl, p, r, mean: r >= mean),
    ("two-comp", lambda fl, p, r, mean: fl & _place(fl, _two_components(r[fl]))),
)


def _place(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(mask), dtype=bool)
    out[mask] = values
    return out


def rejected_out_of_sample(f: ScoresFile, epochs: int) -> np.ndarray | None:
    """(N,) whether the holdout runs, which never trained on the sample, reject its label:
    the mean of its margin over their first ``epochs`` epochs and over the runs that held it
    out (the others record NaN there) below 0. None without holdout runs."""
    runs = FileTrajectories.holdout_of(f)
    if runs is None:
        return None
    margin = runs.read("margin", 0, runs.num_samples)[:, :epochs].astype(np.float64)  # (R, E, N)
    recorded = np.isfinite(margin)
    mean = np.where(recorded, margin, 0.0).sum(axis=(0, 1)) / np.maximum(
        recorded.sum(axis=(0, 1)), 1)
    return mean < 0


def _contested_evidence(f: ScoresFile, clean: bool = False
                        ) -> tuple[MislabelFit, np.ndarray, dict[str, np.ndarray]] | None:
    """For an open file with injected flips (or none, with ``clean``) and a contested class:
    the estimate made anew, the flips, and the early scores the contested classes are read
    from; None otherwise."""
    noisy = f.noisy
    if noisy is None:
        noisy = np.zeros(f.num_samples, dtype=bool)
    if not clean and not noisy.any():
        return None
    fit, scored = fresh_fit(f)
    if not fit.contested:
        return None
    early = {n: np.asarray(scored[n].values if n in scored else f.score(n).values,
                           dtype=np.float64)
             for n in ("early_aum", "early_learnability", "early_rival")}
    return fit, np.asarray(noisy, dtype=bool), early


def contested(path: Path) -> str | None:
    """Lines for a file with a contested class and injected flips (None otherwise): each
    contested class's flips, rejected, mean rival share and flagged (shares of the class),
    and the file's F1 as it is and with the contested classes flagged by each rule of
    :data:`CONTESTED_RULES` instead (the other classes as they are)."""
    with open_scores(path) as f:
        found = _contested_evidence(f)
        if found is None:
            return None
        fit, noisy, early = found
        aum, prob, rival = (early[n] for n in ("early_aum", "early_learnability", "early_rival"))
        labels = np.asarray(f.labels)
        window = file_window(f, None, fit)
        outside = rejected_out_of_sample(f, window.epochs if window is not None
                                         else f.runs()[0].epochs_done)
    lines = [f"{path.name}: F1 {flag_quality(fit.flagged, noisy).f1:.3f} as it is"]
    for c in fit.contested:
        at = labels == c
        share = rival_share(prob[at], rival[at])
        lines.append(f"  class {c}: flips {noisy[at].mean():.2f}, rejected "
                     f"{(aum[at] < 0).mean():.2f}, mean rival share {share.mean():.2f}, "
                     f"flagged {fit.flagged[at].mean():.2f}"
                     + ("" if outside is None else
                        f", rejected out of sample {outside[at].mean():.2f}"))
    parts = []
    for name, rule in CONTESTED_RULES:
        flagged = fit.flagged.copy()
        for c in fit.contested:
            at = labels == c
            flagged[at] = rule(fit.flagged[at], prob[at], rival[at], prob[at].mean())
        parts.append(f"{name} {flag_quality(flagged, noisy).f1:.3f}")
    lines.append("  F1 with the contested classes flagged by: " + ", ".join(parts))
    return "\n".join(lines)


COUNT_SEEDS = 10


def counted(path: Path, m: int) -> str | None:
    """One line for a file with a contested class (None otherwise): its F1 as it is and
    with a person's count of ``m`` answers per contested class (mean ± sd over
    :data:`COUNT_SEEDS` draws of the review samples; a person who tells every wrong label),
    the classes the counts set, in how many draws they withdrew the contested classes'
    evidence, and the bound; without injected flips (clean data, every answer "right"), the
    samples flagged instead of F1."""
    from curator.flagging import uncontested_fit
    from curator.flags import recount, review_order

    with open_scores(path) as f:
        found = _contested_evidence(f, clean=True)
        if found is None:
            return None
        fit, noisy, early = found
        prob, rival = early["early_learnability"], early["early_rival"]
        labels = np.asarray(f.labels)
        plain = uncontested_fit(f, fit, early["early_aum"], prob, rival)
        bound = oracle(f, noisy)["oracle_f1"] if noisy.any() else None
    afters = []
    for seed in range(COUNT_SEEDS):
        asked = np.concatenate([review_order(labels, c, seed)[:m] for c in fit.contested])
        afters.append(recount(fit, labels, prob, rival, asked, noisy[asked], seed=seed,
                              plain=plain))
    withdrawn = sum(a.withdrawn is not None for a in afters)
    answers = m * len(fit.contested)
    if bound is None:  # clean data: the flags with and without the counts
        flagged = [int(a.flagged.sum()) for a in afters]
        return (f"{path.name:<44} clean: flagged {int(fit.flagged.sum())} "
                f"({fit.flagged.mean():.1%}) -> {np.mean(flagged):.0f} ± {np.std(flagged):.0f}"
                f" ({np.mean(flagged) / len(labels):.1%}; {len(fit.contested)} contested, "
                f"evidence withdrawn in {withdrawn} of {COUNT_SEEDS}; {answers} answers, all "
                "kept)")
    f1s = [flag_quality(a.flagged, noisy).f1 for a in afters]
    set_by = [sum(c.recounted for c in a.counts) for a in afters]
    f1 = flag_quality(fit.flagged, noisy).f1
    return (f"{path.name:<44} F1 {f1:.3f} -> {np.mean(f1s):.3f} ± {np.std(f1s):.3f} "
            f"({len(fit.contested)} contested, {np.mean(set_by):.1f} set by the count, "
            f"evidence withdrawn in {withdrawn} of {COUNT_SEEDS}; "
            f"{answers} answers), bound {bound:.3f}: "
            f"{f1 / bound:.2f} -> {np.mean(f1s) / bound:.2f}")


RELABEL_LEVELS = (0.5, 0.55, 0.6)


def relabelled(path: Path) -> str | None:
    """One line for a file with injected flips (None otherwise): at each level of
    :data:`RELABEL_LEVELS`, ``right/relabelled (clean+flip)``, the wrong ones split into
    clean samples and flips suggested another wrong class; ``one-way``: at the first level,
    only where the flagged samples of the two classes flow mostly that way (at least half
    as many relabelled from the given class to the suggested as back); and among those
    relabelled at :data:`curator.flags.SUGGEST_AT` (the widest), the AUROC of the
    suggestion's confidence for right against wrong, beside the best other stored score's."""
    from sklearn.metrics import roc_auc_score

    from curator.flags import SUGGEST_AT

    with open_scores(path) as f:
        noisy = f.noisy
        if noisy is None or not noisy.any():
            return None
        fit, _ = fresh_fit(f)
        window = file_window(f, None, fit)
        found = file_suggestions(f, None, None if window is None else window.epochs)
        original, labels = np.asarray(f.original_labels), np.asarray(f.labels)
        if found is None:
            return f"{path.name}: no rival class recorded"
        suggested, confidence, _ = found
        widest, _ = relabel_plan(fit.flagged, suggested, confidence, at=SUGGEST_AT)
        right = suggested == original
        others = []
        if 0 < right[widest].sum() < widest.sum():
            for name in f.score_names():
                if name in ("suggestion_confidence", "suggested_label"):
                    continue
                v = np.asarray(f.score(name).values, dtype=np.float64)
                if v.ndim == 1 and np.isfinite(v[widest]).all():
                    a = roc_auc_score(right[widest], v[widest])
                    others.append((max(a, 1 - a), name))
    parts = []
    for at in RELABEL_LEVELS:
        relabel, _ = relabel_plan(fit.flagged, suggested, confidence, at=at)
        wrong = relabel & ~right
        parts.append(f"{at}: {int((relabel & right).sum())}/{int(relabel.sum())} "
                     f"({int((wrong & ~noisy).sum())}+{int((wrong & noisy).sum())})")
    relabel, _ = relabel_plan(fit.flagged, suggested, confidence, at=RELABEL_LEVELS[0])
    classes = int(max(labels.max(), suggested.max())) + 1
    flow = np.zeros((classes, classes))
    np.add.at(flow, (labels[relabel], suggested[relabel]), 1)
    to = np.maximum(suggested, 0)
    one_way = relabel & (flow[labels, to] >= 0.5 * flow[to, labels])
    parts.append(f"one-way: {int((one_way & right).sum())}/{int(one_way.sum())}")
    if others:
        best, name = max(others)
        conf = roc_auc_score(right[widest], confidence[widest])
        parts.append(f"AUROC at {SUGGEST_AT}: confidence {conf:.2f}, {name} {best:.2f}")
    return f"{path.name:<42} flagged {int(fit.flagged.sum()):>5}  " + "  ".join(parts)


def fmt(v: object, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="write the rows here too")
    parser.add_argument("--windows", action="store_true",
                        help="also the estimate over every early window, a line per file")
    parser.add_argument("--contested", action="store_true",
                        help="also each contested class's evidence and the F1 of other rules "
                             "for the contested classes")
    parser.add_argument("--count", type=int, metavar="M",
                        help="also the F1 with a person's count of each contested class "
                             "(M answers each, simulated from the injected flips)")
    parser.add_argument("--relabel", action="store_true",
                        help="also what `curator relabel` would relabel at a few levels")
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
    reports = ((args.count is not None, lambda p: counted(p, args.count),
                f"with a person's count of each contested class ({args.count} answers of its "
                f"review sample each; mean ± sd over {COUNT_SEEDS} draws):"),
               (args.contested, contested,
                "contested classes (shares of the class; rival share: rival / (label + rival) "
                "before memorising), and the F1 with their flags by other rules:"),
               (args.relabel, relabelled,
                "relabelled at each level: right/relabelled (wrong: clean samples the flags "
                "took for wrong + flips suggested another wrong class); one-way: at the first "
                "level, each pair of classes relabelled only the way most of its flagged go; "
                "AUROC: right against wrong among those relabelled at the widest level, the "
                "suggestion's confidence and the best other stored score (either direction)"))
    for asked, report, heading in reports:
        if asked:
            print("\n" + heading)
            for p in args.files:
                text = report(p)
                if text:
                    print(text, flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
