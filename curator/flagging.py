"""Mislabel flags on a scores file: the file layer above :mod:`curator.flags`.

:mod:`curator.flags` decides from arrays; this module reads them from a file (computing a
score the file does not store), stores the result and writes the flagged indices. It is what
``curator flag``, ``curator prune`` and ``curator bench`` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from curator import corrections, store
from curator.corrections import Corrections
from curator.errors import CuratorError, FormatError
from curator.flags import (
    CONTESTED,
    COUNT_ASKED,
    COUNT_MIN,
    DEFAULT_BY,
    DOUBT,
    ESTIMATE,
    RELABEL_AT,
    SEPARATION,
    FlagQuality,
    MislabelFit,
    estimate_mislabelled,
    fit_mislabelled,
    flag_quality,
    hesitation_tells,
    lent,
    most_likely_first,
    noise_share,
    recount,
    relabel_plan,
    window_parts,
)
from curator.scores import (
    SCORES,
    FileTrajectories,
    compute_scores,
    heldout_error_rates,
    options_of,
    reference_noise_share,
    scale_of,
)
from curator.store import ScoresFile, ScoreValues


def stored_fit(score: ScoreValues) -> MislabelFit | None:
    """:meth:`MislabelFit.from_stored` of a stored score."""
    return MislabelFit.from_stored(score.values, score.params)


def fresh_fit(f: ScoresFile, by: str = DEFAULT_BY, traj: FileTrajectories | None = None
              ) -> tuple[MislabelFit, dict[str, ScoreValues]]:
    """The estimate from ``by`` made anew from an open file's trajectories (``traj``, when
    the caller has read them already), and the scores to store with it:
    ``mislabel_probability``, and for the default estimate its sources where the file does
    not store them yet (``early_aum`` of an older file) or stores them over another early
    window (one an older estimate chose)."""
    if by == DEFAULT_BY:  # the registered score, with its sources
        scores = compute_scores(traj if traj is not None else FileTrajectories(f),
                                ["mislabel_probability"])
        scores = {k: v for k, v in scores.items() if k == "mislabel_probability"
                  or not _stored_over(f, k, v.params.get("early_epochs"))}
        fit = stored_fit(scores["mislabel_probability"])
        assert fit is not None
        return fit, scores
    score, _ = score_for_flags(f, by)
    share, share_from = file_noise_share(f, by)
    fit = fit_mislabelled(score.ease, by=by, scale=scale_of(by), share=share,
                          share_from=share_from)
    return fit, {"mislabel_probability": store.ScoreValues(
        fit.probability, "harder",
        f"probability that the label is wrong: posterior of the low component of a "
        f"two-component mixture on {by} (docs/flags.md)", score.runs, fit.params)}


def _stored_over(f: ScoresFile, name: str, window: int | None) -> bool:
    """Whether the file stores the score ``name`` over the early window ``window`` (None:
    a score that reads none, or any window)."""
    if name not in f.score_names():
        return False
    return window is None or f.score(name).params.get("early_epochs") == window


def file_mislabel(f: ScoresFile) -> MislabelFit | None:
    """The stored ``mislabel_probability`` of an open scores file and the fit behind it;
    made anew from the trajectories (not stored) when the file was scored before that score
    existed or stores the fit of an older estimate (:data:`curator.flags.ESTIMATE`); None
    when it has no complete reference run with recorded probabilities."""
    runs = any(r.complete and r.kind == "reference" and "p_true" in r.stats for r in f.runs())
    fit = None
    if "mislabel_probability" in f.score_names():
        score = f.score("mislabel_probability")
        fit = stored_fit(score)
        if fit is None and not runs:  # no params, nothing to make them again from
            return MislabelFit(np.asarray(score.values, dtype=np.float32), ())
    if fit is not None and (fit.estimate >= ESTIMATE or not runs):
        return fit
    if not runs:
        return None
    return fresh_fit(f, fit.by if fit is not None else DEFAULT_BY)[0]


def reference_runs(f: ScoresFile) -> FileTrajectories | None:
    """The complete reference runs of an open file; None without them."""
    try:
        return FileTrajectories(f)
    except CuratorError:
        return None


def best_test_accuracy(f: ScoresFile, traj: FileTrajectories | None = None) -> float | None:
    """The best test accuracy of an open file's reference runs (their mean, epoch by epoch;
    ``traj``: those runs, when the caller has read them already): what the model behind the
    flags could learn. None without complete runs or with an epoch whose test accuracy was
    not recorded."""
    traj = traj if traj is not None else reference_runs(f)
    if traj is None:
        return None
    acc = np.asarray(traj.test_acc, dtype=np.float64)
    return float(acc.mean(axis=0).max()) if acc.size and np.isfinite(acc).all() else None


def share_basis(source: str | None) -> str:
    """Which errors gave the noise share (``MislabelFit.share_from``), for messages."""
    if source == "holdout":
        return "the held-out and test errors of the holdout runs"
    if source == "mixtures":
        return ("the mixtures' own weights (the test split implied none, or a contested "
                "class, whose flips it under-counts)")
    if source == "first-epoch":
        return "the first epoch's predictions against the test accuracy"
    return "the training and test errors before memorising"


def file_noise_share(f: ScoresFile, by: str = DEFAULT_BY) -> tuple[float | None, str | None]:
    """The noise share of an open file for the score ``by``, and what gave it, from the runs
    the score is computed from: the holdout runs' held-out and test errors for
    ``heldout_learnability`` (:func:`curator.scores.heldout_error_rates`), else the
    reference runs (:func:`curator.scores.reference_noise_share`). (None, None) without
    those runs or a test split."""

    kind = "reference" if by == DEFAULT_BY else SCORES.entry(by).meta.get("runs", "reference")
    try:
        traj = FileTrajectories(f, kind=kind)
    except CuratorError:
        return None, None
    if kind == "holdout":
        return noise_share(*heldout_error_rates(traj), f.num_classes), kind
    return reference_noise_share(traj, options_of(traj)["early_epochs"])


@dataclass(frozen=True)
class EarlyWindow:
    """The epochs the early scores read: the first ``epochs`` of ``of``, and what ended the
    window there (:class:`curator.flags.WindowParts`, and where memorising eroded the
    separation within the window of the test curves, ``curves``:
    :class:`curator.flags.SeparationWindow`)."""

    epochs: int
    of: int
    loss_rose_from: int | None = None
    loss_settled: bool = False
    curves: int | None = None  # the window of the test curves, where the separation ended it
    peak: int | None = None  # the window where the separation peaked
    peak_separation: float | None = None
    separation: float | None = None  # at the window of the curves

    def line(self) -> str:
        """One sentence for ``curator flag``."""
        if self.peak is not None:
            why = (f"the wrong labels' separation (Ashman's D) fell from "
                   f"{self.peak_separation:.1f} over the first {self.peak} to "
                   f"{self.separation:.1f} over the {self.curves} of the test curves' window, "
                   "though the test accuracy crept on: memorising")
        elif self.loss_rose_from is not None:
            why = (f"the test loss rose clearly from epoch {self.loss_rose_from}, though the "
                   "test accuracy crept on: memorising")
        elif self.loss_settled:
            why = ("the test loss had settled (the test accuracy was level within its "
                   "standard error sooner)")
        else:
            why = "the test accuracy was level with its best before memorising"
        return (f"read the first {self.epochs} of {self.of} epochs, where {why} "
                "(docs/flags.md, step 1)")


def reads_early_window(by: str) -> bool:
    """Whether a score of ``by`` (one score, or several joined by ``+``) reads the early
    window: its registration takes the option ``early_epochs``."""
    return any("early_epochs" in (SCORES.entry(name).meta.get("options") or ())
               for name in by.split("+"))


def file_window(f: ScoresFile, traj: FileTrajectories | None = None,
                fit: MislabelFit | None = None) -> EarlyWindow | None:
    """:class:`EarlyWindow` of an open file's reference runs (``traj``, when the caller has
    read them already): the window of the test curves, and where the separation shortened it,
    as ``fit`` (the estimate) keeps it; else the window the stored ``early_aum`` read (a fit
    of other scores). None without runs."""
    traj = traj if traj is not None else reference_runs(f)
    if traj is None:
        return None
    parts = window_parts(traj.test_acc, traj.num_epochs, traj.test_samples, traj.num_classes,
                         traj.test_loss)
    sep = fit.window if fit is not None else None
    if sep is not None and sep.of == parts.epochs and sep.peak is not None:
        return EarlyWindow(sep.epochs, traj.num_epochs, parts.loss_rose_from,
                           parts.loss_settled, parts.epochs, sep.peak, sep.peak_separation,
                           sep.separation)
    epochs = parts.epochs
    if sep is None and "early_aum" in f.score_names():
        epochs = int(f.score("early_aum").params.get("early_epochs", epochs))
    return EarlyWindow(epochs, traj.num_epochs, parts.loss_rose_from, parts.loss_settled)


def score_for_flags(f: ScoresFile, by: str) -> tuple[ScoreValues, bool]:
    """The score ``by`` of an open file and whether it is stored; a score the file does not
    store (``early_aum`` of an older file) is computed from the trajectories."""

    scale_of(by)
    if by in f.score_names():
        return f.score(by), True
    traj = FileTrajectories(f, kind=SCORES.entry(by).meta.get("runs", "reference"))
    return compute_scores(traj, [by])[by], False


SUGGESTIONS = ("suggested_label", "suggestion_confidence")


def file_suggestions(f: ScoresFile, traj: FileTrajectories | None = None,
                     window: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray, dict[str, ScoreValues]] | None:
    """(suggested label or -1, its confidence) of every sample of an open file, and the
    scores to store when the file does not store them yet, or stores them over another early
    window than ``window`` (computed from its reference runs, ``traj`` when the caller has
    read them already); None when its runs do not record ``rival`` (format 0.1.0, or no
    complete reference run)."""
    if all(_stored_over(f, name, window) for name in SUGGESTIONS):
        label, conf = (f.score(name).values for name in SUGGESTIONS)
        return np.asarray(label, dtype=np.int64), np.asarray(conf, dtype=np.float64), {}
    traj = traj if traj is not None else reference_runs(f)
    if traj is None:
        return None
    if "rival" not in traj.recorded:
        return None
    scores = compute_scores(traj, list(SUGGESTIONS), options={"early_epochs": window})
    label, conf = (scores[name].values for name in SUGGESTIONS)
    return np.asarray(label, dtype=np.int64), np.asarray(conf, dtype=np.float64), scores


@dataclass(frozen=True)
class FlagReport:
    """What ``curator flag`` found in a file."""

    fit: MislabelFit
    labels: np.ndarray  # (N,) the training labels
    classes: list[str]
    noisy: np.ndarray | None  # (N,) the injected flips, when the file records them
    out: Path | None  # where the flagged indices were written
    stored: bool = True  # False when the fit was read back from the file (nothing written)
    # the reference runs' best mean test accuracy over the epochs (None: none recorded)
    test_acc: float | None = None
    # (N,) each sample's suggested label (-1: none) and its confidence; None for a file whose
    # runs do not record the rival class (format 0.1.0)
    suggested: np.ndarray | None = None
    confidence: np.ndarray | None = None
    original: np.ndarray | None = None  # (N,) the labels before injected noise, when known
    fingerprint: str = ""  # the file's (of its training data)
    window: EarlyWindow | None = None  # the epochs the early scores read (None: no runs)

    @property
    def flagged_indices(self) -> np.ndarray:
        return np.flatnonzero(self.fit.flagged)

    @property
    def listed(self) -> np.ndarray:
        """The flagged and then the suspected samples, each most likely wrong first; among
        equal probabilities (a CNN's posteriors saturate: 209 of a 60,000-image run's flags
        read 1.0) the surest suggestion first."""
        order = most_likely_first(self.fit.probability, self.confidence)
        return order[(self.fit.flagged | self.fit.suspected)[order]]

    def table(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Columns of one row per sample (default: :attr:`listed`): index, flagged, given
        label, suggested label (-1: none), probability the given label is wrong, confidence
        of the suggestion, and the class names (empty for no suggestion)."""
        idx = self.listed if indices is None else np.asarray(indices, dtype=np.int64)
        n = len(self.labels)
        suggested = (self.suggested if self.suggested is not None
                     else np.full(n, -1, dtype=np.int64))[idx]
        confidence = (self.confidence if self.confidence is not None else np.zeros(n))[idx]
        names = np.array([*self.classes, ""], dtype=object)  # -1 -> ""
        given = self.labels[idx]
        return {"index": idx, "flagged": self.fit.flagged[idx], "given_label": given,
                "suggested_label": suggested,
                "mislabel_probability": np.asarray(self.fit.probability)[idx],
                "suggestion_confidence": confidence, "given_name": names[given],
                "suggested_name": names[suggested]}

    @property
    def quality(self) -> FlagQuality | None:
        return None if self.noisy is None else flag_quality(self.fit.flagged, self.noisy)


