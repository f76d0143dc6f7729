#!/usr/bin/env bash
# Every GPU figure of issue 7 in one go, on a machine with one CUDA GPU:
# images/s with and without recording (ResNet-20, ResNet-18; channels-last off/on;
# torch.compile), then the wall time of a 200-epoch ResNet-20 reference run on
# CIFAR-10-shaped synthetic data. Run from the repository root: bash benchmarks/gpu.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:-}:$PWD"
for model in resnet20 resnet18; do
  for cl in off on; do
    python3 benchmarks/overhead.py --data synthetic-images:50000 --model "$model" \
      --batch-size 512 --epochs 4 --repeats 2 --device cuda --channels-last "$cl" --no-peer
  done
  python3 benchmarks/overhead.py --data synthetic-images:50000 --model "$model" \
    --batch-size 512 --epochs 4 --repeats 2 --device cuda --channels-last on --compile --no-peer
done
tmp=$(mktemp -d)
python3 - "$tmp/c10.npz" <<'PY'
import sys
from pathlib import Path
from benchmarks.overhead import synthetic
print(synthetic("synthetic-images:50000", Path(sys.argv[1]).parent))
PY
/usr/bin/time -v python3 -m curator score --config configs/cifar10-resnet20.toml \
  --data "npz:$tmp/synthetic.npz" --seeds 1 --quiet --out "$tmp/s.h5" 2>&1 \
  | grep -E "wrote|Elapsed|Maximum resident"
