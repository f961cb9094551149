"""In-place ops (``add_``, ``mul_``, ``copy_``, ...): validate, compute out of place, write back.

Everything that can fail (broadcast, dtype cast, leaf rule, devices) is checked before
the first byte of ``self`` changes. The result is computed with the out-of-place kernels
and written into ``self``'s (possibly strided) array with ``copy_into``. Every op runs as
a Function that marks ``self`` dirty: ``apply`` bumps the version counter exactly once
and, when a gradient is needed, rebases ``self``'s history onto the new node.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..autograd.grad_mode import _state as _grad_state
from ..backends import cuda
from ..dispatch import lookup, register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel


def _registered(op: str, backend: str) -> bool:
    try:
        lookup(op, backend)
        return True
    except NotImplementedError:
        return False


# dst[...] = src (broadcast, any strides, casting); shared with indexing, registered once
if not _registered("copy_into", "numpy"):
    register("copy_into", "numpy", lambda dst, src: np.copyto(dst, src, casting="unsafe"))
if not _registered("copy_into", "cupy"):
    register("copy_into", "cupy", cuda.copy("copy_into"))
register("fill_", "numpy", lambda dst, value: dst.fill(value))
register("fill_", "cupy", lambda dst, value: _fill_cuda(dst, value))   # CuPy's own fill: one launch, any strides


def _fill_cuda(dst, value) -> None:
    with dst.device:   # CuPy launches on the current device: make it dst's
        dst.fill(value)


# shared checks -------------------------------------------------------------------
def _can_cast(frm: np.dtype, to: np.dtype) -> bool:
    """PyTorch's canCast: no float -> integer, no non-bool -> bool."""
    if frm.kind == "f" and to.kind in "iub":
        return False
    return not (to.kind == "b" and frm.kind != "b")


def _check_shape(self: Tensor, other_shape: tuple) -> None:
    shape = self._data.shape
    if other_shape != shape and broadcast_shapes(shape, other_shape) != shape:
        out = broadcast_shapes(shape, other_shape)
        raise RuntimeError(f"output with shape [{', '.join(map(str, shape))}] doesn't match the broadcast "
                           f"shape [{', '.join(map(str, out))}]")


