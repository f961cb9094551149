"""``F.gelu``, exact (x Φ(x)) and tanh-approximated: NumPy kernels with block-sized scratch, the
CUDA kernels of ``kernels/elementwise.cu``, and a backward op with its own exact backward, so that
double backward stays exact.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from .declare import quiet as _quiet, run_float, unary_float
from .erf_kernels import blockwise, phi_into
from .registry import export
from .unary import exp, tanh

_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_K = math.sqrt(2 / math.pi)   # gelu's tanh approximation: tanh(K (x + C x^3))
_C = 0.044715


# NumPy kernels: in-place ufunc chains over 256 KiB blocks (``erf_kernels.blockwise``) with
# block-sized scratch; never writing to x or g; float16 computes in float32. Φ(x) = (1 + erf(x/√2))/2
# is ``erf_kernels.phi_into``: in float32 erf's tanh form with the 1/√2 folded in.
def _gelu(out, x):   # x Φ(x)
    phi_into(out, x)
    np.multiply(out, x, out=out)


def _gelu_bwd(out, g, x):   # g (Φ(x) + x φ(x))
    phi_into(out, x)
    e = np.multiply(x, x, out=np.empty_like(out))
    np.multiply(e, -0.5, out=e)
    np.exp(e, out=e)
    np.multiply(e, x, out=e)
    np.multiply(e, _INV_SQRT_2PI, out=e)
    np.add(out, e, out=out)
    np.multiply(out, g, out=out)


def _gelu_tanh_t(out, x):
    """``out = tanh(K (x + C x³))``; returns x², a new array."""
    s = np.multiply(x, x, out=np.empty_like(out))
    np.multiply(s, _C * _K, out=out)
    np.add(out, _K, out=out)
    np.multiply(out, x, out=out)
    np.tanh(out, out=out)
    return s


def _gelu_tanh(out, x):   # x (1 + t)/2
    _gelu_tanh_t(out, x)
    np.multiply(out, 0.5, out=out)
    np.add(out, 0.5, out=out)
    np.multiply(out, x, out=out)


def _gelu_tanh_bwd(out, g, x):   # g ((1 + t)/2 + x (1 - t²) K (1 + 3 C x²)/2)
    s = _gelu_tanh_t(out, x)
    np.multiply(s, 1.5 * _C * _K, out=s)
    np.add(s, 0.5 * _K, out=s)
    np.multiply(s, x, out=s)
    d = np.multiply(out, out, out=np.empty_like(out))
    np.subtract(1.0, d, out=d)
    np.multiply(s, d, out=s)
    np.multiply(out, 0.5, out=out)
    np.add(out, 0.5, out=out)
    np.add(out, s, out=out)
    np.multiply(out, g, out=out)


def _unary_kernel(fn):
    return lambda x: blockwise(fn, x.dtype, x)


def _grad_kernel(fn):
    return lambda g, x: blockwise(fn, np.result_type(g, x), g, x)


register("gelu_fwd", "numpy", _quiet(_unary_kernel(_gelu)))
register("gelu_fwd", "cupy", cuda.elementwise("gelu_fwd"))            # 0.5 x (1 + erf(x/√2))
register("gelu_tanh_fwd", "numpy", _quiet(_unary_kernel(_gelu_tanh)))
register("gelu_tanh_fwd", "cupy", cuda.elementwise("gelu_tanh_fwd"))  # 0.5 x (1 + tanh(K(x + C x³)))
register("gelu_bwd", "numpy", _quiet(_grad_kernel(_gelu_bwd)))
register("gelu_bwd", "cupy", cuda.elementwise("gelu_bwd"))
register("gelu_tanh_bwd", "numpy", _quiet(_grad_kernel(_gelu_tanh_bwd)))
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
