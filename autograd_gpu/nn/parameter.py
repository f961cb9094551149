"""``nn.Parameter``: a Tensor that a Module registers as one of its parameters (PyTorch's
``torch/nn/parameter.py``). A subclass of Tensor, so every op takes it; ops on it return plain
tensors. It shares storage and version counter with the tensor it wraps, and is always a leaf.
"""
from __future__ import annotations

from ..ops.creation import empty
from ..tensor import Tensor


class Parameter(Tensor):
    """``Parameter(data=None, requires_grad=True)``; ``data=None`` is an empty float tensor."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        p = cls._make(data._data, data._device)
        p._vc = data._vc
        p.requires_grad = requires_grad   # integer data raises PyTorch's error here
        return p

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        t = super().__deepcopy__(memo)   # a plain leaf copy (and its grad)
        p = Parameter(t, self.requires_grad)
        p.grad = t.grad
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, proto):
        return _rebuild_parameter, (Tensor.__reduce_ex__(self, proto), self.requires_grad)


def _rebuild_parameter(reduced, requires_grad: bool) -> Parameter:
    fn, args = reduced
    return Parameter(fn(*args), requires_grad)
