#!/usr/bin/env bash
# The GPU figures of issues 14, 16 and 13 in one short lease (run from the repository root):
# 1. curator.Recorder in a plain loop against the bare loop and aum (ResNet-20, 50,000
#    CIFAR-shaped tensors, batch 512, bf16);
# 2. dynamic pruning against random (same epochs, and same samples) on Fashion-MNIST 20,000
#    and mnist1d, mlp and cnn, 15 epochs, 3 seeds, skip 0.3/0.4/0.5, runs in parallel;
# 3. the mislabel-flag grid's CNN cells on digits (15 and 60 epochs) against cleanlab.
# Needs aum and cleanlab (wheels in .whl/ when there is no index) and the Fashion-MNIST IDX
# files in FMNIST_ROOT (default .fmnist). Each step has its own time limit; logs go to
# ${OUT:-gpu-out}/.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:-}:$PWD"
out=${OUT:-gpu-out}; mkdir -p "$out"
root=${FMNIST_ROOT:-.fmnist}
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
timeout "${T_RECORDER:-110}" python3 benchmarks/recorder_overhead.py --device cuda \
  --model resnet20 --n 50000 --batch-size 512 --epochs 4 --threads 4 2>&1 \
  | tee "$out/recorder_gpu.txt"
timeout "${T_DYNAMIC:-260}" python3 benchmarks/dynamic_pruning.py \
  --data fashion-mnist:20000 mnist1d --models cnn mlp --epochs 15 --skip 0.3 0.4 0.5 \
  --train-seeds 3 --root "$root" --device cuda --jobs 12 --threads 1 \
  --out "$out/dynamic.json" 2>&1 | grep -v '^{' | tee "$out/dynamic.txt"
timeout "${T_FLAGS:-170}" python3 benchmarks/mislabel_flags.py --data digits --models cnn \
  --epochs 15 60 --noise none sym0.2 sym0.4 asym0.2 --device cuda --jobs 8 --threads 1 \
  --out "$out/flags_cnn.json" 2>&1 | grep -v '^{' | tee "$out/flags_cnn.txt"
