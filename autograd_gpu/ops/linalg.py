"""Matrix products: matmul (every PyTorch case), mm, bmm, dot, outer and einsum.

All products go through one kernel, ``matmul_fwd`` (``np.matmul`` / cuBLAS via CuPy).
Backwards are written with the same public products plus view ops, so double
backward needs nothing extra; the engine sums gradients over broadcast batch dims.
``einsum`` is a composite of permute/reshape/sum/mul/matmul, as in PyTorch.
Unlike elementwise ops, products do not promote dtypes (PyTorch raises instead).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backends import cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, kernel
from .registry import export
from .creation import eye

register("matmul_fwd", "numpy", np.matmul)
register("matmul_fwd", "cupy", cuda.matmul())                 # cuBLAS through cupy.matmul

# the C++ type names PyTorch prints in "float != double"
_CPP_NAME = {"float16": "c10::Half", "float32": "float", "float64": "double", "int64": "long int",
             "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
             "bool": "bool"}


def _require_tensor(x, fn: str, arg: str, pos: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")


def _check_same_dtype(a: Tensor, b: Tensor) -> None:
    da, db = a._data.dtype, b._data.dtype
    if da != db:
        raise RuntimeError(f"expected mat1 and mat2 to have the same dtype, but got: "
                           f"{_CPP_NAME.get(da.name, da.name)} != {_CPP_NAME.get(db.name, db.name)}")


def _shape_x(shape) -> str:
    return "x".join(map(str, shape))


def _fold_matmul(a, b, f):
    """(..., n, m) @ (m, p) as one (N, m) @ (m, p) GEMM: one BLAS call instead of a batch loop."""
    if a.ndim > 2 and b.ndim == 2:
        lead = a.shape[:-1]
        return f(a.reshape(-1, a.shape[-1]), b).reshape(lead + (b.shape[-1],))
    return f(a, b)


# dot -----------------------------------------------------------------------------
class Dot(Function):
    node_name = "DotBackward0"

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        # (1, n) @ (n, 1) keeps an array (np.matmul of two vectors returns a NumPy scalar)
        out = kernel("matmul_fwd", a)(a._data[None, :], b._data[:, None])
        return Tensor._make(out.reshape(()), a._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


@export
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Inner product of two 1-D tensors (0-dim result)."""
    _require_tensor(input, "dot", "input", 1)
    _require_tensor(tensor, "dot", "tensor", 2)
    a, b = input, tensor
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a._data.ndim}D and {b._data.ndim}D tensors")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{a.dtype._torch_name} and {b.dtype._torch_name}")
    n, m = a._data.shape[0], b._data.shape[0]
    if n != m:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same "
                           f"number of elements, but got {n} and {m} elements respectively")
    check_same_device(a, b)
    return Dot.apply(a, b)


# mm ------------------------------------------------------------------------------
class Mm(Function):
    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        return Tensor._make(kernel("matmul_fwd", a)(a._data, b._data), a._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        fn = ctx._fn
        return (fn.apply(g, b.mT) if need[0] else None), (fn.apply(a.mT, g) if need[1] else None)


def _require_ndim(op: str, input, mat2, ndim: int, msg1: str, msg2: str) -> None:
    """Both operands tensors of ``ndim`` dims, with PyTorch's messages (``msg1``/``msg2``)."""
    _require_tensor(input, op, "input", 1)
    _require_tensor(mat2, op, "mat2", 2)
    if input._data.ndim != ndim:
        raise RuntimeError(msg1)
    if mat2._data.ndim != ndim:
        raise RuntimeError(msg2)


def _check_mm(a: Tensor, b: Tensor) -> None:
    sa, sb = a._data.shape, b._data.shape
    if sa[1] != sb[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_shape_x(sa)} and {_shape_x(sb)})")
    _check_same_dtype(a, b)
    check_same_device(a, b)


@export
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """(n, m) @ (m, p); no broadcasting, no dtype promotion."""
    _require_ndim("mm", input, mat2, 2, "self must be a matrix", "mat2 must be a matrix")
    _check_mm(input, mat2)
    return Mm.apply(input, mat2)


# bmm -----------------------------------------------------------------------------
class Bmm(Mm):
    """Same math as mm over a leading batch dim (np.matmul and .mT handle it)."""
    node_name = "BmmBackward0"


def _check_bmm_sizes(batch: int, k: int, sb: tuple) -> None:
    if (sb[0], sb[1]) != (batch, k):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {k}] "
                           f"but got: [{sb[0]}, {sb[1]}].")


