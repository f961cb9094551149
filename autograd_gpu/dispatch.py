"""The (op, backend) -> implementation table, and the tensor-level ops lower layers call by name.

Ops register one implementation per backend by name (``register("exp_fwd", "numpy", np.exp)``)
so that ``grep exp_fwd`` finds every piece of exp. A backend may inherit another's table (the
tests' fake device reuses NumPy's).

The autograd layer and the engine sit below the ops, so they never import them: what they need
(``clone``, ``sum_to_shape``, ``zeros_from_meta``) the ops layer ``provide``s here by name.
"""
from __future__ import annotations

import inspect
import math
import re
from typing import Callable

import numpy as np

_tables: dict[str, dict[str, Callable]] = {}
_UFUNC = np.ufunc
_NDARRAY = np.ndarray
_parents: dict[str, str] = {}


def register(op: str, backend: str, fn: Callable | None = None):
    """Register ``fn`` as ``op`` on ``backend``; usable as a decorator when ``fn`` is omitted."""
    def deco(f: Callable) -> Callable:
        _tables.setdefault(backend, {})[op] = f
        return f
    return deco if fn is None else deco(fn)


def inherit(backend: str, parent: str) -> None:
    """Let ``backend`` fall back to ``parent``'s implementations (looked up each time, never copied,
    so a later registration on ``parent`` is seen)."""
    _parents[backend] = parent
    _tables.setdefault(backend, {})


def lookup(op: str, backend: str) -> Callable:
    table = _tables.get(backend)
    if table is not None:
        fn = table.get(op)
        if fn is not None:
            return fn
    parent = _parents.get(backend)
    if parent is not None:
        return lookup(op, parent)
    raise NotImplementedError(
        f"Could not run '{op}' with arguments from the '{backend}' backend: no implementation is "
        f"registered for it. Move the tensors to a device whose backend implements '{op}' "
        f"(registered: {', '.join(sorted(b for b, t in _tables.items() if op in t)) or 'none'}).")


def registered(backend: str) -> list[str]:
    return sorted(_tables.get(backend, ()))


def kernel(op: str, t) -> Callable:
    """The implementation of ``op`` for tensor ``t``'s backend (its device caches the table)."""
    try:
        return t._device._table[op]
    except (KeyError, TypeError):
        return lookup(op, t._device.backend.name)


# NumPy's floating-point warnings, silenced per kernel call --------------------------------
# PyTorch never warns on log(0), x/0, sqrt(-1), overflow or 0*inf; NumPy does, and a user running
# with warnings as errors then gets exceptions. ``np.errstate`` costs about 1 us per call (it
# builds its state object each time); setting NumPy's own context variable to a prebuilt "ignore"
# state costs a quarter of that, and nothing when a caller (the engine's backward loop,
# ``quiet_scope``) has set it already. The variable is private: without it, ``np.errstate`` does
# the job. The autograd fast path (``recording._fast_apply``) does the same switch inline around
# the function a quiet kernel wraps (``quiet_wraps``).
try:
    from numpy._core._ufunc_config import _extobj_contextvar as _ERR_VAR
    from numpy._core.umath import _make_extobj
    _IGNORE = _make_extobj(all="ignore")
    _err_get, _err_set, _err_reset = _ERR_VAR.get, _ERR_VAR.set, _ERR_VAR.reset
except (ImportError, AttributeError, TypeError):   # pragma: no cover - another NumPy layout
    _IGNORE = _err_get = _err_set = _err_reset = None   # and no quiet kernel has ``quiet_wraps``


def quiet(fn: Callable) -> Callable:
    """``fn`` (a NumPy kernel) with NumPy's floating-point warnings off for the duration of each call."""
    if getattr(fn, "_quiet", False):
        return fn
    if _err_set is None:   # pragma: no cover
        def impl(*args, **kwargs):
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)
    else:
        def impl(*args, **kwargs):
            if _err_get() is _IGNORE:
                return fn(*args, **kwargs)
            token = _err_set(_IGNORE)
            try:
                return fn(*args, **kwargs)
            finally:
                _err_reset(token)
        impl.quiet_wraps = fn   # for callers that switch the warnings off themselves
    impl._quiet = True
    impl.takes_constant = takes_constant(fn)   # as the function it wraps
    impl.__name__ = getattr(fn, "__name__", "kernel")
    impl.__signature__ = _signature(fn)   # what the kernel takes, for the tests' arity checks
    return impl


class quiet_scope:
    """NumPy's floating-point warnings off for a whole block (the backward pass): the ``quiet``
    kernels inside then skip their own switch."""

    def __enter__(self) -> None:
        self._token = _err_set(_IGNORE) if _err_set is not None else None
        if self._token is None:   # pragma: no cover
            self._state = np.errstate(all="ignore")
            self._state.__enter__()

    def __exit__(self, *exc) -> None:
        if self._token is not None:
            _err_reset(self._token)
        else:   # pragma: no cover
            self._state.__exit__(*exc)


def _signature(fn) -> inspect.Signature:
    if isinstance(fn, np.ufunc):
        return inspect.Signature([inspect.Parameter(f"x{i}", inspect.Parameter.POSITIONAL_ONLY)
                                  for i in range(fn.nin)])
    return inspect.signature(fn)


# Python numbers as kernel operands ---------------------------------------------------------
_CONSTANTS: dict = {}


