"""History of tensors that share storage after an in-place op on a view (PyTorch's CopySlices).

An in-place op on a view changes its base too: the base gets a ``CopySlices`` node, and the view
a node that reads its gradient out of the base's. Regions are addressed by element offset,
shape and strides into the base's C-contiguous array, through the backend's ``as_strided``.
"""
from __future__ import annotations

import numpy as np

from ..dispatch import kernel, op
from ..tensor import Tensor
from .graph import Node, gradient_edge


def _region(t: Tensor, arr, geometry):
    """The view ``geometry`` (element offset, shape, element strides) of ``arr``, a C-contiguous
    array on ``t``'s device."""
    offset, shape, strides = geometry
    return t._device.backend.as_strided(arr, offset, shape, strides)


def _geometry(view, base) -> tuple:
    def ptr(a):
        return a.ctypes.data if isinstance(a, np.ndarray) else a.data.ptr
    item = view.itemsize
    return ((ptr(view) - ptr(base)) // item, view.shape, tuple(st // item for st in view.strides))


class CopySlices(Node):
    """History of a base after an in-place op on one of its views.

    Gradient for the base's old value: the incoming gradient with the view's region
    replaced by what the in-place op's backward gives for the view's old value.
    """

    __slots__ = ("fn", "geometry", "dirty_index")

    def __init__(self, fn: Node, base: Tensor, geometry, dirty_index: int) -> None:
        super().__init__()
        self.fn, self.geometry, self.dirty_index = fn, geometry, dirty_index
        self.out_meta = [(base._data.shape, base._data.dtype, base._device)]
        self.next_edges = [gradient_edge(base)] + [e for j, e in enumerate(fn.next_edges) if j != dirty_index]

    def name(self) -> str:
        return "CopySlices"

    def apply(self, grads: list) -> list:
        g = grads[0]
        result = op("clone")(g.detach())
        region = _region(g, result._data, self.geometry)
        fn_grads = self.fn.apply([Tensor._make(region.copy(), g._device)])
        old = fn_grads[self.dirty_index]
        if old is None:
            region[...] = 0
        else:
            kernel("copy_into", result)(region, old._data)
        return [result] + [x for j, x in enumerate(fn_grads) if j != self.dirty_index]

    def release(self) -> None:
        self.fn.release()


class _ViewOfRebased(Node):
    """History of a view after an in-place op on it: its gradient lands in its region of the base."""

    __slots__ = ("geometry", "base_meta")

    def __init__(self, copy_slices: CopySlices, view: Tensor) -> None:
        super().__init__()
        self.geometry = copy_slices.geometry
        self.base_meta = copy_slices.out_meta[0]
        self.next_edges = [(copy_slices, 0)]
        self.out_meta = [(view._data.shape, view._data.dtype, view._device)]

    def name(self) -> str:
        return "AsStridedBackward0"

    def apply(self, grads: list) -> list:
        out = op("zeros_from_meta")(self.base_meta)
        kernel("copy_into", out)(_region(out, out._data, self.geometry), grads[0]._data)
        return [out]


def rebase_view(node: Node, view: Tensor, dirty_index: int) -> None:
    """An in-place op on ``view`` changed its base: give the base (and the view) new history."""
    base = view._base
    if base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if not base._data.flags.c_contiguous:
        raise RuntimeError("an in-place operation on a view of a non-contiguous tensor that requires grad "
                           "is not supported; call .contiguous() on the base before taking the view.")
    cs = CopySlices(node, base, _geometry(view._data, base._data), dirty_index)
    base.grad_fn, base._output_nr, base._requires_grad = cs, 0, False
    view.grad_fn, view._output_nr, view._requires_grad = _ViewOfRebased(cs, view), 0, False
