"""Prediction depth (Baldock, Maennel & Neyshabur 2021, seed 002).

k-NN probes are fitted on the training set's embeddings at several depths of the final
model: the input, after each block the model registry names (``probe_layers``) and the
softmax output. For each training point, the probe predicts the majority label of its k
nearest *other* training points (itself left out), by Euclidean distance on the flattened
embedding. The prediction depth of a point is the earliest probe from which every probe
agrees with the network's own prediction (argmax of its logits): 0 if even the input probe
and all later ones agree, L (the number of probes) if the softmax probe itself disagrees.

Memory: one probe layer at a time (one eval pass over the data per probe), stored in half
precision, and distances in (chunk, N) blocks, so nothing N x N is ever held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from curator.data import Split
from curator.errors import CuratorError


@dataclass
class DepthResult:
    depth: np.ndarray  # (N,) int: 0..L
    probe_predictions: np.ndarray  # (L, N) k-NN prediction of each probe
    network_prediction: np.ndarray  # (N,)
    probe_names: list[str]


def knn_predict(emb: torch.Tensor, labels: torch.Tensor, num_classes: int, *, k: int,
                chunk: int = 1024) -> torch.Tensor:
    """Leave-self-out k-NN majority vote of every row of ``emb`` among all rows.

    Ties between classes go to the smaller class index; rows are compared by squared
    Euclidean distance in float32, ``chunk`` queries at a time.
    """
    n = emb.shape[0]
    if not 1 <= k < n:
        raise CuratorError(f"k must be in 1..{n - 1} for {n} samples, but got {k}")
    x = emb.float()
    sq = (x * x).sum(dim=1)
    out = torch.empty(n, dtype=torch.long, device=emb.device)
    for start in range(0, n, chunk):
        q = x[start:start + chunk]
        d = sq[start:start + chunk, None] + sq[None, :] - 2 * (q @ x.T)
        rows = torch.arange(len(q), device=emb.device)
        d[rows, rows + start] = float("inf")  # leave each point out of its own neighbours
        nbr = d.topk(k, dim=1, largest=False).indices
        votes = torch.zeros(len(q), num_classes, device=emb.device)
        votes.scatter_add_(1, labels[nbr], torch.ones_like(nbr, dtype=votes.dtype))
        out[start:start + chunk] = votes.argmax(dim=1)
    return out


def depth_from_predictions(probe_preds: np.ndarray, network_pred: np.ndarray) -> np.ndarray:
    """(L, N) probe predictions -> (N,) the earliest probe from which all agree; L if none."""
    agree = probe_preds == network_pred[None, :]
    # suffix_all[l] = probes l..L-1 all agree
    suffix_all = np.flip(np.logical_and.accumulate(np.flip(agree, axis=0), axis=0), axis=0)
    num = probe_preds.shape[0]
    return np.where(suffix_all.any(axis=0), suffix_all.argmax(axis=0), num).astype(np.int64)


@torch.no_grad()
def _embeddings(model: nn.Module, split: Split, layer: nn.Module | None, *,
                device: torch.device, batch_size: int,
                autocast: Callable[[], object]) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened outputs of ``layer`` (None: the input) and the logits, for every sample."""
    captured: list[torch.Tensor] = []
    handle = None
    if layer is not None:
        handle = layer.register_forward_hook(
            lambda m, i, o: captured.append(o.detach().flatten(1).half()))
    chunks, logits = [], []
    try:
        for _, x, _ in split.batches(torch.arange(len(split)), batch_size, device=device):
            with autocast():  # type: ignore[attr-defined]
                z = model(x)
            logits.append(z.float())
            if layer is None:
                chunks.append(x.flatten(1).half())
            else:
                chunks.append(captured.pop())
    finally:
        if handle is not None:
            handle.remove()
    return torch.cat(chunks), torch.cat(logits)


def prediction_depth(model: nn.Module, probes: list[nn.Module], split: Split,
                     num_classes: int, *, k: int = 30, device: torch.device,
                     batch_size: int = 1024, autocast: Callable[[], object] | None = None,
                     probe_names: list[str] | None = None) -> DepthResult:
    """Prediction depth of every sample of ``split`` under ``model`` (see module doc)."""
    from contextlib import nullcontext

    autocast = autocast or nullcontext
    model = model.to(device).eval()
    split = split.to(device)
    labels = split.labels.to(device)
    preds: list[np.ndarray] = []
    logits = None
    for layer in [None, *probes]:
        emb, logits = _embeddings(model, split, layer, device=device, batch_size=batch_size,
                                  autocast=autocast)
        preds.append(knn_predict(emb, labels, num_classes, k=k).cpu().numpy())
        del emb
    assert logits is not None
    softmax = torch.softmax(logits, dim=1)
    preds.append(knn_predict(softmax, labels, num_classes, k=k).cpu().numpy())
    network = logits.argmax(dim=1).cpu().numpy()
    probe_preds = np.stack(preds)
    names = ["input", *(probe_names or [f"probe-{i}" for i in range(1, len(probes) + 1)]),
             "softmax"]
    return DepthResult(depth_from_predictions(probe_preds, network), probe_preds, network,
                       names)