def flag(path: str | Path, *, by: str = DEFAULT_BY, out: str | Path | None = None,
         answers: str | Path | None = None) -> FlagReport:
    """Estimate which labels in the scores file ``path`` are wrong, store the probabilities
    as the score ``mislabel_probability`` and, with ``out``, write the flagged indices
    (``.npy``, ``.txt`` or ``.csv``). Flagging nothing is a normal result on clean data.

    ``by``: :data:`DEFAULT_BY`, the default estimate (:func:`estimate_mislabelled`), or one
    score (:data:`SCALES`), whose mixture over all samples is then the estimate. The estimate
    ``curator score`` stored is read back when it was made from ``by`` (no new fit, the file
    is not written); otherwise it is made and stored.

    ``answers``: a corrections file of a person's answers (``curator review``), read in as
    :func:`curator.flags.recount` reads them — the contested classes counted from the
    answers to their review samples, every answered sample's probability its answer — and
    stored with the estimate, made anew, so that pruning and relabelling use them too."""

    out = None if out is None else Path(out)
    if out is not None and out.suffix not in (".npy", ".txt", ".csv"):
        raise CuratorError(f"out {str(out)!r} must end in .npy, .txt or .csv", param="out")
    report, scores = read_report(path, by=by, answers=answers)
    report = replace(report, out=out)
    fit = report.fit
    if out is not None:  # written before the score is stored: a failure leaves the file as it was
        if out.suffix == ".csv":
            write_table(report.table(), out)
        else:
            store.export_indices(np.flatnonzero(fit.flagged), out)
    if scores:
        with store.writer_lock(path):
            store.write_scores(path, scores)
    return report