@export
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """(B, n, m) @ (B, m, p) with the same B on both sides (use matmul to broadcast)."""
    _require_ndim("bmm", input, mat2, 3, "batch1 must be a 3D tensor", "batch2 must be a 3D tensor")
    sa = input._data.shape
    _check_bmm_sizes(sa[0], sa[2], mat2._data.shape)
    _check_same_dtype(input, mat2)
    check_same_device(input, mat2)
    return Bmm.apply(input, mat2)


# matmul: the general (N-D, broadcast, vector) case ------------------------------
class Matmul(Function):
    """Any matmul that is not vector-vector or matrix-matrix: vectors are promoted
    as in PyTorch, batch dims broadcast (their gradients are summed by the engine)."""

    node_name = "MatmulBackward0"

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        ctx.an, ctx.bn = a._data.ndim, b._data.ndim
        return Tensor._make(_fold_matmul(a._data, b._data, kernel("matmul_fwd", a)), a._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        an, bn = ctx.an, ctx.bn
        ga = gb = None
        if bn == 1:                                   # (..., n, m) @ (m,) -> (..., n)
            if need[0]:
                ga = g.unsqueeze(-1) * b
            if need[1]:
                m = a.shape[-1]
                gb = matmul(g.reshape(-1), a.reshape(-1, m)) if an > 2 else matmul(g, a)
        elif an == 1:                                 # (m,) @ (..., m, p) -> (..., p)
            if need[0]:
                ga = matmul(b, g) if bn == 2 else matmul(b, g.unsqueeze(-1)).squeeze(-1)
            if need[1]:
                gb = a.unsqueeze(-1) * g.unsqueeze(-2)
        else:
            if need[0]:
                ga = matmul(g, b.mT)
            if need[1]:
                if bn == 2 and an > 2:                # fold the batch into one GEMM
                    gb = matmul(a.reshape(-1, a.shape[-1]).mT, g.reshape(-1, g.shape[-1]))
                else:
                    gb = matmul(a.mT, g)
        return ga, gb


class Mv(Matmul):
    node_name = "MvBackward0"


@export(operators=("__matmul__",))
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """PyTorch's matmul: dot, mm, mv, vector-matrix, and broadcast batched products."""
    _require_tensor(input, "matmul", "input", 1)
    _require_tensor(other, "matmul", "other", 2)
    a, b = input, other
    an, bn = a._data.ndim, b._data.ndim
    if an == 0 or bn == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {an}D and {bn}D")
    if an == 2 and bn == 2:
        _check_mm(a, b)
        return Mm.apply(a, b)
    if an == 1 and bn == 1:
        return dot(a, b)
    sa, sb = a._data.shape, b._data.shape
    if bn == 1:
        if sa[-1] != sb[0]:
            rows = int(np.prod(sa[:-1]))
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{sa[-1]}), vec ({sb[0]})")
        _check_same_dtype(a, b)
        check_same_device(a, b)
        return (Mv if an == 2 else Matmul).apply(a, b)
    if an == 1 or bn == 2:
        if sa[-1] != sb[-2]:
            rows = int(np.prod(sa[:-1]))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{sa[-1]} and "
                               f"{_shape_x(sb[-2:])})")
    else:
        batch = broadcast_shapes(sa[:-2], sb[:-2])
        if sa[-1] != sb[-2]:
            _check_bmm_sizes(int(np.prod(batch)), sa[-1], (int(np.prod(batch)), sb[-2]))
    _check_same_dtype(a, b)
    check_same_device(a, b)
    return Matmul.apply(a, b)


# outer ---------------------------------------------------------------------------
@export(aliases=("ger",))
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """(n,) x (m,) -> (n, m); a broadcast multiply, so it promotes dtypes like PyTorch's."""
    _require_tensor(input, "outer", "input", 1)
    _require_tensor(vec2, "outer", "vec2", 2)
    if input._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input._data.ndim}-D")
    if vec2._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    return input.unsqueeze(-1) * vec2


ger = outer


# einsum --------------------------------------------------------------------------
_NLET = 26
_ELL = 2 * _NLET


def _subscript(c: str) -> int:
    if not c.isascii() or not c.isalpha():
        raise RuntimeError(f"einsum(): expected subscripts to be in range [A-Za-z], but got {c}")
    return ord(c) - ord("A") if c.isupper() else ord(c) - ord("a") + _NLET


