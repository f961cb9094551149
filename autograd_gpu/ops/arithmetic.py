"""Arithmetic: add, sub, mul, div, floor_divide, remainder, neg, abs, sign, rounding, pow.

One block per op: the NumPy line, the CUDA registration (kernel ``<op>_<fwd|bwd>_<dtype>`` in
``kernels/elementwise.cu``), the Function. Fused backward kernels are ops with their own backward.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel
from .elementwise import (_INF, _SCALARS, ElementwiseFunction, FusedBackward, _is_bool, _on_device_of, _same, _xp,
                          _xp_ufunc, _zero_grads, run, run_float)
from .unary import log



# add / sub -----------------------------------------------------------------------
register("add_fwd", "numpy", lambda x, y, a=1.0: np.add(x, y) if a == 1.0 else x + a * y)
register("add_fwd", "cupy", cuda.elementwise("add_fwd"))      # x + a * y


class Add(ElementwiseFunction):
    kernel_op = "add_fwd"
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, x, y, alpha=1):
        if alpha != 1:   # the fast path, which runs no forward, takes two operands only
            ctx.alpha = alpha
            return run("add_fwd", x, y, a=alpha)
        return run("add_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        alpha = getattr(ctx, "alpha", 1)
        need = ctx.needs_input_grad
        return g if need[0] else None, (g if alpha == 1 else g * alpha) if need[1] else None, None


# acc + g into acc, which the caller alone holds (the engine's running gradient sums); CUDA
# kernels always write a fresh output, so there it is acc + g in a new array
_cuda_add = cuda.elementwise("add_fwd")
register("add_into", "numpy", lambda acc, g: np.add(acc, g, out=acc))
register("add_into", "cupy", lambda acc, g: _cuda_add(acc, g))


def add(input, other, *, alpha=1) -> Tensor:
    return Add._direct(input, other) if alpha == 1 else Add.apply(input, other, alpha)


register("sub_fwd", "numpy", lambda x, y, a=1.0: np.subtract(x, y) if a == 1.0 else x - a * y)
register("sub_fwd", "cupy", cuda.elementwise("sub_fwd"))      # x - a * y


class Sub(ElementwiseFunction):
    kernel_op = "sub_fwd"
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, x, y, alpha=1):
        if _is_bool(x) or _is_bool(y):
            if _is_bool(x) and _is_bool(y):
                raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                                   "Use the `^` or `logical_xor()` operator instead.")
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you "
                               "are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        if alpha != 1:   # as in Add
            ctx.alpha = alpha
            return run("sub_fwd", x, y, a=alpha)
        return run("sub_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        alpha = getattr(ctx, "alpha", 1)
        need = ctx.needs_input_grad
        return g if need[0] else None, (-g if alpha == 1 else g * -alpha) if need[1] else None, None


def sub(input, other, *, alpha=1) -> Tensor:
    return Sub._direct(input, other) if alpha == 1 else Sub.apply(input, other, alpha)


# mul / div -----------------------------------------------------------------------
register("mul_fwd", "numpy", np.multiply)
register("mul_fwd", "cupy", cuda.elementwise("mul_fwd"))      # x * y


class Mul(ElementwiseFunction):
    kernel_op = "mul_fwd"
    node_name = "MulBackward0"
    saves = ((0, 1), (1, 0))   # each operand only for the other's gradient

    @staticmethod
    def forward(ctx, x, y):
        return run("mul_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return g * y if need[0] else None, g * x if need[1] else None


def mul(input, other) -> Tensor:
    return Mul._direct(input, other)


register("div_fwd", "numpy", np.true_divide)
register("div_fwd", "cupy", cuda.elementwise("div_fwd"))      # x / y


class Div(ElementwiseFunction):
    kernel_op = "div_fwd"
    node_name = "DivBackward0"
    saves = ((0, 1), 1)

    @staticmethod
    def forward(ctx, x, y):
        return run_float("div_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (div(g, y) if need[0] else None,
                DivBackwardY.apply(g, x, y) if need[1] else None)


register("div_bwd_y", "numpy", lambda g, x, y: -g * x / (y * y))
register("div_bwd_y", "cupy", cuda.elementwise("div_bwd_y"))  # -g x / y^2


class DivBackwardY(ElementwiseFunction):
    kernel_op = "div_bwd_y"
    node_name = "DivBackwardBackward0"
    saves = (0, 1, 2)

    @staticmethod
    def forward(ctx, g, x, y):
        return run_float("div_bwd_y", g, x, y)

    @staticmethod
    def backward(ctx, gg):
        g, x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (DivBackwardY.apply(gg, x, y) if need[0] else None,
                DivBackwardY.apply(gg, g, y) if need[1] else None,
                gg * g * x * 2 / (y * y * y) if need[2] else None)


def _div_trunc(xp, x, y):
    if xp.result_type(x, y).kind == "f":
        return xp.trunc(xp.true_divide(x, y))
    return xp.floor_divide(xp.abs(x), xp.abs(y)) * xp.sign(x) * xp.sign(y)


register("div_trunc_fwd", "numpy", lambda x, y: _div_trunc(np, x, y))
register("div_trunc_fwd", "cupy", lambda x, y: _on_device_of(x, y, _div_trunc, _xp(), x, y))   # no kernel yet


class DivRounding(Function):
    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, x, y, mode):
        return run("floor_divide_fwd" if mode == "floor" else "div_trunc_fwd", x, y)

    backward = staticmethod(_zero_grads)


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give floats); ``rounding_mode`` 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        return Div._direct(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    return DivRounding.apply(input, other, rounding_mode)


def true_divide(input, other) -> Tensor:
    return Div._direct(input, other)


register("floor_divide_fwd", "numpy", np.floor_divide)
register("floor_divide_fwd", "cupy", cuda.elementwise("floor_divide_fwd"))   # floor(x / y)


def floor_divide(input, other) -> Tensor:
    return DivRounding.apply(input, other, "floor")


register("remainder_fwd", "numpy", np.remainder)
register("remainder_fwd", "cupy", cuda.elementwise("remainder_fwd"))   # x - floor(x/y) y


class Remainder(ElementwiseFunction):
    kernel_op = "remainder_fwd"
    node_name = "RemainderBackward0"
    saves = ((0, 1), (1, 1))

    @staticmethod
    def forward(ctx, x, y):
        return run("remainder_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return g if need[0] else None, -g * floor_divide(x, y) if need[1] else None


def remainder(input, other) -> Tensor:
    """Python's ``%``: the result has the sign of the divisor."""
    return Remainder._direct(input, other)


