"""`curator report`: PNG figures of a scores file and one self-contained ``index.html``.

Every figure is drawn with matplotlib's headless Agg backend and saved as a PNG in the output
directory; ``index.html`` embeds them (base64), with a caption each, so it can be mailed or
opened anywhere on its own. A figure whose inputs are absent (no ``--compare``, no label
noise, data that cannot be re-loaded for the image grids) is left out, and the page says why.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from curator.compare import check_same_data
from curator.errors import CuratorError, FormatError
from curator.scores import rank_easiest_first
from curator.store import ScoresFile, open_scores

GRID = 8  # images per row of the easiest/hardest grids (two rows of each)
SKIP_ROC = ("learnability_rank", "cartography_region", "correctness")  # rank/class, not a score


def _subplots(*args: Any, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """A figure of its own (no pyplot: nothing global, no backend switched for the caller)
    and its axes; ``Figure.savefig`` renders PNGs with Agg."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


@dataclass
class Panel:
    """One figure of the report: its file, its title and caption."""

    name: str
    title: str
    caption: str


@dataclass
class Report:
    out: Path
    panels: list[Panel] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a figure is not there

    def save(self, fig: Figure, name: str, title: str, caption: str) -> None:
        fig.savefig(self.out / f"{name}.png", dpi=110, bbox_inches="tight")
        self.panels.append(Panel(name, title, caption))


