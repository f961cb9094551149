"""Launcher of ``kernels/random.cu``: Philox4x32-10 uniform/normal/randint draws and dropout.

Every kernel takes (seed, offset) by value; element i uses Philox block ``offset + i`` (dropout:
``offset + i // group``). The caller (``_CudaGenerator`` or dropout's Function) owns the offsets.
"""
from __future__ import annotations

import numpy as np

from .cuda_copy import contiguous
from .cupy_backend import _cupy, dtype_name, get_kernel

_BLOCK = 256


def _grid(n: int) -> tuple:
    return (max(1, min((n + _BLOCK - 1) // _BLOCK, 65535 * 8)),)


def _u64(v: int) -> np.uint64:
    return np.uint64(int(v) % (1 << 64))


def uniform(dev: int, shape: tuple, dtype, seed: int, offset: int):
    """A new array of ``shape`` with values in [0, 1)."""
    return _draw("uniform_fwd", dev, shape, dtype, seed, offset)


def normal(dev: int, shape: tuple, dtype, seed: int, offset: int):
    """A new array of ``shape``, standard normal."""
    return _draw("normal_fwd", dev, shape, dtype, seed, offset)


def _draw(kernel: str, dev: int, shape: tuple, dtype, seed: int, offset: int):
    cp = _cupy()
    with cp.cuda.Device(dev):
        out = cp.empty(shape, dtype=dtype)
        if out.size:
            fn = get_kernel("random", f"{kernel}_{dtype_name(out.dtype)}", dev)
            fn(_grid(out.size), (_BLOCK,), (out, np.int64(out.size), _u64(seed), _u64(offset)))
        return out


def randint(dev: int, shape: tuple, low: int, high: int, seed: int, offset: int):
    """A new int64 array of ``shape`` with values in [low, high)."""
    cp = _cupy()
    with cp.cuda.Device(dev):
        out = cp.empty(shape, dtype=np.int64)
        if out.size:
            fn = get_kernel("random", "randint_fwd_int64", dev)
            fn(_grid(out.size), (_BLOCK,), (out, np.int64(out.size), np.int64(low), _u64(high - low),
                                            _u64(seed), _u64(offset)))
        return out


def dropout_fwd(x, group: int, p: float, scale: float, shift: float, fill: float, seed: int, offset: int):
    """``keep ? x * scale + shift : fill`` with the mask of (seed, offset), ``group`` elements per draw."""
    cp = _cupy()
    with x.device:
        x = contiguous(x)
        out = cp.empty(x.shape, dtype=x.dtype)
        if out.size:
            fn = get_kernel("random", f"dropout_fwd_{dtype_name(x.dtype)}", x.device.id)
            fn(_grid(out.size), (_BLOCK,), (out, x, np.int64(out.size), np.int64(group), np.float32(p),
                                            np.float64(scale), np.float64(shift), np.float64(fill),
                                            _u64(seed), _u64(offset)))
        return out


def dropout_bwd(g, group: int, p: float, scale: float, seed: int, offset: int):
    """``keep ? g * scale : 0``: the forward's mask, regenerated from (seed, offset)."""
    cp = _cupy()
    with g.device:
        g = contiguous(g)
        out = cp.empty(g.shape, dtype=g.dtype)
        if out.size:
            fn = get_kernel("random", f"dropout_bwd_{dtype_name(g.dtype)}", g.device.id)
            fn(_grid(out.size), (_BLOCK,), (out, g, np.int64(out.size), np.int64(group), np.float32(p),
                                            np.float64(scale), _u64(seed), _u64(offset)))
        return out