# neg / abs / sign ------------------------------------------------------------------
register("neg_fwd", "numpy", np.negative)
register("neg_fwd", "cupy", cuda.elementwise("neg_fwd"))      # -x


class Neg(ElementwiseFunction):
    kernel_op = "neg_fwd"
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are "
                               "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        return _same("neg_fwd", x)

    @staticmethod
    def backward(ctx, g):
        return -g


def neg(input) -> Tensor:
    return Neg._direct(input)


negative = neg

register("abs_fwd", "numpy", np.abs)
register("abs_fwd", "cupy", cuda.elementwise("abs_fwd"))      # |x|


class Abs(ElementwiseFunction):
    kernel_op = "abs_fwd"
    node_name = "AbsBackward0"
    saves = (0,)

    @staticmethod
    def forward(ctx, x):
        return _same("abs_fwd", x) if x._data.dtype.kind != "b" else Tensor._make(x._data.copy(), x._device)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return AbsBackward._direct(g, x)


register("abs_bwd", "numpy", lambda g, x: g * np.sign(x))
register("abs_bwd", "cupy", cuda.elementwise("abs_bwd"))      # g sign(x)


class AbsBackward(FusedBackward):
    kernel_op = "abs_bwd"
    node_name = "AbsBackwardBackward0"
    saves = (1,)

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        return AbsBackward._direct(gg, x) if ctx.needs_input_grad[0] else None, None


