"""Comparison and selection: clamp, maximum, minimum, where, eq/ne/lt/le/gt/ge, isclose/allclose/
equal, all/any, isnan/isinf/isfinite. Comparisons have no gradient; selections route it to the
chosen side. (Logical and bitwise ops are in ``bitwise.py``.)
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel, on_device, wrap_dim
from .declare import Pointwise, operands, run, run_float, same_dtype, wrap, xp_ufunc
from .inplace import derive_inplace
from .registry import export

_BOOL = np.dtype(np.bool_)
_INF = float("inf")
_NAN = float("nan")


# clamp / maximum / minimum / where ---------------------------------------------------
class Clamp(Pointwise, kernel="clamp_fwd", numpy=lambda x, a=-_INF, b=_INF: np.minimum(np.maximum(x, a), b),
            saves=0, node_name="ClampBackward1"):   # min(max(x, a), b); Python-number bounds
    @staticmethod
    def forward(ctx, x, lo, hi):
        bounds = [v for v in (lo, hi) if v is not None]
        dtype = _dt.result_type(x, *bounds)
        ctx.lo = -_INF if lo is None else lo
        ctx.hi = _INF if hi is None else hi
        if dtype.kind == "f":
            _, ref, (d,) = operands(x, dtype=dtype)
            lo, hi = builtins.float(ctx.lo), builtins.float(ctx.hi)
            if lo != lo or hi != hi:   # a NaN bound makes every element NaN (PyTorch); max propagates NaN
                return wrap(kernel("maximum_fwd", x)(d, _NAN), x._device)
            return wrap(kernel("clamp_fwd", x)(d, a=lo, b=hi), x._device)
        lo, hi = _dt.fit_ints(dtype, (lo, hi))                   # uint8 min=-1 is 255, as PyTorch
        out = x if lo is None else run("maximum_fwd", x, lo)     # integer clamp: no int kernel
        return out if hi is None else run("minimum_fwd", out, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ClampBackward.apply(g, x, ctx.lo, ctx.hi), None, None


register("clamp_bwd", "numpy", lambda g, x, a=-_INF, b=_INF: np.where((x >= a) & (x <= b), g, 0))
register("clamp_bwd", "cupy", cuda.elementwise("clamp_bwd"))  # a <= x <= b ? g : 0 (bounds inclusive)


class ClampBackward(Function):
    node_name = "ClampBackwardBackward1"

    @staticmethod
    def forward(ctx, g, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return run_float("clamp_bwd", g, x, a=builtins.float(lo), b=builtins.float(hi))

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        gg_ = ClampBackward.apply(gg, x, ctx.lo, ctx.hi) if ctx.needs_input_grad[0] else None
        return gg_, None, None, None


def _check_bounds(min, max) -> None:  # noqa: A002 - PyTorch's names
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")


@export(aliases=("clip",))
def clamp(input, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Bounds are inclusive for the gradient (as PyTorch); tensor bounds are supported too."""
    _check_bounds(min, max)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor(input, min, max)
    return Clamp.apply(input, min, max)


def _clamp_tensor(x: Tensor, lo, hi) -> Tensor:
    """Tensor bounds: ``minimum(maximum(x, lo), hi)`` in the dtype of all three (PyTorch's clamp.Tensor):
    a NaN in x or a bound gives NaN, min > max gives max. With one bound the gradient is exactly
    PyTorch's (it is maximum's/minimum's, ties split); with both it agrees away from ties and NaN."""
    dtype = _dt.result_type(x, *(v for v in (lo, hi) if v is not None))
    if x._data.dtype != dtype:   # promote first, so the two steps cannot promote differently
        x = x.to(_dt.from_numpy(dtype))
    out = x if lo is None else Maximum.apply(x, lo)
    return out if hi is None else Minimum.apply(out, hi)


_clamp_scalar_ = derive_inplace(Clamp, "clamp", float_result=False, public=False)


@export(aliases=("clip_",))
def clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """In-place ``clamp``: derived from ``Clamp``; tensor bounds write ``clamp``'s result with ``copy_``."""
    _check_bounds(min, max)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # maximum/minimum save their inputs: read a copy of self, not the self the write bumps
        return self.copy_(_clamp_tensor(self.clone() if self.requires_grad else self, min, max))
    return _clamp_scalar_(self, min, max)


class _ExtremumBackwardX(Pointwise):
    """g routed to the winning side; piecewise constant in x and y, so only g has a gradient."""

    saves = (1, 2)

    @classmethod
    def backward(cls, ctx, gg):
        x, y = ctx.saved_tensors
        return cls.apply(gg, x, y) if ctx.needs_input_grad[0] else None, None, None


class MaximumBackwardX(_ExtremumBackwardX, kernel="maximum_bwd_x",   # ties split evenly
                       numpy=lambda g, x, y: np.where(x < y, 0, np.where(x == y, g / 2, g))):
    """Maximum's gradient for x: PyTorch's rule, so a NaN on either side passes g to both."""


