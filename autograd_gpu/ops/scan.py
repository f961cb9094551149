"""Scans: cumsum and cumprod along one dimension, forward and backward for both backends.

Kernels of ``kernels/scan.cu`` (cumsum, cumprod, reverse cumsum). cumsum's backward is the
reverse cumulative sum, itself an op whose backward is cumsum, so double backward is exact.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel, wrap_dim
from .compare import where
from .reduce import Sum, _ExpandReduced, _as_1d, _cast_input, _view
from .registry import export
from .creation import arange


# cumsum / cumprod --------------------------------------------------------------------
register("cumsum_fwd", "numpy", lambda x, axis: np.cumsum(x, axis=axis))
register("cumsum_fwd", "cupy", cuda.scan("cumsum_fwd"))
register("cumsum_bwd", "numpy", lambda g, axis: np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis))
register("cumsum_bwd", "cupy", cuda.scan("cumsum_bwd"))      # reverse cumulative sum
register("cumprod_fwd", "numpy", lambda x, axis: np.cumprod(x, axis=axis))
register("cumprod_fwd", "cupy", cuda.scan("cumprod_fwd"))


def _scan(op: str, x: Tensor, data, dim: int) -> Tensor:
    out = kernel(op, x)(_as_1d(data), dim)
    return Tensor._make(out.reshape(()) if data.ndim == 0 else out, x._device)


class Cumsum(Function):
    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, dtype) -> Tensor:
        ctx.dim = dim
        return _scan("cumsum_fwd", x, _cast_input(x, dtype, True), dim)

    @staticmethod
    def backward(ctx, g: Tensor):
        return CumsumBackward.apply(g, ctx.dim), None, None


class CumsumBackward(Function):
    """Reverse cumulative sum; its adjoint is cumsum again."""
    node_name = "CumsumBackwardBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, dim: int) -> Tensor:
        ctx.dim = dim
        return _scan("cumsum_bwd", g, g._data, dim)

    @staticmethod
    def backward(ctx, gg: Tensor):
        return Cumsum.apply(gg, ctx.dim, None), None


@export
def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return Cumsum.apply(input, wrap_dim(dim, input._data.ndim), dtype)


class Cumprod(Function):
    node_name = "CumprodBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, dtype) -> Tensor:
        ctx.dim = dim
        out = _scan("cumprod_fwd", x, _cast_input(x, dtype, True), dim)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        x, out = ctx.saved_tensors
        dim = ctx.dim
        if x._data.ndim == 0:
            return g, None, None
        if not bool((x._data == 0).any()):   # d out_k / d x_i = out_k / x_i for k >= i
            return CumsumBackward.apply(g * out, dim) / x, None, None
        return _cumprod_grad_with_zeros(g, x, dim), None, None


def _cumprod_grad_with_zeros(g: Tensor, x: Tensor, dim: int) -> Tensor:
    """grad_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j, built on an extra axis (O(n^2), zeros only).

    Axis ``dim`` of the (n, n) block indexes i, axis ``dim + 1`` indexes j then k: x with x_i set to 1
    is cumprod-ed along ``dim + 1`` and masked to k >= i.
    """
    shape = x._data.shape
    n = shape[dim]
    tail = (1,) * (len(shape) - dim - 1)
    ar = arange(n, device=x._device)
    ii = Tensor._make(ar._data.reshape((n, 1) + tail), x._device)
    kk = Tensor._make(ar._data.reshape((1, n) + tail), x._device)
    big = shape[:dim] + (n, n) + shape[dim + 1:]
    xe = _ExpandReduced.apply(_view(x, shape[:dim] + (1, n) + shape[dim + 1:]), big, (dim,))
    c = Cumprod.apply(where(ii == kk, 1.0, xe), dim + 1, None)
    ge = _view(g, shape[:dim] + (1, n) + shape[dim + 1:])
    return Sum.apply(where(kk >= ii, ge * c, 0.0), (dim + 1,), False, None)


@export
def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return Cumprod.apply(input, wrap_dim(dim, input._data.ndim), dtype)
