"""What every loss shares: ``reduction`` (and the legacy ``size_average``/``reduce`` pair mapped to
it with PyTorch's deprecation warning), applying a reduction, and the argument checks."""
from __future__ import annotations

import warnings

from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def legacy_reduction(size_average, reduce, emit_warning: bool = True) -> str:
    """PyTorch's ``_Reduction.legacy_get_string``: None counts as True for both flags."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                      stacklevel=3)
    return ret


def resolve_reduction(size_average, reduce, reduction: str) -> str:
    """The effective reduction; raises PyTorch's ValueError for an unknown one."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """The elementwise loss reduced: 'mean' of an empty loss is nan, as PyTorch."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def check_tensor(fn: str, name: str, pos: int, t) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not {type(t).__name__}")


def warn_target_size(input: Tensor, target: Tensor, stacklevel: int = 4) -> None:
    """PyTorch's warning when an elementwise loss will broadcast target against input."""
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({_size(target)}) that is different to the input size ({_size(input)}). "
                      f"This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      f"the same size.", stacklevel=stacklevel)


def _size(t: Tensor) -> str:
    return f"torch.Size({list(t.shape)})"


def not_differentiable(fn: str, name: str, t) -> None:
    """PyTorch refuses, at the call, a tensor its loss cannot differentiate that requires grad."""
    if isinstance(t, Tensor) and t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument '{name}'. This input "
                           f"cannot have requires_grad True.")
