"""Module hooks (PyTorch's ``Module._call_impl`` and ``torch/utils/hooks.py``): forward pre-hooks,
forward hooks, full backward pre-hooks and full backward hooks, and their ``RemovableHandle``.

A module with no hooks is called straight through (``Module.__call__`` checks one flag). Full
backward hooks work as PyTorch's ``BackwardHook``: the forward's tensor inputs and outputs pass
through an identity Function; a node pre-hook on the outputs' node captures ``grad_output`` (and
runs the backward pre-hooks), a node post-hook on the inputs' node sees ``grad_input`` and calls
the user's hooks, whose returned tuple replaces it.
"""
from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict
from types import MappingProxyType
from typing import Callable

from ...autograd import is_grad_enabled
from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["RemovableHandle", "HooksMixin", "call_with_hooks"]


class RemovableHandle:
    """Removes its hook (and the hook's entries in ``extra_dict``) on ``remove()``; a context manager."""

    _ids = itertools.count()

    def __init__(self, hooks_dict: dict, *, extra_dict: dict | list | None = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(RemovableHandle._ids)
        extras = [extra_dict] if isinstance(extra_dict, dict) else list(extra_dict or ())
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _HookDict(OrderedDict):
    """An OrderedDict that can be weakly referenced by handles (as PyTorch's hook dicts are)."""


_TABLES = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks", "_forward_hooks_with_kwargs",
           "_forward_hooks_always_called", "_backward_pre_hooks", "_backward_hooks")


_EMPTY = MappingProxyType({})


