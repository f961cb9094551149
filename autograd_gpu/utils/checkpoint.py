"""Activation checkpointing: trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` without building a graph (so none of its
intermediates are saved), keeps only the inputs, and in backward runs ``fn`` again
with grad enabled and backpropagates through that fresh graph. The random number
generators are saved before the first run and restored for the second, so dropout
masks (anything drawn from ``ag.rand``/``randn``) are the same both times.

``use_reentrant=True`` recomputes through a custom ``Function`` whose backward calls
``autograd.backward`` (PyTorch's reentrant design: ``.backward()`` only, and only
arguments that require grad carry gradient in). ``use_reentrant=False`` (PyTorch's
recommendation) records ``fn``'s graph as usual but, through ``saved_tensors_hooks``,
keeps none of the tensors its ops save: the first unpack during backward recomputes
``fn`` once and hands out the recomputed tensors in save order. The graph is real, so
``autograd.grad`` and parameters used only inside ``fn`` work.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..autograd.graph import saved_tensors_hooks
from ..device import CPU
from ..engine.api import backward as run_backward
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "get_rng_state", "set_rng_state"]


# random state -------------------------------------------------------------------------------
def _devices_of(args: Iterable) -> list:
    devs = [CPU]
    for a in args:
        if isinstance(a, Tensor) and a._device not in devs:
            devs.append(a._device)
    return devs


def _generator(device):
    return device.backend.generator(device.index)


def get_rng_state(devices: Iterable) -> list:
    """A snapshot of each device's generator state (None where the generator cannot be snapshotted)."""
    states = []
    for d in devices:
        g = _generator(d)
        bit = getattr(g, "bit_generator", None)
        if bit is not None and hasattr(bit, "state"):
            states.append((d, "bit", bit.state))
        elif hasattr(g, "get_state"):
            states.append((d, "get", g.get_state()))
        else:
            states.append((d, None, None))
    return states


def set_rng_state(states: list) -> None:
    for d, kind, st in states:
        if kind is None:
            continue
        g = _generator(d)
        if kind == "bit":
            g.bit_generator.state = st
        else:
            g.set_state(st)


# the recomputing Function -------------------------------------------------------------------
class CheckpointFunction(Function):
    """Forward: ``fn`` without a graph. Backward: ``fn`` again with a graph, then backward through it."""

    @staticmethod
    def forward(ctx, run_function: Callable, preserve_rng_state: bool, kwargs: dict, _unused, *args):
        ctx.run_function = run_function
        ctx.kwargs = kwargs
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.devices = _devices_of(args)
            ctx.rng_states = get_rng_state(ctx.devices)
        ctx.inputs = []          # non-tensor arguments kept as-is; tensors go through save_for_backward
        ctx.tensor_indices = []
        tensors = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                ctx.tensor_indices.append(i)
                ctx.inputs.append(None)
                tensors.append(a)
            else:
                ctx.inputs.append(a)
        ctx.save_for_backward(*tensors)
        outputs = run_function(*args, **kwargs)   # Function.apply runs forward with grad off
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            d = t.detach()
            d.requires_grad_(t.requires_grad)
            inputs[i] = d
        if ctx.preserve_rng_state:
            current = get_rng_state(ctx.devices)
            set_rng_state(ctx.rng_states)
        try:
            with enable_grad():
                outputs = ctx.run_function(*inputs, **ctx.kwargs)
        finally:
            if ctx.preserve_rng_state:
                set_rng_state(current)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        outs, out_grads = [], []
        for o, g in zip(outputs, grads):
            if isinstance(o, Tensor) and o.requires_grad and g is not None:
                outs.append(o)
                out_grads.append(g)
        if not outs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        run_backward(outs, out_grads)
        grads_in = tuple(inp.grad if isinstance(inp, Tensor) else None for inp in inputs)
        return (None, None, None, None) + grads_in


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None, context_fn: Any = None,
               determinism_check: str = "default", debug: bool = False, preserve_rng_state: bool = True,
               **kwargs):
    """Run ``function(*args, **kwargs)`` saving only its inputs; recompute it during backward."""
    if use_reentrant is None:
        use_reentrant = True
    if context_fn is not None:
        raise ValueError("Passing `context_fn` is only supported when use_reentrant=False.") if use_reentrant \
            else NotImplementedError("checkpoint(context_fn=...) is not supported")
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if not use_reentrant:
        return _checkpoint_without_reentrant(function, preserve_rng_state, args, kwargs)
    if is_grad_enabled() and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
    return CheckpointFunction.apply(function, preserve_rng_state, kwargs, None, *args)


class _Recomputation:
    """The tensors one checkpointed call saved, recomputed on first demand during backward."""

    def __init__(self, function: Callable, preserve_rng_state: bool, args: tuple, kwargs: dict) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.devices = _devices_of(args) if preserve_rng_state else None
        self.rng_states = get_rng_state(self.devices) if preserve_rng_state else None
        self.count = 0           # tensors saved by the first run, numbered in save order
        self.tensors = None      # their recomputed values

    def pack(self, _tensor) -> int:
        self.count += 1
        return self.count - 1

    def unpack(self, index: int):
        if self.tensors is None:
            self._recompute()
        if index >= len(self.tensors):
            raise RuntimeError("torch.utils.checkpoint: recomputed function saved fewer tensors than the "
                               "original forward; make the checkpointed function deterministic.")
        return self.tensors[index]

    def _recompute(self) -> None:
        saved: list = []
        inputs = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a for a in self.args]
        if self.rng_states is not None:
            current = get_rng_state(self.devices)
            set_rng_state(self.rng_states)
        try:
            with enable_grad(), saved_tensors_hooks(lambda t: saved.append(t.detach()) or len(saved) - 1,
                                                    lambda i: saved[i]):
                self.function(*inputs, **self.kwargs)
        finally:
            if self.rng_states is not None:
                set_rng_state(current)
        self.tensors = saved
        self.args = self.kwargs = None   # the recomputation is done: drop the inputs


def _checkpoint_without_reentrant(function: Callable, preserve_rng_state: bool, args: tuple, kwargs: dict):
    if not is_grad_enabled():
        return function(*args, **kwargs)
    frame = _Recomputation(function, preserve_rng_state, args, kwargs)
    with saved_tensors_hooks(frame.pack, frame.unpack):
        return function(*args, **kwargs)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None, **kwargs):
    """Split a sequence of modules/functions into ``segments`` checkpointed chunks (the last runs normally)."""
    if isinstance(functions, Iterable) and not callable(functions):
        functions = list(functions)
    elif hasattr(functions, "children"):
        functions = list(functions.children())
    else:
        functions = list(functions)

    def run(start: int, end: int):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    segment_size = max(len(functions) // segments, 1)
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
