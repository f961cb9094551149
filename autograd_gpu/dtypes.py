"""Dtype objects with PyTorch's names and its type-promotion rules.

Arrays keep NumPy dtypes (CuPy shares them); a ``DType`` is the public face
(``ag.float32``) and maps one-to-one onto a NumPy dtype.
"""
from __future__ import annotations

import numpy as np


class DType:
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_torch_name")

    def __init__(self, name: str, np_dtype, torch_name: str) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize
        self._torch_name = torch_name  # "Float", "Long": the word PyTorch's messages use

    def __repr__(self) -> str:
        return f"autograd_gpu.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


float16 = half = DType("float16", np.float16, "Half")
float32 = float = DType("float32", np.float32, "Float")
float64 = double = DType("float64", np.float64, "Double")
int8 = DType("int8", np.int8, "Char")
uint8 = DType("uint8", np.uint8, "Byte")
int16 = short = DType("int16", np.int16, "Short")
int32 = int = DType("int32", np.int32, "Int")
int64 = long = DType("int64", np.int64, "Long")
bool = DType("bool", np.bool_, "Bool")  # noqa: A001 - PyTorch's public name

ALL = (float16, float32, float64, int8, uint8, int16, int32, int64, bool)
_FROM_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_default_float = float32


def _by_name(name: str) -> DType:
    return _BY_NAME[name]


def from_numpy(np_dtype) -> DType:
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        d = np.dtype(np_dtype)
        if d in _FROM_NP:
            return _FROM_NP[d]
        raise TypeError(f"dtype {d} is not supported by autograd_gpu; "
                        f"use one of {', '.join(x.name for x in ALL)}") from None


def to_numpy(dtype) -> np.dtype:
    """Accepts a DType, a NumPy dtype or its name; returns the NumPy dtype."""
    if isinstance(dtype, DType):
        return dtype.np
    if dtype is builtins_float:     # PyTorch: the Python type float is float64, whatever the default
        return np.dtype(np.float64)
    if dtype is builtins_int:
        return np.dtype(np.int64)
    if dtype is builtins_bool:
        return np.dtype(np.bool_)
    return from_numpy(np.dtype(dtype)).np


import builtins as _b  # noqa: E402

builtins_float, builtins_int, builtins_bool = _b.float, _b.int, _b.bool


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(d: DType) -> None:
    global _default_float
    d = from_numpy(to_numpy(d))
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


# PyTorch's promotion: categories bool < integer < floating. A Python scalar (or a
# 0-dim tensor) only counts when it is of a higher category than the tensors.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _scalar_np(s) -> np.dtype:
    if isinstance(s, builtins_bool):
        return np.dtype(np.bool_)
    if isinstance(s, builtins_int):
        return np.dtype(np.int64)
    if isinstance(s, builtins_float):
        return _default_float.np
    raise TypeError(f"unsupported scalar type {type(s).__name__}")


def _promote_group(group: list) -> np.dtype:
    """PyTorch's promote_types: the highest category wins outright (int32 + float32 -> float32)."""
    top = max(_CATEGORY[d.kind] for d in group)
    return np.result_type(*[d for d in group if _CATEGORY[d.kind] == top])


def result_type(*operands) -> np.dtype:
    """Result NumPy dtype of an op over tensors (anything with ``ndim`` and ``_data``) and scalars."""
    dims, zero_dims, scalars = [], [], []
    for o in operands:
        d = getattr(o, "_data", None)
        if d is None:
            scalars.append(_scalar_np(o))
        elif d.ndim:
            dims.append(d.dtype)
        else:
            zero_dims.append(d.dtype)
    out = None
    for group in (dims, zero_dims, scalars):
        if not group:
            continue
        g = _promote_group(group) if len(group) > 1 else group[0]
        if group is scalars and g.kind == "f":
            g = _default_float.np
        if out is None:
            out = g
        elif _CATEGORY[g.kind] > _CATEGORY[out.kind]:
            out = g
    return out


# Python ints beside a narrower integer tensor: PyTorch casts the scalar to the tensor's dtype,
# wrapping modulo 2**bits (uint8 tensor + (-1) adds 255; int8 tensor == 262 compares with 6).
# NumPy raises OverflowError instead, and a CUDA kernel computing narrow dtypes in int32 would
# compare with the unwrapped value: wrap before either sees it.
_WRAPPED = {np.dtype(t): (_b.int(np.iinfo(t).min), _b.int(np.iinfo(t).max), 8 * np.dtype(t).itemsize)
            for t in (np.int8, np.uint8, np.int16, np.int32)}


def wrap_int(v: int, np_dtype: np.dtype) -> int:
    """``v`` as a tensor of ``np_dtype`` holds it after PyTorch's cast (two's complement wrap)."""
    rng = _WRAPPED.get(np_dtype)
    if rng is None or rng[0] <= v <= rng[1]:
        return v
    lo, _, bits = rng
    v &= (1 << bits) - 1
    return v - (1 << bits) if lo < 0 and v >> (bits - 1) else v


def fit_ints(np_dtype: np.dtype, operands: tuple) -> tuple:
    """``operands`` with each Python int wrapped into integer ``np_dtype`` (see ``wrap_int``)."""
    if np_dtype.kind not in "iu":
        return operands
    return tuple(wrap_int(o, np_dtype) if type(o) is _b.int else o for o in operands)
