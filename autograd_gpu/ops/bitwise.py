"""Bitwise and logical ops on integer and bool tensors, and their operators (``& | ^ ~ << >>``).

Bitwise ops are bitwise on integers and logical on bool (bool & bool stays bool), with PyTorch's
promotion (uint8 & int8 -> int16; bool & int -> int64; a Python int keeps the tensor's dtype and
wraps into it: uint8 & -1 uses 255). A float operand raises PyTorch's NotImplementedError.
Shifts follow PyTorch's CPU rule for amounts outside [0, bits): ``<<`` gives 0, ``>>`` fills
with the sign bit (NumPy's shifts do the same; ``kernels/bitwise.cu`` spells it out).
Logical ops take any dtype (nonzero and NaN are true) and give bool. Nothing here has a
gradient: every result is integer or bool.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel
from .declare import operands, run_as, wrap
from .inplace import derive_inplace
from .registry import export

_BOOL = np.dtype(np.bool_)


def _not_implemented(label: str, device, dtype: np.dtype) -> NotImplementedError:
    """PyTorch's message for a kernel without this dtype (NotImplementedError is a RuntimeError)."""
    return NotImplementedError(f"\"{label}_{device.type}\" not implemented for '{_dt.from_numpy(dtype)._torch_name}'")


def _device_of(*xs):
    for x in xs:
        if isinstance(x, Tensor):
            return x._device
    raise TypeError("expected at least one Tensor operand, got "
                    f"({', '.join(type(x).__name__ for x in xs)})")


# binary bitwise ops and shifts ------------------------------------------------------------
class _Bitwise(Function):
    """``kernel(x, y)`` over the promoted operands; integer dtypes, and bool where ``bool_ok``.
    A Function only so that ``derive_inplace`` gives the ``_`` form its checks; integer and
    bool results never need a gradient, so ``backward`` is never reached with one."""

    kernel_name = ""
    label = ""        # PyTorch's kernel name in its dtype error ("bitwise_and", "lshift")
    bool_ok = True

    @classmethod
    def forward(cls, ctx, x, y):
        dtype = _dt.result_type(x, y)
        if dtype.kind not in "iub" or (dtype.kind == "b" and not cls.bool_ok):
            raise _not_implemented(cls.label, _device_of(x, y), dtype)
        x, y = _dt.fit_ints(dtype, (x, y))
        _, ref, arrays = operands(x, y, dtype=dtype)
        return wrap(kernel(cls.kernel_name, ref)(*arrays), ref._device)

    @staticmethod
    def backward(ctx, g):
        return None, None


def _declare(name: str, label: str, numpy_fn, dunder: str, bool_ok: bool = True):
    """``ag.<name>``, ``Tensor.<name>``, ``Tensor.<name>_`` and the operator ``dunder`` (its reflected
    and augmented forms follow in ``api``), all over the kernel ``<name>_fwd``."""
    kernel_name = f"{name}_fwd"
    register(kernel_name, "numpy", numpy_fn)
    register(kernel_name, "cupy", cuda.elementwise(kernel_name, file="bitwise"))
    cls = type(f"{''.join(p.title() for p in name.split('_'))}", (_Bitwise,),
               {"kernel_name": kernel_name, "label": label, "bool_ok": bool_ok, "__module__": __name__})
    forward = cls.forward

    def op(input, other) -> Tensor:
        return forward(None, input, other)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` of integer/bool tensors and Python numbers (PyTorch's promotion)."
    export(op, operators=(dunder,))
    derive_inplace(cls, name, float_result=False, function=False)
    return op


bitwise_and = _declare("bitwise_and", "bitwise_and", np.bitwise_and, "__and__")
bitwise_or = _declare("bitwise_or", "bitwise_or", np.bitwise_or, "__or__")
bitwise_xor = _declare("bitwise_xor", "bitwise_xor", np.bitwise_xor, "__xor__")
bitwise_left_shift = _declare("bitwise_left_shift", "lshift", np.left_shift, "__lshift__", bool_ok=False)
bitwise_right_shift = _declare("bitwise_right_shift", "rshift", np.right_shift, "__rshift__", bool_ok=False)


# bitwise_not / ~ -----------------------------------------------------------------------------
register("bitwise_not_fwd", "numpy", np.invert)     # bool: logical not
register("bitwise_not_fwd", "cupy", cuda.elementwise("bitwise_not_fwd", file="bitwise"))


class BitwiseNot(Function):
    """A Function for ``derive_inplace`` (``bitwise_not_``); integer/bool results, no gradient."""

    @staticmethod
    def forward(ctx, x):
        d = x._data
        if d.dtype.kind not in "iub":
            raise _not_implemented("bitwise_not", x._device, d.dtype)
        return wrap(kernel("bitwise_not_fwd", x)(d), x._device)

    @staticmethod
    def backward(ctx, g):
        return None


@export
def bitwise_not(input: Tensor) -> Tensor:
    """``~x`` on integers; logical not on bool."""
    return BitwiseNot.forward(None, input)


derive_inplace(BitwiseNot, "bitwise_not", float_result=False, function=False)


def _invert(self: Tensor) -> Tensor:
    """``~t``: PyTorch's operator raises a TypeError of its own for float tensors."""
    if self._data.dtype.kind == "f":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return BitwiseNot.forward(None, self)


export(_invert, function=False, method=False, operators=("__invert__",))


# logical ops: any dtype in, bool out ------------------------------------------------------
for _name in ("logical_and", "logical_or", "logical_xor", "logical_not"):
    register(f"{_name}_fwd", "numpy", getattr(np, _name))
    register(f"{_name}_fwd", "cupy", cuda.elementwise(f"{_name}_fwd", out="bool"))   # elementwise.cu, bool only


@export
def logical_and(input, other) -> Tensor:
    return run_as("logical_and_fwd", _BOOL, input, other)


@export
def logical_or(input, other) -> Tensor:
    return run_as("logical_or_fwd", _BOOL, input, other)


@export
def logical_xor(input, other) -> Tensor:
    return run_as("logical_xor_fwd", _BOOL, input, other)


@export
def logical_not(input) -> Tensor:
    d = input._data
    if d.dtype != _BOOL:   # nonzero (and NaN) is true
        d = kernel("cast", input)(d, _BOOL)
    return wrap(kernel("logical_not_fwd", input)(d), input._device)
