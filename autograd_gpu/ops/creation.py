"""Tensor creation: from data, filled, ranges, and random numbers."""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from .. import dtypes as _dt
from ..device import Device, get_backend
from ..dispatch import allocation_error, is_allocation_error
from ..device import initial_seed as _initial_seed, manual_seed as _manual_seed
from ..tensor import Tensor
from ._common import on_device
from .copy import resolve_device
from .registry import export


def _np_dtype(dtype, default=None):
    if dtype is None:
        return default
    return _dt.to_numpy(dtype)


def _finish(arr: np.ndarray, device, requires_grad: bool) -> Tensor:
    dev = resolve_device(device)
    if dev.type != "cpu":
        data = _allocate(lambda: dev.backend.from_numpy(arr, dev.index), arr.shape, arr.dtype)
    else:
        data = arr
    t = Tensor._make(data, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _host_array(data) -> np.ndarray:
    if isinstance(data, Tensor):
        return np.array(data._host(), copy=True)
    if isinstance(data, (list, tuple)):
        _check_sequence(data)
        if any(isinstance(d, Tensor) for d in _flat(data)):
            return np.array(_to_host_nested(data))
    elif isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    return np.array(data)


def _check_sequence(data, dim: int = 0) -> None:
    """PyTorch's errors for nested data NumPy would make an object array of: ragged lengths
    (ValueError), None and other non-numbers."""
    lens = {len(d) for d in data if isinstance(d, (list, tuple))}
    n_seq = sum(isinstance(d, (list, tuple)) for d in data)
    if n_seq and (n_seq != len(data) or len(lens) > 1):
        first = data[0]
        want = len(first) if isinstance(first, (list, tuple)) else None
        for d in data:
            got = len(d) if isinstance(d, (list, tuple)) else None
            if got != want:
                if want is None or got is None:
                    raise TypeError("not a sequence" if want is not None else
                                    f"'{type(d).__name__}' object cannot be interpreted as an integer")
                raise ValueError(f"expected sequence of length {want} at dim {dim + 1} (got {got})")
    for d in data:
        if isinstance(d, (list, tuple)):
            _check_sequence(d, dim + 1)
        elif isinstance(d, str):
            raise TypeError(f"new(): invalid data type '{type(d).__name__}'")
        elif not isinstance(d, (numbers.Number, np.generic, np.ndarray, Tensor)):
            raise RuntimeError(f"Could not infer dtype of {type(d).__name__}")


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _to_host_nested(data):
    if isinstance(data, Tensor):
        return data._host()
    if isinstance(data, (list, tuple)):
        return [_to_host_nested(d) for d in data]
    return data


def _infer(arr: np.ndarray, data) -> np.ndarray:
    """Python floats become the default float dtype; NumPy arrays keep theirs."""
    if isinstance(data, (np.ndarray, np.generic, Tensor)):
        return arr
    if arr.dtype.kind == "f":
        return arr.astype(_dt.get_default_dtype().np, copy=False)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind not in "b":
        raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")
    return arr


@export(method=False)
def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor that owns a copy of ``data``."""
    arr = _host_array(data)
    arr = arr.astype(_dt.to_numpy(dtype)) if dtype is not None else _infer(arr, data)
    if device is None and isinstance(data, Tensor):
        device = data._device
    return _finish(np.require(arr, requirements='C'), device, requires_grad)


@export(method=False)
def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Shares memory with ``data`` when it is already a tensor or a CPU NumPy array of that dtype."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    if isinstance(data, np.ndarray) and (device is None or Device(device).type == "cpu") and \
            (dtype is None or _dt.to_numpy(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


@export(method=False)
def from_numpy(arr: np.ndarray) -> Tensor:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    _dt.from_numpy(arr.dtype)  # raises for unsupported dtypes
    return Tensor._make(arr, Device("cpu"))


def _int_arg(v, fn: str, arg: str, pos: int) -> int:
    """``v`` as an int (ints, NumPy integers, 0-d integer tensors); PyTorch's TypeError otherwise."""
    if isinstance(v, bool) or isinstance(v, float) or not hasattr(v, "__index__"):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be int, not {type(v).__name__}")
    return operator.index(v)


def _size(size, fn: str = "empty") -> tuple:
    """``*size`` or one sequence of ints, checked as PyTorch does (TypeError for non-ints,
    RuntimeError for a negative size)."""
    if not size:
        raise TypeError(f'{fn}() missing 1 required positional arguments: "size"')
    if len(size) == 1 and not hasattr(size[0], "__index__") or len(size) == 1 and isinstance(size[0], bool):
        size = size[0]
        if not isinstance(size, (tuple, list)) and not (isinstance(size, Tensor) and size.ndim == 1):
            raise TypeError(f"{fn}(): argument 'size' (position 1) must be tuple of ints, not "
                            f"{type(size).__name__}")
        size = tuple(size)
        for i, s in enumerate(size):
            if isinstance(s, bool) or not hasattr(s, "__index__"):
                if i:
                    raise TypeError(f"{fn}(): argument 'size' failed to unpack the object at pos {i + 1} with "
                                    f'error "type must be tuple of ints,but got {type(s).__name__}"')
                raise TypeError(f"{fn}(): argument 'size' (position 1) must be tuple of ints, but found "
                                f"element of type {type(s).__name__} at pos {i}")
    else:
        for i, s in enumerate(size):
            if isinstance(s, bool) or not hasattr(s, "__index__"):
                raise TypeError(f"{fn}(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                                f'"type must be tuple of ints,but got {type(s).__name__}"')
    size = tuple(operator.index(s) for s in size)
    if any(s < 0 for s in size):
        if fn == "zeros":
            raise RuntimeError("zeros: Dimension size must be non-negative.")
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: {list(size)}")
    return size


def _allocate(make, size: tuple, npd):
    """``make()``, an allocation of ``size`` elements of ``npd``, failing as PyTorch does: a RuntimeError
    (``Storage size calculation overflowed``, ``DefaultCPUAllocator: can't allocate memory``, CUDA's
    OutOfMemoryError) that out-of-memory handlers catch, never MemoryError/ValueError."""
    nbytes = math.prod(size) * np.dtype(npd).itemsize
    if nbytes >= 1 << 63:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)}")
    try:
        return make()
    except (MemoryError, ValueError) as e:
        if is_allocation_error(e):
            raise allocation_error(e, nbytes, size) from None
        raise


