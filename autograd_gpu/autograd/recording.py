"""How a call becomes a node: the general path of ``Function.apply`` (forward with the node as
ctx, then wiring its outputs), the fast path for declared kernels, and the in-place form.

Built-in ops declare ``saves`` so that the fast path, which computes the output without
``forward``, can still record what backward reads (``_keep``).
"""
from __future__ import annotations

import inspect
import traceback

import numpy as np

from ..dispatch import (_IGNORE, _err_get, _err_reset, _err_set, allocation_error, constant,
                        is_allocation_error, kernel, op, scalar_for, takes_constant)
from ..tensor import Tensor, wrap
from . import anomaly
from .grad_mode import _state as _grad_state
from .graph import grad_accumulator, saved_tensors_hooks
from .saved import SavedTensor
from .views import rebase_view

_hooks_tls = saved_tensors_hooks._tls
_NDARRAY = np.ndarray
_make = Tensor._make


def _apply(cls, args: tuple, kwargs: dict):
    """Run ``forward``; record a node when grad mode is on and some input needs a gradient."""
    try:
        if _grad_state.enabled:
            for a in args:
                if isinstance(a, Tensor) and (a._requires_grad or a.grad_fn is not None):
                    return (_record_new_style if cls._new_style else _record)(cls, args, kwargs)
            _grad_state.enabled = False   # forward never records, even when it calls other ops
            try:
                return _run_unrecorded(cls, args, kwargs)
            finally:
                _grad_state.enabled = True
        return _run_unrecorded(cls, args, kwargs)
    except (MemoryError, ValueError) as e:
        _raise_allocation_error(e)
        raise


def _raise_allocation_error(e: BaseException) -> None:
    """A kernel's failed allocation as PyTorch's RuntimeError (out-of-memory handlers catch that, not
    MemoryError); returns for any other error, which the caller re-raises as it is. The boundary is
    where ops call kernels (``_apply``, the fast path, the in-place form): a try block costs nothing
    until something raises."""
    if is_allocation_error(e):
        raise allocation_error(e) from None


_ABSENT = object()


def _fast_apply(cls, arity: int):
    """``cls.apply`` for a Function with a ``kernel``: operands that already agree (floating
    tensors of one dtype, shape and device, or Python numbers) go straight to the kernel and,
    when an input needs a gradient, to ``record_computed``; anything else, and any extra
    argument, takes ``_apply``. A plain function with the operands as parameters: op functions,
    operators and backward formulas call it without packing arguments.

    Per call it reads only what is cached: the kernel from the device's table (no backend
    lookup), a Python number as a cached 0-d constant (``dispatch.takes_constant``), the grad mode
    once, and for a ``quiet`` NumPy kernel the function it wraps, called with NumPy's warnings
    switched off here (as its wrapper would, one frame less). One closure per arity: a unary op
    checks nothing about a second operand."""
    kernel_op = cls.kernel
    # (the last kernel called, the function it wraps if quiet, whether it takes a Python number as a
    # 0-d constant): worked out once per kernel, not per call
    seen = [(None, None, False)]

    if arity == 1:
        def apply(input, *rest, **kwargs):
            if type(input) is Tensor and not rest and not kwargs:
                d = input._data
                if d.dtype.kind == "f":
                    device = input._device
                    try:
                        kern = device._table[kernel_op]
                    except (KeyError, TypeError):   # a table not cached yet, or an inherited kernel
                        kern = kernel(kernel_op, input)
                    last, fn, _ = seen[0]   # one tuple: another thread may replace it, never half of it
                    if kern is not last:
                        fn = getattr(kern, "quiet_wraps", None)
                        seen[0] = kern, fn, takes_constant(kern)
                    try:
                        if fn is None or _err_get() is _IGNORE:   # off already: the engine's backward
                            out = (kern if fn is None else fn)(d)
                        else:
                            token = _err_set(_IGNORE)
                            try:
                                out = fn(d)
                            finally:
                                _err_reset(token)
                    except (MemoryError, ValueError) as exc:
                        _raise_allocation_error(exc)
                        raise
                    out = _make(out, device) if type(out) is _NDARRAY else wrap(out, device)
                    if (input._requires_grad or input.grad_fn is not None) and _grad_state.enabled:
                        return record_computed(cls, input, _ABSENT, out)
                    return out
            return _apply(cls, (input,) + rest, kwargs)
    else:
        def apply(input, other=_ABSENT, *rest, **kwargs):
            if type(input) is Tensor and other is not _ABSENT and not rest and not kwargs:
                d = input._data
                dt = d.dtype
                if dt.kind == "f":
                    device = input._device
                    try:
                        kern = device._table[kernel_op]
                    except (KeyError, TypeError):
                        kern = kernel(kernel_op, input)
                    last, fn, tc = seen[0]
                    if kern is not last:
                        fn, tc = getattr(kern, "quiet_wraps", None), takes_constant(kern)
                        seen[0] = kern, fn, tc
                    record = input._requires_grad or input.grad_fn is not None
                    t = type(other)
                    if t is Tensor:
                        e = other._data
                        if (e.dtype is not dt and e.dtype != dt) or e.shape != d.shape or \
                                other._device is not device:
                            return _apply(cls, (input, other), {})
                        if not record:
                            record = other._requires_grad or other.grad_fn is not None
                    elif t is float or t is int:   # bool scalars: forward's checks
                        e = constant(other, dt) if tc else scalar_for(d, other)
                    else:
                        return _apply(cls, (input, other), {})
                    try:
                        if fn is None or _err_get() is _IGNORE:
                            out = (kern if fn is None else fn)(d, e)
                        else:
                            token = _err_set(_IGNORE)
                            try:
                                out = fn(d, e)
                            finally:
                                _err_reset(token)
                    except (MemoryError, ValueError) as exc:
                        _raise_allocation_error(exc)
                        raise
                    out = _make(out, device) if type(out) is _NDARRAY else wrap(out, device)
                    if record and _grad_state.enabled:
                        return record_computed(cls, input, other, out)
                    return out
            return _apply(cls, ((input,) if other is _ABSENT else (input, other)) + rest, kwargs)
    apply.__name__ = apply.__qualname__ = f"{cls.__qualname__}.apply"
    return apply


