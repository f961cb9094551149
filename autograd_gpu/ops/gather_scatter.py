"""The gather/scatter family: index_select/index_add, gather/scatter/scatter_add and take/put,
forward and backward for both backends.

Each read op and its scatter-add adjoint are each other's backward (index_select/index_add,
gather/scatter_add, take/put), so double backward is exact. Kernels of ``kernels/index.cu``;
take/put share their launchers with advanced indexing (``index``).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import check_same_device, kernel, wrap_dim
from .index import _put_cuda, _take_cuda, _zeros
from .registry import export
from .creation import tensor
from .shape import reshape
from .padding import ConstantPad
from .creation import full


# index_select / index_add ----------------------------------------------------------------------
def _check_range(arr, n: int, dim: int, allow_negative: bool = False) -> None:
    if arr.size == 0:
        return
    lo, hi = int(arr.min()), int(arr.max())
    if hi >= n or lo < (-n if allow_negative else 0):
        raise IndexError(f"index {hi if hi >= n else lo} is out of bounds for dimension {dim} with size {n}")


def _index_add_np(x, axis, index, src):
    out = np.array(x, copy=True)
    np.add.at(out, (slice(None),) * axis + (index,), src)
    return out


register("index_select_fwd", "numpy", lambda x, axis, index: np.take(x, index, axis=axis))
register("index_select_fwd", "cupy", cuda.index("index_select_fwd"))
register("index_add_fwd", "numpy", _index_add_np)
register("index_add_fwd", "cupy", cuda.index("index_add_fwd"))


class _Select(Function):
    """Read along ``dim`` at ``index`` with kernel ``op``; the backward scatters into zeros."""
    op = ""

    @classmethod
    def forward(cls, ctx, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.in_shape, ctx.dim, ctx.index = x._data.shape, dim, index
        return Tensor._make(kernel(cls.op, x)(x._data, dim, index._data), x._device)


class IndexSelect(_Select):
    node_name = "IndexSelectBackward0"
    op = "index_select_fwd"

    @staticmethod
    def backward(ctx, g: Tensor):
        return IndexAdd.apply(_zeros(ctx.in_shape, g), ctx.dim, ctx.index, g, 1), None, None


class IndexAdd(Function):
    node_name = "IndexAddBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src: Tensor, alpha) -> Tensor:
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        s = src._data if alpha == 1 else src._data * alpha
        if s.dtype != x._data.dtype:
            s = kernel("cast", src)(s, x._data.dtype)
        return Tensor._make(kernel("index_add_fwd", x)(x._data, dim, index._data, s), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gs = None
        if need[3]:
            gs = IndexSelect.apply(g, ctx.dim, ctx.index)
            if ctx.alpha != 1:
                gs = gs * ctx.alpha
        return (g if need[0] else None), None, None, gs, None


def _vector_index(index: Tensor, op: str) -> Tensor:
    if not isinstance(index, Tensor):
        index = tensor(index, dtype="int64")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    return index


@export
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    index = _vector_index(index, "index_select")
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    if index._device is not input._device:
        check_same_device(input, index)
    if index._data.size and shape:
        _check_range(index._data, shape[d], d)
    if index._data.ndim == 0:
        index = Tensor._make(index._data.reshape(1), index._device)
    if not shape:
        return reshape(IndexSelect.apply(reshape(input, (1,)), 0, index), ())
    return IndexSelect.apply(input, d, index)


@export
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    index = _vector_index(index, "index_add")
    d = wrap_dim(dim, input._data.ndim)
    check_same_device(input, index, source)
    _check_range(index._data, input._data.shape[d], d)
    exp = input._data.shape[:d] + (index._data.size,) + input._data.shape[d + 1:]
    if source._data.shape != exp:
        raise RuntimeError(f"index_add_(): Source/destination tensor must have same slice shapes. Destination "
                           f"slice shape: {list(input._data.shape[:d] + input._data.shape[d + 1:])} at dimension "
                           f"{d} and source slice shape: {list(source._data.shape[:d] + source._data.shape[d + 1:])} "
                           f"at dimension 0.")
    return IndexAdd.apply(input, d, index, source, alpha)


# gather / scatter / scatter_add ----------------------------------------------------------------
def _index_region(index_shape: tuple, axis: int, full: bool = False) -> tuple:
    """Slices that cut a tensor down to the index's extent in every dimension but ``axis``."""
    return tuple(slice(None) if d == axis and not full else slice(0, s) for d, s in enumerate(index_shape))


def _along_axis(index, axis: int) -> tuple:
    n = index.ndim
    return tuple(index if d == axis else np.arange(s).reshape((-1,) + (1,) * (n - d - 1))
                 for d, s in enumerate(index.shape))


def _scatter_np(x, axis, index, src):
    out = np.array(x, copy=True)
    np.put_along_axis(out[_index_region(index.shape, axis)], index, src[_index_region(index.shape, axis, True)],
                      axis)
    return out


def _scatter_add_np(x, axis, index, src):
    out = np.array(x, copy=True)
    np.add.at(out, _along_axis(index, axis), src[_index_region(index.shape, axis, True)])
    return out


register("gather_fwd", "numpy",
         lambda x, axis, index: np.take_along_axis(x[_index_region(index.shape, axis)], index, axis))
register("gather_fwd", "cupy", cuda.index("gather_fwd"))
register("scatter_fwd", "numpy", _scatter_np)
register("scatter_fwd", "cupy", cuda.index("scatter_fwd"))
register("scatter_add_fwd", "numpy", _scatter_add_np)
register("scatter_add_fwd", "cupy", cuda.index("scatter_add_fwd"))


