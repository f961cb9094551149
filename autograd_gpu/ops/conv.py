"""Convolutions (``F.conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``) as im2col + GEMM.

Gradients are built from differentiable pieces, so double backward follows from them:
``Im2Col``/``Col2Im`` (``ops/fold.py``, adjoint of each other), ``matmul`` (one GEMM; groups as a
batched GEMM) and layout ops. ``conv_transpose`` is composed of them outright; ``conv`` is one
node (``Convolution``) whose forward and backward work on arrays (the kernels ``conv_fwd`` and
``conv_bwd``; CPU: per chunk of the batch, see below), its backward going through the pieces only
when a graph of it is recorded (create_graph). Columns are laid out (C*K, B*L) so the whole batch
is one product (CUDA; the CPU kernels take per-sample products of the same math):

    conv:            out (O, B*L) = W (O, C*K) @ im2col(x) (C*K, B*L)         [+ bias], then (B, O, *L)
    conv_transpose:  out = col2im(W^T (O*K, C) @ x (C, B*L))                   [+ bias]

The backward of ``conv`` is thus col2im(W^T @ g) for the input (conv_transpose of g) and
g @ im2col(x)^T for the weight; ``conv_transpose``'s is the mirror image.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..dispatch import lookup, register
from ..tensor import Tensor
from ._common import check_same_device, kernel
from .fold import Col2Im, Im2Col, np_col2im_add, np_pad_into, np_windows, out_sizes
from .linalg import matmul
from .padding import pad
from .registry import export

_AXES = ("depth", "height", "width")


def _expand(v, n: int, name: str) -> tuple:
    """An int, or a list of ints (a 1-list repeats, PyTorch's argument parser), as a tuple."""
    if isinstance(v, bool) or not isinstance(v, (int, tuple, list)):
        if isinstance(v, Tensor) or not isinstance(v, float):
            raise TypeError(f"argument '{name}' must be tuple of ints, not {type(v).__name__}")
        raise TypeError(f"argument '{name}' must be tuple of ints, but found element of type float at pos 0")
    if isinstance(v, int):
        return (v,) * n
    v = tuple(v)
    for i, e in enumerate(v):
        if not isinstance(e, int) or isinstance(e, bool):
            raise TypeError(f"argument '{name}' must be tuple of ints, but found element of type "
                            f"{type(e).__name__} at pos {i}")
    return v * n if len(v) == 1 else v


def _shape(t: Tensor) -> list:
    return list(t.shape)


def _check_args(fn: str, input, weight, bias, n: int) -> None:
    for pos, (name, t) in enumerate((("input", input), ("weight", weight)), 1):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}() argument '{name}' (position {pos}) must be Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fn}() argument 'bias' (position 3) must be Tensor, not {type(bias).__name__}")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {fn}, but got input of "
                           f"size: {_shape(input)}")


def _check_lengths(weight: Tensor, **params) -> None:
    k = weight.ndim - 2
    for name, v in params.items():
        if len(v) != k:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {k} values to match the "
                               f"convolution dimensions, but got {name}={list(v)}")


