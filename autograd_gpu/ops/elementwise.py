"""Shared plumbing of the elementwise op families (``arithmetic``, ``unary``, ``compare``,
``activation``): dtype promotion, broadcasting and device checks, and the fast paths that
skip them when operands already agree. Ops call ``run``/``run_float``/``_unary`` with a
kernel name; the dispatch table picks NumPy or our CUDA kernel.

Ops whose kernel is not (yet) in ``kernels/KERNELS.md`` (floor, ceil, round, trunc,
isnan/isinf/isfinite, bitwise_not, integer pow, truncating division) run on CUDA
through the array module of the CUDA backend (``_xp_ufunc``), never by importing CuPy here.
"""
from __future__ import annotations

import builtins
import inspect
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function, record_computed
from ..autograd.grad_mode import _state as _grad_state
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel
from .creation import zeros_like

_BOOL = np.dtype(np.bool_)
_NDARRAY = np.ndarray
_UFUNC = np.ufunc
_INF = math.inf
_SCALARS = (builtins.int, builtins.float, builtins.bool)


# shared plumbing ------------------------------------------------------------------
def _operands(*xs, dtype=None) -> tuple:
    """Common dtype, the device-holding tensor, and each operand as an array of that dtype (or a scalar)."""
    check_same_device(*xs)
    if dtype is None:
        dtype = _dt.result_type(*xs)
    ref = None
    shape = None
    for x in xs:
        if isinstance(x, Tensor):
            if ref is None or (ref._device.type == "cpu" and ref._data.ndim == 0):
                ref = x
            shape = x._data.shape if shape is None else broadcast_shapes(shape, x._data.shape)
    arrays = []
    for x in xs:
        if isinstance(x, Tensor):
            if x._device is not ref._device:   # a 0-dim CPU tensor used with a device tensor
                arrays.append(dtype.type(x._data.item()))
                continue
            d = x._data
            arrays.append(d if d.dtype == dtype else kernel("cast", x)(d, dtype))
        else:
            arrays.append(dtype.type(x))
    return dtype, ref, arrays


def _wrap(out, device) -> Tensor:
    # NumPy returns a scalar, not a 0-d array, for 0-d inputs; tensors must hold arrays
    if type(out) is not _NDARRAY and isinstance(out, np.generic):
        out = np.asarray(out)
    return Tensor._make(out, device)


_CAT = {"b": 0, "u": 1, "i": 1, "f": 2}


def _scalar_for(arr, v):
    """Python number ``v`` as a kernel operand beside ``arr``. On NumPy it becomes a scalar of
    ``arr``'s dtype: a kernel that applies a NumPy function to a bare float gets a float64 scalar,
    which promotes the result. CUDA kernels take the number as is and compute half in float32, as
    PyTorch does."""
    return arr.dtype.type(v) if type(arr) is _NDARRAY else v


_CONSTANTS: dict = {}


def _constant(v, dtype):
    """Python number ``v`` as a read-only 0-d array of ``dtype``, cached. A NumPy ufunc takes a 0-d
    array operand for the cost of an array operand, where converting a Python number costs about
    as much again as the whole op on a small array. Same values: NEP 50 converts the number to the
    array's dtype too. Zeros are keyed by their sign (0.0 == -0.0); NaN is not cached."""
    key = (v, dtype) if v else (math.copysign(1.0, v), dtype, 0)
    a = _CONSTANTS.get(key)
    if a is None:
        a = np.array(v, dtype)
        a.flags.writeable = False
        if v == v:
            if len(_CONSTANTS) >= 1024:
                _CONSTANTS.clear()
            _CONSTANTS[key] = a
    return a


def _fast(x, y):
    """The arrays of a binary op that needs no cast, broadcast check or device check, else None
    (a Python number goes through ``_scalar_for``)."""
    if type(x) is Tensor:
        dx = x._data
        if type(y) is Tensor:
            dy = y._data
            if x._device is y._device and dx.dtype == dy.dtype and dx.shape == dy.shape:
                return x, dx, dy
        elif type(y) in _SCALARS and _CAT[dx.dtype.kind] >= (2 if type(y) is builtins.float else
                                                               0 if type(y) is builtins.bool else 1):
            return x, dx, _scalar_for(dx, y)
    elif type(y) is Tensor and type(x) in _SCALARS:
        dy = y._data
        if _CAT[dy.dtype.kind] >= (2 if type(x) is builtins.float else 0 if type(x) is builtins.bool else 1):
            return y, _scalar_for(dy, x), dy
    return None


def run(op: str, *xs, **params) -> Tensor:
    """Run elementwise kernel ``op`` over tensors/scalars ``xs`` (promoted and broadcast)."""
    if len(xs) == 2:
        f = _fast(*xs)
        if f is not None:
            return _wrap(kernel(op, f[0])(f[1], f[2], **params), f[0]._device)
    _, ref, arrays = _operands(*xs)
    return _wrap(kernel(op, ref)(*arrays, **params), ref._device)


def run_float(op: str, *xs, **params) -> Tensor:
    """``run`` for ops defined on floats only: integer/bool operands promote to the default float."""
    if len(xs) == 2:
        f = _fast(*xs)
        if f is not None and f[0]._data.dtype.kind == "f":
            return _wrap(kernel(op, f[0])(f[1], f[2], **params), f[0]._device)
    dtype = _dt.result_type(*xs)
    if dtype.kind != "f":
        dtype = _dt.get_default_dtype().np
    _, ref, arrays = _operands(*xs, dtype=dtype)
    return _wrap(kernel(op, ref)(*arrays, **params), ref._device)


