"""Activations that PyTorch exposes only in ``torch.nn.functional``: gelu, silu, softplus,
leaky_relu, elu (relu, sigmoid and tanh live in ``unary``).

As in ``unary``, each fused ``_bwd`` kernel is an op with its own exact backward, so
double backward through an activation stays exact. ``inplace=True`` runs the form derived
from the op (``inplace.derive_inplace``): validated first, the input's old value kept for
backward when it reads it.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from .compare import where
from .declare import FusedBackward, Pointwise, run_float, unary_float
from .inplace import derive_inplace
from .registry import export
from .unary import exp, np_sigmoid as _np_sigmoid, sigmoid, tanh

_SQRT1_2 = 1 / math.sqrt(2.0)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_K = math.sqrt(2 / math.pi)   # gelu's tanh approximation: tanh(K (x + C x^3))
_C = 0.044715

# NumPy has no erf. SciPy's is exact and vectorised, so use it when installed (it is optional);
# otherwise math.erf, exact too, at the price of a Python call per element.
try:
    from scipy.special import erf as _scipy_erf
except ImportError:  # pragma: no cover - depends on the environment
    _scipy_erf = None
_erf_obj = np.frompyfunc(math.erf, 1, 1)


def _np_erf(x):
    if _scipy_erf is not None:
        return _scipy_erf(x).astype(x.dtype, copy=False)
    return np.asarray(_erf_obj(x), dtype=x.dtype)


# gelu ---------------------------------------------------------------------------
register("gelu_fwd", "numpy", lambda x: 0.5 * x * (1 + _np_erf(x * _SQRT1_2)))
register("gelu_fwd", "cupy", cuda.elementwise("gelu_fwd"))            # 0.5 x (1 + erf(x/√2))
register("gelu_tanh_fwd", "numpy", lambda x: 0.5 * x * (1 + np.tanh(_K * (x + _C * x * x * x))))
register("gelu_tanh_fwd", "cupy", cuda.elementwise("gelu_tanh_fwd"))  # 0.5 x (1 + tanh(K(x + C x³)))
register("gelu_bwd", "numpy",
         lambda g, x: g * (0.5 * (1 + _np_erf(x * _SQRT1_2)) + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI))
register("gelu_bwd", "cupy", cuda.elementwise("gelu_bwd"))


def _gelu_tanh_bwd(g, x):
    t = np.tanh(_K * (x + _C * x * x * x))
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _K * (1 + 3 * _C * x * x))


register("gelu_tanh_bwd", "numpy", _gelu_tanh_bwd)
register("gelu_tanh_bwd", "cupy", cuda.elementwise("gelu_tanh_bwd"))


class Gelu(Function):
    node_name = "GeluBackward0"

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return unary_float("gelu_fwd" if approximate == "none" else "gelu_tanh_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return GeluBackward.apply(g, x, ctx.approximate), None


class GeluBackward(Function):
    node_name = "GeluBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, approximate):
        ctx.save_for_backward(g, x)
        ctx.approximate = approximate
        return run_float("gelu_bwd" if approximate == "none" else "gelu_tanh_bwd", g, x)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = None
        if need[1]:
            if ctx.approximate == "none":   # f'' = φ(x) (2 - x²)
                x2 = x * x
                gx = gg * g * exp(x2 * -0.5) * (2 - x2) * _INV_SQRT_2PI
            else:                           # f'' = (1 - t²) (u' - x t u'² + x u''/2)
                x2 = x * x
                t = tanh((x + x2 * x * _C) * _K)
                du = (x2 * (3 * _C) + 1) * _K
                gx = gg * g * (1 - t * t) * (du - x * t * du * du + x * x * (3 * _C * _K))
        return GeluBackward.apply(gg, x, ctx.approximate) if need[0] else None, gx, None


@export(function=False, method=False, nn=True)
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(input, approximate)


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
class Softplus(Pointwise, kernel="softplus_fwd", saves=0,   # beta x > thr ? x : log1p(exp(beta x))/beta
               numpy=lambda x, a=1.0, b=20.0: np.where(x * a > b, x, np.logaddexp(0, x * a) / a)):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.beta, ctx.threshold = beta, threshold
        return unary_float("softplus_fwd", x, a=float(beta), b=float(threshold))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SoftplusBackward.apply(g, x, ctx.beta, ctx.threshold), None, None


class SoftplusBackward(Pointwise, kernel="softplus_bwd",   # beta x > thr ? g : g sigmoid(beta x)
                       numpy=lambda g, x, a=1.0, b=20.0: np.where(x * a > b, g, g * _np_sigmoid(x * a))):
    @staticmethod
    def forward(ctx, g, x, beta, threshold):
        ctx.save_for_backward(g, x)
        ctx.beta, ctx.threshold = beta, threshold
        return run_float("softplus_bwd", g, x, a=float(beta), b=float(threshold))

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        beta, thr = ctx.beta, ctx.threshold
        need = ctx.needs_input_grad
        gx = None
        if need[1]:
            bx = x * beta
            s = sigmoid(bx)
            gx = where(bx > thr, 0.0, gg * g * s * (1 - s) * beta)
        return SoftplusBackward.apply(gg, x, beta, thr) if need[0] else None, gx, None, None


@export(function=False, method=False, nn=True)
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` for stability."""
    return Softplus.apply(input, beta, threshold)