def _check_gather_args(op: str, x: Tensor, dim: int, index: Tensor, src: Tensor | None = None) -> int:
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._data.dtype != np.int64:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index")
    check_same_device(x, index, *(() if src is None else (src,)))
    xs, ins = x._data.shape, index._data.shape
    d = wrap_dim(dim, len(xs))
    if len(ins) != max(len(xs), 1) and not (len(ins) <= 1 and len(xs) <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for k in range(len(ins)):
        if k != d and k < len(xs) and ins[k] > xs[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {list(ins)} to be no larger "
                               f"than self {list(xs)} apart from dimension {d}")
        if src is not None and k < src._data.ndim and ins[k] > src._data.shape[k]:
            raise RuntimeError(f"Expected index {list(ins)} to be no larger than self {list(xs)} apart from "
                               f"dimension {d} and to be no larger size than src {list(src._data.shape)}")
    _check_range(index._data, xs[d] if xs else 1, d)
    return d


def _grow(g: Tensor, shape: tuple) -> Tensor:
    """Zero-extend a gradient of the index's shape to a larger ``src`` (elements never read get 0)."""
    if g._data.shape == shape:
        return g
    return ConstantPad.apply(g, tuple((0, s - n) for s, n in zip(shape, g._data.shape)), 0)


class Gather(_Select):
    node_name = "GatherBackward0"
    op = "gather_fwd"

    @staticmethod
    def backward(ctx, g: Tensor):
        return ScatterAdd.apply(_zeros(ctx.in_shape, g), ctx.dim, ctx.index, g), None, None


class Scatter(Function):
    node_name = "ScatterBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src) -> Tensor:
        ctx.dim, ctx.index = dim, index
        ctx.src_shape = src._data.shape if isinstance(src, Tensor) else None
        if isinstance(src, Tensor):
            s = src._data if src._data.dtype == x._data.dtype else kernel("cast", src)(src._data, x._data.dtype)
        else:
            s = full(index._data.shape, src, dtype=x.dtype, device=x._device)._data
        return Tensor._make(kernel("scatter_fwd", x)(x._data, dim, index._data, s), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = Scatter.apply(g, ctx.dim, ctx.index, 0) if need[0] else None
        gs = _grow(Gather.apply(g, ctx.dim, ctx.index), ctx.src_shape) if need[3] else None
        return gx, None, None, gs


class ScatterAdd(Function):
    node_name = "ScatterAddBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src._data.shape
        s = src._data if src._data.dtype == x._data.dtype else kernel("cast", src)(src._data, x._data.dtype)
        return Tensor._make(kernel("scatter_add_fwd", x)(x._data, dim, index._data, s), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gs = _grow(Gather.apply(g, ctx.dim, ctx.index), ctx.src_shape) if need[3] else None
        return (g if need[0] else None), None, None, gs


@export
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    d = _check_gather_args("gather", input, dim, index)
    return Gather.apply(input, d, index)


@export
def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """Out-of-place scatter of a tensor ``src`` or a scalar ``value``."""
    if reduce is not None:
        raise NotImplementedError("scatter(reduce=...) is not supported; use scatter_add")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    d = _check_gather_args("scatter", input, dim, index, src if isinstance(src, Tensor) else None)
    return Scatter.apply(input, d, index, src)


@export
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    d = _check_gather_args("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(input, d, index, src)


# take / put --------------------------------------------------------------------------------------
def _put_np(x, flat, src, accumulate):
    out = np.array(x, copy=True, order="C")
    view = out.reshape(-1)
    if accumulate:
        np.add.at(view, flat, src)
    else:
        view[flat] = src
    return out


register("take_fwd", "numpy", lambda x, flat: np.take(x, flat))
register("take_fwd", "cupy", _take_cuda)
register("put_fwd", "numpy", _put_np)
register("put_fwd", "cupy", _put_cuda)


class Take(Function):
    node_name = "TakeBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor) -> Tensor:
        ctx.in_shape, ctx.index = x._data.shape, index
        return Tensor._make(kernel("take_fwd", x)(x._data, index._data), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Put.apply(_zeros(ctx.in_shape, g), ctx.index, g, True), None


class Put(Function):
    node_name = "PutBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor, src: Tensor, accumulate: bool) -> Tensor:
        ctx.index, ctx.accumulate, ctx.src_shape = index, accumulate, src._data.shape
        s = src._data if src._data.dtype == x._data.dtype else kernel("cast", src)(src._data, x._data.dtype)
        return Tensor._make(kernel("put_fwd", x)(x._data, index._data, s.reshape(index._data.shape), accumulate),
                            x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = gs = None
        if need[0]:
            gx = g if ctx.accumulate else Put.apply(g, ctx.index, _zeros(ctx.src_shape, g), False)
        if need[2]:
            gs = reshape(Take.apply(g, ctx.index), ctx.src_shape)
        return gx, None, gs, None


def _flat_arg(input: Tensor, index: Tensor) -> Tensor:
    """The index with negatives wrapped, after PyTorch's range check."""
    if index._data.dtype != np.int64:
        raise RuntimeError("take(): Expected a long tensor for index, but got " + index.dtype._torch_name)
    check_same_device(input, index)
    n = input._data.size
    arr = index._data
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if hi >= n or lo < -n:
            raise IndexError(f"out of range: tried to access index {hi if hi >= n else lo} on a tensor of {n} "
                             "elements.")
        if lo < 0:
            return Tensor._make(arr % n, index._device)
    return index


@export
def take(input: Tensor, index: Tensor) -> Tensor:
    return Take.apply(input, _flat_arg(input, index))


@export
def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    if source._data.size != index._data.size:
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source._data.size}, index.numel() = {index._data.size}")
    return Put.apply(input, _flat_arg(input, index), source, accumulate)
