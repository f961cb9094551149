"""Elementwise ops: forward and backward for both backends, one block per op.

Each block: the NumPy line, the CUDA registration (kernel ``<op>_<fwd|bwd>_<dtype>``
in ``kernels/elementwise.cu``), and the Function. Fused backward kernels are ops
too (``TanhBackward`` has its own backward), so double backward stays exact.

Ops whose kernel is not (yet) in ``kernels/KERNELS.md`` (floor, ceil, round, trunc,
isnan/isinf/isfinite, bitwise_not, integer pow, truncating division) run on CUDA
through the array module of the CUDA backend (``_xp_ufunc``), never by importing CuPy here.
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
from ._common import broadcast_shapes, check_same_device, kernel, on_device

_BOOL = np.dtype(np.bool_)
_INF = math.inf
_SCALARS = (builtins.int, builtins.float, builtins.bool)


# shared plumbing ------------------------------------------------------------------
def _operands(*xs, dtype=None) -> tuple:
    """Common dtype, the device-holding tensor, and each operand as an array of that dtype (or a scalar)."""
    check_same_device(*xs)
    if dtype is None:
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


def _wrap(out, device) -> Tensor:
    # NumPy returns a scalar, not a 0-d array, for 0-d inputs; tensors must hold arrays
    if isinstance(out, np.generic):
        out = np.asarray(out)
    return Tensor._make(out, device)


_CAT = {"b": 0, "u": 1, "i": 1, "f": 2}


def _fast(x, y):
    """The arrays of a binary op that needs no cast, broadcast check or device check, else None."""
    if type(x) is Tensor:
        dx = x._data
        if type(y) is Tensor:
            dy = y._data
            if x._device is y._device and dx.dtype == dy.dtype and dx.shape == dy.shape:
                return x, dx, dy
        elif type(y) in _SCALARS and _CAT[dx.dtype.kind] >= (2 if type(y) is builtins.float else
                                                               0 if type(y) is builtins.bool else 1):
            return x, dx, y
    elif type(y) is Tensor and type(x) in _SCALARS:
        dy = y._data
        if _CAT[dy.dtype.kind] >= (2 if type(x) is builtins.float else 0 if type(x) is builtins.bool else 1):
            return y, x, dy
    return None


def run(op: str, *xs, **params) -> Tensor:
    """Run elementwise kernel ``op`` over tensors/scalars ``xs`` (promoted and broadcast)."""
    if len(xs) == 2:
        f = _fast(*xs)
        if f is not None:
            return _wrap(kernel(op, f[0])(f[1], f[2], **params), f[0]._device)
    _, ref, arrays = _operands(*xs)
    return _wrap(kernel(op, ref)(*arrays, **params), ref._device)


def run_float(op: str, *xs, **params) -> Tensor:
    """``run`` for ops defined on floats only: integer/bool operands promote to the default float."""
    if len(xs) == 2:
        f = _fast(*xs)
        if f is not None and f[0]._data.dtype.kind == "f":
            return _wrap(kernel(op, f[0])(f[1], f[2], **params), f[0]._device)
    dtype = _dt.result_type(*xs)
    if dtype.kind != "f":
        dtype = _dt.get_default_dtype().np
    _, ref, arrays = _operands(*xs, dtype=dtype)
    return _wrap(kernel(op, ref)(*arrays, **params), ref._device)


def _run_as(op: str, dtype, *xs) -> Tensor:
    """Run ``op`` with every operand cast to ``dtype`` first (logical ops take bools)."""
    _, ref, arrays = _operands(*xs, dtype=dtype)
    return _wrap(kernel(op, ref)(*arrays), ref._device)


def _unary(op: str, x: Tensor, **params) -> Tensor:
    """A float-only unary kernel; integer and bool tensors promote to the default float (as PyTorch)."""
    d = x._data
    if d.dtype.kind != "f":
        d = kernel("cast", x)(d, _dt.get_default_dtype().np)
    return _wrap(kernel(op, x)(d, **params), x._device)


def _same(op: str, x: Tensor, **params) -> Tensor:
    """A unary kernel that keeps the input's dtype."""
    return _wrap(kernel(op, x)(x._data, **params), x._device)