def _run_unrecorded(cls, args: tuple, kwargs: dict):
    """Forward with a throwaway ctx: nothing needs a gradient (or grad mode is off), so no node."""
    if cls._new_style:   # setup_context runs even so (it may mark_dirty), as in PyTorch
        args = _bind(cls, args, kwargs)
        ctx = _NoGradCtx(cls, len(args))
        out = cls.forward(*args)
        cls.setup_context(ctx, args, out)
    else:
        ctx = _NoGradCtx(cls, len(args))
        out = cls.forward(ctx, *args, **kwargs)
    if ctx.dirty:
        _bump_versions(ctx.dirty)
    return out


def _record(cls, args: tuple, kwargs: dict):
    """Forward with a node as ctx, then wire the node into the graph (some input needs a gradient)."""
    node = cls._backward_cls()
    node.needs_input_grad, node.next_edges = _edges(args)
    _grad_state.enabled = False
    try:
        out = cls.forward(node, *args, **kwargs)
    finally:
        _grad_state.enabled = True
    if node.dirty:
        _bump_versions(node.dirty)
    out = _wire(node, args, out)
    if cls._saves:
        _keep(node, cls._saves, args, out)
    return out


OUT = -1   # in ``Function.saves``: the output


def _keep(node, saves: tuple, args: tuple, out) -> None:
    """Save what ``saves`` declares: tensors as SavedTensors (the output without its grad_fn, as
    ``_finish`` does), Python numbers as they are, None where the gradient needing it is not wanted."""
    need = node.needs_input_grad
    stack = _hooks_tls.stack
    hooks = stack[-1] if stack else None
    saved = []
    for src, when in saves:
        if when >= 0 and not need[when]:
            saved.append(None)
        elif src < 0:
            saved.append(SavedTensor(out, 0, hooks))
        else:
            v = args[src]
            saved.append(SavedTensor(v, None, hooks) if isinstance(v, Tensor) else v)
    node.saved = saved


def record_computed(cls, input: Tensor, other, out):
    """Record ``out``, which the fast path computed without ``forward`` from ``input`` (a floating
    tensor) and ``other`` (a tensor like it, a Python number, or absent), as the one output of a new
    ``cls`` node (``cls`` declares ``saves``; no input is changed in place).

    What ``_edges`` and ``_single_meta`` do for any op, inlined for these operands: this runs once
    per recorded op."""
    node = cls._backward_cls()
    fn = input.grad_fn
    e = (fn, input._output_nr) if fn is not None else (grad_accumulator(input), 0) if input._requires_grad else None
    if other is _ABSENT:
        args = (input,)
        node.needs_input_grad = _NEEDS[1][e is not None]
        node.next_edges = (e,)
    else:
        args = (input, other)
        if type(other) is Tensor:
            fn = other.grad_fn
            f = (fn, other._output_nr) if fn is not None else \
                (grad_accumulator(other), 0) if other._requires_grad else None
        else:
            f = None
        node.needs_input_grad = _NEEDS[2][(e is not None) | (f is not None) << 1]
        node.next_edges = (e, f)
    data = out._data
    meta = _last_meta   # _single_meta's first guess, checked here without a call
    key = meta[0]
    node.out_meta = meta if key[1] is data.dtype and key[2] is out._device and key[0] == data.shape else \
        _single_meta(out)
    out.grad_fn = node
    saves = cls._saves
    if saves:
        _keep(node, saves, args, out)
    if anomaly.enabled:
        _finish(node, (out,))
    return out


