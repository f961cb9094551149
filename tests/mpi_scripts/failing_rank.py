"""Launched by tests/test_distributed.py: one rank fails, the others must not hang.

``raise``: the last rank raises before an all_reduce the others are already waiting in; they must
fail with an error naming it. ``hang``: the last rank never arrives; the others' all_reduce must
time out (``timeout`` of init_process_group) and end the job.
"""
from __future__ import annotations

import sys
import time
from datetime import timedelta

import autograd_gpu as ag
import autograd_gpu.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=timedelta(seconds=float(sys.argv[2]) if len(sys.argv) > 2 else 60))
rank, world = dist.get_rank(), dist.get_world_size()
dist.barrier()
if rank == world - 1:
    if mode == "raise":
        time.sleep(0.5)          # the others are inside all_reduce by now
        raise ValueError(f"boom on purpose in rank {rank}")
    time.sleep(120)              # "hang": never joins
dist.all_reduce(ag.ones(4))
print(f"rank {rank}: all_reduce returned although rank {world - 1} never joined", flush=True)
