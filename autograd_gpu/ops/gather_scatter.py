"""The gather/scatter family: index_select/index_add/index_copy/index_fill, gather/scatter/
scatter_add, take_along_dim and take/put, forward and backward for both backends, and their
in-place forms (scatter_reduce and scatter(reduce=) are in ``scatter_reduce``).

Each read op and its scatter-add adjoint are each other's backward (index_select/index_add,
gather/scatter_add, take/put), so double backward is exact. Kernels of ``kernels/index.cu``;
take/put share their launchers with advanced indexing (``index``).

Bounds: the public functions pass ``check`` (bad index -> the exception PyTorch raises) to the
kernels. On CPU the kernel compares min/max first (vectorised); on CUDA the kernel flags a bad
index on the device and the launcher reads the flag once after the launch (``cuda_index``).
Backward passes reuse indices already checked and pass no ``check``.

Duplicate indices: scatter, index_copy and put keep one of the written values (CPU: the last;
CUDA: unspecified, as PyTorch); scatter_add, index_add and put(accumulate=True) sum them all.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.recording import apply_inplace
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel, wrap_dim
from .arithmetic import remainder
from .broadcast import expand
from .creation import tensor
from .index import _zeros
from .inplace import _check_writable, _needs_grad, _unalias
from .padding import ConstantPad
from .registry import export
from .shape import reshape

_INT_INDEX = (np.dtype(np.int32), np.dtype(np.int64))


def _check_np(index, n: int, check, wrap: bool = False) -> None:
    """CPU bounds check: two reductions; the first bad index (C order) goes to ``check``."""
    if check is None or index.size == 0:
        return
    lo = -n if wrap else 0
    if int(index.min()) < lo or int(index.max()) >= n:
        flat = index.reshape(-1)
        raise check(int(flat[(flat < lo) | (flat >= n)][0]))


def _out_of_bounds(dim: int, n: int, kind=RuntimeError, prefix: str = ""):
    return lambda i: kind(f"{prefix}index {i} is out of bounds for dimension {dim} with size {n}")


def _tn(t: Tensor) -> str:
    return t.dtype._torch_name


def _cast_like(src: Tensor, x: Tensor):
    s = src._data
    return s if s.dtype == x._data.dtype else kernel("cast", src)(s, x._data.dtype)


def _inplace(cls, self: Tensor, *others) -> Tensor:
    """``cls``'s op written into ``self`` (``inplace.apply_inplace``: cls's node and backward); the
    caller has run the out-of-place op's checks."""
    _check_writable(self)
    if _needs_grad(self, *others):
        others = tuple(_unalias(self, o) for o in others)
    return apply_inplace(cls, self, others, {})


# index_select / index_add / index_copy / index_fill ----------------------------------------------------
def _index_select_np(x, axis, index, *, check=None):
    _check_np(index, x.shape[axis], check)
    return np.take(x, index, axis=axis)


def _index_put_np(x, axis, index, src, *, check=None, wrap=False, add=False):
    _check_np(index, x.shape[axis], check, wrap)
    out = np.array(x, copy=True)
    region = (slice(None),) * axis + (index,)
    if add:
        np.add.at(out, region, src)
    else:
        out[region] = src          # one advanced index: its dimension stays at ``axis``
    return out


def _index_add_np(x, axis, index, src, *, check=None):
    return _index_put_np(x, axis, index, src, check=check, add=True)


register("index_select_fwd", "numpy", _index_select_np)
register("index_select_fwd", "cupy", cuda.index("index_select_fwd"))
register("index_add_fwd", "numpy", _index_add_np)
register("index_add_fwd", "cupy", cuda.index("index_add_fwd"))
register("index_copy_fwd", "numpy", _index_put_np)
register("index_copy_fwd", "cupy", cuda.index("index_copy_fwd"))


class _Select(Function):
    """Read along ``dim`` at ``index`` with kernel ``op``; the backward scatters into zeros."""
    op = ""

    @classmethod
    def forward(cls, ctx, x: Tensor, dim: int, index: Tensor, check=None) -> Tensor:
        ctx.in_shape, ctx.dim, ctx.index = x._data.shape, dim, index
        return Tensor._make(kernel(cls.op, x)(x._data, dim, index._data, check=check), x._device)


class IndexSelect(_Select):
    node_name = "IndexSelectBackward0"
    op = "index_select_fwd"

    @staticmethod
    def backward(ctx, g: Tensor):
        return IndexAdd.apply(_zeros(ctx.in_shape, g), ctx.dim, ctx.index, g, 1), None, None, None