# leaky_relu / elu: one scalar parameter ``a`` (slope, alpha), passed to their kernels ------------
class _OneParam(Pointwise):
    """``kernel(x, a)``; backward is ``backward_fn(g, x, a)``, a fused kernel of its own."""

    saves = (0,)
    backward_fn: type

    @classmethod
    def forward(cls, ctx, x, a):
        ctx.a = a
        return unary_float(cls.kernel, x, a=float(a))

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        return cls.backward_fn.apply(g, x, ctx.a), None


class _OneParamBackward(Pointwise):
    """``kernel(g, x, a)``, the fused backward of a ``_OneParam`` activation."""

    @classmethod
    def forward(cls, ctx, g, x, a):
        ctx.save_for_backward(g, x)
        ctx.a = a
        return run_float(cls.kernel, g, x, a=float(a))


class LeakyReluBackward(_OneParamBackward, kernel="leaky_relu_bwd",   # x > 0 ? g : a g
                        numpy=lambda g, x, a=0.01: np.where(x > 0, g, g * a)):
    @staticmethod
    def backward(ctx, gg):
        _, x = ctx.saved_tensors
        return (LeakyReluBackward.apply(gg, x, ctx.a) if ctx.needs_input_grad[0] else None,
                None, None)


class LeakyRelu(_OneParam, kernel="leaky_relu_fwd", numpy=lambda x, a=0.01: np.where(x > 0, x, x * a)):
    """x > 0 ? x : a x."""
    backward_fn = LeakyReluBackward


_leaky_relu_ = derive_inplace(LeakyRelu, "leaky_relu", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _leaky_relu_(input, negative_slope) if inplace else LeakyRelu.apply(input, negative_slope)


class EluBackward(_OneParamBackward, kernel="elu_bwd",   # x > 0 ? g : g a exp(x)
                  numpy=lambda g, x, a=1.0: np.where(x > 0, g, g * a * np.exp(np.minimum(x, 0)))):
    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        a = ctx.a
        need = ctx.needs_input_grad
        gx = where(x > 0, 0.0, gg * g * exp(x) * a) if need[1] else None
        return EluBackward.apply(gg, x, a) if need[0] else None, gx, None


class Elu(_OneParam, kernel="elu_fwd", numpy=lambda x, a=1.0: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))):
    """x > 0 ? x : a (exp(x) - 1)."""
    backward_fn = EluBackward


_elu_ = derive_inplace(Elu, "elu", float_result=True, public=False)


@export(function=False, method=False, nn=True)
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _elu_(input, alpha) if inplace else Elu.apply(input, alpha)
