"""Activations that PyTorch exposes only in ``torch.nn.functional``: gelu, silu, softplus,
leaky_relu, elu (relu, sigmoid and tanh live in ``unary``).

As in ``unary``, each fused ``_bwd`` kernel is an op with its own exact backward, so
double backward through an activation stays exact.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel
from .compare import where
from .elementwise import FusedBackward, _unary, run_float
from .unary import _np_sigmoid, exp, sigmoid, tanh

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


def _check_inplace(x: Tensor) -> None:
    """Refuse before mutating: nothing may be left half-modified after an error."""
    if x.grad_fn is None and x._requires_grad and is_grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type {x.dtype._torch_name}")


def _write_back(x: Tensor, out) -> Tensor:
    x._data[...] = out
    return x


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
        return _unary("gelu_fwd" if approximate == "none" else "gelu_tanh_fwd", x)

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


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(input, approximate)


# silu ---------------------------------------------------------------------------
register("silu_fwd", "numpy", lambda x: x * _np_sigmoid(x))
register("silu_fwd", "cupy", cuda.elementwise("silu_fwd"))      # x sigmoid(x)


def _silu_bwd(g, x):
    s = _np_sigmoid(x)
    return g * s * (1 + x * (1 - s))


register("silu_bwd", "numpy", _silu_bwd)
register("silu_bwd", "cupy", cuda.elementwise("silu_bwd"))      # g s (1 + x (1 - s))


class Silu(Function):
    node_name = "SiluBackward0"

    @staticmethod
    def forward(ctx, x, inplace=False):
        if not inplace:
            ctx.save_for_backward(x)
            return _unary("silu_fwd", x)
        # backward needs the input, which is about to be overwritten: keep a copy that carries
        # the input's history, so double backward still reaches it
        src = Tensor._make(kernel("copy", x)(x._data), x._device)
        src.grad_fn, src._output_nr = x.grad_fn, x._output_nr
        _write_back(x, _unary("silu_fwd", src)._data)
        ctx.mark_dirty(x)
        ctx.save_for_backward(src)
        return x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SiluBackward._direct(g, x), None


class SiluBackward(FusedBackward):
    kernel_op = "silu_bwd"
    node_name = "SiluBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = None
        if need[1]:   # f'' = s (1 - s) (2 + x (1 - 2s))
            s = sigmoid(x)
            gx = gg * g * s * (1 - s) * (2 + x * (1 - 2 * s))
        return SiluBackward._direct(gg, x) if need[0] else None, gx


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        _check_inplace(input)
        return Silu.apply(input, True)
    return Silu.apply(input)


# softplus -------------------------------------------------------------------------
register("softplus_fwd", "numpy",
         lambda x, a=1.0, b=20.0: np.where(x * a > b, x, np.logaddexp(0, x * a) / a))
register("softplus_fwd", "cupy", cuda.elementwise("softplus_fwd"))   # beta x > thr ? x : log1p(exp(beta x))/beta
register("softplus_bwd", "numpy",
         lambda g, x, a=1.0, b=20.0: np.where(x * a > b, g, g * _np_sigmoid(x * a)))
register("softplus_bwd", "cupy", cuda.elementwise("softplus_bwd"))   # beta x > thr ? g : g sigmoid(beta x)


class Softplus(Function):
    node_name = "SoftplusBackward0"

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return _unary("softplus_fwd", x, a=float(beta), b=float(threshold))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SoftplusBackward.apply(g, x, ctx.beta, ctx.threshold), None, None


class SoftplusBackward(Function):
    node_name = "SoftplusBackwardBackward0"

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


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` for stability."""
    return Softplus.apply(input, beta, threshold)


# leaky_relu -----------------------------------------------------------------------
register("leaky_relu_fwd", "numpy", lambda x, a=0.01: np.where(x > 0, x, x * a))
register("leaky_relu_fwd", "cupy", cuda.elementwise("leaky_relu_fwd"))   # x > 0 ? x : a x
register("leaky_relu_bwd", "numpy", lambda g, x, a=0.01: np.where(x > 0, g, g * a))
register("leaky_relu_bwd", "cupy", cuda.elementwise("leaky_relu_bwd"))   # x > 0 ? g : a g


class LeakyRelu(Function):
    node_name = "LeakyReluBackward0"

    @staticmethod
    def forward(ctx, x, slope, inplace=False):
        out = _unary("leaky_relu_fwd", x, a=float(slope))
        ctx.slope, ctx.inplace = slope, inplace
        if inplace:   # the output has the input's sign when slope > 0: save it instead of the input
            _write_back(x, out._data)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.slope < 0 and ctx.inplace:
            raise RuntimeError("In-place leakyReLu backward calculation is triggered with a negative slope "
                               "which is not supported. This is caused by calling in-place forward function "
                               "with a negative slope, please call out-of-place version instead.")
        return LeakyReluBackward.apply(g, x, ctx.slope), None, None


class LeakyReluBackward(Function):
    node_name = "LeakyReluBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return run_float("leaky_relu_bwd", g, x, a=float(slope))

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        return (LeakyReluBackward.apply(gg, x, ctx.slope) if ctx.needs_input_grad[0] else None,
                None, None)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if inplace:
        _check_inplace(input)
        return LeakyRelu.apply(input, negative_slope, True)
    return LeakyRelu.apply(input, negative_slope)


# elu ------------------------------------------------------------------------------
register("elu_fwd", "numpy", lambda x, a=1.0: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))))
register("elu_fwd", "cupy", cuda.elementwise("elu_fwd"))       # x > 0 ? x : a (exp(x) - 1)
register("elu_bwd", "numpy", lambda g, x, a=1.0: np.where(x > 0, g, g * a * np.exp(np.minimum(x, 0))))
register("elu_bwd", "cupy", cuda.elementwise("elu_bwd"))       # x > 0 ? g : g a exp(x)


class Elu(Function):
    node_name = "EluBackward0"

    @staticmethod
    def forward(ctx, x, alpha, inplace=False):
        out = _unary("elu_fwd", x, a=float(alpha))
        ctx.alpha, ctx.inplace = alpha, inplace
        if inplace:   # backward from the result: x <= 0 gives a exp(x) = y + a
            _write_back(x, out._data)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        if ctx.inplace:
            return where(v > 0, g, g * (v + ctx.alpha)), None, None
        return EluBackward.apply(g, v, ctx.alpha), None, None


class EluBackward(Function):
    node_name = "EluBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, alpha):
        ctx.save_for_backward(g, x)
        ctx.alpha = alpha
        return run_float("elu_bwd", g, x, a=float(alpha))

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        a = ctx.alpha
        need = ctx.needs_input_grad
        gx = where(x > 0, 0.0, gg * g * exp(x) * a) if need[1] else None
        return EluBackward.apply(gg, x, a) if need[0] else None, gx, None


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        _check_inplace(input)
        return Elu.apply(input, alpha, True)
    return Elu.apply(input, alpha)


METHODS = ()
FUNCTIONS = ()
NN_FUNCTIONAL = ("gelu", "silu", "softplus", "leaky_relu", "elu")
