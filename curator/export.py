"""Export scores to CSV or NumPy for other tools (pandas, cleanlab, notebooks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curator.errors import CuratorError, check_output_dir
from curator.store import open_scores

FORMATS = ("csv", "npy")


def export_scores(path: str | Path, *, fmt: str = "csv", scores: Sequence[str] | None = None,
                  out: str | Path | None = None) -> Path:
    """Write one row per training sample: index, label, (noisy, original_label,) scores.

    ``csv``: a header line and comma-separated values; ``npy``: a structured array with the
    same fields (``numpy.load(out)``). Returns the path written.
    """
    if fmt not in FORMATS:
        raise CuratorError(f"unknown export format {fmt!r}", hint="choose csv or npy")
    path = Path(path)
    out = Path(out) if out is not None else path.with_suffix(f".{fmt}")
    with open_scores(path) as f:
        names = list(scores) if scores else f.score_names()
        if not names:
            raise CuratorError(f"{str(path)!r} has no scores to export",
                               hint="finish the runs with `curator score --resume`")
        columns: dict[str, np.ndarray] = {"index": np.arange(f.num_samples),
                                          "label": f.labels}
        noisy = f.noisy
        if noisy is not None:
            columns["noisy"] = noisy.astype(np.int8)
            columns["original_label"] = f.original_labels
        for name in names:
            columns[name] = f.score(name).values
    check_output_dir(out)
    if fmt == "npy":
        table = np.empty(len(columns["index"]), dtype=[(k, v.dtype) for k, v in columns.items()])
        for k, v in columns.items():
            table[k] = v
        np.save(out, table)
    else:
        fmts = ["%d" if v.dtype.kind in "iub" else "%.8g" for v in columns.values()]
        data = np.column_stack([v.astype(np.float64) for v in columns.values()])
        np.savetxt(out, data, fmt=fmts, delimiter=",", header=",".join(columns), comments="")
    return out