def read_report(path: str | Path, *, by: str = DEFAULT_BY, answers: str | Path | None = None
                ) -> tuple[FlagReport, dict[str, ScoreValues]]:
    """What :func:`flag` finds in ``path``, without writing anything: the report, and the
    scores it would store (empty when the file's stored estimate was read back)."""
    if by != DEFAULT_BY:
        scale_of(by)
    rows = None if answers is None else corrections.read(answers)
    scores: dict[str, ScoreValues] = {}
    with store.open_scores(path) as f:
        if not f.score_names():
            raise FormatError(f"{str(path)!r} has no scores yet",
                              hint="finish the reference run with `curator score --resume`")
        fit = (stored_fit(f.score("mislabel_probability"))
               if "mislabel_probability" in f.score_names() else None)
        traj = reference_runs(f)  # read once: the fit, accuracy, window, suggestions
        if (fit is None or fit.by != by or fit.estimate < ESTIMATE
                or rows is not None and fit.answered):  # answers are read into a new fit
            fit, scores = fresh_fit(f, by, traj)
        labels, noisy, fingerprint = f.labels, f.noisy, f.fingerprint
        if rows is not None:
            rows.check_data(fingerprint, f.num_samples, repr(str(path)))
            rows.check_labels(labels, repr(str(path)))
            fit = _with_answers(f, fit, scores, rows, traj)
            scores["mislabel_probability"] = replace(
                scores["mislabel_probability"] if "mislabel_probability" in scores
                else f.score("mislabel_probability"),
                values=fit.probability, params=fit.params)
        original = None if noisy is None else f.original_labels
        classes = class_names(f)
        test_acc = best_test_accuracy(f, traj)
        window = file_window(f, traj, fit) if reads_early_window(fit.by) else None
        found = file_suggestions(f, traj, None if window is None else window.epochs)
    assert fit is not None
    suggested = confidence = None
    if found is not None:
        suggested, confidence, more = found
        scores.update(more)
    report = FlagReport(fit, labels, classes, noisy, None, stored=bool(scores),
                        test_acc=test_acc, suggested=suggested, confidence=confidence,
                        original=original, fingerprint=fingerprint, window=window)
    return report, scores


