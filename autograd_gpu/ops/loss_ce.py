"""``F.cross_entropy`` and ``F.nll_loss``, each one node.

cross_entropy's forward computes the row log-sum-exp and the loss in one pass and saves only the
input and that lse (one number per row); its backward is ``c·(softmax·Σq − q)`` in one pass, with
``q`` the weighted, smoothed target (``q = w_t·(1−ε)·onehot + ε/C·w`` for class indices,
``q = w·((1−ε)·y + ε/C)`` for probabilities) and ``c`` the row's incoming gradient (over the
weight sum for 'mean'). The backward is a Function of its own whose backward is made of public
ops, so double backward (and beyond) works. nll_loss's backward is a scatter whose own backward
is nll_loss again. Kernels: ``cross_entropy_{fwd,bwd}[_prob]`` and ``nll_loss_{fwd,bwd}``, NumPy
here and ``kernels/loss.cu`` (one block per row) on CUDA.

Inputs are viewed as (outer, C, inner): (N, C, d1, ...) -> (N, C, d1·...), (C,) -> (1, C, 1).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backends import cuda_loss
from ..dispatch import register
from ..tensor import Tensor
from ._common import check_same_device, kernel, on_device
from .loss_common import check_tensor, not_differentiable, resolve_reduction
from .registry import export
from .softmaxes import log_softmax, softmax


# NumPy kernels ---------------------------------------------------------------------------------
# They work on (rows, C) with the class axis last (contiguous reductions): (outer, C, inner) inputs are
# moved there first (a view when inner == 1, the common (N, C) case), results moved back.
def _rows2(a3):
    return a3[:, :, 0] if a3.shape[2] == 1 else a3.transpose(0, 2, 1).reshape(-1, a3.shape[1])


def _back3(a2, shape3):
    O, C, I = shape3
    return a2.reshape(O, C, 1) if I == 1 else np.ascontiguousarray(a2.reshape(O, I, C).transpose(0, 2, 1))


def _lse(x):
    """Row log-sum-exp as (shift, log Σ exp(x − shift)), kept apart so that ``x − lse`` suffers no
    cancellation (PyTorch's log_softmax form). The shift is the global max (one fast reduction; row
    sums through BLAS); rows more than ~16 below it, and non-finite inputs, use their own max."""
    M = x.max() if x.size else 0
    if not np.isfinite(M):
        return _lse_rows(x)
    e = x - M
    np.exp(e, out=e)
    s = e @ np.ones(x.shape[1], x.dtype)
    shift, logs = np.full(x.shape[0], M, x.dtype), np.log(s)
    low = s < 1e-7
    if low.any():
        shift[low], logs[low] = _lse_rows(x[low])
    return shift, logs


def _lse_rows(x):
    m = x.max(axis=1)
    if not np.isfinite(m).all():
        m = np.where(np.isfinite(m), m, 0).astype(m.dtype)
    e = x - m[:, None]
    np.exp(e, out=e)
    return m, np.log(e.sum(axis=1))


def _softmax_rows(x, lse2):
    """exp(x − shift − log Σ) for the (2, ...) pair saved by the forward kernels."""
    out = x - lse2[0].reshape(-1, 1)
    out -= lse2[1].reshape(-1, 1)
    np.exp(out, out=out)
    return out


def _targets(t, ii, C):
    """(valid mask, target with ignored rows set to 0); PyTorch's IndexError for a target out of range."""
    valid = t != ii
    if (t.min(initial=0) < 0 or t.max(initial=0) >= C) and (valid & ((t < 0) | (t >= C))).any():
        bad = valid & ((t < 0) | (t >= C))
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    return valid, (t if valid.all() else np.where(valid, t, 0))


def _np_ce_fwd(x3, t2, w, ii, eps):
    """-> (loss per row (outer, inner), lse per row, weight of each row's target (0 if ignored))."""
    x, t = _rows2(x3), t2.reshape(-1)
    R, C = x.shape
    valid, tc = _targets(t, ii, C)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shift, logs = _lse(x)
        wt = (w[tc] * valid) if w is not None else valid.astype(x.dtype)
        loss = wt * ((shift - x[np.arange(R), tc]) + logs)
        if eps:
            sx = (x - shift[:, None]) @ (w if w is not None else np.ones(C, x.dtype))
            wall = w.sum() if w is not None else C
            loss = (1 - eps) * loss + (eps / C) * (logs * wall - sx)
        if not valid.all():
            loss[~valid] = 0
    shape2 = t2.shape
    lse = np.stack([shift, logs]).astype(x.dtype).reshape((2,) + shape2)
    return loss.astype(x.dtype).reshape(shape2), lse, wt.astype(x.dtype).reshape(shape2)


