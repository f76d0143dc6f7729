#!/usr/bin/env bash
# The mislabel-flag grid's cells a 2-core CPU cannot afford (issue 13): Fashion-MNIST 20,000
# with the CNN, on one CUDA GPU (on that CPU a 5-epoch reference run of 3 seeds alone did not
# finish in 18 min; a 15-epoch cell with cleanlab and the selections is several hours).
# 1. 15 epochs, the noise cells in NOISE (default: clean, then every noise family at 20% and
#    40% with the test labels flipped too, as issue 26 asks), every selection and cleanlab
#    (T_SHORT s, default 540; the cells it finishes are kept);
# 2. 60 epochs (the CNN memorises), 20% symmetric and asymmetric noise, cleanlab and the
#    default, easy and random selections (T_LONG s; default 0: skipped, as one 15-minute
#    lease fits step 1 only — run it in the next with T_SHORT=0 T_LONG=540).
# The benchmark spreads each cell's reference run, cleanlab's 5 folds and every training of
# every selection over JOBS processes (default 14) of THREADS torch threads (default 1), the
# earliest cell first. Run from the repository root: bash benchmarks/gpu_flags.sh
# Needs cleanlab (a wheel in .whl/ when there is no index) and the gzipped IDX files in
# FMNIST_ROOT (default .fmnist/, ignored by git: copy them from `dpkg -L
# dataset-fashion-mnist` and carry the folder to the device machine). Every cell's JSON line
# and stages land in ${OUT:-gpu-out}/ as it finishes, so a step cut short keeps the cells it
# finished. DEVICE (default cuda) changes where it runs.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:-}:$PWD"
out=${OUT:-gpu-out}; mkdir -p "$out"
root=${FMNIST_ROOT:-.fmnist} device=${DEVICE:-cuda} jobs=${JOBS:-14} threads=${THREADS:-1}
t_short=${T_SHORT:-540} t_long=${T_LONG:-0}
read -r -a noise <<< "${NOISE:-none sym0.2+test pairs0.2+test inst0.2+test classdep0.2+test \
sym0.4+test pairs0.4+test inst0.4+test classdep0.4+test asym0.2+test}"
if [ ! -e "$root/train-images-idx3-ubyte.gz" ] && [ ! -e "$root/train-images-idx3-ubyte" ]; then
  echo "Error: no Fashion-MNIST IDX files in $root" >&2
  echo "Hint: cp /usr/share/datasets/fashion-mnist/*.gz $root/ (apt-get install dataset-fashion-mnist), or set FMNIST_ROOT" >&2
  exit 2
fi
python3 -c "import cleanlab" 2>/dev/null || pip install -q cleanlab 2>/dev/null \
  || pip install -q --no-index --find-links .whl cleanlab
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv \
  | tee "$out/gpu.txt"
grid=(python3 benchmarks/mislabel_flags.py --data fashion-mnist:20000 --root "$root"
      --models cnn --batch-size 256 --device "$device" --threads "$threads")
rc=0  # the script's status: the last failed step's (124: cut short by its limit)
if [ "$t_short" -gt 0 ]; then
  timeout "$t_short" "${grid[@]}" --epochs 15 --noise "${noise[@]}" \
    --jobs "$jobs" --out "$out/flags_fmnist_cnn15.json" 2>&1 | tee "$out/flags_fmnist_cnn15.txt" \
    || rc=$?
fi
if [ "$t_long" -gt 0 ]; then
  timeout "$t_long" "${grid[@]}" --epochs 60 --noise sym0.2 asym0.2 \
    --selections default easy random --jobs "$jobs" --out "$out/flags_fmnist_cnn60.json" 2>&1 \
    | tee "$out/flags_fmnist_cnn60.txt" || rc=$?
fi
exit "$rc"
