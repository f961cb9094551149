"""The elementwise losses: mse, l1, smooth_l1, huber, binary_cross_entropy (+ with_logits), kl_div,
soft_margin, poisson_nll, gaussian_nll.

Each is built from public differentiable ops (so double backward works), in PyTorch's formulas:
the same log clamp at -100 in BCE, the stable ``(1 − y)·x − lw·logsigmoid(x)`` form of BCE with
logits, ``xlogy`` in kl_div. BCE is a Function of its own: its gradient is PyTorch's
``w·(x − y)/max(x(1 − x), 1e-12)``, finite at 0 and 1, which the clamped logs would not give.
"""
from __future__ import annotations

import math
import warnings

from ..autograd.function import Function
from ..tensor import Tensor
from .activation import logsigmoid
from .compare import where
from .loss_common import check_tensor, not_differentiable, reduce_loss, resolve_reduction, warn_target_size
from .registry import export
from .unary import log


def _weighted(loss: Tensor, weight, reduction: str, mean_over_weight: bool) -> Tensor:
    """mse/l1 (mean = Σ w·l / Σ w) and huber (mean of w·l) with ``weight``, PyTorch's composites."""
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if mean_over_weight else loss.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _sample_weight(input: Tensor, weight) -> None:
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")


def _regression(name: str, input, target, size_average, reduce, reduction, weight, elementwise, mean_over_weight):
    check_tensor(name, "input", 1, input)
    check_tensor(name, "target", 2, target)
    warn_target_size(input, target, stacklevel=5)
    if size_average is not None or reduce is not None:
        reduction = resolve_reduction(size_average, reduce, reduction)
    if weight is not None:
        _sample_weight(input, weight)
        return _weighted(elementwise(input - target), weight, reduction, mean_over_weight)
    reduction = resolve_reduction(None, None, reduction)
    return reduce_loss(elementwise(input - target), reduction)


@export(function=False, method=False, nn=True)
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """(input − target)², broadcast with PyTorch's warning when the shapes differ."""
    if isinstance(input, Tensor) and not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"mse_cpu\" not implemented for '{input.dtype._torch_name}'")
    return _regression("mse_loss", input, target, size_average, reduce, reduction, weight, lambda d: d * d, True)


@export(function=False, method=False, nn=True)
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """|input − target|; gradient sign(input − target) (0 at equality, as PyTorch)."""
    return _regression("l1_loss", input, target, size_average, reduce, reduction, weight, lambda d: d.abs(), True)


@export(function=False, method=False, nn=True)
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5·d²/beta where |d| < beta, else |d| − 0.5·beta; beta = 0 is l1_loss."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")

    def fn(d):
        a = d.abs()
        return a if beta == 0 else where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)
    return _regression("smooth_l1_loss", input, target, size_average, reduce, reduction, None, fn, True)


@export(function=False, method=False, nn=True)
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta)."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")

    def fn(d):
        a = d.abs()
        return where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _regression("huber_loss", input, target, None, None, reduction, weight, fn, False)


# binary cross entropy ------------------------------------------------------------------------------------
def _clamped_log(t: Tensor) -> Tensor:
    return log(t).clamp(min=-100)


class _BinaryCrossEntropy(Function):
    """−w·(y·max(log x, −100) + (1 − y)·max(log(1 − x), −100)), unreduced; backward of public ops."""
    node_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, w) -> Tensor:
        ctx.save_for_backward(x, y, w)
        return -(y * _clamped_log(x) + (1 - y) * _clamped_log(1 - x)) * (w if w is not None else 1)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, y, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gw = g * w if w is not None else g
        gx = gw * (x - y) / (x * (1 - x)).clamp(min=1e-12) if need[0] else None
        gy = gw * (_clamped_log(1 - x) - _clamped_log(x)) if need[1] else None
        gwt = g * -(y * _clamped_log(x) + (1 - y) * _clamped_log(1 - x)) if w is not None and need[2] else None
        return gx, gy, gwt


