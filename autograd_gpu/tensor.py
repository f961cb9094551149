"""Tensor: an array on a device plus the autograd fields (grad, grad_fn, version).

Math lives in ``ops``; each ops module lists in ``METHODS`` the functions that are
also Tensor methods, and they are attached at the bottom of this file.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import dtypes as _dt
from .autograd.graph import RemovableHandle, grad_accumulator
from .device import Device


class Tensor:
    __slots__ = ("_data", "_device", "_requires_grad", "grad", "grad_fn", "_output_nr", "_vc", "_base",
                 "_acc_ref", "_leaf_hooks", "_post_acc_hooks", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    def __new__(cls, *args, **kwargs):
        if cls is Tensor and args:
            from .ops.creation import tensor
            return tensor(*args, **kwargs)
        return object.__new__(cls)

    @classmethod
    def _make(cls, data, device: Device) -> "Tensor":
        """Wrap a backend array without copying; the fast path every op uses."""
        t = object.__new__(cls)
        t._data = data
        t._device = device
        t._requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._vc = [0]
        t._base = None
        t._acc_ref = None
        t._leaf_hooks = None
        t._post_acc_hooks = None
        t._retains_grad = False
        return t

    def _alias(self) -> "Tensor":
        """A new tensor over the same data and version counter (a view of the whole)."""
        t = Tensor._make(self._data, self._device)
        t._vc = self._vc
        t._base = self._base if self._base is not None else self
        return t

    def _view_of(self, data) -> "Tensor":
        """Wrap ``data`` (a view of this tensor's array) as a tensor sharing our version counter."""
        t = Tensor._make(data, self._device)
        t._vc = self._vc
        t._base = self._base if self._base is not None else self
        return t

    # attributes ----------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> _dt.DType:
        return _dt.from_numpy(self._data.dtype)

    @property
    def device(self) -> Device:
        return self._device

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad or self.grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want "
                                   "to use a computed variable in a subgraph that doesn't require "
                                   "differentiation use var_no_grad = var.detach().")
            return
        if value and self._data.dtype.kind != "f":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def data(self) -> "Tensor":
        """Same storage, detached, with its own version counter (changes through it are untracked)."""
        return Tensor._make(self._data, self._device)

    @data.setter
    def data(self, other: "Tensor") -> None:
        self._data = other._data
        self._device = other._device

    def size(self, dim: int | None = None):
        if dim is None:
            return self._data.shape
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def get_device(self) -> int:
        return -1 if self._device.type == "cpu" else self._device.index

    # conversion to Python / NumPy -----------------------------------------------
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self):
        return self._host().tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if not force:
            if self._device.type != "cpu":
                raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() "
                                "to copy the tensor to host memory first.")
            if self.requires_grad:
                raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                                   "tensor.detach().numpy() instead.")
            return self._data
        return self._host()

    def _host(self) -> np.ndarray:
        if self._device.type == "cpu":
            return self._data
        return self._device.backend.to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        if self._device.type != "cpu":
            raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() "
                            "to copy the tensor to host memory first.")
        return self._data if dtype is None else self._data.astype(dtype)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        from .printing import tensor_repr
        return tensor_repr(self)

    def __reduce_ex__(self, proto):
        from .ops.creation import _rebuild
        return (_rebuild, (self._host().copy(), str(self._device), self.requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.  If you were attempting to deepcopy a "
                               "module, this may be because of a torch.nn.utils.weight_norm usage.")
        t = Tensor._make(self._data.copy(), self._device)
        t._requires_grad = self._requires_grad
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    # autograd ------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        from .autograd import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def detach(self) -> "Tensor":
        t = Tensor._make(self._data, self._device)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        if self._base is not None and self.grad_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        import weakref
        ref = weakref.ref(self)

        def hook(grad):
            t = ref()
            if t is None:
                return
            from .autograd.grad_mode import is_grad_enabled
            if t.grad is None:
                t.grad = grad if is_grad_enabled() else grad.detach()
            else:
                t.grad = t.grad + grad
        node = self.grad_fn
        if node.retains_grad_hooks is None:
            node.retains_grad_hooks = {}
            node.plain = False
        node.retains_grad_hooks[self._output_nr] = hook
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[["Tensor"], "Tensor | None"]) -> RemovableHandle:
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
        from .autograd.graph import _HookDict
        h = RemovableHandle(_HookDict(hooks))
        hooks[h._key] = hook
        return h

    def register_post_accumulate_grad_hook(self, hook: Callable[["Tensor"], None]) -> RemovableHandle:
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = {}
        from .autograd.graph import _HookDict
        h = RemovableHandle(_HookDict(self._post_acc_hooks))
        self._post_acc_hooks[h._key] = hook
        return h

    def _grad_accumulator(self):
        return grad_accumulator(self)

    # devices and dtypes ----------------------------------------------------------
    def to(self, *args, **kwargs) -> "Tensor":
        from .ops.copy import to
        return to(self, *args, **kwargs)

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def type(self, dtype=None):
        if dtype is None:
            return _type_name(self)
        return self.to(dtype)

    def float(self) -> "Tensor":
        return self.to(_dt.float32)

    def double(self) -> "Tensor":
        return self.to(_dt.float64)

    def half(self) -> "Tensor":
        return self.to(_dt.float16)

    def long(self) -> "Tensor":
        return self.to(_dt.int64)

    def int(self) -> "Tensor":
        return self.to(_dt.int32)

    def bool(self) -> "Tensor":
        return self.to(_dt.bool)

    # operators: bound to the op functions at the bottom of this file (no extra frame);
    # only the reflected forms, which swap operands, need a method of their own
    def __radd__(self, other): return _ops.add(other, self)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __rfloordiv__(self, other): return _ops.floor_divide(other, self)
    def __rmod__(self, other): return _ops.remainder(other, self)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __pos__(self): return self
    def __invert__(self): return _ops.logical_not(self) if self._data.dtype.kind == "b" else _ops.bitwise_not(self)
    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)
    def __getitem__(self, index): return _ops.getitem(self, index)
    def __setitem__(self, index, value): _ops.setitem(self, index, value)

    @property
    def T(self) -> "Tensor":
        return _ops.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Tensor":
        return _ops.transpose(self, -2, -1)


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _type_name(t: Tensor) -> str:
    from .autograd.function import _type_name as tn
    return tn(t)


from .autograd import function as _function  # noqa: E402

_function.Tensor = Tensor
from . import ops as _ops  # noqa: E402  (ops import Tensor; attach their methods now)

for _name in _ops.METHODS:
    setattr(Tensor, _name, getattr(_ops, _name))
_OPERATORS = {"__add__": "add", "__sub__": "sub", "__mul__": "mul", "__truediv__": "div",
              "__floordiv__": "floor_divide", "__mod__": "remainder", "__pow__": "pow", "__matmul__": "matmul",
              "__neg__": "neg", "__abs__": "abs", "__and__": "logical_and", "__or__": "logical_or",
              "__xor__": "logical_xor", "__eq__": "eq", "__ne__": "ne", "__lt__": "lt", "__le__": "le",
              "__gt__": "gt", "__ge__": "ge"}
for _dunder, _name in _OPERATORS.items():
    setattr(Tensor, _dunder, getattr(_ops, _name))
