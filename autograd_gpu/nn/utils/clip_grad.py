"""``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's ``torch/nn/utils/clip_grad.py``).

The total norm costs one reduction per gradient, one stack and one norm; the scale stays a tensor
(no host sync) and multiplies each gradient in place: a handful of launches per tensor on CUDA.
"""
from __future__ import annotations

import math
from typing import Iterable

from ...autograd import no_grad
from ...ops.creation import tensor as make_tensor
from ...ops.join import stack
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]


def _grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(t: Tensor, norm_type: float) -> Tensor:
    if norm_type == math.inf:
        return t.abs().amax()
    if norm_type == -math.inf:
        return t.abs().amin()
    return t.norm(norm_type)


def get_total_norm(tensors: Iterable[Tensor] | Tensor, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type`` norm of all ``tensors`` together (as one vector); 0 when there are none."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return make_tensor(0.0)
    with no_grad():
        per = [_norm(t.reshape(-1), norm_type) for t in tensors]
        dev = per[0].device
        total = _norm(stack([p.to(dev) for p in per]), norm_type)
    if error_if_nonfinite and not bool(total.isfinite().item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           f"so it cannot be clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so their joint norm is at most ``max_norm``; returns the norm
    before clipping (a tensor, as PyTorch). ``foreach`` is accepted for PyTorch's signature."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = _grads(list(parameters))
    if not grads:
        return make_tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    with no_grad():
        coef = (float(max_norm) / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(device=g.device, dtype=g.dtype))
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
