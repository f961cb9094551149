"""Launchers for our CUDA kernels, safe to import without CuPy.

Ops register ``cuda.elementwise("exp_fwd")`` and friends as their ``cupy``
implementations; each returns a function that imports the CuPy backend on its
first call. The launch plumbing itself lives in ``cupy_backend``.
"""
from __future__ import annotations

from typing import Callable

_mod = None


def _backend():
    global _mod
    if _mod is None:
        from . import cupy_backend
        _mod = cupy_backend
    return _mod


def _lazy(family: str, kernel: str, **opts) -> Callable:
    impl = None

    def run(*args, **kwargs):
        nonlocal impl
        if impl is None:
            impl = getattr(_backend(), family)(kernel, **opts)
        return impl(*args, **kwargs)
    run.__name__ = f"cuda_{family}_{kernel}"
    run.__qualname__ = run.__name__
    return run


def elementwise(kernel: str, out: str | None = None) -> Callable:
    """``impl(*inputs, a=0.0, b=0.0)`` runs ``kernels/elementwise.cu``'s ``<kernel>_<dtype>``.

    Inputs: CuPy arrays (any strides, broadcastable shapes) or Python scalars. Output:
    a new C-contiguous array of the broadcast shape, of the inputs' dtype (``out="bool"`` for
    comparisons). ``a``/``b`` are the kernel's scalar parameters (slope, bounds, exponent).
    """
    return _lazy("elementwise", kernel, out=out)


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
    """Kernels of ``kernels/index.cu``; see ``cupy_backend.index`` for each signature."""
    return _lazy("index", kernel)


def copy(kernel: str) -> Callable:
    """Kernels of ``kernels/copy.cu``: ``copy`` (strided -> contiguous), ``cast``, ``copy_into``,
    ``triangle`` (tril/triu)."""
    return _lazy("copy", kernel)


def matmul() -> Callable:
    """``impl(a, b)``: cuBLAS through ``cupy.matmul`` (the one op that is not our kernel)."""
    return _lazy("matmul", "matmul")
