"""Tensor: an array on a device plus the autograd fields (grad, grad_fn, version).

This is the data structure only. Math, autograd hooks and ``backward`` live in the layers
above, and ``autograd_gpu.api`` binds them as methods and operators (from each op's
declaration), so this module imports nothing above the core.
"""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt
from .device import Device
from .dispatch import kernel, op
from .printing import tensor_repr


_new = object.__new__


class Tensor:
    __slots__ = ("_data", "_device", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vc", "_base",
                 "_acc_ref", "_leaf_hooks", "_post_acc_hooks", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    def __new__(cls, *args, **kwargs):
        if cls is Tensor and args:
            return op("tensor")(*args, **kwargs)
        return object.__new__(cls)

    @classmethod
    def _make(cls, data, device: Device) -> "Tensor":
        """Wrap a backend array without copying; the fast path every op uses."""
        t = _new(cls)
        t._data = data
        t._device = device
        t._requires_grad = False
        t._grad = None
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
    def grad(self) -> "Tensor | None":
        return self._grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if value is not None:
            _check_grad(self, value)
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

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
            raise RuntimeError("Boolean value of Tensor with " + ("no values" if self._data.size == 0 else
                               "more than one value") + " is ambiguous")
        return bool(self._data.item())

    def _scalar(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self._data.item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

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
        return tensor_repr(self)

    def __reduce_ex__(self, proto):
        return (op("rebuild"), (self._host().copy(), str(self._device), self.requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.  If you were attempting to deepcopy a "
                               "module, this may be because of a torch.nn.utils.weight_norm usage.")
        # the copy kernel runs on self's device (CuPy's ndarray.copy() lands on the current one)
        t = Tensor._make(kernel("copy", self)(self._data), self._device)
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    # autograd (backward and the hooks are bound by autograd_gpu.api) ----------------
    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

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

    # devices and dtypes ----------------------------------------------------------
    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def type(self, dtype=None, non_blocking: bool = False, **kwargs):
        """No argument: PyTorch's type string (``'torch.FloatTensor'``), which ported code compares
        against; with a dtype or such a string: the converted tensor (``self`` when nothing changes)."""
        if dtype is None:
            dev = "" if self._device.type == "cpu" else f"{self._device.type}."
            return f"torch.{dev}{self.dtype._torch_name}Tensor"
        if isinstance(dtype, str):
            parsed = _TYPE_STRINGS.get(dtype.split(".", 1)[1] if dtype.startswith(("torch.", "autograd_gpu."))
                                       else None)
            if parsed is None:
                raise ValueError(f"invalid type: '{dtype}'")
            on_cuda, dtype = parsed
            if on_cuda and self._device.type != "cuda":
                return self.to("cuda", dtype)
            if not on_cuda and self._device.type == "cuda":
                return self.to("cpu", dtype)
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

    def short(self) -> "Tensor":
        return self.to(_dt.int16)

    def char(self) -> "Tensor":
        return self.to(_dt.int8)

    def byte(self) -> "Tensor":
        return self.to(_dt.uint8)

    def _storage_offset(self) -> int:
        """Elements between the start of the base's array and ours (0 for a tensor that is no view)."""
        if self._base is None:
            return 0
        return (_address(self._data) - _address(self._base._data)) // self._data.itemsize


def _address(arr) -> int:
    return arr.ctypes.data if isinstance(arr, np.ndarray) else arr.data.ptr


# 'FloatTensor' / 'cuda.FloatTensor' -> (on CUDA?, dtype), for Tensor.type(str)
_TYPE_STRINGS = {f"{dev}{d._torch_name}Tensor": (dev == "cuda.", d) for d in _dt.ALL for dev in ("", "cuda.")}

# C++ type names PyTorch's grad-assignment message uses
_CPP_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double", "int8": "signed char",
              "uint8": "unsigned char", "int16": "short int", "int32": "int", "int64": "long int", "bool": "bool"}


def _check_grad(t: Tensor, g) -> None:
    """PyTorch's checks when ``.grad`` is assigned: a tensor of the same dtype, device and size."""
    if type(g) is not Tensor and not isinstance(g, Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(g).__name__}")
    gd, td = g._data, t._data
    if gd.dtype != td.dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{_CPP_NAMES[g.dtype.name]}' to a tensor "
                           f"with grad_dtype '{t.dtype._torch_name}'. The gradient must match the tensor's "
                           "grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype "
                           "attribute with a specific dtype, or None to allow any dtype. Set grad_dtype with "
                           "caution. Diverging the dtypes of a tensor and its gradient may break downstream "
                           "systems that assume they match.")
    if g._device is not t._device:
        if g._device.type != t._device.type:
            raise RuntimeError(f"attempting to assign a gradient with device type '{g._device.type}' to a tensor "
                               f"with device type '{t._device.type}'. Please ensure that the gradient and the "
                               "tensor are on the same device")
        raise RuntimeError(f"attempting to assign a gradient located on device with index '{g.get_device()}' to a "
                           f"tensor located on device with index '{t.get_device()}'. Please ensure that the "
                           "gradient and the tensor are on the same device")
    if gd.shape != td.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{list(gd.shape)}' to a tensor of size "
                           f"'{list(td.shape)}'. Please ensure that the gradient and the tensor are the same size")


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def type_name(t: Tensor) -> str:
    """PyTorch's legacy type name (``torch.cuda.FloatTensor``), used in error messages."""
    dev = "" if t._device.type == "cpu" else f"{t._device.type}."
    return f"autograd_gpu.{dev}{t.dtype._torch_name}Tensor"


def wrap(out, device: Device) -> Tensor:
    """A kernel's result as a tensor: NumPy returns a scalar, not a 0-d array, for 0-d inputs."""
    if type(out) is not np.ndarray and isinstance(out, np.generic):
        out = np.asarray(out)
    return Tensor._make(out, device)
