"""Launchers of ``kernels/index.cu``: ``index`` (gather, scatter, scatter_add, index_select,
index_add, take, put); every kernel takes ``(out, x, index, src, IdxParams)``."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, _copy_to, contiguous
from .cuda_plan import MAX_DIMS, _NARROW, c_strides, collapse_dims, idx_params, launch_config, scalar_slots
from .cupy_backend import _cupy, _estrides, _max_blocks, dtype_name, get_kernel


def _index_array(index):
    cp = _cupy()
    if not isinstance(index, cp.ndarray):
        index = cp.asarray(index)
    return index if index.dtype == np.int64 else _as_dtype(index, np.dtype(np.int64))


def _src_operand(src, dt):
    """(array or None, src_scalar, fsrc, isrc) for a src that may be a Python scalar."""
    cp = _cupy()
    if isinstance(src, cp.ndarray):
        return (src if src.dtype == dt else _as_dtype(src, dt)), 0, 0.0, 0
    f, i = scalar_slots(src, dt.kind)
    return None, 1, f, i


def _launch_index(kernel: str, x, out, xa, index, src, params, n: int) -> None:
    if n == 0:
        return
    dev = out.device.id
    fn = get_kernel("index", f"{kernel}_{dtype_name(out.dtype)}", dev)
    blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
    fn((blocks,), (threads,), (out, xa, index, src, params))


def _gather(kernel, x, axis, index):
    cp = _cupy()
    with x.device:
        index = _index_array(index)
        if x.ndim == 0:
            x = x.reshape(1)
        ishape = tuple(index.shape)
        idx = index.reshape(1) if index.ndim == 0 else index
        ax = axis % x.ndim
        out = cp.empty(idx.shape, dtype=x.dtype)
        p = idx_params(out.size, ax, x.shape[ax], tuple(idx.shape), [_estrides(x), _estrides(idx)])
        _launch_index(kernel, x, out, x, idx, None, p, out.size)
        return out.reshape(ishape)


def _scatter(kernel, x, axis, index, src):
    cp = _cupy()
    with x.device:
        index = _index_array(index)
        shape0 = tuple(x.shape)
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
        o = out.reshape(1) if out.ndim == 0 else out
        idx = index.reshape(1) if index.ndim == 0 else index
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is not None and s.ndim == 0:
            s = s.reshape(1)
        ax = axis % o.ndim
        p = idx_params(idx.size, ax, o.shape[ax], tuple(idx.shape),
                       [c_strides(tuple(o.shape)), _estrides(idx), _estrides(s) if s is not None else ()],
                       src_scalar=ss, fsrc=fs, isrc=is_)
        _launch_index(kernel, x, o, None, idx, s, p, idx.size)
        return out.reshape(shape0)


def _index_select(kernel, x, axis, index):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(index)).reshape(-1)
        xx = x.reshape(1) if x.ndim == 0 else x
        ax = axis % xx.ndim
        oshape = tuple(xx.shape[:ax]) + (idx.size,) + tuple(xx.shape[ax + 1:])
        out = cp.empty(oshape, dtype=x.dtype)
        p = idx_params(out.size, ax, xx.shape[ax], oshape, [_estrides(xx)])
        _launch_index(kernel, x, out, xx, idx, None, p, out.size)
        return out.reshape(x.shape) if x.ndim == 0 else out


def _index_add(kernel, x, axis, index, src):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(index)).reshape(-1)
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
        o = out.reshape(1) if out.ndim == 0 else out
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is None:
            raise TypeError("index_add_fwd: src must be an array")
        s = s.reshape(1) if s.ndim == 0 else s
        ax = axis % o.ndim
        p = idx_params(s.size, ax, o.shape[ax], tuple(s.shape), [c_strides(tuple(o.shape)), (), _estrides(s)])
        _launch_index(kernel, x, o, None, idx, s, p, s.size)
        return out


def _take(kernel, x, flat_index):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(flat_index))
        out = cp.empty(idx.shape, dtype=x.dtype)
        cshape, (cst,) = collapse_dims(tuple(x.shape), [_estrides(x)])
        xx = x
        if len(cshape) > MAX_DIMS:
            xx = contiguous(x)
            cshape, cst = (x.size,), (1,)
        p = idx_params(idx.size, -1, x.size, cshape, [cst])
        _launch_index(kernel, x, out, xx, idx, None, p, idx.size)
        return out


def _put(kernel, x, flat_index, src, accumulate: bool = False):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(flat_index)).reshape(-1)
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is not None:
            s = contiguous(s).reshape(-1)
        p = idx_params(idx.size, -1, x.size, (), [], src_scalar=ss, accumulate=int(bool(accumulate)), fsrc=fs,
                       isrc=is_)
        _launch_index(kernel, x, out, None, idx, s, p, idx.size)
        return out


_INDEX = {"gather_fwd": _gather, "scatter_fwd": _scatter, "scatter_add_fwd": _scatter,
          "index_select_fwd": _index_select, "index_add_fwd": _index_add, "take_fwd": _take, "put_fwd": _put}


def index(kernel: str) -> Callable:
    """Launchers of ``kernels/index.cu`` (signatures in KERNELS.md): gather/scatter/scatter_add
    ``(x, axis, index[, src])``, index_select/index_add ``(x, axis, index[, src])``,
    take ``(x, flat_index)``, put ``(x, flat_index, src, accumulate)``. Results are new arrays."""
    _cupy()
    try:
        adapter = _INDEX[kernel]
    except KeyError:
        raise RuntimeError(f"no CUDA index kernel named {kernel!r}; known: {', '.join(sorted(_INDEX))}") from None

    ndarray = _cupy().ndarray

    def impl(*args, **kwargs):
        x = args[0]
        wide = _NARROW.get(x.dtype)
        if wide is None:
            return adapter(kernel, *args, **kwargs)
        # no int8/uint8/int16 kernels: x and src (the arrays of x's dtype) go through int32
        args = tuple(_as_dtype(a, wide) if isinstance(a, ndarray) and a.dtype == x.dtype else a for a in args)
        return _as_dtype(adapter(kernel, *args, **kwargs), x.dtype)

    impl.__name__ = f"cupy_{kernel}"
    return impl