def _xp():
    from ..device import get_backend
    return get_backend("cuda").xp


def _xp_ufunc(name: str):
    """CUDA implementation through the CUDA array module, for ops with no kernel in KERNELS.md yet."""
    def impl(*args, **kwargs):
        xp = _xp()
        for a in args:   # CuPy runs on the current device: make it the operands'
            if isinstance(a, xp.ndarray):
                with a.device:
                    return getattr(xp, name)(*args, **kwargs)
        return getattr(xp, name)(*args, **kwargs)
    impl.__name__ = f"cuda_xp_{name}"
    return impl


def _on_device_of(x, y, fn, *args):
    """``fn(*args)`` with the device of whichever of ``x``, ``y`` is a CuPy array current."""
    a = x if isinstance(x, _xp().ndarray) else y
    with a.device:
        return fn(*args)


def _unbroadcast(g: Tensor, like) -> Tensor | None:
    return g if isinstance(like, Tensor) else None


def _zeros(g: Tensor) -> Tensor:
    from .creation import zeros_like
    return zeros_like(g)


def _zero_grads(ctx, g) -> tuple:
    """Gradients of a piecewise-constant op: zeros (not None) for inputs that need them, as PyTorch."""
    return tuple(_zeros(g) if n else None for n in ctx.needs_input_grad)


def _is_bool(v) -> bool:
    return isinstance(v, builtins.bool) or (isinstance(v, Tensor) and v._data.dtype.kind == "b")


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
        if _is_bool(x) or _is_bool(y):
            if _is_bool(x) and _is_bool(y):
                raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                                   "Use the `^` or `logical_xor()` operator instead.")
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you "
                               "are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
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


register("div_fwd", "numpy", np.true_divide)
register("div_fwd", "cupy", cuda.elementwise("div_fwd"))      # x / y


