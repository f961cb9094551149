"""Max/average pooling 1-3 d and ``max_unpool`` (adaptive pooling: ``pooling_adaptive.py``).

Every op views its input as ``(B, *spatial)`` (B = N*C, or C unbatched) and runs one kernel on it.
CPU kernels (``pooling_kernels.py``) loop over kernel taps only: each tap is a strided slice of the
input (of a padded copy only when padding or a ceil_mode overhang needs one). Max pool saves flat argmax indices per (n, c)
plane, as PyTorch; its backward scatters by them (a plain write when windows cannot overlap) and is itself
differentiable (a gather by the same indices), so double backward works. Avg pool forward and
backward are each other's adjoints.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..backends.cuda_pooling import launcher as _cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel, on_device, values_indices
from .pooling_kernels import (_np_avg_pool_bwd, _np_avg_pool_fwd, _np_gather, _np_max_pool_bwd, _np_max_pool_fwd,
                              _np_scatter, _np_scatter_add)
from .registry import export


# geometry -----------------------------------------------------------------------------------------
def _ntuple(v, n: int, what: str, op: str) -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return tuple(int(v[0]) for _ in range(n))
        if len(v) != n:
            raise RuntimeError(f"{op}: {what} must either be a single int, or a tuple of {('', 'one', 'two', 'three')[n]}"
                               f" ints")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def out_len(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """PyTorch's pooling_output_shape: with ceil_mode a last window starting in the right padding
    is dropped."""
    o = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= size + p:
        o -= 1
    return o


def _pool_args(x: Tensor, n: int, op: str, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    """(k, s, p, d, spatial, out spatial) after PyTorch's argument and shape checks."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    nd = x.ndim
    if nd not in (n + 1, n + 2) or (n > 1 and 0 in x.shape[-n:]):
        if op == "max_pool1d":
            msg = f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, " \
                  f"but got:{list(x.shape)}"
        elif op == "avg_pool1d":
            msg = f"Expected 2 to 3 dimensions, but got {nd}-dimensional tensor for argument #1 'self' (while " \
                  f"checking arguments for avg_pool1d)"
        else:
            msg = f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for input"
        raise RuntimeError(msg)
    k = _ntuple(kernel_size, n, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _ntuple(stride, n, "stride", op)
    p = _ntuple(padding, n, "padding", op)
    d = _ntuple(dilation, n, "dilation", op)
    one = op == "max_pool1d"
    if any(a <= 0 for a in k):
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k[0]}" if one else
                           f"kernel size should be greater than zero, but got {_hw(k, 'k')}")
    if any(a == 0 for a in s):
        raise RuntimeError("max_pool1d() stride must be greater than zero, but got 0" if one else
                           "stride should not be zero")
    if any(a < 0 for a in s):
        raise RuntimeError(f"stride should be greater than zero, but got {_hw(s, 'd')}")
    if any(a <= 0 for a in d):
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d[0]}" if one else
                           f"dilation should be greater than zero, but got {_hw(d, 'dilation')}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or pp > ((kk - 1) * dd + 1) // 2:
            raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got padding={pp} "
                               f"and kernel_size={kk}" if one else
                               f"pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk} and dilation={dd}")
    S = tuple(x.shape[-n:])
    if op == "avg_pool3d" and any(sz + 2 * pp < kk for sz, pp, kk in zip(S, p, k)):
        raise RuntimeError(f"input image (T: {S[0]} H: {S[1]} W: {S[2]}) smaller than kernel size "
                           f"(kT: {k[0]} kH: {k[1]} kW: {k[2]})")
    O = tuple(out_len(*a, ceil_mode) for a in zip(S, k, s, p, d))
    if any(o <= 0 for o in O):
        if one:
            raise RuntimeError(f"max_pool1d() Invalid computed output size: {O[0]}")
        c = x.shape[-n - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (c,) + S))}). Calculated output size: "
                           f"({'x'.join(map(str, (c,) + O))}). Output size is too small")
    return k, s, p, d, S, O


def _hw(v: tuple, pre: str) -> str:
    names = ("T", "H", "W")[-len(v):] if len(v) > 1 else ("W",)
    return " ".join(f"{pre}{nm}: {a}" for nm, a in zip(names, v))


def _planes(x: Tensor, n: int):
    """x's data as (B, *spatial) and its leading shape."""
    xd = x._data
    lead = tuple(xd.shape[:-n])
    return xd.reshape((math.prod(lead),) + tuple(xd.shape[-n:])), lead