def make_report(path: str | Path, out: str | Path, *, compare: Sequence[str | Path] = (),
                bench: str | Path | None = None, score: str = "learnability",
                log: Callable[[str], None] = lambda m: None) -> Report:
    """Draw every figure ``path`` (and the other inputs) allows into ``out``."""
    path, out = Path(path), Path(out)
    if out.exists() and not out.is_dir():
        raise CuratorError(f"--out {str(out)!r} exists and is not a directory")
    bench_data = _read_bench(Path(bench)) if bench is not None else None
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out)
    with open_scores(path) as f:
        if score not in f.score_names():
            raise FormatError(f"{str(path)!r} has no score {score!r}",
                              hint=f"scores: {', '.join(f.score_names()) or 'none yet'}")
        main = f.score(score)
        ease = main.ease
        labels = f.labels
        classes = list(f.data_spec.get("classes") or [])
        names = f.score_names()
        values = {n: f.score(n) for n in names}
        noisy = f.noisy
        title = f"{path.name}: {f.data_spec['data']}, {len(f.runs())} runs"
        log("histograms")
        _histograms(report, main.values, labels, classes, score, main.higher_is)
        if f"{score}_rank" in names or score == "learnability":
            rank_name = f"{score}_rank" if f"{score}_rank" in names else None
            ranks = (values[rank_name].values if rank_name
                     else rank_easiest_first(ease).astype(np.float64))
            _rank_histogram(report, ranks, score)
        for other in compare:
            log(f"compare with {other}")
            _compare(report, f, Path(other), score, ease)
        if not compare:
            report.skipped.append("learnability between two models: pass --compare OTHER.h5")
        log("image grids")
        _image_grids(report, f, ease, labels, classes)
        if {"confidence", "variability", "correctness"} <= set(names):
            _cartography(report, values)
        else:
            report.skipped.append("cartography map: the file has no confidence/variability")
        for name, label in (("forgetting", "forgetting events"),
                            ("prediction_depth", "prediction depth")):
            if name in names:
                _count_histogram(report, values[name].values, name, label)
            else:
                report.skipped.append(f"{label}: the file has no {name} score"
                                      + (" (score with --prediction-depth)"
                                         if name == "prediction_depth" else ""))
        if noisy is not None:
            _roc(report, values, noisy)
        else:
            report.skipped.append("ROC curves for flipped labels: the data has no label noise")
    if bench_data is not None:
        _bench(report, bench_data)
    else:
        report.skipped.append("bench accuracy: pass --bench RESULTS.json (curator bench --out)")
    write_html(report, title)
    return report


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def _histograms(report: Report, values: np.ndarray, labels: np.ndarray, classes: list[str],
                score: str, higher_is: str) -> None:
    fig, ax = _subplots(figsize=(6, 3.6))
    ax.hist(values, bins=50, color="#3b6ea8")
    ax.set(xlabel=score, ylabel="samples", title=f"{score} (N = {len(values):,})")
    report.save(fig, f"{score}_histogram", f"{score}: all samples",
                f"Histogram of {score} over the {len(values):,} training samples "
                f"({higher_is} is higher).")
    k = int(labels.max()) + 1
    cols = min(5, k)
    rows = math.ceil(k / cols)
    fig, axes = _subplots(rows, cols, figsize=(2.4 * cols, 1.9 * rows), sharex=True,
                             squeeze=False)
    bins = np.linspace(float(np.nanmin(values)), float(np.nanmax(values)) + 1e-9, 31)
    for c, ax in enumerate(axes.flat):
        if c >= k:
            ax.axis("off")
            continue
        ax.hist(values[labels == c], bins=bins, color="#3b6ea8")
        ax.set_title(f"{classes[c] if c < len(classes) else c} "
                     f"(n = {(labels == c).sum()})", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{score} per class", fontsize=10)
    fig.tight_layout()
    report.save(fig, f"{score}_per_class", f"{score} per class",
                "The same histogram for each class (its given label).")


def _rank_histogram(report: Report, ranks: np.ndarray, score: str) -> None:
    fig, ax = _subplots(figsize=(6, 3.6))
    ax.hist(ranks, bins=50, color="#7a5195")
    ax.set(xlabel="rank", ylabel="samples", title=f"{score} rank")
    report.save(fig, f"{score}_rank_histogram", f"{score} rank",
                "Histogram of the ranks (seed 001's Eq. 2: rank 1 is the easiest; tied samples "
                "share the largest rank of their group, so ties show as spikes).")


def _compare(report: Report, f: ScoresFile, other: Path, score: str, ease: np.ndarray
             ) -> None:
    with open_scores(other) as g:
        check_same_data(f.path, f.fingerprint, other, g.fingerprint)
        s = g.score(score)
        model_a = f.runs()[0].model if f.runs() else f.path.stem
        model_b = g.runs()[0].model if g.runs() else other.stem
    values_a, values_b = f.score(score).values, s.values
    rank_a = rank_easiest_first(ease)
    rank_b = rank_easiest_first(s.ease)
    fig, axes = _subplots(1, 2, figsize=(10, 4.3))
    for ax, (a, b, what) in zip(axes, ((values_a, values_b, score),
                                       (rank_a, rank_b, f"{score} rank")), strict=True):
        r = float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])
        ax.scatter(a, b, s=3, alpha=0.35, color="#3b6ea8", linewidths=0)
        ax.set(xlabel=f"{model_a} ({f.path.name})", ylabel=f"{model_b} ({other.name})",
               title=f"{what}: Pearson r = {r:.3f}")
    fig.tight_layout()
    report.save(fig, f"compare_{other.stem}", f"{model_a} vs {model_b}",
                f"Seed 001's Figure 1: {score} of every sample under two models, and their "
                "ranks, with Pearson's r.")