def apply_inplace(cls, self: Tensor, others: tuple, kwargs: dict) -> Tensor:
    """The in-place form of ``cls`` (which declares ``saves``): ``forward`` computes the value
    out of place, it is written into ``self``, and the node is recorded with ``self`` as its
    output. Input 0's saved value is a differentiable copy taken before the write, made only when
    a wanted gradient reads it (PyTorch's ``original_self``). Validation is the caller's."""
    args = (self,) + others
    ctx = None
    if _grad_state.enabled:
        for a in args:
            if isinstance(a, Tensor) and (a._requires_grad or a.grad_fn is not None):
                ctx = cls._backward_cls()
                break
    old = None
    if ctx is not None:
        ctx.needs_input_grad, ctx.next_edges = _edges(args)   # before the write: the old history
        need = ctx.needs_input_grad
        if any(src == 0 and (when < 0 or need[when]) for src, when in cls._saves):
            old = op("clone")(self)
    prev = _grad_state.enabled
    _grad_state.enabled = False
    try:
        out = cls.forward(ctx if ctx is not None else _NoGradCtx(cls, len(args)), *args, **kwargs)
        kernel("copy_into", self)(self._data, out._data)
    except (MemoryError, ValueError) as e:
        _raise_allocation_error(e)
        raise
    finally:
        _grad_state.enabled = prev
    self._vc[0] += 1
    if ctx is not None:
        ctx.out_meta = _single_meta(self)
        if self._base is not None:
            rebase_view(ctx, self, 0)
        else:
            self.grad_fn, self._output_nr, self._requires_grad = ctx, 0, False
        _keep(ctx, cls._saves, (old,) + others, self)
        if anomaly.enabled:
            _finish(ctx, (self,))
    return self


# needs_input_grad tuples for up to four inputs, indexed by a bit mask: recording an op then
# allocates no tuple the cyclic GC would have to track for the life of the graph (mask 0 is the
# all-False tuple of an unrecorded call)
_NEEDS = [[tuple(bool(mask >> i & 1) for i in range(n)) for mask in range(1 << n)] for n in range(5)]


def _edge(a):
    """graph.gradient_edge of an argument, inlined (None for one that is no tensor or needs no gradient)."""
    if type(a) is Tensor or isinstance(a, Tensor):   # the exact type first: one pointer compare
        fn = a.grad_fn
        if fn is not None:
            return (fn, a._output_nr)
        if a._requires_grad:
            return (grad_accumulator(a), 0)
    return None


def _edges(args: tuple) -> tuple[tuple, tuple]:
    """Which inputs need a gradient, and the edge each one's gradient travels. Taken before
    forward, so an in-place op's edge points at its input's old history. This runs once per
    recorded op: one or two arguments (nearly every op) take no call per argument."""
    n = len(args)
    if n > 2:
        edges = tuple(map(_edge, args))
        if n >= 5:
            return tuple(e is not None for e in edges), edges
        mask = 0
        for i, e in enumerate(edges):
            if e is not None:
                mask |= 1 << i
        return _NEEDS[n][mask], edges
    a = args[0]
    if type(a) is Tensor or isinstance(a, Tensor):
        fn = a.grad_fn
        e = (fn, a._output_nr) if fn is not None else (grad_accumulator(a), 0) if a._requires_grad else None
    else:
        e = None
    if n == 1:
        return _NEEDS[1][e is not None], (e,)
    b = args[1]
    if type(b) is Tensor or isinstance(b, Tensor):
        fn = b.grad_fn
        f = (fn, b._output_nr) if fn is not None else (grad_accumulator(b), 0) if b._requires_grad else None
    else:
        f = None
    return _NEEDS[2][(e is not None) | (f is not None) << 1], (e, f)


def _bump_versions(dirty) -> None:
    """Tensors a forward marked dirty were modified in place: once, whether or not a graph is kept."""
    for d in dirty:
        d._vc[0] += 1


class _NoGradCtx:
    """The ctx ``forward`` sees when no graph is recorded: same API, nothing kept."""

    __slots__ = ("_fn", "needs_input_grad", "dirty", "__dict__")
    materialize_grads = True

    def __init__(self, fn, n: int) -> None:
        self._fn = fn
        self.needs_input_grad = _NEEDS[n][0] if n < 5 else (False,) * n
        self.dirty = None

    def save_for_backward(self, *tensors) -> None:
        pass

    def mark_dirty(self, *tensors) -> None:
        self.dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        pass