@export(function=False, method=False, nn=True)
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """BCE on probabilities in [0, 1] (checked, as PyTorch); ``weight`` broadcasts to the input."""
    check_tensor("binary_cross_entropy", "input", 1, input)
    check_tensor("binary_cross_entropy", "target", 2, target)
    reduction = resolve_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size (torch.Size({list(target.shape)})) that is different to the input "
                         f"size (torch.Size({list(input.shape)})) is deprecated. Please ensure they have the same "
                         f"size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {target.dtype._torch_name} but expected {input.dtype._torch_name}")
    if input.numel() and bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    if target.numel() and bool(((target < 0) | (target > 1)).any()):
        raise RuntimeError("all elements of target should be between 0 and 1")
    not_differentiable("binary_cross_entropy", "weight", weight)
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        weight = weight.expand(input.shape)
    return reduce_loss(_BinaryCrossEntropy.apply(input, target, weight), reduction)


@export(function=False, method=False, nn=True)
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """(1 − y)·x − (1 + (pos_weight − 1)·y)·logsigmoid(x): no overflow for large |x|."""
    check_tensor("binary_cross_entropy_with_logits", "input", 1, input)
    check_tensor("binary_cross_entropy_with_logits", "target", 2, target)
    reduction = resolve_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size (torch.Size({list(target.shape)})) must be the same as input size "
                         f"(torch.Size({list(input.shape)}))")
    not_differentiable("binary_cross_entropy_with_logits", "weight", weight)
    not_differentiable("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    ls = logsigmoid(input)
    if pos_weight is not None:
        loss = (1 - target) * input - (1 + (pos_weight - 1) * target) * ls
    else:
        loss = (1 - target) * input - ls
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction)


# kl_div ----------------------------------------------------------------------------------------------------
@export(function=False, method=False, nn=True)
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """target·(log target − input) (xlogy: 0 where target is 0), or exp(target)·(target − input) with
    ``log_target``; 'batchmean' divides the sum by the batch size."""
    check_tensor("kl_div", "input", 1, input)
    check_tensor("kl_div", "target", 2, target)
    if size_average is not None or reduce is not None:
        reduction = resolve_reduction(size_average, reduce, reduction)
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
        if reduction != "batchmean":
            resolve_reduction(None, None, reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        pos = target > 0
        loss = where(pos, target * log(where(pos, target, 1.0)), 0.0) - target * input
    if reduction == "batchmean":
        s = loss.sum()
        return s / input.shape[0] if input.ndim != 0 else s
    return reduce_loss(loss, reduction)


# soft margin, poisson and gaussian NLL ---------------------------------------------------------------------
@export(function=False, method=False, nn=True)
def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(−y·x)) = −logsigmoid(y·x)."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    not_differentiable("soft_margin_loss", "target", target)
    return reduce_loss(-logsigmoid(target * input), reduction)


@export(function=False, method=False, nn=True)
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """exp(x) − y·x (``log_input``) or x − y·log(x + eps); ``full`` adds Stirling's term where y > 1."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    loss = input.exp() - target * input if log_input else input - target * log(input + eps)
    if full:
        big = target > 1
        safe = where(big, target, 2.0)
        stirling = safe * log(safe) - safe + 0.5 * log(2 * math.pi * safe)
        loss = loss + where(big, stirling, 0.0)
    return reduce_loss(loss, reduction)


@export(function=False, method=False, nn=True)
def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5·(log max(var, eps) + (input − target)²/max(var, eps)) (+ 0.5·log 2π with ``full``); the
    clamp is invisible to the gradient, as PyTorch's in-place no-grad clamp."""
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_full((), float(var)) if hasattr(input, "new_full") else input * 0 + float(var)
    elif tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    v = var + (var.detach().clamp(min=eps) - var.detach())
    loss = 0.5 * (log(v) + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)
