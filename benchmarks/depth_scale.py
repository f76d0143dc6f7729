"""Prediction depth at CIFAR scale: time and peak memory for N samples of 3x32x32.

Uses a freshly initialised model (the cost does not depend on the weights) and random
uint8 images, so it needs no data set. On CUDA it reports the peak allocated GPU memory,
which is what the chunked k-NN bounds; it also prints the size one layer's embeddings take.

    python benchmarks/depth_scale.py --n 50000 --model resnet20 --device cuda
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._env import describe  # noqa: E402
from curator.data import TensorSplit  # noqa: E402
from curator.depth import prediction_depth  # noqa: E402
from curator.loop import amp_dtype, autocast, resolve_device  # noqa: E402
from curator.models import build_model, probe_layers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50000)
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    print(describe())
    device = resolve_device(args.device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, generator=gen)
    split = TensorSplit(x, torch.arange(args.n) % 10, scale=1 / 255)
    torch.manual_seed(0)
    model = build_model(args.model, (3, 32, 32), 10)
    probes = probe_layers(args.model, model)
    sizes: list[int] = []
    handles = [m.register_forward_hook(lambda mod, i, o: sizes.append(o[0].numel()))
               for m in probes]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, 32, 32))
    for h in handles:
        h.remove()
    widest = max(sizes)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    dtype = amp_dtype("auto", device)
    t0 = time.perf_counter()
    result = prediction_depth(model, probes, split, 10, k=args.k, device=device,
                              batch_size=args.batch_size,
                              autocast=lambda: autocast(device, dtype))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    print(f"\nprediction depth: model {args.model}, N = {args.n}, k = {args.k}, "
          f"{len(probes) + 2} probes, device {device.type}")
    print(f"  wall time {seconds:.1f} s ({seconds / (len(probes) + 2):.2f} s per probe)")
    print(f"  widest probe layer {widest} values per sample: embeddings of one layer "
          f"{args.n * widest * 2 / 2**30:.2f} GiB in half precision")
    if device.type == "cuda":
        print(f"  peak GPU memory allocated {torch.cuda.max_memory_allocated(device) / 2**30:.2f} "
              "GiB")
    print(f"  peak host RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    print(f"  depth histogram {torch.bincount(torch.as_tensor(result.depth)).tolist()}")


if __name__ == "__main__":
    main()
