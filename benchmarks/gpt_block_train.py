"""One training step of a pre-LayerNorm transformer block, d_model 128, 4 heads, sequence 64,
batch 16: LayerNorm, causal self-attention (qkv ``nn.Linear`` +
``F.scaled_dot_product_attention(is_causal=True)`` + output ``nn.Linear``), residual, LayerNorm,
MLP 128-512-128 with GELU, residual.

Loss: ``F.mse_loss`` against a fixed standard-normal target of the block's output shape (no
vocabulary head, so the block itself is what is timed). ``optim.AdamW(lr=1e-3,
weight_decay=0.1)``. Many medium-sized ops, reshapes and permutes: framework overhead and
the attention's softmax/masking show here. Model and checks: ``train_models.py``.
"""
from __future__ import annotations

import sys

from common import Config, Result
from train_models import run_timing

NAME = "gpt_block_train"


def run(cfg: Config) -> list[Result]:
    return run_timing(NAME, "gpt_block", cfg)


if __name__ == "__main__":  # through the runner, which sets thread counts before NumPy loads
    import subprocess
    from pathlib import Path
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
