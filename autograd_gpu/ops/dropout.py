"""``F.dropout`` and its variants, the mask drawn from a counter-based RNG (Philox).

Each call takes a (seed, offset) key from the device's default generator, so ``manual_seed``
reproduces the masks. The mask is a pure function of (seed, offset, element index) and is never
stored: the backward regenerates it (CPU: NumPy's Philox keyed by the seed; CUDA: the Philox
kernels of ``kernels/random.cu``). The backward is itself the same masked scaling, so it is
differentiable to any order.

One kernel pair covers every variant: ``fwd = keep ? x * scale + shift : fill`` and
``bwd = keep ? g * scale : 0``, with ``group`` consecutive elements sharing one draw (a
channel's elements for the feature variants).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import Function
from ..dispatch import quiet, register
from ..tensor import Tensor
from ..backends import cuda_random
from ._common import kernel
from .creation import _gen
from .registry import export

_ALPHA = 1.7580993408473766   # SELU's alpha * scale: alpha dropout keeps SELU's fixed point


def _np_keep(n: int, group: int, p: float, seed: int, offset: int) -> np.ndarray:
    """The keep mask of ``n // group`` draws (CPU): uniforms of NumPy's Philox keyed by ``seed``."""
    bg = np.random.Philox(key=seed, counter=offset)
    return np.random.Generator(bg).random(n // group if group else 0, dtype=np.float32) >= p


def _np_fwd(x, group, p, scale, shift, fill, seed, offset):
    flat = np.ascontiguousarray(x).reshape(-1, group)
    keep = _np_keep(x.size, group, p, seed, offset)[:, None]
    if shift == 0.0 and fill == 0.0:
        out = np.multiply(flat, keep)     # x zeroed where dropped, then scaled: no mask-sized float arrays,
        out *= x.dtype.type(scale)        # and a dropped x * scale that would overflow still gives 0
    else:
        out = np.where(keep, flat * x.dtype.type(scale) + x.dtype.type(shift), x.dtype.type(fill))
    return out.astype(x.dtype, copy=False).reshape(x.shape)


def _np_bwd(g, group, p, scale, seed, offset):
    keep = _np_keep(g.size, group, p, seed, offset)[:, None]
    out = np.multiply(np.ascontiguousarray(g).reshape(-1, group), keep)
    out *= g.dtype.type(scale)
    return out.reshape(g.shape)


register("dropout_fwd", "numpy", quiet(_np_fwd))   # inf * 0 and float16 overflow: silent, as PyTorch
register("dropout_fwd", "cupy", cuda_random.dropout_fwd)
register("dropout_bwd", "numpy", quiet(_np_bwd))
register("dropout_bwd", "cupy", cuda_random.dropout_bwd)


class DropoutMask(Function):
    """``keep ? g * scale : 0``: the backward of every dropout, and its own backward."""

    node_name = "NativeDropoutBackwardBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, group: int, p: float, scale: float, seed: int, offset: int) -> Tensor:
        ctx.key = (group, p, scale, seed, offset)
        return Tensor._make(kernel("dropout_bwd", g)(g._data, group, p, scale, seed, offset), g._device)

    @staticmethod
    def backward(ctx, gg: Tensor):
        return DropoutMask.apply(gg, *ctx.key), None, None, None, None, None


class Dropout(Function):
    """The forward; ctx holds only the key (group, p, scale, seed, offset), never a mask."""

    node_name = "NativeDropoutBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, group: int, p: float, scale: float, shift: float, fill: float,
                seed: int, offset: int) -> Tensor:
        ctx.key = (group, p, scale, seed, offset)
        out = kernel("dropout_fwd", x)(x._data, group, p, scale, shift, fill, seed, offset)
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return (DropoutMask.apply(g, *ctx.key),) + (None,) * 7


def _check_p(p) -> float:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _run(input: Tensor, p: float, training: bool, inplace: bool, group_of, alpha: bool) -> Tensor:
    """The shared body: identity when not training (or p = 0, or empty), zeros at p = 1, else the
    masked kernel with ``group_of(shape)`` elements per draw."""
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{input.dtype._torch_name}")
    if p == 1.0:
        return input.mul_(0) if inplace else input * 0
    group = group_of(tuple(input.shape))
    if alpha:
        a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        scale, shift, fill = a, _ALPHA * a * p, _ALPHA * a * (p - 1)
    else:
        scale, shift, fill = 1.0 / (1.0 - p), 0.0, 0.0
    n = input.numel() // group
    seed, offset = _gen(input._device)[1].philox(n)
    out = Dropout.apply(input, group, p, scale, shift, fill, seed, offset)
    return input.copy_(out) if inplace else out


def _elementwise(shape: tuple) -> int:
    return 1


def _channels(shape: tuple) -> int:
    """Elements per (batch, channel): PyTorch's feature dropout masks dims 0 and 1."""
    if len(shape) < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return math.prod(shape[2:])


def _unbatched(shape: tuple) -> int:
    """Elements per channel of an input without a batch dim (PyTorch unsqueezes dim 0)."""
    return math.prod(shape[1:])


@export(nn=True, function=False, method=False)
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p``, scale the rest by ``1 / (1 - p)``."""
    return _run(input, _check_p(p), training, inplace, _elementwise, False)


@export(nn=True, function=False, method=False)
def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's negative saturation, then an affine
    map keeps mean 0 and variance 1."""
    return _run(input, _check_p(p), training, inplace, _elementwise, True)


@export(nn=True, function=False, method=False)
def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (dims 0 and 1 draw, the rest share)."""
    return _run(input, _check_p(p), training, inplace, _channels, True)


_DEPRECATED = ("{name}: Received a {d}-D input to {name}, which is deprecated and will result in an error in a "
               "future release. To retain the behavior and silence this warning, please use dropout instead. "
               "Note that {name} exists to provide channel-wise dropout on inputs with {k} spatial dimensions, "
               "a channel dimension, and an optional batch dimension (i.e. {a}D or {b}D inputs).")


@export(nn=True, function=False, method=False)
def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` inputs."""
    p = _check_p(p)
    d = input.ndim
    if d not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {d}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _run(input, p, training, inplace, _channels if d == 3 else _unbatched, False)


@export(nn=True, function=False, method=False)
def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` inputs (a 3-D input is read as ``(N, C, L)``, as PyTorch)."""
    p = _check_p(p)
    d = input.ndim
    if d not in (3, 4):
        warnings.warn(_DEPRECATED.format(name="dropout2d", d=d, k=2, a=3, b=4), stacklevel=2)
    if d == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", stacklevel=2)
    return _run(input, p, training, inplace, _channels, False)


@export(nn=True, function=False, method=False)
def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs."""
    p = _check_p(p)
    d = input.ndim
    if d not in (4, 5):
        warnings.warn(_DEPRECATED.format(name="dropout3d", d=d, k=3, a=4, b=5), stacklevel=2)
    return _run(input, p, training, inplace, _channels if d == 5 else _unbatched, False)
