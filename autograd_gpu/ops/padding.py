"""``ag.nn.functional.pad``: constant (also negative, i.e. cropping), reflect, replicate and circular.

Constant padding is one op (``ConstantPad``, its own adjoint with the widths negated); the other
modes gather along each padded dimension with ``index_select``.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._common import kernel
from .registry import export
from .shape import View
from .creation import full


class ConstantPad(Function):
    """Pad (or crop, for negative widths) with a constant; the adjoint is the opposite crop/pad with 0."""
    node_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, pairs: tuple, value) -> Tensor:
        ctx.pairs = pairs
        shape = x._data.shape
        lead = len(shape) - len(pairs)
        out_shape = shape[:lead] + tuple(n + lo + hi for n, (lo, hi) in zip(shape[lead:], pairs))
        out = full(out_shape, value, dtype=x.dtype, device=x._device)._data
        dst = (slice(None),) * lead + tuple(slice(max(lo, 0), max(lo, 0) + n + min(lo, 0) + min(hi, 0))
                                           for n, (lo, hi) in zip(shape[lead:], pairs))
        src = (slice(None),) * lead + tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                           for n, (lo, hi) in zip(shape[lead:], pairs))
        if all(n > 0 for n in out_shape):
            kernel("copy_into", x)(out[dst], x._data[src])
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return ConstantPad.apply(g, tuple((-lo, -hi) for lo, hi in ctx.pairs), 0), None, None


def _pad_index(n: int, lo: int, hi: int, mode: str, dim: int, shape) -> np.ndarray:
    j = np.arange(-lo, n + hi)
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {dim} of input {list(shape)}")
        i = np.abs(j)
        return np.where(i >= n, 2 * (n - 1) - i, i)
    if mode == "replicate":
        if n == 0:
            raise RuntimeError(f"padding size is expected to be greater than 0 for replicate, but input of "
                               f"size 0 at dimension {dim}")
        return np.clip(j, 0, n - 1)
    if lo > n or hi > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    return j % n


@export(function=False, method=False, nn=True)
def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """F.pad: ``pad`` lists (left, right) widths from the last dimension backwards."""
    pad = tuple(int(p) for p in pad)
    shape = input._data.shape
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > len(shape):
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but "
                           f"got padding length {len(pad)} and input of dimension {len(shape)}")
    k = len(pad) // 2
    pairs = tuple((pad[2 * i], pad[2 * i + 1]) for i in range(k))[::-1]  # first padded dim first
    lead = len(shape) - k
    if mode == "constant":
        for i, (lo, hi) in enumerate(pairs):
            n = shape[lead + i]
            if n + lo + hi < 0:
                raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} resulted in a "
                                   f"negative output size, which is invalid. Check dimension {lead + i} of your "
                                   "input.")
        return ConstantPad.apply(input, pairs, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    from .gather_scatter import index_select   # gather_scatter imports this module
    out = input
    be = input._device.backend
    for i, (lo, hi) in enumerate(pairs):
        if lo == 0 and hi == 0:
            continue
        d = lead + i
        idx = _pad_index(shape[d], lo, hi, mode, d, shape)
        idx_t = Tensor._make(be.from_numpy(idx.astype(np.int64), input._device.index), input._device)
        out = index_select(out, d, idx_t)
    return out if out is not input else View.apply(input, shape)
