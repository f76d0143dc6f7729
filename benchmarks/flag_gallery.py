"""A figure of the flagged samples, so a reader can judge the flags by eye.

Two rows of images from a scores file made by ``curator score`` on image data: the flagged
samples the estimate is most certain of (highest probability of a wrong label), and those it
is least certain of, each titled with its index, its given label, the suggested label and its
confidence (``-> class 0.62``; ``-> ?`` where the history suggests none; docs/corrections.md)
and the probability; with injected noise, the label it had before (``was ...``). The
images come from the data the file names (``curator score --data ...``), loaded as
``curator train`` loads them.

    python benchmarks/flag_gallery.py fmnist.h5 --out docs/img/flags-fashion-mnist.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from curator.data import load_data  # noqa: E402
from curator.flagging import file_mislabel, file_suggestions  # noqa: E402
from curator.flags import FLAG_AT, most_likely_first  # noqa: E402
from curator.store import open_scores  # noqa: E402


def picks(probability: np.ndarray, count: int, confidence: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` most certain flagged samples and the ``count`` least certain ones (the
    order of `curator flag`'s list: ties by the suggestion's confidence)."""
    order = most_likely_first(probability, confidence)
    order = order[probability[order] >= FLAG_AT]
    return order[:count], order[::-1][:count][::-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="a .png")
    parser.add_argument("--count", type=int, default=12, help="images per row")
    parser.add_argument("--root", default="data", help="directory of torchvision data")
    args = parser.parse_args()
    with open_scores(args.scores) as f:
        fit = file_mislabel(f)
        spec = f.data_spec
        labels, noisy, original = f.labels, f.noisy, f.original_labels
        found = file_suggestions(f)
    if fit is None:
        raise SystemExit(f"{args.scores} has no reference run to flag from")
    data = load_data(spec["data"], root=args.root)
    images = data.train.x.numpy()
    if images.ndim not in (3, 4):
        raise SystemExit(f"the samples have shape {images.shape[1:]}: not images")
    classes = spec.get("classes") or [str(c) for c in range(int(labels.max()) + 1)]
    top, edge = picks(fit.probability, args.count, None if found is None else found[1])
    from matplotlib.figure import Figure

    n = int(fit.flagged.sum())
    fig = Figure(figsize=(1.45 * args.count, 4.8))
    rows = [(top, f"most certain of the {n} flagged"),
            (edge, "least certain of them")]
    for r, (chosen, title) in enumerate(rows):
        for c in range(args.count):
            ax = fig.add_subplot(2, args.count, r * args.count + c + 1)
            ax.set_axis_off()
            if c >= len(chosen):
                continue
            i = int(chosen[c])
            img = images[i]
            if img.ndim == 3:  # (C, H, W): one channel as grey, three as colour
                img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
            ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None)
            was = ("" if noisy is None or original is None or not noisy[i]
                   else f"\nwas {classes[int(original[i])]}")
            suggestion = ""
            if found is not None:
                s, conf = int(found[0][i]), float(found[1][i])
                suggestion = f"\n-> {classes[s]} {conf:.2f}" if s >= 0 else "\n-> ?"
            ax.set_title(f"#{i}\n{classes[int(labels[i])]}{suggestion}\n"
                         f"p={fit.probability[i]:.2f}{was}", fontsize=7)
        fig.text(0.01, 0.995 - r * 0.5, title, fontsize=9, va="top", weight="bold")
    fig.subplots_adjust(top=0.82, bottom=0.02, hspace=1.0, left=0.01, right=0.99)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}: {n} flagged of {len(labels)}; shown {len(top)} + {len(edge)}")


if __name__ == "__main__":
    main()
