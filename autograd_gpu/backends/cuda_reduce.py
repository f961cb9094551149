"""Launchers of ``kernels/reduce.cu``: ``reduce`` (sum, prod, amax, amin) and ``arg_reduce`` (max, min).

Block-level tree reductions: ``plan_reduce`` picks rows (one block per row) or cols (one
thread per output) mode, and ``plan_split`` splits long rows over a second launch when
there are too few rows to fill the SMs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, _cast, _copy, _copy_to, contiguous
from .cuda_plan import (_NARROW, block_size, launch_config, normalize_axes, outer_len_inner, plan_reduce,
                        plan_split)
from .cupy_backend import _cupy, _estrides, _max_blocks, _sm_count, dtype_name, get_kernel

_SUM_LIKE = {"sum_fwd", "prod_fwd"}


def _reduce_dtypes(kernel: str, dt: np.dtype) -> tuple[np.dtype, np.dtype]:
    """(output dtype, accumulator dtype) of a reduction kernel on input dtype ``dt``."""
    if dt == np.float16:
        return dt, np.dtype(np.float32)
    if kernel in _SUM_LIKE and dt.kind in "iub":
        return np.dtype(np.int64), np.dtype(np.int64)
    return dt, dt


def reduce(kernel: str) -> Callable:
    """``impl(x, axes, keepdims, acc=False)``: sum_fwd, prod_fwd, amax_fwd, amin_fwd over any set of axes;
    ``acc=True`` returns the accumulator dtype (float32 for float16) instead of the output dtype."""
    cp = _cupy()

    def impl(x, axes, keepdims: bool = False, acc: bool = False):
        wide = _NARROW.get(x.dtype)
        if wide is not None:   # no int8/uint8/int16 kernels; sum/prod give int64 anyway
            if kernel in _SUM_LIKE:
                return impl(_as_dtype(x, np.dtype(np.int64)), axes, keepdims)
            return _as_dtype(impl(_as_dtype(x, wide), axes, keepdims), x.dtype)
        ax = normalize_axes(axes, x.ndim)
        out_dt, acc_dt = _reduce_dtypes(kernel, x.dtype)
        if acc:   # the result in the accumulator dtype (float16 -> float32) for composites like mean
            out_dt = acc_dt
        fin = np.int32(1 if acc else 0)
        out_shape = tuple(1 if d in ax else s for d, s in enumerate(x.shape)) if keepdims else \
            tuple(s for d, s in enumerate(x.shape) if d not in ax)
        dev = x.device.id
        with x.device:
            if not ax:   # reducing over no axis: a copy in the output dtype
                return (_cast(x, out_dt) if x.dtype != out_dt else _copy(x)).reshape(out_shape)
            plan = plan_reduce(tuple(x.shape), _estrides(x), ax)
            if plan["perm"] is not None:
                x = contiguous(x.transpose(plan["perm"]))
            outer, R, inner = plan["outer"], plan["R"], plan["inner"]
            n_out = outer * inner
            res = cp.empty(out_shape, dtype=out_dt)
            if n_out == 0:
                return res
            dn = dtype_name(x.dtype)
            fn = get_kernel("reduce", f"{kernel}_{dn}", dev)
            if plan["mode"] == "cols":
                blocks, threads = launch_config(n_out, max_blocks=_max_blocks(dev))
                fn((blocks,), (threads,), (res, x, np.int64(n_out), np.int64(R), np.int64(inner), np.int64(R),
                                           fin))
                return res
            chunk = plan_split(outer, R, _sm_count(dev))
            threads = block_size(chunk)
            if chunk >= R:
                blocks = min(outer, 65535 * 32)
                fn((blocks,), (threads,), (res, x, np.int64(outer), np.int64(R), np.int64(1), np.int64(R),
                                           fin))
                return res
            nchunks = -(-R // chunk)
            part = cp.empty((outer, nchunks), dtype=acc_dt)
            fn((min(outer * nchunks, 65535 * 32),), (threads,),
               (part, x, np.int64(outer * nchunks), np.int64(R), np.int64(1), np.int64(chunk), np.int32(1)))
            fn2 = get_kernel("reduce", f"{kernel}_{dtype_name(acc_dt)}", dev)
            tmp = res if acc_dt == out_dt else cp.empty(out_shape, dtype=acc_dt)
            fn2((min(outer, 65535 * 32),), (block_size(nchunks),),
                (tmp, part, np.int64(outer), np.int64(nchunks), np.int64(1), np.int64(nchunks), np.int32(0)))
            if tmp is not res:
                _copy_to(res, tmp)
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl


def arg_reduce(kernel: str) -> Callable:
    """``impl(x, axis, keepdims) -> (values, int64 indices)``: max_fwd / min_fwd (first index, NaN wins)."""
    cp = _cupy()

    def impl(x, axis, keepdims: bool = False):
        wide = _NARROW.get(x.dtype)
        if wide is not None:
            v, i = impl(_as_dtype(x, wide), axis, keepdims)
            return _as_dtype(v, x.dtype), i
        dev = x.device.id
        with x.device:
            if axis is None:
                out_shape = (1,) * x.ndim if keepdims else ()
                src = contiguous(x).reshape(-1)
                outer, R, inner = 1, src.size, 1
            else:
                ax = axis % max(x.ndim, 1)
                shape = tuple(x.shape) or (1,)
                out_shape = tuple(1 if d == ax else s for d, s in enumerate(x.shape)) if keepdims else \
                    tuple(s for d, s in enumerate(x.shape) if d != ax)
                src = contiguous(x)
                outer, R, inner = outer_len_inner(shape, ax)
            vals = cp.empty(out_shape, dtype=x.dtype)
            idx = cp.empty(out_shape, dtype=np.int64)
            rows = outer * inner
            if rows == 0:
                return vals, idx
            fn = get_kernel("reduce", f"{kernel}_{dtype_name(x.dtype)}", dev)
            fn((min(rows, 65535 * 32),), (block_size(R),),
               (vals, idx, src, np.int64(rows), np.int64(R), np.int64(inner)))
            return vals, idx

    impl.__name__ = f"cupy_{kernel}"
    return impl

