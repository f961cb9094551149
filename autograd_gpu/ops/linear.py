"""``F.linear`` (``x @ W.T + b`` as one node: one GEMM forward, two backward, the bias added in
place) and ``F.bilinear``."""
from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor
from ._common import check_same_device, kernel
from .linalg import _check_same_dtype, _shape_x, matmul
from .registry import export


class Linear(Function):
    """``input (*, in) @ weight (out, in).T + bias (out,)``; backward is made of public ops
    (matmul, sum), so double backward works."""

    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, w if need[0] else None)
        ctx.has_bias = b is not None
        xd = x._data
        flat = xd.reshape(-1, xd.shape[-1]) if xd.ndim > 2 else xd
        out = kernel("matmul_fwd", x)(flat, w._data.T)
        if b is not None:
            out += b._data
        return Tensor._make(out.reshape(xd.shape[:-1] + (w._data.shape[0],)) if xd.ndim != 2 else out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        gx = matmul(g, w) if need[0] else None
        gw = matmul(g2.mT, x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x) if need[1] else None
        gb = g2.sum(0) if ctx.has_bias and need[2] else None
        return gx, gw, gb


@export(nn=True, function=False, method=False)
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """PyTorch's ``F.linear``: ``input @ weight.T + bias`` for ``input`` of shape ``(*, in_features)``."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linear(): argument '{name}' (position {1 + (name == 'weight')}) must be Tensor, "
                            f"not {type(t).__name__}")
    if weight.ndim != 2 or input.ndim == 0:
        return matmul(input, weight.t()) + (bias if bias is not None else 0)
    if input.shape[-1] != weight.shape[1]:
        rows = 1
        for s in input.shape[:-1]:
            rows *= s
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{_shape_x(tuple(weight.shape[::-1]))})")
    _check_same_dtype(input, weight)
    check_same_device(input, weight)
    if bias is not None:
        check_same_device(input, bias)
        if bias.dtype != input.dtype or bias.ndim > 1 or (bias.ndim == 1 and bias.shape[0] != weight.shape[0]):
            return Linear.apply(input, weight, None) + bias
    return Linear.apply(input, weight, bias)
