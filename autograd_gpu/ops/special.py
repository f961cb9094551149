"""Further elementwise math: inverse trigonometric and hyperbolic functions, erf, exp2/log2/log10,
frac, and the binary ops atan2, fmod, copysign, lerp, logaddexp, nan_to_num.

One declaration per op (``declare.Pointwise``): the NumPy kernel, what backward saves and the
backward, written with differentiable ops so that double backward works; the CUDA kernel
``<op>_fwd_<dtype>`` is a line of ``kernels/elementwise.cu``. Gradients are PyTorch's
(``derivatives.yaml``), including its conventions at the edges (copysign at 0, nan_to_num where the
input is not finite). Ops PyTorch refuses for integers (frac, logaddexp, lerp) raise its
``NotImplementedError``; ops it computes in float (asin, erf, copysign, atan2, ...) promote. The NumPy
kernels of erf, erfc and erfinv, which NumPy lacks, are in ``erf_kernels.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from ..tensor import _CPP_NAMES, Tensor
from .arithmetic import div
from .compare import isfinite, where
from .creation import zeros_like
from .declare import OUT, Pointwise, check_int_divisor, run, run_float, same_dtype, wrap
from .erf_kernels import _SQRT_PI_OVER_2, _np_erfc, _np_erfinv, np_erf
from .inplace import derive_inplace
from .registry import export
from .unary import exp, rsqrt
from ._common import kernel

# each declaration binds its op in this module's namespace (``Pointwise``): the backwards below call
# ``sinh``, ``cosh`` and ``exp2`` by those names
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# PyTorch's C++ dtype names in its dtype-check messages (``expected dtype float for `end` ...``)
_C_NAMES = _CPP_NAMES


def _not_implemented(kernel_name: str, dtype: np.dtype):
    return NotImplementedError(f"\"{kernel_name}\" not implemented for '{_dt.from_numpy(dtype)._torch_name}'")


def _need_tensor(op: str, other, position: int = 2) -> None:
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}(): argument 'other' (position {position}) must be Tensor, not {type(other).__name__}")


def _np_lerp(x, y, w):
    """PyTorch's two-sided formula: exact at w = 0 and w = 1."""
    d = y - x
    return np.where(np.abs(w) < 0.5, x + w * d, y - d * (1 - w))


def _np_logaddexp(x, y):
    return np.logaddexp(x, y)


def _np_fmod(x, y):
    check_int_divisor(y)
    return np.fmod(x, y)


def _np_nan_to_num(x, posinf, neginf, a=0.0):
    return np.nan_to_num(x, copy=True, nan=a, posinf=posinf, neginf=neginf)


# inverse trigonometric ---------------------------------------------------------------------
class Asin(Pointwise, name="asin", numpy=np.arcsin, saves=0, inplace=True, aliases=("arcsin",)):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * rsqrt(1 - x * x)


class Acos(Pointwise, name="acos", numpy=np.arccos, saves=0, inplace=True, aliases=("arccos",)):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -(g * rsqrt(1 - x * x))


class Atan(Pointwise, name="atan", numpy=np.arctan, saves=0, inplace=True, aliases=("arctan",)):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x * x + 1)


class Atan2(Pointwise, name="atan2", numpy=np.arctan2, saves=(0, 1), public=False):   # atan2(y=input, x=other), the angle of (x, y)
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        r = (x * x + y * y).reciprocal()
        return g * y * r if need[0] else None, g * -x * r if need[1] else None


