"""Samplers under a real 2-process gloo torchrun: equal, disjoint shards of one global order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from samplers import SAMPLERS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_samplers_under_torchrun(tmp_path: Path) -> None:
    out = tmp_path / "shards.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(ROOT / "tests" / "dist_samplers.py"), str(out)],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["world"] == 2
    for name in SAMPLERS.names():
        a, b = result[name]
        assert a["replicas"] == b["replicas"] == 2, name
        assert a["global"] == b["global"], name  # every rank computes the same order
        assert len(a["indices"]) == len(b["indices"]) == a["len"] == 51, name
        padded = (a["global"] * 2)[:102]
        assert a["indices"] == padded[0::2] and b["indices"] == padded[1::2], name
    union = set(result["random"][0]["indices"]) | set(result["random"][1]["indices"])
    assert union == set(range(101))
