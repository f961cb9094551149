"""Scatter with a reduction: ``scatter_reduce`` (sum, prod, mean, amax, amin; ``include_self``),
``scatter`` itself (plain, or the legacy ``reduce="add"|"multiply"``) and their in-place forms,
forward and backward on both backends.

CPU: ``np.<ufunc>.at``; CUDA: one kernel, ``scatter_reduce_fwd`` (atomicAdd for sums, a
compare-and-swap loop for prod/amax/amin), after a scatter of the reduction's identity where
``include_self=False``; mean divides by the counts afterwards (floor division for integers, as
PyTorch). The gradients are PyTorch's: prod treats zeros exactly (a single zero gets the product
of the others), amax/amin share the gradient evenly among the elements equal to the result,
counting ``self``'s element even when ``include_self=False`` (as PyTorch does).

Duplicate indices: scatter keeps one of the values (CPU: the last; CUDA: unspecified, as
PyTorch); the reductions combine all of them (sums in an unspecified order on CUDA).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.recording import OUT
from ..backends import cuda
from ..backends.cuda_index import reduce_identity
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel
from .compare import clamp, where
from .creation import full
from .gather_scatter import (Gather, Scatter, ScatterAdd, ScatterValue, _along_axis, _cast_like, _check_np, _grow,
                             _index_region, _inplace, check_gather_args)
from .index import _zeros
from .registry import export

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def _scatter_reduce_np(x, axis, index, src, reduce, include_self, *, check=None):
    _check_np(index, x.shape[axis], check)
    out = np.array(x, copy=True)
    at = _along_axis(index, axis)
    with np.errstate(all="ignore"):
        if not include_self:
            out[at] = reduce_identity(reduce, out.dtype)
        _UFUNCS[reduce].at(out, at, src[_index_region(index.shape, axis, True)])
        if reduce == "mean":
            count = np.full(out.shape, int(include_self), dtype=np.int64)
            np.add.at(count, at, 1)
            count = np.maximum(count, 1)
            out = (out / count if out.dtype.kind == "f" else np.floor_divide(out, count)).astype(out.dtype)
    return out


register("scatter_reduce_fwd", "numpy", _scatter_reduce_np)
register("scatter_reduce_fwd", "cupy", cuda.index("scatter_reduce_fwd"))


class ScatterReduce(Function):
    node_name = "ScatterReduceBackward0"
    saves = (0, 3, OUT)   # self, src and the result (prod, amax and amin read them)

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, include_self: bool,
                check=None) -> Tensor:
        ctx.dim, ctx.index, ctx.reduce, ctx.include_self = dim, index, reduce, include_self
        out = kernel("scatter_reduce_fwd", x)(x._data, dim, index._data, _cast_like(src, x), reduce, include_self,
                                              check=check)
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, src, out = ctx.saved_tensors
        dim, index, reduce, inc = ctx.dim, ctx.index, ctx.reduce, ctx.include_self
        shape = index._data.shape
        s = src if src._data.shape == shape else src[_index_region(shape, dim, True)]

        def gather(t):
            return Gather.apply(t, dim, index)
        if reduce == "sum":
            gx, gs = g, gather(g)
        elif reduce == "mean":
            n = ScatterAdd.apply(full(x.shape, float(inc), dtype=g.dtype, device=g.device), dim, index,
                                 full(shape, 1.0, dtype=g.dtype, device=g.device))
            gx = g / clamp(n, min=1)
            gs = gather(gx)
        elif reduce == "prod":
            mx = where(x == 0, 1.0, x)
            gx = g * ScatterReduce.apply(mx, dim, index, s, "prod", inc) / mx
            zero = s == 0
            nzero = gather(ScatterAdd.apply(_zeros(x.shape, g), dim, index, zero.to(g.dtype)))
            single = zero & (nzero == 1)
            alone = ScatterReduce.apply(x, dim, index, where(single, 1.0, s), "prod", inc)
            gs = where(single, gather(g * alone), gather(g * out) / where(zero, 1.0, s))
        else:   # amax / amin: shared evenly among the elements equal to the result
            self_is = (x == out).to(g.dtype)
            src_is = (s == gather(out)).to(g.dtype)
            share = g / ScatterAdd.apply(self_is, dim, index, src_is)
            gx, gs = self_is * share, src_is * gather(share)
        if not inc:
            gx = ScatterValue.apply(gx, dim, index, 0)
        need = ctx.needs_input_grad
        return (gx if need[0] else None), None, None, (_grow(gs, src.shape) if need[3] else None), None, None, None


def _scatter_reduce_args(op: str, input: Tensor, dim: int, index: Tensor, src, reduce: str) -> tuple:
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}(): argument 'src' (position 4) must be Tensor, not {type(src).__name__}")
    if reduce not in _REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    d, check = check_gather_args(op, input, dim, index, src)
    if reduce == "mean" and input._data.dtype == np.bool_:
        raise NotImplementedError('"scatter_gather_tensor_cpu_reduce_mean" not implemented for \'Bool\'')
    return d, check


@export
def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """``input`` with every ``src`` element combined into slot ``index`` along ``dim`` by ``reduce``;
    with ``include_self=False`` the slots that receive values start empty instead of from ``input``."""
    d, check = _scatter_reduce_args("scatter_reduce", input, dim, index, src, reduce)
    return ScatterReduce.apply(input, d, index, src, reduce, bool(include_self), check)


@export(function=False)
def scatter_reduce_(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    d, check = _scatter_reduce_args("scatter_reduce_", self, dim, index, src, reduce)
    return _inplace(ScatterReduce, self, d, index, src, reduce, bool(include_self), check)


_LEGACY = {"add": "sum", "multiply": "prod"}


def _scatter_args(op: str, input: Tensor, dim: int, index: Tensor, src, value, reduce) -> tuple:
    """(cls, args after ``input``) of scatter/scatter_: a tensor ``src``, a number ``value``, or
    the legacy ``reduce`` (scatter_reduce's sum/prod with include_self; a number goes as a tensor)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError(f"{op}() missing required argument 'src' or 'value'")
    if reduce is not None and reduce not in _LEGACY:
        raise RuntimeError("reduce argument must be either add or multiply.")
    d, check = check_gather_args(op, input, dim, index, src if isinstance(src, Tensor) else None)
    if reduce is not None:
        if not isinstance(src, Tensor):
            src = full(index._data.shape, src, dtype=input.dtype, device=input.device)
        return ScatterReduce, (d, index, src, _LEGACY[reduce], True, check)
    return (Scatter if isinstance(src, Tensor) else ScatterValue), (d, index, src, check)


@export
def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """``input`` with ``src`` (a tensor, or the number ``value``) written at ``index`` along ``dim``.
    Repeated indices keep one of the written values: the last on CPU, unspecified on CUDA (as
    PyTorch). ``reduce="add"|"multiply"`` combines instead (PyTorch's legacy form; unlike PyTorch,
    which has no derivative for it, it is differentiable here, as scatter_reduce's sum/prod)."""
    cls, args = _scatter_args("scatter", input, dim, index, src, value, reduce)
    return cls.apply(input, *args)


@export(function=False)
def scatter_(self: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    cls, args = _scatter_args("scatter_", self, dim, index, src, value, reduce)
    return _inplace(cls, self, *args)
