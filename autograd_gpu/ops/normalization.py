"""``F.layer_norm``, ``F.rms_norm``, ``F.batch_norm``, ``F.group_norm``, ``F.instance_norm``.

Each is one node with a fused forward (statistics and normalisation in one kernel per row or
channel, mean/rstd kept for backward, float32 for float16 input) and a fused backward (dx,
dweight, dbias together). Under ``create_graph`` the backward takes a formula path made of
differentiable ops instead (it recomputes the statistics from x), so double backward is exact.
Kernels: NumPy here, ``kernels/norm.cu`` through ``backends/cuda_norm.py`` on CUDA.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..backends import cuda_norm
from ..dispatch import register
from ..tensor import Tensor
from ._common import check_same_device, kernel, on_device
from .registry import export


# NumPy kernels: rows of x2 (M, N) -----------------------------------------------------------------
def _acc(dt) -> np.dtype:
    """Statistics dtype: float32 for float16 (PyTorch's accumulate type), else the input's."""
    return np.dtype(np.float32) if dt == np.float16 else np.dtype(dt)


def _np_row_fwd(x2, w, b, eps, rms=False):
    """-> (y, mean (M,), rstd (M,)); ``rms``: mean fixed at 0 (RMSNorm). One full-size array is made
    (x - mean, scaled in place into y); RMSNorm's must not be x itself."""
    a = _acc(x2.dtype)
    x = x2.astype(a, copy=False)
    mean = np.zeros(x.shape[0], a) if rms else x.mean(1)
    xc = x if rms else x - mean[:, None]
    var = np.einsum("ij,ij->i", xc, xc) / max(x.shape[1], 1)
    rstd = (1.0 / np.sqrt(var + eps)).astype(a)
    if rms:
        y = xc * rstd[:, None]
    else:
        y = xc
        y *= rstd[:, None]
    if w is not None:
        y *= w
    if b is not None:
        y += b
    return y.astype(x2.dtype, copy=False), mean.astype(a, copy=False), rstd


def _np_row_bwd(g2, x2, mean, rstd, w, rms=False, params=True):
    """-> (dx, dw or None, db or None) for y = xhat * w + b over rows; ``params``: also dw, db.
    Full-size arrays: xhat, which becomes dx in place once dw has read it, and g * w."""
    a = _acc(x2.dtype)
    g, x = g2.astype(a, copy=False), x2.astype(a, copy=False)
    xhat = x - mean[:, None]
    xhat *= rstd[:, None]
    gy = g * w if w is not None else g
    n = max(x.shape[1], 1)
    dw = db = None
    if params:
        dw = np.einsum("ij,ij->j", g, xhat).astype(x2.dtype) if w is not None else None
        db = g.sum(0).astype(x2.dtype)
    dx = xhat
    dx *= (np.einsum("ij,ij->i", gy, xhat) / n)[:, None]
    if not rms:
        dx += (gy.sum(1) / n)[:, None]
    np.subtract(gy, dx, out=dx)
    dx *= rstd[:, None]
    return dx.astype(x2.dtype, copy=False), dw, db


def _np_bn_stats(x3):
    """Per-channel (mean, biased var) over (N, L) of x3 (N, C, L)."""
    x = x3.astype(_acc(x3.dtype), copy=False)
    mean = x.mean((0, 2))
    xc = x - mean[None, :, None]
    return mean, np.einsum("ncl,ncl->c", xc, xc) / max(x.shape[0] * x.shape[2], 1)


def _np_bn_fwd(x3, mean, invstd, w, b):
    scale = invstd if w is None else invstd * w
    shift = -mean * scale + (0 if b is None else b)
    return (x3 * scale[None, :, None] + shift[None, :, None]).astype(x3.dtype, copy=False)


def _np_bn_bwd(g3, x3, mean, invstd, w, training):
    """-> (dx, dw, db); ``training``: batch statistics depend on x."""
    a = _acc(x3.dtype)
    g, x = g3.astype(a, copy=False), x3.astype(a, copy=False)
    sg = g.sum((0, 2))
    sgx = np.einsum("ncl,ncl->c", g, x) - mean * sg        # sum g (x - mean)
    scale = invstd if w is None else invstd * w
    if training:
        m = max(x.shape[0] * x.shape[2], 1)
        k = sgx * invstd * invstd / m     # dx = scale (g - sg/m - (x - mean) k), in three passes
        dx = x * (-k * scale)[None, :, None]
        dx += ((mean * k - sg / m) * scale)[None, :, None]
        dx += g * scale[None, :, None]
    else:
        dx = g * scale[None, :, None]
    return dx.astype(x3.dtype, copy=False), (sgx * invstd).astype(x3.dtype), sg.astype(x3.dtype)


register("layer_norm_fwd", "numpy", _np_row_fwd)
register("layer_norm_fwd", "cupy", cuda_norm.layer_norm_fwd)          # one block per row
register("layer_norm_bwd", "numpy", _np_row_bwd)
register("layer_norm_bwd", "cupy", cuda_norm.layer_norm_bwd)          # dx per row + column sums
register("batch_norm_fwd_stats", "numpy", _np_bn_stats)
register("batch_norm_fwd_stats", "cupy", cuda_norm.batch_norm_fwd_stats)   # one block per channel
register("batch_norm_fwd", "numpy", _np_bn_fwd)
register("batch_norm_fwd", "cupy", cuda_norm.batch_norm_fwd)
register("batch_norm_bwd", "numpy", _np_bn_bwd)
register("batch_norm_bwd", "cupy", cuda_norm.batch_norm_bwd)


def _make(a, ref: Tensor) -> Tensor:
    return Tensor._make(a, ref._device)


def _arr(t: Tensor | None):
    return None if t is None else t._data


def _flat(t: Tensor | None):
    return None if t is None else t._data.reshape(-1)


def _mixed(input: Tensor, params) -> bool:
    """Whether some parameter's dtype differs from the input's: float16 input with float32 parameters
    is PyTorch's mixed mode (the affine then runs outside the fused node, the output stays float16);
    any other mismatch raises PyTorch's CPU error."""
    dts = {t.dtype for t in params if t is not None} - {input.dtype}
    if not dts:
        return False
    if input._data.dtype == np.float16 and all(d._torch_name == "Float" for d in dts):
        return True
    raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype." if input._data.dtype == np.float64
                       else "mixed dtype (CPU): expect parameter to have scalar type of Float")


