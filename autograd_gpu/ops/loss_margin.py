"""Margin and embedding losses: margin_ranking, hinge_embedding, cosine_embedding, triplet_margin,
multi_margin, multilabel_soft_margin -- PyTorch's formulas out of public differentiable ops."""
from __future__ import annotations

from ..tensor import Tensor
from .activation import logsigmoid
from .compare import where
from .loss_common import reduce_loss, resolve_reduction
from .registry import export


def _size(t: Tensor) -> str:
    return f"torch.Size({list(t.shape)})"


@export(function=False, method=False, nn=True)
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, −y·(x1 − x2) + margin)."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {_size(input1)}, input2: {_size(input2)}, target: {_size(target)} ")
    return reduce_loss((-target * (input1 - input2) + margin).clamp(min=0), reduction)


@export(function=False, method=False, nn=True)
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin − x) where y = −1 (PyTorch's sum of both masked parts)."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    zero = input * 0
    out = where(target != 1, (margin - input).clamp(min=0), zero) + where(target != -1, input, zero)
    return reduce_loss(out, reduction)


@export(function=False, method=False, nn=True)
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """1 − cos where y = 1, max(0, cos − margin) where y = −1; cos over the last dim with PyTorch's 1e-12
    added to each squared norm."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    d = input1.ndim - 1
    prod = (input1 * input2).sum(d)
    mag = ((input1 * input1).sum(d) + 1e-12) * ((input2 * input2).sum(d) + 1e-12)
    cos = prod / mag.sqrt()
    zero = cos * 0
    out = where(target == 1, 1 - cos, zero) + where(target == -1, (cos - margin).clamp(min=0), zero)
    return reduce_loss(out, reduction)


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    return (x1 - x2 + eps).norm(p, x1.ndim - 1 if x1.ndim else None)


@export(function=False, method=False, nn=True)
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) − d(a, n) + margin, 0), d the p-norm of the difference (+ eps); ``swap`` uses
    min(d(a, n), d(p, n))."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(_pairwise_distance(positive, negative, p, eps))
    return reduce_loss((margin + d_pos - d_neg).clamp(min=0), reduction)


@export(function=False, method=False, nn=True)
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Σ_{i≠y} w_y·max(0, margin − x_y + x_i)^p / C per sample (p is 1 or 2)."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target.reshape(-1, 1).long()
    C = x.shape[1]
    xy = x.gather(1, t)
    z = (margin - xy + x).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[t.reshape(-1)].reshape(-1, 1)
    from .creation import arange
    other = (arange(C, device=x.device).reshape(1, C) != t).to(x.dtype)
    loss = (z * other).sum(1) / C
    if input.ndim != 2:
        loss = loss.reshape(target.shape)
    return reduce_loss(loss, reduction)


@export(function=False, method=False, nn=True)
def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """−(y·logsigmoid(x) + (1 − y)·logsigmoid(−x)), weighted, averaged over the class (last) dim."""
    if size_average is not None or reduce is not None:
        reduction = resolve_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    d = input.ndim - 1
    loss = loss.sum(d) / input.shape[d]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return reduce_loss(loss, reduction)