def constant(v, dtype) -> np.ndarray:
    """Python number ``v`` as a read-only 0-d array of ``dtype``, cached. A NumPy ufunc takes a 0-d
    array operand for the cost of an array operand, where converting a Python number costs about
    as much again as the whole op on a small array. Same values: NEP 50 converts the number to the
    array's dtype too. Zeros are keyed by their sign (0.0 == -0.0); NaN is not cached."""
    key = (v, dtype) if v else (math.copysign(1.0, v), dtype, 0)
    a = _CONSTANTS.get(key)
    if a is None:
        a = np.array(scalar_of(dtype, v))
        a.flags.writeable = False
        if v == v:
            if len(_CONSTANTS) >= 1024:
                _CONSTANTS.clear()
            _CONSTANTS[key] = a
    return a


def scalar_for(arr, v):
    """Python number ``v`` as a kernel operand beside ``arr``. On NumPy it becomes a scalar of
    ``arr``'s dtype: a kernel that applies a NumPy function to a bare float gets a float64 scalar,
    which promotes the result. CUDA kernels take the number as is and compute half in float32, as
    PyTorch does."""
    if type(arr) is not _NDARRAY:
        return v
    d = arr.dtype
    if d.char == "e":   # float16: an overflow is inf, without NumPy's warning
        return scalar_of(d, v)
    try:
        return d.type(v)
    except OverflowError:
        return scalar_of(d, v)


def scalar_of(dtype: np.dtype, v):
    """Python number ``v`` as a NumPy scalar of ``dtype`` the way PyTorch casts it: an int out of an
    integer dtype's range wraps (``uint8`` with -1 is 255), a float16 overflow is inf, silently."""
    try:
        with np.errstate(over="ignore"):
            return dtype.type(v)
    except OverflowError:
        if dtype.kind not in "iu":
            raise
        bits = dtype.itemsize * 8
        v &= (1 << bits) - 1
        return dtype.type(v - (1 << bits) if dtype.kind == "i" and v >> (bits - 1) else v)


def takes_constant(kern: Callable) -> bool:
    """Whether ``kern`` takes a Python-number operand as a cached 0-d ``constant`` (else as
    ``scalar_for``): a ufunc, bare or ``quiet`` (whose wrapper says so), or a kernel marked
    ``takes_constant`` (one made of NumPy operations only, with no Python branching on the
    operand's type)."""
    return type(kern) is _UFUNC or getattr(kern, "takes_constant", False)


# allocation failures as PyTorch reports them ----------------------------------------------
class OutOfMemoryError(RuntimeError):
    """A CUDA allocation failed (PyTorch's ``torch.OutOfMemoryError``): a RuntimeError, so
    PyTorch-style handlers (``except RuntimeError`` / ``"out of memory" in str(e)``) catch it."""


# NumPy's ValueErrors for a size whose byte count overflows (np.empty, np.arange)
_TOO_BIG = ("array is too big", "Maximum allowed size exceeded")
_SIZE_UNITS = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def format_size(nbytes: int) -> str:
    """PyTorch's spelling of a byte count in its CUDA messages: ``20.00 GiB``, ``512 bytes``."""
    for unit, scale in _SIZE_UNITS:
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes} bytes"


def is_allocation_error(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or (isinstance(e, ValueError) and str(e).startswith(_TOO_BIG))


def allocation_error(e: BaseException, nbytes: int | None = None, sizes=None) -> BaseException:
    """PyTorch's RuntimeError for the failed allocation ``e`` (NumPy's MemoryError or too-big
    ValueError, CuPy's OutOfMemoryError); ``e`` itself when it is none of these. ``nbytes`` and
    ``sizes`` are what the caller knows of the request, where the error does not say."""
    if not is_allocation_error(e):
        return e
    if isinstance(e, ValueError):   # the byte count overflows int64
        shown = f"sizes={list(sizes)}" if sizes is not None else f"({e})"
        return RuntimeError(f"Storage size calculation overflowed with {shown}")
    if type(e).__module__.startswith("cupy"):   # cupy.cuda.memory.OutOfMemoryError
        if nbytes is None:
            m = re.search(r"allocating ([\d,]+) bytes", str(e))
            nbytes = int(m.group(1).replace(",", "")) if m else None
        tried = f" Tried to allocate {format_size(nbytes)}." if nbytes is not None else ""
        return OutOfMemoryError(f"CUDA out of memory.{tried} ({e})")
    if nbytes is None:
        nbytes = getattr(e, "_total_size", None)   # numpy._core._exceptions._ArrayMemoryError
    if nbytes is None:
        return RuntimeError(f"DefaultCPUAllocator: can't allocate memory: {e or 'out of memory'}")
    return RuntimeError(f"DefaultCPUAllocator: can't allocate memory: you tried to allocate {nbytes} bytes. "
                        f"Error code 12 (Cannot allocate memory)")


# tensor-level ops for the layers below ops ------------------------------------------------
_provided: dict[str, Callable] = {}


def provide(name: str, fn: Callable) -> None:
    """Make the ops layer's ``fn`` callable as ``op(name)`` from autograd and the engine."""
    _provided[name] = fn


def op(name: str) -> Callable:
    try:
        return _provided[name]
    except KeyError:
        raise RuntimeError(f"op '{name}' is not provided: import autograd_gpu (its ops layer provides it)") \
            from None