def _affine_after(y: Tensor, input: Tensor, weight, bias, shape) -> Tensor:
    """The mixed-mode affine: y * weight + bias in the parameters' dtype, cast back to the input's."""
    if weight is not None:
        y = y * (weight.reshape(shape) if shape else weight)
    if bias is not None:
        y = y + (bias.reshape(shape) if shape else bias)
    return y.to(input.dtype)


# differentiable formulas (create_graph) ------------------------------------------------------------
def _diff_dx(g: Tensor, x: Tensor, w: Tensor | None, dims: tuple, eps: float, rms: bool, stats=None):
    """dx and xhat of ``y = xhat * w`` with the statistics over ``dims``, from differentiable ops.
    ``stats``: fixed (mean, rstd) tensors (eval batch norm): then dx = g w rstd."""
    gy = g * w if w is not None else g
    if stats is not None:
        mean, rstd = stats
        return gy * rstd, (x - mean) * rstd
    if rms:
        rstd = ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
        xhat = x * rstd
        return rstd * (gy - xhat * (gy * xhat).mean(dims, keepdim=True)), xhat
    xc = x - x.mean(dims, keepdim=True)
    rstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    xhat = xc * rstd
    return rstd * (gy - gy.mean(dims, keepdim=True) - xhat * (gy * xhat).mean(dims, keepdim=True)), xhat


def _sum_to(t: Tensor, dims: tuple, shape: tuple) -> Tensor:
    return t.sum(dims).reshape(shape) if dims else t.reshape(shape)