class MinimumBackwardX(_ExtremumBackwardX, kernel="minimum_bwd_x",
                       numpy=lambda g, x, y: np.where(x > y, 0, np.where(x == y, g / 2, g))):
    """Minimum's gradient for x: PyTorch's rule, so a NaN on either side passes g to both."""


class _Extremum(Pointwise):
    """maximum/minimum: the gradient goes to the winning side (``backward_x``), split on ties."""
    backward_x: type   # MaximumBackwardX / MinimumBackwardX
    saves = (0, 1)
    promote = "same"

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (cls.backward_x.apply(g, x, y) if need[0] else None,
                cls.backward_x.apply(g, y, x) if need[1] else None)


class Maximum(_Extremum, name="maximum", numpy=np.maximum):   # max(x, y), NaN propagates
    backward_x = MaximumBackwardX


class Minimum(_Extremum, name="minimum", numpy=np.minimum):   # min(x, y), NaN propagates
    backward_x = MinimumBackwardX


register("where_fwd", "numpy", np.where)
register("where_fwd", "cupy", cuda.elementwise("where_fwd"))  # c ? x : y


class Where(Function):
    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, c, x, y):
        if not isinstance(c, Tensor) or c._data.dtype.kind != "b":
            got = c.dtype._torch_name if isinstance(c, Tensor) else type(c).__name__
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with "
                               f"dtype {got}")
        ctx.save_for_backward(c)
        if type(x) is Tensor and type(y) is Tensor:   # fast path: nothing to cast, check or broadcast
            cd, xd, yd = c._data, x._data, y._data
            if (c._device is x._device is y._device and xd.dtype == yd.dtype
                    and cd.shape == xd.shape == yd.shape):
                return wrap(kernel("where_fwd", x)(cd, xd, yd), x._device)
        check_same_device(c, x, y)
        if isinstance(x, Tensor) or isinstance(y, Tensor):
            dtype, ref, (ax, ay) = operands(x, y)
            broadcast_shapes(c._data.shape, np.broadcast_shapes(*(v._data.shape for v in (x, y)
                                                                if isinstance(v, Tensor))))
            if ref._device is not c._device:
                ref = ref if c._data.ndim == 0 else c
        else:
            dtype, ref = _dt.result_type(x, y), c
            ax, ay = dtype.type(x), dtype.type(y)
        cd = c._data if c._device is ref._device else c._data.item()
        return wrap(kernel("where_fwd", ref)(cd, ax, ay), ref._device)

    @staticmethod
    def backward(ctx, g):
        (c,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (None, Where.apply(c, g, 0.0) if need[1] else None,
                Where.apply(c, 0.0, g) if need[2] else None)


@export(method=False)
def where(condition, input=None, other=None) -> Tensor:
    """``condition ? input : other`` elementwise; scalars allowed for either branch."""
    if input is None and other is None:
        with on_device(condition):
            return tuple(Tensor._make(i.astype(np.int64, copy=False), condition._device)
                         for i in condition._device.backend.xp.nonzero(condition._data))
    return Where.apply(condition, input, other)


@export(name="where", function=False)
def where_method(self: Tensor, condition: Tensor, other) -> Tensor:
    """``Tensor.where(condition, other)``: ``where(condition, self, other)``."""
    return Where.apply(condition, self, other)


# comparisons (bool output, no gradient) -------------------------------------------
_NUMBERS = (Tensor, builtins.int, builtins.float, builtins.bool, builtins.complex, np.generic)

def _comparison(name: str, ufunc, otherwise):
    """``name(input, other)``: kernel ``<name>_fwd`` (NumPy's ``ufunc``, a bool-output CUDA kernel).
    A non-number ``other`` gives ``otherwise`` (PyTorch: ``t == None`` is False) or, when that is
    None, the TypeError of the operand rules."""
    register(f"{name}_fwd", "numpy", ufunc)
    register(f"{name}_fwd", "cupy", cuda.elementwise(f"{name}_fwd", out="bool"))

    def compare(input, other) -> Tensor:
        if type(other) is builtins.int and not 0 <= other <= 127 and isinstance(input, Tensor):
            other = _dt.wrap_int(other, input._data.dtype)   # uint8 == -1 compares with 255, as PyTorch
        elif otherwise is not None and not isinstance(other, _NUMBERS):
            return otherwise
        return run(f"{name}_fwd", input, other)
    compare.__name__ = compare.__qualname__ = name
    return export(compare, operators=(f"__{name}__",))


eq = _comparison("eq", np.equal, False)
ne = _comparison("ne", np.not_equal, True)
lt = _comparison("lt", np.less, None)
le = _comparison("le", np.less_equal, None)
gt = _comparison("gt", np.greater, None)
ge = _comparison("ge", np.greater_equal, None)


# closeness and equality (no gradient) ------------------------------------------------
def _np_isclose(x, y, a, b, *, equal_nan=False):
    """PyTorch's rule: equal, or a finite |x - y| <= atol + |rtol * y| (rtol a, atol b in x's dtype)."""
    with np.errstate(all="ignore"):
        close = x == y
        if equal_nan:
            close |= np.isnan(x) & np.isnan(y)
        t = x.dtype.type
        diff = np.abs(x - y)
        return close | (np.isfinite(diff) & (diff <= t(b) + np.abs(t(a) * y)))


register("isclose_fwd", "numpy", _np_isclose)
register("isclose_fwd", "cupy", cuda.elementwise("isclose_fwd", out="bool", file="bitwise"))
register("isclose_equal_nan_fwd", "numpy", lambda x, y, a, b: _np_isclose(x, y, a, b, equal_nan=True))
register("isclose_equal_nan_fwd", "cupy", cuda.elementwise("isclose_equal_nan_fwd", out="bool", file="bitwise"))


def _need_tensor(fn: str, other) -> None:
    if not isinstance(other, Tensor):
        raise TypeError(f"{fn}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")


@export
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Both tensors of one dtype (PyTorch refuses mixes); integers and bool compute the error in
    the default float dtype, so uint8 1 vs 3 differ by 2, not by 254."""
    _need_tensor("isclose", other)
    dx, dy = input._data.dtype, other._data.dtype
    if dx != dy:
        raise RuntimeError(f"{input.dtype._torch_name} did not match {other.dtype._torch_name}")
    for label, v in (("rtol", rtol), ("atol", atol)):
        if v < 0:
            raise RuntimeError(f"{label} must be greater than or equal to zero, but got {v:g}")
    dtype = dx if dx.kind == "f" else _dt.get_default_dtype().np
    _, ref, (x, y) = operands(input, other, dtype=dtype)
    op = "isclose_equal_nan_fwd" if equal_nan else "isclose_fwd"
    return wrap(kernel(op, ref)(x, y, a=builtins.float(rtol), b=builtins.float(atol)), ref._device)


@export
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """A Python bool: ``isclose`` everywhere (operands broadcast)."""
    _need_tensor("allclose", other)
    return builtins.bool(_all(isclose(input, other, rtol, atol, equal_nan))._data)


@export
def equal(input: Tensor, other: Tensor) -> bool:
    """A Python bool: same shape and equal values (dtypes may differ; NaN is unequal to itself)."""
    _need_tensor("equal", other)
    check_same_device(input, other)
    if input._data.shape != other._data.shape:
        return False
    return builtins.bool(_all(eq(input, other))._data)


# all / any: truth reductions (bool result; uint8 stays uint8, as PyTorch) -------------------
_cu_cast = cuda.copy("cast")


def _cu_truth(reduce_kernel: str):
    red = cuda.reduce(reduce_kernel)        # reduce.cu over bool: min is all, max is any

    def impl(x, axes, keepdims):
        return red(x if x.dtype == _BOOL else _cu_cast(x, _BOOL), axes, keepdims)
    return impl


register("all_fwd", "numpy", lambda x, axes, keepdims: np.asarray(np.all(x, axis=axes, keepdims=keepdims)))
register("all_fwd", "cupy", _cu_truth("amin_fwd"))
register("any_fwd", "numpy", lambda x, axes, keepdims: np.asarray(np.any(x, axis=axes, keepdims=keepdims)))
register("any_fwd", "cupy", _cu_truth("amax_fwd"))
_UINT8 = np.dtype(np.uint8)


def _truth_axes(dim, ndim: int) -> tuple:
    """Reduced axes: every one for None, each dim wrapped (0-d tensors accept 0 and -1 and reduce none)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, builtins.int) else tuple(dim)
    axes = []
    for d in dims:
        a = wrap_dim(d, ndim)
        if a in axes:
            raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
        axes.append(a)
    return tuple(axes) if ndim else ()