def _with_answers(f: ScoresFile, fit: MislabelFit, scores: dict[str, ScoreValues],
                  rows: corrections.Corrections, traj: FileTrajectories | None = None
                  ) -> MislabelFit:
    """``fit`` with a person's answers (``rows``: keep is a right label, relabel or drop a
    wrong one) read in by :func:`curator.flags.recount`, on the rival's share before
    memorising that the fit's early scores read; beside it, where classes are contested,
    the same estimate with none contested, on the same scores and share of wrong labels
    (from ``traj``, the reference runs), which the counts may find the better one."""
    def early(name: str) -> np.ndarray:
        if name in scores:
            return np.asarray(scores[name].values)
        if name not in f.score_names():
            raise FormatError(f"{str(f.path)!r} has no score {name!r}, which a person's "
                              "count of a contested class reads",
                              hint="score again with this curator (format 0.2.0)")
        return np.asarray(f.score(name).values)

    # without a contested class only the answered samples move: no shares are read
    shares = ((early("early_learnability"), early("early_rival")) if fit.contested
              else (np.zeros(f.num_samples),) * 2)
    plain = (uncontested_fit(f, fit, early("early_aum"), *shares, traj)
             if fit.contested else None)
    return recount(fit, f.labels, *shares, rows.index, rows.action != "keep",
                   seed=data_seed(f.fingerprint), plain=plain)


