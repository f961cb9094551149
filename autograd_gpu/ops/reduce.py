"""Reductions: sum, mean, prod, var/std (with std_mean/var_mean), logsumexp and norm, forward and backward
for both backends, one block per op; and the plumbing the other reduction-like families share
(``extrema``, ``scan`` and ``softmaxes`` import it from here).

Kernels of ``kernels/reduce.cu`` (sum, prod; amax/amin, registered in ``extrema``). Ops without
a kernel of their own (mean, var, std, logsumexp, norm) are composed from registered kernels on
the CUDA side. Every backward is written with differentiable ops, so double backward is exact.
"""
from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import any_where, kernel, wrap_dims
from .arithmetic import abs as _abs, pow as _pow, sign
from .compare import where
from .declare import quiet
from .registry import export
from .shape import View
from .unary import exp

_INF = float("inf")


# shared plumbing ------------------------------------------------------------------
def _dims(dim, ndim: int) -> tuple:
    """Reduced axes; ``None`` or ``()`` mean all (as in PyTorch); a 0-dim tensor reduces nothing."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = wrap_dims(dim, ndim)
    return () if ndim == 0 else dims


def _alias(dim, axis, keepdim, keepdims, op: str, default=None):
    """PyTorch's NumPy spellings ``axis=`` (for ``dim``) and ``keepdims=``; both spellings at once is
    PyTorch's TypeError."""
    if axis is not None:
        if dim is not default:
            raise TypeError(f"{op}() got an unexpected keyword argument 'axis'")
        dim = axis
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{op}() got an unexpected keyword argument 'keepdims'")
        keepdim = keepdims
    return dim, keepdim


def _keep_shape(shape: tuple, dims: tuple) -> tuple:
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _count(shape: tuple, dims: tuple) -> int:
    return math.prod(shape[d] for d in dims)


def _arr(a):
    """NumPy reductions over every axis return a scalar, not an array: keep arrays everywhere."""
    return a if type(a) is np.ndarray else np.asarray(a)


def _view(x: Tensor, shape: tuple) -> Tensor:
    return x if x._data.shape == tuple(shape) else View.apply(x, tuple(shape))


class _ExpandReduced(Function):
    """A reduced gradient broadcast back to the input's shape (the adjoint of ``sum``)."""
    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, in_shape: tuple, dims: tuple) -> Tensor:
        ctx.dims, ctx.keepdim = dims, g._data.ndim == len(in_shape)
        keep = g._data.reshape(_keep_shape(in_shape, dims))
        return g._view_of(kernel("expand", g)(keep, in_shape))

    @staticmethod
    def backward(ctx, gg: Tensor):
        return Sum.apply(gg, ctx.dims, ctx.keepdim, None), None, None


def _expand_reduced(g: Tensor, in_shape: tuple, dims: tuple) -> Tensor:
    return g if g._data.shape == tuple(in_shape) else _ExpandReduced.apply(g, tuple(in_shape), dims)


def _float_mask(mask: Tensor, like: Tensor) -> Tensor:
    return mask.to(like.dtype)


def _ties_grad(g: Tensor, x: Tensor, out: Tensor, dims: tuple) -> Tensor:
    """Gradient of amax/amin: split evenly among the elements equal to the extreme (PyTorch's rule)."""
    keep = _keep_shape(x._data.shape, dims)
    ref = Tensor._make(out._data.reshape(keep), out._device)
    mask = _float_mask(x.detach() == ref, x)
    count = Sum.apply(mask, dims, True, None)
    return _view(g, keep) * (mask / count)


def _cast_input(x: Tensor, dtype, widen_int: bool = False):
    """The input's array, cast first when ``dtype`` is given (PyTorch casts before reducing);
    ``widen_int``: integer and bool inputs become int64 (prod, cumsum, cumprod), as in PyTorch."""
    if dtype is None:
        if widen_int and x._data.dtype.kind in "biu" and x._data.dtype != np.int64:
            return kernel("cast", x)(x._data, np.dtype(np.int64))
        return x._data
    npd = _dt.to_numpy(dtype)
    return x._data if x._data.dtype == npd else kernel("cast", x)(x._data, npd)


