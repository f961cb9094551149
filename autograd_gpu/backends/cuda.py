"""Launchers for our CUDA kernels, safe to import without CuPy.

Ops register ``cuda.elementwise("exp_fwd")`` and friends as their ``cupy``
implementations; each returns a function that imports its family's launcher module
(``cuda_elementwise``, ``cuda_reduce``, ...: one per ``kernels/<family>.cu``) on its
first call, and CuPy with it.
"""
from __future__ import annotations

import importlib
from typing import Callable

# launcher family -> the module under backends/ that implements it (a function of that name)
_FAMILY_MODULES = {"elementwise": "cuda_elementwise", "reduce": "cuda_reduce", "arg_reduce": "cuda_reduce",
                   "scan": "cuda_scan", "softmax": "cuda_softmax", "index": "cuda_index", "copy": "cuda_copy",
                   "matmul": "cuda_matmul"}


def _family(family: str):
    """The launcher factory ``family`` of its module, imported now (CuPy is imported by its first call)."""
    mod = importlib.import_module(f".{_FAMILY_MODULES[family]}", __package__)
    return getattr(mod, family)


def lazy(build: Callable[[], Callable], name: str, kernel_file: str | None = None) -> Callable:
    """A function that calls ``build()`` on its first call (importing CuPy then) and forwards to
    what it returned from then on; ``name`` and ``kernel_file`` tell the tests which kernel it launches."""
    impl = None

    def run(*args, **kwargs):
        nonlocal impl
        if impl is None:
            impl = build()
        return impl(*args, **kwargs)
    run.__name__ = run.__qualname__ = name
    if kernel_file is not None:
        run.kernel_file = kernel_file
    return run


def _lazy(family: str, kernel: str, **opts) -> Callable:
    run = lazy(lambda: _family(family)(kernel, **opts), f"cuda_{family}_{kernel}")
    run.options = opts
    return run


def elementwise(kernel: str, out: str | None = None, file: str = "elementwise") -> Callable:
    """``impl(*inputs, a=0.0, b=0.0)`` runs ``kernels/<file>.cu``'s ``<kernel>_<dtype>`` (``file``: any
    kernel file built on ``elementwise.cuh``, one per op family).

    Inputs: CuPy arrays (any strides, broadcastable shapes) or Python scalars. Output:
    a new C-contiguous array of the broadcast shape, of the inputs' dtype (``out="bool"`` for
    comparisons). ``a``/``b`` are the kernel's scalar parameters (slope, bounds, exponent).
    """
    run = _lazy("elementwise", kernel, out=out, file=file)
    run.kernel_file = file
    return run


def reduce(kernel: str) -> Callable:
    """``impl(x, axes: tuple, keepdims: bool)`` over ``kernels/reduce.cu``: sum_fwd, prod_fwd, amax_fwd, amin_fwd."""
    return _lazy("reduce", kernel)


def arg_reduce(kernel: str) -> Callable:
    """``impl(x, axis: int | None, keepdims: bool) -> (values, int64 indices)``: max, min."""
    return _lazy("arg_reduce", kernel)


def scan(kernel: str) -> Callable:
    """``impl(x, axis: int)`` over ``kernels/scan.cu``: cumsum, cumprod."""
    return _lazy("scan", kernel)


def softmax(kernel: str) -> Callable:
    """``impl(x, axis)`` for softmax_fwd/log_softmax_fwd; ``impl(g, y, axis)`` for the _bwd kernels."""
    return _lazy("softmax", kernel)


def index(kernel: str) -> Callable:
    """Kernels of ``kernels/index.cu``; see ``cuda_index.index`` for each signature."""
    return _lazy("index", kernel)


def copy(kernel: str) -> Callable:
    """Kernels of ``kernels/copy.cu``: ``copy`` (strided -> contiguous), ``cast``, ``copy_into``,
    ``triangle`` (tril/triu)."""
    return _lazy("copy", kernel)


def matmul() -> Callable:
    """``impl(a, b)``: cuBLAS through ``cupy.matmul`` (the one op that is not our kernel)."""
    return _lazy("matmul", "matmul")