def uncontested_fit(f: ScoresFile, fit: MislabelFit, early_aum: np.ndarray,
                    early_learnability: np.ndarray, early_rival: np.ndarray,
                    traj: FileTrajectories | None = None) -> MislabelFit | None:
    """The default estimate of an open file with no class contested
    (:func:`curator.flags.estimate_mislabelled`, ``contest=False``), on the early scores
    ``fit`` read and the share of wrong labels its reference runs imply over its window
    (``traj``: those runs, when the caller has read them already; without complete runs,
    the mixtures' own weights): what :func:`curator.flags.recount` falls back on where a
    person's counts prefer it to the flags. None for a fit of other scores."""
    if fit.by != DEFAULT_BY:
        return None
    traj = traj if traj is not None else reference_runs(f)
    share, share_from = None, None
    if traj is not None:
        epochs = fit.window.epochs if fit.window else options_of(traj)["early_epochs"]
        share, share_from = reference_noise_share(traj, epochs)
    return estimate_mislabelled(early_aum, early_learnability, f.labels,
                                early_rival=early_rival, share=share, share_from=share_from,
                                contest=False)


def data_seed(fingerprint: str) -> int:
    """The seed of the review samples (:func:`curator.flags.review_order`) of the data
    whose fingerprint this is: the same for `curator review` and `curator flag`."""
    try:
        return int(fingerprint, 16)
    except ValueError:
        return int.from_bytes(fingerprint.encode()[:16].ljust(16, b"\0"), "little")