def _image_grids(report: Report, f: ScoresFile, ease: np.ndarray, labels: np.ndarray,
                 classes: list[str]) -> None:
    shape = tuple(f.data_spec.get("sample_shape") or ())
    if len(shape) != 3 or shape[0] not in (1, 3):
        report.skipped.append(f"easiest/hardest images: samples of shape {shape} are not "
                              "images")
        return
    from curator.data import DataBundle

    try:
        bundle = DataBundle.from_stored(f.config, source=repr(str(f.path)))
        f.check_data(bundle)
    except CuratorError as exc:
        report.skipped.append(f"easiest/hardest images: the data could not be re-loaded "
                              f"({exc.message})")
        return
    import torch

    order = np.argsort(-ease, kind="stable")
    ranks = rank_easiest_first(ease)
    for which, idx in (("easiest", order[: 2 * GRID]), ("hardest", order[::-1][: 2 * GRID])):
        _, x, _ = next(iter(bundle.train.batches(torch.from_numpy(idx.copy()), len(idx),
                                                 device=torch.device("cpu"))))
        fig, axes = _subplots(2, GRID, figsize=(1.5 * GRID, 4.4))  # room for two title lines
        for ax, i, img in zip(axes.flat, idx, x, strict=True):
            img = img.float().numpy().transpose(1, 2, 0)
            img = (img - img.min()) / max(float(img.max() - img.min()), 1e-8)
            ax.imshow(img.squeeze(2) if img.shape[2] == 1 else img, cmap="gray")
            c = int(labels[i])
            ax.set_title(f"{classes[c] if c < len(classes) else c}\nrank {ranks[i]:g}",
                         fontsize=7)
            ax.axis("off")
        fig.suptitle(f"the {2 * GRID} {which} samples", fontsize=10)
        fig.tight_layout(h_pad=1.2)
        report.save(fig, f"{which}_images", f"{which} images",
                    f"Seed 001's Figure 1(c): the {2 * GRID} {which} training images by the "
                    "score, each with its given label and its rank (1 = easiest).")


def _cartography(report: Report, values: dict[str, Any]) -> None:
    conf, var = values["confidence"].values, values["variability"].values
    corr = values["correctness"].values
    fig, ax = _subplots(figsize=(6, 5))
    sc = ax.scatter(var, conf, c=corr, s=4, cmap="coolwarm_r", vmin=0, vmax=1, alpha=0.6,
                    linewidths=0)
    fig.colorbar(sc, ax=ax, label="correctness")
    ax.set(xlabel="variability", ylabel="confidence", title="data map")
    report.save(fig, "cartography", "cartography map",
                "Swayamdipta et al.'s data map: mean (confidence) and standard deviation "
                "(variability) of the true-label probability over epochs, coloured by the "
                "fraction of epochs predicted correctly. Top left: easy to learn; right: "
                "ambiguous; bottom left: hard to learn (often mislabelled).")


def _count_histogram(report: Report, values: np.ndarray, name: str, label: str) -> None:
    fig, ax = _subplots(figsize=(6, 3.6))
    top = float(np.nanmax(values)) if len(values) else 1.0
    bins = np.arange(-0.5, math.ceil(top) + 1.5) if top <= 60 else 50
    ax.hist(values, bins=bins, color="#ef5675")
    ax.set(xlabel=label + (" (mean over runs)" if name == "prediction_depth" else ""),
           ylabel="samples", title=label)
    caption = ("Forgetting events per sample (Toneva et al.): correct at one epoch, wrong at the "
               "next; never learned counts as T." if name == "forgetting" else
               "Prediction depth (Baldock et al.): the earliest k-NN probe layer from which "
               "all probes agree with the network, averaged over runs.")
    report.save(fig, f"{name}_histogram", label, caption)


def _roc(report: Report, values: dict[str, Any], noisy: np.ndarray) -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = _subplots(figsize=(8.5, 5.5))
    rows = []
    for name, s in values.items():
        if name in SKIP_ROC or s.values.dtype.kind not in "fiu":
            continue
        hardness = -s.ease
        if not np.isfinite(hardness).all():
            continue
        auc = roc_auc_score(noisy, hardness)
        rows.append((auc, name, roc_curve(noisy, hardness)))
    for auc, name, (fpr, tpr, _) in sorted(rows, reverse=True):
        # a score that ranks flipped labels as *easy* (AUROC < 0.5, e.g. variability: a
        # memorised wrong label varies little) is named as such, not as a detector
        note = " — ranks them easy" if auc < 0.5 else ""
        ax.plot(fpr, tpr, lw=1.2, label=f"{name} ({auc:.3f}{note})")
    ax.plot([0, 1], [0, 1], ls=":", color="gray")
    ax.set(xlabel="false positive rate", ylabel="true positive rate",
           title=f"finding the {int(noisy.sum())} flipped labels")
    ax.legend(fontsize=7, title="score (AUROC)", title_fontsize=7, loc="upper left",
              bbox_to_anchor=(1.02, 1.0), borderaxespad=0)  # beside the curves, not on them
    fig.tight_layout()
    report.save(fig, "roc_flipped", "ROC: flipped labels",
                "Each score ranks the samples from hardest; the curve is how many flipped "
                "labels (true positives) it finds against clean ones (false positives).")


