"""``Function``: the one way an op enters the graph, built-in or user-defined.

The node created by ``apply`` is also the ``ctx`` handed to ``forward`` and
``backward`` (as in PyTorch), so an op's state lives in one object.

One fast path, inside ``apply``: a Function that names a dispatch ``kernel`` (the elementwise
ops) gets an ``apply`` that, for floating tensors of one dtype, shape and device (or Python
numbers), calls that kernel on the arrays and records the node from ``saves`` without running
``forward``. Everything else -- promotion, broadcasting, errors -- is ``forward``'s job.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

from ..dispatch import op
from ..tensor import Tensor
from .grad_mode import _state as _grad_state
from .graph import FREED_MESSAGE, Node, _seq
from .recording import _apply, _fast_apply
from .saved import SavedTensor


class BackwardNode(Node):
    """Node (and ctx) of one ``Function.apply`` call."""

    __slots__ = ("needs_input_grad", "saved")   # saved: SavedTensors after _wire; None once released
    _fn: Any = None
    _user = False   # a Function defined outside autograd_gpu: its backward's results are type-checked
    to_save = None
    materialize_grads = True
    non_differentiable = None
    dirty = None

    def __init__(self) -> None:   # edges and out_meta are set by _record / _wire
        self.seq = next(_seq)
        self.saved = ()

    # ctx API -----------------------------------------------------------------
    def save_for_backward(self, *tensors) -> None:
        self.to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        saved = self.saved
        if saved is None:
            raise RuntimeError(FREED_MESSAGE)
        # a declared ``saves`` keeps Python-number operands as they are (see _keep); one or two
        # saved values (nearly every op) without building a list first
        n = len(saved)
        if n == 1:
            s = saved[0]
            return (s.unpack(self) if type(s) is SavedTensor else s,)
        if n == 2:
            s, t = saved
            return (s.unpack(self) if type(s) is SavedTensor else s, t.unpack(self) if type(t) is SavedTensor else t)
        out = []   # a loop, not a comprehension: no extra frame on every backward
        for s in saved:
            out.append(s.unpack(self) if type(s) is SavedTensor else s)
        return tuple(out)

    def mark_non_differentiable(self, *tensors) -> None:
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors) -> None:
        self.dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    # node API ----------------------------------------------------------------
    def release(self) -> None:
        if self.saved:
            self.saved = None

    def apply(self, grads: list) -> list:
        if len(grads) == 1:   # one output (nearly every node): no loop, no star-args tuple
            g = grads[0]
            if g is None and self.materialize_grads:
                g = op("zeros_from_meta")(self.out_meta[0])
            result = self._fn.backward(self, g)
        else:
            if _has_none(grads) and self.materialize_grads:
                zeros = op("zeros_from_meta")
                grads = [zeros(self.out_meta[i]) if g is None else g for i, g in enumerate(grads)]
            result = self._fn.backward(self, *grads)
        t = type(result)
        if t is not tuple:   # a user's list is one (wrong) object, as in PyTorch
            result = tuple(result) if t is not Tensor and isinstance(result, list) and not self._user else (result,)
        n = len(self.next_edges)
        if len(result) != n:
            if len(result) > n and result[n:] == (None,) * (len(result) - n):   # for non-tensor arguments
                result = result[:n]
            else:
                raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(result)})")
        if self._user:
            _check_gradient_types(self, result)
        return result


def _check_gradient_types(node, result: tuple) -> None:
    """A user backward's gradients must be tensors or None: PyTorch's message, naming the function and
    the input, instead of an AttributeError deep in the engine."""
    for i, g in enumerate(result):
        if g is not None and not isinstance(g, Tensor):
            t = type(g)
            name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__qualname__}"
            raise RuntimeError(f"expected Variable or None (got {name}): function {node.name()} returned it as "
                               f"the gradient of input {i}")


def _has_none(grads) -> bool:
    for g in grads:
        if g is None:
            return True
    return False


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call ``apply``.

    ``forward`` runs with grad mode off; ``backward`` returns one gradient (or None)
    per ``forward`` argument. Built-in ops use the same protocol, with ``node_name``
    set to PyTorch's node name (``ExpBackward0``).

    A built-in op may declare ``saves`` instead of calling ``save_for_backward``, so that a
    fast path that computes the output without ``forward`` still records it (see ``_keep``):
    what ``ctx.saved_tensors`` holds, in order. Each entry is a ``forward`` argument's position,
    ``OUT`` for the output, or ``(position, i)``: kept only when input ``i`` needs a gradient.
    Python-number arguments are kept as they are.
    """

    saves: tuple = ()
    kernel: str = ""   # see the module docstring: set, with ``saves``, for the fast path
    arity: int | None = None   # the kernel's operands, when forward's signature does not show them
    node_name: str = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(cls.__dict__.get("node_name") or f"{cls.__name__}Backward", (BackwardNode,),
                                 {"__slots__": (), "_fn": cls,
                                  "_user": not cls.__module__.startswith("autograd_gpu.")})
        if "vjp" in cls.__dict__ and "backward" not in cls.__dict__:
            cls.backward = cls.__dict__["vjp"]
        # new style (forward without ctx, plus setup_context) is decided once per class
        cls._new_style = cls.setup_context is not Function.setup_context
        cls._forward_sig = None
        cls._n_params = None
        cls._saves = tuple((i, -1) if type(i) is int else i for i in cls.saves)
        cls._fast_arity = None
        if cls.kernel:
            # forward's operands (its parameters after ctx without a default) must be the kernel's
            params = list(inspect.signature(cls.forward).parameters.values())[1:]
            n = None if any(p.kind is p.VAR_POSITIONAL for p in params) else \
                sum(p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
            cls._operand_count = n if n is not None else cls.arity
            arity = cls.arity if cls.arity is not None else n
            if arity in (1, 2) and n in (None, arity):
                cls._fast_arity = arity
                cls.apply = staticmethod(_fast_apply(cls, arity))

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grads):  # pragma: no cover - abstract
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output) -> None:
        """Override (with a ``forward`` that takes no ctx) to save state for backward separately."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def vjp(ctx, *grads):
        """Alias of ``backward`` (PyTorch's name for it in functorch-style Functions)."""
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. Please "
                           "use new-style autograd function with static forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @classmethod
    def apply(cls, *args, **kwargs):
        return _apply(cls, args, kwargs)


def once_differentiable(fn):
    """Wrap a backward that cannot be differentiated: under grad mode its result is detached
    and any attempt to differentiate it raises."""
    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            out = fn(ctx, *grads)
        finally:
            _grad_state.enabled = prev
        if not _grad_state.enabled:
            return out
        outs = out if isinstance(out, tuple) else (out,)
        if not any(getattr(g, "requires_grad", False) for g in grads):
            return out
        wrapped = tuple(_OnceDifferentiableError.apply(o, *grads) if isinstance(o, Tensor) else o
                        for o in outs)
        return wrapped if isinstance(out, tuple) else wrapped[0]
    return wrapper


class _OnceDifferentiableError(Function):
    node_name = "DelayedError"

    @staticmethod
    def forward(ctx, out, *grads):
        return out._alias()

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")
