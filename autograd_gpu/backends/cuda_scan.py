"""Launcher of ``kernels/scan.cu``: ``scan`` -- cumsum_fwd, cumprod_fwd, cumsum_bwd and logcumsumexp_fwd
(one block per (outer, inner) row along the axis), cummax_fwd / cummin_fwd (one thread per row,
returning values and int64 indices)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, contiguous
from .cuda_plan import _NARROW, block_size, launch_config, outer_len_inner
from .cupy_backend import _cupy, _max_blocks, dtype_name, get_kernel

_PAIRED = {"cummax_fwd", "cummin_fwd"}      # (values in x's dtype, int64 indices)
_SAME_DTYPE = {"logcumsumexp_fwd"}          # float only, result in x's dtype


def scan(kernel: str) -> Callable:
    """``impl(x, axis)``: cumsum_fwd, cumprod_fwd, cumsum_bwd (reverse) -- ints/bool give int64;
    logcumsumexp_fwd -- x's float dtype; cummax_fwd, cummin_fwd -> (values, int64 indices)."""
    cp = _cupy()
    paired = kernel in _PAIRED

    def impl(x, axis: int):
        wide = _NARROW.get(x.dtype)
        if wide is not None:   # no int8/uint8/int16 kernels
            if paired:
                v, i = impl(_as_dtype(x, wide), axis)
                return _as_dtype(v, x.dtype), i
            x = _as_dtype(x, np.dtype(np.int64))   # integer cumsum/cumprod give int64 anyway
        dev = x.device.id
        with x.device:
            keep = paired or kernel in _SAME_DTYPE
            out_dt = x.dtype if keep or x.dtype.kind not in "iub" else np.dtype(np.int64)
            res = cp.empty(x.shape, dtype=out_dt)
            idx = cp.empty(x.shape, dtype=np.int64) if paired else None
            if res.size == 0:
                return (res, idx) if paired else res
            src = contiguous(x)
            shape = tuple(x.shape) or (1,)
            outer, L, inner = outer_len_inner(shape, axis % len(shape))
            rows = outer * inner
            fn = get_kernel("scan", f"{kernel}_{dtype_name(x.dtype)}", dev)
            if paired:
                blocks, threads = launch_config(rows, max_blocks=_max_blocks(dev))
                fn((blocks,), (threads,), (res, idx, src, np.int64(rows), np.int64(L), np.int64(inner)))
                return res, idx
            fn((min(rows, 65535 * 32),), (block_size(L),), (res, src, np.int64(rows), np.int64(L), np.int64(inner)))
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl
