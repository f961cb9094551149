"""Comparison and selection: clamp, maximum, minimum, where, eq/ne/lt/le/gt/ge, logical ops,
isnan/isinf/isfinite. Comparisons have no gradient; selections route it to the chosen side.
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel, on_device
from .declare import Pointwise, operands, run, run_as, run_float, same_dtype, wrap, xp_ufunc
from .inplace import derive_inplace
from .registry import export

_BOOL = np.dtype(np.bool_)
_INF = float("inf")


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
            return wrap(kernel("clamp_fwd", x)(d, a=builtins.float(ctx.lo), b=builtins.float(ctx.hi)),
                        x._device)
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
        out = input
        if min is not None:
            out = where(lt(out, min), min, out)
        if max is not None:
            out = where(gt(out, max), max, out)
        return out
    return Clamp.apply(input, min, max)


_clamp_scalar_ = derive_inplace(Clamp, "clamp", float_result=False, public=False)


@export(aliases=("clip_",))
def clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """In-place ``clamp``: derived from ``Clamp``; tensor bounds write ``clamp``'s result with ``copy_``."""
    _check_bounds(min, max)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return self.copy_(clamp(self, min, max))
    return _clamp_scalar_(self, min, max)


class _ExtremumBackwardX(Pointwise):
    """g routed to the winning side; piecewise constant in x and y, so only g has a gradient."""

    saves = (1, 2)

    @classmethod
    def backward(cls, ctx, gg):
        x, y = ctx.saved_tensors
        return cls.apply(gg, x, y) if ctx.needs_input_grad[0] else None, None, None


class MaximumBackwardX(_ExtremumBackwardX, kernel="maximum_bwd_x",   # ties split evenly
                       numpy=lambda g, x, y: np.where(x > y, g, np.where(x == y, g / 2, 0))):
    """Maximum's gradient for x."""


class MinimumBackwardX(_ExtremumBackwardX, kernel="minimum_bwd_x",
                       numpy=lambda g, x, y: np.where(x < y, g, np.where(x == y, g / 2, 0))):
    """Minimum's gradient for x."""


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


# comparisons (bool output, no gradient) -------------------------------------------
_NUMBERS = (Tensor, builtins.int, builtins.float, builtins.bool, builtins.complex, np.generic)

def _comparison(name: str, ufunc, otherwise):
    """``name(input, other)``: kernel ``<name>_fwd`` (NumPy's ``ufunc``, a bool-output CUDA kernel).
    A non-number ``other`` gives ``otherwise`` (PyTorch: ``t == None`` is False) or, when that is
    None, the TypeError of the operand rules."""
    register(f"{name}_fwd", "numpy", ufunc)
    register(f"{name}_fwd", "cupy", cuda.elementwise(f"{name}_fwd", out="bool"))

    def compare(input, other) -> Tensor:
        if otherwise is not None and not isinstance(other, _NUMBERS):
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


# logical / bitwise / float classification ------------------------------------------
register("logical_and_fwd", "numpy", np.logical_and)
register("logical_and_fwd", "cupy", cuda.elementwise("logical_and_fwd", out="bool"))
register("logical_or_fwd", "numpy", np.logical_or)
register("logical_or_fwd", "cupy", cuda.elementwise("logical_or_fwd", out="bool"))
register("logical_xor_fwd", "numpy", np.logical_xor)
register("logical_xor_fwd", "cupy", cuda.elementwise("logical_xor_fwd", out="bool"))
register("logical_not_fwd", "numpy", np.logical_not)
register("logical_not_fwd", "cupy", cuda.elementwise("logical_not_fwd", out="bool"))


@export(operators=("__and__",))
def logical_and(input, other) -> Tensor:
    return run_as("logical_and_fwd", _BOOL, input, other)


@export(operators=("__or__",))
def logical_or(input, other) -> Tensor:
    return run_as("logical_or_fwd", _BOOL, input, other)


@export(operators=("__xor__",))
def logical_xor(input, other) -> Tensor:
    return run_as("logical_xor_fwd", _BOOL, input, other)


def _as_bool(x: Tensor):
    d = x._data
    return d if d.dtype == _BOOL else kernel("cast", x)(d, _BOOL)


@export
def logical_not(input) -> Tensor:
    return wrap(kernel("logical_not_fwd", input)(_as_bool(input)), input._device)


register("bitwise_not_fwd", "numpy", np.invert)
register("bitwise_not_fwd", "cupy", xp_ufunc("invert"))      # no kernel in KERNELS.md yet


@export(operators=("__invert__",))
def bitwise_not(input) -> Tensor:
    kind = input._data.dtype.kind
    if kind == "b":
        return logical_not(input)
    if kind not in "iu":
        raise RuntimeError(f"\"bitwise_not_{input._device.type}\" not implemented for "
                           f"'{input.dtype._torch_name}'")
    return same_dtype("bitwise_not_fwd", input)


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