def _inv(n: int) -> float:
    """1/n, NaN for an empty reduction (mean of nothing is NaN, as in PyTorch)."""
    return 1.0 / n if n else math.nan


def _require_float(x: Tensor, op: str) -> None:
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {x.dtype._torch_name}")


def _as_1d(a):
    """Scans, softmax and index reductions of a 0-dim tensor run on a 1-element vector."""
    return a.reshape(1) if a.ndim == 0 else a


# CUDA launchers used by composite ops (mean, var, std, logsumexp, norm) ---------------
_cu_sum = cuda.reduce("sum_fwd")
_cu_amax = cuda.reduce("amax_fwd")
_cu_amin = cuda.reduce("amin_fwd")
_cu = {n: cuda.elementwise(n) for n in ("add_fwd", "sub_fwd", "mul_fwd", "exp_fwd", "log_fwd", "abs_fwd",
                                        "sqrt_fwd", "pow_fwd", "where_fwd")}
_cu_finite = cuda.elementwise("eq_fwd", out="bool")   # eq(m - m, 0): false for +-inf and NaN
_cu_nonzero = cuda.elementwise("ne_fwd", out="bool")
_cu_cast = cuda.copy("cast")


# sum ---------------------------------------------------------------------------------
def _np_sum(x, axes, keepdims):
    if x.dtype.kind in "biu":
        return _arr(x.sum(axes, dtype=np.int64, keepdims=keepdims))
    if x.dtype == np.float16:   # accumulate in float32, as the CUDA kernel does
        return _arr(x.sum(axes, dtype=np.float32, keepdims=keepdims)).astype(np.float16)
    return _arr(x.sum(axes, keepdims=keepdims))


register("sum_fwd", "numpy", quiet(_np_sum))   # inf + -inf is nan, silently (PyTorch)
register("sum_fwd", "cupy", _cu_sum)                          # block tree reduction


class Sum(Function):
    node_name = "SumBackward1"
    op = "sum_fwd"

    @classmethod
    def forward(cls, ctx, x: Tensor, dims: tuple, keepdim: bool, dtype) -> Tensor:
        ctx.in_shape, ctx.dims = x._data.shape, dims
        return Tensor._make(kernel(cls.op, x)(_cast_input(x, dtype), dims, keepdim), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return _expand_reduced(g, ctx.in_shape, ctx.dims), None, None, None


class SumAll(Sum):
    node_name = "SumBackward0"


@export
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None,  # noqa: A001
        keepdims: bool | None = None) -> Tensor:
    """``sum(x)``, ``sum(x, dim, keepdim)``; integer and bool inputs sum to int64 as in PyTorch."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, "sum")
    dims = _dims(dim, input._data.ndim)
    return (SumAll if dim is None else Sum).apply(input, dims, keepdim, dtype)


# mean --------------------------------------------------------------------------------
def _np_mean(x, axes, keepdims):
    if _count(x.shape, axes):
        return _arr(x.mean(axes, keepdims=keepdims))
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # "Mean of empty slice": PyTorch gives NaN silently
        return _arr(x.mean(axes, keepdims=keepdims))


register("mean_fwd", "numpy", quiet(_np_mean))
def _cu_mean(x, axes, keepdims):   # float16 sums and scales in float32 (as NumPy), then rounds once
    m = _cu["mul_fwd"](_cu_sum(x, axes, keepdims, acc=True), _inv(_count(x.shape, axes)))
    return m if m.dtype == x.dtype else _cu_cast(m, x.dtype)


register("mean_fwd", "cupy", _cu_mean)                        # sum kernel, then one scale


class Mean(Sum):
    node_name = "MeanBackward1"
    op = "mean_fwd"

    @staticmethod
    def backward(ctx, g: Tensor):
        n = _count(ctx.in_shape, ctx.dims)
        return _expand_reduced(g * _inv(n), ctx.in_shape, ctx.dims), None, None, None


class MeanAll(Mean):
    node_name = "MeanBackward0"


@export
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None,
         keepdims: bool | None = None) -> Tensor:
    """Float inputs only (or an explicit float ``dtype``), as in PyTorch."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, "mean")
    if dtype is None:
        _require_float(input, "mean")
    elif not _dt.from_numpy(_dt.to_numpy(dtype)).is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. Optional dtype must be either a floating "
                           f"point or complex dtype. Got: {_dt.from_numpy(_dt.to_numpy(dtype))._torch_name}")
    dims = _dims(dim, input._data.ndim)
    return (MeanAll if dim is None else Mean).apply(input, dims, keepdim, dtype)


