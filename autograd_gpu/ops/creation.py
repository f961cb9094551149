"""Tensor creation: from data, filled, ranges, and random numbers."""
from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes as _dt
from ..device import Device, get_backend
from ..device import initial_seed as _initial_seed, manual_seed as _manual_seed
from ..tensor import Tensor
from .copy import resolve_device
from .registry import export


def _np_dtype(dtype, default=None):
    if dtype is None:
        return default
    return _dt.to_numpy(dtype)


def _finish(arr: np.ndarray, device, requires_grad: bool) -> Tensor:
    dev = resolve_device(device)
    data = dev.backend.from_numpy(arr, dev.index) if dev.type != "cpu" else arr
    t = Tensor._make(data, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _host_array(data) -> np.ndarray:
    if isinstance(data, Tensor):
        return np.array(data._host(), copy=True)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        return np.array(_to_host_nested(data))
    return np.array(data)


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
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
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


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: {list(size)}")
    return size


def _filled(size, value, dtype, device, requires_grad) -> Tensor:
    dev = resolve_device(device)
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    b = dev.backend
    if dev.type == "cpu":
        data = np.full(size, value, dtype=npd)
    else:
        b.set_device(dev.index or 0)
        data = b.xp.full(size, value, dtype=npd)
    t = Tensor._make(data, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


@export(method=False)
def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(_size(size), 0, dtype, device, requires_grad)


@export(method=False)
def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(_size(size), 1, dtype, device, requires_grad)


@export(method=False)
def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(_size(size), 0, dtype, device, requires_grad)


@export(method=False)
def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = _dt.from_numpy(_dt._scalar_np(fill_value)) if isinstance(fill_value, numbers.Number) else None
    return _filled(_size((size,)), fill_value, dtype, device, requires_grad)


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


@export(method=False)
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    is_float = any(isinstance(v, float) or (isinstance(v, Tensor) and v.is_floating_point())
                   for v in (start, end, step))
    npd = _np_dtype(dtype, _dt.get_default_dtype().np if is_float else np.dtype(np.int64))
    return _finish(np.arange(start, end, step).astype(npd), device, requires_grad)


@export(method=False)
def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    return _finish(np.linspace(start, end, steps).astype(npd), device, requires_grad)


@export(method=False)
def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    return _finish(np.eye(n, m, dtype=npd), device, requires_grad)


# random numbers: one generator per backend, seeded together ------------------------
@export(method=False)
def manual_seed(seed: int):
    """Seed every backend's generator: same seed, same numbers on the same device."""
    _manual_seed(seed)


@export(method=False)
def initial_seed() -> int | None:
    return _initial_seed()


def _gen(device) -> tuple:
    dev = resolve_device(device)
    return dev, dev.backend.generator(dev.index)


def _random(sampler, size, dtype, device, requires_grad) -> Tensor:
    dev, g = _gen(device)
    npd = _np_dtype(dtype, _dt.get_default_dtype().np)
    data = sampler(g, _size(size), npd)
    t = Tensor._make(data, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


@export(method=False)
def rand(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    return _random(lambda g, s, d: g.random(s, dtype=d if d.itemsize >= 4 else np.float32).astype(d, copy=False),
                   size, dtype, device, requires_grad)


@export(method=False)
def randn(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    return _random(lambda g, s, d: g.standard_normal(s, dtype=d if d.itemsize >= 4 else np.float32)
                   .astype(d, copy=False), size, dtype, device, requires_grad)


@export(method=False)
def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad: bool = False,
            generator=None) -> Tensor:
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    npd = _np_dtype(dtype, np.dtype(np.int64))
    dev, g = _gen(device)
    return Tensor._make(g.integers(low, high, size=_size((size,))).astype(npd), dev)


@export(method=False)
def randperm(n: int, *, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    npd = _np_dtype(dtype, np.dtype(np.int64))
    dev, g = _gen(device)
    return Tensor._make(g.permutation(n).astype(npd), dev)


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
