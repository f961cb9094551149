"""Adaptive average (1-3 d) and max (1-2 d) pooling: output o averages / maxes the input window
[floor(o L / O), ceil((o+1) L / O)) along each axis.

Adaptive average pooling is the separable window-average map of ``interpolate.py`` (so forward and
backward are gathers, double backward free). Adaptive max pooling returns flat argmax indices per
plane, as PyTorch; its backward is ``PoolScatterAdd`` (windows may overlap).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backends.cuda_pooling import launcher as _cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import values_indices
from .interpolate import separable, window_taps
from .pooling import PoolScatterAdd, _planes, _run
from .pooling_kernels import _strides
from .registry import export


def _np_adaptive_max_fwd(x, O):
    S = x.shape[1:]
    mult = _strides(S)
    starts, ends, T = [], [], []
    for sz, o in zip(S, O):
        r = np.arange(o)
        starts.append((r * sz) // o)
        ends.append(((r + 1) * sz + o - 1) // o)
        T.append(int((ends[-1] - starts[-1]).max()))
    best = idx = None
    isf = x.dtype.kind == "f"
    for t in np.ndindex(*T):
        pos = [np.minimum(st + tt, en - 1) for st, en, tt in zip(starts, ends, t)]
        v = x[(slice(None),) + np.ix_(*pos)]
        flat = sum(p.reshape((-1,) + (1,) * (len(O) - a - 1)) * m for a, (p, m) in enumerate(zip(pos, mult)))
        if best is None:
            best, idx = v.copy(), np.broadcast_to(flat, v.shape).copy()
            continue
        upd = v > best
        if isf:
            upd |= np.isnan(v)
        np.copyto(best, v, where=upd)
        np.copyto(idx, flat, where=upd)
    return best, idx


register("adaptive_max_pool_fwd", "numpy", _np_adaptive_max_fwd)
register("adaptive_max_pool_fwd", "cupy", _cuda("adaptive_max_pool_fwd"))


class AdaptiveMaxPool(Function):
    node_name = "AdaptiveMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, O: tuple):
        ctx.n, ctx.S = len(O), tuple(x.shape[-len(O):])
        xd, lead = _planes(x, len(O))
        v, i = _run("adaptive_max_pool_fwd", x, 2, lead, xd, O)
        return values_indices(ctx, x, v, i)

    @staticmethod
    def backward(ctx, g: Tensor, _gi=None):
        (idx,) = ctx.saved_tensors
        return PoolScatterAdd.apply(g, idx, ctx.n, ctx.S), None


def _output_size(x: Tensor, n: int, op: str, output_size) -> tuple:
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != n:
            raise RuntimeError(f"{op}: output_size must be {n}")
        size = tuple(x.shape[-n + a] if v is None else int(v) for a, v in enumerate(output_size))
    else:
        size = (int(output_size),) * n
    if any(v < 0 for v in size):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 but received "
                           f"{{{', '.join(map(str, size))}}}")
    return size


def _check_dims(x: Tensor, n: int, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    if x.ndim in (n + 1, n + 2) and 0 not in x.shape[-n:]:
        return
    if n == 1:
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for argument #1 'self' "
                           f"(while checking arguments for {op})")
    if op.startswith("adaptive_max"):
        raise RuntimeError(f"{op}(): Expected {n + 1}D or {n + 2}D tensor, but got: {list(x.shape)}")
    raise RuntimeError(f"Expected {n + 1}D or {n + 2}D (batch mode) tensor with optional 0 dim batch size for input, "
                       f"but got:{list(x.shape)}")


def _adaptive_avg(n: int, input: Tensor, output_size) -> Tensor:
    op = f"adaptive_avg_pool{n}d"
    _check_dims(input, n, op)
    O = _output_size(input, n, op, output_size)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"{op}\" not implemented for '{input.dtype._torch_name}'")
    nd = input.ndim
    tables = []
    for a in range(n):
        L = input.shape[nd - n + a]
        if O[a] == L:
            continue
        idx, w = window_taps(L, O[a])
        tables.append((nd - n + a, L, idx, w))
    return separable(input, tables) if tables else input.clone()


@export(nn=True, method=False)
def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg(1, input, output_size)


@export(nn=True, function=False, method=False)
def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg(2, input, output_size)


@export(nn=True, function=False, method=False)
def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    return _adaptive_avg(3, input, output_size)


def _adaptive_max(n: int, input: Tensor, output_size, return_indices: bool):
    op = f"adaptive_max_pool{n}d"
    _check_dims(input, n, op)
    O = _output_size(input, n, op, output_size)
    if any(o == 0 for o in O) or math.prod(input.shape) == 0:
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                           f"sizes {list(input.shape)} with dimension {input.ndim - n} being empty")
    v, i = AdaptiveMaxPool.apply(input, O)
    return (v, i) if return_indices else v


@export(nn=True, function=False, method=False)
def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    return _adaptive_max(1, input, output_size, return_indices)


@export(nn=True, function=False, method=False)
def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    return _adaptive_max(2, input, output_size, return_indices)


@export(nn=True, function=False, method=False)
def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False) -> tuple:
    return _adaptive_max(1, input, output_size, True)


@export(nn=True, function=False, method=False)
def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = False) -> tuple:
    return _adaptive_max(2, input, output_size, True)