# prod --------------------------------------------------------------------------------
register("prod_fwd", "numpy", lambda x, axes, keepdims: _arr(x.prod(axes, keepdims=keepdims)))
register("prod_fwd", "cupy", cuda.reduce("prod_fwd"))


class Prod(Function):
    node_name = "ProdBackward1"

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool, dtype) -> Tensor:
        ctx.in_shape, ctx.dims = x._data.shape, dims
        out = Tensor._make(kernel("prod_fwd", x)(_cast_input(x, dtype, True), dims, keepdim), x._device)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        x, out = ctx.saved_tensors
        dims, keep = ctx.dims, _keep_shape(ctx.in_shape, ctx.dims)
        gk = _view(g, keep)
        if not any_where(x, lambda a: a == 0):
            return gk * _view(out, keep) / x, None, None, None
        return gk * _prod_others(x, dims), None, None, None


def _prod_others(x: Tensor, dims: tuple) -> Tensor:
    """prod over ``dims`` of every element but x_i, exact (first and second order) with zeros.

    With z the zero mask and n0 the zeros per group: P = prod of the non-zeros and S = sum of the
    zero entries (value 0, derivative 1 where it matters). Then prod_{j != i} x_j = P / x_i * Q_i
    with Q = 1 (n0 = 0), z_i ? 1 : S (n0 = 1), z_i ? S - x_i : 0 (n0 = 2), 0 (n0 > 2).
    """
    z = x.detach() == 0
    zf = _float_mask(z, x)
    n0 = Sum.apply(zf, dims, True, None)
    safe = where(z, 1.0, x)
    p = Prod.apply(safe, dims, True, None)
    s = Sum.apply(where(z, x, 0.0), dims, True, None)
    one, two, none = n0 == 1, n0 == 2, n0 == 0
    q = where(z, where(one, 1.0, where(two, s - x, 0.0)), where(none, 1.0, where(one, s, 0.0)))
    return p / safe * q


class ProdAll(Prod):
    node_name = "ProdBackward0"


@export
def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None,
         keepdims: bool | None = None) -> Tensor:
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, "prod")
    dims = _dims(dim, input._data.ndim)
    return (ProdAll if dim is None else Prod).apply(input, dims, keepdim, dtype)


# var / std ---------------------------------------------------------------------------
def _np_var(x, axes, correction, keepdims):
    with np.errstate(divide="ignore", invalid="ignore"):
        n = _count(x.shape, axes) - correction
        d = x - x.mean(axes, keepdims=True)
        return _arr(np.sum(d * d, axis=axes, keepdims=keepdims) / (n if n > 0 else 0.0))


def _cu_var(x, axes, correction, keepdims):
    n = _count(x.shape, axes)
    mul = _cu["mul_fwd"]
    d = _cu["sub_fwd"](x, mul(_cu_sum(x, axes, True), _inv(n)))
    dof = n - correction
    return mul(_cu_sum(mul(d, d), axes, keepdims), 1.0 / dof if dof > 0 else _INF)


register("var_fwd", "numpy", _np_var)
register("var_fwd", "cupy", _cu_var)                          # mean, squared deviations, sum
register("std_fwd", "numpy", lambda x, axes, correction, keepdims: np.sqrt(_np_var(x, axes, correction, keepdims)))
register("std_fwd", "cupy", lambda x, axes, correction, keepdims: _cu["sqrt_fwd"](_cu_var(x, axes, correction,
                                                                                         keepdims)))


