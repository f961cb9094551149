"""``F.linear`` (``x @ W.T + b`` as one node: one GEMM forward, two backward, the bias added in
place) and ``F.bilinear``."""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._common import check_same_device, kernel
from .linalg import _check_same_dtype, _shape_x, matmul
from .registry import export


class Linear(Function):
    """``input (*, in) @ weight (out, in).T + bias (out,)``. Backward: two GEMMs on the arrays (the
    transposes are views BLAS reads as they are) and a column sum; under ``create_graph`` the same
    from public ops (matmul, sum), so double backward works."""

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
            out += b._data      # the GEMM's result is ours: the bias goes in place
        return Tensor._make(out.reshape(xd.shape[:-1] + (w._data.shape[0],)) if xd.ndim != 2 else out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if is_grad_enabled():   # create_graph: differentiable ops
            g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
            gx = matmul(g, w) if need[0] else None
            gw = matmul(g2.mT, x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x) if need[1] else None
            gb = g2.sum(0) if ctx.has_bias and need[2] else None
            return gx, gw, gb
        gd, dev = g._data, g._device
        g2 = gd.reshape(-1, gd.shape[-1]) if gd.ndim != 2 else gd
        mm = kernel("matmul_fwd", g)
        gx = gw = gb = None
        if need[0]:
            gx = mm(g2, w._data)
            gx = Tensor._make(gx.reshape(gd.shape[:-1] + (gx.shape[-1],)) if gd.ndim != 2 else gx, dev)
        if need[1]:
            xd = x._data
            gw = Tensor._make(mm(g2.T, xd.reshape(-1, xd.shape[-1]) if xd.ndim != 2 else xd), dev)
        if ctx.has_bias and need[2]:
            gb = Tensor._make(kernel("sum_fwd", g)(g2, (0,), False), dev)
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


@export(nn=True, function=False, method=False)
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """PyTorch's ``F.bilinear``: ``y[..., o] = x1 @ weight[o] @ x2 + bias[o]`` for ``x1 (*, in1)``,
    ``x2 (*, in2)``, ``weight (out, in1, in2)``. One GEMM of x1 against the weight laid out as
    (in1, out·in2), then a product with x2 summed over in2; made of differentiable ops, so double
    backward works."""
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    for d in range(input1.ndim - 1):
        if input1.shape[d] != input2.shape[d]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {d}: got "
                               f"{input1.shape[d]} and {input2.shape[d]}")
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
                           f"expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
                           f"expected {in2}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[0] if bias.ndim else 0} but expected {out}")
    check_same_device(input1, input2, weight)
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, 1, in2)
    t = matmul(x1, weight.permute(1, 0, 2).reshape(in1, out * in2)).reshape(-1, out, in2)
    y = (t * x2).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out,))