def class_names(f: ScoresFile) -> list[str]:
    """The class names the file's data spec records, else the class indices as text."""
    classes = [str(c) for c in (f.data_spec.get("classes") or [])]
    return classes if len(classes) == f.num_classes else [str(c) for c in range(f.num_classes)]


def write_table(columns: dict[str, np.ndarray], out: str | Path) -> Path:
    """Write :meth:`FlagReport.table` as CSV (one row per sample, a header line)."""
    import csv

    out = Path(out)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        for row in zip(*columns.values(), strict=True):
            writer.writerow([f"{v:.4f}" if isinstance(v, float | np.floating) else
                             int(v) if isinstance(v, np.bool_ | bool) else v for v in row])
    return out


def relabel(path: str | Path, out: str | Path, *, at: float = RELABEL_AT,
            answers: str | Path | None = None) -> tuple[Corrections, FlagReport]:
    """Corrections from the flags of ``path`` (:func:`flag`, the default estimate): each
    flagged sample relabelled to its suggested class where the suggestion's confidence is at
    least ``at``, the other flagged dropped, every other sample kept
    (:func:`curator.flags.relabel_plan`); with ``answers`` (a person's corrections file,
    checked against the data), its rows as they are and the plan for the flagged samples
    it does not answer; written to ``out`` (docs/format.md)."""
    rows = None if answers is None else corrections.read(answers)
    report = flag(path)
    if report.suggested is None or report.confidence is None:
        raise FormatError(f"{str(path)!r} records no rival class (a file of format 0.1.0): "
                          "it has no suggested labels to relabel with",
                          hint="score again with this curator, or drop the flagged with "
                               "`curator prune`")
    flagged = report.fit.flagged
    if rows is not None:
        rows.check_data(report.fingerprint, len(report.labels), repr(str(path)))
        rows.check_labels(report.labels, repr(str(path)))
        flagged = flagged.copy()
        flagged[rows.index] = False  # the answered are the person's
    made = planned_corrections(report.fingerprint, report.labels, len(report.classes),
                               flagged, report.suggested, report.confidence, at=at)
    if rows is not None:  # no index in both: the plan leaves the answered samples alone
        made = corrections.combined(rows, made)
    corrections.write(made, out)
    return made, report


def class_list(indices: Sequence[int], classes: Sequence[str] | None = None) -> str:
    """Classes by name where ``classes`` names them, else by index, comma-separated."""
    return ", ".join(classes[c] if classes is not None and 0 <= c < len(classes) else str(c)
                     for c in indices)


def uncounted_lines(fit: MislabelFit | None, labels: np.ndarray, touched: np.ndarray,
                    what: str, then: str, classes: Sequence[str] | None = None) -> list[str]:
    """What ``curator relabel`` and ``curator prune`` say of the samples they change
    (``touched``, (N,) bool; ``what`` names them) on flags whose contested classes no
    person has counted (none where there are none, or where they are counted): how many lie
    in those classes and how many in the others, flagged on their evidence, which a model
    cannot tell from hard samples (a CNN's clean Fashion-MNIST: 18% flagged; docs/flags.md,
    "Where it stands"), and how to count them before ``then``."""
    if fit is None:
        return []
    counted = {c.cls for c in fit.counts if c.answered >= COUNT_MIN}
    uncounted = [c for c in fit.contested if c not in counted]
    if not uncounted:
        return []
    touched = np.asarray(touched, dtype=bool)
    inside = int((touched & np.isin(labels, uncounted)).sum())
    return [f"the contested classes {class_list(uncounted, classes)} are not counted: "
            f"{inside} of {what} lie in them and {lent(touched, labels, fit.contested)} in the "
            "classes not contested, flagged on their evidence; a model cannot tell how many "
            "of a contested class's labels are wrong (on clean data a CNN's hard classes are "
            "contested too): "
            f"answer about {COUNT_ASKED} of each one's random sample (`curator review FILE "
            "--out answers.csv`, show: a random sample, and the class), run `curator flag "
            f"FILE --answers answers.csv`, then {then} (docs/flags.md, \"A person's count "
            "of a contested class\")"]


