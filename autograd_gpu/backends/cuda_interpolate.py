"""Launcher of ``kernels/interpolate.cu``: ``interp_fwd`` applies one tap table along one axis,
y[outer, o, inner] = sum_t w[o, t] x[outer, idx[o, t], inner] (w None: unit weights).
The backward applies the transposed table with the same kernel, so nothing needs atomics.
Importing this module does not import CuPy."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .cuda import lazy


def _impl(name: str) -> Callable:
    from .cuda_copy import contiguous
    from .cuda_plan import launch_config
    from .cupy_backend import _cupy, _max_blocks, dtype_name, get_kernel
    cp = _cupy()

    def interp(x, axis, idx, w):
        dev = x.device.id
        with x.device:
            x = contiguous(x)
            O, T = idx.shape
            outer, L, inner = math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:])
            out = cp.empty(x.shape[:axis] + (O,) + x.shape[axis + 1:], x.dtype)
            if out.size == 0:
                return out
            di = cp.asarray(np.ascontiguousarray(idx, np.int64))
            # a selection (w None) passes unit weights: one kernel, no null-pointer argument
            dw = cp.asarray(np.ones(idx.shape) if w is None else np.ascontiguousarray(w, np.float64))
            fn = get_kernel("interpolate", f"{name}_{dtype_name(x.dtype)}", dev)
            blocks, threads = launch_config(out.size, max_blocks=_max_blocks(dev))
            fn((blocks,), (threads,), (out, x, di, dw, np.int64(outer), np.int64(L), np.int64(O), np.int64(inner),
                                       np.int64(T)))
            return out
    return interp


def launcher(name: str) -> Callable:
    """The CuPy implementation of ``name`` (same signature as the NumPy one), built on first call."""
    return lazy(lambda: _impl(name), f"cuda_interpolate_{name}", "interpolate")
