"""The recorded statistics on a batch computed by hand."""

from __future__ import annotations

import math

import numpy as np
import torch

from curator.record import StatBuffer, batch_stats
from curator.store import STAT_DTYPES, stat_dtype


def test_batch_stats_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0], [1.0, 1.0, 0.0]])
    labels = torch.tensor([0, 1, 1])
    s = batch_stats(logits, labels)
    e = math.e
    p0 = e**2 / (e**2 + 2)
    p1 = e / (1 + e + e**3)
    p2 = e / (2 * e + 1)
    np.testing.assert_allclose(s["p_true"].numpy(), [p0, p1, p2], rtol=1e-6)
    np.testing.assert_allclose(s["loss"].numpy(), -np.log([p0, p1, p2]), rtol=1e-6)
    np.testing.assert_allclose(s["margin"].numpy(), [2.0, -2.0, 0.0])
    assert s["correct"].tolist() == [True, False, False]  # a tie (margin 0) is not correct
    q0 = np.array([e**2, 1, 1]) / (e**2 + 2)
    q1 = np.array([1, e, e**3]) / (1 + e + e**3)
    q2 = np.array([e, e, 1]) / (2 * e + 1)
    el2n = [np.linalg.norm(q0 - [1, 0, 0]), np.linalg.norm(q1 - [0, 1, 0]),
            np.linalg.norm(q2 - [0, 1, 0])]
    np.testing.assert_allclose(s["el2n"].numpy(), el2n, rtol=1e-5)


def test_recorder_scatters_by_index_and_marks_unseen() -> None:
    rec = StatBuffer(5, "cpu")
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0]])
    rec.update(torch.tensor([4, 1]), logits, torch.tensor([0, 0]))
    out = rec.collect()
    assert {k: v.dtype for k, v in out.items()} == STAT_DTYPES
    assert np.isnan(out["p_true"][[0, 2, 3]]).all()
    # the rival: the other class; a sample not presented holds the dtype's largest value
    assert out["rival"].tolist() == [255, 1, 255, 255, 1]
    assert out["p_true"][4] > 0.9 and out["p_true"][1] < 0.1
    assert out["correct"].tolist() == [False, False, False, False, True]
    rec.reset()
    assert np.isnan(rec.collect()["p_true"]).all()


def test_chunked_recording_equals_batch_by_batch() -> None:
    torch.manual_seed(0)
    n, batches = 50, []
    order = torch.randperm(n)
    for start in range(0, n, 7):
        idx = order[start:start + 7]
        batches.append((idx, torch.randn(len(idx), 4), torch.randint(0, 4, (len(idx),))))
    small, large = StatBuffer(n, "cpu", chunk_samples=1), StatBuffer(n, "cpu", chunk_samples=10**6)
    for idx, z, y in batches:
        small.update(idx, z, y)
        large.update(idx, z, y)
        assert len(small._pending) == 0  # flushed every batch
    a, b = small.collect(), large.collect()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.isnan(a["p_true"]).any()


def test_rival_is_the_most_likely_other_class_in_the_smallest_dtype() -> None:
    z = torch.tensor([[0.0, 5.0, 1.0, 2.0], [9.0, 1.0, 3.0, 0.0]])
    s = batch_stats(z, torch.tensor([1, 2]))
    assert s["rival"].tolist() == [3, 0]  # sample 0: not its label 1; sample 1: the prediction
    for classes, dtype in ((10, np.uint8), (255, np.uint8), (256, np.uint16),
                           (70_000, np.uint32)):
        assert stat_dtype("rival", classes) == dtype
        buf = StatBuffer(3, "cpu", num_classes=classes)
        buf.update(torch.tensor([2]), torch.randn(1, classes), torch.tensor([0]))
        out = buf.collect()["rival"]
        assert out.dtype == dtype and out[0] == np.iinfo(dtype).max and out[2] < classes
