"""``RMSprop`` (Hinton's, with PyTorch's centered and momentum variants)."""
from __future__ import annotations

from typing import Any, Iterable

from ..ops.creation import zeros_like
from . import _multi_tensor
from .adam import _step_tensor
from .optimizer import Optimizer, _check_fused, _check_tensor_lr, _scalar_value


class RMSprop(Optimizer):
    """``v = alpha v + (1 - alpha) g²``; ``avg = sqrt(v - ḡ²) + eps`` (centered, ``ḡ`` the running mean
    of ``g``) or ``sqrt(v) + eps``; ``p -= lr * g / avg``, or through a momentum buffer
    ``buf = momentum buf + g / avg``."""

    _sparse_message = "RMSprop does not support sparse gradients"

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)
        _check_fused(None, foreach, differentiable)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._steps_as_tensors()
        for group in self.param_groups:
            for k, v in (("momentum", 0), ("centered", False), ("foreach", None), ("maximize", False),
                         ("differentiable", False), ("capturable", False)):
                group.setdefault(k, v)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, grads = self._grads(group)
        if not params:
            return
        momentum, centered = group["momentum"], group["centered"]
        sqs, gas, bufs = [], [] if centered else None, [] if momentum > 0 else None
        for p in params:
            st = self.state[p]
            if len(st) == 0:
                st["step"] = _step_tensor()
                st["square_avg"] = zeros_like(p)
                if momentum > 0:
                    st["momentum_buffer"] = zeros_like(p)
                if centered:
                    st["grad_avg"] = zeros_like(p)
            st["step"]._data += 1
            st["step"]._vc[0] += 1
            sqs.append(st["square_avg"])
            if centered:
                gas.append(st["grad_avg"])
            if momentum > 0:
                bufs.append(st["momentum_buffer"])
        _multi_tensor.run("rmsprop_step", params, grads, [sqs, gas, bufs], [],
                          (_scalar_value(group["lr"]), group["alpha"], group["eps"], group["weight_decay"], momentum,
                           centered, group["maximize"]))