def _label(s: int) -> str:
    return chr(s + ord("A")) if s < _NLET else chr(s - _NLET + ord("a"))


def _parse_side(text: str, ellipsis_ok_many: bool, out: bool = False):
    """Tokens of one side: lists of subscripts (ELLIPSIS for '...'), one list per operand."""
    ops, cur, i = [[]], None, 0
    cur = ops[0]
    seen_ell = [False]
    while i < len(text):
        c = text[i]
        if c == " ":
            i += 1
            continue
        if c == "," and not out:
            cur = []
            ops.append(cur)
            seen_ell.append(False)
            i += 1
            continue
        if c == ".":
            if text[i:i + 3] != "...":
                raise RuntimeError("einsum(): found '.' in equation that is not part of an ellipsis")
            if seen_ell[-1]:
                raise RuntimeError("einsum(): at most one ellipsis can be specified for the output" if out
                                   else "einsum(): at most one ellipsis can be specified per operand")
            seen_ell[-1] = True
            cur.append(_ELL)
            i += 3
            continue
        cur.append(_subscript(c))
        i += 1
    return ops


def _diagonal(op: Tensor, d1: int, d2: int) -> Tensor:
    """Diagonal of dims d1 < d2 kept at d1 (d2 removed): masked sum, differentiable to any order."""
    n = op.shape[d1]
    shape = [1] * op.ndim
    shape[d1] = shape[d2] = n
    mask = eye(n, dtype=op.dtype, device=op.device).reshape(tuple(shape))
    return (op * mask).sum(d2)


def _sumproduct_pair(a: Tensor, b: Tensor, sum_dims: list) -> Tensor:
    """Multiply aligned ``a`` and ``b`` and sum ``sum_dims`` (kept as size 1) with one matmul."""
    if not sum_dims:
        return a * b
    ndim = a.ndim
    sa, sb = a.shape, b.shape
    lro, lo, ro = [], [], []
    for i in range(ndim):
        if i in sum_dims:
            continue
        l1, r1 = sa[i] != 1, sb[i] != 1
        if l1 and r1:
            lro.append(i)
        elif l1:
            lo.append(i)
        else:
            ro.append(i)
    sd = list(sum_dims)
    lro_sizes = [sa[i] for i in lro]
    lo_size = int(np.prod([sa[i] for i in lo])) if lo else 1
    ro_size = int(np.prod([sb[i] for i in ro])) if ro else 1
    sum_size = int(np.prod([sa[i] for i in sd]))
    a2 = _permute_reshape(a, lro + lo + sd + ro, tuple(lro_sizes) + (lo_size, sum_size))
    b2 = _permute_reshape(b, lro + sd + ro + lo, tuple(lro_sizes) + (sum_size, ro_size))
    r = matmul(a2, b2)
    order = lro + lo + sd + ro
    out_sizes = tuple(lro_sizes + [sa[i] for i in lo] + [1] * len(sd) + [sb[i] for i in ro])
    if r.shape != out_sizes:
        r = r.reshape(out_sizes)
    inv = [0] * ndim
    for pos, d in enumerate(order):
        inv[d] = pos
    return r if inv == list(range(ndim)) else r.permute(tuple(inv))


def _permute_reshape(t: Tensor, perm: list, shape: tuple) -> Tensor:
    if perm != list(range(t.ndim)):
        t = t.permute(tuple(perm))
    return t if t.shape == shape else t.reshape(shape)


