"""Shape ops: views (reshape, transpose, slicing helpers) and the copies that rearrange data
(cat, repeat, flip, roll, tril/triu, pad).

Views wrap the backend's own view (``x._view_of(arr)``): storage and version counter
are shared, so in-place changes through either side are seen and tracked. Copies go
through the ``copy``/``copy_into`` kernels so the CUDA side stays ours.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import check_same_device, kernel, sum_to_shape, wrap_dim, wrap_dims


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


def view(input: Tensor, *shape) -> Tensor:
    """A view with a new shape; raises (as PyTorch does) when the strides do not allow one."""
    if len(shape) == 1 and isinstance(shape[0], _dt.DType):
        raise RuntimeError("view(dtype) is not supported; use .to(dtype) to convert")
    shape = _infer_size(_sizes(shape), input._data.size)
    if not _viewable(input._data, shape):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return View.apply(input, shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """A view when the strides allow one (as NumPy and PyTorch decide), else a copy."""
    shape = _infer_size(_sizes(shape), input._data.size)
    if shape == input._data.shape:
        return View.apply(input, shape)
    if _viewable(input._data, shape):
        return View.apply(input, shape)
    return ReshapeCopy.apply(input, shape)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other._data.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other._data.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s, e = wrap_dim(start_dim, len(shape)), wrap_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return View.apply(input, shape)
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        sizes = _infer_size(sizes, shape[d])
    except RuntimeError:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
                           f"{dim} ({shape[d]}) in the input tensor") from None
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def squeeze(input: Tensor, dim=None) -> Tensor:
    shape = input._data.shape
    if dim is None:
        dims = range(len(shape))
    else:
        dims = wrap_dims(dim, len(shape))
    new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return _Squeeze.apply(input, new)


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


def permute(input: Tensor, *dims) -> Tensor:
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


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    n = input._data.ndim
    a, b = wrap_dim(dim0, n), wrap_dim(dim1, n)
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    return _Transpose.apply(input, tuple(perm))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return _Transpose.apply(input, tuple(range(n))[::-1])


def movedim(input: Tensor, source, destination) -> Tensor:
    n = input._data.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    src, dst = wrap_dims(src, n), wrap_dims(dst, n)
    perm = [-1] * n
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(i for i in range(n) if i not in src)
    perm = tuple(p if p != -1 else next(rest) for p in perm)
    return Permute.apply(input, perm)


moveaxis = movedim


# slicing views (narrow, select, split, chunk, unbind) -----------------------------------
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    from .index import BasicIndex
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    start %= n if n else 1
    if length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return BasicIndex.apply(input, (slice(None),) * d + (slice(start, start + length), Ellipsis))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    from .index import Select
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(shape)} at dimension {d}")
    return Select.apply(input, (slice(None),) * d + (index % n, Ellipsis))


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    shape = tensor._data.shape
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and not (size == 0 and n == 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(tensor, d, start, s))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input.size(dim)
    return split(input, max(-(-n // chunks), 1), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    d = wrap_dim(dim, input._data.ndim)
    return tuple(select(input, d, i) for i in range(input._data.shape[d]))


# cat / stack ---------------------------------------------------------------------------
def _cat_cuda(arrays: list, axis: int):
    cp = __import__("cupy")  # only reached on the cupy backend
    shape = list(arrays[0].shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    with arrays[0].device:
        out = cp.empty(tuple(shape), dtype=arrays[0].dtype)
    start = 0
    pre = (slice(None),) * axis
    for a in arrays:
        n = a.shape[axis]
        if n:
            _copy_into_cuda(out[pre + (slice(start, start + n),)], a)
        start += n
    return out


_copy_into_cuda = cuda.copy("copy_into")
register("cat_fwd", "numpy", lambda arrays, axis: np.concatenate(arrays, axis=axis))
register("cat_fwd", "cupy", _cat_cuda)


class Cat(Function):
    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, dim: int, *xs: Tensor) -> Tensor:
        dtype = _dt.result_type(*xs)
        ctx.dim, ctx.sizes = dim, [x._data.shape[dim] for x in xs]
        arrays = [x._data if x._data.dtype == dtype else kernel("cast", x)(x._data, dtype) for x in xs]
        return Tensor._make(kernel("cat_fwd", xs[0])(arrays, dim), xs[0]._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        need = ctx.needs_input_grad
        out, start = [None], 0
        for i, s in enumerate(ctx.sizes):
            out.append(narrow(g, ctx.dim, start, s) if need[i + 1] else None)
            start += s
        return tuple(out)


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    check_same_device(*tensors)
    # PyTorch's legacy rule: 1-D empty tensors are skipped
    kept = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = kept[0]._data
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, ref.ndim)
    for i, t in enumerate(kept):
        a = t._data
        if a.ndim != ref.ndim:
            if a.ndim == 0:
                raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {a.ndim}")
        for k in range(ref.ndim):
            if k != d and a.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[k]} but got size {a.shape[k]} for tensor number {i} in the list.")
    return Cat.apply(d, *kept)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(s0)} at entry 0 and "
                               f"{list(t._data.shape)} at entry {i}")
    d = wrap_dim(dim, len(s0) + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


# repeat ---------------------------------------------------------------------------------
class Repeat(Function):
    """Tile by expanding a (1, s0, 1, s1, ...) view to (r0, s0, r1, s1, ...) and copying once."""
    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, reps: tuple) -> Tensor:
        shape = (1,) * (len(reps) - x._data.ndim) + x._data.shape
        ctx.in_shape = x._data.shape
        ctx.inter = tuple(v for r, s in zip(reps, shape) for v in (r, s))
        ctx.reduced = tuple(v for s in shape for v in (1, s))
        a = x._data.reshape(ctx.reduced)
        big = kernel("copy", x)(kernel("expand", x)(a, ctx.inter))
        return Tensor._make(big.reshape(tuple(r * s for r, s in zip(reps, shape))), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return reshape(sum_to_shape(reshape(g, ctx.inter), ctx.reduced), ctx.in_shape), None


def repeat(input: Tensor, *sizes) -> Tensor:
    reps = _sizes(sizes)
    if len(reps) < input._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           "of tensor")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(reps)}: {list(reps)}")
    return Repeat.apply(input, reps)


# flip / roll ----------------------------------------------------------------------------
class Flip(Function):
    node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple) -> Tensor:
        ctx.dims = dims
        sl = tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(x._data.ndim))
        return Tensor._make(kernel("copy", x)(x._data[sl]), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Flip.apply(g, ctx.dims), None


def flip(input: Tensor, dims) -> Tensor:
    return Flip.apply(input, wrap_dims(dims, input._data.ndim))


def _roll_cuda(x, shifts: tuple, dims: tuple):
    out = x
    for s, d in zip(shifts, dims):
        n = out.shape[d]
        s %= n if n else 1
        if not s:
            continue
        src, out = out, _copy_cuda(out)  # an array of the right shape and dtype, then overwritten
        pre = (slice(None),) * d
        _copy_into_cuda(out[pre + (slice(s, None),)], src[pre + (slice(0, n - s),)])
        _copy_into_cuda(out[pre + (slice(0, s),)], src[pre + (slice(n - s, None),)])
    return out if out is not x else _copy_cuda(x)


_copy_cuda = cuda.copy("copy")
register("roll_fwd", "numpy", lambda x, shifts, dims: np.roll(x, shifts, axis=dims))
register("roll_fwd", "cupy", _roll_cuda)


class Roll(Function):
    node_name = "RollBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, shifts: tuple, dims: tuple) -> Tensor:
        ctx.shifts, ctx.dims = shifts, dims
        return Tensor._make(kernel("roll_fwd", x)(x._data, shifts, dims), x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return Roll.apply(g, tuple(-s for s in ctx.shifts), ctx.dims), None, None


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dims must align. shifts: {len(shifts)}, dims: 0")
        return reshape(Roll.apply(flatten(input), shifts, (0,)), input._data.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts, tuple(wrap_dim(d, input._data.ndim) for d in dims))


# tril / triu ----------------------------------------------------------------------------
register("triangle", "numpy", lambda x, k, upper: np.triu(x, k) if upper else np.tril(x, k))
register("triangle", "cupy", cuda.copy("triangle"))


class Tril(Function):
    node_name = "TrilBackward0"
    upper = False

    @classmethod
    def forward(cls, ctx, x: Tensor, k: int) -> Tensor:
        ctx.k = k
        return Tensor._make(kernel("triangle", x)(x._data, k, cls.upper), x._device)

    @classmethod
    def backward(cls, ctx, g: Tensor):
        return cls.apply(g, ctx.k), None


class Triu(Tril):
    node_name = "TriuBackward0"
    upper = True


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, int(diagonal))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, int(diagonal))


# pad (ag.nn.functional.pad) -------------------------------------------------------------
class ConstantPad(Function):
    """Pad (or crop, for negative widths) with a constant; the adjoint is the opposite crop/pad with 0."""
    node_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, pairs: tuple, value) -> Tensor:
        from .creation import full
        ctx.pairs = pairs
        shape = x._data.shape
        lead = len(shape) - len(pairs)
        out_shape = shape[:lead] + tuple(n + lo + hi for n, (lo, hi) in zip(shape[lead:], pairs))
        out = full(out_shape, value, dtype=x.dtype, device=x._device)._data
        dst = (slice(None),) * lead + tuple(slice(max(lo, 0), max(lo, 0) + n + min(lo, 0) + min(hi, 0))
                                           for n, (lo, hi) in zip(shape[lead:], pairs))
        src = (slice(None),) * lead + tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                           for n, (lo, hi) in zip(shape[lead:], pairs))
        if all(n > 0 for n in out_shape):
            kernel("copy_into", x)(out[dst], x._data[src])
        return Tensor._make(out, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        return ConstantPad.apply(g, tuple((-lo, -hi) for lo, hi in ctx.pairs), 0), None, None


def _pad_index(n: int, lo: int, hi: int, mode: str, dim: int, shape) -> np.ndarray:
    j = np.arange(-lo, n + hi)
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {dim} of input {list(shape)}")
        i = np.abs(j)
        return np.where(i >= n, 2 * (n - 1) - i, i)
    if mode == "replicate":
        if n == 0:
            raise RuntimeError(f"padding size is expected to be greater than 0 for replicate, but input of "
                               f"size 0 at dimension {dim}")
        return np.clip(j, 0, n - 1)
    if lo > n or hi > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    return j % n


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """F.pad: ``pad`` lists (left, right) widths from the last dimension backwards."""
    pad = tuple(int(p) for p in pad)
    shape = input._data.shape
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > len(shape):
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but "
                           f"got padding length {len(pad)} and input of dimension {len(shape)}")
    k = len(pad) // 2
    pairs = tuple((pad[2 * i], pad[2 * i + 1]) for i in range(k))[::-1]  # first padded dim first
    lead = len(shape) - k
    if mode == "constant":
        for i, (lo, hi) in enumerate(pairs):
            n = shape[lead + i]
            if n + lo + hi < 0:
                raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} resulted in a "
                                   f"negative output size, which is invalid. Check dimension {lead + i} of your "
                                   "input.")
        return ConstantPad.apply(input, pairs, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    from .index import index_select
    out = input
    be = input._device.backend
    for i, (lo, hi) in enumerate(pairs):
        if lo == 0 and hi == 0:
            continue
        d = lead + i
        idx = _pad_index(shape[d], lo, hi, mode, d, shape)
        idx_t = Tensor._make(be.from_numpy(idx.astype(np.int64), input._device.index), input._device)
        out = index_select(out, d, idx_t)
    return out if out is not input else View.apply(input, shape)


METHODS = ("reshape", "view", "view_as", "reshape_as", "flatten", "unflatten", "squeeze", "unsqueeze",
           "transpose", "swapaxes", "swapdims", "permute", "t", "movedim", "moveaxis", "repeat", "split",
           "chunk", "unbind", "flip", "roll", "tril", "triu", "narrow", "select")
FUNCTIONS = ("cat", "concat", "concatenate", "stack")
NN_FUNCTIONAL = ("pad",)
