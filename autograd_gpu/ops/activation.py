"""Activations that PyTorch exposes only in ``torch.nn.functional``: silu, softplus, leaky_relu,
elu, hardtanh, relu6, hardsigmoid, hardswish, celu, selu, mish, logsigmoid, softsign (relu, sigmoid
and tanh live in ``unary``; gelu in ``gelu``; softmin in ``softmaxes``).

As in ``unary``, each fused ``_bwd`` kernel is an op with its own exact backward, so
double backward through an activation stays exact. ``inplace=True`` runs the form derived
from the op (``inplace.derive_inplace``): validated first, the input's old value kept for
backward when it reads it.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .arithmetic import abs as _abs
from .compare import where
from .creation import zeros_like
from .declare import FusedBackward, Pointwise, quiet as _quiet, run_float, same_dtype, unary_float
from .inplace import derive_inplace
from .registry import METHODS, export
from .unary import Relu, exp, np_sigmoid as _np_sigmoid, sigmoid, tanh


# activations with scalar parameters ``a`` (and ``b``) passed to their kernels ------------------------
# forward names ``a`` as a required operand so the declaration sees more operands than the kernel's
# tensors and never takes the fast path (which would skip forward, and with it ``ctx.p``)
_NO_B = object()


def _params(a, b) -> tuple:
    return (a,) if b is _NO_B else (a, b)


def _ab(p: tuple) -> dict:
    return dict(zip(("a", "b"), p))


class _Param(Pointwise):
    """``kernel(x, a, b)`` with the op's parameters after ``x``; backward is ``backward_fn(g, x, *params)``,
    a fused kernel of its own. ``keep_dtype``: integer inputs keep their dtype (hardtanh)."""

    saves = (0,)
    keep_dtype = False
    backward_fn: type

    @classmethod
    def forward(cls, ctx, x, a, b=_NO_B):
        ctx.p = p = _params(a, b)
        return (same_dtype if cls.keep_dtype else unary_float)(cls.kernel, x, **_ab(p))

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        return (cls.backward_fn.apply(g, x, *ctx.p),) + (None,) * len(ctx.p)


class _ParamBackward(Pointwise):
    """``kernel(g, x, a, b)``, the fused backward of a ``_Param`` activation. Its backward: the same
    kernel on ``gg`` for ``g``; ``d_saved(gg, g, x, *params)`` for ``x`` (None: f' is piecewise
    constant, only ``x`` is saved, and ``x`` gets zeros as in PyTorch, not "unused")."""

    saves = (0, 1)
    d_saved = None

    @classmethod
    def forward(cls, ctx, g, x, a, b=_NO_B):
        ctx.p = p = _params(a, b)
        return run_float(cls.kernel, g, x, **_ab(p))

    @classmethod
    def backward(cls, ctx, gg):
        need, p = ctx.needs_input_grad, ctx.p
        if cls.d_saved is None:
            (x,) = ctx.saved_tensors
            gx = zeros_like(gg) if need[1] else None
        else:
            g, x = ctx.saved_tensors
            gx = cls.d_saved(gg, g, x, *p) if need[1] else None
        return (cls.apply(gg, x, *p) if need[0] else None, gx) + (None,) * len(p)


def _float_only(x: Tensor, impl: str) -> None:
    """PyTorch's activation kernels have no integer/bool version: they raise instead of promoting."""
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"\"{impl}_{'cpu' if x._device.type == 'cpu' else 'cuda'}\" not implemented "
                                  f"for '{x.dtype._torch_name}'")



# relu is declared in ``unary`` (with ``relu_``); the functional form takes ``inplace`` as PyTorch's
@export(name="relu", function=False, method=False, nn=True)
def _relu_nn(input: Tensor, inplace: bool = False) -> Tensor:
    return METHODS["relu_"](input) if inplace else Relu.apply(input)


export(METHODS["relu_"], function=False, method=False, nn=True)   # F.relu_


# silu ---------------------------------------------------------------------------
def _silu_bwd(g, x):
    s = _np_sigmoid(x)
    return g * s * (1 + x * (1 - s))


class Silu(Pointwise, kernel="silu_fwd", numpy=lambda x: x * _np_sigmoid(x), saves=0):   # x sigmoid(x)
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SiluBackward.apply(g, x)