@export(method=False)
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation as a chain of differentiable ops (diagonals, sums, pairwise matmuls),
    contracting left to right; supports ellipses, implicit output and size-1 broadcasting."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, op in enumerate(operands):
        _require_tensor(op, "einsum", "operands", i + 2)
    arrow = equation.find("->")
    lhs = equation if arrow < 0 else equation[:arrow]
    op_labels = _parse_side(lhs, False)
    num_ops = len(operands)
    if len(op_labels) != num_ops:
        raise RuntimeError(f"einsum(): the number of operands specified in the equation ({len(op_labels)}) "
                           f"does not match the number of operands provided ({num_ops})")
    label_count = [0] * _ELL
    ell_num_dim = 0
    for i, (labels, op) in enumerate(zip(op_labels, operands)):
        ndim = op.ndim
        has_ell = _ELL in labels
        nl = len(labels) - has_ell
        for s in labels:
            if s != _ELL:
                label_count[s] += 1
        if has_ell:
            if nl > ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nl}) is more than "
                                   f"the number of dimensions ({ndim}) for operand {i}")
            ell_num_dim = max(ell_num_dim, ndim - nl)
        elif nl != ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nl}) does not match the "
                               f"number of dimensions ({ndim}) for operand {i} and no ellipsis was given")
    label_index = [-1] * _ELL
    ell_index = -1
    index = 0
    if arrow >= 0:
        for s in _parse_side(equation[arrow + 2:], True, out=True)[0]:
            if s == _ELL:
                ell_index = index
                index += ell_num_dim
                continue
            if label_index[s] != -1:
                raise RuntimeError(f"einsum(): output subscript {_label(s)} appears more than once in the output")
            if label_count[s] == 0:
                raise RuntimeError(f"einsum(): output subscript {_label(s)} does not appear in the equation for "
                                   "any input operand")
            label_index[s] = index
            index += 1
    else:                                   # implicit output: ellipsis, then labels seen once, sorted
        ell_index = index
        index += ell_num_dim
        for s in range(_ELL):
            if label_count[s] == 1:
                label_index[s] = index
                index += 1
    out_num_dim = index
    if ell_index == -1:
        ell_index = index
        index += ell_num_dim
    for s in range(_ELL):
        if label_count[s] > 0 and label_index[s] == -1:
            label_index[s] = index
            index += 1

    # align every operand to `index` dims: diagonals for repeated labels, unsqueeze missing ones
    label_size = [1] * _ELL
    ell_sizes = [1] * ell_num_dim
    dim_counts = [0] * index
    ops = []
    for i, (labels, op) in enumerate(zip(op_labels, operands)):
        perm = [-1] * index
        dim = 0
        for s in labels:
            if s == _ELL:
                nd = operands[i].ndim - (len(labels) - 1)
                for j in range(ell_num_dim - nd, ell_num_dim):
                    size = op.shape[dim]
                    if size != 1:
                        if ell_sizes[j] not in (1, size):
                            raise RuntimeError(
                                f"einsum(): operands do not broadcast with remapped shapes (original->remapped):"
                                f" dimension {dim} covered by ellipsis in operand {i} has size {size} which does "
                                f"not broadcast with previously seen ellipsis with size {ell_sizes[j]}")
                        ell_sizes[j] = size
                        dim_counts[ell_index + j] += 1
                    perm[ell_index + j] = dim
                    dim += 1
            elif perm[label_index[s]] == -1:
                size = op.shape[dim]
                if size != 1:
                    if label_size[s] not in (1, size):
                        raise RuntimeError(f"einsum(): subscript {_label(s)} has size {size} for operand {i} which "
                                           f"does not broadcast with previously seen size {label_size[s]}")
                    label_size[s] = size
                    dim_counts[label_index[s]] += 1
                perm[label_index[s]] = dim
                dim += 1
            else:
                prev = perm[label_index[s]]
                if op.shape[dim] != op.shape[prev]:
                    raise RuntimeError(f"einsum(): subscript {_label(s)} is repeated for operand {i} but the sizes "
                                       f"don't match, {op.shape[dim]} != {op.shape[prev]}")
                op = _diagonal(op, prev, dim)
        for k in range(index):
            if perm[k] == -1:
                op = op.unsqueeze(dim)
                perm[k] = dim
                dim += 1
        if perm != list(range(index)):
            op = op.permute(tuple(perm))
        ops.append(op)

    # contract left to right, summing a dim as soon as no later operand has it
    while len(ops) > 1:
        a, b = ops[0], ops[1]
        del ops[:2]
        sum_dims = []
        for d in range(out_num_dim, index):
            if a.shape[d] != 1 and b.shape[d] != 1:
                dim_counts[d] -= 1
                if dim_counts[d] == 1:
                    sum_dims.append(d)
                    dim_counts[d] = 0
            elif dim_counts[d] == 1:
                if a.shape[d] != 1:
                    a = a.sum(d, keepdim=True)
                    dim_counts[d] = 0
                elif b.shape[d] != 1:
                    b = b.sum(d, keepdim=True)
                    dim_counts[d] = 0
        ops.insert(0, _sumproduct_pair(a, b, sum_dims))
    result = ops[0]
    if index > out_num_dim:
        # contracted dims already reduced to size 1 (by the pairwise matmuls) are dropped by a view
        sum_dims = tuple(d for d in range(out_num_dim, index) if result.shape[d] != 1)
        if sum_dims:
            result = result.sum(sum_dims, keepdim=True)
        result = result.reshape(result.shape[:out_num_dim])
    return result