class IndexAdd(Function):
    node_name = "IndexAddBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src: Tensor, alpha, check=None) -> Tensor:
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        s = src._data if alpha == 1 else (src._data * alpha).astype(src._data.dtype, copy=False)
        return Tensor._make(kernel("index_add_fwd", x)(x._data, dim, index._data, s, check=check), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gs = None
        if need[3]:
            gs = IndexSelect.apply(g, ctx.dim, ctx.index)
            if ctx.alpha != 1:
                gs = gs * ctx.alpha
        return (g if need[0] else None), None, None, gs, None, None


class IndexCopy(Function):
    node_name = "IndexCopyBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src: Tensor, check=None) -> Tensor:
        ctx.dim, ctx.index = dim, index
        return Tensor._make(kernel("index_copy_fwd", x)(x._data, dim, index._data, src._data, check=check),
                            x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = IndexFill.apply(g, ctx.dim, ctx.index, 0) if need[0] else None
        gs = IndexSelect.apply(g, ctx.dim, ctx.index) if need[3] else None
        return gx, None, None, gs, None


class IndexFill(Function):
    """Fill the slices ``index`` names (negative indices count from the end) with a number."""
    node_name = "IndexFillBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, value, check=None) -> Tensor:
        ctx.dim, ctx.index = dim, index
        v = value.item() if isinstance(value, Tensor) else value
        return Tensor._make(kernel("index_copy_fwd", x)(x._data, dim, index._data, v, check=check, wrap=True),
                            x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = IndexFill.apply(g, ctx.dim, ctx.index, 0)
        gv = (g - gx).sum() if need[3] else None      # the filled elements, each counted once
        return (gx if need[0] else None), None, None, gv, None


class IndexFillTensor(IndexFill):
    node_name = "IndexFillBackward1"


def _vector_index(index: Tensor, op: str) -> Tensor:
    if not isinstance(index, Tensor):
        index = tensor(index, dtype="int64")
    if index._data.dtype not in _INT_INDEX:
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index")
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
    if index._data.ndim == 0:
        index = Tensor._make(index._data.reshape(1), index._device)
    check = lambda i: IndexError("index out of range in self")   # noqa: E731 - PyTorch's CPU message
    if not shape:
        return reshape(IndexSelect.apply(reshape(input, (1,)), 0, index, check), ())
    return IndexSelect.apply(input, d, index, check)


def _slice_shape(t: Tensor, d: int) -> list:
    return list(t._data.shape[:d] + t._data.shape[d + 1:])


def _index_add_args(input: Tensor, dim: int, index: Tensor, source: Tensor) -> tuple:
    if not isinstance(index, Tensor) or index._data.dtype not in _INT_INDEX:
        got = _tn(index) if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: {got}")
    if index._data.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: {index._data.ndim} with "
                         f"type: {_tn(index)} and size: {list(index._data.shape)}")
    d = wrap_dim(dim, input._data.ndim)
    check_same_device(input, index, source)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_add_(): self ({_tn(input)}) and source ({_tn(source)}) must have the same "
                           "scalar type")
    sn = source._data.ndim
    if sn and d >= sn:
        raise RuntimeError(f"index_add_(): Indexing dim {d} is out of bounds of the source tensor with dim {sn}")
    if index._data.size != (source._data.shape[d] if sn else 1):
        raise RuntimeError(f"index_add_(): Number of indices ({index._data.size}) should be equal to "
                           f"source.size(dim): ({source._data.shape[d] if sn else 1}), for dim: {d}")
    if sn and _slice_shape(source, d) != _slice_shape(input, d) or (sn == 0) != (input._data.ndim == 0):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(input._data.shape)} source.shape = {list(source._data.shape)}")
    return d, Tensor._make(index._data.reshape(-1), index._device)


