"""Copies that rearrange or mask a tensor's elements: repeat, flip, roll and tril/triu.

Each is one copy through the ``copy``/``copy_into``/``triangle`` kernels (so the CUDA side
stays ours); each backward is a differentiable op on the gradient (flip, the opposite roll, the
same tril/triu, and for repeat a sum over the tiles).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel, wrap_dim, wrap_dims
from .broadcast import sum_to_shape
from .index import _copy_into_cuda
from .registry import export
from .shape import _sizes, flatten, reshape


# repeat ---------------------------------------------------------------------------------
class Repeat(Function):
    """Tile by expanding a (1, s0, 1, s1, ...) view to (r0, s0, r1, s1, ...) and copying once."""
    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, reps: tuple) -> Tensor:
        shape = (1,) * (len(reps) - x._data.ndim) + x._data.shape
        ctx.in_shape = x._data.shape
        ctx.inter = tuple(v for r, s in zip(reps, shape) for v in (r, s))
        ctx.reduced = tuple(v for s in shape for v in (1, s))
        a = x._data.reshape(ctx.reduced)
        big = kernel("copy", x)(kernel("expand", x)(a, ctx.inter))
        return Tensor._make(big.reshape(tuple(r * s for r, s in zip(reps, shape))), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return reshape(sum_to_shape(reshape(g, ctx.inter), ctx.reduced), ctx.in_shape), None


@export(function=False)
def repeat(input: Tensor, *sizes) -> Tensor:
    reps = _sizes(sizes)
    if len(reps) < input._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           "of tensor")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(reps)}: {list(reps)}")
    return Repeat.apply(input, reps)


# flip / roll ----------------------------------------------------------------------------
class Flip(Function):
    node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple) -> Tensor:
        ctx.dims = dims
        sl = tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(x._data.ndim))
        return Tensor._make(kernel("copy", x)(x._data[sl]), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Flip.apply(g, ctx.dims), None


@export
def flip(input: Tensor, dims) -> Tensor:
    return Flip.apply(input, wrap_dims(dims, input._data.ndim))


def _roll_cuda(x, shifts: tuple, dims: tuple):
    out = x
    for s, d in zip(shifts, dims):
        n = out.shape[d]
        s %= n if n else 1
        if not s:
            continue
        src, out = out, _copy_cuda(out)  # an array of the right shape and dtype, then overwritten
        pre = (slice(None),) * d
        _copy_into_cuda(out[pre + (slice(s, None),)], src[pre + (slice(0, n - s),)])
        _copy_into_cuda(out[pre + (slice(0, s),)], src[pre + (slice(n - s, None),)])
    return out if out is not x else _copy_cuda(x)


_copy_cuda = cuda.copy("copy")
register("roll_fwd", "numpy", lambda x, shifts, dims: np.roll(x, shifts, axis=dims))
register("roll_fwd", "cupy", _roll_cuda)


class Roll(Function):
    node_name = "RollBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, shifts: tuple, dims: tuple) -> Tensor:
        ctx.shifts, ctx.dims = shifts, dims
        return Tensor._make(kernel("roll_fwd", x)(x._data, shifts, dims), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Roll.apply(g, tuple(-s for s in ctx.shifts), ctx.dims), None, None


@export
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = () if dims is None else (dims,) if isinstance(dims, int) else tuple(dims)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if not dims:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return reshape(Roll.apply(flatten(input), shifts, (0,)), input._data.shape)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    if not input._data.ndim:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    return Roll.apply(input, shifts, tuple(wrap_dim(d, input._data.ndim) for d in dims))


# tril / triu ----------------------------------------------------------------------------
register("triangle", "numpy", lambda x, k, upper: np.triu(x, k) if upper else np.tril(x, k))
register("triangle", "cupy", cuda.copy("triangle"))


class Tril(Function):
    node_name = "TrilBackward0"
    upper = False

    @classmethod
    def forward(cls, ctx, x: Tensor, k: int) -> Tensor:
        ctx.k = k
        return Tensor._make(kernel("triangle", x)(x._data, k, cls.upper), x._device)

    @classmethod
    def backward(cls, ctx, g: Tensor):
        return cls.apply(g, ctx.k), None


class Triu(Tril):
    node_name = "TriuBackward0"
    upper = True


@export
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, int(diagonal))


@export
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, int(diagonal))
