"""Shape views: view/reshape, flatten/unflatten, squeeze/unsqueeze, permute/transpose/movedim
and the slicing views narrow/select.

Views wrap the backend's own view (``x._view_of(arr)``): storage and version counter
are shared, so in-place changes through either side are seen and tracked. (reshape of a
tensor whose strides admit no view copies once, through the ``copy`` kernel.) The copies
that rearrange data live in ``join`` (cat, stack; split/chunk/unbind), ``rearrange`` (repeat,
flip, roll, tril/triu) and ``padding`` (pad).
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..tensor import Tensor
from ._common import kernel, wrap_dim, wrap_dims
from .registry import export


def _sizes(sizes) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` / ``f([2, 3])`` both mean the shape (2, 3)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    return tuple(int(s) for s in sizes)


def _infer_size(shape: tuple, numel: int) -> tuple:
    infer = None
    known = 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        else:
            known *= s
    if infer is not None:
        if known == 0 or numel % known:
            if known == 0:
                raise RuntimeError(f"cannot reshape tensor of {numel} elements into shape {list(shape)} because "
                                   "the unspecified dimension size -1 can be any value and is ambiguous")
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _viewable(arr, new_shape: tuple) -> bool:
    """PyTorch's computeStride: can ``arr`` be seen with ``new_shape`` without copying?"""
    if arr.flags.c_contiguous or arr.size == 0:
        return True
    old, st = arr.shape, arr.strides
    view_d = len(new_shape) - 1
    base = st[-1]
    t_numel = v_numel = 1
    for d in range(len(old) - 1, -1, -1):
        t_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and st[d - 1] != t_numel * base):
            while view_d >= 0 and (v_numel < t_numel or new_shape[view_d] == 1):
                v_numel *= new_shape[view_d]
                view_d -= 1
            if v_numel != t_numel:
                return False
            if d > 0:
                base, t_numel, v_numel = st[d - 1], 1, 1
    return view_d == -1


# view / reshape ----------------------------------------------------------------------
class View(Function):
    node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple) -> Tensor:
        ctx.in_shape = x._data.shape
        return x._view_of(x._data.reshape(shape))

    @staticmethod
    def backward(ctx, g: Tensor):
        return reshape(g, ctx.in_shape), None


class _Unsqueeze(View):
    node_name = "UnsqueezeBackward0"


class _Squeeze(View):
    node_name = "SqueezeBackward1"


class ReshapeCopy(Function):
    """reshape of a tensor whose strides admit no view: one contiguous copy, then a view of it."""
    node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple) -> Tensor:
        ctx.in_shape = x._data.shape
        return Tensor._make(kernel("copy", x)(x._data).reshape(shape), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return reshape(g, ctx.in_shape), None


@export(function=False)
def view(input: Tensor, *shape) -> Tensor:
    """A view with a new shape; raises (as PyTorch does) when the strides do not allow one."""
    if len(shape) == 1 and isinstance(shape[0], _dt.DType):
        return _view_dtype(input, shape[0])
    shape = _infer_size(_sizes(shape), input._data.size)
    if not _viewable(input._data, shape):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return View.apply(input, shape)


def _view_dtype(x: Tensor, dtype: _dt.DType) -> Tensor:
    """PyTorch's view(dtype): the same bytes read as ``dtype``, sharing storage and version counter;
    not differentiable (the result never requires grad). The backend array's own ``.view(dtype)``
    does it (NumPy and CuPy alike) once PyTorch's layout rules hold."""
    a = x._data
    old, new = a.itemsize, dtype.itemsize
    if old != new:
        what = f"to view {x.dtype._torch_name} as {dtype._torch_name} (different element sizes)"
        if a.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        st = x.stride()
        if old < new:
            r = new // old
            if a.shape[-1] % r:
                raise RuntimeError(f"self.size(-1) must be divisible by {r} {what}, but got {a.shape[-1]}")
            off = x._storage_offset()
            if off % r:
                raise RuntimeError(f"self.storage_offset() must be divisible by {r} {what}, but got {off}")
        if st[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {st[-1]}")
        if old < new:
            for i, si in enumerate(st[:-1]):
                if si % r:
                    raise RuntimeError(f"self.stride({i}) must be divisible by {r} {what}, but got {si}")
    t = Tensor._make(a.view(dtype.np), x._device)
    t._vc = x._vc
    return t


@export
def reshape(input: Tensor, *shape) -> Tensor:
    """A view when the strides allow one (as NumPy and PyTorch decide), else a copy."""
    shape = _infer_size(_sizes(shape), input._data.size)
    if shape == input._data.shape:
        return View.apply(input, shape)
    if _viewable(input._data, shape):
        return View.apply(input, shape)
    return ReshapeCopy.apply(input, shape)


@export(function=False)
def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other._data.shape)


@export(function=False)
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other._data.shape)


