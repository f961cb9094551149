"""Unary math: exp/log family, sqrt/rsqrt/reciprocal, sin/cos/tan, tanh/sigmoid/relu.

Each op is one declaration (see ``declare.Pointwise``): its NumPy kernel, what backward
saves, and its backward; the CUDA kernel ``<kernel>_<dtype>`` is in ``kernels/elementwise.cu``.
Each fused ``_bwd`` kernel (``tanh_bwd``: g(1 - y²)) is an op with its own exact backward, so
double backward stays exact while single backward is one pass over memory on CUDA.
"""
from __future__ import annotations

import numpy as np

from ..dispatch import constant
from .declare import OUT, Pointwise, run, same_dtype


# exp / log family ----------------------------------------------------------------
class Exp(Pointwise, name="exp", numpy=np.exp, saves=OUT, inplace=True):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Expm1(Pointwise, name="expm1", numpy=np.expm1, saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y + 1)


class Log(Pointwise, name="log", numpy=np.log, saves=0):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return LogBackward.apply(g, x)


class LogBackward(Pointwise, kernel="log_bwd", numpy=lambda g, x: g / x, saves=(0, 1)):   # g / x
    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (LogBackward.apply(gg, x) if need[0] else None,
                -(gg * g) / (x * x) if need[1] else None)


class Log1p(Pointwise, name="log1p", numpy=np.log1p, saves=0, node_name="Log1PBackward0"):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Log1pBackward.apply(g, x)


class Log1pBackward(Pointwise, kernel="log1p_bwd", numpy=lambda g, x: g / (1 + x), saves=(0, 1),
                    node_name="Log1PBackwardBackward0"):   # g / (1 + x)
    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        if need[1]:
            xp1 = x + 1
        return (Log1pBackward.apply(gg, x) if need[0] else None,
                -(gg * g) / (xp1 * xp1) if need[1] else None)


# sqrt / rsqrt / reciprocal -----------------------------------------------------------
class Sqrt(Pointwise, name="sqrt", numpy=np.sqrt, saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SqrtBackward.apply(g, y)


class SqrtBackward(Pointwise, kernel="sqrt_bwd", numpy=lambda g, y: g / (2 * y), saves=(0, 1)):   # g / (2y)
    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SqrtBackward.apply(gg, y) if need[0] else None,
                -(gg * g) / (2 * y * y) if need[1] else None)


class Rsqrt(Pointwise, name="rsqrt", numpy=lambda x: np.reciprocal(np.sqrt(x)), saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return RsqrtBackward.apply(g, y)


class RsqrtBackward(Pointwise, kernel="rsqrt_bwd", numpy=lambda g, y: -0.5 * g * y * y * y,
                    saves=(0, 1)):   # -0.5 g y^3
    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (RsqrtBackward.apply(gg, y) if need[0] else None,
                gg * g * y * y * -1.5 if need[1] else None)


class Reciprocal(Pointwise, name="reciprocal", numpy=np.reciprocal, saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ReciprocalBackward.apply(g, y)


class ReciprocalBackward(Pointwise, kernel="reciprocal_bwd", numpy=lambda g, y: -g * y * y,
                         saves=(0, 1)):   # -g y^2
    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (ReciprocalBackward.apply(gg, y) if need[0] else None,
                gg * g * y * -2 if need[1] else None)


# sin / cos / tan ----------------------------------------------------------------------
class Sin(Pointwise, name="sin", numpy=np.sin, saves=0):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SinBackward.apply(g, x)


class Cos(Pointwise, name="cos", numpy=np.cos, saves=0):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return CosBackward.apply(g, x)


class SinBackward(Pointwise, kernel="sin_bwd", numpy=lambda g, x: g * np.cos(x), saves=(0, 1)):   # g cos(x)
    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SinBackward.apply(gg, x) if need[0] else None,
                CosBackward.apply(gg * g, x) if need[1] else None)


class CosBackward(Pointwise, kernel="cos_bwd", numpy=lambda g, x: -g * np.sin(x), saves=(0, 1)):   # -g sin(x)
    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (CosBackward.apply(gg, x) if need[0] else None,
                -SinBackward.apply(gg * g, x) if need[1] else None)


class Tan(Pointwise, name="tan", numpy=np.tan, saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y + 1)


# tanh / sigmoid / relu ----------------------------------------------------------
def np_sigmoid(x):
    # exp(-log(1 + exp(-x))): logaddexp never overflows and keeps relative precision far into
    # the negative tail. Written without out=: on large arrays logaddexp's time dominates either
    # way, and on small ones NumPy's out= handling costs more than the temporaries it saves.
    return np.exp(-np.logaddexp(constant(0, x.dtype), -x))


class Tanh(Pointwise, name="tanh", numpy=np.tanh, saves=OUT, nn=True):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return TanhBackward.apply(g, y)


class TanhBackward(Pointwise, kernel="tanh_bwd", numpy=lambda g, y: g * (constant(1, y.dtype) - y * y),
                   saves=(0, 1)):   # g (1 - y^2)
    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (TanhBackward.apply(gg, y) if need[0] else None,
                gg * g * y * -2 if need[1] else None)


class Sigmoid(Pointwise, name="sigmoid", numpy=np_sigmoid, saves=OUT, nn=True):   # 1 / (1 + exp(-x))
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SigmoidBackward.apply(g, y)


class SigmoidBackward(Pointwise, kernel="sigmoid_bwd", numpy=lambda g, y: g * y * (constant(1, y.dtype) - y),
                      saves=(0, 1)):   # g y (1 - y)
    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (SigmoidBackward.apply(gg, y) if need[0] else None,
                gg * g * (1 - 2 * y) if need[1] else None)


class Relu(Pointwise, name="relu", numpy=lambda x: np.maximum(x, 0), saves=OUT, nn=True):   # NaN propagates
    @staticmethod
    def forward(ctx, x):
        if x._data.dtype.kind == "b":
            raise RuntimeError("\"clamp_min_cpu\" not implemented for 'Bool'")
        return same_dtype("relu_fwd", x) if x._data.dtype.kind == "f" else run("maximum_fwd", x, 0)

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


class ReluBackward(Pointwise, kernel="relu_bwd", numpy=_np_relu_bwd, saves=1,
                   node_name="ThresholdBackwardBackward0"):   # y > 0 ? g : 0  (relu'(0) = 0)
    @staticmethod
    def backward(ctx, gg):
        (y,) = ctx.saved_tensors
        return ReluBackward.apply(gg, y) if ctx.needs_input_grad[0] else None, None
