"""``Adam`` (and, with ``decoupled_weight_decay=True``, AdamW) in PyTorch's formulation."""
from __future__ import annotations

from typing import Any, Iterable

from .. import dtypes as _dt
from ..ops.creation import tensor, zeros_like
from ..tensor import Tensor
from . import _multi_tensor
from .optimizer import Optimizer, _check_fused, _check_tensor_lr, _scalar_value


def _step_tensor() -> Tensor:
    """PyTorch keeps ``step`` as a float32 CPU scalar tensor (non-capturable path)."""
    return tensor(0.0, dtype=_dt.float32)


class Adam(Optimizer):
    """``m = lerp(m, g, 1 - beta1)``, ``v = beta2 v + (1 - beta2) g²``,
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; ``amsgrad`` uses the running
    max of ``v``. ``weight_decay`` adds ``wd * p`` to ``g``, or (decoupled, AdamW) scales ``p`` by ``1 - lr wd``."""

    _sparse_message = "Adam does not support sparse gradients, please consider SparseAdam instead"

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        if isinstance(lr, Tensor):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
            _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if isinstance(betas[0], Tensor) != isinstance(betas[1], Tensor):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = (_scalar_value(betas[0]), _scalar_value(betas[1])) if isinstance(betas[0], Tensor) else betas
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._steps_as_tensors()
        for group in self.param_groups:
            for k, v in (("amsgrad", False), ("maximize", False), ("foreach", None), ("capturable", False),
                         ("differentiable", False), ("fused", None), ("decoupled_weight_decay", False)):
                group.setdefault(k, v)

    def _step_group(self, group: dict[str, Any]) -> None:
        params, grads = self._grads(group)
        if not params:
            return
        amsgrad = group["amsgrad"]
        ms, vs, vmaxes, steps = [], [], [] if amsgrad else None, []
        for p in params:
            st = self.state[p]
            if len(st) == 0:
                st["step"] = _step_tensor()
                st["exp_avg"] = zeros_like(p)
                st["exp_avg_sq"] = zeros_like(p)
                if amsgrad:
                    st["max_exp_avg_sq"] = zeros_like(p)
            step = st["step"]
            step._data += 1          # the host-side step, as PyTorch's non-capturable path
            step._vc[0] += 1
            steps.append(float(step._data))
            ms.append(st["exp_avg"])
            vs.append(st["exp_avg_sq"])
            if amsgrad:
                vmaxes.append(st["max_exp_avg_sq"])
        beta1, beta2 = group["betas"]
        decoupled = group["decoupled_weight_decay"]
        _multi_tensor.run("adam_step", params, grads, [ms, vs, vmaxes], [steps],
                          (_scalar_value(group["lr"]), _scalar_value(beta1), _scalar_value(beta2), group["eps"],
                           group["weight_decay"], amsgrad, group["maximize"], decoupled),
                          bumps=2 if decoupled and group["weight_decay"] != 0 else 1)
