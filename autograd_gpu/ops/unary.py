"""Unary math: exp/log family, sqrt/rsqrt/reciprocal, sin/cos/tan, tanh/sigmoid/relu.

Each op is one declaration (see ``declare.Pointwise``): its NumPy kernel, what backward
saves, and its backward; the CUDA kernel ``<kernel>_<dtype>`` is in ``kernels/elementwise.cu``.
Each fused ``_bwd`` kernel (``tanh_bwd``: g(1 - y²)) is an op with its own exact backward, so
double backward stays exact while single backward is one pass over memory on CUDA.
"""
from __future__ import annotations

import numpy as np

from ..dispatch import constant
from .declare import OUT, FusedBackward, Pointwise, run, same_dtype


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


class LogBackward(FusedBackward, kernel="log_bwd", numpy=lambda g, x: g / x):   # g / x
    @staticmethod
    def d_saved(gg, g, x):
        return -(gg * g) / (x * x)

class Log1p(Pointwise, name="log1p", numpy=np.log1p, saves=0, node_name="Log1PBackward0"):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Log1pBackward.apply(g, x)


class Log1pBackward(FusedBackward, kernel="log1p_bwd", numpy=lambda g, x: g / (1 + x),
                    node_name="Log1PBackwardBackward0"):   # g / (1 + x)
    @staticmethod
    def d_saved(gg, g, x):
        xp1 = x + 1
        return -(gg * g) / (xp1 * xp1)

# sqrt / rsqrt / reciprocal -----------------------------------------------------------
class Sqrt(Pointwise, name="sqrt", numpy=np.sqrt, saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SqrtBackward.apply(g, y)


class SqrtBackward(FusedBackward, kernel="sqrt_bwd", numpy=lambda g, y: g / (2 * y)):   # g / (2y)
    @staticmethod
    def d_saved(gg, g, y):
        return -(gg * g) / (2 * y * y)

class Rsqrt(Pointwise, name="rsqrt", numpy=lambda x: np.reciprocal(np.sqrt(x)), saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return RsqrtBackward.apply(g, y)


class RsqrtBackward(FusedBackward, kernel="rsqrt_bwd", numpy=lambda g, y: -0.5 * g * y * y * y):   # -0.5 g y^3
    @staticmethod
    def d_saved(gg, g, y):
        return gg * g * y * y * -1.5

class Reciprocal(Pointwise, name="reciprocal", numpy=np.reciprocal, saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ReciprocalBackward.apply(g, y)


class ReciprocalBackward(FusedBackward, kernel="reciprocal_bwd", numpy=lambda g, y: -g * y * y):   # -g y^2
    @staticmethod
    def d_saved(gg, g, y):
        return gg * g * y * -2

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


class SinBackward(FusedBackward, kernel="sin_bwd", numpy=lambda g, x: g * np.cos(x)):   # g cos(x)
    @staticmethod
    def d_saved(gg, g, x):
        return CosBackward.apply(gg * g, x)

class CosBackward(FusedBackward, kernel="cos_bwd", numpy=lambda g, x: -g * np.sin(x)):   # -g sin(x)
    @staticmethod
    def d_saved(gg, g, x):
        return -SinBackward.apply(gg * g, x)

class Tan(Pointwise, name="tan", numpy=np.tan, saves=OUT):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y + 1)


# tanh / sigmoid / relu ----------------------------------------------------------
def np_sigmoid(x):
    # Two exact forms. exp(-log(1 + exp(-x))): logaddexp never overflows, but costs ~20 ns an
    # element; 1 / (1 + exp(-x)), in-place fast ufuncs, keeps relative precision but where exp(-x)
    # overflows (x < -88 in float32), and there sigmoid(x) is exp(x) to the last bit: those few
    # elements are redone. The first has fewer calls, so it wins below ~64 elements.
    if x.dtype == np.float16:   # computed in float32 and rounded once, as PyTorch does
        return np_sigmoid(x.astype(np.float32)).astype(np.float16)
    if x.size < 64:
        return np.exp(-np.logaddexp(constant(0, x.dtype), -x))
    y = np.negative(x)
    np.exp(y, out=y)
    y += 1
    np.reciprocal(y, out=y)
    if not y.all():   # only exp's overflow makes a 0
        tail = y == 0
        y[tail] = np.exp(x[tail])
    return y


class Tanh(Pointwise, name="tanh", numpy=np.tanh, saves=OUT, nn=True, quiet=False):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return TanhBackward.apply(g, y)


class TanhBackward(FusedBackward, kernel="tanh_bwd", numpy=lambda g, y: g * (constant(1, y.dtype) - y * y)):
    @staticmethod
    def d_saved(gg, g, y):   # of g (1 - y^2)
        return gg * g * y * -2

class Sigmoid(Pointwise, name="sigmoid", numpy=np_sigmoid, saves=OUT, nn=True):   # 1 / (1 + exp(-x))
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SigmoidBackward.apply(g, y)


class SigmoidBackward(FusedBackward, kernel="sigmoid_bwd",
                      numpy=lambda g, y: g * y * (constant(1, y.dtype) - y)):
    @staticmethod
    def d_saved(gg, g, y):   # of g y (1 - y)
        return gg * g * (1 - 2 * y)

class Relu(Pointwise, name="relu", numpy=lambda x: np.maximum(0, x), saves=OUT, inplace=True, promote="same",
           quiet=False):   # x < 0 ? 0 : x: NaN propagates, relu(-0.0) = -0.0 as PyTorch (maximum(0, x) keeps x on ties)
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


class ReluBackward(FusedBackward, kernel="relu_bwd", numpy=_np_relu_bwd, saves=1,
                   node_name="ThresholdBackwardBackward0"):
    """y > 0 ? g : 0 (relu'(0) = 0)."""