def abs(input) -> Tensor:
    return Abs._direct(input)


absolute = abs

register("sign_fwd", "numpy", np.sign)
register("sign_fwd", "cupy", cuda.elementwise("sign_fwd"))    # -1, 0, 1


class Sign(Function):
    node_name = "SignBackward0"

    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind == "b":
            return Tensor._make(x._data.copy(), x._device)
        return _same("sign_fwd", x)

    backward = staticmethod(_zero_grads)


def sign(input) -> Tensor:
    return Sign.apply(input)


# rounding: floor / ceil / round / trunc (zero gradient; integers pass through) -----
for _name in ("floor", "ceil", "trunc"):
    register(f"{_name}_fwd", "numpy", getattr(np, _name))
    register(f"{_name}_fwd", "cupy", _xp_ufunc(_name))        # no kernel in KERNELS.md yet
register("round_fwd", "numpy", lambda x, decimals=0: np.round(x, decimals))
register("round_fwd", "cupy", lambda x, decimals=0: _on_device_of(x, x, _xp().round, x, decimals))


class _Rounding(Function):
    op = ""

    @classmethod
    def forward(cls, ctx, x, **params):
        if x._data.dtype.kind != "f":
            return Tensor._make(kernel("copy", x)(x._data), x._device)
        return _same(cls.op, x, **params)

    backward = staticmethod(_zero_grads)


class Floor(_Rounding):
    node_name = "FloorBackward0"
    op = "floor_fwd"


class Ceil(_Rounding):
    node_name = "CeilBackward0"
    op = "ceil_fwd"


class Trunc(_Rounding):
    node_name = "TruncBackward0"
    op = "trunc_fwd"


class Round(_Rounding):
    node_name = "RoundBackward0"
    op = "round_fwd"


def floor(input) -> Tensor:
    return Floor.apply(input)


def ceil(input) -> Tensor:
    return Ceil.apply(input)


def trunc(input) -> Tensor:
    return Trunc.apply(input)


fix = trunc


def round(input, *, decimals: int = 0) -> Tensor:
    """Round half to even, as PyTorch."""
    return Round.apply(input, decimals=decimals) if decimals else Round.apply(input)


# pow / square -------------------------------------------------------------------
register("pow_fwd", "numpy", np.power)
register("pow_fwd", "cupy", cuda.elementwise("pow_fwd"))      # x^y (float dtypes)
register("pow_int_fwd", "numpy", np.power)
register("pow_int_fwd", "cupy", _xp_ufunc("power"))            # integer pow: no kernel in KERNELS.md yet


def _pow_fwd(base, exponent) -> Tensor:
    if type(exponent) in _SCALARS and type(base) is Tensor and base._data.dtype.kind == "f":
        return run("pow_fwd", base, exponent)
    dtype = _dt.result_type(base, exponent)
    if dtype.kind == "f":
        return run("pow_fwd", base, exponent)
    neg = (exponent < 0) if not isinstance(exponent, Tensor) else \
        builtins.bool((exponent._data < 0).any()) if exponent._data.dtype.kind == "i" else False
    if neg:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return run("pow_int_fwd", base, exponent)


class PowScalar(ElementwiseFunction):
    kernel_op = "pow_fwd"
    node_name = "PowBackward0"
    saves = (0, 1)

    @staticmethod
    def forward(ctx, x, e):
        return _pow_fwd(x, e)

    @staticmethod
    def backward(ctx, g):
        x, e = ctx.saved_tensors
        return PowScalarBackward.apply(g, x, e), None


register("pow_scalar_bwd", "numpy",
         lambda g, x, a: np.zeros_like(g * x) if a == 0 else g * a * np.power(x, a - 1))
register("pow_scalar_bwd", "cupy", cuda.elementwise("pow_scalar_bwd"))   # a == 0 ? 0 : g a x^(a-1)