@export
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = input._data.shape
    s, e = wrap_dim(start_dim, len(shape)), wrap_dim(end_dim, len(shape))
    if not shape:
        return reshape(input, (1,))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return View.apply(input, shape)
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


@export
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    shape = input._data.shape
    if not shape:
        raise RuntimeError("unflatten got an unexpected error:\nDimension specified as 0 but tensor has no "
                           "dimensions")
    d = wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error:\nonly one dimension can be inferred")
    try:
        sizes = _infer_size(sizes, shape[d])
    except RuntimeError:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
                           f"{dim} ({shape[d]}) in the input tensor") from None
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


@export
def squeeze(input: Tensor, dim=None) -> Tensor:
    shape = input._data.shape
    if dim is None:
        dims = range(len(shape))
    else:
        dims = wrap_dims(dim, len(shape))
    new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return _Squeeze.apply(input, new)


@export
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    shape = input._data.shape
    d = wrap_dim(dim, len(shape) + 1)
    return _Unsqueeze.apply(input, shape[:d] + (1,) + shape[d:])


# permute / transpose -------------------------------------------------------------------
class Permute(Function):
    node_name = "PermuteBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, perm: tuple) -> Tensor:
        ctx.perm = perm
        return x._view_of(x._data.transpose(perm))

    @staticmethod
    def backward(ctx, g: Tensor):
        return Permute.apply(g, tuple(np.argsort(ctx.perm).tolist())), None


class _Transpose(Permute):
    node_name = "TransposeBackward0"


@export
def permute(input: Tensor, *dims) -> Tensor:
    if not dims:
        raise TypeError('permute() missing 1 required positional arguments: "dims"')
    dims = _sizes(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {n} is not equal to "
                           f"len(dims) = {len(dims)}")
    perm = tuple(wrap_dim(d, n) for d in dims)
    if len(set(perm)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, perm)


@export(aliases=("swapaxes", "swapdims"))
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    n = input._data.ndim
    a, b = wrap_dim(dim0, n), wrap_dim(dim1, n)
    if n == 0:   # PyTorch: the 0-d tensor itself (dims 0 and -1 both name it)
        return _Transpose.apply(input, ())
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    return _Transpose.apply(input, tuple(perm))


swapaxes = swapdims = transpose


@export
def t(input: Tensor) -> Tensor:
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return _Transpose.apply(input, tuple(range(n))[::-1])


@export(aliases=("moveaxis",))
def movedim(input: Tensor, source, destination) -> Tensor:
    n = input._data.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    src, dst = tuple(wrap_dim(d, n) for d in src), tuple(wrap_dim(d, n) for d in dst)
    for name, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(dims)})")
    if n == 0:
        return Permute.apply(input, ())
    perm = [-1] * n
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(i for i in range(n) if i not in src)
    perm = tuple(p if p != -1 else next(rest) for p in perm)
    return Permute.apply(input, perm)


moveaxis = movedim


# slicing views (narrow, select) -----------------------------------------------------------
def _int_arg(v, op: str, name: str, pos: int) -> int:
    """An int argument (a Python/NumPy int or an integer 0-d tensor), as PyTorch's parser takes it."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, Tensor) and v._data.dtype.kind in "iu" and v._data.size == 1:
        return int(v.item())
    raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}")


@export
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    from .index import BasicIndex   # index imports this module: resolved at call time
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    start, length = _int_arg(start, "narrow", "start", 2), _int_arg(length, "narrow", "length", 3)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:   # only a negative start wraps: start == n is an empty slice, never the whole dim
        start += n
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return BasicIndex.apply(input, (slice(None),) * d + (slice(start, start + length), Ellipsis))


@export
def select(input: Tensor, dim: int, index: int) -> Tensor:
    from .index import Select   # index imports this module: resolved at call time
    shape = input._data.shape
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    index = _int_arg(index, "select", "index", 2)
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(shape)} at dimension {d}")
    return Select.apply(input, (slice(None),) * d + (index + n if index < 0 else index, Ellipsis))
