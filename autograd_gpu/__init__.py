"""autograd_gpu: define-by-run autograd on NumPy (CPU) and our own CUDA kernels (CuPy).

The public API follows PyTorch's names and semantics: ``import autograd_gpu as ag``.
"""
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
from .printing import set_printoptions
from .serialization import load, save

globals().update(_registry.FUNCTIONS)   # ag.<op> for every op declared with a function


def _version() -> str:
    """The installed distribution's version; pyproject.toml's (the one place it is written) when
    this is a checkout used without installing it."""
    import importlib.metadata
    try:
        return importlib.metadata.version("autograd-gpu")
    except importlib.metadata.PackageNotFoundError:
        import pathlib
        import re
        pyproject = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
        m = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M) if pyproject.is_file() else None
        return m.group(1) if m else "0+unknown"


__version__ = _version()


def is_tensor(obj) -> "builtins.bool":
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> "builtins.int":
    return t.numel()


# What ``from autograd_gpu import *`` binds and what the package promises: PyTorch's top-level
# names we implement. The layers below (``ops``, ``engine``, ``dispatch``, ...) stay importable
# as ``autograd_gpu.<layer>`` but are not the API.
__all__ = sorted({*_registry.FUNCTIONS,
                  *(n for n, v in vars(_dtypes).items() if isinstance(v, dtype) and not n.startswith("_")),
                  "get_default_dtype", "set_default_dtype", "dtype", "device", "Tensor", "OutOfMemoryError",
                  "enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
                  "autograd", "cuda", "distributed", "nn", "optim", "utils", "load", "save", "is_tensor", "numel",
                  "set_printoptions"})