class SiluBackward(FusedBackward, kernel="silu_bwd", numpy=_silu_bwd):   # g s (1 + x (1 - s))
    @staticmethod
    def d_saved(gg, g, x):   # f'' = s (1 - s) (2 + x (1 - 2s))
        s = sigmoid(x)
        return gg * g * s * (1 - s) * (2 + x * (1 - 2 * s))

_silu_ = derive_inplace(Silu, "silu", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _silu_(input) if inplace else Silu.apply(input)


# softplus -------------------------------------------------------------------------
class SoftplusBackward(_ParamBackward, kernel="softplus_bwd",   # beta x > thr ? g : g sigmoid(beta x)
                       numpy=lambda g, x, a=1.0, b=20.0: np.where(x * a > b, g, g * _np_sigmoid(x * a))):
    @staticmethod
    def d_saved(gg, g, x, beta, threshold):
        bx = x * beta
        s = sigmoid(bx)
        return where(bx > threshold, 0.0, gg * g * s * (1 - s) * beta)


def _np_softplus(x):
    """log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): never overflows, and in-place passes of
    fast ufuncs are 14x faster than ``np.logaddexp(0, x)`` on large arrays; on small ones (below
    ~64 elements) logaddexp's one call wins."""
    if x.size < 64:
        return np.logaddexp(0, x)
    e = np.empty(x.shape, x.dtype)
    np.abs(x, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    np.log1p(e, out=e)
    e += np.maximum(x, 0)
    return e


class Softplus(_Param, kernel="softplus_fwd",   # beta x > thr ? x : log1p(exp(beta x))/beta
               numpy=lambda x, a=1.0, b=20.0: np.where(x * a > b, x, _np_softplus(x * a) / a)):
    backward_fn = SoftplusBackward


@export(function=False, method=False, nn=True)
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` for stability."""
    return Softplus.apply(input, beta, threshold)


# leaky_relu / elu ----------------------------------------------------------------------------------
class LeakyReluBackward(_ParamBackward, kernel="leaky_relu_bwd", saves=1,   # x > 0 ? g : a g
                        numpy=lambda g, x, a=0.01: np.where(x > 0, g, g * a)):
    pass


class LeakyRelu(_Param, kernel="leaky_relu_fwd", numpy=lambda x, a=0.01: np.where(x > 0, x, x * a)):
    """x > 0 ? x : a x."""
    backward_fn = LeakyReluBackward


_leaky_relu_ = derive_inplace(LeakyRelu, "leaky_relu", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _leaky_relu_(input, negative_slope) if inplace else LeakyRelu.apply(input, negative_slope)


class EluBackward(_ParamBackward, kernel="elu_bwd",   # x > 0 ? g : g a exp(x)
                  numpy=lambda g, x, a=1.0: np.where(x > 0, g, g * a * np.exp(np.minimum(x, 0)))):
    @staticmethod
    def d_saved(gg, g, x, a):   # PyTorch's mask is x < 0: zero at the kink
        return where(x < 0, gg * g * exp(x) * a, 0.0)


class Elu(_Param, kernel="elu_fwd", numpy=lambda x, a=1.0: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))):
    """x > 0 ? x : a (exp(x) - 1)."""
    backward_fn = EluBackward


_elu_ = derive_inplace(Elu, "elu", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _elu_(input, alpha) if inplace else Elu.apply(input, alpha)


# hardtanh / relu6 -----------------------------------------------------------------------------------
# Parameters the op always passes are keyword-only without default (``arity`` says the operands)
def _np_hardtanh(x, *, a, b):   # NaN propagates; bounds in x's dtype, as PyTorch casts them
    t = x.dtype.type
    return np.minimum(np.maximum(x, t(a)), t(b))


class HardtanhBackward(_ParamBackward, kernel="hardtanh_bwd", kernel_file="activation", saves=1,
                       numpy=lambda g, x, *, a, b: np.where((x <= a) | (x >= b), 0.0, g)):
    """(x <= a || x >= b) ? 0 : g: zero at the bounds themselves, as PyTorch."""
    arity = 2


class Hardtanh(_Param, kernel="hardtanh_fwd", kernel_file="activation", numpy=_np_hardtanh):
    """min(max(x, a), b)."""
    arity = 1
    keep_dtype = True
    backward_fn = HardtanhBackward


_hardtanh_ = derive_inplace(Hardtanh, "hardtanh", float_result=False, public=False)


def _hardtanh(input: Tensor, lo, hi, inplace: bool) -> Tensor:
    kind = input._data.dtype.kind
    if kind == "b":
        raise NotImplementedError("Bool inputs not supported for hardtanh")
    if kind != "f":   # PyTorch casts the bounds to the integer dtype (truncating)
        lo, hi = int(lo), int(hi)
    return _hardtanh_(input, lo, hi) if inplace else Hardtanh.apply(input, lo, hi)


@export(function=False, method=False, nn=True)
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _hardtanh(input, min_val, max_val, inplace)


@export(function=False, method=False, nn=True)
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """hardtanh(x, 0, 6), as in PyTorch (its node is HardtanhBackward0; gradient 0 at 0 and 6)."""
    return _hardtanh(input, 0.0, 6.0, inplace)


# hardsigmoid / hardswish -------------------------------------------------------------------------------
def _np_hardsigmoid(x):
    t = x.dtype.type
    return np.minimum(np.maximum(x + t(3), t(0)), t(6)) / t(6)


class HardsigmoidBackward(FusedBackward, kernel="hardsigmoid_bwd", kernel_file="activation", saves=1,
                          numpy=lambda g, x: np.where((x > -3) & (x < 3), g * (1 / 6), 0.0)):
    """-3 < x < 3 ? g/6 : 0. PyTorch has no double backward here (it raises); ours is exact: zeros for x."""

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        return HardsigmoidBackward.apply(gg, x) if need[0] else None, zeros_like(gg) if need[1] else None


class Hardsigmoid(Pointwise, kernel="hardsigmoid_fwd", kernel_file="activation", numpy=_np_hardsigmoid, saves=0):
    """min(max(x + 3, 0), 6) / 6."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return HardsigmoidBackward.apply(g, x)


def _np_hardswish(x):
    return x * _np_hardsigmoid(x)   # x * clamp(x + 3, 0, 6) / 6; -inf gives NaN, as PyTorch


def _np_hardswish_bwd(g, x):
    return np.where(x <= -3, 0.0, np.where(x < 3, g * (x / 3 + 0.5), g))


class HardswishBackward(FusedBackward, kernel="hardswish_bwd", kernel_file="activation", numpy=_np_hardswish_bwd):
    """x <= -3 ? 0 : x < 3 ? g (x/3 + 1/2) : g (PyTorch's kinks: 0 at -3, g at 3)."""

    @staticmethod
    def d_saved(gg, g, x):
        return where((x > -3) & (x < 3), gg * g / 3, 0.0)


class Hardswish(Pointwise, kernel="hardswish_fwd", kernel_file="activation", numpy=_quiet(_np_hardswish), saves=0):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return HardswishBackward.apply(g, x)


_hardsigmoid_ = derive_inplace(Hardsigmoid, "hardsigmoid", float_result=True, public=False)
_hardswish_ = derive_inplace(Hardswish, "hardswish", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "hardsigmoid")
    return _hardsigmoid_(input) if inplace else Hardsigmoid.apply(input)


@export(function=False, method=False, nn=True)
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "hardswish")
    return _hardswish_(input) if inplace else Hardswish.apply(input)


# celu / selu: PyTorch's elu with (alpha, scale, input_scale) = (a, 1, 1/a) and (ALPHA, SCALE, 1) ----------
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SA = _SELU_SCALE * _SELU_ALPHA


class CeluBackward(_ParamBackward, kernel="celu_bwd", kernel_file="activation", node_name="EluBackwardBackward0",
                   numpy=lambda g, x, *, a: np.where(x <= 0, g * np.exp(np.minimum(x, 0) * (1 / a)), g)):
    """x <= 0 ? g exp(x/a) : g."""
    arity = 2

    @staticmethod
    def d_saved(gg, g, x, a):
        return where(x < 0, gg * g * exp(x * (1 / a)) * (1 / a), 0.0)


class Celu(_Param, kernel="celu_fwd", kernel_file="activation",
           numpy=lambda x, *, a: np.where(x <= 0, a * np.expm1(np.minimum(x, 0) * (1 / a)), x)):
    """x <= 0 ? a (exp(x/a) - 1) : x."""
    arity = 1
    backward_fn = CeluBackward


class SeluBackward(FusedBackward, kernel="selu_bwd", kernel_file="activation", node_name="EluBackwardBackward0",
                   numpy=lambda g, x: np.where(x <= 0, g * _SELU_SA * np.exp(np.minimum(x, 0)), g * _SELU_SCALE)):
    """x <= 0 ? g SCALE ALPHA exp(x) : g SCALE."""

    @staticmethod
    def d_saved(gg, g, x):
        return where(x < 0, gg * g * exp(x) * _SELU_SA, 0.0)


class Selu(Pointwise, kernel="selu_fwd", kernel_file="activation", saves=0, node_name="EluBackward0",
           numpy=lambda x: np.where(x <= 0, _SELU_SA * np.expm1(np.minimum(x, 0)), _SELU_SCALE * x)):
    """x <= 0 ? SCALE ALPHA (exp(x) - 1) : SCALE x."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SeluBackward.apply(g, x)


_celu_ = derive_inplace(Celu, "celu", float_result=True, public=False)
_selu_ = derive_inplace(Selu, "selu", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    _float_only(input, "elu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _celu_(input, alpha) if inplace else Celu.apply(input, alpha)


@export(function=False, method=False, nn=True)
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "elu")
    return _selu_(input) if inplace else Selu.apply(input)


# mish / logsigmoid / softsign ------------------------------------------------------------------------
def _np_mish(x):   # x tanh(softplus(x))
    return x * np.tanh(_np_softplus(x))


def _np_mish_bwd(g, x):
    s = _np_sigmoid(x)
    t = np.tanh(_np_softplus(x))
    return g * (t + x * s * (1 - t * t))


class MishBackward(FusedBackward, kernel="mish_bwd", kernel_file="activation", numpy=_quiet(_np_mish_bwd)):
    """g (t + x s (1 - t²)), t = tanh(softplus(x)), s = sigmoid(x)."""

    @staticmethod
    def d_saved(gg, g, x):   # f'' = s (1 - t²) (2 + x (1 - s) - 2 x s t)
        s = sigmoid(x)
        t = tanh(softplus(x))
        return gg * g * s * (1 - t * t) * (2 + x * (1 - s) - 2 * x * s * t)


class Mish(Pointwise, kernel="mish_fwd", kernel_file="activation", numpy=_quiet(_np_mish), saves=0):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return MishBackward.apply(g, x)


_mish_ = derive_inplace(Mish, "mish", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "mish")
    return _mish_(input) if inplace else Mish.apply(input)


def _np_logsigmoid(x):   # min(x, 0) - log1p(exp(-|x|)): no overflow on either side
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _np_logsigmoid_bwd(g, x):   # PyTorch's form: g (max_deriv - sign z / (1 + z)), z = exp(-|x|)
    z = np.exp(-np.abs(x))
    q = z / (1 + z)
    return np.where(x < 0, g * (1 - q), g * q)


class LogSigmoidBackward(FusedBackward, kernel="logsigmoid_bwd", kernel_file="activation",
                         numpy=_np_logsigmoid_bwd):
    """g sigmoid(-x)."""

    @staticmethod
    def d_saved(gg, g, x):   # -sigmoid(x) (1 - sigmoid(x))
        s = sigmoid(x)
        return gg * g * s * (s - 1)


class LogSigmoid(Pointwise, kernel="logsigmoid_fwd", kernel_file="activation", numpy=_np_logsigmoid, saves=0):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return LogSigmoidBackward.apply(g, x)


@export(function=False, method=False, nn=True)
def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed stably as -softplus(-x)."""
    _float_only(input, "log_sigmoid")
    return LogSigmoid.apply(input)


@export(function=False, method=False, nn=True)
def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|): PyTorch's composite, so gradients (and integer -> float promotion) match."""
    if input._data.dtype.kind == "b":
        _float_only(input, "abs")
    return input / (_abs(input) + 1)
