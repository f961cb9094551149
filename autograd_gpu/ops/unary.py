"""Unary math: exp/log family, sqrt/rsqrt/reciprocal, sin/cos, tanh/sigmoid/relu.

Each fused ``_bwd`` kernel (``tanh_bwd``: g(1 - y²)) is an op with its own exact backward,
so double backward stays exact while single backward is one pass over memory on CUDA.
"""
from __future__ import annotations

import numpy as np

from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ..autograd.function import OUT
from .elementwise import ElementwiseFunction, FusedBackward, _constant, _same, _unary, run



# exp / log family ----------------------------------------------------------------
register("exp_fwd", "numpy", np.exp)
register("exp_fwd", "cupy", cuda.elementwise("exp_fwd"))      # exp(x)


class Exp(ElementwiseFunction):
    kernel_op = "exp_fwd"
    node_name = "ExpBackward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        return _unary("exp_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def exp(input) -> Tensor:
    return Exp._direct(input)


register("expm1_fwd", "numpy", np.expm1)
register("expm1_fwd", "cupy", cuda.elementwise("expm1_fwd"))  # exp(x) - 1


class Expm1(ElementwiseFunction):
    kernel_op = "expm1_fwd"
    node_name = "Expm1Backward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        return _unary("expm1_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y + 1)


def expm1(input) -> Tensor:
    return Expm1._direct(input)


register("log_fwd", "numpy", np.log)
register("log_fwd", "cupy", cuda.elementwise("log_fwd"))      # log(x)


class Log(ElementwiseFunction):
    kernel_op = "log_fwd"
    node_name = "LogBackward0"
    saves = (0,)

    @staticmethod
    def forward(ctx, x):
        return _unary("log_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return LogBackward._direct(g, x)


register("log_bwd", "numpy", lambda g, x: g / x)
register("log_bwd", "cupy", cuda.elementwise("log_bwd"))      # g / x


class LogBackward(FusedBackward):
    kernel_op = "log_bwd"
    node_name = "LogBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (LogBackward._direct(gg, x) if need[0] else None,
                -(gg * g) / (x * x) if need[1] else None)


def log(input) -> Tensor:
    return Log._direct(input)


register("log1p_fwd", "numpy", np.log1p)
register("log1p_fwd", "cupy", cuda.elementwise("log1p_fwd"))  # log(1 + x)


class Log1p(ElementwiseFunction):
    kernel_op = "log1p_fwd"
    node_name = "Log1PBackward0"
    saves = (0,)

    @staticmethod
    def forward(ctx, x):
        return _unary("log1p_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Log1pBackward._direct(g, x)


register("log1p_bwd", "numpy", lambda g, x: g / (1 + x))
register("log1p_bwd", "cupy", cuda.elementwise("log1p_bwd"))  # g / (1 + x)


class Log1pBackward(FusedBackward):
    kernel_op = "log1p_bwd"
    node_name = "Log1PBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        if need[1]:
            xp1 = x + 1
        return (Log1pBackward._direct(gg, x) if need[0] else None,
                -(gg * g) / (xp1 * xp1) if need[1] else None)


def log1p(input) -> Tensor:
    return Log1p._direct(input)


# sqrt / rsqrt / reciprocal -----------------------------------------------------------
register("sqrt_fwd", "numpy", np.sqrt)
register("sqrt_fwd", "cupy", cuda.elementwise("sqrt_fwd"))    # sqrt(x)


class Sqrt(ElementwiseFunction):
    kernel_op = "sqrt_fwd"
    node_name = "SqrtBackward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        return _unary("sqrt_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SqrtBackward._direct(g, y)


register("sqrt_bwd", "numpy", lambda g, y: g / (2 * y))
register("sqrt_bwd", "cupy", cuda.elementwise("sqrt_bwd"))    # g / (2y)


class SqrtBackward(FusedBackward):
    kernel_op = "sqrt_bwd"
    node_name = "SqrtBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SqrtBackward._direct(gg, y) if need[0] else None,
                -(gg * g) / (2 * y * y) if need[1] else None)


