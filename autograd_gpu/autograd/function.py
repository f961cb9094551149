"""``Function``: the one way an op enters the graph, built-in or user-defined.

The node created by ``apply`` is also the ``ctx`` handed to ``forward`` and
``backward`` (as in PyTorch), so an op's state lives in one object.
"""
from __future__ import annotations

import traceback
from typing import Any

from . import anomaly
from .grad_mode import _state as _grad_state
from .graph import FREED_MESSAGE, Node, _seq, grad_accumulator, gradient_edge, saved_tensors_hooks

_hooks_tls = saved_tensors_hooks._tls

Tensor: Any = None  # set by tensor.py once the class exists (it imports this module first)


def _type_name(t) -> str:
    dev = "" if t._device.type == "cpu" else f"{t._device.type}."
    return f"autograd_gpu.{dev}{t.dtype._torch_name}Tensor"


class SavedTensor:
    """A tensor saved for backward, checked against in-place changes when unpacked.

    Outputs are stored without their ``grad_fn`` (that is the node holding them) and
    rebuilt on unpack, so a node never keeps itself alive through its own output.
    """

    __slots__ = ("tensor", "data", "device", "vc", "version", "output_nr", "requires_grad", "packed",
                 "unpack_hook")

    def __init__(self, t, output_nr: int | None, hooks: tuple | None = None) -> None:
        self.vc = t._vc
        self.version = t._vc[0]
        self.output_nr = output_nr
        self.unpack_hook = None
        if hooks is not None:  # saved_tensors_hooks: keep only what pack returns
            self.packed, self.unpack_hook = hooks[0](t), hooks[1]
            self.tensor = self.data = self.device = None
        elif output_nr is None:
            self.tensor, self.data, self.device = t, None, None
        else:
            self.tensor, self.data, self.device = None, t._data, t._device
            self.requires_grad = t.grad_fn is not None

    def unpack(self, node):
        if self.unpack_hook is not None:
            return self.unpack_hook(self.packed)
        if self.vc[0] != self.version:
            t = self.tensor
            if t is not None and t.grad_fn is not None:
                where = f", which is output {t._output_nr} of {t.grad_fn.name()},"
            elif t is None:
                where = f", which is output {self.output_nr} of {node.name()},"
            else:
                where = ""
            probe = t if t is not None else Tensor._make(self.data, self.device)
            hint = ("Hint: the backtrace further above shows the operation that failed to compute its "
                    "gradient. The variable in question was changed in there or anywhere later. Good luck!"
                    if anomaly.enabled else
                    "Hint: enable anomaly detection to find the operation that failed to compute its "
                    "gradient, with autograd_gpu.autograd.set_detect_anomaly(True).")
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{_type_name(probe)} [{', '.join(map(str, probe.shape))}]]{where} "
                f"is at version {self.vc[0]}; expected version {self.version} instead. {hint}")
        if self.tensor is not None:
            return self.tensor
        t = Tensor._make(self.data, self.device)
        t._vc = self.vc
        if self.requires_grad:
            t.grad_fn, t._output_nr = node, self.output_nr
        return t


class BackwardNode(Node):
    """Node (and ctx) of one ``Function.apply`` call."""

    __slots__ = ("needs_input_grad", "saved")   # saved: SavedTensors after _wire; None once released
    _fn: Any = None
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
        out = []   # a loop, not a comprehension: no extra frame on every backward
        for s in saved:   # a declared ``saves`` keeps Python-number operands as they are (see _keep)
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
        if (grads[0] is None if len(grads) == 1 else _has_none(grads)) and self.materialize_grads:
            from ..ops.creation import zeros_from_meta
            grads = [zeros_from_meta(self.out_meta[i]) if g is None else g for i, g in enumerate(grads)]
        result = self._fn.backward(self, *grads)
        if type(result) is not tuple:
            result = tuple(result) if isinstance(result, list) else (result,)
        n = len(self.next_edges)
        if len(result) != n:
            if len(result) > n and result[n:] == (None,) * (len(result) - n):   # for non-tensor arguments
                result = result[:n]
            else:
                raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(result)})")
        return result