def _check_common(x: Tensor, weight: Tensor, bias, stride, padding, dilation, groups: int, transposed: bool,
                  output_padding=None) -> None:
    """PyTorch's ``check_shape_forward`` and dtype checks, in its order; ``x`` is batched."""
    if any(v <= 0 for v in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(v < 0 for v in padding):
        raise RuntimeError("negative padding is not supported")
    if output_padding is not None and any(v < 0 for v in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(v <= 0 for v in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    ws = _shape(weight)
    if ws[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got "
                           f"weight of size {ws} instead")
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{ws}] instead")
    c = x.shape[1]
    if not transposed:
        if c != ws[1] * groups:
            raise RuntimeError(f"Given groups={groups}, weight of size {ws}, expected input{_shape(x)} to have "
                               f"{ws[1] * groups} channels, but got {c} channels instead")
        n_out = ws[0]
    else:
        if c != ws[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {ws}, expected input{_shape(x)} to have {ws[0]} "
                               f"channels, but got {c} channels instead")
        n_out = ws[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != n_out):
        raise RuntimeError(f"Given {'transposed=1, ' if transposed else ''}weight of size {ws}, expected bias to be "
                           f"1-dimensional with {n_out} elements, but got bias of size {_shape(bias)} instead")
    if not transposed:
        spatial = tuple(x.shape[2:])
        padded = [s + 2 * p for s, p in zip(spatial, padding)]
        ks = [d * (k - 1) + 1 for k, d in zip(ws[2:], dilation)]
        if any(k > s for k, s in zip(ks, padded)):
            raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
                               f"size: ({' x '.join(map(str, ks))}). Kernel size can't be greater than actual input "
                               "size")
    check_same_device(x, weight, bias)
    if weight.dtype != x.dtype:
        if x.dtype.name == "float32":
            raise RuntimeError("Input type (torch.FloatTensor) and weight type "
                               f"(torch.{weight.dtype._torch_name}Tensor) should be the same or input should be a "
                               "MKLDNN tensor and weight is a dense tensor")
        raise RuntimeError(f"expected scalar type {x.dtype._torch_name} but found {weight.dtype._torch_name}")
    if bias is not None and bias.dtype != x.dtype:
        raise RuntimeError(f"Input type ({_cpp(x.dtype)}) and bias type ({_cpp(bias.dtype)}) should be the same")


def _cpp(dtype) -> str:
    return {"float16": "c10::Half", "float32": "float", "float64": "double", "int64": "long int",
            "int32": "int"}.get(dtype.name, dtype.name)


def _same_padding(weight: Tensor, stride, dilation) -> tuple:
    """'same': total d*(k-1) per dim, the odd one extra on the high side (PyTorch's asymmetric case)."""
    if any(s != 1 for s in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for k, d in zip(weight.shape[2:], dilation)]
    if any(t % 2 for t in totals):
        warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                      "copy of the input be created", UserWarning, stacklevel=4)
    return tuple((t // 2, t - t // 2) for t in totals)


def _conv(fn: str, n: int, input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups: int) -> Tensor:
    _check_args(fn, input, weight, bias, n)
    stride, dilation = _expand(stride, n, "stride"), _expand(dilation, n, "dilation")
    pairs = None
    if isinstance(padding, str):
        _check_lengths(weight, stride=stride, dilation=dilation)
        if padding == "valid":
            padding = (0,) * n
        elif padding == "same":
            pairs = _same_padding(weight, stride, dilation)
            padding = tuple(lo for lo, _ in pairs)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _expand(padding, n, "padding")
        _check_lengths(weight, stride=stride, padding=padding, dilation=dilation)
    if not isinstance(groups, int) or isinstance(groups, bool):
        raise TypeError(f"argument 'groups' must be int, not {type(groups).__name__}")
    batched = input.ndim == n + 2
    x = input if batched else input.unsqueeze(0)
    if pairs is not None and any(lo != hi for lo, hi in pairs):
        x = pad(x, [v for lo, hi in reversed(pairs) for v in (0, hi - lo)])
    _check_common(x, weight, bias, stride, padding, dilation, groups, False)
    out = _conv_forward(x, weight, bias, stride, padding, dilation, groups)
    return out if batched else out.squeeze(0)


# the array kernels of ``Convolution`` ------------------------------------------------------------
# CPU: the batch goes through in chunks whose columns take about _CHUNK_BYTES, in buffers reused per
# call, so the columns are never materialised for the whole batch (a 3.6 MB temporary per conv in
# the CNN benchmark, which glibc hands back to the OS and faults in again every step). Columns are
# batch first, (n, C, *k, *O): the GEMMs are per sample, ``W @ cols[i]`` straight into the output
# (no transposed copy, bias added in place). Per-sample products are what OpenBLAS runs best here:
# with both operands C-contiguous and up to ~1e6 multiply-adds it takes a direct single-threaded
# kernel, faster than its general path and immune to the stalls of its threaded one on a loaded
# machine (a threaded sgemm there took 90 ms where it takes 0.06 ms); hence the contiguous W^T and
# g^T in backward. On CUDA one im2col and one GEMM for the whole batch, as in the module
# docstring. (Tried: stride-1 columns on the padded input's flat grid, contiguous per tap; the
# wider GEMM and the strided crop of its output cost more than the cheaper copies saved.)
_CHUNK_BYTES = 1 << 19


def _np_chunk(b: int, per_sample: int) -> int:
    return max(1, min(b, _CHUNK_BYTES // max(1, per_sample)))


def _np_columns(x, geom, bb: int):
    """(b0, n, cols) over the batch, cols (n, C, *k, *O) contiguous in one reused buffer; a padded
    input goes through one zero-bordered chunk buffer too (its borders stay zero)."""
    k, d, p, s = geom
    b, c = x.shape[:2]
    outs = out_sizes(x.shape[2:], *geom)
    size = c * math.prod(k) * math.prod(outs)
    buf = np.empty(bb * size, x.dtype)
    pad = np.zeros((bb, c) + tuple(sz + 2 * pp for sz, pp in zip(x.shape[2:], p)), x.dtype) if any(p) else None
    for b0 in range(0, b, bb):
        n = min(bb, b - b0)
        src = x[b0:b0 + n] if pad is None else np_pad_into(pad[:n], x[b0:b0 + n], p)
        cols = buf[:n * size].reshape((n, c) + tuple(k) + outs)
        np.copyto(cols, np_windows(src, k, d, s, outs))
        yield b0, n, cols


def _np_conv_fwd(x, w, bias, geom, groups: int):
    """(B, O, *outs) = conv of x (B, C, *S) with w (O, C/groups, *k) [+ bias]."""
    b, c = x.shape[:2]
    o, kk = w.shape[0], math.prod(geom[0])
    outs = out_sizes(x.shape[2:], *geom)
    L = math.prod(outs)
    res = np.empty((b, o, L), np.result_type(x, w))
    w3 = w.reshape(groups, o // groups, c // groups * kk)
    for b0, n, cols in _np_columns(x, geom, _np_chunk(b, c * kk * L * x.itemsize)):
        if groups == 1:
            np.matmul(w3[0], cols.reshape(n, c * kk, L), out=res[b0:b0 + n])
        else:
            np.matmul(w3, cols.reshape(n, groups, c // groups * kk, L),
                      out=res[b0:b0 + n].reshape(n, groups, o // groups, L))
    if bias is not None:
        res += bias[:, None]
    return res.reshape((b, o) + outs)


def _np_conv_bwd(g, x, w, spatial, geom, groups: int, need_x: bool, need_w: bool):
    """(gx, gw) of conv for the gradient g (B, O, *outs), chunked like the forward: the columns of
    x are recomputed chunk by chunk (the forward saved x, not them); gx is col2im of W^T @ g. x is
    needed for gw only, w for gx only."""
    k = geom[0]
    b, o = g.shape[:2]
    c, kk = x.shape[1] if x is not None else w.shape[1] * groups, math.prod(k)
    L = math.prod(g.shape[2:])
    og, ckk = o // groups, c // groups * kk
    g4 = np.ascontiguousarray(g).reshape(b, groups, og, L)
    bb = _np_chunk(b, c * kk * L * g.itemsize)
    gx = gw = None
    if need_w:   # gw^T = cols @ g^T per sample, g^T copied first unless the GEMM is too light to pay for it
        gwt = np.zeros((groups, ckk, og), g.dtype)
        part = np.empty((bb, groups, ckk, og), g.dtype)
        gtb = np.empty((bb, groups, L, og), g.dtype) if ckk >= 32 else None
        for b0, n, cols in _np_columns(x, geom, bb):
            gt = g4[b0:b0 + n].swapaxes(-1, -2)
            if gtb is not None:
                gt = gtb[:n]
                np.copyto(gt, g4[b0:b0 + n].swapaxes(-1, -2))
            np.matmul(cols.reshape(n, groups, ckk, L), gt, out=part[:n])
            gwt += part[:n].sum(0)
        gw = np.ascontiguousarray(gwt.swapaxes(-1, -2)).reshape((o, c // groups) + tuple(k))
    if need_x:
        gx = np.zeros((b, c) + tuple(spatial), g.dtype)
        buf = np.empty(bb * c * kk * L, g.dtype)
        wt = np.ascontiguousarray(w.reshape(groups, og, ckk).swapaxes(-1, -2))
        for b0 in range(0, b, bb):
            n = min(bb, b - b0)
            gcols = buf[:n * c * kk * L].reshape(n, groups, ckk, L)
            np.matmul(wt, g4[b0:b0 + n], out=gcols)
            np_col2im_add(gx[b0:b0 + n], gcols.reshape((n, c) + tuple(k) + tuple(g.shape[2:])), *geom)
    return gx, gw


def _cupy_conv_fwd(x, w, bias, geom, groups: int):
    """One im2col (C*K, B*L) and one GEMM for the batch; bias and the (O, B) -> (B, O) transpose in
    one pass."""
    from ..backends import cuda_conv
    mm, copy = lookup("matmul_fwd", "cupy"), lookup("copy", "cupy")
    b, c = x.shape[:2]
    o, kk = w.shape[0], math.prod(geom[0])
    outs = out_sizes(x.shape[2:], *geom)
    L = b * math.prod(outs)
    cols = cuda_conv.im2col_fwd(x, *geom, False)           # (C, *k, B, *O)
    if groups == 1:
        out = mm(w.reshape(o, c * kk), cols.reshape(c * kk, L))
    else:
        out = mm(w.reshape(groups, o // groups, c // groups * kk), cols.reshape(groups, c // groups * kk, L))
    out = out.reshape(o, b, L // b if b else 0)
    if bias is not None:
        with out.device:   # CuPy's += launches on the current device: make it out's
            out += bias[:, None, None]
    return copy(out.transpose(1, 0, 2)).reshape((b, o) + outs)


def _cupy_conv_bwd(g, x, w, spatial, geom, groups: int, need_x: bool, need_w: bool):
    """gx = col2im(W^T @ g), gw = g @ im2col(x)^T, each one GEMM over the batch."""
    from ..backends import cuda_conv
    mm, copy = lookup("matmul_fwd", "cupy"), lookup("copy", "cupy")
    b, o = g.shape[:2]
    L = g.size // o if o else 0
    c = x.shape[1] if x is not None else w.shape[1] * groups
    ckk = c // groups * math.prod(geom[0])
    gt = copy(g.transpose((1, 0) + tuple(range(2, g.ndim)))).reshape(groups, o // groups, L)
    gx = gw = None
    if need_x:
        w3 = w.reshape(groups, o // groups, ckk)
        gcols = mm(w3.transpose(0, 2, 1), gt) if groups > 1 else mm(w3[0].T, gt[0])
        gx = cuda_conv.col2im_fwd(gcols.reshape((c,) + tuple(geom[0]) + (b,) + tuple(g.shape[2:])),
                                  tuple(spatial), *geom, False)
    if need_w:
        c3 = cuda_conv.im2col_fwd(x, *geom, False).reshape(groups, ckk, L)
        gw = mm(gt, c3.transpose(0, 2, 1)) if groups > 1 else mm(gt[0], c3[0].T)
        gw = gw.reshape((o, c // groups) + tuple(geom[0]))
    return gx, gw


register("conv_fwd", "numpy", _np_conv_fwd)
register("conv_fwd", "cupy", _cupy_conv_fwd)
register("conv_bwd", "numpy", _np_conv_bwd)
register("conv_bwd", "cupy", _cupy_conv_bwd)


class Convolution(Function):
    """conv of a batched, checked ``x`` with symmetric padding. Forward on arrays (``conv_fwd``);
    it saves x, not its columns (backward recomputes them: a column copy is K times x). Backward
    on arrays too (``conv_bwd``) unless a graph of it is being recorded (create_graph): then it is
    made of differentiable ops, with the gradient made contiguous first (a broadcast or transposed
    one would miss BLAS)."""
    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias, geom: tuple, groups: int) -> Tensor:
        res = kernel("conv_fwd", x)(x._data, weight._data, None if bias is None else bias._data, geom, groups)
        ctx.geom, ctx.groups, ctx.wshape, ctx.spatial = geom, groups, tuple(weight.shape), tuple(x.shape[2:])
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, weight if need[0] else None)
        ctx.has_bias = bias is not None
        return Tensor._make(res, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, weight = ctx.saved_tensors
        need, geom, groups = ctx.needs_input_grad, ctx.geom, ctx.groups
        gb = g.sum((0,) + tuple(range(2, g.ndim))) if ctx.has_bias and need[2] else None
        if not (need[0] or need[1]):
            return None, None, gb, None, None
        if not is_grad_enabled():
            gx, gw = kernel("conv_bwd", g)(g._data, None if x is None else x._data,
                                           None if weight is None else weight._data, ctx.spatial, geom, groups,
                                           need[0], need[1])
            return (None if gx is None else Tensor._make(gx, g._device),
                    None if gw is None else Tensor._make(gw, g._device), gb, None, None)
        b, o = g.shape[:2]
        L = g.numel() // o if o else 0
        ckk = ctx.wshape[1] * math.prod(geom[0])   # (C / groups) * K
        gt = g.movedim(1, 0).contiguous().reshape(groups, o // groups, L)
        gx = gw = None
        if need[0]:
            c = ctx.wshape[1] * groups
            w3 = weight.reshape(groups, o // groups, ckk)
            gcols = matmul(w3.mT, gt) if groups > 1 else matmul(w3[0].mT, gt[0])
            gx = Col2Im.apply(gcols.reshape(c, *geom[0], b, *g.shape[2:]), ctx.spatial, geom, False)
        if need[1]:
            c3 = Im2Col.apply(x, geom, False).reshape(groups, ckk, L)   # the columns as a function of x
            gw = (matmul(gt, c3.mT) if groups > 1 else matmul(gt[0], c3[0].mT)).reshape(ctx.wshape)
        return gx, gw, gb, None, None


def _conv_forward(x: Tensor, weight: Tensor, bias, stride, padding, dilation, groups: int) -> Tensor:
    """The GEMM: ``x`` batched and checked, symmetric ``padding``."""
    return Convolution.apply(x, weight, bias, (tuple(weight.shape[2:]), tuple(dilation), tuple(padding),
                                               tuple(stride)), groups)


def _conv_transpose(fn: str, n: int, input: Tensor, weight: Tensor, bias, stride, padding, output_padding, groups,
                    dilation) -> Tensor:
    _check_args(fn, input, weight, bias, n)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
    stride, padding = _expand(stride, n, "stride"), _expand(padding, n, "padding")
    output_padding, dilation = _expand(output_padding, n, "output_padding"), _expand(dilation, n, "dilation")
    _check_lengths(weight, stride=stride, padding=padding, dilation=dilation, output_padding=output_padding)
    batched = input.ndim == n + 2
    x = input if batched else input.unsqueeze(0)
    _check_common(x, weight, bias, stride, padding, dilation, groups, True, output_padding)
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        m = max(n, 2)   # PyTorch runs 1-d as 2-d
        names = _AXES[3 - m:]
        vals = [(fill,) * (m - n) + tuple(v) for v, fill in ((output_padding, 0), (stride, 1), (dilation, 1))]
        parts = [f"{what}_{a}: {v}" for what, vs in zip(("output_padding", "stride", "dilation"), vals)
                 for a, v in zip(names, vs)]
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got " + " ".join(parts))
    spatial = tuple(x.shape[2:])
    ks = tuple(weight.shape[2:])
    outs = tuple((s - 1) * st - 2 * p + d * (k - 1) + op + 1
                 for s, st, p, d, k, op in zip(spatial, stride, padding, dilation, ks, output_padding))
    if any(v <= 0 for v in outs):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, spatial))}). Calculated output size "
                           f"per channel: ({' x '.join(map(str, outs))}). Output size is too small")
    b, c = x.shape[:2]
    o = weight.shape[1] * groups
    kk, L = math.prod(ks), b * math.prod(spatial)
    xt = x.movedim(1, 0)
    if groups == 1:
        cols = matmul(weight.reshape(c, o * kk).mT, xt.reshape(c, L))
    else:
        cg = c // groups
        cols = matmul(weight.reshape(groups, cg, o // groups * kk).mT, xt.reshape(groups, cg, L))
    out = Col2Im.apply(cols.reshape(o, *ks, b, *spatial), outs, (ks, dilation, padding, stride), False)
    if bias is not None:
        out = out + bias.reshape((o,) + (1,) * n)
    return out if batched else out.squeeze(0)


@export(method=False, nn=True)
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation) of (B, C, L) or (C, L) with weight (O, C/groups, k)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@export(method=False, nn=True)
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-d convolution of (B, C, H, W) or (C, H, W) with weight (O, C/groups, kh, kw)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@export(method=False, nn=True)
def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """3-d convolution of (B, C, D, H, W) or (C, D, H, W) with weight (O, C/groups, kd, kh, kw)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


@export(method=False, nn=True)
def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv1d in its input; weight (C, O/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


@export(method=False, nn=True)
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv2d in its input; weight (C, O/groups, kh, kw)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


@export(method=False, nn=True)
def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv3d in its input; weight (C, O/groups, kd, kh, kw)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
