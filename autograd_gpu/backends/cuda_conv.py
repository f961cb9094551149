"""Launcher of ``kernels/conv.cu``: im2col and col2im (gathering, no atomics) for 1-3 spatial dims.

The geometry goes as one ``ConvGeom`` struct by value (21 int64: b, c, then in/k/out/stride/pad/dil
padded to 3 dims at the front, then batch_first), so one kernel pair serves every dimensionality."""
from __future__ import annotations

import struct

import numpy as np

from .cuda_copy import contiguous
from .cuda_plan import launch_config
from .cupy_backend import _cupy, dtype_name, get_kernel

_GEOM = struct.Struct("<21q")
GEOM_DTYPE = np.dtype({"names": ["raw"], "formats": [("V", _GEOM.size)], "itemsize": _GEOM.size})


def _front3(vals, fill: int) -> list:
    return [fill] * (3 - len(vals)) + [int(v) for v in vals]


def geom_params(b: int, c: int, spatial, kernel_size, outs, stride, padding, dilation, batch_first: bool) -> np.ndarray:
    """The ``ConvGeom`` argument: a one-element structured array CuPy passes by value."""
    n = len(kernel_size)
    if n > 3:
        raise RuntimeError(f"CUDA im2col supports 1-3 spatial dims, got {n}")
    packed = _GEOM.pack(b, c, *_front3(spatial, 1), *_front3(kernel_size, 1), *_front3(outs, 1),
                        *_front3(stride, 1), *_front3(padding, 0), *_front3(dilation, 1), int(bool(batch_first)))
    return np.frombuffer(bytearray(packed), dtype=GEOM_DTYPE)


def _out_sizes(spatial, kernel_size, dilation, padding, stride) -> tuple:
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                 for s, k, d, p, st in zip(spatial, kernel_size, dilation, padding, stride))


def im2col_fwd(x, kernel_size, dilation, padding, stride, batch_first: bool, outs=None):
    """Columns of ``x`` (B, C, *S): (B, C, *k, *O) when ``batch_first`` else (C, *k, B, *O)."""
    cp = _cupy()
    with x.device:
        x = contiguous(x)
        b, c, *spatial = x.shape
        outs = tuple(outs or _out_sizes(spatial, kernel_size, dilation, padding, stride))
        shape = (b, c) + tuple(kernel_size) + outs if batch_first else (c,) + tuple(kernel_size) + (b,) + outs
        cols = cp.empty(shape, dtype=x.dtype)
        if cols.size == 0:
            return cols
        blocks, threads = launch_config(cols.size)
        get_kernel("conv", f"im2col_fwd_{dtype_name(x.dtype)}", x.device.id)(
            (blocks,), (threads,),
            (cols, x, geom_params(b, c, spatial, kernel_size, outs, stride, padding, dilation, batch_first)))
        return cols


def col2im_fwd(cols, spatial, kernel_size, dilation, padding, stride, batch_first: bool):
    """The (B, C, *spatial) image whose im2col ``cols`` is the adjoint of: overlapping windows summed."""
    cp = _cupy()
    n = len(kernel_size)
    with cols.device:
        cols = contiguous(cols)
        if batch_first:
            b, c = cols.shape[:2]
        else:
            c, b = cols.shape[0], cols.shape[n + 1]
        outs = cols.shape[-n:]
        x = cp.empty((b, c) + tuple(spatial), dtype=cols.dtype)
        if x.size == 0:
            return x
        if cols.size == 0:
            x.fill(0)
            return x
        blocks, threads = launch_config(x.size)
        get_kernel("conv", f"col2im_fwd_{dtype_name(cols.dtype)}", cols.device.id)(
            (blocks,), (threads,),
            (x, cols, geom_params(b, c, spatial, kernel_size, outs, stride, padding, dilation, batch_first)))
        return x