def _has_none(grads) -> bool:
    for g in grads:
        if g is None:
            return True
    return False


class FunctionMeta(type):
    def __init__(cls, name, bases, ns) -> None:
        super().__init__(name, bases, ns)
        node_name = ns.get("node_name", f"{name}Backward")
        cls._backward_cls = type(node_name, (BackwardNode,), {"__slots__": (), "_fn": cls})
        if "vjp" in ns and "backward" not in ns:
            cls.backward = ns["vjp"]
        # New style (forward without ctx + setup_context) is decided once per class, not per call.
        setup = getattr(cls, "setup_context", None)
        base_setup = globals().get("Function")
        cls._new_style = base_setup is not None and setup is not None and \
            getattr(setup, "__func__", setup) is not getattr(base_setup.setup_context, "__func__",
                                                             base_setup.setup_context)
        cls._forward_sig = None
        cls._n_params = None
        cls._saves = tuple((i, -1) if type(i) is int else i for i in getattr(cls, "saves", ()))


class Function(metaclass=FunctionMeta):
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


def _keep(node: BackwardNode, saves: tuple, args: tuple, out) -> None:
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


def record_computed(cls, args: tuple, out):
    """Record ``out``, which a fast path computed from ``args`` without ``forward``, as the one
    output of a new ``cls`` node (``cls`` declares ``saves``; no input is changed in place)."""
    node = cls._backward_cls()
    node.needs_input_grad, node.next_edges = _edges(args)
    node.out_meta = _single_meta(out)
    out.grad_fn = node
    if cls._saves:
        _keep(node, cls._saves, args, out)
    if anomaly.enabled:
        _finish(node, (out,))
    return out


# needs_input_grad tuples for up to four inputs, indexed by a bit mask: recording an op then
# allocates no tuple the cyclic GC would have to track for the life of the graph (mask 0 is the
# all-False tuple of an unrecorded call)
_NEEDS = [[tuple(bool(mask >> i & 1) for i in range(n)) for mask in range(1 << n)] for n in range(5)]


def _edges(args: tuple) -> tuple[tuple, list]:
    """Which inputs need a gradient, and the edge each one's gradient travels (graph.gradient_edge,
    inlined: this runs once per recorded op). Taken before forward, so an in-place op's edge
    points at its input's old history."""
    mask = 0
    bit = 1
    edges = []
    for a in args:
        if isinstance(a, Tensor):
            fn = a.grad_fn
            if fn is not None:
                mask |= bit
                edges.append((fn, a._output_nr))
            elif a._requires_grad:
                mask |= bit
                edges.append((grad_accumulator(a), 0))
            else:
                edges.append(None)
        else:
            edges.append(None)
        bit <<= 1
    n = len(args)
    return (_NEEDS[n][mask] if n < 5 else tuple(bool(mask >> i & 1) for i in range(n))), edges


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
        import inspect
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


def _wire(node: BackwardNode, args: tuple, out):
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
                _rebase_view(node, o, next(j for j, a in enumerate(args) if a is o))
                wired.append(o)
                continue
        elif any(o is a for a in args):
            o = o._alias()  # returning an input unchanged: the output is a new tensor sharing its data
        meta.append((o._data.shape, o._data.dtype, o._device))
        if o.dtype.is_floating_point and not any(o is n for n in nondiff):
            o.grad_fn, o._output_nr, o._requires_grad = node, i, False
        wired.append(o)
    _finish(node, wired)
    return wired[0] if single else tuple(wired)


_SINGLE_META: dict = {}


def _single_meta(out) -> tuple:
    """``out_meta`` for a node whose one output is ``out``, shared by all nodes whose output has
    this shape, dtype and device: fewer objects per recorded op for the cyclic GC to track (and
    promote) while the graph lives. Bounded: cleared when full."""
    data = out._data
    key = (data.shape, data.dtype, out._device)
    meta = _SINGLE_META.get(key)
    if meta is None:
        if len(_SINGLE_META) >= 4096:
            _SINGLE_META.clear()
        meta = _SINGLE_META[key] = (key,)
    return meta


