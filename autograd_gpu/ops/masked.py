"""masked_fill (and its in-place form) and masked_select: the boolean-mask ops."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel
from .broadcast import expand, sum_to_shape
from .gather_scatter import _inplace
from .index import AdvIndex
from .inplace import _check_shape
from .registry import export

_where_cuda = cuda.elementwise("where_fwd")
register("masked_fill_fwd", "numpy", lambda x, mask, v: np.where(mask, v, x).astype(x.dtype, copy=False))
register("masked_fill_fwd", "cupy",  # a scalar v travels in the launch parameters; the kernel's dtype is x's
         lambda x, mask, v: _where_cuda(mask, v, x))


class MaskedFill(Function):
    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, value) -> Tensor:
        ctx.mask = mask
        if isinstance(value, Tensor):
            ctx.v_shape = value._data.shape
            v = value._data
            if v.dtype != x._data.dtype:
                v = kernel("cast", value)(v, x._data.dtype)
        else:
            v = value
        return Tensor._make(kernel("masked_fill_fwd", x)(x._data, mask._data, v), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        gx = MaskedFill.apply(g, ctx.mask, 0) if need[0] else None
        gv = sum_to_shape(masked_select(g, ctx.mask), ctx.v_shape) if need[2] else None
        return gx, None, gv


def _bool_mask(mask: Tensor, op: str) -> Tensor:
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        got = mask.dtype.name if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {got}")
    return mask


@export
def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    mask = _bool_mask(mask, "masked_fill_")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        if value._device is not input._device and not value.requires_grad:
            value = value.item()
    if mask._device is not input._device:
        check_same_device(input, mask)
    broadcast_shapes(input._data.shape, mask._data.shape)
    return MaskedFill.apply(input, mask, value)


@export
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    mask = _bool_mask(mask, "masked_select:")
    check_same_device(input, mask)
    shape = broadcast_shapes(input._data.shape, mask._data.shape)
    x = input
    if x._data.shape != shape:
        x = expand(x, shape)
    m = mask._data
    if m.shape != shape:
        m = kernel("expand", mask)(m, shape)
    return AdvIndex.apply(x, (m,))


@export(function=False)
def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    """In-place ``masked_fill`` (``MaskedFill``'s node): ``mask`` broadcasts to ``self``'s shape."""
    mask = _bool_mask(mask, "masked_fill_")
    if isinstance(value, Tensor) and value._data.ndim != 0:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value._data.ndim} dimension(s).")
    check_same_device(self, mask, value)
    _check_shape(self, mask._data.shape)
    return _inplace(MaskedFill, self, mask, value)
