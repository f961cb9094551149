"""``ag.nn.functional.pad``: constant (also negative, i.e. cropping), reflect, replicate and circular.

Constant padding is one op (``ConstantPad``, its own adjoint with the widths negated); the other
modes gather along each padded dimension with ``index_select`` (a negative width crops that side;
circular crops first and wraps inside what is left, as PyTorch does). The other modes take
PyTorch's input ranks and raise its errors (``_check_sizes``).
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


_DIM_NAMES = ("D", "H", "W")
_MODES_ND = {2: (2, 3), 4: (3, 4), 6: (4, 5)}   # non-constant modes: pad length -> input dims allowed


def _pad_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source positions along one dim: output j reads input ``idx[j]`` (negative widths crop)."""
    if mode == "circular":   # PyTorch crops first, then wraps inside what is left
        c_lo, c_hi = max(-lo, 0), max(-hi, 0)
        m = n - c_lo - c_hi
        if m <= 0:   # only reached when another dim makes the output empty: any in-range index
            return np.zeros(max(m + max(lo, 0) + max(hi, 0), 0), dtype=np.int64)
        return c_lo + np.arange(-max(lo, 0), m + max(hi, 0)) % m
    j = np.arange(-lo, n + hi)
    if mode == "reflect":
        i = np.abs(j)
        return np.where(i >= n, 2 * (n - 1) - i, i)
    return np.clip(j, 0, n - 1)


def _check_sizes(mode: str, shape: tuple, pairs: tuple) -> None:
    """PyTorch's checks for reflect/replicate/circular (``_pad_enum`` and the pad kernels), in its order."""
    k, nd = len(pairs), len(shape)
    if nd not in _MODES_ND.get(2 * k, ()):
        raise NotImplementedError(
            f"Padding size {2 * k} is not supported for {nd}D input tensor.\nSupported combinations for "
            "non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n  - 3D or 4D input: "
            "padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    sizes = shape[nd - k:]
    outs = [n + lo + hi for n, (lo, hi) in zip(sizes, pairs)]
    if mode == "circular":
        for n, (lo, hi), o in zip(sizes, pairs, outs):
            if lo > n or hi > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if o < 0:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
        if 0 in outs:   # nothing is copied into an empty output
            return
        for n, (lo, hi) in zip(sizes[::-1], pairs[::-1]):
            m = n - max(-lo, 0) - max(-hi, 0)   # PyTorch copies from the cropped middle, which then overlaps
            if lo > m or hi > m:
                raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to "
                                   "tensor refer to a single memory location. Please clone() the tensor before "
                                   "performing the operation.")
        return
    if any(s == 0 for s in shape[nd - k - 1:]):   # the batch dim alone may be 0
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {list(shape)}")
    names = _DIM_NAMES[3 - k:]
    if mode == "reflect":
        for i in range(k - 1, -1, -1):   # W first, as PyTorch's argument numbers say
            (lo, hi), n = pairs[i], sizes[i]
            if lo >= n or hi >= n:
                raise RuntimeError(f"Argument #{4 + 2 * (k - 1 - i)}: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding ({lo}, {hi}) at dimension "
                                   f"{nd - k + i} of input {list(shape)}")
        if all(o < 1 for o in outs):   # PyTorch asks only one output dim to be >= 1
            ins = ", ".join(f"{a}: {n}" for a, n in zip(names, sizes))
            if k == 3:
                ins = ins.replace(", ", " ", 1)
            got = " ".join(f"{a}: {o}" for a, o in zip(names, outs))
            raise RuntimeError(f"input ({ins}) is too small. Calculated output {got}")
        out_shape = list(shape[:nd - k]) + outs
        if any(o < 0 for o in outs):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(outs)}: {out_shape}")
        return
    if any(o < 1 for o in outs):
        got = " ".join(f"{a}: {o}" for a, o in zip(names, outs))
        if k == 1:
            raise RuntimeError(f"input (W: {sizes[0]}) is too small. Calculated output {got}")
        ins = ", ".join(f"{a}: {n}" for a, n in zip(names, sizes))
        raise RuntimeError(f"Calculated output {got} must be >= 1 in every dimension (input {ins})")


def _int_pads(pad) -> tuple:
    for i, p in enumerate(pad):
        if not isinstance(p, (int, np.integer)) and not (isinstance(p, Tensor) and p._data.dtype.kind in "iu"):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found element of type "
                            f"{type(p).__name__} at pos {i}")
    return tuple(int(p) for p in pad)


@export(function=False, method=False, nn=True)
def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """F.pad: ``pad`` lists (left, right) widths from the last dimension backwards."""
    pad = _int_pads(pad)
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
            if n + min(lo, 0) < 0 or n + min(lo, 0) + min(hi, 0) < 0:   # PyTorch crops with narrow first
                raise RuntimeError("narrow(): length must be non-negative.")
            if n + lo + hi < 0:
                raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} resulted in a "
                                   f"negative output size, which is invalid. Check dimension {lead + i} of your "
                                   "input.")
        return ConstantPad.apply(input, pairs, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    _check_sizes(mode, shape, pairs)
    if input._data.dtype == np.bool_ and mode != "circular":
        kname = "reflection" if mode == "reflect" else "replication"
        raise NotImplementedError(f"\"{kname}_pad{k}d\" not implemented for 'Bool'")
    from .gather_scatter import index_select   # gather_scatter imports this module
    out = input
    be = input._device.backend
    for i, (lo, hi) in enumerate(pairs):
        if lo == 0 and hi == 0:
            continue
        d = lead + i
        idx = _pad_index(shape[d], lo, hi, mode)
        idx_t = Tensor._make(be.from_numpy(idx.astype(np.int64), input._device.index), input._device)
        out = index_select(out, d, idx_t)
    return out if out is not input else View.apply(input, shape)
