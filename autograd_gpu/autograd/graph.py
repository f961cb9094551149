"""Graph nodes: what the engine runs. Knows nothing about any op.

A node is created per differentiable op call; ``next_edges[i]`` is the
``(node, input_nr)`` that receives the gradient for the op's i-th input (None when
that input needs no gradient). ``out_meta[k]`` is (shape, numpy dtype, device) of
the op's k-th output: the engine sums and casts incoming gradients to it.
"""
from __future__ import annotations

import itertools
import threading
import weakref
from typing import Any, Callable

from ..dispatch import op
from .grad_mode import is_grad_enabled

_seq = itertools.count()
# Sequence numbers order the engine's ready queues (later nodes first). Accumulate-grad nodes
# take numbers above all others, so leaves get their gradients as soon as they are ready
# (PyTorch gives them UINT64_MAX).
ACCUMULATE_FIRST = 1 << 62

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")


class RemovableHandle:
    __slots__ = ("_hooks", "_key")
    _ids = itertools.count()

    def __init__(self, hooks) -> None:
        # A strong reference: the hook table may be a small wrapper nobody else holds, and a
        # weak one would make remove() a silent no-op.
        self._hooks = hooks
        self._key = next(self._ids)

    def remove(self) -> None:
        self._hooks.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class Node:
    # Fields set on every node are slots; rarely set ones (hooks, anomaly trace) are class
    # defaults overridden in the instance dict, so creating a node costs three stores.
    __slots__ = ("next_edges", "seq", "out_meta", "__dict__", "__weakref__")
    is_accumulate = False
    tensor_pre_hooks = None    # {output_nr: {key: fn}} from Tensor.register_hook
    retains_grad_hooks = None  # {output_nr: fn} from Tensor.retain_grad
    pre_hooks = None
    post_hooks = None
    anomaly_trace = None
    plain = True               # no hooks ever registered: the engine's loop runs it directly

    def __init__(self) -> None:
        self.seq = next(_seq)
        self.next_edges: list = []
        self.out_meta: list = []

    def name(self) -> str:
        return type(self).__name__

    def apply(self, grads: list) -> list:  # pragma: no cover - abstract
        raise NotImplementedError(f"{self.name()} does not implement apply()")

    def release(self) -> None:
        """Free saved buffers once the node ran and the graph is not retained."""

    @property
    def next_functions(self) -> tuple:
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.next_edges)

    def register_hook(self, fn: Callable) -> RemovableHandle:
        """``fn(grad_inputs, grad_outputs)`` runs after the node; may return new grad_inputs."""
        if self.post_hooks is None:
            self.post_hooks = {}
            self.plain = False
        h = RemovableHandle(self.post_hooks)
        self.post_hooks[h._key] = fn
        return h

    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """``fn(grad_outputs)`` runs before the node; may return new grad_outputs."""
        if self.pre_hooks is None:
            self.pre_hooks = {}
            self.plain = False
        h = RemovableHandle(self.pre_hooks)
        self.pre_hooks[h._key] = fn
        return h

    def _add_tensor_pre_hook(self, output_nr: int, fn: Callable) -> RemovableHandle:
        if self.tensor_pre_hooks is None:
            self.tensor_pre_hooks = {}
            self.plain = False
        hooks = self.tensor_pre_hooks.setdefault(output_nr, {})
        h = RemovableHandle(_HookDict(hooks))
        hooks[h._key] = fn
        return h

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class _HookDict:
    """Lets a handle remove itself from a plain dict it does not own."""
    __slots__ = ("d", "__weakref__")

    def __init__(self, d: dict) -> None:
        self.d = d

    def pop(self, k, default=None):
        return self.d.pop(k, default)


class _HooksState(threading.local):
    stack: list | None = None   # this thread's (pack, unpack) pairs, innermost last


