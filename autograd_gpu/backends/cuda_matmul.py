"""``matmul``: cuBLAS through ``cupy.matmul`` (the one launch that is not our kernel)."""
from __future__ import annotations

from typing import Callable

from .cuda_copy import contiguous
from .cupy_backend import _cupy


def matmul(kernel: str = "matmul") -> Callable:
    """cuBLAS through ``cupy.matmul`` on the operands' device; float operands made contiguous."""
    cp = _cupy()

    def impl(a, b):
        with a.device:
            if a.dtype.kind == "f" and not (a.flags.c_contiguous or a.flags.f_contiguous):
                a = contiguous(a)
            if b.dtype.kind == "f" and not (b.flags.c_contiguous or b.flags.f_contiguous):
                b = contiguous(b)
            return cp.matmul(a, b)

    impl.__name__ = "cupy_matmul"
    return impl

