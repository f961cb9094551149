"""The binding: the public surface made from the layers below, once, at import.

- ``Tensor.X`` for every op declared with a method (``ops.registry.METHODS``), and the
  operators each declaration names (``operators=("__add__",)``); the reflected form
  (``__radd__``) and the augmented form (``__iadd__``: the op's derived in-place form) follow
  from Python's data model, not from a list of ops.
- The autograd layer's and the engine's Tensor methods (hooks, ``backward``).
- ``ag.autograd``'s functions that live above it: ``backward``/``grad`` (engine),
  ``gradcheck`` and ``functional`` (this package, built on the ops).
"""
from __future__ import annotations

import sys

from .. import autograd as _autograd
from ..autograd import graph as _graph
from ..engine import api as _engine_api
from ..engine import engine as _engine
from ..ops import copy as _copy, registry
from ..tensor import Tensor
from . import functional, gradcheck

_REFLECTED = {"__add__": "__radd__", "__sub__": "__rsub__", "__mul__": "__rmul__", "__truediv__": "__rtruediv__",
              "__floordiv__": "__rfloordiv__", "__mod__": "__rmod__", "__pow__": "__rpow__",
              "__matmul__": "__rmatmul__", "__and__": "__rand__", "__or__": "__ror__", "__xor__": "__rxor__",
              "__lshift__": "__rlshift__", "__rshift__": "__rrshift__"}
_AUGMENTED = {"__add__": "__iadd__", "__sub__": "__isub__", "__mul__": "__imul__", "__truediv__": "__itruediv__",
              "__floordiv__": "__ifloordiv__", "__mod__": "__imod__", "__pow__": "__ipow__", "__and__": "__iand__",
              "__or__": "__ior__", "__xor__": "__ixor__", "__lshift__": "__ilshift__", "__rshift__": "__irshift__"}


def _reflected(fn):
    def reflected(self, other):
        return fn(other, self)
    reflected.__name__ = f"reflected_{fn.__name__}"
    return reflected


def _augmented(inplace):
    def augmented(self, other):
        return inplace(self, other)
    augmented.__name__ = inplace.__name__
    return augmented


def bind() -> None:
    for name, fn in registry.METHODS.items():
        setattr(Tensor, name, fn)
    for dunder, fn in registry.OPERATORS.items():
        setattr(Tensor, dunder, fn)
        if dunder in _REFLECTED:
            setattr(Tensor, _REFLECTED[dunder], _reflected(fn))
        inplace = registry.METHODS.get(f"{fn.__name__}_")
        if dunder in _AUGMENTED and inplace is not None:
            setattr(Tensor, _AUGMENTED[dunder], _augmented(inplace))
    for name in _graph.TENSOR_METHODS:
        setattr(Tensor, name, getattr(_graph, name))
    Tensor._grad_accumulator = _graph.grad_accumulator
    Tensor.backward = _engine_api.tensor_backward
    Tensor.to = _copy.to
    Tensor.T = property(lambda self: self.permute(tuple(range(self._data.ndim - 1, -1, -1))))
    Tensor.mT = property(lambda self: self.transpose(-2, -1))

    for name in ("backward", "grad"):
        setattr(_autograd, name, getattr(_engine_api, name))
    _autograd.set_multithreading_enabled = _engine.set_multithreading_enabled
    _autograd.is_multithreading_enabled = _engine.is_multithreading_enabled
    _autograd.gradcheck, _autograd.gradgradcheck = gradcheck.gradcheck, gradcheck.gradgradcheck
    _autograd.GradcheckError = gradcheck.GradcheckError
    _autograd.functional = functional
    sys.modules["autograd_gpu.autograd.functional"] = functional   # ``import autograd_gpu.autograd.functional``
    sys.modules["autograd_gpu.autograd.gradcheck"] = gradcheck


bind()
