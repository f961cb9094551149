"""take / put: indexing the flattened tensor (``input.flatten()[index]``), both ways.

Repeated indices in ``put``: one value is kept (the last on CPU, unspecified which on CUDA), as
PyTorch; ``accumulate=True`` sums them. Bounds are checked on the host on CPU and on the device
on CUDA (``backends/cuda_index``: one flag read after the launch).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..dispatch import register
from ..tensor import Tensor
from ._common import check_same_device, kernel
from .gather_scatter import _cast_like, _check_np, _tn
from .index import _put_cuda, _take_cuda, _zeros
from .registry import export
from .shape import reshape


def _take_np(x, flat, *, check=None):
    _check_np(flat, x.size, check, wrap=True)
    return np.take(x, flat)


def _put_np(x, flat, src, accumulate, *, check=None):
    _check_np(flat, x.size, check, wrap=True)
    out = np.array(x, copy=True, order="C")
    view = out.reshape(-1)
    if accumulate:
        np.add.at(view, flat, src)
    else:
        view[flat] = src
    return out


register("take_fwd", "numpy", _take_np)
register("take_fwd", "cupy", _take_cuda)
register("put_fwd", "numpy", _put_np)
register("put_fwd", "cupy", _put_cuda)


class Take(Function):
    node_name = "TakeBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor, check=None) -> Tensor:
        ctx.in_shape, ctx.index = x._data.shape, index
        return Tensor._make(kernel("take_fwd", x)(x._data, index._data, check=check), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Put.apply(_zeros(ctx.in_shape, g), ctx.index, g, True), None, None


class Put(Function):
    node_name = "PutBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor, src: Tensor, accumulate: bool, check=None) -> Tensor:
        ctx.index, ctx.accumulate, ctx.src_shape = index, accumulate, src._data.shape
        s = _cast_like(src, x).reshape(index._data.shape)
        return Tensor._make(kernel("put_fwd", x)(x._data, index._data, s, accumulate, check=check), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = gs = None
        if need[0]:
            gx = g if ctx.accumulate else Put.apply(g, ctx.index, _zeros(ctx.src_shape, g), False)
        if need[2]:
            gs = reshape(Take.apply(g, ctx.index), ctx.src_shape)
        return gx, None, gs, None, None


def _take_check(input: Tensor, index: Tensor):
    if index._data.dtype != np.int64:
        raise RuntimeError("take(): Expected a long tensor for index, but got " + _tn(index))
    check_same_device(input, index)
    n = input._data.size
    return lambda i: IndexError(f"out of range: tried to access index {i} on a tensor of {n} elements.")


@export
def take(input: Tensor, index: Tensor) -> Tensor:
    """``input.flatten()[index]``; negative indices count from the end."""
    return Take.apply(input, index, _take_check(input, index))


@export
def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """``input`` with ``flatten()[index] = source`` (repeated indices: one value kept, unspecified which
    on CUDA) or ``+= source`` with ``accumulate`` (repeats sum)."""
    if source._data.size != index._data.size:
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source._data.size}, index.numel() = {index._data.size}")
    return Put.apply(input, index, source, accumulate, _take_check(input, index))