def _filled(size, value, dtype, device, requires_grad) -> Tensor:
    dev = resolve_device(device)
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    b = dev.backend
    if dev.type == "cpu":
        with np.errstate(over="ignore", invalid="ignore"):   # 1e300 as float16 is inf, silently
            data = _allocate(lambda: np.full(size, value, dtype=npd), size, npd)
    else:
        with on_device(dev):   # allocate on dev, leaving the current device as it was (set_device did not)
            data = _allocate(lambda: b.xp.full(size, value, dtype=npd), size, npd)
    t = Tensor._make(data, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


@export(method=False)
def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(_size(size, "zeros"), 0, dtype, device, requires_grad)


@export(method=False)
def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(_size(size, "ones"), 1, dtype, device, requires_grad)


@export(method=False)
def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(_size(size), 0, dtype, device, requires_grad)


@export(method=False)
def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if isinstance(fill_value, Tensor) and fill_value.ndim == 0:
        fill_value = fill_value.item()
    if isinstance(fill_value, np.bool_):   # PyTorch reads a NumPy bool as a float
        fill_value = float(fill_value)
    elif isinstance(fill_value, np.generic) and not isinstance(fill_value, float):
        fill_value = fill_value.item()
    if not isinstance(fill_value, numbers.Number) or isinstance(fill_value, complex):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not "
                        f"{type(fill_value).__name__}")
    if dtype is None:
        dtype = _dt.from_numpy(_dt._scalar_np(fill_value))
    npd = _dt.to_numpy(dtype)
    _check_fill(fill_value, npd)
    if npd.kind == "u" and isinstance(fill_value, int) and fill_value < 0:
        fill_value %= int(np.iinfo(npd).max) + 1   # -1 as uint8 is 255, as in C++
    if not isinstance(size, (tuple, list)) and not (isinstance(size, Tensor) and size.ndim == 1):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    return _filled(_size((size,), "full"), fill_value, npd, device, requires_grad)


# PyTorch's C names for its overflow message
_C_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
            "float32": "float"}


def _check_fill(v, npd: np.dtype) -> None:
    """PyTorch's range check of a fill value (c10's checked_convert): integers in range (unsigned types
    also take ``-max..-1``, which wrap), floats truncated into range, float32 finite values up to its
    max; float16, float64 and bool take anything."""
    name = npd.name
    if name not in _C_NAMES:
        return
    if npd.kind == "f":
        bad = math.isfinite(v) and abs(v) > float(np.finfo(npd).max)
    else:
        info = np.iinfo(npd)
        if isinstance(v, float):
            bad = v != v or v < info.min or v >= info.max + 1
        elif npd.kind == "u":
            bad = abs(int(v)) > info.max
        else:
            bad = not info.min <= int(v) <= info.max
    if bad:
        raise RuntimeError(f"value cannot be converted to type {_C_NAMES[name]} without overflow")


