"""Sorting and selection: sort, argsort, topk, nonzero, count_nonzero, forward and backward for both
backends.

Every sort is stable (NumPy's stable argsort on CPU, CuPy's stable Thrust/CUB argsort on CUDA, see
``backends/cuda_sort``), so equal elements keep their order, ascending or descending, and NaN sorts
as the largest value (last ascending, first descending), as PyTorch's sort does. topk is the head
of that sort: on ties it takes the lowest indices (PyTorch leaves the order of ties in topk to its
algorithm). The gradient of sorted or selected values goes back to the indices they came from
(``scan.scatter_grad``, whose adjoint is a gather).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..backends import cuda_sort
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel, values_indices, wrap_dim
from .reduce import _alias, _as_1d, _cu_nonzero, _cu_sum, _dims
from .registry import export
from .scan import scatter_grad

return_sort = namedtuple("sort", ["values", "indices"])
return_topk = namedtuple("topk", ["values", "indices"])


# sort / argsort ------------------------------------------------------------------------------
def _np_sort(x, axis: int, descending: bool):
    """Stable sort along ``axis``; descending keeps ties in order by sorting the reversed axis."""
    if descending:
        rev = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
        idx = (x.shape[axis] - 1) - np.flip(rev, axis)
    else:
        idx = np.argsort(x, axis=axis, kind="stable")
    idx = idx.astype(np.int64, copy=False)
    return np.take_along_axis(x, idx, axis), idx


register("sort_fwd", "numpy", _np_sort)
register("sort_fwd", "cupy", cuda_sort.sort)                  # CuPy's stable argsort (Thrust/CUB)


class Sort(Function):
    """(values, indices) of a sort of ``x`` along ``dim``, the first ``k`` of them (topk) when given."""
    node_name = "SortBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, descending: bool, k: int | None = None):
        ctx.in_shape, ctx.dim = x._data.shape, dim
        v, i = kernel("sort_fwd", x)(_as_1d(x._data), dim, descending)
        if k is not None and k != v.shape[dim] and x._data.ndim:   # a 0-d input keeps its one value (PyTorch)
            head = (slice(None),) * dim + (slice(0, k),)
            v, i = v[head], i[head]
        return values_indices(ctx, x, v, i)

    @staticmethod
    def backward(ctx, g: Tensor, _gi=None):
        (idx,) = ctx.saved_tensors
        return scatter_grad(g, idx, ctx.in_shape, ctx.dim), None, None, None


class Topk(Sort):
    node_name = "TopkBackward0"


def _sort_dim(input: Tensor, dim, axis, op: str) -> int:
    if axis is not None:
        dim = _alias(dim, axis, False, None, op, -1)[0]
    return wrap_dim(dim, input._data.ndim)


@export
def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool | None = False,
         axis: int | None = None):
    """``(values, indices)`` sorted along ``dim``; always stable (``stable=`` accepted as in PyTorch)."""
    return return_sort(*Sort.apply(input, _sort_dim(input, dim, axis, "sort"), bool(descending)))


@export
def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False,
            axis: int | None = None) -> Tensor:
    d = _sort_dim(input, dim, axis, "argsort")
    v, i = kernel("sort_fwd", input)(_as_1d(input._data), d, bool(descending))
    return Tensor._make(i.reshape(()) if input._data.ndim == 0 else i, input._device)


@export
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) along ``dim``, in sorted
    order (also for ``sorted=False``, where PyTorch leaves the order open)."""
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d] if input._data.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    return return_topk(*Topk.apply(input, d, bool(largest), int(k)))


# nonzero / count_nonzero ---------------------------------------------------------------------
register("nonzero_fwd", "numpy", lambda x: np.argwhere(x).astype(np.int64, copy=False))
register("nonzero_fwd", "cupy", cuda_sort.nonzero)
register("count_nonzero_fwd", "numpy",
         lambda x, axes: np.asarray(np.count_nonzero(x, axis=axes), dtype=np.int64))
register("count_nonzero_fwd", "cupy", lambda x, axes: _cu_sum(_cu_nonzero(x, 0.0), axes, False))   # bool sum: int64


@export
def nonzero(input: Tensor, *, as_tuple: bool = False):
    """int64 ``(n, ndim)`` coordinates of the non-zero elements (NaN counts as non-zero), row-major;
    ``as_tuple``: one 1-d tensor per dim (a 0-d input counts as 1-d, as in PyTorch)."""
    data = input._data
    if not as_tuple:
        return Tensor._make(kernel("nonzero_fwd", input)(data), input._device)
    coords = kernel("nonzero_fwd", input)(_as_1d(data))
    return tuple(Tensor._make(coords[:, j], input._device) for j in range(coords.shape[1]))


@export
def count_nonzero(input: Tensor, dim=None, *, axis=None) -> Tensor:
    if axis is not None:
        dim = _alias(dim, axis, False, None, "count_nonzero")[0]
    dims = _dims(dim, input._data.ndim)
    return Tensor._make(kernel("count_nonzero_fwd", input)(input._data, dims), input._device)
