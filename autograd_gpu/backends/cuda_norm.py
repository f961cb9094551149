"""Launcher of ``kernels/norm.cu``: layer_norm / rms_norm over rows and batch_norm over channels,
forward and backward, with the signatures of the NumPy kernels in ``ops/normalization.py``.
Statistics are float32 for float16 input (the kernels' accumulate type). CuPy is imported on the
first call."""
from __future__ import annotations

import numpy as np

from .cuda_copy import _as_dtype, contiguous
from .cuda_plan import block_size, launch_config
from .cupy_backend import _cupy, dtype_name, get_kernel

_MAX_GRID = 65535 * 32


def _fn(name: str, x):
    return get_kernel("norm", f"{name}_{dtype_name(x.dtype)}", x.device.id)


def _acc(dt) -> np.dtype:
    return np.dtype(np.float32) if dt == np.float16 else np.dtype(dt)


def _prep(x, *arrays):
    """Contiguous copies in x's dtype; None stays None (a null pointer for the kernel)."""
    return [None if a is None else contiguous(a if a.dtype == x.dtype else _as_dtype(a, x.dtype)) for a in arrays]


def _stat(a, x):
    return contiguous(a if a.dtype == _acc(x.dtype) else _as_dtype(a, _acc(x.dtype)))


def _grid(rows: int) -> tuple:
    return (max(1, min(rows, _MAX_GRID)),)


def layer_norm_fwd(x2, w, b, eps: float, rms: bool = False):
    """-> (y, mean, rstd) for x2 (M, N): one block per row."""
    cp = _cupy()
    with x2.device:
        x2, w, b = _prep(x2, x2, w, b)
        M, N = x2.shape
        y = cp.empty((M, N), x2.dtype)
        mean, rstd = cp.empty(M, _acc(x2.dtype)), cp.empty(M, _acc(x2.dtype))
        if M:
            _fn("layer_norm_fwd", x2)(_grid(M), (block_size(N, 512),),
                                      (y, mean, rstd, x2, w, b, np.int64(M), np.int64(N), np.float64(eps),
                                       np.int32(rms)))
        return y, mean, rstd


def layer_norm_bwd(g2, x2, mean, rstd, w, rms: bool = False, params: bool = True):
    """-> (dx, dw or None, db or None): dx per row, then dw/db as column sums (``params``)."""
    cp = _cupy()
    with x2.device:
        x2, g2, w = _prep(x2, x2, g2, w)
        mean, rstd = _stat(mean, x2), _stat(rstd, x2)
        M, N = x2.shape
        dx = cp.empty((M, N), x2.dtype)
        if M:
            _fn("layer_norm_bwd", x2)(_grid(M), (block_size(N, 512),),
                                      (dx, g2, x2, mean, rstd, w, np.int64(M), np.int64(N), np.int32(rms)))
        if not params:
            return dx, None, None
        dw = cp.empty(N, x2.dtype) if w is not None else None
        db = cp.empty(N, x2.dtype)
        if N:
            _fn("layer_norm_bwd_params", x2)(((N + 31) // 32,), (32, 8),
                                             (dw, db, g2, x2, mean, rstd, np.int64(M), np.int64(N)))
        return dx, dw, db


def _ncl(x3):
    return (int(s) for s in x3.shape)


def batch_norm_fwd_stats(x3):
    """-> (mean, biased var) per channel of x3 (N, C, L): one block per channel."""
    cp = _cupy()
    with x3.device:
        (x3,) = _prep(x3, x3)
        N, C, L = _ncl(x3)
        mean, var = cp.empty(C, _acc(x3.dtype)), cp.empty(C, _acc(x3.dtype))
        if C:
            _fn("batch_norm_fwd_stats", x3)(_grid(C), (block_size(N * L, 512),),
                                            (mean, var, x3, np.int64(N), np.int64(C), np.int64(L)))
        return mean, var


def batch_norm_fwd(x3, mean, invstd, w, b):
    cp = _cupy()
    with x3.device:
        x3, w, b = _prep(x3, x3, w, b)
        mean, invstd = _stat(mean, x3), _stat(invstd, x3)
        N, C, L = _ncl(x3)
        y = cp.empty(x3.shape, x3.dtype)
        if y.size:
            blocks, threads = launch_config(y.size)
            _fn("batch_norm_fwd", x3)((blocks,), (threads,),
                                      (y, x3, mean, invstd, w, b, np.int64(N), np.int64(C), np.int64(L)))
        return y


def batch_norm_bwd(g3, x3, mean, invstd, w, training: bool):
    """-> (dx, dw, db): per-channel Σg and Σg(x - mean) (one block per channel), then dx elementwise."""
    cp = _cupy()
    with x3.device:
        x3, g3, w = _prep(x3, x3, g3, w)
        mean, invstd = _stat(mean, x3), _stat(invstd, x3)
        N, C, L = _ncl(x3)
        sg, sgx = cp.zeros(C, _acc(x3.dtype)), cp.zeros(C, _acc(x3.dtype))
        if C and N * L:
            _fn("batch_norm_bwd_reduce", x3)(_grid(C), (block_size(N * L, 512),),
                                             (sg, sgx, g3, x3, mean, np.int64(N), np.int64(C), np.int64(L)))
        dx = cp.empty(x3.shape, x3.dtype)
        if dx.size:
            blocks, threads = launch_config(dx.size)
            _fn("batch_norm_bwd", x3)((blocks,), (threads,),
                                      (dx, g3, x3, mean, invstd, w, sg, sgx, np.int64(N), np.int64(C), np.int64(L),
                                       np.int32(training)))
        return dx, (sgx * invstd).astype(x3.dtype), sg.astype(x3.dtype)
