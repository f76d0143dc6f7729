"""Hardware and library versions, printed at the top of every benchmark's output."""

from __future__ import annotations

import os
import platform
import statistics
import sys


def describe() -> str:
    import h5py
    import numpy as np
    import torch

    import curator

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    lines = [
        f"cpu: {cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        f"gpu: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}",
        f"python {sys.version.split()[0]}, torch {torch.__version__}, numpy {np.__version__}, "
        f"h5py {h5py.__version__}, curator {curator.__version__}",
    ]
    return "\n".join(lines)


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"
