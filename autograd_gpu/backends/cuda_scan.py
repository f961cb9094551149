"""Launcher of ``kernels/scan.cu``: ``scan`` (cumsum_fwd, cumprod_fwd, cumsum_bwd), one block per
(outer, inner) row along the axis."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, contiguous
from .cuda_plan import _NARROW, block_size, outer_len_inner
from .cupy_backend import _cupy, dtype_name, get_kernel


def scan(kernel: str) -> Callable:
    """``impl(x, axis)``: cumsum_fwd, cumprod_fwd, cumsum_bwd (reverse); ints/bool give int64."""
    cp = _cupy()

    def impl(x, axis: int):
        if x.dtype in _NARROW:   # integer scans give int64 anyway
            x = _as_dtype(x, np.dtype(np.int64))
        dev = x.device.id
        with x.device:
            out_dt = np.dtype(np.int64) if x.dtype.kind in "iub" else x.dtype
            res = cp.empty(x.shape, dtype=out_dt)
            if res.size == 0:
                return res
            src = contiguous(x)
            shape = tuple(x.shape) or (1,)
            outer, L, inner = outer_len_inner(shape, axis % len(shape))
            rows = outer * inner
            fn = get_kernel("scan", f"{kernel}_{dtype_name(x.dtype)}", dev)
            fn((min(rows, 65535 * 32),), (block_size(L),), (res, src, np.int64(rows), np.int64(L), np.int64(inner)))
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl
