"""Indexing: ``t[...]`` read and write, and the gather/scatter family.

Basic indices (ints, slices, None, ...) give views sharing storage and version
counter. Advanced indices (integer tensors/lists, boolean masks) follow NumPy's
rules, which are PyTorch's. On CUDA an advanced index becomes one flat (C-order)
index array, so ``take_fwd``/``put_fwd`` are the only kernels it needs.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import _state as _grad_state
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel, on_device, sum_to_shape, wrap_dim
from .creation import zeros_from_meta


class _StepError(IndexError, ValueError):
    """PyTorch raises ValueError for a non-positive slice step; it is an index error too."""


# copies into strided views ---------------------------------------------------------------
register("copy_into", "numpy", lambda dst, src: np.copyto(dst, src, casting="unsafe"))
_copy_into_cuda = cuda.copy("copy_into")
register("copy_into", "cupy", _copy_into_cuda)


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    """Zeros of ``shape`` with ``like``'s dtype and device (a gradient's canvas)."""
    return zeros_from_meta((shape, like._data.dtype, like._device))


def _on_device(arr, x: Tensor):
    """An index array (host or device) on ``x``'s device."""
    if x._device.type == "cpu":
        return arr if isinstance(arr, np.ndarray) else np.asarray(arr)
    if isinstance(arr, np.ndarray):
        return x._device.backend.from_numpy(np.ascontiguousarray(arr), x._device.index)
    return arr


def _index_tensor_array(it: Tensor, x: Tensor):
    if it._device is x._device:
        return it._data
    if it._device.type == "cpu" or x._device.type == "cpu":
        return _on_device(it._host(), x)
    raise RuntimeError(f"indices should be either on cpu or on the same device as the indexed tensor "
                       f"({x._device})")


# normalising an index --------------------------------------------------------------------
def _normalize(x: Tensor, index) -> tuple:
    """(index tuple for the backend array, is it advanced?) after PyTorch's checks.

    A trailing Ellipsis is always present so all-integer indices give 0-d views, not scalars.
    """
    if not isinstance(index, tuple):
        index = (index,)
    shape = x._data.shape
    ndim = len(shape)
    items, dims, adv, consumed, ell = [], [], False, 0, False
    for it in index:
        if it is None:
            items.append(None)
            dims.append(0)
        elif it is Ellipsis:
            if ell:
                raise IndexError("an index can only have a single ellipsis ('...')")
            ell = True
            items.append(Ellipsis)
            dims.append(0)
        elif isinstance(it, (bool, np.bool_)):
            items.append(bool(it))
            dims.append(0)
            adv = True
        elif isinstance(it, (int, np.integer)):
            items.append(int(it))
            dims.append(1)
        elif isinstance(it, slice):
            if it.step is not None and int(it.step) <= 0:
                raise _StepError("step must be greater than zero")
            items.append(it)
            dims.append(1)
        else:
            if isinstance(it, Tensor):
                kind = it._data.dtype.kind
                if kind in "iu" and it._data.ndim == 0:
                    items.append(int(it.item()))
                    dims.append(1)
                    consumed += 1
                    continue
                arr = _index_tensor_array(it, x)
            elif isinstance(it, (list, tuple, np.ndarray)):
                arr = np.asarray(it)
                if arr.dtype.kind not in "biu":
                    if arr.size == 0:
                        arr = arr.astype(np.int64)
                    else:
                        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
                arr = _on_device(arr, x)
            else:
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                                 f"are valid indices (got {type(it).__name__})")
            kind = arr.dtype.kind
            if kind not in "biu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            items.append(arr)
            dims.append(arr.ndim if kind == "b" else 1)
            adv = True
        consumed += dims[-1]
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    # bounds and mask shapes, walking the dimensions each item consumes
    d = 0
    for it, k in zip(items, dims):
        if it is Ellipsis:
            d = ndim - (consumed - d)
            continue
        if type(it) is int:
            n = shape[d]
            if not -n <= it < n:
                raise IndexError(f"index {it} is out of bounds for dimension {d} with size {n}")
        elif it is not None and not isinstance(it, (slice, bool)):
            if it.dtype.kind == "b":
                for j in range(it.ndim):
                    if it.shape[j] != shape[d + j]:
                        raise IndexError(f"The shape of the mask {list(it.shape)} at index {j} does not match the "
                                         f"shape of the indexed tensor {list(shape)} at index {d + j}")
            elif it.size:
                n = shape[d]
                lo, hi = int(it.min()), int(it.max())
                if lo < -n or hi >= n:
                    raise IndexError(f"index {hi if hi >= n else lo} is out of bounds for dimension {d} "
                                     f"with size {n}")
        d += k
    if not ell:
        items.append(Ellipsis)
    return tuple(items), adv