def _np_ce_bwd(c2, x3, lse2, t2, w, ii, eps):
    x, t, c = _rows2(x3), t2.reshape(-1), c2.reshape(-1)
    R, C = x.shape
    valid, tc = _targets(t, ii, C)
    cm = c * valid
    wt = w[tc] if w is not None else 1.0
    wall = w.sum() if w is not None else C
    out = _softmax_rows(x, lse2)
    out *= (cm * ((1 - eps) * wt + (eps / C) * wall))[:, None]
    out[np.arange(R), tc] -= (1 - eps) * wt * cm
    if eps:
        out -= (eps / C) * (w[None, :] if w is not None else 1.0) * cm[:, None]
    return _back3(out, x3.shape)


def _smoothed(y, w, eps):
    C = y.shape[1]
    q = y * (1 - eps) + eps / C if eps else y
    return q * w[None, :] if w is not None else q


def _np_ce_prob_fwd(x3, y3, w, eps):
    x, y = _rows2(x3), _rows2(y3)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shift, logs = _lse(x)
        loss = (_smoothed(y, w, eps) * ((shift[:, None] - x) + logs[:, None])).sum(1)
    shape2 = (x3.shape[0], x3.shape[2])
    return loss.astype(x.dtype).reshape(shape2), np.stack([shift, logs]).astype(x.dtype).reshape((2,) + shape2)


def _np_ce_prob_bwd(c2, x3, lse2, y3, w, eps):
    x, y = _rows2(x3), _rows2(y3)
    q = _smoothed(y, w, eps)
    out = _softmax_rows(x, lse2)
    out *= q.sum(1)[:, None]
    out -= q
    out *= c2.reshape(-1, 1)
    return _back3(out, x3.shape)


def _np_nll_fwd(x3, t2, w, ii):
    x, t = _rows2(x3), t2.reshape(-1)
    valid, tc = _targets(t, ii, x.shape[1])
    wt = (w[tc] * valid) if w is not None else valid.astype(x.dtype)
    loss = -wt * x[np.arange(x.shape[0]), tc]
    if not valid.all():
        loss[~valid] = 0
    return loss.astype(x.dtype).reshape(t2.shape), wt.astype(x.dtype).reshape(t2.shape)


def _np_nll_bwd(c2, t2, w, ii, C):
    t, c = t2.reshape(-1), c2.reshape(-1)
    valid, tc = _targets(t, ii, C)
    wt = w[tc] if w is not None else 1.0
    out = np.zeros((t.shape[0], C), c2.dtype)
    out[np.arange(t.shape[0]), tc] = np.where(valid, -wt * c, 0)
    return _back3(out, (t2.shape[0], C, t2.shape[1]))


for _name, _np_fn in (("cross_entropy_fwd", _np_ce_fwd), ("cross_entropy_bwd", _np_ce_bwd),
                      ("cross_entropy_fwd_prob", _np_ce_prob_fwd), ("cross_entropy_bwd_prob", _np_ce_prob_bwd),
                      ("nll_loss_fwd", _np_nll_fwd), ("nll_loss_bwd", _np_nll_bwd)):
    register(_name, "numpy", _np_fn)
    register(_name, "cupy", getattr(cuda_loss, _name))


# layout -------------------------------------------------------------------------------------------
def _layout(shape: tuple) -> tuple:
    """(outer, C, inner) of an input whose class dim is 1 (0 for a 1-D input)."""
    if len(shape) == 1:
        return 1, shape[0], 1
    return shape[0], shape[1], math.prod(shape[2:])


def _class_dim(x: Tensor) -> int:
    return 0 if x.ndim == 1 else 1


def _row_shape(x: Tensor) -> tuple:
    """The per-row tensor shape with the class dim kept as 1 (to broadcast against x)."""
    s = list(x.shape)
    s[_class_dim(x)] = 1
    return tuple(s)


def _weight_view(x: Tensor, w: Tensor | None):
    return 1.0 if w is None else w.reshape((-1,) + (1,) * (x.ndim - 1 - _class_dim(x)))


def _wdata(w: Tensor | None):
    return None if w is None else w._data