# layer_norm / rms_norm ----------------------------------------------------------------------------
class _RowNorm(Function):
    """y = (x - mean) * rstd * w + b over the trailing dims ``nshape`` of x."""
    node_name = "NativeLayerNormBackward0"
    rms = False

    @classmethod
    def forward(cls, ctx, x: Tensor, w: Tensor | None, b: Tensor | None, nshape: tuple, eps: float) -> Tensor:
        xd, n = x._data, math.prod(nshape)
        y, mean, rstd = kernel("layer_norm_fwd", x)(xd.reshape(-1, n), _flat(w), _flat(b), eps, cls.rms)
        ctx.stats, ctx.nshape, ctx.eps, ctx.has_b = (mean, rstd), nshape, eps, b is not None
        ctx.save_for_backward(x, w)
        return _make(y.reshape(xd.shape), x)

    @classmethod
    def backward(cls, ctx, g: Tensor):
        x, w = ctx.saved_tensors
        nshape, need = ctx.nshape, ctx.needs_input_grad
        lead = tuple(range(x.ndim - len(nshape)))
        if is_grad_enabled():   # create_graph: a differentiable formula
            dims = tuple(range(len(lead), x.ndim))
            dx, xhat = _diff_dx(g, x, w, dims, ctx.eps, cls.rms)
            dw = _sum_to(g * xhat, lead, nshape) if w is not None and need[1] else None
            db = _sum_to(g, lead, nshape) if ctx.has_b and need[2] else None
            return dx, dw, db, None, None
        xd, n = x._data, math.prod(nshape)
        dx, dw, db = kernel("layer_norm_bwd", x)(g._data.reshape(-1, n), xd.reshape(-1, n), *ctx.stats,
                                                 _flat(w), cls.rms)
        return (_make(dx.reshape(xd.shape), x) if need[0] else None,
                _make(dw.reshape(nshape), x) if w is not None and need[1] else None,
                _make(db.reshape(nshape), x) if ctx.has_b and need[2] else None, None, None)


class _RMSNorm(_RowNorm):
    node_name = "RmsNormBackward0"
    rms = True


def _check_row_args(input: Tensor, shape: tuple, weight, bias, star: str = ", ") -> int:
    if tuple(input.shape[input.ndim - len(shape):]) != shape or input.ndim < len(shape):
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*{star}"
                           f"{', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            check_same_device(input, t)
            if tuple(t.shape) != shape:
                raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                                   f"shape {list(t.shape)} and normalized_shape = {list(shape)}")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"LayerNormKernelImpl\" not implemented for '{input.dtype._torch_name}'")
    return math.prod(shape)