def _bind(cls, args: tuple, kwargs: dict) -> tuple:
    """``forward``'s arguments as one positional tuple with defaults filled in (what setup_context sees)."""
    if cls._n_params is None:
        cls._forward_sig = inspect.signature(cls.forward)
        params = cls._forward_sig.parameters.values()
        plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        cls._n_params = len(cls._forward_sig.parameters) if plain else -1
    if kwargs or len(args) != cls._n_params:  # defaults or keywords to fill in: bind (slow, rare)
        bound = cls._forward_sig.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.args
    return args


def _record_new_style(cls, args: tuple, kwargs: dict):
    """``forward(*args)`` then ``setup_context(ctx, inputs, output)``; inputs include bound defaults."""
    args = _bind(cls, args, kwargs)
    node = cls._backward_cls()
    node.needs_input_grad, node.next_edges = _edges(args)
    _grad_state.enabled = False
    try:
        out = cls.forward(*args)
        cls.setup_context(node, args, out)
    finally:
        _grad_state.enabled = True
    if node.dirty:
        _bump_versions(node.dirty)
    return _wire(node, args, out)


def _wire(node, args: tuple, out):
    """Connect ``node``'s outputs to it after ``forward`` ran (its edges are already set)."""
    if type(out) is Tensor and node.dirty is None and node.non_differentiable is None:
        # the common case: one fresh output
        for a in args:
            if a is out:
                out = out._alias()
                break
        node.out_meta = _single_meta(out)
        if out._data.dtype.kind == "f":
            out.grad_fn = node
        if node.to_save or anomaly.enabled:
            _finish(node, (out,))
        return out
    single = not isinstance(out, tuple)
    outs = (out,) if single else out
    nondiff = node.non_differentiable or ()
    dirty = node.dirty or ()
    wired = []
    meta = node.out_meta = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            wired.append(o)
            continue
        if any(o is d for d in dirty):
            if o.grad_fn is None and o._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            if o._base is not None and o.dtype.is_floating_point:
                meta.append((o._data.shape, o._data.dtype, o._device))
                rebase_view(node, o, next(j for j, a in enumerate(args) if a is o))
                wired.append(o)
                continue
        elif any(o is a for a in args):
            o = o._alias()  # returning an input unchanged: the output is a new tensor sharing its data
        meta.append((o._data.shape, o._data.dtype, o._device))
        if o.dtype.is_floating_point and not any(o is n for n in nondiff):
            o.grad_fn, o._output_nr, o._requires_grad = node, i, False
        wired.append(o)
    # forward's marks are spent: kept, they would hold the outputs alive as long as the node (a
    # reference cycle for a dirty output, whose grad_fn is this node)
    node.dirty = node.non_differentiable = None
    _finish(node, wired)
    return wired[0] if single else tuple(wired)


_SINGLE_META: dict = {}
_last_meta = (((), None, None),)   # the last one handed out: a chain of ops asks for it again and again


def _single_meta(out) -> tuple:
    """``out_meta`` for a node whose one output is ``out``, shared by all nodes whose output has
    this shape, dtype and device: fewer objects per recorded op for the cyclic GC to track (and
    promote) while the graph lives. Bounded: cleared when full. The last one handed out is
    checked first (dtype and device by identity): hashing a NumPy dtype costs more than that."""
    global _last_meta
    data = out._data
    meta = _last_meta
    key = meta[0]
    if key[1] is data.dtype and key[2] is out._device and key[0] == data.shape:
        return meta
    key = (data.shape, data.dtype, out._device)
    meta = _SINGLE_META.get(key)
    if meta is None:
        if len(_SINGLE_META) >= 4096:
            _SINGLE_META.clear()
        meta = _SINGLE_META[key] = (key,)
    _last_meta = meta
    return meta


def _finish(node, outputs) -> None:
    """Turn what forward asked to save into SavedTensors (outputs kept without their grad_fn)."""
    to_save = node.to_save
    if to_save:
        stack = _hooks_tls.stack   # saved_tensors_hooks active on this thread?
        hooks = stack[-1] if stack else None
        saved = []
        for t in to_save:
            if t is None:
                saved.append(None)
                continue
            if not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {len(saved)} is "
                                f"of type {type(t).__name__}")
            nr = None
            for j, o in enumerate(outputs):
                if o is t:
                    nr = j
                    break
            saved.append(SavedTensor(t, nr, hooks))
        node.saved = saved
        node.to_save = None
    if anomaly.enabled:
        node.anomaly_trace = "".join(traceback.format_stack()[:-3])
