"""softmax, log_softmax and softmin along one dimension, forward and backward for both
backends, and ``F.normalize``.

Kernels of ``kernels/softmax.cu`` (one block per row). The fused backward kernels are ops with
their own backward, so double backward is exact. ``ag.softmax``/``Tensor.softmax`` require
``dim``; the ``nn.functional`` forms keep PyTorch's deprecated implicit choice (with its warning).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel, wrap_dim
from .reduce import Sum, _as_1d
from .registry import export
from .unary import exp


# softmax / log_softmax ---------------------------------------------------------------
# An empty input (a size-0 dim included, where amax has no identity) gives an empty output, as
# PyTorch; inf - inf in the shift is NaN there too, silently.
def _np_softmax(x, axis):
    if x.size == 0:
        return np.empty_like(x)
    with np.errstate(invalid="ignore"):
        e = np.subtract(x, np.amax(x, axis=axis, keepdims=True))   # the one full-size array: the result
        np.exp(e, out=e)
        e /= e.sum(axis, keepdims=True)
        return e


def _np_log_softmax(x, axis):
    if x.size == 0:
        return np.empty_like(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.subtract(x, np.amax(x, axis=axis, keepdims=True))
        lse = np.log(np.exp(s).sum(axis, keepdims=True))
        s -= lse
        return s


def _np_softmax_bwd(g, y, axis):
    """y (g - sum g y), with the product as the result's buffer (one full-size array)."""
    t = np.multiply(g, y)
    s = t.sum(axis, keepdims=True)
    np.subtract(g, s, out=t)
    t *= y
    return t


def _np_log_softmax_bwd(g, y, axis):
    """g - exp(y) sum g, in the buffer of exp(y)."""
    t = np.exp(y)
    t *= g.sum(axis, keepdims=True)
    np.subtract(g, t, out=t)
    return t


register("softmax_fwd", "numpy", _np_softmax)
register("softmax_fwd", "cupy", cuda.softmax("softmax_fwd"))            # one block per row
register("log_softmax_fwd", "numpy", _np_log_softmax)
register("log_softmax_fwd", "cupy", cuda.softmax("log_softmax_fwd"))
register("softmax_bwd", "numpy", _np_softmax_bwd)
register("softmax_bwd", "cupy", cuda.softmax("softmax_bwd"))            # y (g - sum g y)
register("log_softmax_bwd", "numpy", _np_log_softmax_bwd)
register("log_softmax_bwd", "cupy", cuda.softmax("log_softmax_bwd"))    # g - exp(y) sum g


def _row_op(op: str, ref: Tensor, dim: int, *arrays) -> Tensor:
    zero_d = arrays[0].ndim == 0
    out = kernel(op, ref)(*(_as_1d(a) for a in arrays), dim)
    return Tensor._make(out.reshape(()) if zero_d else out, ref._device)


class _RowNormalized(Function):
    """softmax / log_softmax along ``dim``: backward reads only the output, through ``backward_fn``
    (a fused kernel that is itself differentiable)."""
    op = ""
    backward_fn: type

    @classmethod
    def forward(cls, ctx, x: Tensor, dim: int) -> Tensor:
        ctx.dim = dim
        y = _row_op(cls.op, x, dim, x._data)
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx, g: Tensor):
        (y,) = ctx.saved_tensors
        return cls.backward_fn.apply(g, y, ctx.dim), None


class _RowBackward(Function):
    """The fused backward kernel ``op`` of a row-normalised op over ``dim``: saves g and y."""
    op = ""

    @classmethod
    def forward(cls, ctx, g: Tensor, y: Tensor, dim: int) -> Tensor:
        ctx.dim = dim
        ctx.save_for_backward(g, y)
        return _row_op(cls.op, g, dim, g._data, y._data)


class SoftmaxBackward(_RowBackward):
    """gx = y (g - sum g y): fused kernel, differentiable in both g and y."""
    node_name = "SoftmaxBackwardDataBackward0"
    op = "softmax_bwd"

    @staticmethod
    def backward(ctx, ggx: Tensor):
        g, y = ctx.saved_tensors
        dim, need = ctx.dim, ctx.needs_input_grad
        gg = SoftmaxBackward.apply(ggx, y, dim) if need[0] else None
        gy = None
        if need[1]:
            s = Sum.apply(g * y, (dim,), True, None) if g._data.ndim else g * y
            t = Sum.apply(ggx * y, (dim,), True, None) if g._data.ndim else ggx * y
            gy = ggx * (g - s) - g * t
        return gg, gy, None


class LogSoftmaxBackward(_RowBackward):
    """gx = g - exp(y) sum g: fused kernel, differentiable in both g and y."""
    node_name = "LogSoftmaxBackwardDataBackward0"
    op = "log_softmax_bwd"

    @staticmethod
    def backward(ctx, ggx: Tensor):
        g, y = ctx.saved_tensors
        dim, need = ctx.dim, ctx.needs_input_grad
        red = (dim,) if g._data.ndim else ()
        e = exp(y)
        gg = ggx - Sum.apply(ggx * e, red, True, None) if need[0] else None
        gy = -(ggx * e * Sum.apply(g, red, True, None)) if need[1] else None
        return gg, gy, None


class Softmax(_RowNormalized):
    node_name = "SoftmaxBackward0"
    op, backward_fn = "softmax_fwd", SoftmaxBackward


class LogSoftmax(_RowNormalized):
    node_name = "LogSoftmaxBackward0"
    op, backward_fn = "log_softmax_fwd", LogSoftmaxBackward


def _softmax_input(input: Tensor, dim, dtype, op: str) -> tuple:
    if dim is None:
        raise TypeError(f'{op}() missing 1 required positional arguments: "dim"')
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"softmax_lastdim_kernel_impl\" not implemented for '{input.dtype._torch_name}'")
    return input, wrap_dim(dim, input._data.ndim)


@export
def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    x, d = _softmax_input(input, dim, dtype, "softmax")
    return Softmax.apply(x, d)


@export
def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    x, d = _softmax_input(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(x, d)


# nn.functional forms: dim=None is PyTorch's deprecated implicit choice -------------------------
def _implicit_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  f"as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


@export(name="softmax", function=False, method=False, nn=True)
def _nn_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _implicit_dim("softmax", input._data.ndim, _stacklevel)
    return softmax(input, dim, dtype)


@export(name="log_softmax", function=False, method=False, nn=True)
def _nn_log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _implicit_dim("log_softmax", input._data.ndim, _stacklevel)
    return log_softmax(input, dim, dtype)


@export(function=False, method=False, nn=True)
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-input): PyTorch negates before the cast to ``dtype`` (so bool raises, ints may cast)."""
    if dim is None:
        dim = _implicit_dim("softmin", input._data.ndim, _stacklevel)
    return softmax(-input, dim, dtype)


# normalize -------------------------------------------------------------------------------------
@export(function=False, method=False, nn=True)
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """input / max(‖input‖_p along dim, eps): PyTorch's composite, so its gradient (a zero row
    included: the norm's gradient there is 0) is the same."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)
