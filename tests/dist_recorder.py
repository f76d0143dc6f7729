"""Run under torchrun (tests/test_recorder.py), or alone for the single-process reference:
every rank trains the same model on the same full batches, and records only its own half of
each batch (rows rank::world) into one curator.Recorder, with a first-epoch check before
the first batch and after each (every rank calls it; rank 0's samples count); rank 0 writes
``out``."""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F

import curator


def main(out: str) -> None:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    g = torch.Generator().manual_seed(0)
    y = torch.arange(90) % 3
    x = torch.randn(90, 8, generator=g) + 2 * F.one_hot(y, 8).float()
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with curator.Recorder(out, labels=y, num_classes=3, epochs=3) as rec:
        for epoch in range(3):
            order = torch.randperm(90, generator=torch.Generator().manual_seed(epoch))
            if epoch == 0:
                rec.check(0.3, test_samples=100)
            for step, idx in enumerate(order.split(30)):
                logits = model(x[idx])
                loss = F.cross_entropy(logits, y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                mine = slice(rank, None, world)
                rec.update(idx[mine], logits[mine], y[idx][mine])
                if epoch == 0:
                    rec.check(0.4 + 0.1 * step, test_samples=100)
            rec.end_epoch()
    if world > 1:
        ranks: list = [None] * world
        dist.all_gather_object(ranks, rank)
        if rank == 0:
            with open(out + ".ranks", "w") as f:
                json.dump(ranks, f)
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    # torch's gloo backend, after training with autograd, aborts at interpreter exit now and
    # then ("terminate called without an active exception"; a plain gloo loop without
    # curator does it too): once the work is written and the group destroyed, leave
    # without the interpreter's finalisation, so the launcher reports what the test checks
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
