"""Prediction depth (Baldock, Maennel & Neyshabur 2021, seed 002).

k-NN probes are fitted on the training set's embeddings at several depths of the final
model: the input, after each block the model registry names (``probe_layers``) and the
softmax output. For each training point, the probe predicts the majority label of its k
nearest *other* training points (itself left out), by Euclidean distance on the flattened
embedding. The prediction depth of a point is the earliest probe from which every probe
agrees with the network's own prediction (argmax of its logits): 0 if even the input probe
and all later ones agree, L (the number of probes) if the softmax probe itself disagrees.

Memory: one probe layer at a time (one eval pass over the data per probe), stored in half
precision in one preallocated (N, D) tensor, and distances between 1,024 queries and a
256 MB float32 block of support rows at a time, so nothing N x N, and no float32 copy of the
embeddings, is ever held.
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


SUPPORT_BYTES = 256 << 20  # float32 support rows cast at once


def knn_predict(emb: torch.Tensor, labels: torch.Tensor, num_classes: int, *, k: int,
                chunk: int = 1024, support_chunk: int | None = None) -> torch.Tensor:
    """Leave-self-out k-NN majority vote of every row of ``emb`` among all rows.

    Ties between classes go to the smaller class index. Squared Euclidean distances are
    computed in float32 for ``chunk`` queries against ``support_chunk`` rows at a time
    (default: as many as fit in 256 MB of float32), and the k best are merged across support
    blocks, so only those blocks are ever cast to float32: extra memory is bounded whatever N.
    """
    n = emb.shape[0]
    if not 1 <= k < n:
        raise CuratorError(f"k must be in 1..{n - 1} for {n} samples, but got {k}")
    if support_chunk is None:
        support_chunk = max(256, SUPPORT_BYTES // (4 * max(1, emb.shape[1])))
    dev = emb.device
    sq = torch.cat([emb[i:i + support_chunk].float().square().sum(dim=1)
                    for i in range(0, n, support_chunk)])
    out = torch.empty(n, dtype=torch.long, device=dev)
    for start in range(0, n, chunk):
        q = emb[start:start + chunk].float()
        rows = torch.arange(len(q), device=dev)
        best_d = torch.full((len(q), k), float("inf"), device=dev)
        best_i = torch.zeros((len(q), k), dtype=torch.long, device=dev)
        for s0 in range(0, n, support_chunk):
            support = emb[s0:s0 + support_chunk].float()
            d = sq[start:start + len(q), None] + sq[None, s0:s0 + len(support)] \
                - 2 * (q @ support.T)
            own = rows + start - s0  # leave each point out of its own neighbours
            mine = (own >= 0) & (own < len(support))
            d[rows[mine], own[mine]] = float("inf")
            d = torch.cat([best_d, d], dim=1)
            idx = torch.cat([best_i, torch.arange(s0, s0 + len(support), device=dev)
                             .expand(len(q), -1)], dim=1)
            best_d, pos = d.topk(k, dim=1, largest=False)
            best_i = idx.gather(1, pos)
        votes = torch.zeros(len(q), num_classes, device=dev)
        votes.scatter_add_(1, labels[best_i], torch.ones_like(best_d))
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
        handle = layer.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    emb: torch.Tensor | None = None  # (N, D) half precision, filled batch by batch
    logits = torch.empty((len(split), 0), device=device)
    try:
        for idx, x, _ in split.batches(torch.arange(len(split)), batch_size, device=device):
            with autocast():  # type: ignore[attr-defined]
                z = model(x).float()
            if logits.shape[1] == 0:
                logits = torch.empty((len(split), z.shape[1]), device=device)
            logits[idx] = z
            e = (x if layer is None else captured.pop()).flatten(1)
            if emb is None:
                emb = torch.empty((len(split), e.shape[1]), dtype=torch.half, device=device)
            emb[idx] = e.half()
    finally:
        if handle is not None:
            handle.remove()
    assert emb is not None
    return emb, logits


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
