"""Extremes: amax/amin, max/min (of the whole tensor, or along ``dim`` with ``(values, indices)``)
and argmax/argmin, forward and backward for both backends.

Kernels of ``kernels/reduce.cu`` (amax, amin, max/min with indices). amax/amin (and max/min of the
whole tensor) split the gradient evenly among ties, as PyTorch does; max/min along ``dim`` send all
of it to the selected index. The shared reduction plumbing lives in ``reduce``.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel, values_indices, wrap_dim
from .compare import maximum, minimum
from .reduce import _alias, _arr, _as_1d, _cu_amax, _cu_amin, _dims, _float_mask, _keep_shape, _ties_grad, _view
from .registry import export
from .creation import arange

_cu_arg_max = cuda.arg_reduce("max_fwd")
_cu_arg_min = cuda.arg_reduce("min_fwd")


def _index_grad(g: Tensor, idx: Tensor, in_shape: tuple, dim: int) -> Tensor:
    """Gradient of max/min with ``dim``: all of it to the selected index (a one-hot along ``dim``)."""
    if len(in_shape) == 0:
        return g
    keep = _keep_shape(in_shape, (dim,))
    ar = arange(in_shape[dim], device=g._device)
    ar = Tensor._make(ar._data.reshape((in_shape[dim],) + (1,) * (len(in_shape) - dim - 1)), g._device)
    mask = _float_mask(ar == Tensor._make(idx._data.reshape(keep), idx._device), g)
    return _view(g, keep) * mask


# amax / amin -------------------------------------------------------------------------
register("amax_fwd", "numpy", lambda x, axes, keepdims: _arr(np.amax(x, axis=axes, keepdims=keepdims)))
register("amax_fwd", "cupy", _cu_amax)
register("amin_fwd", "numpy", lambda x, axes, keepdims: _arr(np.amin(x, axis=axes, keepdims=keepdims)))
register("amin_fwd", "cupy", _cu_amin)


def _check_nonempty(x: Tensor, dim, dims: tuple, op: str) -> None:
    """PyTorch's errors for an extreme over nothing: no dim given (RuntimeError), or a size-0 dim
    (IndexError naming that dim as the caller wrote it)."""
    if x._data.size == 0:
        if dim is None or dim == () or dim == []:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        given = (dim,) if isinstance(dim, int) else tuple(dim)
        for g, d in zip(given, dims):
            if x._data.shape[d] == 0:
                raise IndexError(f"{op}(): Expected reduction dim {g} to have non-zero size.")


class Amax(Function):
    node_name = "AmaxBackward0"
    _op = "amax_fwd"

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.dims = dims
        out = Tensor._make(kernel(ctx._fn._op, x)(x._data, dims, keepdim), x._device)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        x, out = ctx.saved_tensors
        return _ties_grad(g, x, out, ctx.dims), None, None


class Amin(Amax):
    node_name = "AminBackward0"
    _op = "amin_fwd"


class MaxAll(Amax):
    node_name = "MaxBackward1"


class MinAll(Amax):
    node_name = "MinBackward1"
    _op = "amin_fwd"


@export
def amax(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims: bool | None = None) -> Tensor:
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, "amax", ())
    dims = _dims(dim, input._data.ndim)
    if input._data.size == 0:
        _check_nonempty(input, dim, dims, "amax")
    return Amax.apply(input, dims, keepdim)


@export
def amin(input: Tensor, dim=(), keepdim: bool = False, *, axis=None, keepdims: bool | None = None) -> Tensor:
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, "amin", ())
    dims = _dims(dim, input._data.ndim)
    if input._data.size == 0:
        _check_nonempty(input, dim, dims, "amin")
    return Amin.apply(input, dims, keepdim)


# max / min with dim: (values, indices) ----------------------------------------------
return_max = namedtuple("max", ["values", "indices"])
return_min = namedtuple("min", ["values", "indices"])


def _np_arg(vals, args):
    return lambda x, axis, keepdims: (_arr(vals(x, axis=axis, keepdims=keepdims)),
                                      _arr(args(x, axis=axis, keepdims=keepdims)))


register("max_fwd", "numpy", _np_arg(np.max, np.argmax))     # argmax: first index; NaN wins
register("max_fwd", "cupy", _cu_arg_max)
register("min_fwd", "numpy", _np_arg(np.min, np.argmin))
register("min_fwd", "cupy", _cu_arg_min)


class MaxDim(Function):
    node_name = "MaxBackward0"
    _op = "max_fwd"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, keepdim: bool):
        ctx.in_shape, ctx.dim = x._data.shape, dim
        v, i = kernel(ctx._fn._op, x)(_as_1d(x._data), dim, keepdim)
        return values_indices(ctx, x, v, i)

    @staticmethod
    def backward(ctx, g: Tensor, _gi=None):
        (idx,) = ctx.saved_tensors
        return _index_grad(g, idx, ctx.in_shape, ctx.dim), None, None


class MinDim(MaxDim):
    node_name = "MinBackward0"
    _op = "min_fwd"


def _extreme(input: Tensor, dim, keepdim: bool, which: str, axis, keepdims):
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, which)
    if isinstance(dim, Tensor):
        return (maximum if which == "max" else minimum)(input, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{which}() received an invalid combination of arguments: keepdim needs dim")
        dims = tuple(range(input._data.ndim))
        if input._data.size == 0:
            raise RuntimeError(f"{which}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        return (MaxAll if which == "max" else MinAll).apply(input, dims, False)
    d = wrap_dim(dim, input._data.ndim)
    if input._data.ndim and input._data.shape[d] == 0:
        raise IndexError(f"{which}(): Expected reduction dim {d} to have non-zero size.")
    vals, idx = (MaxDim if which == "max" else MinDim).apply(input, d, keepdim)
    return (return_max if which == "max" else return_min)(vals, idx)


@export
def max(input: Tensor, dim=None, keepdim: bool = False, *, axis=None,  # noqa: A001
        keepdims: bool | None = None):
    """``max(x)`` -> 0-dim tensor; ``max(x, dim)`` -> ``(values, indices)``; ``max(x, other)`` -> maximum."""
    return _extreme(input, dim, keepdim, "max", axis, keepdims)


@export
def min(input: Tensor, dim=None, keepdim: bool = False, *, axis=None,  # noqa: A001
        keepdims: bool | None = None):
    """``min(x)`` -> 0-dim tensor; ``min(x, dim)`` -> ``(values, indices)``; ``min(x, other)`` -> minimum."""
    return _extreme(input, dim, keepdim, "min", axis, keepdims)


# argmax / argmin ---------------------------------------------------------------------
register("argmax_fwd", "numpy", lambda x, axis, keepdims: _arr(np.argmax(x, axis=axis, keepdims=keepdims)))
register("argmax_fwd", "cupy", lambda x, axis, keepdims: _cu_arg_max(x, axis, keepdims)[1])
register("argmin_fwd", "numpy", lambda x, axis, keepdims: _arr(np.argmin(x, axis=axis, keepdims=keepdims)))
register("argmin_fwd", "cupy", lambda x, axis, keepdims: _cu_arg_min(x, axis, keepdims)[1])


def _arg(input: Tensor, dim, keepdim: bool, op: str) -> Tensor:
    data = input._data
    if dim is None:
        if data.size == 0:
            raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
        out = kernel(f"{op}_fwd", input)(data, None, keepdim)
        return Tensor._make(out.reshape(()) if data.ndim == 0 else out, input._device)
    d = wrap_dim(dim, data.ndim)
    if data.ndim and data.shape[d] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
    out = kernel(f"{op}_fwd", input)(_as_1d(data), d, keepdim)
    return Tensor._make(out.reshape(()) if data.ndim == 0 else out, input._device)


@export
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False, *, axis=None,
           keepdims: bool | None = None) -> Tensor:
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, "argmax")
    return _arg(input, dim, keepdim, "argmax")


@export
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False, *, axis=None,
           keepdims: bool | None = None) -> Tensor:
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, "argmin")
    return _arg(input, dim, keepdim, "argmin")
