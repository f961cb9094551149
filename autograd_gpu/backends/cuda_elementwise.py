"""Launcher of ``kernels/elementwise.cu`` and the other files built on ``elementwise.cuh``:
``elementwise(kernel, out=None, file="elementwise")``.

Inputs of any strides are broadcast through the shape/stride struct (no materialised
expansion unless more than ``MAX_DIMS`` dims stay after collapsing); inputs that are all
C-contiguous in the output's shape take the linear path, by 4 when aligned. Python scalars
as elementwise inputs travel inside the parameter struct (a bit in ``scalar_mask`` and the
value in ``fs``/``is``), never as device allocations.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .cuda_copy import _as_dtype, contiguous
from .cuda_plan import (MAX_DIMS, MAX_IN, _NARROW, broadcast_shape, broadcast_strides, c_strides, collapse_dims,
                        ew_params, launch_config, scalar_slots)
from .cupy_backend import _cupy, _estrides, _max_blocks, dtype_name, get_kernel

_EW_DEFAULTS = {"add_fwd": (1.0, 0.0), "sub_fwd": (1.0, 0.0), "clamp_fwd": (-math.inf, math.inf),
                "clamp_bwd": (-math.inf, math.inf), "softplus_fwd": (1.0, 20.0), "softplus_bwd": (1.0, 20.0),
                "leaky_relu_fwd": (0.01, 0.0), "leaky_relu_bwd": (0.01, 0.0), "elu_fwd": (1.0, 0.0),
                "elu_bwd": (1.0, 0.0)}
# kernels whose first input has its own dtype (bool condition): the dtype suffix comes from the rest
_EW_FIRST_OWN_DTYPE = {"where_fwd": np.dtype(np.bool_)}


def elementwise(kernel: str, out: str | None = None, file: str = "elementwise") -> Callable:
    """``impl(*inputs, a=None, b=None)`` for ``kernels/<file>.cu``'s ``<kernel>_<dtype>``."""
    cp = _cupy()
    ndarray = cp.ndarray
    da, db = _EW_DEFAULTS.get(kernel, (0.0, 0.0))
    out_dt = None if out is None else np.dtype(out)
    first_dt = _EW_FIRST_OWN_DTYPE.get(kernel)
    kfirst = 0 if first_dt is None else 1

    def impl(*inputs, a=None, b=None):
        nin = len(inputs)
        if not 1 <= nin <= MAX_IN:
            raise TypeError(f"{kernel}: expected 1 to {MAX_IN} inputs, got {nin}")
        ref = None
        dt = None
        for k, x in enumerate(inputs):
            if isinstance(x, ndarray):
                if ref is None:
                    ref = x
                if dt is None and k >= kfirst:
                    dt = x.dtype
        if ref is None:
            raise TypeError(f"{kernel}: at least one input must be a CuPy array")
        if dt is None:
            x = inputs[kfirst] if nin > kfirst else inputs[0]
            dt = x.dtype if hasattr(x, "dtype") else np.result_type(x)
        if dt in _NARROW:   # int8/uint8/int16 have no kernels: compute in int32, wrap back on the cast
            res = impl(*(x if k < kfirst else _as_dtype(x, _NARROW[dt]) if isinstance(x, ndarray) else int(x)
                         for k, x in enumerate(inputs)), a=a, b=b)
            return res if out_dt is not None else _as_dtype(res, dt)
        dev = ref.device.id
        odt = out_dt or dt
        kinds = [(first_dt or dt).kind if k == 0 else dt.kind for k in range(nin)]
        with ref.device:
            arrays = []
            mask = 0
            fs = [0.0] * MAX_IN
            is_ = [0] * MAX_IN
            shapes = []
            for k, x in enumerate(inputs):
                if isinstance(x, ndarray):
                    want = first_dt if (k == 0 and first_dt is not None) else dt
                    if x.dtype != want:
                        x = _as_dtype(x, want)
                    if x.device.id != dev:
                        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                                           f"two devices, cuda:{dev} and cuda:{x.device.id}!")
                    arrays.append(x)
                    shapes.append(tuple(x.shape))
                else:
                    mask |= 1 << k
                    fs[k], is_[k] = scalar_slots(x, kinds[k])
                    arrays.append(None)
            shape = broadcast_shape(*shapes)
            res = cp.empty(shape, dtype=odt)
            n = res.size
            if n == 0:
                return res
            pa = da if a is None else a
            pb = db if b is None else b
            live = [x for x in arrays if x is not None]
            if all(tuple(x.shape) == shape and x.flags.c_contiguous for x in live):
                vec = all(x.data.ptr % (x.itemsize * 4) == 0 for x in live) and res.data.ptr % (res.itemsize * 4) == 0
                mode, cshape, cst = (2 if vec and n >= 4 else 1), (), []
                per = 4 if mode == 2 else 1
            else:
                sts = [broadcast_strides(tuple(x.shape), _estrides(x), shape) if x is not None else (0,) * len(shape)
                       for x in arrays]
                cshape, cst = collapse_dims(shape, sts)
                if len(cshape) > MAX_DIMS:   # too many dims to index in the kernel: materialise inputs
                    arrays = [contiguous(cp.broadcast_to(x, shape)) if x is not None else None for x in arrays]
                    sts = [c_strides(shape) if x is not None else (0,) * len(shape) for x in arrays]
                    cshape, cst = collapse_dims(shape, sts)
                mode, per = 0, 1
            fn = get_kernel(file, f"{kernel}_{dtype_name(dt)}", dev)
            blocks, threads = launch_config(n, per_thread=per, max_blocks=_max_blocks(dev))
            params = ew_params(n, mode, mask, pa, pb, fs, is_, cshape, cst)
            args = [res] + arrays + [None] * (MAX_IN - nin) + [params]
            fn((blocks,), (threads,), tuple(args))
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl

