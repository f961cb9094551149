"""Launcher of ``kernels/softmax.cu``: ``softmax`` (softmax / log_softmax, forward and backward),
max-subtracted, one block per (outer, inner) row along the axis."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, contiguous
from .cuda_plan import block_size, outer_len_inner
from .cupy_backend import _cupy, dtype_name, get_kernel


def softmax(kernel: str) -> Callable:
    """``impl(x, axis)`` for softmax_fwd / log_softmax_fwd; ``impl(g, y, axis)`` for the _bwd kernels."""
    cp = _cupy()

    def impl(*args):
        *arrays, axis = args
        x = arrays[0]
        dev = x.device.id
        with x.device:
            arrays = [contiguous(a if a.dtype == x.dtype else _as_dtype(a, x.dtype)) for a in arrays]
            res = cp.empty(x.shape, dtype=x.dtype)
            if res.size == 0:
                return res
            shape = tuple(x.shape) or (1,)
            ax = 0 if axis is None else axis % len(shape)
            outer, L, inner = outer_len_inner(shape, ax)
            rows = outer * inner
            fn = get_kernel("softmax", f"{kernel}_{dtype_name(x.dtype)}", dev)
            second = arrays[1] if len(arrays) > 1 else None
            fn((min(rows, 65535 * 32),), (block_size(L),),
               (res, arrays[0], second, np.int64(rows), np.int64(L), np.int64(inner)))
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl
