"""Hardware and library versions, printed at the top of every benchmark's output."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from typing import Any


def describe() -> str:
    import h5py
    import numpy as np
    import scipy
    import sklearn
    import torch

    import curator

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    lines = [
        # the kernels torch picked for this CPU (AVX2, AVX512, ...): a CPU run repeats on one
        # machine, but other kernels may round otherwise
        f"cpu: {cpu}, {os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()} "
        f"kernels, torch threads {torch.get_num_threads()}",
        f"gpu: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}",
        f"python {sys.version.split()[0]}, torch {torch.__version__}, numpy {np.__version__}, "
        f"h5py {h5py.__version__}, scipy {scipy.__version__}, scikit-learn "
        f"{sklearn.__version__}, curator {curator.__version__}",
    ]
    return "\n".join(lines)


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def grid_arguments(parser: Any) -> None:
    """The options every grid benchmark shares (argparse)."""
    from pathlib import Path

    parser.add_argument("--train-seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--root", default="data", help="folder of the IDX/torchvision files")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1, help="processes running cells at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--out", type=Path, help="write every cell's result as JSON")


def parse_grid(parser: Any) -> Any:
    """A grid benchmark's start: the shared options added and parsed, torch's threads set,
    the hardware and versions printed. Returns the parsed arguments."""
    import torch

    grid_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(describe(), flush=True)
    return args


def write_out(args: Any, results: Any) -> None:
    """With ``--out``, every cell's result and the arguments as JSON."""
    import json

    if args.out:
        args.out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1,
                                       default=str))