def _rows(g: Tensor, reduction: str, denom, shape3: tuple):
    """The per-row coefficient c (outer, inner) from the incoming gradient (over the weight sum for 'mean')."""
    gd = g._data
    if reduction == "none":
        return gd.reshape(shape3[0], shape3[2])
    if reduction == "mean":
        gd = gd / denom
    return gd.reshape(1, 1).astype(g._data.dtype).repeat(shape3[0], 0).repeat(shape3[2], 1)


def _coef(g: Tensor, x: Tensor, reduction: str, denom) -> Tensor:
    """c as a tensor broadcasting against x (differentiable in g)."""
    if reduction == "none":
        return g.reshape(_row_shape(x))
    return g / Tensor._make(denom, g._device) if reduction == "mean" else g


def _reduce_rows(h: Tensor, g: Tensor, reduction: str, denom) -> Tensor:
    if reduction == "none":
        return h.reshape(g.shape)
    s = h.sum()
    return s / Tensor._make(denom, g._device) if reduction == "mean" else s


def _reduce_fwd(loss2, wsum, reduction: str, out_shape: tuple, denom_count: int | None = None):
    if reduction == "none":
        return loss2.reshape(out_shape), None
    total = loss2.sum()
    if reduction == "sum":
        return total, None
    denom = wsum.sum() if denom_count is None else loss2.dtype.type(denom_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / denom).astype(loss2.dtype), denom


# cross_entropy, class indices ---------------------------------------------------------------------
class _CrossEntropy(Function):
    """Class-index cross entropy (with weight, ignore_index, label smoothing) as one node."""
    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, target: Tensor, weight, reduction: str, ii: int, eps: float) -> Tensor:
        s3 = _layout(tuple(x.shape))
        t2 = target._data.reshape(s3[0], s3[2])
        loss2, lse2, wt = kernel("cross_entropy_fwd", x)(x._data.reshape(s3), t2, _wdata(weight), ii, eps)
        out, ctx.denom = _reduce_fwd(loss2, wt, reduction, tuple(target.shape))
        ctx.args = (reduction, ii, eps)
        ctx.save_for_backward(x, Tensor._make(lse2, x._device), target, weight)
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, lse, target, weight = ctx.saved_tensors
        gx = _CrossEntropyBackward.apply(g, x, lse, target, weight, *ctx.args, ctx.denom) \
            if ctx.needs_input_grad[0] else None
        return gx, None, None, None, None, None


def _target_q(x: Tensor, target: Tensor, weight, ii: int, eps: float) -> tuple:
    """(q, Σq) of class-index targets as constant tensors: q = m·((1−ε)·w_t·onehot + ε/C·w)."""
    s3 = _layout(tuple(x.shape))
    t2 = target._data.reshape(s3[0], s3[2])
    q = Tensor._make(kernel("nll_loss_bwd", x)(_full_rows(x, s3, -(1 - eps)), t2, _wdata(weight), ii, s3[1])
                     .reshape(x.shape), x._device)
    if eps:
        valid = (target != ii).to(x.dtype).reshape(_row_shape(x))
        q = q + valid * (eps / s3[1]) * _weight_view(x, weight)
    return q.detach(), q.sum(_class_dim(x), keepdim=True).detach()


def _full_rows(x: Tensor, s3: tuple, value: float):
    with on_device(x):   # CuPy's copy and fill run on the current device: make it x's
        rows = x._data.reshape(s3)[:, 0, :].copy()
        rows.fill(value)
    return rows


class _CrossEntropyBackward(Function):
    """gx = c·(softmax(x)·Σq − q) in one kernel; differentiable in g and x."""
    node_name = "NllLossBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, lse, target, weight, reduction, ii, eps, denom):
        s3 = _layout(tuple(x.shape))
        ctx.args = (target, weight, reduction, ii, eps, denom)
        ctx.save_for_backward(g, x)
        c2 = _rows(g, reduction, denom, s3)
        gx = kernel("cross_entropy_bwd", x)(c2, x._data.reshape(s3), lse._data, target._data.reshape(s3[0], s3[2]),
                                            _wdata(weight), ii, eps)
        return Tensor._make(gx.reshape(x.shape), x._device)

    @staticmethod
    def backward(ctx, ggx: Tensor):
        g, x = ctx.saved_tensors
        target, weight, reduction, ii, eps, denom = ctx.args
        d = _class_dim(x)
        q, s = _target_q(x, target, weight, ii, eps)
        p = softmax(x, d)
        need = ctx.needs_input_grad
        gg = _reduce_rows((ggx * (p * s - q)).sum(d), g, reduction, denom) if need[0] else None
        gx = None
        if need[1]:
            gx = _coef(g, x, reduction, denom) * s * p * (ggx - (ggx * p).sum(d, keepdim=True))
        return gg, gx, None, None, None, None, None, None, None


