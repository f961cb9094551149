"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's)."""
from __future__ import annotations

from typing import Any, Iterable

from ..ops.creation import zeros_like
from . import _multi_tensor
from .optimizer import Optimizer, _check_fused, _check_tensor_lr, _scalar_value


class SGD(Optimizer):
    """``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step), then
    ``p -= lr * (g + momentum * buf if nesterov else buf)``; ``g`` includes ``weight_decay * p``."""

    _sparse_message = "SGD does not support sparse gradients in autograd_gpu"

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None) -> None:
        _check_tensor_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, grads = self._grads(group)
        if not params:
            return
        momentum = group["momentum"]
        bufs, fresh = None, [False] * len(params)
        if momentum != 0:
            bufs = []
            for i, p in enumerate(params):
                buf = self.state[p].get("momentum_buffer")
                if buf is None:
                    buf = zeros_like(p)
                    self.state[p]["momentum_buffer"] = buf
                    fresh[i] = True
                bufs.append(buf)
        _multi_tensor.run("sgd_step", params, grads, [bufs], [fresh],
                          (_scalar_value(group["lr"]), momentum, group["dampening"], group["weight_decay"],
                           group["nesterov"], group["maximize"]))
