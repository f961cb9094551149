"""How an elementwise op is declared, and the operand rules every elementwise op shares.

One declaration says everything about an op::

    class Exp(Pointwise, name="exp", numpy=np.exp, saves=OUT, inplace=True):
        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

registers the kernel ``exp_fwd`` for both backends (NumPy's function; on CUDA
``exp_fwd_<dtype>`` of ``kernels/elementwise.cu``), makes ``Exp`` a Function whose
``apply`` takes the fast path (``autograd/function.py``), and exports ``Exp.apply`` as
``ag.exp`` and ``Tensor.exp`` and the derived in-place form as ``Tensor.exp_``. A fused
backward kernel is declared the same way without ``name`` (``kernel="tanh_bwd"``): an op with
its own exact backward, so double backward stays exact.

The operand rules below (``run``, ``run_float``) are what ``forward`` does when operands do
not already agree: PyTorch's type promotion, broadcasting and device checks.
"""
from __future__ import annotations

import builtins
import inspect
import math
import sys

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..autograd.recording import OUT
from ..backends import cuda as _cuda
from ..device import get_backend
from ..dispatch import kernel, quiet, register, scalar_for, scalar_of
from ..tensor import Tensor, wrap
from ._common import broadcast_shapes, check_same_device
from .creation import zeros_like
from .inplace import derive_inplace
from .registry import export

__all__ = ["OUT", "Pointwise", "FusedBackward", "operands", "run", "run_float", "run_as", "wrap", "unary_float", "same_dtype", "xp_ufunc",
           "on_device_of", "zero_grads", "is_bool", "quiet", "check_int_divisor"]

_BOOL = np.dtype(np.bool_)
_NDARRAY = np.ndarray
_INF = math.inf
_SCALARS = (builtins.int, builtins.float, builtins.bool)


def check_int_divisor(y) -> None:
    """PyTorch's CPU integer division (``//``, ``%``, fmod, div rounding) raises on a zero divisor;
    NumPy returns 0. ``y`` is the divisor as the kernel gets it (array or NumPy scalar, already in
    the computation dtype): only integer dtypes pay for the scan."""
    if y.dtype.kind in "iub" and not y.all():
        raise RuntimeError("ZeroDivisionError")


class Pointwise(Function):
    """Base of every declared elementwise op; the keywords of a subclass are its declaration:

    - ``name``: the public op (``ag.<name>``, ``Tensor.<name>``); omit for a backward kernel.
      ``public=False``: the op has a public function of its own (extra parameters).
    - ``numpy``: the NumPy implementation of the kernel; ``cuda``: its CUDA launcher (default:
      ``kernels/elementwise.cu``'s ``<kernel>_<dtype>``); ``kernel``: the kernel's name
      (default ``<name>_fwd``); ``kernel_file``: the ``kernels/<file>.cu`` that defines it (default
      ``elementwise``). Both backends are registered under that one name.
    - ``saves``: what backward reads from ``ctx.saved_tensors`` (``Function.saves``).
    - ``promote``: ``"float"`` (integer and bool operands compute in the default float dtype)
      or ``"same"`` (the operands' promoted dtype).
    - ``inplace``: also export ``Tensor.<name>_`` and ``ag.<name>_``, derived from this op
      (``inplace.derive_inplace``); ``"method"``: ``Tensor.<name>_`` only, as PyTorch has no
      ``torch.<name>_`` (``add_``, ``lerp_``).
    - ``method``, ``nn``, ``aliases``, ``operators``: further public names (``registry.export``).
    - ``node_name``: PyTorch's node name when it is not ``<ClassName>Backward0``.
    - ``quiet``: the NumPy kernel runs with NumPy's floating-point warnings off (``quiet``);
      ``False`` for kernels that cannot raise one (neg, abs, tanh, ...), which then keep the
      bare ufunc's speed.

    ``forward`` defaults to the kernel over the promoted, broadcast operands; ops with extra
    checks (bool inputs) or parameters override it.
    """

    promote = "float"

    def __init_subclass__(cls, *, name: str | None = None, numpy=None, cuda=None, kernel: str | None = None,
                          kernel_file: str = "elementwise", saves=None, promote: str | None = None,
                          inplace: bool | str = False, public: bool = True, method: bool = True,
                          nn: bool = False, aliases: tuple = (), operators: tuple = (),
                          node_name: str | None = None, quiet: bool = True, **kwargs) -> None:
        if numpy is not None:
            cls.kernel = kernel or f"{name}_fwd"
            register(cls.kernel, "numpy", _quiet(numpy) if quiet else numpy)
            register(cls.kernel, "cupy", cuda if cuda is not None else _cuda.elementwise(cls.kernel, file=kernel_file))
            if "arity" not in cls.__dict__:
                cls.arity = _arity(numpy)
        elif kernel is not None:
            cls.kernel = kernel
        if saves is not None:
            cls.saves = saves if type(saves) is tuple else (saves,)
        if promote is not None:
            cls.promote = promote
        cls.node_name = node_name or cls.__dict__.get("node_name") or f"{cls.__name__}Backward0"
        super().__init_subclass__(**kwargs)
        if name is not None and public:
            fn = cls.apply
            fn.__name__ = fn.__qualname__ = name
            fn.__doc__ = cls.__doc__
            export(fn, name=name, method=method, nn=nn, aliases=aliases, operators=operators)
            for n in (name,) + tuple(aliases):   # ``from .unary import exp`` in other families
                vars(sys.modules[cls.__module__])[n] = fn
        if inplace:
            function = inplace != "method"
            fn_ = derive_inplace(cls, name, float_result=cls.promote == "float", function=function)
            for alias in aliases:   # arcsin_ as well as asin_
                export(fn_, name=f"{alias}_", function=function)

    @classmethod
    def forward(cls, ctx, *xs):
        return (run_float if cls.promote == "float" else run)(cls.kernel, *xs)