@export
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source[i]`` added to slice ``index[i]`` along ``dim`` (repeats sum)."""
    d, index = _index_add_args(input, dim, index, source)
    if input._data.dtype.kind in "iu":
        alpha = int(alpha)                   # PyTorch casts alpha to the integer dtype
    n = input._data.shape[d] if input._data.ndim else 1
    return IndexAdd.apply(input, d, index, source, alpha, _out_of_bounds(d, n))


@export(function=False)
def index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    d, index = _index_add_args(self, dim, index, source)
    n = self._data.shape[d] if self._data.ndim else 1
    return _inplace(IndexAdd, self, d, index, source, int(alpha) if self._data.dtype.kind in "iu" else alpha,
                    _out_of_bounds(d, n))


def _index_copy_args(input: Tensor, dim: int, index: Tensor, source: Tensor) -> tuple:
    if not isinstance(index, Tensor) or index._data.dtype != np.int64:
        got = _tn(index) if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"index_copy_(): Expected a long tensor for index, but got {got}")
    if index._data.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index._data.ndim})")
    d = wrap_dim(dim, input._data.ndim)
    check_same_device(input, index, source)
    xn, sn = input._data.ndim, source._data.ndim
    if xn and sn and xn != sn:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality must "
                         f"match. Source dimensionality ({sn}), destination dimensionality ({xn})")
    m = source._data.shape[d] if sn else 1
    if index._data.size != m:
        raise IndexError(f"index_copy_(): Number of indices ({index._data.size}) should be equal to "
                         f"source.size(dim) ({m})")
    if sn and _slice_shape(source, d) != _slice_shape(input, d):
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. Destination "
                           f"slice shape: {' '.join(map(str, _slice_shape(input, d)))} at dimension {d} and source "
                           f"slice shape: {' '.join(map(str, _slice_shape(source, d)))} at dimension 0.")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_tn(input)} and (source) {_tn(source)}")
    n = input._data.shape[d] if xn else 1
    index = Tensor._make(index._data.reshape(-1), index._device)
    if sn != xn:   # a 0-d source into a 1-d input (or the reverse): source as one slice
        source = reshape(source, input._data.shape[:d] + (1,) if xn else ())
    return d, index, source, _out_of_bounds(d, n, IndexError, "index_copy_(): ")


@export
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """``input`` with slice ``index[i]`` along ``dim`` replaced by ``source[i]`` (repeated indices:
    one of the values is kept, unspecified which on CUDA; the gradient reaches every ``source[i]``, as PyTorch)."""
    d, index, source, check = _index_copy_args(input, dim, index, source)
    return IndexCopy.apply(input, d, index, source, check)


@export(function=False)
def index_copy_(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    d, index, source, check = _index_copy_args(self, dim, index, source)
    return _inplace(IndexCopy, self, d, index, source, check)


def _index_fill_args(input: Tensor, dim: int, index: Tensor, value) -> tuple:
    if not isinstance(index, Tensor) or index._data.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if index._data.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    if isinstance(value, Tensor) and value._data.ndim != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value._data.ndim} dimension(s).")
    d = wrap_dim(dim, input._data.ndim)
    check_same_device(input, index, value)
    n = input._data.shape[d] if input._data.ndim else 1
    return d, Tensor._make(index._data.reshape(-1), index._device), _out_of_bounds(d, n, IndexError)


@export
def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """``input`` with the slices ``index`` names along ``dim`` set to ``value`` (a number or 0-d tensor)."""
    d, index, check = _index_fill_args(input, dim, index, value)
    return (IndexFillTensor if isinstance(value, Tensor) else IndexFill).apply(input, d, index, value, check)


@export(function=False)
def index_fill_(self: Tensor, dim: int, index: Tensor, value) -> Tensor:
    d, index, check = _index_fill_args(self, dim, index, value)
    return _inplace(IndexFillTensor if isinstance(value, Tensor) else IndexFill, self, d, index, value, check)


# gather / scatter / scatter_add ----------------------------------------------------------------
def _index_region(index_shape: tuple, axis: int, full: bool = False) -> tuple:
    """Slices that cut a tensor down to the index's extent in every dimension but ``axis``."""
    return tuple(slice(None) if d == axis and not full else slice(0, s) for d, s in enumerate(index_shape))


def _along_axis(index, axis: int) -> tuple:
    n = index.ndim
    return tuple(index if d == axis else np.arange(s).reshape((-1,) + (1,) * (n - d - 1))
                 for d, s in enumerate(index.shape))


def _gather_np(x, axis, index, *, check=None):
    _check_np(index, x.shape[axis], check)
    return np.take_along_axis(x[_index_region(index.shape, axis)], index, axis)


def _scatter_np(x, axis, index, src, *, check=None):
    _check_np(index, x.shape[axis], check)
    out = np.array(x, copy=True)
    src = src[_index_region(index.shape, axis, True)] if np.ndim(src) else src
    np.put_along_axis(out[_index_region(index.shape, axis)], index, src, axis)
    return out


def _scatter_add_np(x, axis, index, src, *, check=None):
    _check_np(index, x.shape[axis], check)
    out = np.array(x, copy=True)
    np.add.at(out, _along_axis(index, axis), src[_index_region(index.shape, axis, True)])
    return out


register("gather_fwd", "numpy", _gather_np)
register("gather_fwd", "cupy", cuda.index("gather_fwd"))
register("scatter_fwd", "numpy", _scatter_np)
register("scatter_fwd", "cupy", cuda.index("scatter_fwd"))
register("scatter_add_fwd", "numpy", _scatter_add_np)
register("scatter_add_fwd", "cupy", cuda.index("scatter_add_fwd"))