def _flat_index(shape: tuple, idx: tuple, xp):
    """C-order positions of the elements ``x[idx]`` selects, shaped like ``x[idx]``.

    Each dimension's position term is a zero-stride broadcast of ``arange * stride``, indexed
    like ``x``: the work is proportional to the result, never to ``x``.
    """
    n = len(shape)
    if n == 0:
        return xp.zeros((), dtype=np.int64)[idx]
    flat, stride = None, 1
    for d in range(n - 1, -1, -1):
        term = xp.arange(shape[d], dtype=np.int64)
        if stride != 1:
            term *= stride
        part = xp.broadcast_to(term.reshape((-1,) + (1,) * (n - d - 1)), shape)[idx]
        flat = part if flat is None else flat + part
        stride *= shape[d]
    return flat


# advanced index read / out-of-place write: kernels ----------------------------------------
_take_cuda = cuda.index("take_fwd")
_put_cuda = cuda.index("put_fwd")


def _index_cuda(x, idx):
    cp = __import__("cupy")
    with x.device:   # the flat index is built on x's device, not the current one
        return _take_cuda(x, cp.ascontiguousarray(_flat_index(x.shape, idx, cp)))


def _index_put_np(x, idx, src, accumulate):
    out = np.array(x, copy=True)
    if accumulate:
        np.add.at(out, idx, src)
    else:
        out[idx] = src
    return out


def _index_put_cuda(x, idx, src, accumulate):
    cp = __import__("cupy")
    with x.device:   # index and value arrays on x's device, not the current one
        flat = cp.ascontiguousarray(_flat_index(x.shape, idx, cp))
        src = cp.asarray(src, dtype=x.dtype)
        extra = src.ndim - flat.ndim
        if extra > 0 and all(s == 1 for s in src.shape[:extra]):   # NumPy's setitem drops leading 1s
            src = src.reshape(src.shape[extra:])
        src = cp.ascontiguousarray(cp.broadcast_to(src, flat.shape))
        return _put_cuda(x, flat, src, accumulate)


register("index_fwd", "numpy", lambda x, idx: x[idx])
register("index_fwd", "cupy", _index_cuda)
register("index_put_fwd", "numpy", _index_put_np)
register("index_put_fwd", "cupy", _index_put_cuda)
register("index_put_inplace", "numpy", lambda x, idx, src: x.__setitem__(idx, src))
register("index_put_inplace", "cupy", lambda x, idx, src: _copy_into_cuda(x, _index_put_cuda(x, idx, src, False)))


def _region_shape(x: Tensor, idx: tuple, adv: bool) -> tuple:
    if not adv:
        return x._data[idx].shape
    with on_device(x):
        return _flat_index(x._data.shape, idx, x._device.backend.xp).shape


def _index(g: Tensor, idx: tuple, adv: bool) -> Tensor:
    return AdvIndex.apply(g, idx) if adv else BasicIndex.apply(g, idx)


def _value_grad(g: Tensor, idx: tuple, adv: bool, v_shape: tuple) -> Tensor:
    """g[idx], with the leading unit dims a value may carry beyond the region restored."""
    gv = _index(g, idx, adv)
    extra = len(v_shape) - gv._data.ndim
    if extra > 0:
        from .shape import reshape
        gv = reshape(gv, (1,) * extra + gv._data.shape)
    return gv


class BasicIndex(Function):
    node_name = "SliceBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, idx: tuple) -> Tensor:
        ctx.in_shape, ctx.idx = x._data.shape, idx
        return x._view_of(x._data[idx])

    @staticmethod
    def backward(ctx, g: Tensor):
        return IndexPut.apply(_zeros(ctx.in_shape, g), ctx.idx, g, False, False, True), None


