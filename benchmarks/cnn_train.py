"""CNN training step on 1x28x28 inputs, batch 32: Conv2d(1,16,3,padding=1)-ReLU-MaxPool2d(2)-
Conv2d(16,32,3,padding=1)-ReLU-MaxPool2d(2)-Flatten-Linear(1568,10), ``F.cross_entropy``,
``optim.SGD(lr=0.01, momentum=0.9)``, in milliseconds.

Small convolutions and pooling: the per-op cost of im2col-style convolution and of the pooling
index bookkeeping shows here, not BLAS. Target on CPU: at most 1.5x PyTorch. Model and checks:
``train_models.py``; a fresh process of its own.
"""
from __future__ import annotations

from .common import Config, Row
from .train_models import time_step

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = True


def run(cfg: Config) -> list[Row]:
    return time_step("cnn_train", "cnn", cfg)