register("max_pool_fwd", "numpy", _np_max_pool_fwd)
register("max_pool_fwd", "cupy", _cuda("max_pool_fwd"))
register("max_pool_bwd", "numpy", _np_max_pool_bwd)
register("max_pool_bwd", "cupy", _cuda("max_pool_bwd"))          # one thread per input: no atomics
register("avg_pool_fwd", "numpy", _np_avg_pool_fwd)
register("avg_pool_fwd", "cupy", _cuda("avg_pool_fwd"))
register("avg_pool_bwd", "numpy", _np_avg_pool_bwd)
register("avg_pool_bwd", "cupy", _cuda("avg_pool_bwd"))          # one thread per input: no atomics
register("pool_gather_fwd", "numpy", _np_gather)
register("pool_gather_fwd", "cupy", _cuda("pool_gather_fwd"))
register("pool_scatter_fwd", "numpy", _np_scatter)
register("pool_scatter_fwd", "cupy", _cuda("pool_scatter_fwd"))
register("pool_scatter_add_fwd", "numpy", _np_scatter_add)
register("pool_scatter_add_fwd", "cupy", _cuda("pool_scatter_add_fwd"))   # atomics (windows overlap)


# Functions ----------------------------------------------------------------------------------------
def _run(op: str, ref: Tensor, n_out: int, lead: tuple, *arrays_and_args):
    out = kernel(op, ref)(*arrays_and_args)
    if isinstance(out, tuple):
        return tuple(o.reshape(lead + tuple(o.shape[1:])) for o in out)
    return out.reshape(lead + tuple(out.shape[1:]))


class PoolGather(Function):
    """out[b, j] = x[b, idx[b, j]] over flat planes; the adjoint of ``PoolScatterAdd``."""
    node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, idx: Tensor, n: int) -> Tensor:
        ctx.n, ctx.S = n, tuple(x.shape[-n:])
        ctx.save_for_backward(idx)
        xd, lead = _planes(x, n)
        idd, _ = _planes(idx, n)
        return Tensor._make(_run("pool_gather_fwd", x, 1, lead, xd, idd), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        (idx,) = ctx.saved_tensors
        return PoolScatterAdd.apply(g, idx, ctx.n, ctx.S), None, None


class PoolScatterAdd(Function):
    """gx of plane shape S with g summed in at idx (max-pool-style backward); adjoint of ``PoolGather``."""
    node_name = "ScatterAddBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, idx: Tensor, n: int, S: tuple) -> Tensor:
        ctx.n = n
        ctx.save_for_backward(idx)
        gd, lead = _planes(g, n)
        idd, _ = _planes(idx, n)
        return Tensor._make(_run("pool_scatter_add_fwd", g, 1, lead, gd, idd, S), g._device)

    @staticmethod
    def backward(ctx, gg: Tensor):
        (idx,) = ctx.saved_tensors
        return PoolGather.apply(gg, idx, ctx.n), None, None, None


class MaxPoolBackward(Function):
    """Max pool's input gradient: g scattered by the saved argmax (linear in g)."""
    node_name = "MaxPoolWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, idx: Tensor, geom: tuple) -> Tensor:
        ctx.n = len(geom[0])
        ctx.save_for_backward(idx)
        k, s, p, d, S = geom
        gd, lead = _planes(g, ctx.n)
        idd, _ = _planes(idx, ctx.n)
        return Tensor._make(_run("max_pool_bwd", g, 1, lead, gd, idd, S, k, s, p, d), g._device)

    @staticmethod
    def backward(ctx, gg: Tensor):
        (idx,) = ctx.saved_tensors
        return PoolGather.apply(gg, idx, ctx.n), None, None


class MaxPool(Function):
    """Values, and the indices only when asked; otherwise the indices are a plain saved
    intermediate, freed when the node has run."""
    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, geom: tuple, O: tuple, with_indices: bool = True):
        k, s, p, d, S = geom
        ctx.geom = geom
        xd, lead = _planes(x, len(k))
        v, i = _run("max_pool_fwd", x, 2, lead, xd, k, s, p, d, O)
        if with_indices:
            return values_indices(ctx, x, v, i)
        ctx.save_for_backward(Tensor._make(i, x._device))
        return Tensor._make(v, x._device)

    @staticmethod
    def backward(ctx, g: Tensor, _gi=None):
        (idx,) = ctx.saved_tensors
        return MaxPoolBackward.apply(g, idx, ctx.geom), None, None, None