def sqrt(input) -> Tensor:
    return Sqrt._direct(input)


register("rsqrt_fwd", "numpy", lambda x: np.reciprocal(np.sqrt(x)))
register("rsqrt_fwd", "cupy", cuda.elementwise("rsqrt_fwd"))  # 1 / sqrt(x)


class Rsqrt(ElementwiseFunction):
    kernel_op = "rsqrt_fwd"
    node_name = "RsqrtBackward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        return _unary("rsqrt_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return RsqrtBackward._direct(g, y)


register("rsqrt_bwd", "numpy", lambda g, y: -0.5 * g * y * y * y)
register("rsqrt_bwd", "cupy", cuda.elementwise("rsqrt_bwd"))  # -0.5 g y^3


class RsqrtBackward(FusedBackward):
    kernel_op = "rsqrt_bwd"
    node_name = "RsqrtBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (RsqrtBackward._direct(gg, y) if need[0] else None,
                gg * g * y * y * -1.5 if need[1] else None)


def rsqrt(input) -> Tensor:
    return Rsqrt._direct(input)


register("reciprocal_fwd", "numpy", np.reciprocal)
register("reciprocal_fwd", "cupy", cuda.elementwise("reciprocal_fwd"))  # 1 / x


class Reciprocal(ElementwiseFunction):
    kernel_op = "reciprocal_fwd"
    node_name = "ReciprocalBackward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        return _unary("reciprocal_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ReciprocalBackward._direct(g, y)


register("reciprocal_bwd", "numpy", lambda g, y: -g * y * y)
register("reciprocal_bwd", "cupy", cuda.elementwise("reciprocal_bwd"))  # -g y^2


class ReciprocalBackward(FusedBackward):
    kernel_op = "reciprocal_bwd"
    node_name = "ReciprocalBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (ReciprocalBackward._direct(gg, y) if need[0] else None,
                gg * g * y * -2 if need[1] else None)


def reciprocal(input) -> Tensor:
    return Reciprocal._direct(input)


# sin / cos ----------------------------------------------------------------------
register("sin_fwd", "numpy", np.sin)
register("sin_fwd", "cupy", cuda.elementwise("sin_fwd"))      # sin(x)
register("cos_fwd", "numpy", np.cos)
register("cos_fwd", "cupy", cuda.elementwise("cos_fwd"))      # cos(x)


class Sin(ElementwiseFunction):
    kernel_op = "sin_fwd"
    node_name = "SinBackward0"
    saves = (0,)

    @staticmethod
    def forward(ctx, x):
        return _unary("sin_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SinBackward._direct(g, x)


class Cos(ElementwiseFunction):
    kernel_op = "cos_fwd"
    node_name = "CosBackward0"
    saves = (0,)

    @staticmethod
    def forward(ctx, x):
        return _unary("cos_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return CosBackward._direct(g, x)


register("sin_bwd", "numpy", lambda g, x: g * np.cos(x))
register("sin_bwd", "cupy", cuda.elementwise("sin_bwd"))      # g cos(x)
register("cos_bwd", "numpy", lambda g, x: -g * np.sin(x))
register("cos_bwd", "cupy", cuda.elementwise("cos_bwd"))      # -g sin(x)


class SinBackward(FusedBackward):
    kernel_op = "sin_bwd"
    node_name = "SinBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SinBackward._direct(gg, x) if need[0] else None,
                CosBackward._direct(gg * g, x) if need[1] else None)


class CosBackward(FusedBackward):
    kernel_op = "cos_bwd"
    node_name = "CosBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (CosBackward._direct(gg, x) if need[0] else None,
                -SinBackward._direct(gg * g, x) if need[1] else None)


def sin(input) -> Tensor:
    return Sin._direct(input)


def cos(input) -> Tensor:
    return Cos._direct(input)