class PowScalarBackward(Function):
    node_name = "PowBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, a):
        ctx.save_for_backward(g, x)
        ctx.a = a
        return run_float("pow_scalar_bwd", g, x, a=a)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        a = ctx.a
        need = ctx.needs_input_grad
        gx = PowScalarBackward.apply(gg * g, x, a - 1) * a if need[1] and a != 0 else None
        return PowScalarBackward.apply(gg, x, a) if need[0] else None, gx, None


class PowTensor(ElementwiseFunction):
    kernel_op = "pow_fwd"
    node_name = "PowBackward1"
    saves = (0, 1)

    @staticmethod
    def forward(ctx, x, y):
        return _pow_fwd(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (PowBackwardX.apply(g, x, y) if need[0] else None,
                PowBackwardY.apply(g, x, y) if need[1] else None)


class PowScalarBase(Function):
    node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, base, y):
        ctx.save_for_backward(y)
        ctx.base = base
        return _pow_fwd(base, y)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return None, PowBackwardY.apply(g, ctx.base, y)


register("pow_bwd_x", "numpy", lambda g, x, y: np.where(y == 0, 0, g * y * np.power(x, y - 1)))
register("pow_bwd_x", "cupy", cuda.elementwise("pow_bwd_x"))   # y == 0 ? 0 : g y x^(y-1)


class PowBackwardX(ElementwiseFunction):
    kernel_op = "pow_bwd_x"
    node_name = "PowBackwardBackward1"
    saves = (0, 1, 2)

    @staticmethod
    def forward(ctx, g, x, y):
        return run_float("pow_bwd_x", g, x, y)

    @staticmethod
    def backward(ctx, gg):
        g, x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (PowBackwardX.apply(gg, x, y) if need[0] else None,
                PowBackwardX.apply(gg * g * y, x, y - 1) if need[1] else None,
                gg * g * pow(x, y - 1) * (1 + y * log(x)) if need[2] else None)


def _pow_bwd_y(g, x, y):
    with np.errstate(divide="ignore", invalid="ignore"):   # log(0) is masked out below
        return np.where((x == 0) & (y >= 0), 0, g * np.power(x, y) * np.log(x))


register("pow_bwd_y", "numpy", _pow_bwd_y)
register("pow_bwd_y", "cupy", cuda.elementwise("pow_bwd_y"))   # (x == 0 && y >= 0) ? 0 : g x^y log(x)


class PowBackwardY(ElementwiseFunction):
    kernel_op = "pow_bwd_y"
    node_name = "PowBackwardBackward2"
    saves = (0, 1, 2)

    @staticmethod
    def forward(ctx, g, x, y):
        return run_float("pow_bwd_y", g, x, y)

    @staticmethod
    def backward(ctx, gg):
        g, x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        if isinstance(x, Tensor):
            logx = log(x)
        else:
            logx = math.log(x) if x > 0 else (-_INF if x == 0 else math.nan)
        return (PowBackwardY.apply(gg, x, y) if need[0] else None,
                gg * g * pow(x, y - 1) * (1 + y * logx) if need[1] else None,
                PowBackwardY.apply(gg * g * logx, x, y) if need[2] else None)


def pow(input, exponent) -> Tensor:
    """tensor ** tensor, tensor ** scalar and scalar ** tensor."""
    if isinstance(input, Tensor):
        if isinstance(exponent, Tensor):
            return PowTensor._direct(input, exponent)
        return PowScalar._direct(input, exponent)
    return PowScalarBase.apply(input, exponent)


def square(input) -> Tensor:
    return PowScalar._direct(input, 2)


METHODS = ('add', 'sub', 'mul', 'div', 'true_divide', 'floor_divide', 'remainder', 'neg', 'negative', 'abs', 'absolute', 'sign', 'floor', 'ceil', 'round', 'trunc', 'fix', 'pow', 'square')
FUNCTIONS = ()