def _read_bench(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CuratorError(f"--bench {str(path)!r} does not exist",
                           hint="write one with `curator bench --out results.json`")
    try:
        data = json.loads(path.read_text())
        results = data["results"]
        for row in results:
            row["strategy"], row["regime"], row["test_acc_mean"], row["test_acc_std"]  # noqa: B018
    except (ValueError, KeyError, TypeError) as exc:
        raise CuratorError(f"--bench {str(path)!r} is not a `curator bench --out` file "
                           f"({type(exc).__name__}: {exc})") from None
    return data


def _bench(report: Report, data: dict[str, Any]) -> None:
    results = data["results"]
    regimes = list(dict.fromkeys(r["regime"] for r in results))
    fig, axes = _subplots(1, len(regimes), figsize=(5.5 * len(regimes), 4.2), squeeze=False)
    for ax, regime in zip(axes.flat, regimes, strict=True):
        rows = [r for r in results if r["regime"] == regime]
        y = np.arange(len(rows))
        means = [r["test_acc_mean"] for r in rows]
        stds = [r["test_acc_std"] for r in rows]
        colors = ["#888888" if r["strategy"] == data.get("baseline", "random") else "#3b6ea8"
                  for r in rows]
        ax.barh(y, means, xerr=stds, color=colors, capsize=3)
        ax.axvline(means[0], ls=":", color="gray")
        ax.set_yticks(y, [r["strategy"] for r in rows], fontsize=7)
        lo = min(m - s for m, s in zip(means, stds, strict=True))
        ax.set_xlim(max(0.0, lo - 0.02), min(1.0, max(means) + max(stds) + 0.02))
        ax.invert_yaxis()
        ax.set(xlabel="final test accuracy (mean ± std over seeds)", title=regime)
    fig.tight_layout()
    report.save(fig, "bench_accuracy", "bench: accuracy per strategy",
                "Final test accuracy of each strategy, mean ± std over seeds; grey and the "
                "dotted line: random ordering, the baseline.")
    if not any("test_acc_per_epoch_mean" in r for r in results):
        report.skipped.append("bench accuracy per epoch: the file predates per-epoch curves")
        return
    fig, axes = _subplots(1, len(regimes), figsize=(5.5 * len(regimes), 4.2), squeeze=False)
    for ax, regime in zip(axes.flat, regimes, strict=True):
        for r in (r for r in results if r["regime"] == regime):
            mean = np.array(r.get("test_acc_per_epoch_mean", []))
            std = np.array(r.get("test_acc_per_epoch_std", []))
            epochs = np.arange(1, len(mean) + 1)
            ax.plot(epochs, mean, lw=1.2, label=r["strategy"])
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.15)
        ax.set(xlabel="epoch", ylabel="test accuracy", title=regime)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        ax.legend(fontsize=6)
    fig.tight_layout()
    report.save(fig, "bench_curves", "bench: accuracy per epoch",
                "Test accuracy after each epoch, mean over seeds (band: ± std).")


# --------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------


def write_html(report: Report, title: str) -> Path:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             "</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;"
             "color:#222}figure{margin:2em 0}img{max-width:100%;border:1px solid #ddd}"
             "figcaption{color:#555;font-size:.9em;margin-top:.4em}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for p in report.panels:
        data = base64.b64encode((report.out / f"{p.name}.png").read_bytes()).decode()
        parts.append(f"<figure id='{p.name}'><h2>{html.escape(p.title)}</h2>"
                     f"<img alt='{html.escape(p.title)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(p.caption)} ({p.name}.png)</figcaption>"
                     "</figure>")
    if report.skipped:
        parts.append("<h2>Not drawn</h2><ul>" + "".join(
            f"<li>{html.escape(s)}</li>" for s in report.skipped) + "</ul>")
    parts.append("</body></html>")
    page = report.out / "index.html"
    page.write_text("\n".join(parts), encoding="utf-8")
    return page
