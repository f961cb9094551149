"""One training step of a small CNN on 1x28x28 inputs, batch 32: Conv2d(1,16,3,padding=1)-ReLU-
MaxPool2d(2)-Conv2d(16,32,3,padding=1)-ReLU-MaxPool2d(2)-Flatten-Linear(1568,10),
``F.cross_entropy``, ``optim.SGD(lr=0.01, momentum=0.9)``.

Small convolutions and pooling: the per-op cost of im2col-style convolution and of the pooling
index bookkeeping shows here, not BLAS. Model and checks: ``train_models.py``.
"""
from __future__ import annotations

import sys

from common import Config, Result
from train_models import run_timing

NAME = "cnn_train"


def run(cfg: Config) -> list[Result]:
    return run_timing(NAME, "cnn", cfg)


if __name__ == "__main__":  # through the runner, which sets thread counts before NumPy loads
    import subprocess
    from pathlib import Path
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
