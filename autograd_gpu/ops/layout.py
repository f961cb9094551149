"""Shape ops that build new layouts: the strided views diagonal and Tensor.unfold, and the copies
diag, tile, repeat_interleave; meshgrid (views through reshape/expand).

diagonal and unfold are one ``strided_view`` of the input's own array (shape and byte strides
computed here, so any input strides work on both backends): storage and version counter are
shared, as PyTorch's views are. Their adjoints write the gradient into the same strided region of
zeros (``copy_into``; unfold's overlapping windows add through ``index_add_fwd``), and each
adjoint's backward is the view again, so double backward is exact. The copies reuse existing
differentiable ops (repeat, expand + clone, index_select): no kernel of their own.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np

from ..autograd.function import Function
from ..device import get_backend
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel, wrap_dim
from .broadcast import expand
from .copy import clone
from .gather_scatter import IndexSelect
from .index import _on_device, _zeros
from .rearrange import repeat
from .registry import export
from .shape import flatten, narrow, reshape, unsqueeze


def _strided_np(a: np.ndarray, shape: tuple, strides: tuple) -> np.ndarray:
    """``a`` seen with ``shape`` and byte ``strides``, built on the array that owns the memory so
    its ``.base`` chain reaches the storage (NumPy's as_strided hides it behind a non-array base,
    and then the engine cannot tell that two gradients alias)."""
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not root.flags.c_contiguous:   # no buffer to build on: a plain as_strided view
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=a.flags.writeable)
    out = np.ndarray(shape, a.dtype, buffer=root, offset=a.ctypes.data - root.ctypes.data, strides=strides)
    if not a.flags.writeable:
        out.flags.writeable = False
    return out


register("strided_view", "numpy", _strided_np)
register("strided_view", "cupy",   # a view: no kernel
         lambda a, shape, strides: get_backend("cuda").xp.lib.stride_tricks.as_strided(a, shape, strides))


def _int(v, fn: str, arg: str, pos: int) -> int:
    """An int argument, refusing floats as PyTorch's argument parser does."""
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be int, not {type(v).__name__}") from None


# diagonal (a view) and its adjoint ---------------------------------------------------------------
def _diagonal_array(a, offset: int, d1: int, d2: int, t: Tensor):
    """The diagonal of array ``a`` over dims ``d1``/``d2`` as a strided view, the diagonal last."""
    n1, n2 = a.shape[d1], a.shape[d2]
    length = max(min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2), 0)
    if length:   # start at the diagonal's first element: a basic slice is a view on either backend
        sl = [slice(None)] * a.ndim
        sl[d2 if offset >= 0 else d1] = slice(abs(offset), None)
        a = a[tuple(sl)]
    keep = [i for i in range(a.ndim) if i != d1 and i != d2]
    shape = tuple(a.shape[i] for i in keep) + (length,)
    strides = tuple(a.strides[i] for i in keep) + (a.strides[d1] + a.strides[d2],)
    return kernel("strided_view", t)(a, shape, strides)


class Diagonal(Function):
    node_name = "DiagonalBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, offset: int, d1: int, d2: int) -> Tensor:
        ctx.in_shape, ctx.args = x._data.shape, (offset, d1, d2)
        return x._view_of(_diagonal_array(x._data, offset, d1, d2, x))

    @staticmethod
    def backward(ctx, g: Tensor):
        return DiagonalScatter.apply(g, ctx.in_shape, *ctx.args), None, None, None


class DiagonalScatter(Function):
    """Zeros of ``shape`` with ``g`` on the diagonal: diagonal's adjoint, and diag of a vector."""
    node_name = "DiagonalBackwardBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple, offset: int, d1: int, d2: int) -> Tensor:
        ctx.args = (offset, d1, d2)
        out = _zeros(shape, g)
        if g._data.size:
            kernel("copy_into", g)(_diagonal_array(out._data, offset, d1, d2, g), g._data)
        return out

    @staticmethod
    def backward(ctx, gg: Tensor):
        return Diagonal.apply(gg, *ctx.args), None, None, None, None


class _DiagEmbed(DiagonalScatter):
    node_name = "DiagEmbedBackward0"


