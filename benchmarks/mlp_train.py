"""MLP training step: ``nn.Linear`` 784-1024-1024-10 with ReLU, batch 256, ``F.cross_entropy``,
``optim.SGD(lr=0.01, momentum=0.9)``: zero_grad, forward, backward, step, in milliseconds.

Big matmuls dominate: this shows whether the framework adds anything on top of the BLAS calls
the hand-written NumPy step (the CPU limit) makes. Target on CPU: at most 1.05x PyTorch. Model
and checks: ``train_models.py``; a fresh process of its own.
"""
from __future__ import annotations

from .common import Config, Row
from .train_models import time_step

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = True


def run(cfg: Config) -> list[Row]:
    return time_step("mlp_train", "mlp", cfg)
