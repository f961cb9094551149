"""One training step of an MLP 784-1024-1024-10 built from ``nn.Linear`` + ReLU, batch 256,
``F.cross_entropy``, ``optim.SGD(lr=0.01, momentum=0.9)``: zero_grad, forward, backward, step.

The module-level version of ``mlp_step`` (which writes the same math with raw ops): what
``nn.Module`` calls, the fused loss and the optimizer add. Model and checks: ``train_models.py``.
"""
from __future__ import annotations

import sys

from common import Config, Result
from train_models import run_timing

NAME = "mlp_train"


def run(cfg: Config) -> list[Result]:
    return run_timing(NAME, "mlp", cfg)


if __name__ == "__main__":  # through the runner, which sets thread counts before NumPy loads
    import subprocess
    from pathlib import Path
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
