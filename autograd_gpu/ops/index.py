"""Indexing: ``t[...]`` read and write (``getitem``/``setitem``), and masked_fill/masked_select.

Basic indices (ints, slices, None, ...) give views sharing storage and version
counter. Advanced indices (integer tensors/lists, boolean masks) follow PyTorch's rule: the
basic part is applied first, then the index arrays (``_Adv``). On CUDA an advanced index becomes one flat (C-order)
index array, so ``take_fwd``/``put_fwd`` are the only kernels it needs (``gather_scatter``,
home of take/put and the rest of the gather/scatter family, shares them).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import _state as _grad_state
from ..backends import cuda
from ..dispatch import register
from ..device import get_backend
from ..tensor import Tensor
from ._common import check_same_device, kernel, on_device
from .creation import zeros_from_meta
from .registry import export
from .shape import reshape
from .creation import tensor
from .inplace import _overlapping, unlock


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
class _Adv:
    """An advanced index as PyTorch applies it: ``basic`` (ints, slices, None, Ellipsis) first, as
    a view, then ``rest`` (slices and index arrays only) on that view.

    NumPy counts an int as an advanced index, which moves the indexed dims when ints and index
    arrays are separated by a slice (``t[:, i, :, 0]``); PyTorch selects the ints away first. With
    no ints left, NumPy's placement rule for ``rest`` is PyTorch's.
    """
    __slots__ = ("basic", "rest")

    def __init__(self, basic: tuple, rest: tuple) -> None:
        self.basic, self.rest = basic, rest


def _sub(a, idx):
    """``a`` indexed by ``idx`` (an ``_Adv`` or a NumPy index tuple)."""
    return a[idx.basic][idx.rest] if type(idx) is _Adv else a[idx]


def _parse(x: Tensor, index) -> tuple:
    """(items, dims each consumes, advanced?, has Ellipsis) with PyTorch's type checks."""
    if not isinstance(index, tuple):
        index = (index,)
    items, dims, adv, ell = [], [], False, False
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
                if kind in "iub" and it._data.ndim == 0:   # PyTorch: a 0-d int selects, a 0-d bool unsqueezes
                    v = it.item()
                    if it._data.dtype == np.uint8:   # a byte tensor is a (deprecated) mask, as in PyTorch
                        warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                                      "torch.bool instead.", UserWarning, stacklevel=3)
                        v, kind = bool(v), "b"
                    items.append(v)
                    dims.append(0 if kind == "b" else 1)
                    adv = adv or kind == "b"
                    continue
                arr = _index_tensor_array(it, x)
                if arr.dtype == np.uint8:
                    warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                                  "torch.bool instead.", UserWarning, stacklevel=3)
                    with on_device(x):   # arr is on x's device; CuPy casts on the current one
                        arr = arr.astype(np.bool_)
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
    return items, dims, adv, ell


def _normalize(x: Tensor, index) -> tuple:
    """(index for the backend array, is it advanced?) after PyTorch's checks.

    Basic: a tuple ending in Ellipsis (all-integer indices give 0-d views, not scalars).
    Advanced: an ``_Adv``.
    """
    items, dims, adv, ell = _parse(x, index)
    shape = x._data.shape
    ndim = len(shape)
    consumed = sum(dims)
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    # bounds and mask shapes, walking the dimensions each item consumes
    d = 0
    device_checks = []
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
                device_checks.append((it, shape[d], d))
        d += k
    with on_device(x):   # the index arrays are on x's device; CuPy compares on the current one
        _check_bounds(device_checks)
    if not adv:
        if not ell:
            items.append(Ellipsis)
        return tuple(items), False
    basic, rest = [], []
    for it, k in zip(items, dims):
        if it is None or isinstance(it, slice):
            basic.append(it)
            rest.append(slice(None))
        elif it is Ellipsis:
            basic.append(it)
            rest.append(it)
        elif type(it) is int:
            basic.append(it)
        elif type(it) is bool:   # PyTorch: unsqueeze, then index the new dim with [0] (True) or [] (False)
            basic.append(None)
            rest.append(_on_device(np.zeros(int(it), dtype=np.int64), x))
        else:
            basic.extend((slice(None),) * k)
            rest.append(it)
    if not ell:
        basic.append(Ellipsis)
        rest.append(Ellipsis)
    return _Adv(tuple(basic), tuple(rest)), True


