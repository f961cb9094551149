"""autograd_gpu: define-by-run autograd on NumPy (CPU) and our own CUDA kernels (CuPy).

The public API follows PyTorch's names and semantics: ``import autograd_gpu as ag``.
"""
from __future__ import annotations

from . import dtypes as _dtypes
from .dtypes import (DType as dtype, bool, double, float, float16, float32, float64, get_default_dtype,  # noqa: A004
                     half, int, int8, int16, int32, int64, long, set_default_dtype, short, uint8)
from .device import Device as device
from .dispatch import OutOfMemoryError
from .tensor import Tensor
from . import api as _api  # noqa: F401 - binds Tensor methods, operators and ag.autograd's functions
from .ops import registry as _registry
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import autograd, cuda, nn, optim, utils
from .serialization import load, save

globals().update(_registry.FUNCTIONS)   # ag.<op> for every op declared with a function

__version__ = "0.1.0"


def is_tensor(obj) -> "builtins.bool":
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> "builtins.int":
    return t.numel()
