"""Elementwise ops: forward and backward for both backends, one block per op.

Each block: the NumPy line, the CUDA registration (kernel ``<op>_<fwd|bwd>_<dtype>``
in ``kernels/elementwise.cu``), and the Function. Fused backward kernels are ops
too (``TanhBackward`` has its own backward), so double backward stays exact.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel


# shared plumbing ------------------------------------------------------------------
def _operands(*xs) -> tuple:
    """Common dtype, the device-holding tensor, and each operand as an array of that dtype (or a scalar)."""
    check_same_device(*xs)
    dtype = _dt.result_type(*xs)
    ref = None
    shape = None
    for x in xs:
        if isinstance(x, Tensor):
            if ref is None or (ref._device.type == "cpu" and ref._data.ndim == 0):
                ref = x
            shape = x._data.shape if shape is None else broadcast_shapes(shape, x._data.shape)
    arrays = []
    for x in xs:
        if isinstance(x, Tensor):
            if x._device is not ref._device:   # a 0-dim CPU tensor used with a device tensor
                arrays.append(dtype.type(x._data.item()))
                continue
            d = x._data
            arrays.append(d if d.dtype == dtype else kernel("cast", x)(d, dtype))
        else:
            arrays.append(dtype.type(x))
    return dtype, ref, arrays


def run(op: str, *xs, **params) -> Tensor:
    """Run elementwise kernel ``op`` over tensors/scalars ``xs`` (promoted and broadcast)."""
    _, ref, arrays = _operands(*xs)
    return Tensor._make(kernel(op, ref)(*arrays, **params), ref._device)


def _unbroadcast(g: Tensor, like) -> Tensor | None:
    return g if isinstance(like, Tensor) else None


# add / sub -----------------------------------------------------------------------
register("add_fwd", "numpy", lambda x, y, a=1.0: np.add(x, y) if a == 1.0 else x + a * y)
register("add_fwd", "cupy", cuda.elementwise("add_fwd"))      # x + a * y


class Add(Function):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, x, y, alpha=1):
        ctx.alpha = alpha
        return run("add_fwd", x, y, a=alpha) if alpha != 1 else run("add_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        return (g if need[0] else None,
                (g if ctx.alpha == 1 else g * ctx.alpha) if need[1] else None, None)


def add(input, other, *, alpha=1) -> Tensor:
    return Add.apply(input, other, alpha)


register("sub_fwd", "numpy", lambda x, y, a=1.0: np.subtract(x, y) if a == 1.0 else x - a * y)
register("sub_fwd", "cupy", cuda.elementwise("sub_fwd"))      # x - a * y


class Sub(Function):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, x, y, alpha=1):
        ctx.alpha = alpha
        return run("sub_fwd", x, y, a=alpha) if alpha != 1 else run("sub_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        return g if need[0] else None, (-g if ctx.alpha == 1 else g * -ctx.alpha) if need[1] else None, None


def sub(input, other, *, alpha=1) -> Tensor:
    return Sub.apply(input, other, alpha)


# mul / div -----------------------------------------------------------------------
register("mul_fwd", "numpy", np.multiply)
register("mul_fwd", "cupy", cuda.elementwise("mul_fwd"))      # x * y


class Mul(Function):
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, x, y):
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] and isinstance(x, Tensor) else None,
                              y if need[0] and isinstance(y, Tensor) else None)
        ctx.x, ctx.y = (None if isinstance(x, Tensor) else x), (None if isinstance(y, Tensor) else y)
        return run("mul_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = g * (y if y is not None else ctx.y) if need[0] else None
        gy = g * (x if x is not None else ctx.x) if need[1] else None
        return gx, gy


def mul(input, other) -> Tensor:
    return Mul.apply(input, other)


# neg / exp -----------------------------------------------------------------------
register("neg_fwd", "numpy", np.negative)
register("neg_fwd", "cupy", cuda.elementwise("neg_fwd"))      # -x


class Neg(Function):
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, x):
        return run("neg_fwd", x)

    @staticmethod
    def backward(ctx, g):
        return -g


def neg(input) -> Tensor:
    return Neg.apply(input)


register("exp_fwd", "numpy", np.exp)
register("exp_fwd", "cupy", cuda.elementwise("exp_fwd"))      # exp(x)


class Exp(Function):
    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, x):
        y = run("exp_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def exp(input) -> Tensor:
    return Exp.apply(input)


METHODS = ("add", "sub", "mul", "neg", "exp")