# cross_entropy, class probabilities ---------------------------------------------------------------
class _CrossEntropyProb(Function):
    """Probability-target cross entropy as one node; 'mean' divides by the number of rows."""
    node_name = "CrossEntropyLossBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, weight, reduction: str, eps: float) -> Tensor:
        s3 = _layout(tuple(x.shape))
        loss2, lse2 = kernel("cross_entropy_fwd_prob", x)(x._data.reshape(s3), y._data.reshape(s3), _wdata(weight),
                                                          eps)
        shape = tuple(x.shape[:1] + x.shape[2:]) if x.ndim > 1 else ()
        out, ctx.denom = _reduce_fwd(loss2, None, reduction, shape, s3[0] * s3[2])
        ctx.args = (reduction, eps)
        ctx.save_for_backward(x, Tensor._make(lse2, x._device), y, weight)
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, lse, y, weight = ctx.saved_tensors
        reduction, eps = ctx.args
        need = ctx.needs_input_grad
        gx = _CrossEntropyProbBackward.apply(g, x, lse, y, weight, reduction, eps, ctx.denom) if need[0] else None
        gy = gw = None
        if need[1] or need[2]:
            c = _coef(g, x, reduction, ctx.denom)
            logp = log_softmax(x, _class_dim(x))
            if need[1]:
                gy = -(c * (1 - eps)) * _weight_view(x, weight) * logp
            if need[2]:
                gw = _sum_but_class(-(c * _smooth_y(x, y, eps) * logp), x)
        return gx, gy, gw, None, None


def _smooth_y(x: Tensor, y: Tensor, eps: float) -> Tensor:
    return y * (1 - eps) + eps / x.shape[_class_dim(x)] if eps else y


def _sum_but_class(t: Tensor, x: Tensor) -> Tensor:
    d = _class_dim(x)
    dims = tuple(i for i in range(t.ndim) if i != d)
    return t.sum(dims) if dims else t


class _CrossEntropyProbBackward(Function):
    """gx = c·(softmax(x)·Σq − q), q = w·((1−ε)y + ε/C), in one kernel; differentiable in g, x, y, w."""
    node_name = "CrossEntropyLossBackwardBackward0"

    @staticmethod
    def forward(ctx, g, x, lse, y, weight, reduction, eps, denom):
        s3 = _layout(tuple(x.shape))
        ctx.args = (reduction, eps, denom)
        ctx.save_for_backward(g, x, y, weight)
        gx = kernel("cross_entropy_bwd_prob", x)(_rows(g, reduction, denom, s3), x._data.reshape(s3), lse._data,
                                                 y._data.reshape(s3), _wdata(weight), eps)
        return Tensor._make(gx.reshape(x.shape), x._device)

    @staticmethod
    def backward(ctx, ggx: Tensor):
        g, x, y, weight = ctx.saved_tensors
        reduction, eps, denom = ctx.args
        d = _class_dim(x)
        ys = _smooth_y(x, y, eps)
        q = ys * _weight_view(x, weight)
        s = q.sum(d, keepdim=True)
        p = softmax(x, d)
        c = _coef(g, x, reduction, denom)
        gp = (ggx * p).sum(d, keepdim=True)
        need = ctx.needs_input_grad
        gg = _reduce_rows((ggx * (p * s - q)).sum(d), g, reduction, denom) if need[0] else None
        gx = c * s * p * (ggx - gp) if need[1] else None
        gy = c * (1 - eps) * _weight_view(x, weight) * (gp - ggx) if need[3] else None
        gw = _sum_but_class(c * ys * (gp - ggx), x) if need[4] else None
        return gg, gx, None, gy, gw, None, None, None


# nll_loss -------------------------------------------------------------------------------------------
class _NLLLoss(Function):
    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, target: Tensor, weight, reduction: str, ii: int) -> Tensor:
        s3 = _layout(tuple(x.shape))
        loss2, wt = kernel("nll_loss_fwd", x)(x._data.reshape(s3), target._data.reshape(s3[0], s3[2]),
                                              _wdata(weight), ii)
        out, ctx.denom = _reduce_fwd(loss2, wt, reduction, tuple(target.shape))
        ctx.args = (reduction, ii, tuple(x.shape))
        ctx.save_for_backward(target, weight)
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        target, weight = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        return _NLLLossBackward.apply(g, target, weight, *ctx.args, ctx.denom), None, None, None, None


