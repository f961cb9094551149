"""``repr`` of a tensor in PyTorch's layout: values, then device, dtype and grad_fn."""
from __future__ import annotations

import numpy as np

_DEFAULT_SHOWN = {"float32", "int64", "bool"}


def tensor_repr(t) -> str:
    arr = t._host()
    kind = arr.dtype.kind
    if kind == "f":
        body = np.array2string(arr, separator=", ", precision=4, floatmode="maxprec_equal",
                               suppress_small=True, prefix="tensor(", threshold=1000, edgeitems=3)
    else:
        body = np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3)
        if kind == "b":
            body = body.replace("True", "True").replace("False", "False")
    extras = []
    if t._device.type != "cpu":
        extras.append(f"device='{t._device}'")
    if t.dtype.name not in _DEFAULT_SHOWN or (arr.size == 0 and t.dtype.name != "float32"):
        extras.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
