"""Launcher of ``kernels/optim.cu``: the optimizers' multi-tensor updates.

One call updates a whole (device, dtype) group with ONE kernel launch: the device pointers, sizes
and per-tensor scalars of every parameter, gradient and state go into one int64 table (copied to
the device in one transfer) together with a chunk list; the kernel's blocks walk the chunks. The
per-tensor scalars (Adam's bias corrections, Adagrad's decayed lr) are computed here in double
from each parameter's host-side step, as PyTorch's non-capturable path does.

The Python signatures are those of the NumPy kernels in ``optim/_multi_tensor.py``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cupy_backend import _cupy, _max_blocks, dtype_name, get_kernel

REC = 8            # int64 words per tensor record (see kernels/optim.cu)
CHUNK = 1 << 16    # elements per chunk: enough work per block, fine-grained enough to balance


def _sgd(params, grads, bufs, fresh, lr, momentum, dampening, weight_decay, nesterov, maximize):
    n = len(params)
    return ([bufs if momentum != 0 else None, None, None], [0.0] * n,
            [1.0 if f else 0.0 for f in fresh] if momentum != 0 else [0.0] * n,
            (lr, momentum, dampening, weight_decay, 0.0), int(maximize) | int(nesterov) << 1)


def _adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay,
          amsgrad, maximize, decoupled):
    return ([exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None],
            [lr / (1 - beta1 ** s) for s in steps], [(1 - beta2 ** s) ** 0.5 for s in steps],
            (lr, beta1, beta2, eps, weight_decay), int(maximize) | int(amsgrad) << 1 | int(decoupled) << 2)


def _rmsprop(params, grads, square_avgs, grad_avgs, bufs, lr, alpha, eps, weight_decay, momentum, centered,
             maximize):
    n = len(params)
    return ([square_avgs, grad_avgs if centered else None, bufs if momentum > 0 else None], [0.0] * n, [0.0] * n,
            (lr, alpha, eps, weight_decay, momentum), int(maximize) | int(centered) << 1)


def _adagrad(params, grads, sums, steps, lr, lr_decay, weight_decay, eps, maximize):
    return ([sums, None, None], [lr / (1 + (s - 1) * lr_decay) for s in steps], [0.0] * len(params),
            (lr, 0.0, eps, weight_decay, 0.0), int(maximize))


_SPECS = {"sgd_step": _sgd, "adam_step": _adam, "rmsprop_step": _rmsprop, "adagrad_step": _adagrad}


def pack(ptrs: list[list[int]], sizes: list[int], a: list[float], b: list[float],
         chunk: int = CHUNK) -> tuple[np.ndarray, int]:
    """The host table: one record per tensor (5 pointers, numel, a, b as double bits), then the
    (tensor, start) pair of every chunk; returns (table, number of chunks). No CuPy needed."""
    n = len(sizes)
    rec = np.zeros((n, REC), dtype=np.int64)
    rec[:, :5] = np.asarray(ptrs, dtype=np.int64).reshape(n, 5)
    rec[:, 5] = sizes
    rec[:, 6] = np.asarray(a, dtype=np.float64).view(np.int64)
    rec[:, 7] = np.asarray(b, dtype=np.float64).view(np.int64)
    counts = [-(-s // chunk) for s in sizes]
    tid = np.repeat(np.arange(n, dtype=np.int64), counts)
    first = np.repeat(np.cumsum([0] + counts[:-1]), counts) if n else np.zeros(0, dtype=np.int64)
    start = (np.arange(len(tid), dtype=np.int64) - first) * chunk
    pairs = np.stack([tid, start], axis=1) if len(tid) else np.zeros((0, 2), dtype=np.int64)
    return np.concatenate([rec.ravel(), pairs.ravel()]), len(tid)


def multi_tensor(kernel: str) -> Callable:
    """``impl(params, grads, *states, *per-tensor lists, *options)`` for ``<kernel>_<dtype>``."""
    spec = _SPECS[kernel]

    def impl(params, grads, *rest):
        cp = _cupy()
        states, a, b, h, flags = spec(params, grads, *rest)
        x = params[0]
        dev = x.device.id
        with x.device:
            written = []   # (original, contiguous stand-in): copied back after the launch

            def fix(lst):
                if lst is None:
                    return None
                out = []
                for arr in lst:
                    if arr is not None and not arr.flags.c_contiguous:
                        c = cp.ascontiguousarray(arr)
                        written.append((arr, c))
                        arr = c
                    out.append(arr)
                return out
            cols = [fix(params), [cp.ascontiguousarray(g) for g in grads], *[fix(s) for s in states]]
            ptrs = [[0 if (col is None or col[j] is None) else col[j].data.ptr for col in cols]
                    for j in range(len(params))]
            table, n_chunks = pack(ptrs, [p.size for p in params], a, b)
            if n_chunks == 0:
                return
            meta = cp.asarray(table)
            fn = get_kernel("optim", f"{kernel}_{dtype_name(x.dtype)}", dev)
            fn((min(n_chunks, _max_blocks(dev)),), (256,),
               (meta, np.int32(len(params)), np.int32(n_chunks), np.int64(CHUNK),
                *[np.float64(v) for v in h], np.int32(flags)))
            for orig, c in written:
                orig[...] = c

    impl.__name__ = f"cuda_optim_{kernel}"
    return impl
