"""Joining and splitting along one dimension: cat/stack (copies) and split/chunk/unbind (views).

split, chunk and unbind return views of the input from one node each (PyTorch's SplitBackward0,
UnbindBackward0), whose backward joins the pieces' gradients with cat/stack in one copy; cat's
backward narrows the gradient. On CUDA, cat copies each input into its slice of the output through
the ``copy_into`` kernel.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..dispatch import register
from ..device import get_backend
from ..tensor import Tensor
from ._common import check_same_device, kernel, wrap_dim
from .index import _copy_into_cuda
from .registry import export
from .shape import narrow, unsqueeze


# split / chunk / unbind ---------------------------------------------------------------
@export
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    shape = tensor._data.shape
    if not shape:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        # PyTorch: at least one piece (a size-0 dim gives one empty piece)
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size and n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sizes}")
    return (Split if isinstance(split_size_or_sections, (int, np.integer)) else SplitWithSizes).apply(tensor, d, sizes)


class SplitWithSizes(Function):
    """Views of consecutive pieces of ``x`` along ``d``. One node for all pieces: backward is one
    ``cat`` of their gradients (zeros for a piece without one), where a node per piece would
    make a full-size zero gradient per piece and sum them."""
    node_name = "SplitWithSizesBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, d: int, sizes: list) -> tuple:
        ctx.d = d
        lead, out, start = (slice(None),) * d, [], 0
        for s in sizes:
            out.append(x._view_of(x._data[lead + (slice(start, start + s), Ellipsis)]))
            start += s
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads):
        return cat(grads, ctx.d), None, None


class Split(SplitWithSizes):
    node_name = "SplitBackward0"


class Unbind(Function):
    """Views of every index of ``x`` along ``d``; backward stacks their gradients (as ``Split``)."""
    node_name = "UnbindBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, d: int) -> tuple:
        ctx.d = d
        lead = (slice(None),) * d
        return tuple(x._view_of(x._data[lead + (i, Ellipsis)]) for i in range(x._data.shape[d]))

    @staticmethod
    def backward(ctx, *grads):
        return stack(grads, ctx.d), None


@export
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    if not input._data.ndim:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input.size(dim)
    if n == 0:   # PyTorch keeps the number of chunks: ``chunks`` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)


@export
def unbind(input: Tensor, dim: int = 0) -> tuple:
    if not input._data.ndim:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return Unbind.apply(input, wrap_dim(dim, input._data.ndim))


# cat / stack ---------------------------------------------------------------------------
def _cat_cuda(arrays: list, axis: int):
    cp = get_backend("cuda").xp  # only reached on the cupy backend
    shape = list(arrays[0].shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    with arrays[0].device:
        out = cp.empty(tuple(shape), dtype=arrays[0].dtype)
    start = 0
    pre = (slice(None),) * axis
    for a in arrays:
        n = a.shape[axis]
        if n:
            _copy_into_cuda(out[pre + (slice(start, start + n),)], a)
        start += n
    return out


register("cat_fwd", "numpy", lambda arrays, axis: np.concatenate(arrays, axis=axis))
register("cat_fwd", "cupy", _cat_cuda)


class Cat(Function):
    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, dim: int, *xs: Tensor) -> Tensor:
        dtype = _dt.result_type(*xs)
        ctx.dim, ctx.sizes = dim, [x._data.shape[dim] for x in xs]
        arrays = [x._data if x._data.dtype == dtype else kernel("cast", x)(x._data, dtype) for x in xs]
        return Tensor._make(kernel("cat_fwd", xs[0])(arrays, dim), xs[0]._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        out, start = [None], 0
        for i, s in enumerate(ctx.sizes):
            out.append(narrow(g, ctx.dim, start, s) if need[i + 1] else None)
            start += s
        return tuple(out)


@export(method=False, aliases=("concat", "concatenate"))
def cat(tensors, dim: int = 0) -> Tensor:
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    check_same_device(*tensors)
    # PyTorch's legacy rule: 1-D empty tensors are skipped
    kept = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = kept[0]._data
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, ref.ndim)
    for i, t in enumerate(kept):
        a = t._data
        if a.ndim != ref.ndim:
            if a.ndim == 0:
                raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {a.ndim}")
        for k in range(ref.ndim):
            if k != d and a.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[k]} but got size {a.shape[k]} for tensor number {i} in the list.")
    return Cat.apply(d, *kept)


concat = concatenate = cat


@export(method=False)
def stack(tensors, dim: int = 0) -> Tensor:
    if isinstance(tensors, Tensor):
        raise TypeError("stack(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(s0)} at entry 0 and "
                               f"{list(t._data.shape)} at entry {i}")
    d = wrap_dim(dim, len(s0) + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)
