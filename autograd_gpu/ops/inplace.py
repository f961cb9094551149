"""In-place ops: the derivation of ``op_`` from an out-of-place op, and the ops that exist only
in place (``fill_``, ``zero_``, ``copy_``).

Everything that can fail (broadcast, dtype cast, leaf rule, devices) is checked before
the first byte of ``self`` changes. The result is computed with the out-of-place kernels
and written into ``self``'s (possibly strided) array with ``copy_into``; the version counter
is bumped exactly once and, when a gradient is needed, ``self``'s history is rebased onto
the new node.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..autograd.recording import apply_inplace
from ..autograd.grad_mode import _state as _grad_state
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel
from .copy import Clone, ToCopy, _move
from .registry import export


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


def _overlapping(d) -> bool:
    """Do two elements of the (non-empty) array share memory? Only expanded (stride 0) dims make them."""
    return 0 in d.strides and d.size > 0 and any(s == 0 and n > 1 for s, n in zip(d.strides, d.shape))


def _check_writable(self: Tensor) -> None:
    d = self._data
    if _overlapping(d):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    unlock(d)


def unlock(d) -> None:
    """NumPy marks an expanded (broadcast) view read-only, and views of it inherit that; PyTorch writes
    through it (the callers check overlap where PyTorch does): make it writeable. Memory that is
    really read-only stays so, and NumPy's own error says so at the write."""
    if type(d) is np.ndarray and not d.flags.writeable:
        try:
            d.flags.writeable = True
        except ValueError:
            pass


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
        return Clone.apply(other)
    return other


def _write(self: Tensor, result) -> None:
    kernel("copy_into", self)(self._data, result)


# in-place forms derived from the out-of-place ops -------------------------------------
def derive_inplace(fn_cls, name: str, float_result: bool, public: bool = True, function: bool = True):
    """``Tensor.<name>_``: ``fn_cls``'s op written into ``self``, with ``fn_cls``'s node and
    backward (``Function.saves`` says what it reads). Everything that can fail is checked before
    the first byte changes; an operand sharing ``self``'s storage is copied first. ``function``:
    also ``ag.<name>_``, which PyTorch has for most one-input ops (``torch.exp_``) but not for
    ``add_`` or ``lerp_``."""
    def inplace(self: Tensor, *others, **kwargs) -> Tensor:
        _validate(self, *(o for o in others if o is not None), div=float_result)   # None: an absent bound
        if _needs_grad(self, *others):
            others = tuple(_unalias(self, o) for o in others)
        return apply_inplace(fn_cls, self, others, kwargs)
    inplace.__name__ = inplace.__qualname__ = f"{name}_"
    inplace.__doc__ = f"In-place ``{name}`` (derived from ``{fn_cls.__name__}``)."
    if public:
        export(inplace, function=function)
    return inplace


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


@export
def fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        check_same_device(self, value)
    elif not isinstance(value, (numbers.Number, np.generic)):
        raise TypeError(f"fill_(): argument 'value' must be Number or Tensor, not {type(value).__name__}")
    unlock(self._data)   # PyTorch fills an expanded view too: every element gets the same value
    _needs_grad(self, value)
    return (FillTensorInplace if isinstance(value, Tensor) else FillInplace).apply(self, value)


@export
def zero_(self: Tensor) -> Tensor:
    unlock(self._data)
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
            g = ToCopy.apply(g, ctx.src_device, ctx.src_dtype)
        return None, g


def _copy_into(x: Tensor, src: Tensor) -> None:
    data = src._data
    if src._device is not x._device:
        data = _move(data, src._device, x._device)
    elif src._vc is x._vc:                   # overlapping storage: read everything before writing
        data = kernel("copy", src)(data)
    _write(x, data)


@export(function=False)
def copy_(self: Tensor, src: Tensor, non_blocking: bool = False) -> Tensor:
    """Write ``src`` (broadcast, any dtype, any device) into ``self``; the gradient goes back to ``src``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not {type(src).__name__}")
    _check_shape(self, src._data.shape)
    _check_writable(self)
    _needs_grad(self, src)
    return CopyInplace.apply(self, src)
