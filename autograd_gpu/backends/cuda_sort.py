"""Sorting on CUDA through CuPy's own primitives (no kernel file): ``cupy.argsort`` is a stable
sort (Thrust/CUB) that puts NaN last, as NumPy does; ``cupy.argwhere`` for nonzero.

Descending order keeps ties in their original order (PyTorch's stable descending sort, NaN first):
sort the reversed axis ascending, reverse the result and map positions back.
"""
from __future__ import annotations

import numpy as np

from .cupy_backend import _cupy


def sort(x, axis: int, descending: bool):
    """``(values, int64 indices)`` of a stable sort of ``x`` along ``axis``."""
    cp = _cupy()
    with x.device:
        key = x.view(cp.uint8) if x.dtype == np.bool_ else x   # sort bools as bytes
        if descending:
            rev = cp.argsort(cp.flip(key, axis), axis=axis)
            idx = (x.shape[axis] - 1) - cp.flip(rev, axis)
        else:
            idx = cp.argsort(key, axis=axis)
        idx = idx.astype(np.int64, copy=False)
        return cp.take_along_axis(x, idx, axis), idx


def nonzero(x):
    """int64 ``(n, ndim)`` coordinates of the non-zero elements, in C order (one host sync for n)."""
    cp = _cupy()
    with x.device:
        return cp.argwhere(x).astype(np.int64, copy=False)