def _finish(node: BackwardNode, outputs) -> None:
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


def _region(arr, geometry):
    """The view ``geometry`` (element offset, shape, element strides) of a C-contiguous ``arr``."""
    import numpy as np
    offset, shape, strides = geometry
    flat = arr.reshape(-1)
    as_strided = np.lib.stride_tricks.as_strided if isinstance(arr, np.ndarray) else \
        __import__("cupy").lib.stride_tricks.as_strided
    return as_strided(flat[offset:], shape, tuple(st * arr.itemsize for st in strides))


def _geometry(view, base):
    import numpy as np

    def ptr(a):
        return a.ctypes.data if isinstance(a, np.ndarray) else a.data.ptr
    item = view.itemsize
    return ((ptr(view) - ptr(base)) // item, view.shape, tuple(st // item for st in view.strides))


class CopySlices(Node):
    """History of a base after an in-place op on one of its views (PyTorch's CopySlices).

    Gradient for the base's old value: the incoming gradient with the view's region
    replaced by what the in-place op's backward gives for the view's old value.
    """

    __slots__ = ("fn", "geometry", "dirty_index")

    def __init__(self, fn: Node, base, geometry, dirty_index: int) -> None:
        super().__init__()
        self.fn, self.geometry, self.dirty_index = fn, geometry, dirty_index
        self.out_meta = [(base._data.shape, base._data.dtype, base._device)]
        self.next_edges = [gradient_edge(base)] + [e for j, e in enumerate(fn.next_edges) if j != dirty_index]

    def name(self) -> str:
        return "CopySlices"

    def apply(self, grads: list) -> list:
        from ..ops._common import kernel
        from ..ops.copy import clone
        g = grads[0]
        result = clone(g.detach())
        region = _region(result._data, self.geometry)
        fn_grads = self.fn.apply([Tensor._make(region.copy(), g._device)])
        old = fn_grads[self.dirty_index]
        if old is None:
            region[...] = 0
        else:
            kernel("copy_into", result)(region, old._data)
        return [result] + [x for j, x in enumerate(fn_grads) if j != self.dirty_index]

    def release(self) -> None:
        self.fn.release()


class _ViewOfRebased(Node):
    """History of a view after an in-place op on it: its gradient lands in its region of the base."""

    __slots__ = ("geometry", "base_meta")

    def __init__(self, copy_slices: CopySlices, view) -> None:
        super().__init__()
        self.geometry = copy_slices.geometry
        self.base_meta = copy_slices.out_meta[0]
        self.next_edges = [(copy_slices, 0)]
        self.out_meta = [(view._data.shape, view._data.dtype, view._device)]

    def name(self) -> str:
        return "AsStridedBackward0"

    def apply(self, grads: list) -> list:
        from ..ops._common import kernel
        from ..ops.creation import zeros_from_meta
        out = zeros_from_meta(self.base_meta)
        kernel("copy_into", out)(_region(out._data, self.geometry), grads[0]._data)
        return [out]


def _rebase_view(node: BackwardNode, view, dirty_index: int) -> None:
    """An in-place op on ``view`` changed its base: give the base (and the view) new history."""
    base = view._base
    if base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if not base._data.flags.c_contiguous:
        raise RuntimeError("an in-place operation on a view of a non-contiguous tensor that requires grad "
                           "is not supported; call .contiguous() on the base before taking the view.")
    cs = CopySlices(node, base, _geometry(view._data, base._data), dirty_index)
    base.grad_fn, base._output_nr, base._requires_grad = cs, 0, False
    view.grad_fn, view._output_nr, view._requires_grad = _ViewOfRebased(cs, view), 0, False


def once_differentiable(fn):
    """Wrap a backward that cannot be differentiated: under grad mode its result is detached
    and any attempt to differentiate it raises."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        from .grad_mode import no_grad
        with no_grad():
            out = fn(ctx, *grads)
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
