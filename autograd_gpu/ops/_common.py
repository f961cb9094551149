"""Rules shared by every op: broadcasting, device checks, dims, and the kernel lookup.
(Summing a gradient back to its input's shape is ``broadcast.sum_to_shape``.)"""
from __future__ import annotations

import contextlib

from ..dispatch import kernel  # noqa: F401 - the ops' one way to a backend implementation
from ..tensor import Tensor


def on_device(where):
    """Make the device of ``where`` (a tensor, or a ``Device`` before any array of it exists)
    current around direct array-module calls: CuPy allocates and launches on the current device,
    which need not be that one."""
    dev = where._device if isinstance(where, Tensor) else where
    return dev.backend.xp.cuda.Device(dev.index or 0) if dev.type == "cuda" else contextlib.nullcontext()


def any_where(t: Tensor, pred) -> bool:
    """Whether ``pred(t's array)`` holds anywhere: a data-dependent check, computed on ``t``'s
    device (CuPy compares and reduces on the current one) and brought to the host."""
    with on_device(t):
        return bool(pred(t._data).any())


def broadcast_shapes(a: tuple, b: tuple) -> tuple:
    if a == b:
        return a
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {i}")
    return tuple(out)


def check_same_device(*tensors) -> None:
    """All tensors on one device, except 0-dim CPU tensors: those mix with any device like Python
    numbers (PyTorch's rule; a 0-dim tensor on an accelerator gets no such pass)."""
    first = None
    for t in tensors:
        if isinstance(t, Tensor):
            dev = t._device
            if dev.type == "cpu" and t._data.ndim == 0:
                continue
            if first is None:
                first = dev
            elif dev is not first:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {_order(first, dev)}!")


def _order(a, b) -> str:
    # PyTorch names the accelerator first
    return f"{b} and {a}" if a.type == "cpu" else f"{a} and {b}"


def reduced_axes(src: tuple, dst: tuple) -> tuple:
    lead = len(src) - len(dst)
    return tuple(range(lead)) + tuple(lead + i for i, (s, d) in enumerate(zip(src[lead:], dst))
                                      if d == 1 and s != 1)


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def wrap_dims(dims, ndim: int) -> tuple:
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    out = tuple(wrap_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
    return out


def values_indices(ctx, x: Tensor, v, i) -> tuple:
    """The ``(values, indices)`` outputs of a selecting op (max/min along a dim, cummax, sort, topk):
    0-d for a 0-d input, indices non-differentiable and saved for the backward, which routes the
    gradient of the values back through them."""
    if x._data.ndim == 0:
        v, i = v.reshape(()), i.reshape(())
    values, indices = Tensor._make(v, x._device), Tensor._make(i, x._device)
    ctx.mark_non_differentiable(indices)
    ctx.save_for_backward(indices)
    return values, indices