class Div(Function):
    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, x, y):
        need = ctx.needs_input_grad
        tx, ty = isinstance(x, Tensor), isinstance(y, Tensor)
        ctx.save_for_backward(x if need[1] and tx else None, y if ty and (need[0] or need[1]) else None)
        ctx.x, ctx.y = (None if tx else x), (None if ty else y)
        return run_float("div_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        x = ctx.x if x is None else x
        y = ctx.y if y is None else y
        need = ctx.needs_input_grad
        return (div(g, y) if need[0] else None,
                DivBackwardY.apply(g, x, y) if need[1] else None)


register("div_bwd_y", "numpy", lambda g, x, y: -g * x / (y * y))
register("div_bwd_y", "cupy", cuda.elementwise("div_bwd_y"))  # -g x / y^2


class DivBackwardY(Function):
    node_name = "DivBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, y):
        ctx.save_for_backward(*(v if isinstance(v, Tensor) else None for v in (g, x, y)))
        ctx.scalars = (g, x, y)
        return run_float("div_bwd_y", g, x, y)

    @staticmethod
    def backward(ctx, gg):
        g, x, y = (s if s is not None else c for s, c in zip(ctx.saved_tensors, ctx.scalars))
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
        return Div.apply(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    return DivRounding.apply(input, other, rounding_mode)


def true_divide(input, other) -> Tensor:
    return Div.apply(input, other)


register("floor_divide_fwd", "numpy", np.floor_divide)
register("floor_divide_fwd", "cupy", cuda.elementwise("floor_divide_fwd"))   # floor(x / y)


def floor_divide(input, other) -> Tensor:
    return DivRounding.apply(input, other, "floor")


register("remainder_fwd", "numpy", np.remainder)
register("remainder_fwd", "cupy", cuda.elementwise("remainder_fwd"))   # x - floor(x/y) y


class Remainder(Function):
    node_name = "RemainderBackward0"

    @staticmethod
    def forward(ctx, x, y):
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(x if isinstance(x, Tensor) else None, y)
            ctx.x = x
        return run("remainder_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gy = None
        if need[1]:
            x, y = ctx.saved_tensors
            gy = -g * floor_divide(ctx.x if x is None else x, y)
        return g if need[0] else None, gy


def remainder(input, other) -> Tensor:
    """Python's ``%``: the result has the sign of the divisor."""
    return Remainder.apply(input, other)


# neg / abs / sign ------------------------------------------------------------------
register("neg_fwd", "numpy", np.negative)
register("neg_fwd", "cupy", cuda.elementwise("neg_fwd"))      # -x


class Neg(Function):
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
    return Neg.apply(input)


negative = neg

register("abs_fwd", "numpy", np.abs)
register("abs_fwd", "cupy", cuda.elementwise("abs_fwd"))      # |x|


class Abs(Function):
    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _same("abs_fwd", x) if x._data.dtype.kind != "b" else Tensor._make(x._data.copy(), x._device)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return AbsBackward.apply(g, x)


register("abs_bwd", "numpy", lambda g, x: g * np.sign(x))
register("abs_bwd", "cupy", cuda.elementwise("abs_bwd"))      # g sign(x)


class AbsBackward(Function):
    node_name = "AbsBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(x)
        return run_float("abs_bwd", g, x)

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        return AbsBackward.apply(gg, x) if ctx.needs_input_grad[0] else None, None


def abs(input) -> Tensor:
    return Abs.apply(input)


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


class PowScalar(Function):
    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, x, e):
        ctx.save_for_backward(x)
        ctx.e = e
        return _pow_fwd(x, e)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return PowScalarBackward.apply(g, x, ctx.e), None


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


class PowTensor(Function):
    node_name = "PowBackward1"

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
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


class PowBackwardX(Function):
    node_name = "PowBackwardBackward1"

    @staticmethod
    def forward(ctx, g, x, y):
        ctx.save_for_backward(g, x, y)
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


class PowBackwardY(Function):
    node_name = "PowBackwardBackward2"

    @staticmethod
    def forward(ctx, g, x, y):
        ctx.save_for_backward(g, x if isinstance(x, Tensor) else None, y)
        ctx.x = x
        return run_float("pow_bwd_y", g, x, y)

    @staticmethod
    def backward(ctx, gg):
        g, x, y = ctx.saved_tensors
        x = ctx.x if x is None else x
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
            return PowTensor.apply(input, exponent)
        return PowScalar.apply(input, exponent)
    return PowScalarBase.apply(input, exponent)


def square(input) -> Tensor:
    return PowScalar.apply(input, 2)


# exp / log family ----------------------------------------------------------------
register("exp_fwd", "numpy", np.exp)
register("exp_fwd", "cupy", cuda.elementwise("exp_fwd"))      # exp(x)


class Exp(Function):
    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, x):
        y = _unary("exp_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def exp(input) -> Tensor:
    return Exp.apply(input)


register("expm1_fwd", "numpy", np.expm1)
register("expm1_fwd", "cupy", cuda.elementwise("expm1_fwd"))  # exp(x) - 1


class Expm1(Function):
    node_name = "Expm1Backward0"

    @staticmethod
    def forward(ctx, x):
        y = _unary("expm1_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y + 1)


def expm1(input) -> Tensor:
    return Expm1.apply(input)


register("log_fwd", "numpy", np.log)
register("log_fwd", "cupy", cuda.elementwise("log_fwd"))      # log(x)


class Log(Function):
    node_name = "LogBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("log_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return LogBackward.apply(g, x)


register("log_bwd", "numpy", lambda g, x: g / x)
register("log_bwd", "cupy", cuda.elementwise("log_bwd"))      # g / x


class LogBackward(Function):
    node_name = "LogBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(g, x)
        return run_float("log_bwd", g, x)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (LogBackward.apply(gg, x) if need[0] else None,
                -(gg * g) / (x * x) if need[1] else None)


def log(input) -> Tensor:
    return Log.apply(input)


register("log1p_fwd", "numpy", np.log1p)
register("log1p_fwd", "cupy", cuda.elementwise("log1p_fwd"))  # log(1 + x)


class Log1p(Function):
    node_name = "Log1PBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("log1p_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Log1pBackward.apply(g, x)


register("log1p_bwd", "numpy", lambda g, x: g / (1 + x))
register("log1p_bwd", "cupy", cuda.elementwise("log1p_bwd"))  # g / (1 + x)


class Log1pBackward(Function):
    node_name = "Log1PBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(g, x)
        return run_float("log1p_bwd", g, x)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        if need[1]:
            xp1 = x + 1
        return (Log1pBackward.apply(gg, x) if need[0] else None,
                -(gg * g) / (xp1 * xp1) if need[1] else None)


def log1p(input) -> Tensor:
    return Log1p.apply(input)


# sqrt / rsqrt / reciprocal -----------------------------------------------------------
register("sqrt_fwd", "numpy", np.sqrt)
register("sqrt_fwd", "cupy", cuda.elementwise("sqrt_fwd"))    # sqrt(x)


class Sqrt(Function):
    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, x):
        y = _unary("sqrt_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SqrtBackward.apply(g, y)


register("sqrt_bwd", "numpy", lambda g, y: g / (2 * y))
register("sqrt_bwd", "cupy", cuda.elementwise("sqrt_bwd"))    # g / (2y)


class SqrtBackward(Function):
    node_name = "SqrtBackwardBackward0"

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return run_float("sqrt_bwd", g, y)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SqrtBackward.apply(gg, y) if need[0] else None,
                -(gg * g) / (2 * y * y) if need[1] else None)


def sqrt(input) -> Tensor:
    return Sqrt.apply(input)


register("rsqrt_fwd", "numpy", lambda x: np.reciprocal(np.sqrt(x)))
register("rsqrt_fwd", "cupy", cuda.elementwise("rsqrt_fwd"))  # 1 / sqrt(x)


class Rsqrt(Function):
    node_name = "RsqrtBackward0"

    @staticmethod
    def forward(ctx, x):
        y = _unary("rsqrt_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return RsqrtBackward.apply(g, y)


register("rsqrt_bwd", "numpy", lambda g, y: -0.5 * g * y * y * y)
register("rsqrt_bwd", "cupy", cuda.elementwise("rsqrt_bwd"))  # -0.5 g y^3


class RsqrtBackward(Function):
    node_name = "RsqrtBackwardBackward0"

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return run_float("rsqrt_bwd", g, y)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (RsqrtBackward.apply(gg, y) if need[0] else None,
                gg * g * y * y * -1.5 if need[1] else None)


def rsqrt(input) -> Tensor:
    return Rsqrt.apply(input)


register("reciprocal_fwd", "numpy", np.reciprocal)
register("reciprocal_fwd", "cupy", cuda.elementwise("reciprocal_fwd"))  # 1 / x


class Reciprocal(Function):
    node_name = "ReciprocalBackward0"

    @staticmethod
    def forward(ctx, x):
        y = _unary("reciprocal_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ReciprocalBackward.apply(g, y)


register("reciprocal_bwd", "numpy", lambda g, y: -g * y * y)
register("reciprocal_bwd", "cupy", cuda.elementwise("reciprocal_bwd"))  # -g y^2


class ReciprocalBackward(Function):
    node_name = "ReciprocalBackwardBackward0"

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return run_float("reciprocal_bwd", g, y)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (ReciprocalBackward.apply(gg, y) if need[0] else None,
                gg * g * y * -2 if need[1] else None)


def reciprocal(input) -> Tensor:
    return Reciprocal.apply(input)


# sin / cos ----------------------------------------------------------------------
register("sin_fwd", "numpy", np.sin)
register("sin_fwd", "cupy", cuda.elementwise("sin_fwd"))      # sin(x)
register("cos_fwd", "numpy", np.cos)
register("cos_fwd", "cupy", cuda.elementwise("cos_fwd"))      # cos(x)


class Sin(Function):
    node_name = "SinBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("sin_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SinBackward.apply(g, x)


class Cos(Function):
    node_name = "CosBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("cos_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return CosBackward.apply(g, x)


register("sin_bwd", "numpy", lambda g, x: g * np.cos(x))
register("sin_bwd", "cupy", cuda.elementwise("sin_bwd"))      # g cos(x)
register("cos_bwd", "numpy", lambda g, x: -g * np.sin(x))
register("cos_bwd", "cupy", cuda.elementwise("cos_bwd"))      # -g sin(x)


class SinBackward(Function):
    node_name = "SinBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(g, x)
        return run_float("sin_bwd", g, x)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SinBackward.apply(gg, x) if need[0] else None,
                CosBackward.apply(gg * g, x) if need[1] else None)


class CosBackward(Function):
    node_name = "CosBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(g, x)
        return run_float("cos_bwd", g, x)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (CosBackward.apply(gg, x) if need[0] else None,
                -SinBackward.apply(gg * g, x) if need[1] else None)


def sin(input) -> Tensor:
    return Sin.apply(input)


def cos(input) -> Tensor:
    return Cos.apply(input)


# tanh / sigmoid / relu ----------------------------------------------------------
def _np_sigmoid(x):
    # exp of -|x| never overflows, and the x < 0 branch keeps relative precision far out
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


register("tanh_fwd", "numpy", np.tanh)
register("tanh_fwd", "cupy", cuda.elementwise("tanh_fwd"))    # tanh(x)


class Tanh(Function):
    node_name = "TanhBackward0"

    @staticmethod
    def forward(ctx, x):
        y = _unary("tanh_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return TanhBackward.apply(g, y)


register("tanh_bwd", "numpy", lambda g, y: g * (1 - y * y))
register("tanh_bwd", "cupy", cuda.elementwise("tanh_bwd"))    # g (1 - y^2)


class TanhBackward(Function):
    node_name = "TanhBackwardBackward0"

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return run_float("tanh_bwd", g, y)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (TanhBackward.apply(gg, y) if need[0] else None,
                gg * g * y * -2 if need[1] else None)


def tanh(input) -> Tensor:
    return Tanh.apply(input)


register("sigmoid_fwd", "numpy", _np_sigmoid)
register("sigmoid_fwd", "cupy", cuda.elementwise("sigmoid_fwd"))   # 1 / (1 + exp(-x))


class Sigmoid(Function):
    node_name = "SigmoidBackward0"

    @staticmethod
    def forward(ctx, x):
        y = _unary("sigmoid_fwd", x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SigmoidBackward.apply(g, y)


register("sigmoid_bwd", "numpy", lambda g, y: g * y * (1 - y))
register("sigmoid_bwd", "cupy", cuda.elementwise("sigmoid_bwd"))   # g y (1 - y)


class SigmoidBackward(Function):
    node_name = "SigmoidBackwardBackward0"

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return run_float("sigmoid_bwd", g, y)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SigmoidBackward.apply(gg, y) if need[0] else None,
                gg * g * (1 - 2 * y) if need[1] else None)


def sigmoid(input) -> Tensor:
    return Sigmoid.apply(input)


register("relu_fwd", "numpy", lambda x: np.maximum(x, 0))
register("relu_fwd", "cupy", cuda.elementwise("relu_fwd"))    # max(x, 0), NaN propagates


class Relu(Function):
    node_name = "ReluBackward0"

    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind == "b":
            raise RuntimeError("\"clamp_min_cpu\" not implemented for 'Bool'")
        y = _same("relu_fwd", x) if x._data.dtype.kind == "f" else run("maximum_fwd", x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ReluBackward.apply(g, y)


def _np_relu_bwd(g, y):
    # g * mask is ~16x faster than np.where on large arrays, but inf * 0 = nan where PyTorch
    # gives 0: take the exact path only when the gradient holds a non-finite value
    mask = y > 0
    if np.isfinite(g).all():
        return np.multiply(g, mask, dtype=g.dtype)
    return np.where(mask, g, 0).astype(g.dtype, copy=False)


register("relu_bwd", "numpy", _np_relu_bwd)
register("relu_bwd", "cupy", cuda.elementwise("relu_bwd"))    # y > 0 ? g : 0  (relu'(0) = 0)


class ReluBackward(Function):
    node_name = "ThresholdBackwardBackward0"

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(y)
        return run_float("relu_bwd", g, y)

    @staticmethod
    def backward(ctx, gg):
        (y,) = ctx.saved_tensors
        return ReluBackward.apply(gg, y) if ctx.needs_input_grad[0] else None, None


def relu(input) -> Tensor:
    return Relu.apply(input)


# clamp / maximum / minimum / where ---------------------------------------------------
register("clamp_fwd", "numpy", lambda x, a=-_INF, b=_INF: np.minimum(np.maximum(x, a), b))
register("clamp_fwd", "cupy", cuda.elementwise("clamp_fwd"))  # min(max(x, a), b)


class Clamp(Function):
    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, x, lo, hi):
        bounds = [v for v in (lo, hi) if v is not None]
        dtype = _dt.result_type(x, *bounds)
        ctx.save_for_backward(x)
        ctx.lo = -_INF if lo is None else lo
        ctx.hi = _INF if hi is None else hi
        if dtype.kind == "f":
            _, ref, (d,) = _operands(x, dtype=dtype)
            return _wrap(kernel("clamp_fwd", x)(d, a=builtins.float(ctx.lo), b=builtins.float(ctx.hi)),
                         x._device)
        out = x if lo is None else run("maximum_fwd", x, lo)     # integer clamp: no int kernel
        return out if hi is None else run("minimum_fwd", out, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ClampBackward.apply(g, x, ctx.lo, ctx.hi), None, None


register("clamp_bwd", "numpy", lambda g, x, a=-_INF, b=_INF: np.where((x >= a) & (x <= b), g, 0))
register("clamp_bwd", "cupy", cuda.elementwise("clamp_bwd"))  # a <= x <= b ? g : 0 (bounds inclusive)


class ClampBackward(Function):
    node_name = "ClampBackwardBackward1"

    @staticmethod
    def forward(ctx, g, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return run_float("clamp_bwd", g, x, a=builtins.float(lo), b=builtins.float(hi))

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        gg_ = ClampBackward.apply(gg, x, ctx.lo, ctx.hi) if ctx.needs_input_grad[0] else None
        return gg_, None, None, None


def clamp(input, min=None, max=None) -> Tensor:
    """Bounds are inclusive for the gradient (as PyTorch); tensor bounds are supported too."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = where(lt(out, min), min, out)
        if max is not None:
            out = where(gt(out, max), max, out)
        return out
    return Clamp.apply(input, min, max)


clip = clamp

register("maximum_fwd", "numpy", np.maximum)
register("maximum_fwd", "cupy", cuda.elementwise("maximum_fwd"))   # max(x, y), NaN propagates
register("minimum_fwd", "numpy", np.minimum)
register("minimum_fwd", "cupy", cuda.elementwise("minimum_fwd"))   # min(x, y), NaN propagates


class Maximum(Function):
    node_name = "MaximumBackward0"

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(*(v if isinstance(v, Tensor) else None for v in (x, y)))
        ctx.scalars = (x, y)
        return run("maximum_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = (s if s is not None else c for s, c in zip(ctx.saved_tensors, ctx.scalars))
        need = ctx.needs_input_grad
        return (MaximumBackwardX.apply(g, x, y) if need[0] else None,
                MaximumBackwardX.apply(g, y, x) if need[1] else None)


class Minimum(Function):
    node_name = "MinimumBackward0"

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(*(v if isinstance(v, Tensor) else None for v in (x, y)))
        ctx.scalars = (x, y)
        return run("minimum_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = (s if s is not None else c for s, c in zip(ctx.saved_tensors, ctx.scalars))
        need = ctx.needs_input_grad
        return (MinimumBackwardX.apply(g, x, y) if need[0] else None,
                MinimumBackwardX.apply(g, y, x) if need[1] else None)


register("maximum_bwd_x", "numpy", lambda g, x, y: np.where(x > y, g, np.where(x == y, g / 2, 0)))
register("maximum_bwd_x", "cupy", cuda.elementwise("maximum_bwd_x"))   # ties split evenly
register("minimum_bwd_x", "numpy", lambda g, x, y: np.where(x < y, g, np.where(x == y, g / 2, 0)))
register("minimum_bwd_x", "cupy", cuda.elementwise("minimum_bwd_x"))


class _ExtremumBackwardX(Function):
    """g routed to the winning side; piecewise constant in x and y, so only g has a gradient."""
    op = ""

    @classmethod
    def forward(cls, ctx, g, x, y):
        ctx.save_for_backward(*(v if isinstance(v, Tensor) else None for v in (x, y)))
        ctx.scalars = (x, y)
        return run_float(cls.op, g, x, y)

    @classmethod
    def backward(cls, ctx, gg):
        x, y = (s if s is not None else c for s, c in zip(ctx.saved_tensors, ctx.scalars))
        return cls.apply(gg, x, y) if ctx.needs_input_grad[0] else None, None, None


class MaximumBackwardX(_ExtremumBackwardX):
    node_name = "MaximumBackwardBackward0"
    op = "maximum_bwd_x"


class MinimumBackwardX(_ExtremumBackwardX):
    node_name = "MinimumBackwardBackward0"
    op = "minimum_bwd_x"


def maximum(input, other) -> Tensor:
    return Maximum.apply(input, other)


def minimum(input, other) -> Tensor:
    return Minimum.apply(input, other)


register("where_fwd", "numpy", np.where)
register("where_fwd", "cupy", cuda.elementwise("where_fwd"))  # c ? x : y


class Where(Function):
    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, c, x, y):
        if not isinstance(c, Tensor) or c._data.dtype.kind != "b":
            got = c.dtype._torch_name if isinstance(c, Tensor) else type(c).__name__
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with "
                               f"dtype {got}")
        ctx.save_for_backward(c)
        if type(x) is Tensor and type(y) is Tensor:   # fast path: nothing to cast, check or broadcast
            cd, xd, yd = c._data, x._data, y._data
            if (c._device is x._device is y._device and xd.dtype == yd.dtype
                    and cd.shape == xd.shape == yd.shape):
                return _wrap(kernel("where_fwd", x)(cd, xd, yd), x._device)
        check_same_device(c, x, y)
        if isinstance(x, Tensor) or isinstance(y, Tensor):
            dtype, ref, (ax, ay) = _operands(x, y)
            broadcast_shapes(c._data.shape, np.broadcast_shapes(*(v._data.shape for v in (x, y)
                                                                if isinstance(v, Tensor))))
            if ref._device is not c._device:
                ref = ref if c._data.ndim == 0 else c
        else:
            dtype, ref = _dt.result_type(x, y), c
            ax, ay = dtype.type(x), dtype.type(y)
        cd = c._data if c._device is ref._device else c._data.item()
        return _wrap(kernel("where_fwd", ref)(cd, ax, ay), ref._device)

    @staticmethod
    def backward(ctx, g):
        (c,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (None, Where.apply(c, g, 0.0) if need[1] else None,
                Where.apply(c, 0.0, g) if need[2] else None)


def where(condition, input=None, other=None) -> Tensor:
    """``condition ? input : other`` elementwise; scalars allowed for either branch."""
    if input is None and other is None:
        with on_device(condition):
            return tuple(Tensor._make(i.astype(np.int64, copy=False), condition._device)
                         for i in condition._device.backend.xp.nonzero(condition._data))
    return Where.apply(condition, input, other)


# comparisons (bool output, no gradient) -------------------------------------------
_NUMBERS = (Tensor, builtins.int, builtins.float, builtins.bool, builtins.complex, np.generic)

for _name, _ufunc in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                      ("gt", np.greater), ("ge", np.greater_equal)):
    register(f"{_name}_fwd", "numpy", _ufunc)
    register(f"{_name}_fwd", "cupy", cuda.elementwise(f"{_name}_fwd", out="bool"))


def eq(input, other) -> Tensor:
    if not isinstance(other, _NUMBERS):
        return False   # as PyTorch: comparing with None or a non-number is simply not equal
    return run("eq_fwd", input, other)


def ne(input, other) -> Tensor:
    if not isinstance(other, _NUMBERS):
        return True
    return run("ne_fwd", input, other)


def lt(input, other) -> Tensor:
    return run("lt_fwd", input, other)


def le(input, other) -> Tensor:
    return run("le_fwd", input, other)


def gt(input, other) -> Tensor:
    return run("gt_fwd", input, other)


def ge(input, other) -> Tensor:
    return run("ge_fwd", input, other)


less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne


# logical / bitwise / float classification ------------------------------------------
register("logical_and_fwd", "numpy", np.logical_and)
register("logical_and_fwd", "cupy", cuda.elementwise("logical_and_fwd", out="bool"))
register("logical_or_fwd", "numpy", np.logical_or)
register("logical_or_fwd", "cupy", cuda.elementwise("logical_or_fwd", out="bool"))
register("logical_xor_fwd", "numpy", np.logical_xor)
register("logical_xor_fwd", "cupy", cuda.elementwise("logical_xor_fwd", out="bool"))
register("logical_not_fwd", "numpy", np.logical_not)
register("logical_not_fwd", "cupy", cuda.elementwise("logical_not_fwd", out="bool"))


def logical_and(input, other) -> Tensor:
    return _run_as("logical_and_fwd", _BOOL, input, other)


def logical_or(input, other) -> Tensor:
    return _run_as("logical_or_fwd", _BOOL, input, other)


def logical_xor(input, other) -> Tensor:
    return _run_as("logical_xor_fwd", _BOOL, input, other)


def _as_bool(x: Tensor):
    d = x._data
    return d if d.dtype == _BOOL else kernel("cast", x)(d, _BOOL)


def logical_not(input) -> Tensor:
    return _wrap(kernel("logical_not_fwd", input)(_as_bool(input)), input._device)


register("bitwise_not_fwd", "numpy", np.invert)
register("bitwise_not_fwd", "cupy", _xp_ufunc("invert"))      # no kernel in KERNELS.md yet


def bitwise_not(input) -> Tensor:
    kind = input._data.dtype.kind
    if kind == "b":
        return logical_not(input)
    if kind not in "iu":
        raise RuntimeError(f"\"bitwise_not_{input._device.type}\" not implemented for "
                           f"'{input.dtype._torch_name}'")
    return _same("bitwise_not_fwd", input)


for _name in ("isnan", "isinf", "isfinite"):
    register(f"{_name}_fwd", "numpy", getattr(np, _name))
    register(f"{_name}_fwd", "cupy", _xp_ufunc(_name))        # no kernel in KERNELS.md yet


def isnan(input) -> Tensor:
    return _same("isnan_fwd", input)


def isinf(input) -> Tensor:
    return _same("isinf_fwd", input)


def isfinite(input) -> Tensor:
    return _same("isfinite_fwd", input)


METHODS = ("add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "neg", "negative",
           "abs", "absolute", "sign", "floor", "ceil", "round", "trunc", "fix", "pow", "square", "exp",
           "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "tanh", "sigmoid", "relu",
           "clamp", "clip", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "less", "less_equal",
           "greater", "greater_equal", "not_equal", "logical_and", "logical_or", "logical_xor",
           "logical_not", "bitwise_not", "isnan", "isinf", "isfinite")
FUNCTIONS = ("where",)
