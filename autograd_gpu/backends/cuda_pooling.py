"""Launchers of ``kernels/pooling.cu``: max/avg pooling forward and backward, adaptive max pooling,
and the per-plane gather/scatter by flat indices (max_unpool, max-pool double backward).

Every op arrives as ``(B, *spatial)`` with 1-3 spatial dims; the launcher pads the geometry to 3-D
(leading size-1 axes) and passes it by value as ``PoolParams`` (22 int64). Importing this module
does not import CuPy: ``launcher(name)`` resolves on its first call.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .cuda import lazy

PARAMS_DTYPE = np.dtype([("v", np.int64, (22,))])   # struct PoolParams in pooling.cu


def pool_params(B: int, S: tuple, O: tuple, k=(), s=(), p=(), d=(), cip: bool = True, divisor=None) -> np.ndarray:
    """PoolParams {B, count_include_pad, divisor (0: none), pad, in[3], out[3], k[3], s[3], p[3], d[3]}."""
    n = len(S)

    def three(v, fill):
        v = tuple(v) if len(v) else (fill,) * n
        return [fill] * (3 - n) + list(v)
    vals = [B, int(bool(cip)), int(divisor or 0), 0] + three(S, 1) + three(O, 1) + three(k, 1) + three(s, 1) + \
        three(p, 0) + three(d, 1)
    out = np.zeros(1, PARAMS_DTYPE)
    out["v"][0] = vals
    return out


def _impl(name: str) -> Callable:
    from .cuda_copy import _as_dtype, contiguous
    from .cuda_plan import launch_config
    from .cupy_backend import _cupy, _max_blocks, dtype_name, get_kernel
    cp = _cupy()

    def i64(idx):
        """The kernels read ``const long long* idx``; max_unpool passes the user's indices of any integer dtype."""
        return contiguous(_as_dtype(idx, np.dtype(np.int64)))

    def launch(kname, ref, n, *args):
        dev = ref.device.id
        if n == 0:
            return
        fn = get_kernel("pooling", f"{kname}_{dtype_name(ref.dtype)}", dev)
        blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
        fn((blocks,), (threads,), args)

    def max_pool_fwd(x, k, s, p, d, O):
        with x.device:
            x = contiguous(x)
            B = x.shape[0]
            v = cp.empty((B,) + tuple(O), x.dtype)
            i = cp.empty((B,) + tuple(O), np.int64)
            launch("max_pool_fwd", x, v.size, v, i, x, pool_params(B, x.shape[1:], O, k, s, p, d))
            return v, i

    def max_pool_bwd(g, idx, S, k, s, p, d):
        with g.device:
            g, idx = contiguous(g), i64(idx)
            B = g.shape[0]
            gx = cp.empty((B,) + tuple(S), g.dtype)
            launch("max_pool_bwd", g, gx.size, gx, g, idx, pool_params(B, S, g.shape[1:], k, s, p, d))
            return gx

    def avg_pool_fwd(x, k, s, p, O, cip, div):
        with x.device:
            x = contiguous(x)
            B = x.shape[0]
            out = cp.empty((B,) + tuple(O), x.dtype)
            launch("avg_pool_fwd", x, out.size, out, x, pool_params(B, x.shape[1:], O, k, s, p, (), cip, div))
            return out

    def avg_pool_bwd(g, S, k, s, p, cip, div):
        with g.device:
            g = contiguous(g)
            B = g.shape[0]
            gx = cp.empty((B,) + tuple(S), g.dtype)
            launch("avg_pool_bwd", g, gx.size, gx, g, pool_params(B, S, g.shape[1:], k, s, p, (), cip, div))
            return gx

    def adaptive_max_pool_fwd(x, O):
        with x.device:
            x = contiguous(x)
            B = x.shape[0]
            v = cp.empty((B,) + tuple(O), x.dtype)
            i = cp.empty((B,) + tuple(O), np.int64)
            launch("adaptive_max_pool_fwd", x, v.size, v, i, x, pool_params(B, x.shape[1:], O))
            return v, i

    def pool_gather_fwd(x, idx):
        with x.device:
            x, idx = contiguous(x), i64(idx)
            out = cp.empty(idx.shape, x.dtype)
            launch("pool_gather_fwd", x, out.size, out, x, idx, np.int64(out.size),
                   np.int64(math.prod(x.shape[1:])), np.int64(math.prod(idx.shape[1:])))
            return out

    def _scatter(kname):
        def run(x, idx, S):
            with x.device:
                x, idx = contiguous(x), i64(idx)
                B = x.shape[0]
                out = cp.zeros((B,) + tuple(S), x.dtype)
                launch(kname, x, x.size, out, x, idx, np.int64(x.size), np.int64(math.prod(x.shape[1:])),
                       np.int64(math.prod(S)))
                return out
        return run

    impls = {"max_pool_fwd": max_pool_fwd, "max_pool_bwd": max_pool_bwd, "avg_pool_fwd": avg_pool_fwd,
             "avg_pool_bwd": avg_pool_bwd, "adaptive_max_pool_fwd": adaptive_max_pool_fwd,
             "pool_gather_fwd": pool_gather_fwd, "pool_scatter_fwd": _scatter("pool_scatter_fwd"),
             "pool_scatter_add_fwd": _scatter("pool_scatter_add_fwd")}
    return impls[name]


def launcher(name: str) -> Callable:
    """The CuPy implementation of ``name`` (same signature as the NumPy one), built on first call."""
    return lazy(lambda: _impl(name), f"cuda_pooling_{name}", "pooling")
