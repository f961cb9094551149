"""``Adagrad``: per-coordinate learning rates from the sum of squared gradients (PyTorch's)."""
from __future__ import annotations

from typing import Any, Iterable

from ..ops.creation import full_like
from . import _multi_tensor
from .adam import _step_tensor
from .optimizer import Optimizer, _check_fused, _check_tensor_lr, _scalar_value


class Adagrad(Optimizer):
    """``sum += g²``; ``p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)``. The state exists from
    construction, as in PyTorch (``sum`` starts at ``initial_accumulator_value``)."""

    _sparse_message = "Adagrad does not support sparse gradients in autograd_gpu"

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = _step_tensor()
                st["sum"] = full_like(p, group["initial_accumulator_value"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._steps_as_tensors()
        for group in self.param_groups:
            for k, v in (("foreach", None), ("maximize", False), ("differentiable", False), ("fused", None)):
                group.setdefault(k, v)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, grads = self._grads(group)
        if not params:
            return
        sums, steps = [], []
        for p in params:
            st = self.state[p]
            st["step"]._data += 1
            st["step"]._vc[0] += 1
            steps.append(float(st["step"]._data))
            sums.append(st["sum"])
        _multi_tensor.run("adagrad_step", params, grads, [sums], [steps],
                          (_scalar_value(group["lr"]), group["lr_decay"], group["weight_decay"], group["eps"],
                           group["maximize"]))