class saved_tensors_hooks:
    """Context manager (PyTorch's ``autograd.graph.saved_tensors_hooks``): every tensor an op saves
    for backward inside it is stored as ``pack_hook(tensor)`` and recovered with
    ``unpack_hook(packed)`` when backward needs it. Per thread; nests."""

    _tls = _HooksState()

    def __init__(self, pack_hook: Callable, unpack_hook: Callable) -> None:
        self.hooks = (pack_hook, unpack_hook)

    def __enter__(self):
        stack = self._tls.stack
        if stack is None:
            stack = self._tls.stack = []
        stack.append(self.hooks)
        return self

    def __exit__(self, *exc) -> None:
        self._tls.stack.pop()


def current_saved_tensors_hooks() -> tuple | None:
    """The innermost (pack, unpack) pair active on this thread, or None."""
    stack = saved_tensors_hooks._tls.stack
    return stack[-1] if stack else None


# Backward calls from several threads may feed one leaf: the read-add-write of .grad (and the
# engine's decision to steal the first gradient) happen under this lock so no update is lost.
ACCUMULATE_LOCK = threading.RLock()


class AccumulateGrad(Node):
    """Sink for a leaf: adds the incoming gradient into ``leaf.grad``."""

    __slots__ = ("variable",)
    is_accumulate = True
    plain = False

    def __init__(self, variable) -> None:
        super().__init__()
        self.seq += ACCUMULATE_FIRST
        self.variable = variable
        self.out_meta = [(variable._data.shape, variable._data.dtype, variable._device)]
        self.tensor_pre_hooks = variable._leaf_hooks  # hooks live on the leaf, shared with us

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def apply(self, grads: list) -> list:
        g = grads[0]
        if g is None:
            return []
        var = self.variable
        if var.grad is None:
            # A gradient built during this backward is ours to keep; anything that could
            # be shared (a gradient the user passed in) was copied by the engine.
            var.grad = g if is_grad_enabled() else g.detach()
        elif is_grad_enabled():
            var.grad = var.grad + g
        else:
            var.grad = (var.grad + g).detach()
        if var._post_acc_hooks:
            for fn in list(var._post_acc_hooks.values()):
                fn(var)
        return []


def grad_accumulator(t) -> AccumulateGrad:
    """The one AccumulateGrad of leaf ``t``; the graph keeps it alive, the leaf only refers to it."""
    ref = t._acc_ref
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._acc_ref = weakref.ref(acc)
    return acc


def gradient_edge(t) -> tuple[Any, int] | None:
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t._requires_grad:
        return (grad_accumulator(t), 0)
    return None


# Tensor methods of the autograd layer (bound by autograd_gpu.api) ---------------------------
TENSOR_METHODS = ("retain_grad", "register_hook", "register_post_accumulate_grad_hook")


def retain_grad(self) -> None:
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.grad_fn is None or self._retains_grad:
        return
    ref = weakref.ref(self)

    def hook(grad):
        t = ref()
        if t is None:
            return
        if t.grad is None:   # a copy, as PyTorch's: the gradient flows on and may be the caller's
            t.grad = op("clone")(grad if is_grad_enabled() else grad.detach())
        else:
            t.grad = t.grad + grad
    node = self.grad_fn
    if node.retains_grad_hooks is None:
        node.retains_grad_hooks = {}
        node.plain = False
    node.retains_grad_hooks[self._output_nr] = hook
    self._retains_grad = True


def register_hook(self, hook: Callable[[Any], Any]) -> RemovableHandle:
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        return self.grad_fn._add_tensor_pre_hook(self._output_nr, hook)
    if self._leaf_hooks is None:
        self._leaf_hooks = {}
        acc = self._acc_ref() if self._acc_ref is not None else None
        if acc is not None:
            acc.tensor_pre_hooks = self._leaf_hooks
    hooks = self._leaf_hooks.setdefault(0, {})
    h = RemovableHandle(_HookDict(hooks))
    hooks[h._key] = hook
    return h


def register_post_accumulate_grad_hook(self, hook: Callable[[Any], None]) -> RemovableHandle:
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._post_acc_hooks is None:
        self._post_acc_hooks = {}
    h = RemovableHandle(_HookDict(self._post_acc_hooks))
    self._post_acc_hooks[h._key] = hook
    return h