class _NLLLossBackward(Function):
    """gx: −w_t·c scattered at each row's target; linear in g, so its backward is nll_loss itself."""
    node_name = "NllLossBackwardBackward0"

    @staticmethod
    def forward(ctx, g, target, weight, reduction, ii, shape, denom):
        s3 = _layout(shape)
        ctx.args = (target, weight, reduction, ii)
        gx = kernel("nll_loss_bwd", g)(_rows(g, reduction, denom, s3), target._data.reshape(s3[0], s3[2]),
                                       _wdata(weight), ii, s3[1])
        return Tensor._make(gx.reshape(shape), g._device)

    @staticmethod
    def backward(ctx, ggx: Tensor):
        target, weight, reduction, ii = ctx.args
        return _NLLLoss.apply(ggx, target, weight, reduction, ii), None, None, None, None, None, None


# argument checks (PyTorch's order and messages) -------------------------------------------------------
def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_class_target(input: Tensor, target: Tensor, weight, kernel_name: str) -> None:
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim != 1 and target.ndim >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0]}).")
    nd, C = input.ndim, input.shape[0 if input.ndim == 1 else 1]
    if nd <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif nd == 4:
        if target.ndim != 3:
            raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got targets of "
                               f"dimension: {target.ndim}")
        if tuple(target.shape) != tuple(input.shape[:1] + input.shape[2:]):
            raise RuntimeError(f"size mismatch (got input: {_shape_str(input.shape)} , target: "
                               f"{_shape_str(target.shape)}")
    elif tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {_shape_str(input.shape[:1] + input.shape[2:])}, got "
                           f"{_shape_str(target.shape)}")
    if target.dtype.name not in ("int64", "uint8"):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {target.dtype._torch_name}")
    if weight is not None:
        if weight.numel() != C:
            if nd == 4:
                raise RuntimeError("weight tensor should be defined either for all or no classes")
            raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                               f"weight tensor of shape: {_shape_str(weight.shape)}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel_name}\" not implemented for '{input.dtype._torch_name}'")
    if weight is not None:
        not_differentiable("nll_loss_forward", "weight", weight)
        _check_weight(input, weight)


def _check_weight(input: Tensor, weight: Tensor) -> None:
    check_same_device(input, weight)
    if weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype._torch_name} but found {weight.dtype._torch_name}")


def _as_long(target: Tensor) -> Tensor:
    return target if target.dtype.name == "int64" else target.long()


# public functions ---------------------------------------------------------------------------------------
@export(function=False, method=False, nn=True)
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """PyTorch's ``F.cross_entropy``: class indices (int64, shape of input without the class dim) or
    class probabilities (float, input's shape); input (N, C), (N, C, d1, ...) or (C,)."""
    check_tensor("cross_entropy_loss", "input", 1, input)
    check_tensor("cross_entropy_loss", "target", 2, target)
    reduction = resolve_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    check_same_device(input, target)
    eps = float(label_smoothing)
    if input.ndim >= 1 and tuple(input.shape) == tuple(target.shape) and target.dtype.is_floating_point:
        if not input.dtype.is_floating_point:
            raise NotImplementedError(f"\"log_softmax_lastdim_kernel_impl\" not implemented for "
                                      f"'{input.dtype._torch_name}'")
        if target.dtype != input.dtype:
            raise RuntimeError(f"expected scalar type {input.dtype._torch_name} but found {target.dtype._torch_name}")
        C = input.shape[_class_dim(input)]
        if weight is not None:
            if weight.numel() != C:
                raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but "
                                   f"got weight tensor of shape: {_shape_str(weight.shape)}")
            _check_weight(input, weight)
        return _CrossEntropyProb.apply(input, target, weight, reduction, eps)
    _check_class_target(input, target, weight, "log_softmax_lastdim_kernel_impl")
    return _CrossEntropy.apply(input, _as_long(target), weight, reduction, int(ignore_index), eps)


@export(function=False, method=False, nn=True)
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """PyTorch's ``F.nll_loss`` on log-probabilities (N, C), (N, C, d1, ...) or (C,); 'mean' divides by
    the summed weights of the targets not ignored (nan when all are)."""
    check_tensor("nll_loss_nd", "input", 1, input)
    check_tensor("nll_loss_nd", "target", 2, target)
    reduction = resolve_reduction(size_average, reduce, reduction)
    check_same_device(input, target)
    _check_class_target(input, target, weight, "nll_loss_out_frame")
    return _NLLLoss.apply(input, _as_long(target), weight, reduction, int(ignore_index))
