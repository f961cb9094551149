"""Launchers of ``kernels/index.cu``: ``index`` (gather, scatter, scatter_add, scatter_reduce,
index_select, index_add, index_copy/index_fill, take, put); every kernel takes
``(out, x, index, src, IdxParams, err, wrap)``.

Index bounds are checked on the device. Each kernel that reads an index records the first one
out of range in a per-device flag (``index_flag``: int64 ``{set, index}``) and never dereferences
it. A launcher called with ``check=`` (a function from the bad index to the exception to raise)
reads the flag once after its launch -- one 16-byte device-to-host copy, which waits for the
launch to finish -- and raises; without ``check`` the kernel gets a null flag (the index was
validated before, as in a backward pass) and out-of-range indices are skipped silently.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, _copy_to, contiguous
from .cuda_plan import MAX_DIMS, _NARROW, c_strides, collapse_dims, idx_params, launch_config, scalar_slots
from .cupy_backend import _cupy, _estrides, _max_blocks, dtype_name, get_kernel

Check = Callable[[int], BaseException]
_FLAGS: dict = {}   # device id -> cupy int64[2]: {1 when an index was out of range, that index}
_REDUCE = {"sum": 0, "prod": 1, "amax": 2, "amin": 3, "mean": 0}


# the bounds flag: reusable by any kernel that reads indices ---------------------------------------------
def index_flag(dev: int):
    """The zeroed int64[2] flag of device ``dev`` to pass as a kernel's ``long long* err``; a kernel
    sets it with ``atomicCAS(err, 0, 1) == 0`` then ``err[1] = index`` (``idx_fix`` in index.cu)."""
    flag = _FLAGS.get(dev)
    if flag is None:
        cp = _cupy()
        with cp.cuda.Device(dev):
            flag = _FLAGS[dev] = cp.zeros(2, dtype=np.int64)
    return flag


def check_index_flag(dev: int, check: Check) -> None:
    """Raise ``check(index)`` when a kernel on ``dev`` flagged an out-of-range index (and clear the
    flag). One 16-byte copy to the host: it waits for the kernels launched before it."""
    flag = _FLAGS.get(dev)
    if flag is None:
        return
    with flag.device:
        host = flag.get()
        if host[0]:
            flag.fill(0)
            raise check(int(host[1]))


def _launch(kernel: str, out, xa, index, src, params, n: int, check: Check | None, wrap: bool) -> None:
    if n == 0:
        return
    dev = out.device.id
    fn = get_kernel("index", f"{kernel}_{dtype_name(out.dtype)}", dev)
    blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
    err = index_flag(dev) if check is not None else None
    fn((blocks,), (threads,), (out, xa, index, src, params, err, np.int32(bool(wrap))))
    if check is not None:
        check_index_flag(dev, check)


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


def _copy_of(x):
    out = _cupy().empty(x.shape, dtype=x.dtype)
    _copy_to(out, x)
    return out


# launchers ---------------------------------------------------------------------------------------------
def _gather(kernel, x, axis, index, *, check=None):
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
        _launch(kernel, out, x, idx, None, p, out.size, check, False)
        return out.reshape(ishape)


def _scatter_into(kernel, o, ax, idx, src, check, accumulate: int = 0) -> None:
    """Scatter ``src`` (array or scalar) into ``o`` (C-contiguous, at least 1-d) in place."""
    s, ss, fs, is_ = _src_operand(src, o.dtype)
    if s is not None and s.ndim == 0:
        s = s.reshape(1)
    p = idx_params(idx.size, ax, o.shape[ax], tuple(idx.shape),
                   [c_strides(tuple(o.shape)), _estrides(idx), _estrides(s) if s is not None else ()],
                   src_scalar=ss, accumulate=accumulate, fsrc=fs, isrc=is_)
    _launch(kernel, o, None, idx, s, p, idx.size, check, False)


def _scatter(kernel, x, axis, index, src, *, check=None):
    with x.device:
        idx = _index_array(index)
        idx = idx.reshape(1) if idx.ndim == 0 else idx
        out = _copy_of(x)
        o = out.reshape(1) if out.ndim == 0 else out
        _scatter_into(kernel, o, axis % o.ndim, idx, src, check)
        return out


def reduce_identity(reduce: str, dt):
    """The value a reduction starts from where include_self=False (every such slot then gets a src value)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dt.kind == "b":
        return reduce == "amin"
    if dt.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dt)
    return int(info.min if reduce == "amax" else info.max)