class Select(BasicIndex):
    node_name = "SelectBackward0"


class AdvIndex(Function):
    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, idx: tuple) -> Tensor:
        ctx.in_shape, ctx.idx = x._data.shape, idx
        return Tensor._make(kernel("index_fwd", x)(x._data, idx), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return IndexPut.apply(_zeros(ctx.in_shape, g), ctx.idx, g, True, True), None


class IndexPut(Function):
    """Out of place: a copy of ``x`` whose ``x[idx]`` is set to (or, accumulating, increased by) ``v``."""
    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, idx: tuple, v, accumulate: bool, adv: bool, fresh: bool = False) -> Tensor:
        ctx.idx, ctx.accumulate, ctx.adv = idx, accumulate, adv
        vt = isinstance(v, Tensor)
        ctx.v_shape = v._data.shape if vt else ()
        src = v._data if vt else v
        if adv or accumulate:
            return Tensor._make(kernel("index_put_fwd", x)(x._data, idx, src, accumulate), x._device)
        # ``fresh``: x is a temporary of our own (zeros in a backward), written without a copy
        out = x._data if fresh else kernel("copy", x)(x._data)
        kernel("copy_into", x)(out[idx], src)
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = gv = None
        if need[0]:
            gx = g if ctx.accumulate else IndexPut.apply(g, ctx.idx, 0, False, ctx.adv)
        if need[2]:
            gv = _value_grad(g, ctx.idx, ctx.adv, ctx.v_shape)
        return gx, None, gv, None, None, None


def getitem(t: Tensor, index) -> Tensor:
    """``t[index]``: a view for basic indices, a gathered copy for advanced ones."""
    idx, adv = _normalize(t, index)
    return AdvIndex.apply(t, idx) if adv else BasicIndex.apply(t, idx)


# setitem -----------------------------------------------------------------------------------
class SetItem(Function):
    """In place ``t[idx] = v``; the node replaces ``t``'s history (``mark_dirty``)."""
    node_name = "CopySlices"

    @staticmethod
    def forward(ctx, x: Tensor, idx: tuple, v, adv: bool) -> Tensor:
        ctx.idx, ctx.adv = idx, adv
        vt = isinstance(v, Tensor)
        ctx.v_shape = v._data.shape if vt else ()
        src = v._data if vt else v
        if adv:
            kernel("index_put_inplace", x)(x._data, idx, src)
        else:
            kernel("copy_into", x)(x._data[idx], src)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = IndexPut.apply(g, ctx.idx, 0, False, ctx.adv) if need[0] else None
        gv = _value_grad(g, ctx.idx, ctx.adv, ctx.v_shape) if need[2] else None
        return gx, None, gv, None


def _check_inplace(t: Tensor) -> None:
    if not _grad_state.enabled:
        return
    if t.grad_fn is None and t._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    b = t._base
    if b is not None and b.grad_fn is None and b._requires_grad and t.grad_fn is not None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation.")


def _shape_error_basic(region: tuple, vshape: tuple) -> None:
    """PyTorch's copy_ rule: the value broadcasts to the region (leading unit dims may be dropped)."""
    v = tuple(vshape)
    while len(v) > len(region) and v[0] == 1:
        v = v[1:]
    if len(v) > len(region):
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(vshape)}}}, size={list(region)}): the number of sizes "
                           f"provided ({len(region)}) must be greater or equal to the number of dimensions in "
                           f"the tensor ({len(vshape)})")
    lead = len(region) - len(v)
    for i, s in enumerate(v):
        if s != 1 and s != region[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({region[lead + i]}) must match the existing size "
                               f"({s}) at non-singleton dimension {lead + i}.  Target sizes: {list(region)}.  "
                               f"Tensor sizes: {list(v)}")