class Var(Function):
    node_name = "VarBackward0"
    _op = "var_fwd"

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, correction, keepdim: bool) -> Tensor:
        ctx.dims, ctx.correction = dims, correction
        out = Tensor._make(kernel(ctx._fn._op, x)(x._data, dims, correction, keepdim), x._device)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        x, out = ctx.saved_tensors
        dims = ctx.dims
        keep = _keep_shape(x._data.shape, dims)
        dof = _count(x._data.shape, dims) - ctx.correction
        centered = x - Mean.apply(x, dims, True, None)
        if ctx._fn is Var:
            return centered * _view(g * (2.0 / dof if dof > 0 else _INF), keep), None, None, None
        std = _view(out, keep)           # d std = d var / (2 std); zero where std == 0, as PyTorch
        zero = std.detach() == 0
        scale = where(zero, 0.0, _view(g, keep) / where(zero, 1.0, std))
        return centered * (scale * (1.0 / dof if dof > 0 else _INF)), None, None, None


class Std(Var):
    node_name = "StdBackward0"
    _op = "std_fwd"


def _var_args(input: Tensor, dim, unbiased, keepdim, correction, op: str, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias(dim, axis, keepdim, keepdims, op)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{'std and var' if op in ('std', 'var') else op} only support floating point and "
                           "complex dtypes")
    if isinstance(dim, builtins.bool):      # var(x, False): the legacy ``unbiased`` overload
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased in (None, True) else 0
    elif unbiased is not None:
        raise RuntimeError(f"{op}: can't specify both unbiased and correction")
    return _dims(dim, input._data.ndim), correction, keepdim


@export
def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis=None, keepdims: bool | None = None) -> Tensor:
    dims, c, k = _var_args(input, dim, unbiased, keepdim, correction, "var", axis, keepdims)
    return Var.apply(input, dims, c, k)


@export
def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis=None, keepdims: bool | None = None) -> Tensor:
    dims, c, k = _var_args(input, dim, unbiased, keepdim, correction, "std", axis, keepdims)
    return Std.apply(input, dims, c, k)


@export(method=False)
def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None, axis=None, keepdims: bool | None = None) -> tuple:
    """``(std, mean)`` over ``dim``; gradients flow through both (a function only, as in PyTorch)."""
    dims, c, k = _var_args(input, dim, unbiased, keepdim, correction, "std_mean", axis, keepdims)
    return Std.apply(input, dims, c, k), Mean.apply(input, dims, k, None)


@export(method=False)
def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None, axis=None, keepdims: bool | None = None) -> tuple:
    """``(var, mean)`` over ``dim``; gradients flow through both (a function only, as in PyTorch)."""
    dims, c, k = _var_args(input, dim, unbiased, keepdim, correction, "var_mean", axis, keepdims)
    return Var.apply(input, dims, c, k), Mean.apply(input, dims, k, None)


# logsumexp ---------------------------------------------------------------------------
def _np_logsumexp(x, axes, keepdims):
    m = np.max(x, axis=axes, keepdims=True, initial=-_INF)   # a size-0 dim: -inf, as PyTorch
    m = np.where(np.isfinite(m), m, 0)     # all -inf (or an inf) would give inf - inf
    with np.errstate(divide="ignore"):     # log(0) = -inf for an all -inf slice, as PyTorch
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return _arr(out if keepdims else out.reshape([s for i, s in enumerate(out.shape) if i not in axes]))


def _cu_logsumexp(x, axes, keepdims):
    m = _cu_amax(x, axes, True)
    m = _cu["where_fwd"](_cu_finite(_cu["sub_fwd"](m, m), 0.0), m, 0.0)
    s = _cu_sum(_cu["exp_fwd"](_cu["sub_fwd"](x, m)), axes, True)
    out = _cu["add_fwd"](_cu["log_fwd"](s), m)
    return out if keepdims else out.reshape([s for i, s in enumerate(out.shape) if i not in axes])


register("logsumexp_fwd", "numpy", _np_logsumexp)
register("logsumexp_fwd", "cupy", _cu_logsumexp)               # max-shifted: never overflows


