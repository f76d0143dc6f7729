"""Several processes on PyTorch's own engine: DistributedDataParallel under ``torchrun``.

``torchrun --nproc_per_node K --no-python curator score ...`` starts K processes with
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set; :func:`setup` joins them into one process
group (NCCL on CUDA, gloo on the CPU) and gives each its device. Every rank trains on its
shard of each epoch and records statistics for the samples it presented; the ranks then
combine their (S, N) epoch buffers with one all-reduce, so every rank holds the whole epoch,
and rank 0 alone writes the scores file. A single process is the special case ``world = 1``:
nothing is wrapped, reduced or waited for.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from curator.errors import ConfigError


@dataclass(frozen=True)
class Context:
    """Which process of how many this is. ``Context()`` is a single process."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce ``tensor`` in place by summation (a no-op for one process)."""
        if self.active:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def merge_presented(self, buffer: torch.Tensor) -> torch.Tensor:
        """Combine per-rank epoch buffers in which samples a rank did not present are NaN.

        NaN becomes -inf, an all-reduce takes the maximum (each sample was presented by one
        rank, or by two when the shard was padded by wrapping, as DistributedSampler pads),
        and -inf becomes NaN again: a sample no rank presented stays NaN."""
        if not self.active:
            return buffer
        buffer.nan_to_num_(nan=-math.inf)
        dist.all_reduce(buffer, op=dist.ReduceOp.MAX)
        buffer.masked_fill_(buffer == -math.inf, math.nan)
        return buffer

    def broadcast_object(self, obj: object) -> object:
        """Rank 0's ``obj`` on every rank (to share a decision or an error)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def shard(self, order: torch.Tensor, *, pad: bool = True) -> torch.Tensor:
        """This rank's part of a global order: padded by wrapping to a multiple of the world
        (as ``DistributedSampler`` does, so every rank takes the same number of steps), then
        strided. ``pad=False`` (evaluation) leaves the ranks' parts disjoint and unequal."""
        if not self.active:
            return order
        if pad and len(order) % self.world:
            total = math.ceil(len(order) / self.world) * self.world
            order = order.repeat(math.ceil(total / len(order)))[:total]
        return order[self.rank::self.world]


SINGLE = Context()


def from_env() -> Context:
    """The context ``torchrun`` describes in the environment (one process without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Context(rank=int(os.environ.get("RANK", "0")), world=world,
                   local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def setup(device_name: str) -> tuple[Context, str]:
    """Join the process group ``torchrun`` started, if any; return the context and the device
    this rank trains on (``cuda:LOCAL_RANK`` when ``device_name`` is auto or cuda)."""
    ctx = from_env()
    if not ctx.active:
        return ctx, device_name
    use_cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
    if device_name.startswith("cuda:"):
        raise ConfigError(f"--device {device_name} names one GPU, but torchrun started "
                          f"{ctx.world} processes",
                          hint="use --device cuda (each rank takes cuda:LOCAL_RANK) or cpu")
    if use_cuda:
        torch.cuda.set_device(ctx.local_rank)
        device_name = f"cuda:{ctx.local_rank}"
    elif device_name == "auto":
        device_name = "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return ctx, device_name


def teardown(ctx: Context) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()
