"""``AdamW``: Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's subclass of Adam."""
from __future__ import annotations

from typing import Any, Iterable

from .adam import Adam


class AdamW(Adam):
    """Adam whose ``weight_decay`` (default 1e-2) shrinks the parameters, ``p *= 1 - lr * wd``, instead
    of entering the gradient's moments."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
