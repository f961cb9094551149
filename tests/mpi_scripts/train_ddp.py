"""Launched by tests/test_distributed.py as ``mpiexec -n N python train_ddp.py OUT``: the trainer
behind ``autograd-gpu train --distributed`` on N ranks equals one process training with an N times
larger batch; rank 0 alone shows progress and writes the checkpoint."""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np

import autograd_gpu.distributed as dist
from autograd_gpu.lm.train import CHECKPOINT, TrainConfig, Trainer

out = Path(sys.argv[1])
text = "".join(f"def f{i}(x):\n    return x * {i % 7} + {i % 5}\n" for i in range(600))
common = dict(steps=4, block_size=16, n_layer=1, n_head=2, n_embd=16, warmup=1, eval_interval=2, eval_iters=2,
              sample_chars=0)
dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
trainer = Trainer(TrainConfig(batch_size=2, distributed=True, out=str(out / "ddp"), **common), text)
err = io.StringIO()
with contextlib.redirect_stderr(err):
    assert trainer.run(progress=True) == 0
printed = [None] * world
dist.all_gather_object(printed, err.getvalue())
assert "step" in printed[0] and all(p == "" for p in printed[1:]), printed   # the bar: rank 0 alone
weights = [None] * world
dist.all_gather_object(weights, [p.detach().numpy() for p in trainer.model.parameters()])
assert all(np.array_equal(a, b) for w in weights for a, b in zip(w, weights[0])), "replicas differ"
if rank == 0:
    assert (out / "ddp" / CHECKPOINT).is_file()
    one = Trainer(TrainConfig(batch_size=2 * world, out=str(out / "one"), **common), text)
    assert one.run(progress=False) == 0
    np.testing.assert_allclose(trainer.history["loss"], one.history["loss"], rtol=2e-5)
    np.testing.assert_allclose([v for _, v in trainer.history["val"]], [v for _, v in one.history["val"]], rtol=2e-5)
    for (name, p), q in zip(trainer.model.named_parameters(), one.model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    print(f"TRAIN OK on {world} ranks: losses {[round(v, 4) for v in trainer.history['loss']]}", flush=True)
dist.barrier()