def _truth(op: str, input: Tensor, dim, keepdim: bool, axis, keepdims) -> Tensor:
    if axis is not None:   # NumPy's spellings, accepted by PyTorch
        if dim is not None:
            raise TypeError(f"{op}() got both 'dim' and its alias 'axis'")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    d = input._data
    out = kernel(f"{op}_fwd", input)(d, _truth_axes(dim, d.ndim), keepdim)
    if d.dtype == _UINT8:
        out = kernel("cast", input)(out, _UINT8)
    return wrap(out, input._device)


def _all(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """True where every element (along ``dim``: int, tuple or None for all) is nonzero; NaN counts as true."""
    return _truth("all", input, dim, keepdim, axis, keepdims)


def _any(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """True where some element (along ``dim``: int, tuple or None for all) is nonzero; NaN counts as true."""
    return _truth("any", input, dim, keepdim, axis, keepdims)


export(_all, name="all")
export(_any, name="any")


# float classification ------------------------------------------------------------
for _name in ("isnan", "isinf", "isfinite"):
    register(f"{_name}_fwd", "numpy", getattr(np, _name))
    register(f"{_name}_fwd", "cupy", xp_ufunc(_name))        # no kernel in KERNELS.md yet


@export
def isnan(input) -> Tensor:
    return same_dtype("isnan_fwd", input)


@export
def isinf(input) -> Tensor:
    return same_dtype("isinf_fwd", input)


@export
def isfinite(input) -> Tensor:
    return same_dtype("isfinite_fwd", input)
