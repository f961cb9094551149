"""``F.unfold`` / ``F.fold``: im2col and col2im, and the two Functions every convolution is built on.

``Im2Col`` copies each sliding window of a (B, C, *S) input (1-3 spatial dims, zero padding) into
columns; ``Col2Im`` adds columns back onto the image. They are each other's adjoint, so each one's
backward is the other and double backward comes for free. Two column layouts:

- ``batch_first=True``: (B, C, *k, *O), what ``F.unfold`` returns (reshaped to (B, C*K, L));
- ``batch_first=False``: (C, *k, B, *O), so a convolution is ONE GEMM ``W (O, C*K) @ cols (C*K, B*L)``
  (NumPy runs a broadcast ``W @ cols[b]`` per batch far slower than one big product).

CPU: the windows are one ``as_strided`` view of the (padded) input, copied once; col2im adds one
strided slice per kernel tap, clipped to the image (no padded buffer, a contiguous result). CUDA:
``kernels/conv.cu`` (``backends/cuda_conv.py``), col2im gathering per input pixel (no atomics).
"""
from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd.function import Function
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel
from .registry import export


def out_sizes(spatial, kernel_size, dilation, padding, stride) -> tuple:
    """Sliding-window counts per spatial dim (may be <= 0: callers raise)."""
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                 for s, k, d, p, st in zip(spatial, kernel_size, dilation, padding, stride))


def _col_perm(n: int) -> tuple:
    """(B, C, *k, *O) -> (C, *k, B, *O)."""
    return (1,) + tuple(range(2, 2 + n)) + (0,) + tuple(range(2 + n, 2 + 2 * n))


def np_windows(xp, kernel_size, dilation, stride, outs):
    """The (B, C, *k, *O) view of the sliding windows of an already padded ``xp`` (B, C, *S)."""
    st = xp.strides[2:]
    return as_strided(xp, xp.shape[:2] + tuple(kernel_size) + tuple(outs),
                      xp.strides[:2] + tuple(s * d for s, d in zip(st, dilation))
                      + tuple(s * k for s, k in zip(st, stride)), writeable=False)


def np_pad_into(buf, x, padding):
    """x (B, C, *S) written into the interior of ``buf`` (zero borders, left as they are)."""
    buf[(slice(None), slice(None)) + tuple(slice(p, p + s) for s, p in zip(x.shape[2:], padding))] = x
    return buf


def _np_im2col(x, kernel_size, dilation, padding, stride, batch_first, outs=None):
    n = len(kernel_size)
    b, c, *spatial = x.shape
    outs = outs or out_sizes(spatial, kernel_size, dilation, padding, stride)
    if any(padding):
        xp = np_pad_into(np.zeros((b, c) + tuple(s + 2 * p for s, p in zip(spatial, padding)), dtype=x.dtype),
                         x, padding)
    else:
        xp = x
    view = np_windows(xp, kernel_size, dilation, stride, outs)
    if not batch_first:
        view = view.transpose(_col_perm(n))
    return np.ascontiguousarray(view)