def setitem(t: Tensor, index, value) -> None:
    """``t[index] = value`` in place; validated completely before anything is written."""
    _check_inplace(t)
    idx, adv = _normalize(t, index)
    if isinstance(value, Tensor):
        if value._device is not t._device:
            if value._data.ndim == 0 and value._device.type == "cpu":
                value = value.item() if not value.requires_grad else value.to(t._device)
            else:
                check_same_device(t, value)
    elif not isinstance(value, (int, float, bool, np.number, np.bool_)):
        from .creation import tensor
        value = tensor(value, dtype=t.dtype, device=t._device)
    if not adv:
        if isinstance(value, Tensor):
            _shape_error_basic(t._data[idx].shape, value._data.shape)
        SetItem.apply(t, idx, value, False)
        return
    try:
        SetItem.apply(t, idx, value, True)
    except ValueError:
        vshape = list(value._data.shape) if isinstance(value, Tensor) else []
        raise RuntimeError(f"shape mismatch: value tensor of shape {vshape} cannot be broadcast to indexing "
                           f"result of shape {list(_region_shape(t, idx, True))}") from None


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


class IndexSelect(Function):
    node_name = "IndexSelectBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.in_shape, ctx.dim, ctx.index = x._data.shape, dim, index
        return Tensor._make(kernel("index_select_fwd", x)(x._data, dim, index._data), x._device)

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
        from .creation import tensor
        index = tensor(index, dtype="int64")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    return index


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
        from .shape import reshape
        return reshape(IndexSelect.apply(reshape(input, (1,)), 0, index), ())
    return IndexSelect.apply(input, d, index)


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
    from .shape import ConstantPad
    return ConstantPad.apply(g, tuple((0, s - n) for s, n in zip(shape, g._data.shape)), 0)


class Gather(Function):
    node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.in_shape, ctx.dim, ctx.index = x._data.shape, dim, index
        return Tensor._make(kernel("gather_fwd", x)(x._data, dim, index._data), x._device)

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
            from .creation import full
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


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    d = _check_gather_args("gather", input, dim, index)
    return Gather.apply(input, d, index)


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
            from .shape import reshape
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


def take(input: Tensor, index: Tensor) -> Tensor:
    return Take.apply(input, _flat_arg(input, index))


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    if source._data.size != index._data.size:
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source._data.size}, index.numel() = {index._data.size}")
    return Put.apply(input, _flat_arg(input, index), source, accumulate)


# masked_fill / masked_select ---------------------------------------------------------------------
_where_cuda = cuda.elementwise("where_fwd")
register("masked_fill_fwd", "numpy", lambda x, mask, v: np.where(mask, v, x).astype(x.dtype, copy=False))
register("masked_fill_fwd", "cupy",  # a scalar v travels in the launch parameters; the kernel's dtype is x's
         lambda x, mask, v: _where_cuda(mask, v, x))


class MaskedFill(Function):
    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, value) -> Tensor:
        ctx.mask = mask
        if isinstance(value, Tensor):
            ctx.v_shape = value._data.shape
            v = value._data
            if v.dtype != x._data.dtype:
                v = kernel("cast", value)(v, x._data.dtype)
        else:
            v = value
        return Tensor._make(kernel("masked_fill_fwd", x)(x._data, mask._data, v), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = MaskedFill.apply(g, ctx.mask, 0) if need[0] else None
        gv = sum_to_shape(masked_select(g, ctx.mask), ctx.v_shape) if need[2] else None
        return gx, None, gv


def _bool_mask(mask: Tensor, op: str) -> Tensor:
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        got = mask.dtype.name if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {got}")
    return mask


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    mask = _bool_mask(mask, "masked_fill_")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        if value._device is not input._device and not value.requires_grad:
            value = value.item()
    if mask._device is not input._device:
        check_same_device(input, mask)
    broadcast_shapes(input._data.shape, mask._data.shape)
    return MaskedFill.apply(input, mask, value)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    mask = _bool_mask(mask, "masked_select:")
    check_same_device(input, mask)
    shape = broadcast_shapes(input._data.shape, mask._data.shape)
    x = input
    if x._data.shape != shape:
        from .broadcast import expand
        x = expand(x, shape)
    m = mask._data
    if m.shape != shape:
        m = kernel("expand", mask)(m, shape)
    return AdvIndex.apply(x, (m,))


METHODS = ("index_select", "index_add", "gather", "scatter", "scatter_add", "take", "put", "masked_fill",
           "masked_select")
FUNCTIONS = ("getitem", "setitem")  # Tensor.__getitem__/__setitem__ reach them through ag.ops
