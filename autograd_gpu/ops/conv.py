"""Convolutions (``F.conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``) as im2col + GEMM.

Gradients are built from differentiable pieces, so double backward follows from them:
``Im2Col``/``Col2Im`` (``ops/fold.py``, adjoint of each other), ``matmul`` (one GEMM; groups as a
batched GEMM) and layout ops. ``conv_transpose`` is composed of them outright; ``conv`` is one
node (``Convolution``) whose forward works on arrays (fewer passes) and whose backward uses them.
Columns are laid out (C*K, B*L) so the whole batch is one product:

    conv:            out (O, B*L) = W (O, C*K) @ im2col(x) (C*K, B*L)         [+ bias], then (B, O, *L)
    conv_transpose:  out = col2im(W^T (O*K, C) @ x (C, B*L))                   [+ bias]

The backward of ``conv`` is thus col2im(W^T @ g) for the input (conv_transpose of g) and
g @ im2col(x)^T for the weight; ``conv_transpose``'s is the mirror image.
"""
from __future__ import annotations

import math
import warnings

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._common import check_same_device, kernel
from .fold import Col2Im, Im2Col, out_sizes
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


class Convolution(Function):
    """conv of a batched, checked ``x`` with symmetric padding. Forward on arrays (one im2col copy, one
    GEMM, bias and the (O, B) -> (B, O) transpose in one pass); backward of differentiable ops, with
    the gradient made contiguous first (a broadcast or transposed one would miss BLAS)."""
    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias, geom: tuple, groups: int) -> Tensor:
        xd, wd = x._data, weight._data
        b, c = xd.shape[:2]
        o, ks = wd.shape[0], geom[0]
        outs = out_sizes(xd.shape[2:], *geom)
        kk, L = math.prod(ks), b * math.prod(outs)
        cols = kernel("im2col_fwd", x)(xd, *geom, False)           # (C, *k, B, *O)
        mm = kernel("matmul_fwd", x)
        if groups == 1:
            out = mm(wd.reshape(o, c * kk), cols.reshape(c * kk, L))
        else:
            out = mm(wd.reshape(groups, o // groups, c // groups * kk), cols.reshape(groups, c // groups * kk, L))
        out = out.reshape(o, b, L // b if b else 0)
        if bias is not None:
            out += bias._data[:, None, None]
        res = kernel("copy", x)(out.transpose(1, 0, 2)).reshape((b, o) + outs)
        ctx.geom, ctx.groups, ctx.wshape, ctx.spatial = geom, groups, tuple(wd.shape), tuple(xd.shape[2:])
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, weight if need[0] else None,
                              Tensor._make(cols, x._device) if need[1] else None)
        ctx.has_bias = bias is not None
        return Tensor._make(res, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, weight, cols = ctx.saved_tensors
        need, geom, groups = ctx.needs_input_grad, ctx.geom, ctx.groups
        b, o = g.shape[:2]
        L = g.numel() // o if o else 0
        ckk = ctx.wshape[1] * math.prod(geom[0])   # (C / groups) * K
        gt = g.movedim(1, 0).contiguous().reshape(groups, o // groups, L)
        gx = gw = gb = None
        if need[0]:
            c = ctx.wshape[1] * groups
            w3 = weight.reshape(groups, o // groups, ckk)
            gcols = matmul(w3.mT, gt) if groups > 1 else matmul(w3[0].mT, gt[0])
            gx = Col2Im.apply(gcols.reshape(c, *geom[0], b, *g.shape[2:]), ctx.spatial, geom, False)
        if need[1]:
            if is_grad_enabled():   # create_graph: the columns as a function of x
                cols = Im2Col.apply(x, geom, False)
            c3 = cols.reshape(groups, ckk, L)
            gw = (matmul(gt, c3.mT) if groups > 1 else matmul(gt[0], c3[0].mT)).reshape(ctx.wshape)
        if ctx.has_bias and need[2]:
            gb = g.sum((0,) + tuple(range(2, g.ndim)))
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