def _as_shape(normalized_shape) -> tuple:
    return (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(int(s) for s in normalized_shape)


def _row_norm(fn, input, shape, weight, bias, eps) -> Tensor:
    _check_row_args(input, shape, weight, bias, ", " if fn is _RowNorm else "")
    if fn is _RMSNorm and weight is not None and weight.dtype != input.dtype:   # PyTorch's composite path
        return _affine_after(fn.apply(input, None, None, shape, eps), input, weight, None, None)
    if _mixed(input, (weight, bias)):
        return _affine_after(fn.apply(input, None, None, shape, eps), input, weight, bias, None)
    return fn.apply(input, weight, bias, shape, eps)


@export(function=False, method=False, nn=True)
def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.layer_norm``: normalise over the trailing ``normalized_shape`` dims (one node)."""
    return _row_norm(_RowNorm, input, _as_shape(normalized_shape), weight, bias, eps)


@export(function=False, method=False, nn=True)
def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """PyTorch's ``F.rms_norm``: x / sqrt(mean(x²) + eps) * weight; ``eps=None`` is the dtype's epsilon."""
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps) if input._data.dtype.kind == "f" else 1.1920928955078125e-07
    return _row_norm(_RMSNorm, input, _as_shape(normalized_shape), weight, None, eps)


# batch_norm ---------------------------------------------------------------------------------------
def _bn_view(x: Tensor):
    d = x._data
    return d.reshape(d.shape[0], d.shape[1], -1)


class _BatchNorm(Function):
    """Per-channel normalisation of (N, C, *): batch statistics (``training``) or the given
    running ones; the running-stat update happens in ``batch_norm``, outside the graph."""
    node_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor | None, b: Tensor | None, mean, var, training: bool,
                eps: float) -> Tensor:
        invstd = (1.0 / (var + eps) ** 0.5).astype(mean.dtype)
        y = kernel("batch_norm_fwd", x)(_bn_view(x), mean, invstd, _arr(w), _arr(b))
        ctx.stats, ctx.training, ctx.eps, ctx.has_b = (mean, invstd), training, eps, b is not None
        ctx.save_for_backward(x, w)
        return _make(y.reshape(x._data.shape), x)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if is_grad_enabled():
            dims = (0,) + tuple(range(2, x.ndim))
            cshape = (1, -1) + (1,) * (x.ndim - 2)
            wb = w.reshape(cshape) if w is not None else None
            stats = None if ctx.training else tuple(_make(s.reshape((1, -1) + (1,) * (x.ndim - 2)).astype(
                x._data.dtype), x) for s in ctx.stats)
            dx, xhat = _diff_dx(g, x, wb, dims, ctx.eps, False, stats)
            dw = (g * xhat).sum(dims) if w is not None and need[1] else None
            db = g.sum(dims) if ctx.has_b and need[2] else None
            return dx, dw, db, None, None, None, None
        dx, dw, db = kernel("batch_norm_bwd", x)(_bn_view(g), _bn_view(x), *ctx.stats, _arr(w), ctx.training)
        return (_make(dx.reshape(x._data.shape), x) if need[0] else None,
                _make(dw, x) if w is not None and need[1] else None,
                _make(db, x) if ctx.has_b and need[2] else None, None, None, None, None)


def _update_running(rm: Tensor | None, rv: Tensor | None, mean, var, count: int, momentum: float) -> None:
    """running = (1 - m) running + m stat, in place (version bumped); var unbiased by count/(count-1)."""
    with no_grad():
        if rm is not None:
            new = rm._data * (1 - momentum) + mean.astype(rm._data.dtype) * momentum
            rm.copy_(_make(new.astype(rm._data.dtype), rm))
        if rv is not None:
            unbiased = var * (count / (count - 1)) if count > 1 else var * float("inf")
            new = rv._data * (1 - momentum) + unbiased.astype(rv._data.dtype) * momentum
            rv.copy_(_make(new.astype(rv._data.dtype), rv))


def _check_channel_vec(name: str, t: Tensor | None, C: int, x: Tensor) -> None:
    if t is not None:
        check_same_device(x, t)
        if t.numel() != C:
            raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")


@export(function=False, method=False, nn=True)
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.batch_norm`` over (N, C, *): ``training`` normalises with the batch statistics and
    updates the running ones in place (variance unbiased); otherwise it uses the running ones."""
    if input.ndim < 2:
        if running_mean is not None:
            raise RuntimeError(f"running_mean should contain 0 elements not {running_mean.numel()}")
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(input.ndim, 1)}, "
                         f"{max(input.ndim, 1) - 1}], but got 1)")
    C = input.shape[1]
    if training and input.numel() // max(C, 1) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{_size(input.shape)}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_channel_vec(name, t, C, input)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(f"{'running_mean' if running_mean is None else 'running_var'} must be defined in "
                           f"evaluation mode")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"batch_norm\" not implemented for '{input.dtype._torch_name}'")
    mixed = _mixed(input, (weight, bias, running_mean, running_var))
    w, b = (None, None) if mixed else (weight, bias)
    a = _acc(input._data.dtype)
    if training:
        mean, var = kernel("batch_norm_fwd_stats", input)(_bn_view(input))
    else:
        with on_device(running_mean):   # CuPy casts on the current device: make it the stats'
            mean, var = running_mean._data.astype(a), running_var._data.astype(a)
    out = _BatchNorm.apply(input, w, b, mean, var, bool(training), eps)
    if training and (running_mean is not None or running_var is not None):
        _update_running(running_mean, running_var, mean, var, input.numel() // max(C, 1),
                        0.0 if momentum is None else momentum)
    if mixed and (weight is not None or bias is not None):
        return _affine_after(out, input, weight, bias, (1, -1) + (1,) * (input.ndim - 2))
    return out


def _size(shape) -> str:
    return f"torch.Size([{', '.join(map(str, shape))}])"


