"""Launcher of ``kernels/loss.cu``: cross_entropy (class indices and probabilities) and nll_loss,
forward and backward, over contiguous (outer, C, inner) views; same signatures as the NumPy
kernels registered in ``ops/loss_ce.py``. CuPy is imported on the first call."""
from __future__ import annotations

import numpy as np

from .cuda_copy import _as_dtype, contiguous
from .cuda_plan import block_size
from .cupy_backend import _cupy, dtype_name, get_kernel

_MAX_GRID = 65535 * 32


def _prep(x3, *arrays):
    """Contiguous copies in x3's dtype (None stays None) and the weight pointer stand-in."""
    return [None if a is None else contiguous(a if a.dtype == x3.dtype else _as_dtype(a, x3.dtype)) for a in arrays]


def _fn(name: str, x):
    return get_kernel("loss", f"{name}_{dtype_name(x.dtype)}", x.device.id)


def _raise_if_bad(err) -> None:
    """One read of the 16-byte flag after the launch: PyTorch's IndexError for a target out of range."""
    flag, value = (int(v) for v in err.get())
    if flag:
        raise IndexError(f"Target {value} is out of bounds.")


def _grid(rows: int) -> tuple:
    return (max(1, min(rows, _MAX_GRID)),)


def _flat_grid(n: int) -> tuple:
    return (max(1, min((n + 255) // 256, _MAX_GRID)),)


def cross_entropy_fwd(x3, t2, w, ii: int, eps: float):
    cp = _cupy()
    with x3.device:
        x3, w = _prep(x3, x3, w)
        t2 = cp.ascontiguousarray(t2, dtype=cp.int64)
        O, C, I = x3.shape
        rows = O * I
        # lse as the NumPy kernel saves it: (2, O, I) = [row max, log Σ exp(x − max)], so x − lse is exact
        loss, lse, wt = cp.empty((O, I), x3.dtype), cp.empty((2, O, I), x3.dtype), cp.empty((O, I), x3.dtype)
        if rows:
            err = cp.zeros(2, cp.int64)
            _fn("cross_entropy_fwd", x3)(_grid(rows), (block_size(C),),
                                         (loss, lse, wt, x3, t2, x3 if w is None else w, np.int32(w is not None),
                                          np.int64(rows), np.int64(C), np.int64(I), np.int64(ii), np.float64(eps),
                                          err))
            _raise_if_bad(err)
        return loss, lse, wt


def cross_entropy_bwd(c2, x3, lse2, t2, w, ii: int, eps: float):
    cp = _cupy()
    with x3.device:
        x3, c2, lse2, w = _prep(x3, x3, c2, lse2, w)
        t2 = cp.ascontiguousarray(t2, dtype=cp.int64)
        O, C, I = x3.shape
        rows = O * I
        gx = cp.empty(x3.shape, x3.dtype)
        if rows and C:
            wall = float(w.sum()) if w is not None else float(C)
            _fn("cross_entropy_bwd", x3)(_grid(rows), (block_size(C),),
                                         (gx, c2, x3, lse2, t2, x3 if w is None else w, np.int32(w is not None),
                                          np.int64(rows), np.int64(C), np.int64(I), np.int64(ii), np.float64(eps),
                                          np.float64(wall)))
        return gx


def cross_entropy_fwd_prob(x3, y3, w, eps: float):
    cp = _cupy()
    with x3.device:
        x3, y3, w = _prep(x3, x3, y3, w)
        O, C, I = x3.shape
        rows = O * I
        loss, lse = cp.empty((O, I), x3.dtype), cp.empty((2, O, I), x3.dtype)   # (2, O, I) as cross_entropy_fwd
        if rows:
            _fn("cross_entropy_fwd_prob", x3)(_grid(rows), (block_size(C),),
                                              (loss, lse, x3, y3, x3 if w is None else w, np.int32(w is not None),
                                               np.int64(rows), np.int64(C), np.int64(I), np.float64(eps)))
        return loss, lse


def cross_entropy_bwd_prob(c2, x3, lse2, y3, w, eps: float):
    cp = _cupy()
    with x3.device:
        x3, c2, lse2, y3, w = _prep(x3, x3, c2, lse2, y3, w)
        O, C, I = x3.shape
        rows = O * I
        gx = cp.empty(x3.shape, x3.dtype)
        if rows and C:
            _fn("cross_entropy_bwd_prob", x3)(_grid(rows), (block_size(C),),
                                              (gx, c2, x3, lse2, y3, x3 if w is None else w, np.int32(w is not None),
                                               np.int64(rows), np.int64(C), np.int64(I), np.float64(eps)))
        return gx


def nll_loss_fwd(x3, t2, w, ii: int):
    cp = _cupy()
    with x3.device:
        x3, w = _prep(x3, x3, w)
        t2 = cp.ascontiguousarray(t2, dtype=cp.int64)
        O, C, I = x3.shape
        rows = O * I
        loss, wt = cp.empty((O, I), x3.dtype), cp.empty((O, I), x3.dtype)
        if rows:
            err = cp.zeros(2, cp.int64)
            _fn("nll_loss_fwd", x3)(_flat_grid(rows), (256,),
                                    (loss, wt, x3, t2, x3 if w is None else w, np.int32(w is not None),
                                     np.int64(rows), np.int64(C), np.int64(I), np.int64(ii), err))
            _raise_if_bad(err)
        return loss, wt


def nll_loss_bwd(c2, t2, w, ii: int, C: int):
    cp = _cupy()
    with c2.device:
        c2, w = _prep(c2, c2, w)
        t2 = cp.ascontiguousarray(t2, dtype=cp.int64)
        O, I = t2.shape
        gx = cp.empty((O, C, I), c2.dtype)
        n = O * C * I
        if n:
            _fn("nll_loss_bwd", c2)(_flat_grid(n), (256,),
                                    (gx, c2, t2, c2 if w is None else w, np.int32(w is not None),
                                     np.int64(O * I), np.int64(C), np.int64(I), np.int64(ii)))
        return gx