@export
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal over ``dim1``/``dim2`` (moved to the last dim); offset > 0 is above."""
    offset = _int(offset, "diagonal", "offset", 2)
    n = input._data.ndim
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset, d1, d2)


@export
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A vector becomes a square matrix with it on diagonal ``diagonal``; a matrix gives a copy of
    that diagonal."""
    k = _int(diagonal, "diag", "diagonal", 2)
    n = input._data.ndim
    if n == 1:
        size = input._data.shape[0] + abs(k)
        return _DiagEmbed.apply(input, (size, size), k, 0, 1)
    if n == 2:
        return clone(Diagonal.apply(input, k, 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {n}D")


# Tensor.unfold (a view) and its adjoint ----------------------------------------------------------
class Unfold(Function):
    node_name = "UnfoldBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, d: int, size: int, step: int) -> Tensor:
        a = x._data
        ctx.in_shape, ctx.args = a.shape, (d, size, step)
        shape = a.shape[:d] + ((a.shape[d] - size) // step + 1,) + a.shape[d + 1:] + (size,)
        strides = a.strides[:d] + (a.strides[d] * step,) + a.strides[d + 1:] + (a.strides[d],)
        return x._view_of(kernel("strided_view", x)(a, shape, strides))

    @staticmethod
    def backward(ctx, g: Tensor):
        return UnfoldScatter.apply(g, ctx.in_shape, *ctx.args), None, None, None


class UnfoldScatter(Function):
    """Each window's gradient added back where it came from. Windows apart by ``step >= size``
    never overlap: one strided copy into zeros; overlapping ones add through ``index_add_fwd``."""
    node_name = "UnfoldBackwardBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple, d: int, size: int, step: int) -> Tensor:
        ctx.args = (d, size, step)
        out = _zeros(shape, g)
        if not g._data.size:
            return out
        a = out._data
        if step >= size:
            view_shape = g._data.shape
            strides = a.strides[:d] + (a.strides[d] * step,) + a.strides[d + 1:] + (a.strides[d],)
            kernel("copy_into", g)(kernel("strided_view", g)(a, view_shape, strides), g._data)
            return out
        nwin = g._data.shape[d]
        index = (np.arange(nwin)[:, None] * step + np.arange(size)).reshape(-1)
        # (..., nwin, ..., size) -> (..., nwin * size, ...): window w's element k lands at w * step + k
        moved = kernel("copy", g)(g._data.transpose(tuple(range(d + 1)) + (g._data.ndim - 1,) +
                                                    tuple(range(d + 1, g._data.ndim - 1))))
        src = moved.reshape(shape[:d] + (nwin * size,) + shape[d + 1:])
        return Tensor._make(kernel("index_add_fwd", g)(a, d, _on_device(index, g), src), g._device)

    @staticmethod
    def backward(ctx, gg: Tensor):
        return Unfold.apply(gg, *ctx.args), None, None, None, None


@export(function=False)
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Windows of ``size`` every ``step`` along ``dimension`` as a new last dim (a view)."""
    size, step = _int(size, "unfold", "size", 2), _int(step, "unfold", "step", 3)
    n = input._data.ndim
    d = wrap_dim(_int(dimension, "unfold", "dimension", 1), n)
    max_size = input._data.shape[d] if n else 1
    if size > max_size:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {max_size} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if not n:   # PyTorch: a 0-d tensor gives shape (size,), size being 0 or 1
        return narrow(reshape(input, (1,)), 0, 0, size)
    return Unfold.apply(input, d, size, step)


# tile --------------------------------------------------------------------------------------------
def _tile(input: Tensor, dims: tuple) -> Tensor:
    shape = input._data.shape
    reps = (1,) * (len(shape) - len(dims)) + dims
    padded = (1,) * (len(reps) - len(shape)) + shape
    sizes = [r * s for r, s in zip(reps, padded)]
    neg = next((s for s in sizes if s < 0), None)
    if neg is not None:
        raise RuntimeError(f"Trying to create tensor with negative dimension {neg}: {sizes}")
    return repeat(input, reps)


def _tile_dims(dims, pos: int) -> tuple:
    """tile's ``dims`` as ints, refused with the messages of PyTorch's argument parser."""
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"tile(): argument 'dims' (position {pos}) must be tuple of ints, not {type(dims).__name__}")
    out = []
    for i, r in enumerate(dims):
        try:
            out.append(operator.index(r))
        except TypeError:
            raise TypeError(f"tile(): argument 'dims' failed to unpack the object at pos {i + 1} with error \"type "
                            f"must be tuple of ints,but got {type(r).__name__}\"") from None
    return tuple(out)


@export(method=False)
def tile(input: Tensor, dims) -> Tensor:
    """repeat with ``dims`` padded by leading ones when it has fewer entries than ``input`` dims."""
    return _tile(input, _tile_dims(dims, 2))


@export(name="tile", function=False)
def _tile_method(input: Tensor, *dims) -> Tensor:
    """``Tensor.tile(2, 3)`` as well as ``Tensor.tile((2, 3))``."""
    if len(dims) == 1 and not hasattr(dims[0], "__index__"):
        dims = dims[0]   # a sequence, or a non-int that _tile_dims refuses
    return _tile(input, _tile_dims(dims, 1))


# repeat_interleave -------------------------------------------------------------------------------
def _repeat_index(repeats: Tensor, r: np.ndarray, output_size) -> np.ndarray:
    """Host indices: i written r[i] times (PyTorch's checks, in its order), in ``r``'s dtype."""
    if r.dtype.kind not in "iu":
        raise NotImplementedError(f"\"repeat_interleave_{repeats._device.type}\" not implemented for "
                                  f"'{repeats.dtype._torch_name}'")
    if r.size and r.min() < 0:
        raise RuntimeError("repeats can not be negative")
    if output_size is not None and output_size != int(r.sum()):
        raise RuntimeError("allocated size does not match required size")
    return np.repeat(np.arange(r.size, dtype=r.dtype), r)


def _indices_form(repeats: Tensor, output_size) -> Tensor:
    """``repeat_interleave(repeats)``: the indices, in repeats' dtype and device."""
    if repeats._data.ndim != 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    idx = _repeat_index(repeats, repeats._host(), output_size)
    return Tensor._make(_on_device(idx, repeats), repeats._device)


@export(method=False)
def repeat_interleave(input: Tensor | None = None, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each element (or slice along ``dim``; flattened when ``dim`` is None) written ``repeats``
    times in a row; ``repeat_interleave(repeats)`` alone gives the indices that would do it."""
    if repeats is None:
        if input is None or dim is not None:
            raise TypeError('repeat_interleave() missing 1 required positional arguments: "repeats"')
        return _indices_form(input, output_size)
    if input is None:
        if dim is not None or not isinstance(repeats, Tensor):
            raise TypeError('repeat_interleave() missing 1 required positional arguments: "input"')
        return _indices_form(repeats, output_size)
    return _repeat_interleave(input, repeats, dim, output_size=output_size)


@export(name="repeat_interleave", function=False)
def _repeat_interleave(input: Tensor, repeats, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    if isinstance(repeats, Tensor):
        return _interleave_by_tensor(input, repeats, dim, output_size)
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be int or Tensor, not "
                        f"{type(repeats).__name__}")
    repeats = int(repeats)
    d = wrap_dim(0 if dim is None else dim, input._data.ndim)
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    x = flatten(input) if dim is None else input
    u = unsqueeze(x, d + 1)   # PyTorch's route (a 0-d input with a dim raises here, as there)
    shape = u._data.shape
    n = shape[d]
    if output_size is not None and output_size != n * repeats:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {n * repeats} but got {output_size}")
    # clone: a copy even for repeats == 1 (reshape alone would then be a view aliasing the input)
    return reshape(clone(expand(u, shape[:d + 1] + (repeats,) + shape[d + 2:])),
                   shape[:d] + (n * repeats,) + shape[d + 2:])


def _interleave_by_tensor(input: Tensor, repeats: Tensor, dim, output_size) -> Tensor:
    if dim is None:
        x, d = flatten(input), 0
    else:
        if input._data.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        x, d = input, wrap_dim(dim, input._data.ndim)
    n = x._data.shape[d]
    r = repeats._host()
    if r.ndim == 0 or (r.ndim == 1 and r.shape[0] == 1):
        r = np.broadcast_to(r.reshape(1), (n,))
    elif r.ndim == 1:
        if r.shape[0] != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{r.shape[0]} and input.size({d}) = {n}")
    else:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    idx = _repeat_index(repeats, r, output_size).astype(np.int64, copy=False)
    return IndexSelect.apply(x, d, Tensor._make(_on_device(idx, x), x._device))


# meshgrid ----------------------------------------------------------------------------------------
_warned_indexing = False


@export(method=False)
def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Each 0-d/1-d input viewed along its own dim and expanded to the grid (views, as PyTorch's);
    ``indexing="xy"`` swaps the first two grid dims."""
    global _warned_indexing
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    if indexing is None:
        if not _warned_indexing:   # PyTorch warns once per process
            _warned_indexing = True
            warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
                          "argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for a, b in zip(tensors, tensors[1:]):
        if a._data.dtype != b._data.dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if a._device is not b._device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    order = list(range(len(tensors)))
    if indexing == "xy":
        if len(order) >= 2:
            order[0], order[1] = 1, 0
    elif indexing != "ij":
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    grid = tuple(tensors[i]._data.size for i in order)
    axis = {i: k for k, i in enumerate(order)}   # the grid dim of each input
    out = []
    for i, t in enumerate(tensors):
        view = [1] * len(grid)
        view[axis[i]] = -1
        out.append(expand(reshape(t, tuple(view)), grid))
    return tuple(out)
