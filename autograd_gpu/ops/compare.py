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
from .elementwise import (_BOOL, _INF, ElementwiseFunction, _operands, _run_as,
                          _same, _wrap, _xp_ufunc, run, run_float)



# clamp / maximum / minimum / where ---------------------------------------------------
register("clamp_fwd", "numpy", lambda x, a=-_INF, b=_INF: np.minimum(np.maximum(x, a), b))
register("clamp_fwd", "cupy", cuda.elementwise("clamp_fwd"))  # min(max(x, a), b)


class Clamp(Function):
    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, x, lo, hi):
        bounds = [v for v in (lo, hi) if v is not None]
        dtype = _dt.result_type(x, *bounds)
        ctx.save_for_backward(x)
        ctx.lo = -_INF if lo is None else lo
        ctx.hi = _INF if hi is None else hi
        if dtype.kind == "f":
            _, ref, (d,) = _operands(x, dtype=dtype)
            return _wrap(kernel("clamp_fwd", x)(d, a=builtins.float(ctx.lo), b=builtins.float(ctx.hi)),
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


def clamp(input, min=None, max=None) -> Tensor:
    """Bounds are inclusive for the gradient (as PyTorch); tensor bounds are supported too."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = where(lt(out, min), min, out)
        if max is not None:
            out = where(gt(out, max), max, out)
        return out
    return Clamp.apply(input, min, max)


clip = clamp

register("maximum_fwd", "numpy", np.maximum)
register("maximum_fwd", "cupy", cuda.elementwise("maximum_fwd"))   # max(x, y), NaN propagates
register("minimum_fwd", "numpy", np.minimum)
register("minimum_fwd", "cupy", cuda.elementwise("minimum_fwd"))   # min(x, y), NaN propagates
register("maximum_bwd_x", "numpy", lambda g, x, y: np.where(x > y, g, np.where(x == y, g / 2, 0)))
register("maximum_bwd_x", "cupy", cuda.elementwise("maximum_bwd_x"))   # ties split evenly
register("minimum_bwd_x", "numpy", lambda g, x, y: np.where(x < y, g, np.where(x == y, g / 2, 0)))
register("minimum_bwd_x", "cupy", cuda.elementwise("minimum_bwd_x"))


class _ExtremumBackwardX(ElementwiseFunction):
    """g routed to the winning side; piecewise constant in x and y, so only g has a gradient."""

    saves = (1, 2)

    @classmethod
    def forward(cls, ctx, g, x, y):
        return run_float(cls.kernel_op, g, x, y)

    @classmethod
    def backward(cls, ctx, gg):
        x, y = ctx.saved_tensors
        return cls.apply(gg, x, y) if ctx.needs_input_grad[0] else None, None, None


class MaximumBackwardX(_ExtremumBackwardX):
    node_name = "MaximumBackwardBackward0"
    kernel_op = "maximum_bwd_x"


class MinimumBackwardX(_ExtremumBackwardX):
    node_name = "MinimumBackwardBackward0"
    kernel_op = "minimum_bwd_x"


class _Extremum(ElementwiseFunction):
    """maximum/minimum: the gradient goes to the winning side (``backward_x``), split on ties."""
    backward_x: type   # MaximumBackwardX / MinimumBackwardX
    saves = (0, 1)

    @classmethod
    def forward(cls, ctx, x, y):
        return run(cls.kernel_op, x, y)

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (cls.backward_x.apply(g, x, y) if need[0] else None,
                cls.backward_x.apply(g, y, x) if need[1] else None)


class Maximum(_Extremum):
    kernel_op = "maximum_fwd"
    node_name = "MaximumBackward0"
    backward_x = MaximumBackwardX


class Minimum(_Extremum):
    kernel_op = "minimum_fwd"
    node_name = "MinimumBackward0"
    backward_x = MinimumBackwardX


def maximum(input, other) -> Tensor:
    return Maximum._direct(input, other)


def minimum(input, other) -> Tensor:
    return Minimum._direct(input, other)


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
                return _wrap(kernel("where_fwd", x)(cd, xd, yd), x._device)
        check_same_device(c, x, y)
        if isinstance(x, Tensor) or isinstance(y, Tensor):
            dtype, ref, (ax, ay) = _operands(x, y)
            broadcast_shapes(c._data.shape, np.broadcast_shapes(*(v._data.shape for v in (x, y)
                                                                if isinstance(v, Tensor))))
            if ref._device is not c._device:
                ref = ref if c._data.ndim == 0 else c
        else:
            dtype, ref = _dt.result_type(x, y), c
            ax, ay = dtype.type(x), dtype.type(y)
        cd = c._data if c._device is ref._device else c._data.item()
        return _wrap(kernel("where_fwd", ref)(cd, ax, ay), ref._device)

    @staticmethod
    def backward(ctx, g):
        (c,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (None, Where.apply(c, g, 0.0) if need[1] else None,
                Where.apply(c, 0.0, g) if need[2] else None)


def where(condition, input=None, other=None) -> Tensor:
    """``condition ? input : other`` elementwise; scalars allowed for either branch."""
    if input is None and other is None:
        with on_device(condition):
            return tuple(Tensor._make(i.astype(np.int64, copy=False), condition._device)
                         for i in condition._device.backend.xp.nonzero(condition._data))
    return Where.apply(condition, input, other)


# comparisons (bool output, no gradient) -------------------------------------------
_NUMBERS = (Tensor, builtins.int, builtins.float, builtins.bool, builtins.complex, np.generic)

for _name, _ufunc in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                      ("gt", np.greater), ("ge", np.greater_equal)):
    register(f"{_name}_fwd", "numpy", _ufunc)
    register(f"{_name}_fwd", "cupy", cuda.elementwise(f"{_name}_fwd", out="bool"))


def eq(input, other) -> Tensor:
    if not isinstance(other, _NUMBERS):
        return False   # as PyTorch: comparing with None or a non-number is simply not equal
    return run("eq_fwd", input, other)


def ne(input, other) -> Tensor:
    if not isinstance(other, _NUMBERS):
        return True
    return run("ne_fwd", input, other)


def lt(input, other) -> Tensor:
    return run("lt_fwd", input, other)


def le(input, other) -> Tensor:
    return run("le_fwd", input, other)


def gt(input, other) -> Tensor:
    return run("gt_fwd", input, other)


def ge(input, other) -> Tensor:
    return run("ge_fwd", input, other)


less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne


# logical / bitwise / float classification ------------------------------------------
register("logical_and_fwd", "numpy", np.logical_and)
register("logical_and_fwd", "cupy", cuda.elementwise("logical_and_fwd", out="bool"))
register("logical_or_fwd", "numpy", np.logical_or)
register("logical_or_fwd", "cupy", cuda.elementwise("logical_or_fwd", out="bool"))
register("logical_xor_fwd", "numpy", np.logical_xor)
register("logical_xor_fwd", "cupy", cuda.elementwise("logical_xor_fwd", out="bool"))
register("logical_not_fwd", "numpy", np.logical_not)
register("logical_not_fwd", "cupy", cuda.elementwise("logical_not_fwd", out="bool"))


def logical_and(input, other) -> Tensor:
    return _run_as("logical_and_fwd", _BOOL, input, other)


def logical_or(input, other) -> Tensor:
    return _run_as("logical_or_fwd", _BOOL, input, other)


def logical_xor(input, other) -> Tensor:
    return _run_as("logical_xor_fwd", _BOOL, input, other)


def _as_bool(x: Tensor):
    d = x._data
    return d if d.dtype == _BOOL else kernel("cast", x)(d, _BOOL)


def logical_not(input) -> Tensor:
    return _wrap(kernel("logical_not_fwd", input)(_as_bool(input)), input._device)


register("bitwise_not_fwd", "numpy", np.invert)
register("bitwise_not_fwd", "cupy", _xp_ufunc("invert"))      # no kernel in KERNELS.md yet


def bitwise_not(input) -> Tensor:
    kind = input._data.dtype.kind
    if kind == "b":
        return logical_not(input)
    if kind not in "iu":
        raise RuntimeError(f"\"bitwise_not_{input._device.type}\" not implemented for "
                           f"'{input.dtype._torch_name}'")
    return _same("bitwise_not_fwd", input)


for _name in ("isnan", "isinf", "isfinite"):
    register(f"{_name}_fwd", "numpy", getattr(np, _name))
    register(f"{_name}_fwd", "cupy", _xp_ufunc(_name))        # no kernel in KERNELS.md yet


def isnan(input) -> Tensor:
    return _same("isnan_fwd", input)


def isinf(input) -> Tensor:
    return _same("isinf_fwd", input)


def isfinite(input) -> Tensor:
    return _same("isfinite_fwd", input)


METHODS = ('clamp', 'clip', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logical_and', 'logical_or', 'logical_xor', 'logical_not', 'bitwise_not', 'isnan', 'isinf', 'isfinite')
FUNCTIONS = ('where',)
