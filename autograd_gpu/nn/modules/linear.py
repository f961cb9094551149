"""``Identity`` and ``Linear`` (PyTorch's ``torch/nn/modules/linear.py``)."""
from __future__ import annotations

import math

from ...autograd import no_grad
from ...ops.creation import empty, rand
from ...ops.linear import linear
from ...tensor import Tensor
from ..parameter import Parameter
from .module import Module

__all__ = ["Identity", "Linear"]


class Identity(Module):
    """Returns its input; takes and ignores any constructor arguments (PyTorch's behaviour)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


def _uniform_(t: Tensor, bound: float) -> None:
    with no_grad():
        t.copy_(rand(*t.shape, dtype=t.dtype, device=t.device) * (2 * bound) - bound)


class Linear(Module):
    """``y = x W^T + b``; ``weight`` (out_features, in_features) and ``bias`` drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) as PyTorch's ``kaiming_uniform_(a=sqrt(5))`` does."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        _uniform_(self.weight, bound)
        if self.bias is not None:
            _uniform_(self.bias, bound)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