class AvgPool(Function):
    """Average pool; backward is ``AvgPoolBackward`` (its adjoint), whose backward is this again."""
    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, geom: tuple, O: tuple) -> Tensor:
        ctx.geom = geom
        k, s, p, S, cip, div = geom
        xd, lead = _planes(x, len(k))
        return Tensor._make(_run("avg_pool_fwd", x, 1, lead, xd, k, s, p, O, cip, div), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return AvgPoolBackward.apply(g, ctx.geom), None, None


class AvgPoolBackward(Function):
    node_name = "AvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, geom: tuple) -> Tensor:
        ctx.geom = geom
        ctx.O = tuple(g.shape[-len(geom[0]):])
        k, s, p, S, cip, div = geom
        gd, lead = _planes(g, len(k))
        return Tensor._make(_run("avg_pool_bwd", g, 1, lead, gd, S, k, s, p, cip, div), g._device)

    @staticmethod
    def backward(ctx, gg: Tensor):
        return AvgPool.apply(gg, ctx.geom, ctx.O), None


class MaxUnpool(Function):
    node_name = "MaxUnpool2DBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, idx: Tensor, S: tuple) -> Tensor:
        ctx.n = len(S)
        ctx.save_for_backward(idx)
        xd, lead = _planes(x, ctx.n)
        idd, _ = _planes(idx, ctx.n)
        return Tensor._make(_run("pool_scatter_fwd", x, 1, lead, xd, idd, S), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        (idx,) = ctx.saved_tensors
        return PoolGather.apply(g, idx, ctx.n), None, None


# public ops -----------------------------------------------------------------------------------------
def _max_pool(n: int, op: str, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d, S, O = _pool_args(input, n, op, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool.apply(input, (k, s, p, d, S), O, bool(return_indices))


@export(nn=True, method=False)
def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """PyTorch's ``F.max_pool1d`` (also ``ag.max_pool1d``)."""
    return _max_pool(1, "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(nn=True, method=False)
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    return _max_pool(2, "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(nn=True, method=False)
def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    return _max_pool(3, "max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@export(nn=True, method=False)
def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    return _max_pool(1, "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, True)


@export(nn=True, function=False, method=False)
def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    return _max_pool(2, "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, True)


@export(nn=True, function=False, method=False)
def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    return _max_pool(3, "max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(n, op, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, _, S, O = _pool_args(input, n, op, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"avg_pool{n}d\" not implemented for '{input.dtype._torch_name}'")
    return AvgPool.apply(input, (k, s, p, S, bool(count_include_pad), divisor_override), O)


@export(nn=True, method=False)
def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    return _avg_pool(1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


@export(nn=True, function=False, method=False)
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    return _avg_pool(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


@export(nn=True, function=False, method=False)
def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    return _avg_pool(3, "avg_pool3d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _max_unpool(n, input, indices, kernel_size, stride, padding, output_size) -> Tensor:
    if indices.dtype.name != "int64":   # PyTorch's check; the CUDA kernels read the indices as int64
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype._torch_name}")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Input to max_unpooling{max(n, 2)}d should be a {max(n, 2) + 1 - (n == 1)}d or "
                           f"{max(n, 2) + 2 - (n == 1)}d Tensor, but got a tensor with {input.ndim} dimensions.")
    k = _ntuple(kernel_size, n, "kernel_size", f"max_unpool{n}d")
    s = k if stride is None else _ntuple(stride, n, "stride", f"max_unpool{n}d")
    p = _ntuple(padding, n, "padding", f"max_unpool{n}d")
    default = [(input.shape[-n + a] - 1) * s[a] + k[a] - 2 * p[a] for a in range(n)]
    if output_size is None:
        S = tuple(default)
    else:
        size = list(output_size)
        if len(size) == n + 2 or len(size) == n + 1 and input.ndim == n + 1:
            size = size[-n:]
        if len(size) != n:
            raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a "
                             f"length of '{len(size)}'")
        for a in range(n):
            lo, hi = default[a] - s[a], default[a] + s[a]
            if not lo < size[a] < hi:
                raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {a} must be between {lo} and {hi})')
        S = tuple(int(v) for v in size)
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) "
                           f"but got indices tensor with shape: {list(indices.shape)}")
    idd = indices._data
    with on_device(indices):   # CuPy reduces on the current device: make it the indices'
        lo, hi = (int(idd.min()), int(idd.max())) if idd.size else (0, 0)
    if idd.size and (lo < 0 or hi >= math.prod(S)):
        bad = hi if hi >= math.prod(S) else lo
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size {'x'.join(map(str, S))})")
    return MaxUnpool.apply(input, indices, S)


@export(nn=True, function=False, method=False)
def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


@export(nn=True, function=False, method=False)
def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


@export(nn=True, function=False, method=False)
def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


from . import pooling_adaptive  # noqa: E402,F401 - the adaptive family registers its ops
