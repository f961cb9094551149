"""Launchers of ``kernels/copy.cu``: ``copy``, ``cast``, ``copy_into``, ``triangle``.

Also the copy helpers the other families launch through it: ``_copy_to`` (``dst[...] = src``
with broadcasting and casting), ``contiguous`` and ``_as_dtype``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_plan import MAX_DIMS, _NARROW, broadcast_strides, collapse_dims, copy_params, launch_config
from .cupy_backend import _cupy, _estrides, _max_blocks, dtype_name, get_kernel


def _copy_to(dst, src) -> None:
    """dst[...] = src (src broadcast to dst's shape, any dtypes/strides), with our copy kernels."""
    n = dst.size
    if n == 0:
        return
    dev = dst.device.id
    shape = tuple(dst.shape)
    s_dst = _estrides(dst)
    s_src = broadcast_strides(tuple(src.shape), _estrides(src), shape)
    cshape, (c0, c1) = collapse_dims(shape, [s_dst, s_src])
    if len(cshape) > MAX_DIMS:   # rare: more non-mergeable dims than the kernel indexes; CuPy's copy
        dst[...] = src
        return
    contig = int(len(cshape) <= 1 and all(s[0] == 1 for s in (c0, c1) if s))
    sd, dd = dtype_name(src.dtype), dtype_name(dst.dtype)
    name = f"copy_{sd}" if sd == dd else f"cast_{sd}_{dd}"
    fn = get_kernel("copy", name, dev)
    blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
    fn((blocks,), (threads,), (dst, src, copy_params(n, contig, cshape, [c0, c1])))


def contiguous(x):
    """``x`` if C-contiguous, else a C-contiguous copy made by ``copy_<dtype>``."""
    return x if x.flags.c_contiguous else _copy(x)


def _as_dtype(x, dt):
    if x.dtype == dt:
        return x
    cp = _cupy()
    with x.device:
        out = cp.empty(x.shape, dtype=dt)
        _copy_to(out, x)
    return out


# ---------------------------------------------------------------------------------
# copies
def _copy(x):
    cp = _cupy()
    with x.device:
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
    return out


def _cast(x, dtype):
    cp = _cupy()
    with x.device:
        out = cp.empty(x.shape, dtype=np.dtype(dtype))
        _copy_to(out, x)
    return out


def _copy_into(dst, src) -> None:
    cp = _cupy()
    with dst.device:
        if not isinstance(src, cp.ndarray):
            src = cp.asarray(np.asarray(src, dtype=dst.dtype))
        elif src.data.mem is dst.data.mem:   # overlapping views: read everything before writing
            src = _copy(src)
        _copy_to(dst, src)


def _triangle(x, k: int = 0, upper: bool = False):
    cp = _cupy()
    with x.device:
        if x.ndim < 2:
            raise RuntimeError("tril/triu: input tensor must have at least 2 dimensions")
        if x.dtype in _NARROW:   # triangle kernels are A+B only
            return _as_dtype(_triangle(_as_dtype(x, _NARROW[x.dtype]), k, upper), x.dtype)
        out = cp.empty(x.shape, dtype=x.dtype)
        n = out.size
        if n == 0:
            return out
        cshape, (cst,) = collapse_dims(tuple(x.shape), [_estrides(x)])
        xx = x
        if len(cshape) > MAX_DIMS:
            xx = contiguous(x)
            cshape, cst = (x.size,), (1,)
        dev = x.device.id
        fn = get_kernel("copy", f"triangle_{dtype_name(x.dtype)}", dev)
        blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
        fn((blocks,), (threads,), (out, xx, copy_params(n, 0, cshape, [(), cst]), np.int64(x.shape[-2]),
                                   np.int64(x.shape[-1]), np.int64(k), np.int32(1 if upper else 0)))
        return out


_COPY_FNS = {"copy": _copy, "cast": _cast, "copy_into": _copy_into, "triangle": _triangle}


def copy(kernel: str) -> Callable:
    """``copy(x)``, ``cast(x, dtype)``, ``copy_into(dst, src)`` (returns None), ``triangle(x, k, upper)``."""
    _cupy()
    try:
        return _COPY_FNS[kernel]
    except KeyError:
        raise RuntimeError(f"no CUDA copy kernel named {kernel!r}; known: {', '.join(sorted(_COPY_FNS))}") from None