def _run_as(op: str, dtype, *xs) -> Tensor:
    """Run ``op`` with every operand cast to ``dtype`` first (logical ops take bools)."""
    _, ref, arrays = _operands(*xs, dtype=dtype)
    return _wrap(kernel(op, ref)(*arrays), ref._device)


def _unary(op: str, x: Tensor, **params) -> Tensor:
    """A float-only unary kernel; integer and bool tensors promote to the default float (as PyTorch)."""
    d = x._data
    if d.dtype.kind != "f":
        d = kernel("cast", x)(d, _dt.get_default_dtype().np)
    return _wrap(kernel(op, x)(d, **params), x._device)


def _same(op: str, x: Tensor, **params) -> Tensor:
    """A unary kernel that keeps the input's dtype."""
    return _wrap(kernel(op, x)(x._data, **params), x._device)


_function_apply = Function.__dict__["apply"].__func__


class ElementwiseFunction(Function):
    """A Function whose forward, given floating tensors of one dtype, shape and device (and Python
    numbers), is exactly its kernel ``kernel_op`` called on the arrays, and which declares what
    backward needs in ``saves`` (see ``Function``) rather than saving it in ``forward``.

    For such operands ``apply`` calls that kernel directly: no ctx, no grad-mode switch, no
    promotion or broadcast checks (PyTorch's autograd layer steps aside the same way). When an
    input needs a gradient, the output is then recorded from ``saves``. Most ops of a training
    step, and of a backward pass, take this path. It is written out for one and two operands;
    the few three-operand ops (second-order backward kernels) take the full path.
    ``tests/test_elementwise_fast_path.py`` checks that every subclass gives what its forward
    gives, recorded or not.
    """

    kernel_op = ""
    _n_operands = 0   # forward's parameters without a default: the kernel's operands

    _direct = None    # apply for exactly the operands, when one or two (see _direct below)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        params = list(inspect.signature(cls.forward).parameters.values())[1:]   # after ctx
        cls._n_operands = sum(p.default is p.empty for p in params)
        cls._direct = staticmethod(_direct(cls)) if cls._n_operands <= 2 else None

    @classmethod
    def apply(cls, *args, **kwargs):
        if cls._direct is not None and len(args) == cls._n_operands and not kwargs:
            return cls._direct(*args)
        return _function_apply(cls, *args, **kwargs)


_ABSENT = object()


def _direct(cls):
    """``cls.apply`` for exactly its one or two operands as a plain function: the op functions
    (``mul``, ``exp``, the operators) and backward formulas call it without ``apply``'s
    ``*args``/``**kwargs`` packing and classmethod binding."""
    kernel_op = cls.kernel_op

    def direct(x, y=_ABSENT):
        if type(x) is Tensor:
            d = x._data
            dt = d.dtype
            if dt.kind == "f":
                grad_on = _grad_state.enabled
                record = grad_on and (x._requires_grad or x.grad_fn is not None)
                kern = kernel(kernel_op, x)
                if y is _ABSENT:
                    out = kern(d)
                else:
                    t = type(y)
                    if t is Tensor:
                        e = y._data
                        if (e.dtype is not dt and e.dtype != dt) or e.shape != d.shape or y._device is not x._device:
                            return _function_apply(cls, x, y)
                        if grad_on and (y._requires_grad or y.grad_fn is not None):
                            record = True
                    elif t is builtins.float or t is builtins.int:   # bool scalars: forward's checks
                        e = _constant(y, dt) if type(kern) is _UFUNC else _scalar_for(d, y)
                    else:
                        return _function_apply(cls, x, y)
                    out = kern(d, e)
                out = Tensor._make(out, x._device) if type(out) is _NDARRAY else _wrap(out, x._device)
                if record:
                    return record_computed(cls, (x,) if y is _ABSENT else (x, y), out)
                return out
        return _function_apply(cls, x) if y is _ABSENT else _function_apply(cls, x, y)
    direct.__qualname__ = f"{cls.__qualname__}._direct"
    return direct


class FusedBackward(ElementwiseFunction):
    """The fused kernel of a one-input op's backward, ``kernel_op(g, v)`` where ``v`` is the input or
    output the op saved: one pass over memory on CUDA. Subclasses name the kernel and the node and
    give their own exact backward (so double backward stays exact)."""

    saves = (0, 1)

    @classmethod
    def forward(cls, ctx, g, v):
        return run_float(cls.kernel_op, g, v)


def _xp():
    from ..device import get_backend
    return get_backend("cuda").xp


def _xp_ufunc(name: str):
    """CUDA implementation through the CUDA array module, for ops with no kernel in KERNELS.md yet."""
    def impl(*args, **kwargs):
        xp = _xp()
        for a in args:   # CuPy runs on the current device: make it the operands'
            if isinstance(a, xp.ndarray):
                with a.device:
                    return getattr(xp, name)(*args, **kwargs)
        return getattr(xp, name)(*args, **kwargs)
    impl.__name__ = f"cuda_xp_{name}"
    return impl


def _on_device_of(x, y, fn, *args):
    """``fn(*args)`` with the device of whichever of ``x``, ``y`` is a CuPy array current."""
    a = x if isinstance(x, _xp().ndarray) else y
    with a.device:
        return fn(*args)


def _unbroadcast(g: Tensor, like) -> Tensor | None:
    return g if isinstance(like, Tensor) else None


def _zero_grads(ctx, g) -> tuple:
    """Gradients of a piecewise-constant op: zeros (not None) for inputs that need them, as PyTorch."""
    return tuple(zeros_like(g) if n else None for n in ctx.needs_input_grad)


def _is_bool(v) -> bool:
    return isinstance(v, builtins.bool) or (isinstance(v, Tensor) and v._data.dtype.kind == "b")


METHODS = ()
FUNCTIONS = ()