def np_col2im_add(dst, cols, kernel_size, dilation, padding, stride):
    """dst (B, C, *S) += the columns cols (B, C, *k, *O), any strides: one strided add per kernel
    tap, each clipped to the output positions whose tap lands inside dst (the padding is dropped
    without ever being written, so dst needs no padded copy and stays contiguous)."""
    n = len(kernel_size)
    outs, spatial = cols.shape[2 + n:], dst.shape[2:]
    lead = (slice(None), slice(None))
    for tap in itertools.product(*(range(k) for k in kernel_size)):
        src, dsl = [], []
        for t, d, p, st, o, sz in zip(tap, dilation, padding, stride, outs, spatial):
            off = t * d - p                           # input position of output 0's tap
            lo = max(0, -(off // st))                 # first output whose tap is >= 0
            hi = min(o, (sz - 1 - off) // st + 1)     # one past the last one whose tap is < sz
            if lo >= hi:
                break
            src.append(slice(lo, hi))
            dsl.append(slice(off + lo * st, off + (hi - 1) * st + 1, st))
        else:
            dst[lead + tuple(dsl)] += cols[lead + tap + tuple(src)]
    return dst


def _np_col2im(cols, spatial, kernel_size, dilation, padding, stride, batch_first):
    n = len(kernel_size)
    if not batch_first:   # (C, *k, B, *O) seen as (B, C, *k, *O)
        cols = cols.transpose((n + 1, 0) + tuple(range(1, n + 1)) + tuple(range(n + 2, 2 * n + 2)))
    res = np.zeros(cols.shape[:2] + tuple(spatial), dtype=cols.dtype)
    return np_col2im_add(res, cols, kernel_size, dilation, padding, stride)


def _cupy_im2col(*args):
    from ..backends import cuda_conv
    return cuda_conv.im2col_fwd(*args)


def _cupy_col2im(*args):
    from ..backends import cuda_conv
    return cuda_conv.col2im_fwd(*args)


register("im2col_fwd", "numpy", _np_im2col)
register("im2col_fwd", "cupy", _cupy_im2col)     # kernels/conv.cu: one thread per column element
register("col2im_fwd", "numpy", _np_col2im)
register("col2im_fwd", "cupy", _cupy_col2im)     # kernels/conv.cu: one thread per image element, gathers


class Im2Col(Function):
    """(B, C, *S) -> columns (layout by ``batch_first``, see the module docstring). ``outs``: the
    window counts when fewer than fit (a conv_transpose's output_padding >= stride leaves some)."""
    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, geom: tuple, batch_first: bool, outs: tuple | None = None) -> Tensor:
        ctx.geom, ctx.batch_first, ctx.spatial = geom, batch_first, x._data.shape[2:]
        return Tensor._make(kernel("im2col_fwd", x)(x._data, *geom, batch_first, outs), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Col2Im.apply(g, ctx.spatial, ctx.geom, ctx.batch_first), None, None, None


class Col2Im(Function):
    """Columns -> (B, C, *spatial), overlapping windows summed: the adjoint of ``Im2Col``."""
    node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, cols: Tensor, spatial: tuple, geom: tuple, batch_first: bool) -> Tensor:
        ctx.geom, ctx.batch_first = geom, batch_first
        n = len(geom[0])
        ctx.outs = tuple(cols._data.shape[-n:] if batch_first else cols._data.shape[n + 2:])
        return Tensor._make(kernel("col2im_fwd", cols)(cols._data, tuple(spatial), *geom, batch_first), cols._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Im2Col.apply(g, ctx.geom, ctx.batch_first, ctx.outs), None, None, None


# F.unfold / F.fold (PyTorch's are 2-D only) ---------------------------------------------------
_NAMES = ("height", "width")


def _pair(v, name: str) -> tuple:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
    return v


def _check_geom(kernel_size, dilation, padding, stride) -> None:
    """PyTorch's im2col/col2im shape checks, in its order."""
    for vals, what, short, bad, rel in ((kernel_size, "kernel size", "kernel", lambda v: v <= 0, "greater than zero"),
                                        (stride, "stride", "stride", lambda v: v <= 0, "greater than zero"),
                                        (dilation, "dilation", "dilation", lambda v: v <= 0, "greater than zero"),
                                        (padding, "padding", "pad", lambda v: v < 0, "non-negative")):
        if any(bad(v) for v in vals):
            raise RuntimeError(f"{what} should be {rel}, but got {short}_height: {vals[0]} {short}_width: {vals[1]}")


@export(name="unfold", function=False, method=False, nn=True)
def _nn_unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: (B, C, H, W) or (C, H, W) -> (B, C*kh*kw, L) or (C*kh*kw, L), windows in row-major order."""
    k, d, p, s = (_pair(v, name) for v, name in ((kernel_size, "kernel_size"), (dilation, "dilation"),
                                                  (padding, "padding"), (stride, "stride")))
    nd = input.ndim
    if nd < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(nd, 1)}, {max(nd, 1) - 1}], "
                         f"but got {nd})")
    _check_geom(k, d, p, s)
    shape = tuple(input.shape)
    if nd not in (3, 4) or any(v == 0 for v in shape[-3:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {list(shape)}")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"im2col_out_cpu\" not implemented for '{input.dtype._torch_name}'")
    outs = out_sizes(shape[-2:], k, d, p, s)
    if any(o < 1 for o in outs):
        raise RuntimeError(f"Given input with spatial size {tuple(shape[-2:])}, kernel_size={k}, dilation={d}, "
                           f"padding={p}, calculated shape of the array of sliding blocks as {outs}, but its "
                           "components must be at least one.")
    x = input if nd == 4 else input.unsqueeze(0)
    b, c = x.shape[:2]
    cols = Im2Col.apply(x, (k, d, p, s), True).reshape(b, c * k[0] * k[1], outs[0] * outs[1])
    return cols if nd == 4 else cols.squeeze(0)


@export(function=False, method=False, nn=True)
def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im: (B, C*kh*kw, L) or (C*kh*kw, L) -> (B, C, *output_size), overlapping values summed."""
    o, k, d, p, s = (_pair(v, name) for v, name in ((output_size, "output_size"), (kernel_size, "kernel_size"),
                                                     (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    nd = input.ndim
    shape = tuple(input.shape)
    if nd not in (2, 3) or any(v == 0 for v in shape[-2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(shape)}")
    if any(v <= 0 for v in o):
        raise RuntimeError(f"Expected output spatial size to be positive, but got: output_size={o}")
    _check_geom(k, d, p, s)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"col2im_out_cpu\" not implemented for '{input.dtype._torch_name}'")
    kk = k[0] * k[1]
    if shape[-2] % kk:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={shape[-2]} and kernel_size={k}.")
    outs = out_sizes(o, k, d, p, s)
    if any(v < 1 for v in outs) or shape[-1] != outs[0] * outs[1]:
        if any(v < 1 for v in outs):
            raise RuntimeError(f"Given output_size={o}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, "
                               f"calculated shape of the array of sliding blocks as {outs}, but its components must "
                               "be at least one.")
        raise RuntimeError(f"Given output_size={o}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, expected "
                           f"size of input's dimension 2 to match the calculated number of sliding blocks {outs[0]} * "
                           f"{outs[1]} = {outs[0] * outs[1]}, but got input.size(2)={shape[-1]}.")
    x = input if nd == 3 else input.unsqueeze(0)
    b = x.shape[0]
    cols = x.reshape(b, shape[-2] // kk, *k, *outs)
    out = Col2Im.apply(cols, o, (k, d, p, s), True)
    return out if nd == 3 else out.squeeze(0)
