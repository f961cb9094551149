"""expand and its adjoint, sum-to-shape: each is the other's backward."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..device import get_backend
from ..tensor import Tensor
from ._common import kernel, reduced_axes
from .registry import export

register("sum_to_shape", "numpy",
         lambda x, shape: x.sum(axis=reduced_axes(x.shape, shape), keepdims=True).reshape(shape))
_cuda_sum = cuda.reduce("sum_fwd")
register("sum_to_shape", "cupy",
         lambda x, shape: _cuda_sum(x, reduced_axes(x.shape, shape), True).reshape(shape))
register("expand", "numpy", lambda x, shape: np.broadcast_to(x, shape))
register("expand", "cupy", lambda x, shape: get_backend("cuda").xp.broadcast_to(x, shape))  # a view: no kernel


class SumToShape(Function):
    node_name = "SumToSizeBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple) -> Tensor:
        ctx.in_shape = x._data.shape
        return Tensor._make(kernel("sum_to_shape", x)(x._data, shape), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Expand.apply(g, ctx.in_shape), None


class Expand(Function):
    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple) -> Tensor:
        ctx.in_shape = x._data.shape
        return x._view_of(kernel("expand", x)(x._data, shape))

    @staticmethod
    def backward(ctx, g: Tensor):
        return sum_to_shape(g, ctx.in_shape), None


@export(function=False)
def expand(x: Tensor, *sizes) -> Tensor:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    shape = x._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({x.type()}{{{list(shape)}}}, size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
                           f"tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = list(sizes)
    for i, s in enumerate(sizes):
        cur = shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, "
                           f"non-existing dimension {i}")
            out[i] = cur
        elif cur is not None and cur != 1 and cur != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(shape)}")
    out = tuple(out)
    if out == shape:
        return x._alias() if not x.requires_grad else Expand.apply(x, out)
    return Expand.apply(x, out)


@export(function=False)
def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, other._data.shape)


@export
def broadcast_to(x: Tensor, shape) -> Tensor:
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"broadcast_to(): argument 'size' (position 2) must be tuple of ints, not "
                        f"{type(shape).__name__}")
    return expand(x, tuple(shape))


def sum_to_shape(t: Tensor, shape: tuple) -> Tensor:
    """Sum a broadcast gradient back to ``shape``: the one place every op's backward relies on."""
    if t._data.shape == tuple(shape):
        return t
    return SumToShape.apply(t, tuple(shape))