class HooksMixin:
    """The hook registration methods of ``Module``; each module's tables are created on its first
    registration (until then the class's read-only empty ones answer)."""

    _hooked = False                   # any hook ever registered: __call__ takes the slow path
    _is_full_backward_hook = None
    _forward_pre_hooks = _forward_pre_hooks_with_kwargs = _forward_hooks = _EMPTY
    _forward_hooks_with_kwargs = _forward_hooks_always_called = _backward_pre_hooks = _backward_hooks = _EMPTY

    def _hook_tables(self) -> None:
        if "_forward_hooks" not in self.__dict__:
            for name in _TABLES:
                object.__setattr__(self, name, _HookDict())
        object.__setattr__(self, "_hooked", True)

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` ``with_kwargs``) before forward; a
        returned value replaces the arguments (a non-tuple is wrapped; with kwargs an (args, kwargs) pair)."""
        self._hook_tables()
        handle = RemovableHandle(self._forward_pre_hooks, extra_dict=self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (``with_kwargs``: ``hook(module, args, kwargs, output)``) after
        forward; a returned value replaces the output. ``always_call``: runs even when forward raises."""
        self._hook_tables()
        handle = RemovableHandle(self._forward_hooks,
                                 extra_dict=[self._forward_hooks_with_kwargs, self._forward_hooks_always_called])
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` when the outputs' gradients are known; a returned tuple replaces them."""
        self._hook_tables()
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` once the inputs' gradients are computed; a returned
        tuple replaces ``grad_input`` (None for inputs that are not tensors requiring grad)."""
        if self._is_full_backward_hook is False:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks on a single Module. "
                               "Please use only one of them.")
        self._hook_tables()
        object.__setattr__(self, "_is_full_backward_hook", True)
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle


class BackwardHookFunction(Function):
    """Identity on tensors: its node is where the module's backward hooks attach."""
    node_name = "BackwardHookFunctionBackward"

    @staticmethod
    def forward(ctx, *args):
        outs = []
        for a in args:
            t = Tensor._make(a._data, a._device)
            t._vc = a._vc
            outs.append(t)
        ctx.mark_non_differentiable(*[o for o, a in zip(outs, args) if not a.requires_grad])
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        return grads


def _pack_with_none(indices, values, size: int) -> tuple:
    res = [None] * size
    for i, v in zip(indices, values):
        res[i] = v
    return tuple(res)


class BackwardHook:
    """One forward call's backward-hook state (PyTorch's ``torch.utils.hooks.BackwardHook``)."""

    def __init__(self, module, user_hooks: list, user_pre_hooks: list) -> None:
        self.module, self.user_hooks, self.user_pre_hooks = module, user_hooks, user_pre_hooks
        self.grad_outputs = None
        self.n_outputs = self.n_inputs = -1
        self.output_tensors_index = self.input_tensors_index = None

    def _apply_on_tensors(self, fn: Callable, args: tuple):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in idx]
        if not (any(t.requires_grad for t in tensors) and is_grad_enabled()):
            return args, None
        new = BackwardHookFunction.apply(*tensors)
        new = new if isinstance(new, tuple) else (new,)
        grad_fns = [t.grad_fn for t in new
                    if t.grad_fn is not None and t.grad_fn.name() == "BackwardHookFunctionBackward"]
        if not grad_fns:
            raise RuntimeError("Error while setting up backward hooks. Please open an issue with a code sample "
                               "to reproduce this.")
        fn(grad_fns[0])
        out = list(args)
        for i, v in zip(idx, new):
            out[i] = v
        return tuple(out), idx

    def setup_input_hook(self, args: tuple) -> tuple:
        def hook(grad_input, _):
            if self.grad_outputs is None:   # the gradient reached the inputs without passing the outputs
                return None
            res = _pack_with_none(self.input_tensors_index, grad_input, self.n_inputs)
            for user_hook in self.user_hooks:
                out = user_hook(self.module, res, self.grad_outputs)
                if out is None:
                    continue
                if len(out) != len(res):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(out)}, "
                                       f"but expected {len(res)}")
                res = out
            self.grad_outputs = None
            return tuple(res[i] for i in self.input_tensors_index)

        res, idx = self._apply_on_tensors(lambda fn: fn.register_hook(hook), args)
        self.n_inputs, self.input_tensors_index = len(args), idx
        return res

    def setup_output_hook(self, result):
        def hook(grad_output):
            self.grad_outputs = _pack_with_none(self.output_tensors_index, grad_output, self.n_outputs)
            for pre in self.user_pre_hooks:
                new = pre(self.module, self.grad_outputs)
                if new is None:
                    continue
                if len(new) != len(self.grad_outputs):
                    raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, got "
                                       f"{len(new)}, but expected {len(self.grad_outputs)}")
                self.grad_outputs = tuple(new)
            local = self.grad_outputs
            if self.input_tensors_index is None:   # no input needs a gradient: call the hooks now
                grad_inputs = _pack_with_none([], [], self.n_inputs)
                for user_hook in self.user_hooks:
                    r = user_hook(self.module, grad_inputs, self.grad_outputs)
                    if r is not None and not (isinstance(r, tuple) and all(e is None for e in r)):
                        raise RuntimeError("Backward hook for Modules where no input requires gradient should "
                                           "always return None or None for all gradients.")
                self.grad_outputs = None
            return tuple(local[i] for i in self.output_tensors_index)

        is_tuple = isinstance(result, tuple)
        args = result if is_tuple else (result,)
        res, idx = self._apply_on_tensors(lambda fn: fn.register_prehook(hook), args)
        self.n_outputs, self.output_tensors_index = len(args), idx
        return res if is_tuple else res[0]


def _run_forward_hooks(module, args, kwargs, result, called: set):
    for hook_id, hook in list(module._forward_hooks.items()):
        if hook_id in module._forward_hooks_always_called:
            called.add(hook_id)
        if hook_id in module._forward_hooks_with_kwargs:
            out = hook(module, args, kwargs, result)
        else:
            out = hook(module, args, result)
        if out is not None:
            result = out
    return result


def call_with_hooks(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with its hooks, in PyTorch's order."""
    result = None
    called: set = set()
    try:
        for hook_id, hook in list(module._forward_pre_hooks.items()):
            if hook_id in module._forward_pre_hooks_with_kwargs:
                r = hook(module, args, kwargs)
                if r is not None:
                    if isinstance(r, tuple) and len(r) == 2:
                        args, kwargs = r
                    else:
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {r}.")
            else:
                r = hook(module, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        bw_hook = None
        if module._backward_hooks or module._backward_pre_hooks:
            bw_hook = BackwardHook(module, list(module._backward_hooks.values()),
                                   list(module._backward_pre_hooks.values()))
            args = bw_hook.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        if module._forward_hooks:
            result = _run_forward_hooks(module, args, kwargs, result, called)
        if bw_hook is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a Tensor or a tuple of "
                              f"Tensors but received {type(result)}", stacklevel=3)
            result = bw_hook.setup_output_hook(result)
        return result
    except Exception:
        for hook_id, hook in list(module._forward_hooks.items()):
            if hook_id in module._forward_hooks_always_called and hook_id not in called:
                try:
                    kw = hook_id in module._forward_hooks_with_kwargs
                    out = hook(module, args, kwargs, result) if kw else hook(module, args, result)
                    if out is not None:
                        result = out
                except Exception as e:   # noqa: BLE001 - silenced as PyTorch does, the forward's error wins
                    warnings.warn("forward hook with ``always_call=True`` raised an exception that was silenced as "
                                  f"another error was raised in forward: {e}", stacklevel=3)
        raise