# tanh / sigmoid / relu ----------------------------------------------------------
def _np_sigmoid(x):
    # exp(-log(1 + exp(-x))): logaddexp never overflows and keeps relative precision far into
    # the negative tail. Written without out=: on large arrays logaddexp's time dominates either
    # way, and on small ones NumPy's out= handling costs more than the temporaries it saves.
    return np.exp(-np.logaddexp(_constant(0, x.dtype), -x))


register("tanh_fwd", "numpy", np.tanh)
register("tanh_fwd", "cupy", cuda.elementwise("tanh_fwd"))    # tanh(x)


class Tanh(ElementwiseFunction):
    kernel_op = "tanh_fwd"
    node_name = "TanhBackward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        return _unary("tanh_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return TanhBackward._direct(g, y)


register("tanh_bwd", "numpy", lambda g, y: g * (_constant(1, y.dtype) - y * y))
register("tanh_bwd", "cupy", cuda.elementwise("tanh_bwd"))    # g (1 - y^2)


class TanhBackward(FusedBackward):
    kernel_op = "tanh_bwd"
    node_name = "TanhBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (TanhBackward._direct(gg, y) if need[0] else None,
                gg * g * y * -2 if need[1] else None)


def tanh(input) -> Tensor:
    return Tanh._direct(input)


register("sigmoid_fwd", "numpy", _np_sigmoid)
register("sigmoid_fwd", "cupy", cuda.elementwise("sigmoid_fwd"))   # 1 / (1 + exp(-x))


class Sigmoid(ElementwiseFunction):
    kernel_op = "sigmoid_fwd"
    node_name = "SigmoidBackward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        return _unary("sigmoid_fwd", x)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SigmoidBackward._direct(g, y)


register("sigmoid_bwd", "numpy", lambda g, y: g * y * (_constant(1, y.dtype) - y))
register("sigmoid_bwd", "cupy", cuda.elementwise("sigmoid_bwd"))   # g y (1 - y)


class SigmoidBackward(FusedBackward):
    kernel_op = "sigmoid_bwd"
    node_name = "SigmoidBackwardBackward0"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SigmoidBackward._direct(gg, y) if need[0] else None,
                gg * g * (1 - 2 * y) if need[1] else None)


def sigmoid(input) -> Tensor:
    return Sigmoid._direct(input)


register("relu_fwd", "numpy", lambda x: np.maximum(x, 0))
register("relu_fwd", "cupy", cuda.elementwise("relu_fwd"))    # max(x, 0), NaN propagates


class Relu(ElementwiseFunction):
    kernel_op = "relu_fwd"
    node_name = "ReluBackward0"
    saves = (OUT,)

    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind == "b":
            raise RuntimeError("\"clamp_min_cpu\" not implemented for 'Bool'")
        return _same("relu_fwd", x) if x._data.dtype.kind == "f" else run("maximum_fwd", x, 0)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ReluBackward._direct(g, y)


def _np_relu_bwd(g, y):
    # g * mask is ~16x faster than np.where on large arrays, but inf * 0 = nan where PyTorch
    # gives 0: take the exact path only when the gradient holds a non-finite value
    mask = y > 0
    if np.isfinite(g).all():
        return np.multiply(g, mask, dtype=g.dtype)
    return np.where(mask, g, 0).astype(g.dtype, copy=False)


register("relu_bwd", "numpy", _np_relu_bwd)
register("relu_bwd", "cupy", cuda.elementwise("relu_bwd"))    # y > 0 ? g : 0  (relu'(0) = 0)


class ReluBackward(FusedBackward):
    kernel_op = "relu_bwd"
    node_name = "ThresholdBackwardBackward0"
    saves = (1,)

    @staticmethod
    def backward(ctx, gg):
        (y,) = ctx.saved_tensors
        return ReluBackward._direct(gg, y) if ctx.needs_input_grad[0] else None, None


def relu(input) -> Tensor:
    return Relu._direct(input)


METHODS = ('exp', 'expm1', 'log', 'log1p', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'relu')
FUNCTIONS = ()
