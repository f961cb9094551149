"""Scans: cumsum, cumprod, cummax/cummin and logcumsumexp along one dimension, forward and
backward for both backends.

Kernels of ``kernels/scan.cu`` (cumsum, cumprod, reverse cumsum, cummax/cummin with indices,
logcumsumexp). cumsum's backward is the reverse cumulative sum, itself an op whose backward is
cumsum, so double backward is exact. cummax/cummin send each gradient to the index that won
(a scatter-add whose adjoint is a gather); logcumsumexp's backward is PyTorch's formula, made of
differentiable ops.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import any_where, kernel, values_indices, wrap_dim
from .compare import where
from .declare import quiet
from .reduce import Sum, _ExpandReduced, _alias, _as_1d, _cast_input, _view
from .registry import export
from .arithmetic import abs as _abs
from .creation import arange
from .gather_scatter import ScatterAdd
from .index import _zeros
from .rearrange import flip
from .unary import exp, log


# cumsum / cumprod --------------------------------------------------------------------
register("cumsum_fwd", "numpy", quiet(lambda x, axis: np.cumsum(x, axis=axis)))
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


def _scan_dim(input: Tensor, dim, axis, op: str) -> int:
    """The scanned dim (``axis=`` is PyTorch's NumPy alias), wrapped; 0-d tensors take 0 or -1."""
    if axis is not None:
        dim = _alias(dim, axis, False, None, op)[0]
    if dim is None:
        raise TypeError(f'{op}() missing 1 required positional arguments: "dim"')
    return wrap_dim(dim, input._data.ndim)


@export
def cumsum(input: Tensor, dim: int | None = None, *, dtype=None, axis: int | None = None) -> Tensor:
    return Cumsum.apply(input, _scan_dim(input, dim, axis, "cumsum"), dtype)


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
        if not any_where(x, lambda a: a == 0):   # d out_k / d x_i = out_k / x_i for k >= i
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
def cumprod(input: Tensor, dim: int | None = None, *, dtype=None, axis: int | None = None) -> Tensor:
    return Cumprod.apply(input, _scan_dim(input, dim, axis, "cumprod"), dtype)


def scatter_grad(g: Tensor, idx: Tensor, in_shape: tuple, dim: int) -> Tensor:
    """The gradient of values picked along ``dim`` at ``idx`` (cummax, sort, topk): ``g`` added back
    at those indices, zeros elsewhere. Its adjoint is a gather, so double backward is exact."""
    if len(in_shape) == 0:
        return g
    return ScatterAdd.apply(_zeros(in_shape, g), dim, idx, g)


# cummax / cummin ---------------------------------------------------------------------------
return_cummax = namedtuple("cummax", ["values", "indices"])
return_cummin = namedtuple("cummin", ["values", "indices"])


def _np_cum_extreme(ufunc):
    """Running extreme and the index of its LAST occurrence so far (PyTorch: ``x >= best`` replaces,
    so ties move the index on); a NaN wins and stays, each later NaN taking the index."""
    def impl(x, axis):
        vals = ufunc.accumulate(x, axis=axis)
        hit = x == vals
        if x.dtype.kind == "f":
            hit |= np.isnan(x)
        pos = np.arange(x.shape[axis], dtype=np.int64).reshape((-1,) + (1,) * (x.ndim - axis - 1))
        # every hit position holds the running extreme, so the latest hit so far is its last occurrence
        return vals, np.maximum.accumulate(np.where(hit, pos, 0), axis=axis)
    return impl


register("cummax_fwd", "numpy", _np_cum_extreme(np.maximum))
register("cummax_fwd", "cupy", cuda.scan("cummax_fwd"))      # one thread per row
register("cummin_fwd", "numpy", _np_cum_extreme(np.minimum))
register("cummin_fwd", "cupy", cuda.scan("cummin_fwd"))


class Cummax(Function):
    node_name = "CummaxBackward0"
    _op = "cummax_fwd"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int):
        ctx.in_shape, ctx.dim = x._data.shape, dim
        v, i = kernel(ctx._fn._op, x)(_as_1d(x._data), dim)
        return values_indices(ctx, x, v, i)

    @staticmethod
    def backward(ctx, g: Tensor, _gi=None):
        (idx,) = ctx.saved_tensors
        return scatter_grad(g, idx, ctx.in_shape, ctx.dim), None


class Cummin(Cummax):
    node_name = "CumminBackward0"
    _op = "cummin_fwd"


@export
def cummax(input: Tensor, dim: int | None = None, *, axis: int | None = None):
    """``(values, indices)``: the running maximum along ``dim`` and where it was last reached."""
    return return_cummax(*Cummax.apply(input, _scan_dim(input, dim, axis, "cummax")))


@export
def cummin(input: Tensor, dim: int | None = None, *, axis: int | None = None):
    """``(values, indices)``: the running minimum along ``dim`` and where it was last reached."""
    return return_cummin(*Cummin.apply(input, _scan_dim(input, dim, axis, "cummin")))


# logcumsumexp ------------------------------------------------------------------------------
def _np_logcumsumexp(x, axis):
    with np.errstate(invalid="ignore"):    # inf - inf inside logaddexp: PyTorch is silent too
        return np.logaddexp.accumulate(x, axis=axis)


register("logcumsumexp_fwd", "numpy", _np_logcumsumexp)       # pairwise log(e^a + e^b): never overflows
register("logcumsumexp_fwd", "cupy", cuda.scan("logcumsumexp_fwd"))


class LogCumsumExp(Function):
    node_name = "LogcumsumexpBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int) -> Tensor:
        ctx.dim = dim
        out = _scan("logcumsumexp_fwd", x, x._data, dim)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        """PyTorch's formula: sum_{k >= i} g_k exp(x_i - out_k), split by the sign of g so that each
        half is a reverse logcumsumexp of log|g| - out (stable where exp(-out) would overflow)."""
        x, out = ctx.saved_tensors
        if x._data.ndim == 0:
            return g, None
        dim = ctx.dim
        lowest = float(np.finfo(x._data.dtype).min)
        log_abs = log(_abs(g))
        pos = where(g > 0, log_abs, lowest)
        neg = where(g < 0, log_abs, lowest)

        def reverse(t: Tensor) -> Tensor:
            return flip(LogCumsumExp.apply(flip(t, dim), dim), dim)
        return exp(reverse(pos - out) + x) - exp(reverse(neg - out) + x), None


@export
def logcumsumexp(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    d = _scan_dim(input, dim, axis, "logcumsumexp")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for \'{input.dtype._torch_name}\'')
    return LogCumsumExp.apply(input, d)
