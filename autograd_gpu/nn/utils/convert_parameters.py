"""``parameters_to_vector`` / ``vector_to_parameters`` (PyTorch's ``torch/nn/utils/convert_parameters.py``)."""
from __future__ import annotations

from typing import Iterable

from ...ops.join import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(param: Tensor, old: int | None) -> int:
    dev = param.device
    idx = dev.index if dev.type == "cuda" else -1
    if old is not None and idx != old:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return idx if old is None else old


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable, as PyTorch)."""
    device = None
    vec = []
    for p in parameters:
        device = _check_same_device(p, device)
        vec.append(p.reshape(-1))
    return cat(vec)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' ``data`` (replaces, as PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    for p in parameters:
        device = _check_same_device(p, device)
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
