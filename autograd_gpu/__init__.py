"""autograd_gpu: define-by-run autograd on NumPy (CPU) and our own CUDA kernels (CuPy).

The public API follows PyTorch's names and semantics: ``import autograd_gpu as ag``.
"""
from __future__ import annotations

from . import dtypes as _dtypes
from .dtypes import (DType as dtype, bool, double, float, float16, float32, float64, get_default_dtype,  # noqa: A004
                     half, int, int8, int16, int32, int64, long, set_default_dtype, short, uint8)
from .device import Device as device
from .tensor import Tensor
from . import ops as _ops
from .ops import *  # noqa: F401,F403 - every op function, as listed by the ops modules
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import autograd, cuda, nn, utils

__version__ = "0.1.0"


def is_tensor(obj) -> "builtins.bool":
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> "builtins.int":
    return t.numel()