class FusedBackward(Pointwise):
    """The fused kernel ``g f'(v)`` of a one-input op's backward, ``v`` the input or output the op
    saved: one pass over memory. Its own backward is exact: the same kernel on ``gg`` for ``g``,
    and ``d_saved(gg, g, v)`` for ``v``. Where ``f'`` is piecewise constant (relu, abs),
    ``d_saved`` stays None and only ``v`` is saved."""

    saves = (0, 1)
    d_saved = None

    @classmethod
    def backward(cls, ctx, gg):
        need = ctx.needs_input_grad
        if cls.d_saved is None:
            (v,) = ctx.saved_tensors
            return cls.apply(gg, v) if need[0] else None, None
        g, v = ctx.saved_tensors
        return cls.apply(gg, v) if need[0] else None, cls.d_saved(gg, g, v) if need[1] else None


_quiet = quiet


def _arity(numpy_fn) -> int:
    """How many operands a kernel takes: a ufunc's ``nin``, else the parameters without default."""
    if isinstance(numpy_fn, np.ufunc):
        return numpy_fn.nin
    return sum(p.default is p.empty for p in inspect.signature(numpy_fn).parameters.values())


# operand rules ---------------------------------------------------------------------------
def operands(*xs, dtype=None) -> tuple:
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
                arrays.append(scalar_of(dtype, x._data.item()))
                continue
            d = x._data
            arrays.append(d if d.dtype == dtype else kernel("cast", x)(d, dtype))
        else:
            arrays.append(scalar_of(dtype, x))
    return dtype, ref, arrays


_CAT = {"b": 0, "u": 1, "i": 1, "f": 2}


def _fast(x, y):
    """The arrays of a binary op that needs no cast, broadcast check or device check, else None."""
    if type(x) is Tensor:
        dx = x._data
        if type(y) is Tensor:
            dy = y._data
            if x._device is y._device and dx.dtype == dy.dtype and dx.shape == dy.shape:
                return x, dx, dy
        elif type(y) in _SCALARS and _CAT[dx.dtype.kind] >= (2 if type(y) is builtins.float else
                                                               0 if type(y) is builtins.bool else 1):
            return x, dx, scalar_for(dx, y)
    elif type(y) is Tensor and type(x) in _SCALARS:
        dy = y._data
        if _CAT[dy.dtype.kind] >= (2 if type(x) is builtins.float else 0 if type(x) is builtins.bool else 1):
            return y, scalar_for(dy, x), dy
    return None


def run(op: str, *xs, **params) -> Tensor:
    """Run elementwise kernel ``op`` over tensors/scalars ``xs`` (promoted and broadcast)."""
    if len(xs) == 2:
        f = _fast(*xs)
        if f is not None:
            return wrap(kernel(op, f[0])(f[1], f[2], **params), f[0]._device)
    _, ref, arrays = operands(*xs)
    return wrap(kernel(op, ref)(*arrays, **params), ref._device)


def run_float(op: str, *xs, **params) -> Tensor:
    """``run`` for ops defined on floats only: integer/bool operands promote to the default float."""
    if len(xs) == 2:
        f = _fast(*xs)
        if f is not None and f[0]._data.dtype.kind == "f":
            return wrap(kernel(op, f[0])(f[1], f[2], **params), f[0]._device)
    dtype = _dt.result_type(*xs)
    if dtype.kind != "f":
        dtype = _dt.get_default_dtype().np
    _, ref, arrays = operands(*xs, dtype=dtype)
    return wrap(kernel(op, ref)(*arrays, **params), ref._device)


def run_as(op: str, dtype, *xs) -> Tensor:
    """Run ``op`` with every operand cast to ``dtype`` first (logical ops take bools)."""
    _, ref, arrays = operands(*xs, dtype=dtype)
    return wrap(kernel(op, ref)(*arrays), ref._device)


def unary_float(op: str, x: Tensor, **params) -> Tensor:
    """A float-only unary kernel; integer and bool tensors promote to the default float (as PyTorch)."""
    d = x._data
    if d.dtype.kind != "f":
        d = kernel("cast", x)(d, _dt.get_default_dtype().np)
    return wrap(kernel(op, x)(d, **params), x._device)


def same_dtype(op: str, x: Tensor, **params) -> Tensor:
    """A unary kernel that keeps the input's dtype."""
    return wrap(kernel(op, x)(x._data, **params), x._device)


def xp_ufunc(name: str):
    """CUDA implementation through the CUDA array module, for ops with no kernel in KERNELS.md yet."""
    def impl(*args, **kwargs):
        xp = get_backend("cuda").xp
        for a in args:   # CuPy runs on the current device: make it the operands'
            if isinstance(a, xp.ndarray):
                with a.device:
                    return getattr(xp, name)(*args, **kwargs)
        return getattr(xp, name)(*args, **kwargs)
    impl.__name__ = f"cuda_xp_{name}"
    return impl


def on_device_of(x, y, fn, *args):
    """``fn(*args)`` with the device of whichever of ``x``, ``y`` is a CuPy array current."""
    a = x if isinstance(x, get_backend("cuda").xp.ndarray) else y
    with a.device:
        return fn(*args)


def zero_grads(ctx, g) -> tuple:
    """Gradients of a piecewise-constant op: zeros (not None) for inputs that need them, as PyTorch."""
    return tuple(zeros_like(g) if n else None for n in ctx.needs_input_grad)


def is_bool(v) -> bool:
    return isinstance(v, builtins.bool) or (isinstance(v, Tensor) and v._data.dtype.kind == "b")