def _check_writable(self: Tensor) -> None:
    d = self._data
    if 0 in d.strides and any(s == 0 and n > 1 for s, n in zip(d.strides, d.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


def _check_cast(res: np.dtype, self: Tensor) -> None:
    if not _can_cast(res, self._data.dtype):
        raise RuntimeError(f"result type {_dt.from_numpy(res)._torch_name} can't be cast to the desired output "
                           f"type {self.dtype._torch_name}")


def _validate(self: Tensor, *others, div: bool = False) -> np.dtype:
    """Check ``others`` against ``self``; return the dtype to compute in."""
    sd = self._data
    if len(others) == 1 and not div:              # fast path of optimizer updates: same dtype/device/shape
        o = others[0]
        if type(o) is Tensor and o._device is self._device and o._data.dtype == sd.dtype and \
                o._data.shape == sd.shape:
            _check_writable(self)
            return sd.dtype
        if type(o) is float and sd.dtype.kind == "f":
            _check_writable(self)
            return sd.dtype
    for o in others:
        if isinstance(o, Tensor):
            check_same_device(self, o)
            _check_shape(self, o._data.shape)
        elif not isinstance(o, (numbers.Number, np.generic)) or isinstance(o, complex):
            raise TypeError(f"in-place op expected a Tensor or a real number, got {type(o).__name__}")
    res = _dt.result_type(self, *others)
    if div and res.kind != "f":
        res = _dt.get_default_dtype().np
    _check_cast(res, self)
    _check_writable(self)
    return res


def _needs_grad(self: Tensor, *others) -> bool:
    """Whether the op must be recorded; raises the leaf error before anything is written."""
    if not _grad_state.enabled:
        return False
    needs = self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)
    if not needs:
        return False
    if self.grad_fn is None and self._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    b = self._base
    if b is not None and b.grad_fn is None and b._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    return True


def _unalias(self: Tensor, other):
    """An operand sharing storage with ``self`` would be overwritten before backward reads it:
    use a (differentiable) copy taken before the write."""
    if isinstance(other, Tensor) and other._vc is self._vc:
        from .copy import clone
        return clone(other)
    return other


def _old_value(self: Tensor, other):
    """Self's value before the write, with its history, when ``other``'s gradient needs it
    (as PyTorch saves ``original_self`` for mul_/div_)."""
    if isinstance(other, Tensor) and other.requires_grad:
        from .copy import clone
        return clone(self)
    return None


def _arr(x, like: Tensor, dtype: np.dtype):
    """``x`` as an operand array of ``dtype`` on ``like``'s backend (0-dim CPU tensors become scalars)."""
    if isinstance(x, Tensor):
        if x._device is not like._device:
            return dtype.type(x._data.item())
        d = x._data
        return d if d.dtype == dtype else kernel("cast", x)(d, dtype)
    return dtype.type(x)


def _write(self: Tensor, result) -> None:
    kernel("copy_into", self)(self._data, result)


def _binary(op: str, self: Tensor, other, dtype: np.dtype, **params):
    return kernel(op, self)(_arr(self, self, dtype), _arr(other, self, dtype), **params)


# add_ / sub_ ---------------------------------------------------------------------
class AddInplace(Function):
    """x += alpha * y (SubInplace: x -= alpha * y, the same with the other kernel and sign)."""
    node_name = "AddBackward0"
    _op, _sign = "add_fwd", 1

    @staticmethod
    def forward(ctx, x: Tensor, y, alpha, dtype) -> Tensor:
        ctx.alpha = alpha
        _write(x, _binary(ctx._fn._op, x, y, dtype, **({} if alpha == 1 else {"a": alpha})))
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        s = ctx._fn._sign * ctx.alpha
        gy = (g if s == 1 else -g if s == -1 else g * s) if need[1] else None
        return (g if need[0] else None), gy, None, None


class SubInplace(AddInplace):
    node_name = "SubBackward0"
    _op, _sign = "sub_fwd", -1


def _add_like(fn, self: Tensor, other, alpha) -> Tensor:
    dtype = _validate(self, other)
    if _needs_grad(self, other):
        other = _unalias(self, other)
    return fn.apply(self, other, alpha, dtype)


def add_(self: Tensor, other, *, alpha=1) -> Tensor:
    return _add_like(AddInplace, self, other, alpha)


def sub_(self: Tensor, other, *, alpha=1) -> Tensor:
    return _add_like(SubInplace, self, other, alpha)


# mul_ / div_ ---------------------------------------------------------------------
class MulInplace(Function):
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, y, x_old, dtype) -> Tensor:
        need = ctx.needs_input_grad
        y_t = isinstance(y, Tensor)
        ctx.save_for_backward(y if need[0] and y_t else None, x_old)
        ctx.y = None if y_t else y
        _write(x, _binary("mul_fwd", x, y, dtype))
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        y, x_old = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = g * (y if y is not None else ctx.y) if need[0] else None
        gy = g * x_old if need[1] else None
        return gx, gy, None, None


def _mul_like(fn, self: Tensor, other, div: bool = False) -> Tensor:
    dtype = _validate(self, other, div=div)
    old = None
    if _needs_grad(self, other):
        other = _unalias(self, other)
        old = _old_value(self, other)
    return fn.apply(self, other, old, dtype)


def mul_(self: Tensor, other) -> Tensor:
    return _mul_like(MulInplace, self, other)


class DivInplace(Function):
    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, y, x_old, dtype) -> Tensor:
        y_t = isinstance(y, Tensor)
        ctx.save_for_backward(y if y_t else None, x_old)
        ctx.y = None if y_t else y
        _write(x, _binary("div_fwd", x, y, dtype))
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        y, x_old = ctx.saved_tensors
        need = ctx.needs_input_grad
        yv = y if y is not None else ctx.y
        gx = g / yv if need[0] else None
        gy = -g * x_old / (yv * yv) if need[1] else None
        return gx, gy, None, None


def div_(self: Tensor, other) -> Tensor:
    return _mul_like(DivInplace, self, other, div=True)


# neg_ / exp_ ---------------------------------------------------------------------
class NegInplace(Function):
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        _write(x, kernel("neg_fwd", x)(x._data))
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return -g


def neg_(self: Tensor) -> Tensor:
    if self._data.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    _check_writable(self)
    _needs_grad(self)  # raises for a leaf that requires grad, before anything is written
    return NegInplace.apply(self)


