"""Launcher of ``kernels/embedding.cu``: the row gather of ``F.embedding``, its scatter-add backward
(atomicAdd; float16 accumulates in a float32 buffer and is cast back), the per-row factors of the
double backward, and ``F.one_hot``."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, contiguous
from .cuda_index import check_index_flag, index_flag
from .cuda_plan import launch_config
from .cupy_backend import _cupy, dtype_name, get_kernel


def embedding_fwd(weight, indices, check: Callable[[int], Exception] | None = None):
    """``weight[indices]`` for a 2-D weight and int64 indices of any shape: shape ``indices.shape + (dim,)``.
    ``check(index)`` builds the exception for an out-of-range index (read back after the launch)."""
    cp = _cupy()
    dev = weight.device.id
    with weight.device:
        w = contiguous(weight)
        idx = contiguous(_as_dtype(indices, np.dtype(np.int64)))
        num, dim = w.shape
        out = cp.empty(idx.shape + (dim,), dtype=w.dtype)
        n = idx.size
        if n * dim == 0:
            return out
        err = index_flag(dev) if check is not None else None
        blocks, threads = launch_config(n * dim)
        get_kernel("embedding", f"embedding_fwd_{dtype_name(w.dtype)}", dev)(
            (blocks,), (threads,), (out, w, idx, np.int64(n), np.int64(dim), np.int64(num), err))
        if check is not None:
            check_index_flag(dev, check)
        return out


def embedding_bwd(grad, indices, num_weights: int, padding_idx: int, scale_grad_by_freq: bool):
    """The (num_weights, dim) gradient of the weight: rows of ``grad`` (shape ``indices.shape + (dim,)``)
    added at their indices, ``padding_idx``'s row left zero, divided by each index's count when
    ``scale_grad_by_freq``."""
    cp = _cupy()
    dev = grad.device.id
    with grad.device:
        idx = contiguous(_as_dtype(indices, np.dtype(np.int64))).reshape(-1)
        dim = grad.shape[-1]
        g = contiguous(grad).reshape(idx.size, dim)
        acc = np.float32 if g.dtype == np.float16 else g.dtype
        gw = cp.zeros((num_weights, dim), dtype=acc)
        n = idx.size
        if n * dim == 0:
            return _as_dtype(gw, g.dtype)
        counts = _counts(idx, num_weights) if scale_grad_by_freq else None
        blocks, threads = launch_config(n * dim)
        get_kernel("embedding", f"embedding_bwd_{dtype_name(g.dtype)}", dev)(
            (blocks,), (threads,), (gw, g, idx, counts, np.int64(n), np.int64(dim), np.int64(padding_idx)))
        return gw if gw.dtype == g.dtype else _as_dtype(gw, g.dtype)


def _counts(idx, num: int):
    """int32 occurrences of each index in [0, num) of the flat int64 ``idx`` (``embedding_count_int32``)."""
    cp = _cupy()
    counts = cp.zeros(num, dtype=np.int32)
    if idx.size:
        blocks, threads = launch_config(idx.size)
        get_kernel("embedding", "embedding_count_int32", idx.device.id)(
            (blocks,), (threads,), (counts, idx, np.int64(idx.size), np.int64(num)))
    return counts


def embedding_row_factor(indices, num_weights: int, padding_idx: int, scale_grad_by_freq: bool, dtype):
    """Per-index factor of shape ``indices.shape``: 0 at ``padding_idx``, else 1 (or 1/count with
    ``scale_grad_by_freq``), in ``dtype``."""
    cp = _cupy()
    with indices.device:
        idx = contiguous(_as_dtype(indices, np.dtype(np.int64)))
        out = cp.empty(idx.shape, dtype=dtype)
        if idx.size == 0:
            return out
        counts = _counts(idx.reshape(-1), num_weights) if scale_grad_by_freq else None
        blocks, threads = launch_config(idx.size)
        get_kernel("embedding", f"embedding_row_factor_{dtype_name(out.dtype)}", idx.device.id)(
            (blocks,), (threads,), (out, idx, counts, np.int64(idx.size), np.int64(padding_idx)))
        return out


def one_hot_fwd(indices, num_classes: int):
    """int64 ``indices.shape + (num_classes,)`` with a 1 at each index (checked by the op beforehand)."""
    cp = _cupy()
    with indices.device:
        idx = contiguous(indices)
        out = cp.empty(idx.shape + (num_classes,), dtype=np.int64)
        if out.size:
            blocks, threads = launch_config(out.size)
            get_kernel("embedding", "one_hot_fwd_int64", idx.device.id)(
                (blocks,), (threads,), (out, idx, np.int64(idx.size), np.int64(num_classes)))
        return out
