#!/usr/bin/env bash
# Every GPU figure of issue 7 in one go, on a machine with one CUDA GPU:
# images/s with and without recording (ResNet-20, ResNet-18; channels-last off/on;
# torch.compile), then the wall time of a 200-epoch ResNet-20 reference run on
# CIFAR-10-shaped synthetic data. Run from the repository root: bash benchmarks/gpu.sh
# A short lease can shrink it: GPU_EPOCHS (timed epochs per repeat, default 4), GPU_REPEATS
# (default 2) and REF_EPOCHS (the reference run's epochs, default the config's 200).
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:-}:$PWD"
epochs=${GPU_EPOCHS:-4} repeats=${GPU_REPEATS:-2}
ref_epochs=${REF_EPOCHS:+--epochs $REF_EPOCHS}
for model in resnet20 resnet18; do
  for cl in off on; do
    python3 benchmarks/overhead.py --data synthetic-images:50000 --model "$model" \
      --batch-size 512 --epochs "$epochs" --repeats "$repeats" --device cuda --channels-last "$cl" --no-peer
  done
  python3 benchmarks/overhead.py --data synthetic-images:50000 --model "$model" \
    --batch-size 512 --epochs "$epochs" --repeats "$repeats" --device cuda --channels-last on --compile --no-peer
done
tmp=$(mktemp -d)
python3 - "$tmp/c10.npz" <<'PY'
import sys
from pathlib import Path
from benchmarks.overhead import synthetic
print(synthetic("synthetic-images:50000", Path(sys.argv[1]).parent))
PY
timer=(/usr/bin/time -v); [ -x /usr/bin/time ] || timer=()  # not on every image
TIMEFORMAT='Elapsed (wall clock) time (s): %R'
time "${timer[@]}" python3 -m curator score --config configs/cifar10-resnet20.toml \
  --data "npz:$tmp/synthetic.npz" --seeds 1 $ref_epochs --quiet --out "$tmp/s.h5" 2>&1 \
  | grep -E "wrote|Elapsed|Maximum resident"
