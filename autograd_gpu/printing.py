"""``repr`` of a tensor in PyTorch's layout: values, then device, dtype and grad_fn."""
from __future__ import annotations

import numpy as np

from .dtypes import get_default_dtype

def tensor_repr(t) -> str:
    arr = t._host()
    kind = arr.dtype.kind
    if kind == "f":
        body = np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3,
                               formatter={"float_kind": _float_formatter(arr)})
    else:
        body = np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3)
    extras = []
    if t._device.type != "cpu":
        extras.append(f"device='{t._device}'")
    default = get_default_dtype().name   # PyTorch hides the current default, not float32 as such
    if arr.size == 0:   # no values show the shape or the dtype: both are spelled out
        if arr.ndim != 1:
            extras.append(f"size={tuple(arr.shape)}")
        if t.dtype.name != default:
            extras.append(f"dtype={t.dtype!r}")
    elif t.dtype.name not in (default, "int64", "bool"):
        extras.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def _float_formatter(arr: np.ndarray):
    """PyTorch's choice: whole numbers as ``1.``, else 4 decimals, scientific for wide ranges."""
    finite = np.abs(arr[np.isfinite(arr)]).astype(np.float64)
    nonzero = finite[finite != 0]
    if finite.size and np.all(finite == np.round(finite)) and (not nonzero.size or nonzero.max() < 1e8):
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    if nonzero.size and (nonzero.max() >= 1e8 or nonzero.min() < 1e-4 or nonzero.max() / nonzero.min() > 1e3):
        return lambda v: f"{v:.4e}" if np.isfinite(v) else str(v)
    return lambda v: f"{v:.4f}" if np.isfinite(v) else str(v)