class LogSumExp(Function):
    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, keepdim: bool) -> Tensor:
        ctx.dims = dims
        out = Tensor._make(kernel("logsumexp_fwd", x)(x._data, dims, keepdim), x._device)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        x, out = ctx.saved_tensors
        keep = _keep_shape(x._data.shape, ctx.dims)
        return _view(g, keep) * exp(x - _view(out, keep)), None, None


@export
def logsumexp(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims: bool | None = None) -> Tensor:
    dim, keepdim = _alias(dim, axis, keepdim, keepdims, "logsumexp")
    if dim is None:
        raise TypeError('logsumexp() missing 1 required positional arguments: "dim"')
    if input._data.dtype.kind != "f":
        input = input.to(_dt.get_default_dtype())
    return LogSumExp.apply(input, _dims(dim, input._data.ndim), keepdim)


# norm --------------------------------------------------------------------------------
def _np_norm(x, p, axes, keepdims):
    a = np.abs(x)
    if p == 2:
        return np.sqrt(_np_sum(a * a, axes, keepdims))
    if p == _INF:
        return _arr(np.amax(a, axis=axes, keepdims=keepdims))
    if p == -_INF:
        return _arr(np.amin(a, axis=axes, keepdims=keepdims))
    if p == 0:
        return _arr(np.sum(x != 0, axis=axes, keepdims=keepdims).astype(x.dtype))
    if p == 1:
        return _np_sum(a, axes, keepdims)
    return _arr(_np_sum(a ** p, axes, keepdims) ** (1.0 / p))


def _cu_norm(x, p, axes, keepdims):
    a = _cu["abs_fwd"](x)
    if p == 2:
        return _cu["sqrt_fwd"](_cu_sum(_cu["mul_fwd"](a, a), axes, keepdims))
    if p == _INF:
        return _cu_amax(a, axes, keepdims)
    if p == -_INF:
        return _cu_amin(a, axes, keepdims)
    if p == 0:
        return _cu_cast(_cu_sum(_cu_nonzero(x, 0.0), axes, keepdims), x.dtype)
    if p == 1:
        return _cu_sum(a, axes, keepdims)
    return _cu["pow_fwd"](_cu_sum(_cu["pow_fwd"](a, float(p)), axes, keepdims), 1.0 / p)


register("norm_fwd", "numpy", _np_norm)
register("norm_fwd", "cupy", _cu_norm)


class Norm(Function):
    node_name = "NormBackward1"

    @staticmethod
    def forward(ctx, x: Tensor, p: float, dims: tuple, keepdim: bool) -> Tensor:
        ctx.p, ctx.dims = p, dims
        out = Tensor._make(kernel("norm_fwd", x)(x._data, p, dims, keepdim), x._device)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        x, out = ctx.saved_tensors
        p, dims = ctx.p, ctx.dims
        keep = _keep_shape(x._data.shape, dims)
        if p == 0:
            return x * 0.0, None, None, None
        if p == 1:
            return _view(g, keep) * sign(x), None, None, None
        if p in (_INF, -_INF):
            return _ties_grad(g, _abs(x), out, dims) * sign(x), None, None, None
        n = _view(out, keep)
        zero = n.detach() == 0      # PyTorch: zero gradient where the norm is zero
        if p == 2:
            scale = where(zero, 0.0, _view(g, keep) / where(zero, 1.0, n))
            return x * scale, None, None, None
        scale = where(zero, 0.0, _view(g, keep) / _pow(where(zero, 1.0, n), p - 1))
        return sign(x) * _pow(_abs(x), p - 1) * scale, None, None, None


class NormAll(Norm):
    node_name = "NormBackward0"


@export
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector norms over ``dim`` (all elements by default); 'fro' is the 2-norm of the flattened dims."""
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {input.dtype._torch_name}")
    if p == "fro" or p is None:
        p = 2.0
    elif isinstance(p, str):
        raise RuntimeError(f"norm(): p='{p}' is a matrix norm; only vector norms and 'fro' are supported")
    if dtype is not None:
        input = input.to(dtype)
    dims = _dims(dim, input._data.ndim)
    return (NormAll if dim is None else Norm).apply(input, float(p), dims, keepdim)
