"""Devices and the backend registry.

A backend owns the arrays of one device type ("cpu" -> NumPy, "cuda" -> CuPy).
The CUDA backend is registered by name and imported only when a CUDA device is
first used, so a CPU-only install never imports CuPy.
"""
from __future__ import annotations

import importlib
import os
import threading
from typing import Any, Callable, Protocol


class Backend(Protocol):
    """What a device type must provide; ops reach it only through ``dispatch``."""

    name: str          # dispatch-table key, e.g. "numpy", "cupy"
    xp: Any            # the array module

    def device_count(self) -> int: ...
    def set_device(self, index: int) -> None: ...
    def from_numpy(self, arr, index: int): ...
    def to_numpy(self, arr): ...
    def to_device(self, arr, index: int): ...
    def synchronize(self, index: int) -> None: ...
    def manual_seed(self, seed: int) -> None: ...
    def generator(self, index: int): ...


_factories: dict[str, Callable[[], Backend]] = {}
_backends: dict[str, Backend] = {}
_errors: dict[str, str] = {}
_lock = threading.Lock()


def register_backend(device_type: str, factory: Callable[[], Backend]) -> None:
    """Register a device type; ``factory`` is called on first use (it may raise RuntimeError)."""
    with _lock:
        _factories[device_type] = factory
        _backends.pop(device_type, None)
        _errors.pop(device_type, None)
    _forget_backend(device_type)


def unregister_backend(device_type: str) -> None:
    with _lock:
        _factories.pop(device_type, None)
        _backends.pop(device_type, None)
        _errors.pop(device_type, None)
    _forget_backend(device_type)


def _forget_backend(device_type: str) -> None:
    for d in list(Device._cache.values()) if "Device" in globals() else ():
        if d.type == device_type:
            d._backend = d._table = None


def get_backend(device_type: str) -> Backend:
    b = _backends.get(device_type)
    if b is not None:
        return b
    with _lock:
        if device_type in _backends:
            return _backends[device_type]
        if device_type in _errors:
            raise RuntimeError(_errors[device_type])
        factory = _factories.get(device_type)
        if factory is None:
            raise RuntimeError(f"Expected one of {', '.join(sorted(_factories))} device type at start of "
                               f"device string: {device_type}")
        try:
            b = factory()
        except RuntimeError as e:
            _errors[device_type] = str(e)
            raise
        if _seed is not None:   # manual_seed ran before this backend came up: it starts from that seed
            b.manual_seed(_seed)
        _backends[device_type] = b
        if device_type != "cpu":
            global _only_cpu
            _only_cpu = False
        return b


_only_cpu = True   # until a backend other than the CPU's comes up (for good), every array is on the CPU


def only_cpu() -> bool:
    """No backend but the CPU's has ever come up in this process: every tensor, and so every
    graph node, is on the CPU (the engine then skips looking for other devices)."""
    return _only_cpu


def backend_available(device_type: str) -> bool:
    try:
        return get_backend(device_type).device_count() > 0
    except RuntimeError:
        return False


class Device:
    """``ag.device("cuda:1")``. Interned: equal devices are the same object."""

    __slots__ = ("type", "index", "_backend", "_table", "__weakref__")
    _cache: dict[tuple, "Device"] = {}

    def __new__(cls, spec: "str | Device", index: int | None = None) -> "Device":
        if isinstance(spec, Device):
            return spec
        key = (spec, index)
        d = cls._cache.get(key)
        if d is not None:
            return d
        if not isinstance(spec, str):
            raise TypeError(f"device() received an invalid combination of arguments: {spec!r}")
        dtype_, sep, idx = spec.partition(":")
        if sep:
            if index is not None or not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{spec}'")
            index = int(idx)
        if dtype_ not in _factories:
            raise RuntimeError(f"Expected one of {', '.join(sorted(_factories))} device type at start of "
                               f"device string: {spec}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        # "fake:0" and ("fake", 0) must be the same object: ops compare devices with `is`
        d = cls._cache.get((dtype_, index))
        if d is None:
            d = object.__new__(cls)
            d.type, d.index, d._backend, d._table = dtype_, index, None, None
            d = cls._cache.setdefault((dtype_, index), d)  # atomic: two threads still get one object
        cls._cache[key] = d
        return d

    @property
    def backend(self) -> Backend:
        b = self._backend
        if b is None:
            from .dispatch import _tables
            b = self._backend = get_backend(self.type)
            self._table = _tables.get(b.name)  # the op table of this backend, for ops/_common.kernel
        return b

    def resolved(self) -> "Device":
        """The concrete device an array lives on: ``cuda`` -> ``cuda:<current>``; ``cpu`` stays."""
        if self.type == "cpu":
            return CPU  # "cpu:0" is the one CPU device
        if self.index is not None:
            return self
        return Device(self.type, current_index(self.type))

    def check_exists(self) -> "Device":
        if self.type == "cpu":
            return self
        n = self.backend.device_count()
        i = self.index or 0
        if i >= n:
            raise RuntimeError(f"Invalid device {self}: only {n} {self.type} device(s) available "
                               f"(device indices 0..{n - 1}); check CUDA_VISIBLE_DEVICES")
        return self

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except RuntimeError:
                return False
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    # interned: equal devices are one object, so identity hashes them (a Python __hash__
    # would cost every dict keyed by device, such as the out_meta cache, a call)
    __hash__ = object.__hash__

    def __reduce__(self):
        return (Device, (str(self),))


device = Device
_current = threading.local()


def current_index(device_type: str) -> int:
    return getattr(_current, device_type, 0)


def set_current_index(device_type: str, index: int) -> None:
    """Make ``device_type:index`` current on this thread (the engine's workers call this)."""
    setattr(_current, device_type, index)
    get_backend(device_type).set_device(index)


# random numbers: one generator per backend, all seeded together ----------------------------
_seed: int | None = None


def manual_seed(seed: int) -> None:
    """Seed every backend's generator: same seed, same numbers on the same device. A backend
    brought up later starts from this seed too (``initial_seed``)."""
    global _seed
    _seed = int(seed)
    for b in list(_backends.values()):
        b.manual_seed(_seed)


def initial_seed() -> int | None:
    return _seed


def _cpu_factory():
    from .backends.numpy_backend import NumpyBackend
    return NumpyBackend()


def _cuda_factory():
    """Any failure to bring CUDA up becomes a RuntimeError that says why (``is_available`` is then False)."""
    try:
        mod = importlib.import_module("autograd_gpu.backends.cupy_backend")
        return mod.CupyBackend()
    except ImportError as e:
        if (e.name or "").split(".")[0] == "cupy":
            raise RuntimeError("CUDA is unavailable: CuPy is not installed; install autograd-gpu[cuda12] or "
                               "[cuda13]") from e
        raise RuntimeError(f"CUDA is unavailable: the CUDA backend could not be imported ({e})") from e
    except RuntimeError:
        raise
    except Exception as e:  # noqa: BLE001 - driver/runtime errors from CuPy come in many types
        raise RuntimeError(f"CUDA is unavailable: {type(e).__name__}: {e}") from e


register_backend("cpu", _cpu_factory)
register_backend("cuda", _cuda_factory)

CPU = Device("cpu")


def default_device() -> Device:
    return Device(os.environ.get("AUTOGRAD_GPU_DEVICE", "cpu"))