# group_norm / instance_norm ------------------------------------------------------------------------
class _GroupNorm(Function):
    """Rows of (N·G, C/G·L) normalised by the row kernels, then the per-channel affine."""
    node_name = "NativeGroupNormBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor | None, b: Tensor | None, G: int, eps: float) -> Tensor:
        xd = x._data
        N, C = xd.shape[0], xd.shape[1]
        yhat, mean, rstd = kernel("layer_norm_fwd", x)(xd.reshape(N * G, -1), None, None, eps, False)
        y = yhat.reshape(N, C, -1)
        if w is not None or b is not None:   # the per-channel affine, broadcast by the array module
            y = y * (w._data[:, None] if w is not None else 1) + (b._data[:, None] if b is not None else 0)
        ctx.stats, ctx.G, ctx.eps, ctx.has_b = (mean, rstd), G, eps, b is not None
        ctx.save_for_backward(x, w)
        return _make(y.astype(xd.dtype, copy=False).reshape(xd.shape), x)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, w = ctx.saved_tensors
        need, G = ctx.needs_input_grad, ctx.G
        N, C = x.shape[0], x.shape[1]
        dims = (0, 2)
        if is_grad_enabled():
            g3 = g.reshape(N, C, -1)
            gy = g3 * w.reshape(1, C, 1) if w is not None else g3
            dx, xhat = _diff_dx(gy.reshape(N, G, -1), x.reshape(N, G, -1), None, (2,), ctx.eps, False)
            xhat = xhat.reshape(N, C, -1)
            return (dx.reshape(x.shape), (g3 * xhat).sum(dims) if w is not None and need[1] else None,
                    g3.sum(dims) if ctx.has_b and need[2] else None, None, None)
        xd, gd = x._data, g._data.reshape(N, C, -1)
        gy = gd * w._data[:, None] if w is not None else gd
        dx, _, _ = kernel("layer_norm_bwd", x)(gy.reshape(N * G, -1), xd.reshape(N * G, -1), *ctx.stats, None,
                                               False, False)
        dw = db = None
        if w is not None and need[1]:
            mean, rstd = ctx.stats
            xhat = (xd.reshape(N * G, -1) - mean[:, None]) * rstd[:, None]
            dw = (gd * xhat.reshape(N, C, -1)).sum(dims).astype(xd.dtype)
        if ctx.has_b and need[2]:
            db = gd.sum(dims).astype(xd.dtype)
        return (_make(dx.reshape(xd.shape), x) if need[0] else None, None if dw is None else _make(dw, x),
                None if db is None else _make(db, x), None, None)


@export(function=False, method=False, nn=True)
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.group_norm`` over (N, C, *): statistics per (sample, group of C/num_groups channels)."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    C = input.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != C):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t.shape)} and input of shape {list(input.shape)}")
        if t is not None:
            check_same_device(input, t)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"GroupNormKernelImpl\" not implemented for '{input.dtype._torch_name}'")
    if _mixed(input, (weight, bias)):
        return _affine_after(_GroupNorm.apply(input, None, None, int(num_groups), eps), input, weight, bias,
                             (1, -1) + (1,) * (input.ndim - 2))
    return _GroupNorm.apply(input, weight, bias, int(num_groups), eps)


@export(function=False, method=False, nn=True)
def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.instance_norm``: per (sample, channel) statistics (group norm with one channel per
    group); the running stats, when given, get the batch average of those (variance unbiased)."""
    if use_input_stats:
        spatial = math.prod(input.shape[2:])
        if spatial == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                             f"{_size(input.shape)}")
    else:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    C = input.shape[1]
    out = group_norm(input, C, weight, bias, eps)
    if running_mean is not None or running_var is not None:
        N = input.shape[0]
        x3 = input._data.reshape(N * C, -1).astype(_acc(input._data.dtype))
        mean = x3.mean(1)
        var = ((x3 - mean[:, None]) ** 2).mean(1)
        _update_running(running_mean, running_var, mean.reshape(N, C).mean(0), var.reshape(N, C).mean(0),
                        x3.shape[1], momentum)
    return out