def _check_bounds(checks: list) -> None:
    """IndexError for the first index tensor holding an index outside ``[-n, n)`` of its dimension.

    All index tensors of one subscript are checked together: one host read of one flag, on either
    backend (on CUDA the comparisons run on the device; only the combined flag comes back, where a
    min/max pair per index tensor cost two reductions and two syncs each)."""
    if not checks:
        return
    bad = [((it < -n) | (it >= n)).any() for it, n, _ in checks]
    if type(checks[0][0]) is np.ndarray:
        failed = any(bad)
    else:
        failed = bool(bad[0] if len(bad) == 1 else get_backend("cuda").xp.stack(bad).any())
    if not failed:
        return
    for (it, n, d), b in zip(checks, bad):   # the error path: find the culprit
        if bool(b):
            flat = it.reshape(-1)
            v = int(flat[((flat < -n) | (flat >= n)).nonzero()[0][0]])
            raise IndexError(f"index {v} is out of bounds for dimension {d} with size {n}")


def _flat_index(shape: tuple, idx, xp):
    """C-order positions of the elements ``x[idx]`` selects, shaped like ``x[idx]``.

    Each dimension's position term is a zero-stride broadcast of ``arange * stride``, indexed
    like ``x``: the work is proportional to the result, never to ``x``.
    """
    n = len(shape)
    if n == 0:
        return _sub(xp.zeros((), dtype=np.int64), idx)
    flat, stride = None, 1
    for d in range(n - 1, -1, -1):
        term = xp.arange(shape[d], dtype=np.int64)
        if stride != 1:
            term *= stride
        part = _sub(xp.broadcast_to(term.reshape((-1,) + (1,) * (n - d - 1)), shape), idx)
        flat = part if flat is None else flat + part
        stride *= shape[d]
    return flat


# advanced index read / out-of-place write: kernels ----------------------------------------
_take_cuda = cuda.index("take_fwd")
_put_cuda = cuda.index("put_fwd")


def _index_cuda(x, idx):
    cp = get_backend("cuda").xp
    with x.device:   # the flat index is built on x's device, not the current one
        return _take_cuda(x, cp.ascontiguousarray(_flat_index(x.shape, idx, cp)))


def _index_put_np(x, idx, src, accumulate):
    out = np.array(x, copy=True)
    view, idx = (out[idx.basic], idx.rest) if type(idx) is _Adv else (out, idx)
    if accumulate:
        np.add.at(view, idx, src)
    else:
        view[idx] = src
    return out


def _index_put_cuda(x, idx, src, accumulate):
    cp = get_backend("cuda").xp
    with x.device:   # index and value arrays on x's device, not the current one
        flat = cp.ascontiguousarray(_flat_index(x.shape, idx, cp))
        src = cp.asarray(src, dtype=x.dtype)
        extra = src.ndim - flat.ndim
        if extra > 0 and all(s == 1 for s in src.shape[:extra]):   # NumPy's setitem drops leading 1s
            src = src.reshape(src.shape[extra:])
        src = cp.ascontiguousarray(cp.broadcast_to(src, flat.shape))
        return _put_cuda(x, flat, src, accumulate)


register("index_fwd", "numpy", _sub)
register("index_fwd", "cupy", _index_cuda)
register("index_put_fwd", "numpy", _index_put_np)
register("index_put_fwd", "cupy", _index_put_cuda)
register("index_put_inplace", "numpy", lambda x, idx, src: x[idx.basic].__setitem__(idx.rest, src))
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


@export(function=False, method=False, operators=("__getitem__",))
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


@export(function=False, method=False, operators=("__setitem__",))
def setitem(t: Tensor, index, value) -> None:
    """``t[index] = value`` in place; validated completely before anything is written."""
    _check_inplace(t)
    idx, adv = _normalize(t, index)
    unlock(t._data)
    if isinstance(value, Tensor):
        if value._device is not t._device:
            if value._data.ndim == 0 and value._device.type == "cpu":
                value = value.item() if not value.requires_grad else value.to(t._device)
            else:
                check_same_device(t, value)
    elif not isinstance(value, (int, float, bool, np.number, np.bool_)):
        value = tensor(value, dtype=t.dtype, device=t._device)
    if not adv:
        region = t._data[idx]
        if isinstance(value, Tensor):
            _shape_error_basic(region.shape, value._data.shape)
        if _overlapping(region):
            raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                               "single memory location. Please clone() the tensor before performing the operation.")
        SetItem.apply(t, idx, value, False)
        return
    if _overlapping(t._data):
        warnings.warn("Use of index_put_ on expanded tensors is deprecated. Please clone() the tensor before "
                      "performing this operation. This also applies to advanced indexing e.g. tensor[indices] = "
                      "tensor", UserWarning, stacklevel=2)
    try:
        SetItem.apply(t, idx, value, True)
    except ValueError:
        vshape = list(value._data.shape) if isinstance(value, Tensor) else []
        raise RuntimeError(f"shape mismatch: value tensor of shape {vshape} cannot be broadcast to indexing "
                           f"result of shape {list(_region_shape(t, idx, True))}") from None
