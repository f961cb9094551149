"""Copies between devices and dtypes (``to``), ``clone`` and ``contiguous``.

The backward of a cross-device ``to`` copies the gradient back once, on the edge
that crosses: that is the only place a gradient changes device.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..device import Device
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel
from .registry import export

register("copy", "numpy", lambda x: np.array(x, copy=True, order="C"))
register("copy", "cupy", cuda.copy("copy"))
def _cast_np(x: np.ndarray, dtype) -> np.ndarray:
    """``x`` as ``dtype``. Casts that can overflow (to float16, float to integer) are silent, as in
    PyTorch; the others skip the error-state switch."""
    dtype = np.dtype(dtype)
    if dtype.char == "e" or (x.dtype.kind == "f" and dtype.kind in "iu"):
        with np.errstate(all="ignore"):
            return x.astype(dtype)
    return x.astype(dtype)


register("cast", "numpy", _cast_np)
register("cast", "cupy", cuda.copy("cast"))


def _move(data, src: Device, dst: Device):
    if src is dst:
        return data
    if src.type == dst.type:
        return dst.backend.to_device(data, dst.index)
    host = src.backend.to_numpy(data)
    return dst.backend.from_numpy(np.require(host, requirements="C"), dst.index)


class ToCopy(Function):
    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, device: Device, dtype) -> Tensor:
        ctx.src_device, ctx.src_dtype = x._device, x._data.dtype
        data = x._data
        if dtype is not None and data.dtype != dtype:
            data = kernel("cast", x)(data, dtype)
        return Tensor._make(_move(data, x._device, device), device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return ToCopy.apply(g, ctx.src_device, ctx.src_dtype), None, None


class Clone(Function):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return Tensor._make(kernel("copy", x)(x._data), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return g


def _parse_to(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a._device, a.dtype
        elif isinstance(a, (_dt.DType, np.dtype)) or a in (float, int, bool):
            dtype = a
        elif isinstance(a, (str, Device)):
            device = a
        elif isinstance(a, bool):
            copy = a
        elif isinstance(a, int):
            device = f"cuda:{a}"
    return device, dtype, copy


def resolve_device(device) -> Device:
    """A concrete, existing device: ``cuda`` -> ``cuda:<current>``; raises if unavailable."""
    from ..device import default_device
    if device is None:
        device = default_device()
    d = Device(device) if not isinstance(device, Device) else device
    return d.resolved().check_exists()


def to(x: Tensor, *args, **kwargs) -> Tensor:
    device, dtype, copy = _parse_to(args, dict(kwargs))
    dev = x._device if device is None else resolve_device(device)
    npd = None if dtype is None else _dt.to_numpy(dtype)
    if dev is x._device and (npd is None or npd == x._data.dtype):
        return clone(x) if copy else x
    return ToCopy.apply(x, dev, npd)


@export
def clone(x: Tensor, *, memory_format=None) -> Tensor:
    return Clone.apply(x)


@export(function=False)
def contiguous(x: Tensor, memory_format=None) -> Tensor:
    return x if x._data.flags.c_contiguous else Clone.apply(x)