def _scatter_reduce(kernel, x, axis, index, src, reduce: str, include_self: bool, *, check=None):
    """scatter_reduce: the slots ``index`` names start from ``x`` (include_self) or the reduction's
    identity (a scatter of that scalar, a launch of its own: it must finish before the atomics)."""
    cp = _cupy()
    with x.device:
        idx = _index_array(index)
        idx = idx.reshape(1) if idx.ndim == 0 else idx
        out = _copy_of(x)
        o = out.reshape(1) if out.ndim == 0 else out
        ax = axis % o.ndim
        if not include_self:
            _scatter_into("scatter_fwd", o, ax, idx, reduce_identity(reduce, o.dtype), check)
            check = None   # the indices are checked
        _scatter_into(kernel, o, ax, idx, src, check, _REDUCE[reduce])
        if reduce == "mean" and idx.size:
            count = cp.full(o.shape, int(include_self), dtype=np.int32)
            p = idx_params(idx.size, ax, o.shape[ax], tuple(idx.shape), [c_strides(tuple(o.shape)), _estrides(idx)])
            dev = o.device.id
            blocks, threads = launch_config(idx.size, max_blocks=_max_blocks(dev))
            get_kernel("index", "scatter_count_int32", dev)((blocks,), (threads,), (count, idx, p))
            blocks, threads = launch_config(o.size, max_blocks=_max_blocks(dev))
            get_kernel("index", f"scatter_mean_{dtype_name(o.dtype)}", dev)(
                (blocks,), (threads,), (o, count, np.int64(o.size)))
        return out


def _index_select(kernel, x, axis, index, *, check=None):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(index)).reshape(-1)
        xx = x.reshape(1) if x.ndim == 0 else x
        ax = axis % xx.ndim
        oshape = tuple(xx.shape[:ax]) + (idx.size,) + tuple(xx.shape[ax + 1:])
        out = cp.empty(oshape, dtype=x.dtype)
        p = idx_params(out.size, ax, xx.shape[ax], oshape, [_estrides(xx)])
        _launch(kernel, out, xx, idx, None, p, out.size, check, False)
        return out.reshape(x.shape) if x.ndim == 0 else out


def _index_put(kernel, x, axis, index, src, *, check=None, wrap=False):
    """index_add / index_copy: slices of ``src`` along ``axis``; a scalar ``src`` (index_copy) is
    index_fill (every element of the selected slices; ``wrap``: negative indices count from the end)."""
    with x.device:
        idx = contiguous(_index_array(index)).reshape(-1)
        out = _copy_of(x)
        o = out.reshape(1) if out.ndim == 0 else out
        ax = axis % o.ndim
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is not None:
            s = s.reshape(1) if s.ndim == 0 else s
            ishape, sst = tuple(s.shape), _estrides(s)
        else:
            ishape, sst = tuple(o.shape[:ax]) + (idx.size,) + tuple(o.shape[ax + 1:]), ()
        n = int(np.prod(ishape))
        p = idx_params(n, ax, o.shape[ax], ishape, [c_strides(tuple(o.shape)), (), sst], src_scalar=ss, fsrc=fs,
                       isrc=is_)
        _launch(kernel, o, None, idx, s, p, n, check, wrap)
        return out


def _take(kernel, x, flat_index, *, check=None):
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
        _launch(kernel, out, xx, idx, None, p, idx.size, check, True)
        return out


def _put(kernel, x, flat_index, src, accumulate: bool = False, *, check=None):
    with x.device:
        idx = contiguous(_index_array(flat_index)).reshape(-1)
        out = _copy_of(x)
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is not None:
            s = contiguous(s).reshape(-1)
        p = idx_params(idx.size, -1, x.size, (), [], src_scalar=ss, accumulate=int(bool(accumulate)), fsrc=fs,
                       isrc=is_)
        _launch(kernel, out, None, idx, s, p, idx.size, check, True)
        return out


_INDEX = {"gather_fwd": _gather, "scatter_fwd": _scatter, "scatter_add_fwd": _scatter,
          "scatter_reduce_fwd": _scatter_reduce, "index_select_fwd": _index_select, "index_add_fwd": _index_put,
          "index_copy_fwd": _index_put,
          "take_fwd": _take, "put_fwd": _put}


def index(kernel: str) -> Callable:
    """Launchers of ``kernels/index.cu`` (signatures in KERNELS.md): gather/scatter/scatter_add
    ``(x, axis, index[, src])``, scatter_reduce ``(x, axis, index, src, reduce, include_self)``,
    index_select ``(x, axis, index)``, index_add ``(x, axis, index, src)``, index_copy
    ``(x, axis, index, src, wrap=)`` (a scalar src: index_fill),
    take ``(x, flat_index)``, put ``(x, flat_index, src, accumulate)``; each also takes ``check=``
    (see the module docstring). Results are new arrays."""
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