def _like(fn, x: Tensor, *args, dtype=None, device=None, requires_grad=False):
    return fn(*args, dtype=dtype or x.dtype, device=device or x._device, requires_grad=requires_grad)


@export(method=False)
def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(zeros, x, x._data.shape, dtype=dtype, device=device, requires_grad=requires_grad)


@export(method=False)
def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(ones, x, x._data.shape, dtype=dtype, device=device, requires_grad=requires_grad)


@export(method=False)
def empty_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(empty, x, x._data.shape, dtype=dtype, device=device, requires_grad=requires_grad)


@export(method=False)
def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(x._data.shape, fill_value, dtype=dtype or x.dtype, device=device or x._device,
                requires_grad=requires_grad)


def zeros_from_meta(meta) -> Tensor:
    shape, npd, dev = meta
    return _filled(shape, 0, npd, dev, False)


def _num(v) -> float | int:
    return v.item() if isinstance(v, Tensor) else v


def _fmt(v) -> str:
    """A number as PyTorch's messages print it (C++ stream defaults: ``0``, ``1.5``, ``nan``)."""
    return format(float(v), "g") if isinstance(v, float) else str(v)


def _not_implemented(fn: str, npd: np.dtype, device) -> NotImplementedError:
    dev = resolve_device(device)
    return NotImplementedError(f'"{fn}_{dev.type}" not implemented for \'{_dt.from_numpy(npd)._torch_name}\'')