def planned_corrections(fingerprint: str, labels: np.ndarray, num_classes: int,
                        flagged: np.ndarray, suggested: np.ndarray, confidence: np.ndarray,
                        *, at: float = RELABEL_AT) -> Corrections:
    """The corrections :func:`curator.flags.relabel_plan` decides, for data of ``labels``
    (what ``curator relabel`` writes and ``curator bench`` trains on)."""
    relabel_mask, drop = relabel_plan(flagged, suggested, confidence, at=at)
    return corrections.make(
        fingerprint, labels, num_classes,
        relabel=dict(zip(np.flatnonzero(relabel_mask).tolist(),
                         suggested[relabel_mask].tolist(), strict=True)),
        drop=np.flatnonzero(drop))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def flag_lines(fit: MislabelFit, classes: Sequence[str] | None = None,
               labels: np.ndarray | None = None) -> list[str]:
    """What a fit found, in sentences for ``curator flag``: the mixtures and the prior, the
    contested classes (named from ``classes`` where given; with ``labels``, how many of the
    flags lie outside them), or, where it abstains, why, with the figure it decided on."""
    lines = []
    evidence = fit.mixtures[0] if fit.mixtures else None
    if evidence is not None and not fit.noise_found:
        unit = "logit" if scale_of(evidence.by) == "probability" else "margin"
        where = "of any class" if evidence.per_class else "of the samples"
        apart = ("no low mean below 0" if evidence.separation is None else
                 f"Ashman's D at most {evidence.separation:.2f}, below {SEPARATION:g}")
        if fit.outliers:
            lines.append(f"no mixture of {evidence.by} {where} holds a separate component "
                         f"of rejected labels ({apart}): flagged only the {fit.outliers} "
                         "outliers the model is sure of — its most likely other class gets "
                         "at least the probability a typical member of their class gets "
                         "its label, and their margin is below their class's lower fence "
                         "(docs/flags.md, step 6); the probability shown is the other "
                         "class's")
        elif evidence.separation is None:
            lines.append(f"nothing flagged: no mixture of {evidence.by} {where} has a "
                         f"component whose labels the model rejects (every low mean at or "
                         f"above 0, {unit}), and no sample is an outlier of its class the "
                         "model is sure of")
        elif evidence.separation == 0:
            lines.append(f"nothing flagged: where the model rejects a component of "
                         f"{evidence.by} {where}, it rejects the rest of that class too (both "
                         f"means at or below 0, {unit}: a class it has not learned, Ashman's "
                         "D counted as 0), so no rejected labels stand apart from accepted "
                         "ones; and no sample is an outlier of its class the model is sure of")
        else:
            lines.append(f"nothing flagged: the samples whose labels the model rejects on "
                         f"{evidence.by} are not apart from the rest (Ashman's D at most "
                         f"{evidence.separation:.2f}, below {SEPARATION:g}): they look like "
                         "the hard end of their class, not wrong labels; and no sample is an "
                         "outlier of its class the model is sure of")
        return lines
    if fit.share is not None:
        lines.append(f"prior share of wrong labels: {_pct(fit.share)}, from "
                     f"{share_basis(fit.share_from)}")
    for m in fit.mixtures:
        unit = "logit" if scale_of(m.by) == "probability" else "margin"
        where = "one per class; shown: all samples pooled" if m.per_class else "all samples"
        apart = ("" if m.separation is None
                 else f"; Ashman's D up to {m.separation:.2f}")
        lines.append(f"mixture on {m.by} ({where}): a component of {_pct(m.weights[0])} "
                     f"(mean {m.means[0]:.3g}, sd {m.stds[0]:.3g}, {unit}) beside one of "
                     f"{_pct(m.weights[1])} (mean {m.means[1]:.3g}){apart}")
    if len(fit.mixtures) > 1:
        second = fit.mixtures[1]
        claim = ("both mixtures' low components claim it" if second.noise_found else
                 f"the mixture of its class claims it (the one on {second.by} is not apart, "
                 "so it vetoes nothing)")
        doubt = ("" if classes is not None and not hesitation_tells(len(classes)) else
                 " or, in a class whose rejected samples do not stand apart, gives the "
                 f"rival at least {DOUBT:g} of its probability")
        lines.append(f"a label is flagged when {claim} and it is in doubt: the model "
                     f"rejects it before memorising (early_aum below 0){doubt}"
                     + (" (except in the contested classes)" if fit.contested else ""))
    if fit.contested:
        names = class_list(fit.contested, classes)
        both = (" — or where it is in doubt and both mixtures' low components claim it "
                "(neither finds the wrong labels apart)"
                if len(fit.mixtures) > 1 and not fit.mixtures[1].noise_found else "")
        lines.append(f"contested classes: {names} — their rejected samples are not apart "
                     "from the rest (or, beside such a class, one flooded by flips has no "
                     "rejected component but is in doubt as a whole), but the model has "
                     "narrowed the class down to two "
                     "classes (the label's and the rival's mean probabilities add up to at "
                     f"least {CONTESTED:g}): there a label is flagged where the model "
                     "prefers the rival before memorising (the rival's share of the two at "
                     f"least 1/2){both}; docs/flags.md, step 3")
        if not fit.counts:
            outside = ("" if labels is None else
                       f"; {lent(fit.flagged, labels, fit.contested)} of the flags lie in "
                       "the other classes, flagged on the contested classes' evidence, which "
                       "the answers check too")
            lines.append("how many of a contested class's labels are wrong is in no model's "
                         f"predictions: answer about {COUNT_ASKED} of each one's random sample "
                         "(`curator review FILE`, show: a random sample, and the class) and "
                         "run `curator flag FILE --answers CORRECTIONS` (docs/flags.md, \"A "
                         f"person's count of a contested class\"){outside}")
    lines.extend(count_lines(fit, classes))
    return lines