class ExpInplace(Function):
    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        _write(x, kernel("exp_fwd", x)(x._data))
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def exp_(self: Tensor) -> Tensor:
    if self._data.dtype.kind != "f":
        _check_cast(_dt.get_default_dtype().np, self)
    _check_writable(self)
    _needs_grad(self)
    return ExpInplace.apply(self)


# clamp_ --------------------------------------------------------------------------
def _clamp_compute(x: Tensor, lo, hi, dtype: np.dtype):
    if dtype.kind == "f" and not isinstance(lo, Tensor) and not isinstance(hi, Tensor):
        a = -np.inf if lo is None else lo
        b = np.inf if hi is None else hi
        return kernel("clamp_fwd", x)(_arr(x, x, dtype), a=a, b=b)
    out = _arr(x, x, dtype)
    if lo is not None:
        out = kernel("maximum_fwd", x)(out, _arr(lo, x, dtype))
    if hi is not None:
        out = kernel("minimum_fwd", x)(out, _arr(hi, x, dtype))
    return out


class ClampInplace(Function):
    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, x: Tensor, lo, hi, dtype) -> Tensor:
        need = ctx.needs_input_grad
        old = x.detach()
        # masks of where each input wins, taken before the write
        below = (old < lo) if lo is not None and need[1] else None
        above = (old > hi) if hi is not None and need[2] else None
        inside = None
        if need[0]:
            if lo is not None and hi is not None:
                inside = (old >= lo) & (old <= hi)
            else:
                inside = (old >= lo) if lo is not None else (old <= hi)
        ctx.save_for_backward(inside, below, above)
        _write(x, _clamp_compute(x, lo, hi, dtype))
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        inside, below, above = ctx.saved_tensors
        return (g * inside if inside is not None else None, g * below if below is not None else None,
                g * above if above is not None else None, None)


def clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    dtype = _validate(self, *(b for b in (min, max) if b is not None))
    if _needs_grad(self, min, max):
        min, max = _unalias(self, min), _unalias(self, max)  # noqa: A001
    return ClampInplace.apply(self, min, max, dtype)


clip_ = clamp_


# fill_ / zero_ / copy_ -----------------------------------------------------------
class FillInplace(Function):
    node_name = "FillBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, value) -> Tensor:
        kernel("fill_", x)(x._data, value.item() if isinstance(value, Tensor) else value)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return None, (g.sum() if ctx.needs_input_grad[1] else None)


class FillTensorInplace(FillInplace):
    node_name = "FillBackward1"


class ZeroInplace(FillInplace):
    node_name = "ZeroBackward0"


def fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        check_same_device(self, value)
    elif not isinstance(value, (numbers.Number, np.generic)):
        raise TypeError(f"fill_(): argument 'value' must be Number or Tensor, not {type(value).__name__}")
    _check_writable(self)
    _needs_grad(self, value)
    return (FillTensorInplace if isinstance(value, Tensor) else FillInplace).apply(self, value)


def zero_(self: Tensor) -> Tensor:
    _check_writable(self)
    _needs_grad(self)
    return ZeroInplace.apply(self, 0)


class CopyInplace(Function):
    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, x: Tensor, src: Tensor) -> Tensor:
        ctx.src_device, ctx.src_dtype = src._device, src._data.dtype
        _copy_into(x, src)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        if not ctx.needs_input_grad[1]:
            return None, None
        if g._device is not ctx.src_device:       # the one edge where the gradient changes device
            from .copy import ToCopy
            g = ToCopy.apply(g, ctx.src_device, ctx.src_dtype)
        return None, g


def _copy_into(x: Tensor, src: Tensor) -> None:
    data = src._data
    if src._device is not x._device:
        from .copy import _move
        data = _move(data, src._device, x._device)
    elif src._vc is x._vc:                   # overlapping storage: read everything before writing
        data = kernel("copy", src)(data)
    _write(x, data)


def copy_(self: Tensor, src: Tensor, non_blocking: bool = False) -> Tensor:
    """Write ``src`` (broadcast, any dtype, any device) into ``self``; the gradient goes back to ``src``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not {type(src).__name__}")
    _check_shape(self, src._data.shape)
    _check_writable(self)
    _needs_grad(self, src)
    return CopyInplace.apply(self, src)


METHODS = ("add_", "sub_", "mul_", "div_", "neg_", "exp_", "clamp_", "clip_", "fill_", "zero_", "copy_")
FUNCTIONS = ()