def check_gather_args(op: str, x: Tensor, dim: int, index: Tensor, src: Tensor | None = None) -> tuple:
    """PyTorch's checks of gather/scatter*/scatter_reduce: (wrapped dim, the bounds check)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    name = "gather" if op == "gather" else "scatter"
    if index._data.dtype not in _INT_INDEX:
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    check_same_device(x, index, *(() if src is None else (src,)))
    xs, ins = x._data.shape, index._data.shape
    d = wrap_dim(dim, len(xs))
    if src is not None and src._data.dtype != x._data.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if len(ins) != max(len(xs), 1) and not (len(ins) <= 1 and len(xs) <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as "
                           f"{'input' if op == 'gather' else 'self'} tensor")
    if src is not None and len(ins) != max(src._data.ndim, 1) and not (len(ins) <= 1 and src._data.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    if index._data.size:
        for k in range(len(ins)):
            if src is not None and (k != d and k < len(xs) and ins[k] > xs[k] or
                                    k < src._data.ndim and ins[k] > src._data.shape[k]):
                raise RuntimeError(f"Expected index {list(ins)} to be no larger than self {list(xs)} apart from "
                                   f"dimension {d} and to be no larger size than src {list(src._data.shape)}")
            if k != d and k < len(xs) and ins[k] > xs[k]:
                raise RuntimeError(f"Size does not match at dimension {k} expected index {list(ins)} to be no "
                                   f"larger than self {list(xs)} apart from dimension {d}")
    return d, _out_of_bounds(d, xs[d] if xs else 1)


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
        return ScatterAdd.apply(_zeros(ctx.in_shape, g), ctx.dim, ctx.index, g), None, None, None


class Scatter(Function):
    node_name = "ScatterBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src, check=None) -> Tensor:
        ctx.dim, ctx.index = dim, index
        ctx.src_shape = src._data.shape if isinstance(src, Tensor) else None
        s = _cast_like(src, x) if isinstance(src, Tensor) else src
        return Tensor._make(kernel("scatter_fwd", x)(x._data, dim, index._data, s, check=check), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = ScatterValue.apply(g, ctx.dim, ctx.index, 0) if need[0] else None
        gs = _grow(Gather.apply(g, ctx.dim, ctx.index), ctx.src_shape) if need[3] else None
        return gx, None, None, gs, None


class ScatterValue(Scatter):
    node_name = "ScatterBackward1"


class ScatterAdd(Function):
    node_name = "ScatterAddBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src: Tensor, check=None) -> Tensor:
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src._data.shape
        return Tensor._make(kernel("scatter_add_fwd", x)(x._data, dim, index._data, _cast_like(src, x), check=check),
                            x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gs = _grow(Gather.apply(g, ctx.dim, ctx.index), ctx.src_shape) if need[3] else None
        return (g if need[0] else None), None, None, gs, None


@export
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    d, check = check_gather_args("gather", input, dim, index)
    return Gather.apply(input, d, index, check)


@export
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with ``src`` added at ``index`` along ``dim``; repeated indices sum (atomics on CUDA)."""
    d, check = check_gather_args("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(input, d, index, src, check)


@export(function=False)
def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    d, check = check_gather_args("scatter_add", self, dim, index, src)
    return _inplace(ScatterAdd, self, d, index, src, check)


@export
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """PyTorch's take_along_dim: with ``dim``, ``input`` and ``indices`` broadcast against each other
    outside ``dim`` and every index is taken modulo the size of ``dim`` (PyTorch's ``indices % size``:
    negative indices count from the end, and no index is out of range); without, a gather on the
    flattened input, whose out-of-range indices raise."""
    if indices._data.dtype != np.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {_tn(indices)}")
    if input._data.ndim != indices._data.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input._data.ndim} dimensions for input, and {indices._data.ndim} dimensions "
                           "for indices")
    check_same_device(input, indices)
    if dim is None:
        flat = reshape(input, (-1,))
        return Gather.apply(flat, 0, reshape(indices, (-1,)), _out_of_bounds(0, flat._data.size))
    xs, ins = input._data.shape, indices._data.shape
    d = wrap_dim(dim, len(xs))
    ishape = broadcast_shapes(xs[:d] + (ins[d],) + xs[d + 1:], ins)
    xshape = broadcast_shapes(ins[:d] + (xs[d],) + ins[d + 1:], xs)
    idx = expand(indices, ishape) if ishape != ins else indices
    if idx._data.size and xshape[d] == 0:
        raise RuntimeError("ZeroDivisionError")
    if idx._data.size:
        idx = remainder(idx, xshape[d])
    return Gather.apply(expand(input, xshape) if xshape != xs else input, d, idx)