def count_lines(fit: MislabelFit, classes: Sequence[str] | None = None) -> list[str]:
    """A person's answers as ``curator flag --answers`` read them: one line per contested
    class's count."""
    if not fit.answered:
        return []
    lines = [f"a person's answers: {fit.answered} samples, each now flagged as answered "
             "(relabelled or dropped: wrong; kept: right)"]
    for c in fit.counts:
        name = (f"{classes[c.cls]} ({c.cls})" if classes is not None
                and 0 <= c.cls < len(classes) else str(c.cls))
        if c.answered < COUNT_MIN:
            what = (f"{c.answered} of its review sample answered, fewer than {COUNT_MIN}: "
                    "not counted")
        else:
            share = (f"{c.wrong} wrong, {_pct(c.wrong / c.answered)} "
                     f"({_pct(c.low)}–{_pct(c.high)}) of its {c.size} labels")
            what = (f"{c.answered} of its review sample answered, {share}: flagged "
                    + (f"{c.flagged_before} -> {c.flagged_after}, set by the count"
                       if c.recounted else f"{c.flagged_after} ({_pct(c.flagged_before / c.size)}"
                       " before, inside the count's interval: the flags stand)")
                    + ("" if c.plain is None else
                       f"; the answers contradict {c.errors} of the flags, and {c.plain_errors}"
                       f" of the estimate with no class contested, which flags {c.plain} "
                       f"({_pct(c.plain / c.size)})"))
        lines.append(f"contested class {name}: {what}")
    if fit.withdrawn is not None:
        after = int(fit.flagged.sum()) - sum(c.flagged_after for c in fit.counts)
        lines.append("the answers contradict the estimate with no class contested less "
                     "often than the flags: the contested classes' evidence is withdrawn, "
                     "and the other classes are flagged as that estimate flags them: "
                     f"{after} (were {fit.withdrawn}); docs/flags.md, "
                     "\"A person's count of a contested class\"")
    return lines