@export(method=False)
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """PyTorch's arange: ``ceil((end - start) / step)`` values. An integer dtype truncates ``start``
    and ``step`` first (``arange(0, 5, 1.5, dtype=int64)`` is ``[0, 1, 2, 3]``, not NumPy's cast of
    ``[0, 1.5, 3, 4.5]``)."""
    if end is None:
        start, end = 0, start
    start, end, step = _num(start), _num(end), _num(step)
    is_float = any(isinstance(v, float) for v in (start, end, step))
    npd = _np_dtype(dtype, _dt.get_default_dtype().np if is_float else np.dtype(np.int64))
    if npd.kind == "b":
        raise _not_implemented("arange", npd, device)
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {_fmt(start)} -> {_fmt(end)}")
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and start < end):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if is_float:
        size = math.ceil((end - start) / step)
    else:   # exact for any int64 range
        size = -((start - end) // step)
    size = max(size, 0)
    if npd.kind in "iu":
        first, delta = int(start), int(step)   # int() truncates toward zero, as the C++ cast
        idx = _allocate(lambda: np.arange(size, dtype=np.int64), (size,), np.int64)
        arr = (idx * delta + first).astype(npd)
    else:
        arr = _allocate(lambda: np.arange(size, dtype=np.float64), (size,), np.float64)
        arr = (arr * step + start).astype(npd)
    return _finish(arr, device, requires_grad)


@export(method=False)
def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """PyTorch's linspace; an integer dtype truncates ``start`` and ``end`` first and then each value."""
    steps = _int_arg(steps, "linspace", "steps", 3)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    if npd.kind == "b":
        raise _not_implemented("linspace", npd, device)
    start, end = _num(start), _num(end)
    if npd.kind in "iu":
        first, last = float(int(start)), float(int(end))
        step = (last - first) / (steps - 1) if steps > 1 else 0.0
        i = np.arange(steps, dtype=np.float64)
        # PyTorch's two halves: from the start up to the middle, from the end back to it
        vals = np.where(i < steps // 2, first + step * i, last - step * (steps - 1 - i))
        arr = np.trunc(vals).astype(npd)
    else:
        arr = _allocate(lambda: np.linspace(start, end, steps), (steps,), npd).astype(npd)
    return _finish(arr, device, requires_grad)


@export(method=False)
def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    n = _int_arg(n, "eye", "n", 1)
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None:
        m = _int_arg(m, "eye", "m", 2)
        if m < 0:
            raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    size = (n, n if m is None else m)
    return _finish(_allocate(lambda: np.eye(n, m, dtype=npd), size, npd), device, requires_grad)


# random numbers: one generator per backend, seeded together ------------------------
@export(method=False)
def manual_seed(seed: int):
    """Seed every backend's generator: same seed, same numbers on the same device."""
    _manual_seed(seed)


@export(method=False)
def initial_seed() -> int | None:
    return _initial_seed()


def _gen(device, generator=None) -> tuple:
    """(device, backend generator): ``generator``'s stream when given (an ``ag.Generator``, which must
    be of the device's type, as PyTorch checks), else the device's default one."""
    dev = resolve_device(device)
    if generator is None:
        return dev, dev.backend.generator(dev.index)
    impl = getattr(generator, "_impl", None)
    if impl is None:
        raise TypeError(f"expected a Generator, not {type(generator).__name__}")
    if impl.device_type != dev.type:
        raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found '{impl.device_type}'")
    return dev, impl


def _random(sampler, size, dtype, device, requires_grad, fn: str, generator=None) -> Tensor:
    size = _size(size, fn)
    dev, g = _gen(device, generator)
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    if npd.kind != "f":
        raise NotImplementedError(f'"{_RANDOM_KERNELS[fn]}" not implemented for '
                                  f"'{_dt.from_numpy(npd)._torch_name}'")
    with on_device(dev):   # the sampler's casts run on the current device: make it dev
        data = _allocate(lambda: sampler(g, size, npd), size, npd)
    t = Tensor._make(data, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


_RANDOM_KERNELS = {"rand": "check_uniform_bounds", "randn": "normal_kernel_cpu"}


@export(method=False)
def rand(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    return _random(unit_uniform, size, dtype, device, requires_grad, "rand", generator)


def unit_uniform(g, shape: tuple, npd: np.dtype):
    """Uniforms in [0, 1) of ``npd``. float16 has no draw of its own: a float32 draw rounded to
    float16 can reach 1.0, so it keeps 11 bits (exact in float16) instead."""
    if npd.itemsize >= 4:
        return g.random(shape, dtype=npd)
    u = g.random(shape, dtype=np.float32)
    return ((u * 2048).astype(np.int32) * np.float32(1 / 2048)).astype(npd)


@export(method=False)
def randn(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    return _random(lambda g, s, d: g.standard_normal(s, dtype=d if d.itemsize >= 4 else np.float32)
                   .astype(d, copy=False), size, dtype, device, requires_grad, "randn", generator)


@export(method=False)
def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad: bool = False,
            generator=None) -> Tensor:
    if size is None:
        low, high, size = 0, low, high
        high = _int_arg(high, "randint", "high", 1)
    elif high is None:
        low, high = 0, _int_arg(low, "randint", "high", 1)
    else:
        low, high = _int_arg(low, "randint", "low", 1), _int_arg(high, "randint", "high", 2)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    npd = _np_dtype(dtype, np.dtype(np.int64))
    if npd.kind in "iub":
        info = np.iinfo(npd) if npd.kind != "b" else None
        c_name = "bool" if info is None else {"uint8": "unsigned char", "int8": "signed char", "int16": "short",
                                               "int32": "int", "int64": "long"}[npd.name]
        lo, hi = (0, 1) if info is None else (info.min, info.max)
        if not lo <= low <= hi:
            raise RuntimeError(f"from is out of bounds for {c_name}")
        if not lo <= high - 1 <= hi:
            raise RuntimeError(f"to - 1 is out of bounds for {c_name}")
    size = _size((size,), "randint")
    dev, g = _gen(device, generator)
    with on_device(dev):   # the cast runs on the current device: make it dev
        data = _allocate(lambda: g.integers(low, high, size=size), size, np.int64).astype(npd)
    return Tensor._make(data, dev)


@export(method=False)
def randperm(n: int, *, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    n = _int_arg(n, "randperm", "n", 1)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    npd = _np_dtype(dtype, np.dtype(np.int64))
    if npd.kind == "b":
        raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    dev, g = _gen(device, generator)
    with on_device(dev):   # the cast runs on the current device: make it dev
        return Tensor._make(_allocate(lambda: g.permutation(n), (n,), np.int64).astype(npd), dev)


def _rebuild(arr: np.ndarray, device: str, requires_grad: bool) -> Tensor:
    try:
        dev = Device(device)
        get_backend(dev.type)
    except RuntimeError:
        dev = Device("cpu")
    t = _finish(arr, dev, False)
    if requires_grad:
        t.requires_grad_(True)
    return t
