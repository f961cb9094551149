"""Arithmetic: add, sub, mul, div, floor_divide, remainder, neg, abs, sign, rounding, pow.

One declaration per op (``declare.Pointwise``): the NumPy kernel, the CUDA kernel
``<op>_<fwd|bwd>_<dtype>`` of ``kernels/elementwise.cu``, what backward saves, the backward.
Fused backward kernels are ops with their own backward. Ops with extra parameters (``alpha``,
``rounding_mode``) have a public function of their own over the declared op.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..device import get_backend
from ..dispatch import register, scalar_of
from ..tensor import Tensor
from ._common import any_where, kernel
from .declare import (FusedBackward, Pointwise, check_int_divisor, is_bool, on_device_of, quiet, run, run_float,
                      same_dtype, xp_ufunc, zero_grads)
from .registry import export
from .unary import log


# add / sub -----------------------------------------------------------------------
def _np_add(x, y, a=1.0):
    return np.add(x, y) if a == 1.0 else x + a * y


def _np_sub(x, y, a=1.0):
    return np.subtract(x, y) if a == 1.0 else x - a * y


# NumPy operations only: a Python-number operand comes as a cached 0-d constant (dispatch.operand)
_np_add.takes_constant = _np_sub.takes_constant = True


class Add(Pointwise, name="add", numpy=_np_add, promote="same", inplace="method", operators=("__add__",)):   # x + a * y
    sign = 1

    @classmethod
    def forward(cls, ctx, x, y, alpha=1):
        if alpha != 1:   # the fast path, which runs no forward, takes two operands only
            ctx.alpha = alpha
            return run(cls.kernel, x, y, a=alpha)
        return run(cls.kernel, x, y)

    @classmethod
    def backward(cls, ctx, g):
        s = cls.sign * getattr(ctx, "alpha", 1)
        need = ctx.needs_input_grad
        gy = (g if s == 1 else -g if s == -1 else g * s) if need[1] else None
        # one gradient per input the node has: two from the fast path, three with ``alpha``
        return (g if need[0] else None, gy) if len(need) == 2 else (g if need[0] else None, gy, None)


class Sub(Add, name="sub", numpy=_np_sub, inplace="method", operators=("__sub__",)):   # x - a * y
    sign = -1

    @classmethod
    def forward(cls, ctx, x, y, alpha=1):
        if is_bool(x) or is_bool(y):
            if is_bool(x) and is_bool(y):
                raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                                   "Use the `^` or `logical_xor()` operator instead.")
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you "
                               "are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        return super().forward(ctx, x, y, alpha)


# acc + g into acc, which the caller alone holds (the engine's running gradient sums); CUDA
# kernels always write a fresh output, so there it is acc + g in a new array
_cuda_add = cuda.elementwise("add_fwd")
register("add_into", "numpy", lambda acc, g: np.add(acc, g, out=acc))
register("add_into", "cupy", lambda acc, g: _cuda_add(acc, g))


# mul / div -----------------------------------------------------------------------
class Mul(Pointwise, name="mul", numpy=np.multiply, promote="same", inplace="method", operators=("__mul__",),
          saves=((0, 1), (1, 0))):   # x * y; each operand kept only for the other's gradient
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return g * y if need[0] else None, g * x if need[1] else None


class Div(Pointwise, name="div", numpy=np.true_divide, saves=((0, 1), 1), inplace="method",
          public=False):   # x / y; ``div`` below adds rounding_mode
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (Div.apply(g, y) if need[0] else None,
                DivBackwardY.apply(g, x, y) if need[1] else None)


class DivBackwardY(Pointwise, kernel="div_bwd_y", numpy=lambda g, x, y: -g * x / (y * y), saves=(0, 1, 2),
                   node_name="DivBackwardBackward0"):   # -g x / y^2
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


def _np_div_trunc(x, y):
    check_int_divisor(y)
    return _div_trunc(np, x, y)


def _cu_div_trunc(x, y):
    """No kernel yet: CuPy ufuncs. A Python number through ``cp.abs``/``cp.sign`` alone becomes a
    strong int64/float64 0-d array that promotes the result (int32 // 3 -> int64): give it the
    array's dtype first, as the NumPy path's operands have (``scalar_for``)."""
    xp = _cuda_xp()
    a = x if isinstance(x, xp.ndarray) else y
    x, y = (v if isinstance(v, xp.ndarray) else scalar_of(a.dtype, v) for v in (x, y))
    return on_device_of(a, a, _div_trunc, xp, x, y)


register("div_trunc_fwd", "numpy", quiet(_np_div_trunc))
register("div_trunc_fwd", "cupy", _cu_div_trunc)


class DivRounding(Function):
    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, x, y, mode):
        return run("floor_divide_fwd" if mode == "floor" else "div_trunc_fwd", x, y)

    backward = staticmethod(zero_grads)


@export(operators=("__truediv__",))
def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give floats); ``rounding_mode`` 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        return Div.apply(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    return DivRounding.apply(input, other, rounding_mode)


export(Div.apply, name="true_divide")


def _np_floor_divide(x, y):
    check_int_divisor(y)
    return np.floor_divide(x, y)


register("floor_divide_fwd", "numpy", quiet(_np_floor_divide))
register("floor_divide_fwd", "cupy", cuda.elementwise("floor_divide_fwd"))   # floor(x / y)


@export(operators=("__floordiv__",))
def floor_divide(input, other) -> Tensor:
    return DivRounding.apply(input, other, "floor")


def _np_remainder(x, y):
    """PyTorch's remainder: fmod, moved into the divisor's sign when nonzero. NumPy's agrees except
    that it gives a zero the divisor's sign; PyTorch's zero keeps fmod's, the dividend's."""
    check_int_divisor(y)
    r = np.remainder(x, y)
    if r.dtype.kind == "f":
        r = np.copysign(r, x, out=np.asarray(r), where=r == 0) if r.ndim else (np.copysign(r, x) if r == 0 else r)
    return r


class Remainder(Pointwise, name="remainder", numpy=_np_remainder, promote="same", operators=("__mod__",),
                saves=((0, 1), (1, 1))):   # fmod(x, y) moved into y's sign: Python's %, the sign of the divisor
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return g if need[0] else None, -g * floor_divide(x, y) if need[1] else None


# neg / abs / sign ------------------------------------------------------------------
class Neg(Pointwise, name="neg", numpy=np.negative, promote="same", inplace=True, aliases=("negative",),
          operators=("__neg__",), quiet=False):   # -x
    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are "
                               "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        return same_dtype("neg_fwd", x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Abs(Pointwise, name="abs", numpy=np.abs, saves=0, aliases=("absolute",), operators=("__abs__",),
          quiet=False):   # |x|
    @staticmethod
    def forward(ctx, x):
        return same_dtype("abs_fwd", x) if x._data.dtype.kind != "b" else Tensor._make(x._data.copy(), x._device)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return AbsBackward.apply(g, x)


class AbsBackward(FusedBackward, kernel="abs_bwd", numpy=lambda g, x: g * np.sign(x), saves=1):
    """g sign(x)."""

def _np_sign(x):
    s = np.sign(x)
    if s.dtype.kind == "f":   # PyTorch: sign(nan) = 0
        s = np.where(s == s, s, s.dtype.type(0))
    return s


class Sign(Pointwise, name="sign", numpy=_np_sign, promote="same", quiet=False):   # -1, 0, 1 (nan: 0); no gradient
    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind == "b":
            return Tensor._make(kernel("copy", x)(x._data), x._device)   # CuPy's copy() lands on the current device
        return same_dtype("sign_fwd", x)

    backward = staticmethod(zero_grads)


# rounding: floor / ceil / round / trunc (zero gradient; integers pass through) -----
class _Rounding(Pointwise):
    """Piecewise constant: zero gradient. Integer tensors pass through unchanged."""

    promote = "same"

    @classmethod
    def forward(cls, ctx, x, **params):
        if x._data.dtype.kind != "f":
            return Tensor._make(kernel("copy", x)(x._data), x._device)
        return same_dtype(cls.kernel, x, **params)

    backward = staticmethod(zero_grads)


class Floor(_Rounding, name="floor", numpy=np.floor, cuda=xp_ufunc("floor"), quiet=False):   # no kernel in KERNELS.md yet
    """Round down."""


class Ceil(_Rounding, name="ceil", numpy=np.ceil, cuda=xp_ufunc("ceil"), quiet=False):
    """Round up."""


class Trunc(_Rounding, name="trunc", numpy=np.trunc, cuda=xp_ufunc("trunc"), aliases=("fix",),
            quiet=False):
    """Round toward zero."""


class Round(_Rounding, name="round", numpy=lambda x, decimals=0: np.round(x, decimals),
            cuda=lambda x, decimals=0: on_device_of(x, x, _cuda_xp().round, x, decimals)):
    """Round half to even, as PyTorch; ``decimals`` places (keyword)."""


# pow / square -------------------------------------------------------------------
register("pow_int_fwd", "numpy", np.power)   # integer power wraps around silently, as PyTorch
register("pow_int_fwd", "cupy", xp_ufunc("power"))            # integer pow: no kernel in KERNELS.md yet


def _pow_fwd(base, exponent) -> Tensor:
    if type(exponent) in (builtins.int, builtins.float) and type(base) is Tensor and base._data.dtype.kind == "f":
        return run("pow_fwd", base, exponent)
    dtype = _dt.result_type(base, exponent)
    if dtype.kind == "f":
        return run("pow_fwd", base, exponent)
    neg = (exponent < 0) if not isinstance(exponent, Tensor) else \
        any_where(exponent, lambda a: a < 0) if exponent._data.dtype.kind == "i" else False
    if neg:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return run("pow_int_fwd", base, exponent)


class PowTensor(Pointwise, numpy=np.power, kernel="pow_fwd", saves=(0, 1),
                node_name="PowBackward1"):   # x^y (float dtypes)
    @staticmethod
    def forward(ctx, x, y):
        return _pow_fwd(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (PowBackwardX.apply(g, x, y) if need[0] else None,
                PowBackwardY.apply(g, x, y) if need[1] else None)


class PowScalar(Pointwise, kernel="pow_fwd", saves=(0, 1), node_name="PowBackward0"):   # tensor ** number
    forward = PowTensor.forward

    @staticmethod
    def backward(ctx, g):
        x, e = ctx.saved_tensors
        return PowScalarBackward.apply(g, x, e), None


class PowScalarBackward(Pointwise, kernel="pow_scalar_bwd", node_name="PowBackwardBackward0",
                        numpy=lambda g, x, a: np.zeros_like(g * x) if a == 0 else g * a * np.power(x, a - 1)):
    """a == 0 ? 0 : g a x^(a-1), the exponent ``a`` a Python number (a kernel parameter)."""

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


class PowBackwardX(Pointwise, kernel="pow_bwd_x", saves=(0, 1, 2), node_name="PowBackwardBackward1",
                   numpy=lambda g, x, y: np.where(y == 0, 0, g * y * np.power(x, y - 1))):   # y == 0 ? 0 : g y x^(y-1)
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


class PowBackwardY(Pointwise, kernel="pow_bwd_y", numpy=_pow_bwd_y, saves=(0, 1, 2),
                   node_name="PowBackwardBackward2"):   # (x == 0 && y >= 0) ? 0 : g x^y log(x)
    @staticmethod
    def backward(ctx, gg):
        g, x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        if isinstance(x, Tensor):
            logx = log(x)
        else:
            logx = math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
        return (PowBackwardY.apply(gg, x, y) if need[0] else None,
                gg * g * pow(x, y - 1) * (1 + y * logx) if need[1] else None,
                PowBackwardY.apply(gg * g * logx, x, y) if need[2] else None)


@export(operators=("__pow__",))
def pow(input, exponent) -> Tensor:
    """tensor ** tensor, tensor ** scalar and scalar ** tensor."""
    if isinstance(input, Tensor):
        if isinstance(exponent, Tensor):
            return PowTensor.apply(input, exponent)
        return PowScalar.apply(input, exponent)
    return PowScalarBase.apply(input, exponent)


@export
def square(input) -> Tensor:
    return PowScalar.apply(input, 2)


def _cuda_xp():
    return get_backend("cuda").xp
