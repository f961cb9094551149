"""GPT-block training step: a pre-LayerNorm transformer block, d_model 128, 4 heads, sequence 64,
batch 16 (LayerNorm, causal self-attention through ``F.scaled_dot_product_attention``, residual,
LayerNorm, MLP 128-512-128 with GELU, residual), ``F.mse_loss`` against a fixed target,
``optim.AdamW(lr=1e-3, weight_decay=0.1)``, in milliseconds.

No vocabulary head, so the block itself is what is timed. Many medium-sized ops, reshapes and
permutes: framework overhead and the attention's softmax and masking show here. Targets: at most
1.3x PyTorch on CPU, 1.5x PyTorch eager on the GPU. Model and checks: ``train_models.py``; a
fresh process of its own.
"""
from __future__ import annotations

from .common import Config, Row
from .train_models import time_step

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = True


def run(cfg: Config) -> list[Row]:
    return time_step("gpt_block_train", "gpt_block", cfg)