@export(aliases=("arctan2",))
def atan2(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise angle of (other, input) in (-pi, pi]; integers compute in the default float dtype."""
    _need_tensor("atan2", other)
    return Atan2.apply(input, other)


_atan2_inplace = derive_inplace(Atan2, "atan2", float_result=True, public=False)


@export(function=False, aliases=("arctan2_",))
def atan2_(self: Tensor, other: Tensor) -> Tensor:
    _need_tensor("atan2_", other, position=1)
    return _atan2_inplace(self, other)


# hyperbolic and their inverses ----------------------------------------------------------------
class Sinh(Pointwise, name="sinh", numpy=np.sinh, saves=0, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * cosh(x)


class Cosh(Pointwise, name="cosh", numpy=np.cosh, saves=0, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * sinh(x)


class Asinh(Pointwise, name="asinh", numpy=np.arcsinh, saves=0, inplace=True, aliases=("arcsinh",)):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * rsqrt(x * x + 1)


class Acosh(Pointwise, name="acosh", numpy=np.arccosh, saves=0, inplace=True, aliases=("arccosh",)):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * rsqrt(x * x - 1)


class Atanh(Pointwise, name="atanh", numpy=np.arctanh, saves=0, inplace=True, aliases=("arctanh",)):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 - x * x)


# erf family ---------------------------------------------------------------------------------
class Erf(Pointwise, name="erf", numpy=np_erf, saves=0, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (exp(-(x * x)) * _TWO_OVER_SQRT_PI)


class Erfc(Pointwise, name="erfc", numpy=_np_erfc, saves=0, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


class Erfinv(Pointwise, name="erfinv", numpy=_np_erfinv, saves=OUT, inplace="method"):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (exp(y * y) * _SQRT_PI_OVER_2)


# exp2 / log2 / log10 ----------------------------------------------------------------------------
class Exp2(Pointwise, name="exp2", numpy=np.exp2, saves=OUT, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * _LN2)


class Log2(Pointwise, name="log2", numpy=np.log2, saves=0, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x * _LN2)


class Log10(Pointwise, name="log10", numpy=np.log10, saves=0, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x * _LN10)


# frac / fmod / copysign ---------------------------------------------------------------------
class Frac(Pointwise, name="frac", numpy=lambda x: x - np.trunc(x), promote="same", inplace=True):   # x - trunc(x)
    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind != "f":
            raise _not_implemented("frac_cpu", x._data.dtype)
        return same_dtype("frac_fwd", x)

    @staticmethod
    def backward(ctx, g):
        return g


class Fmod(Pointwise, name="fmod", numpy=_np_fmod, promote="same", inplace="method",
           saves=((0, 1), (1, 1))):   # x - trunc(x / y) y: the sign of the dividend
    @staticmethod
    def forward(ctx, x, y):
        if _dt.result_type(x, y).kind == "b":
            raise _not_implemented("fmod_cpu", np.dtype(np.bool_))
        return run("fmod_fwd", x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        gy = None
        if need[1]:
            gy = -g * div(x, y, rounding_mode="trunc")
        return g if need[0] else None, gy


class Copysign(Pointwise, name="copysign", numpy=np.copysign, saves=((0, 0), (OUT, 0)),
               inplace="method"):   # |x| with y's sign; integers compute in the default float dtype
    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gy = zeros_like(g) if need[1] else None   # piecewise constant in other
        if not need[0]:
            return None, gy
        x, y = ctx.saved_tensors   # PyTorch: g * result / self, and 0 where self is 0
        return g * where(x == 0, 0.0, y / x), gy


# lerp ----------------------------------------------------------------------------------------
class Lerp(Pointwise, name="lerp", numpy=_np_lerp, saves=((0, 2), (1, 2), 2), inplace="method",
           public=False, node_name="LerpBackward1"):   # start + weight (end - start)
    @staticmethod
    def forward(ctx, start, end, weight):
        return run_float("lerp_fwd", start, end, weight)

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g * (1 - weight) if need[0] else None, g * weight if need[1] else None,
                g * (end - start) if need[2] else None)


class LerpScalar(Lerp, node_name="LerpBackward0"):
    saves = (2,)   # the Python number weight

    @staticmethod
    def backward(ctx, g):
        (weight,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        return g * (1 - weight) if need[0] else None, g * weight if need[1] else None, None


def _lerp_check(start: Tensor, end, weight) -> None:
    _need_tensor("lerp", end)
    sd = start._data.dtype
    if sd.kind != "f":
        raise _not_implemented("lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar", sd)
    if end._data.dtype != sd:
        raise RuntimeError(f"expected dtype {_C_NAMES[sd.name]} for `end` but got dtype "
                           f"{_C_NAMES[end._data.dtype.name]}")
    if isinstance(weight, Tensor) and weight._data.ndim and weight._data.dtype != sd:
        raise RuntimeError(f"expected dtype {_C_NAMES[sd.name]} for `weight` but got dtype "
                           f"{_C_NAMES[weight._data.dtype.name]}")


@export
def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight (end - input)``, ``weight`` a number or a tensor (broadcast); floats only."""
    _lerp_check(input, end, weight)
    if isinstance(weight, Tensor):
        return Lerp.apply(input, end, weight)
    return LerpScalar.apply(input, end, weight)


# logaddexp ---------------------------------------------------------------------------------------
class _Logaddexp(Pointwise):
    """log_b(b^x + b^y), b = e or 2; d/dx = 1 / (b^(y - x) + 1)."""

    @classmethod
    def forward(cls, ctx, x, y):
        dtype = _dt.result_type(x, y)
        if dtype.kind != "f":
            raise _not_implemented(f"{cls.kernel[:-4]}_cpu", dtype)
        return run(cls.kernel, x, y)

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g / (cls.power(y - x) + 1) if need[0] else None, g / (cls.power(x - y) + 1) if need[1] else None)


class Logaddexp(_Logaddexp, name="logaddexp", numpy=_np_logaddexp, saves=(0, 1), public=False,
                node_name="LogaddexpBackward0"):
    power = staticmethod(exp)


class Logaddexp2(_Logaddexp, name="logaddexp2", numpy=np.logaddexp2, saves=(0, 1), public=False,
                 node_name="Logaddexp2Backward0"):
    power = staticmethod(exp2)


@export
def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """log(exp(input) + exp(other)) without overflow; floats only."""
    _need_tensor("logaddexp", other)
    return Logaddexp.apply(input, other)


@export
def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """log2(2**input + 2**other) without overflow; floats only."""
    _need_tensor("logaddexp2", other)
    return Logaddexp2.apply(input, other)


# nan_to_num ----------------------------------------------------------------------------------------
class NanToNum(Pointwise, kernel="nan_to_num_fwd", numpy=_np_nan_to_num, saves=0,
               node_name="NanToNumBackward0"):   # nan -> a, +inf -> posinf, -inf -> neginf
    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        d = x._data
        if d.dtype.kind != "f":   # nothing to replace
            return Tensor._make(d.copy(), x._device)
        fi = np.finfo(d.dtype)
        posinf = float(fi.max) if posinf is None else float(posinf)
        neginf = float(fi.min) if neginf is None else float(neginf)
        return wrap(kernel("nan_to_num_fwd", x)(d, posinf, neginf, a=float(nan)), x._device)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return where(isfinite(x), g, 0.0), None, None, None


@export
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """NaN -> ``nan``, +inf -> ``posinf``, -inf -> ``neginf`` (default: the dtype's largest / lowest)."""
    return NanToNum.apply(input, nan, posinf, neginf)


_nan_to_num_inplace = derive_inplace(NanToNum, "nan_to_num", float_result=False, public=False)


@export
def nan_to_num_(self: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    if self._data.dtype.kind != "f":   # integers and bools hold no nan/inf: unchanged, as PyTorch
        return self
    return _nan_to_num_inplace(self, nan, posinf, neginf)
