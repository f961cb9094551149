"""Pure-Python launch planning for the CUDA kernels: no CuPy here, so it is testable on CPU.

Shapes and strides are tuples (element strides, not bytes): broadcasting strides, collapsing
dims, C-contiguity, reduction plans and row splits, launch sizes, and the packed parameter
structs (``EwParams``, ``CopyParams``, ``IdxParams``) whose layouts mirror ``kernels/common.cuh``.
Also the dtype policy every launcher shares: ``_NARROW``.
"""
from __future__ import annotations

import math
import struct
from typing import Sequence

import numpy as np

MAX_DIMS = 8
MAX_IN = 3
THREADS = 256
_INT32_MAX = 2**31 - 1

# integer dtypes the arithmetic kernels lack (KERNELS.md: A = F + int32 + int64); they compute in a
# wider one and cast back (two's complement wrap-around gives the narrow type's result)
_NARROW = {np.dtype(np.int8): np.dtype(np.int32), np.dtype(np.uint8): np.dtype(np.int32),
           np.dtype(np.int16): np.dtype(np.int32)}


# ---------------------------------------------------------------------------------
# pure-Python planning (shapes and strides as tuples; element strides, not bytes)
def broadcast_shape(*shapes: tuple) -> tuple:
    if all(s == shapes[0] for s in shapes):
        return tuple(shapes[0])
    return tuple(np.broadcast_shapes(*shapes))


def broadcast_strides(shape: tuple, strides: tuple, out_shape: tuple) -> tuple:
    """Element strides of an array of ``shape`` broadcast to ``out_shape`` (0 on broadcast dims)."""
    lead = len(out_shape) - len(shape)
    if lead < 0:   # extra leading size-1 dims are dropped, as NumPy's copyto / setitem do
        if any(s != 1 for s in shape[:-lead]):
            raise ValueError(f"cannot broadcast {shape} to {out_shape}")
        shape, strides, lead = shape[-lead:], strides[-lead:], 0
    out = [0] * lead
    for s, st, o in zip(shape, strides, out_shape[lead:]):
        if s == o:
            out.append(st if s != 1 else 0)
        elif s == 1:
            out.append(0)
        else:
            raise ValueError(f"cannot broadcast {shape} to {out_shape}")
    return tuple(out)


def collapse_dims(shape: tuple, strides: Sequence[tuple]) -> tuple[tuple, list[tuple]]:
    """Drop size-1 dims and merge neighbours that are contiguous for every operand.

    Preserves the C-order linearisation of ``shape``, so a linear index over the result
    addresses the same elements. Returns ``((), [()...])`` for a single element.
    """
    dims = [d for d, s in enumerate(shape) if s != 1]
    out_shape: list[int] = []
    out_st: list[list[int]] = [[] for _ in strides]
    for d in dims:
        if out_shape and all(st[d] * shape[d] == ost[-1] for st, ost in zip(strides, out_st)):
            out_shape[-1] *= shape[d]
            for st, ost in zip(strides, out_st):
                ost[-1] = st[d]
        else:
            out_shape.append(shape[d])
            for st, ost in zip(strides, out_st):
                ost.append(st[d])
    return tuple(out_shape), [tuple(s) for s in out_st]


def is_c_contiguous(shape: tuple, strides: tuple) -> bool:
    expect = 1
    for s, st in zip(reversed(shape), reversed(strides)):
        if s != 1 and st != expect:
            return False
        expect *= s
    return True


def c_strides(shape: tuple) -> tuple:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


def launch_config(n: int, threads: int = THREADS, per_thread: int = 1, max_blocks: int = 65535 * 4) -> tuple:
    """(blocks, threads) for a grid-stride loop over ``n`` items, ``per_thread`` items per step."""
    if n <= 0:
        return 0, threads
    blocks = -(-n // (threads * per_thread))
    return max(1, min(blocks, max_blocks)), threads


def block_size(length: int, cap: int = THREADS) -> int:
    """Threads for one block per row of ``length``: a power of two, a multiple of 32, <= cap."""
    t = 32
    while t < length and t < cap:
        t *= 2
    return t


def normalize_axes(axes, ndim: int) -> tuple:
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int):
        axes = (axes,)
    n = max(ndim, 1)
    return tuple(sorted({a % n for a in axes})) if ndim else ()


def plan_reduce(shape: tuple, strides: tuple, axes: tuple, min_cols_threads: int = 2048) -> dict:
    """How to reduce ``axes`` of an array: without a copy when it is C-contiguous and the reduced
    dims are one contiguous run (``outer, R, inner``), else after permuting them last.

    Returns ``mode`` ("rows": inner == 1, one block per row; "cols": one thread per output),
    ``perm`` (None: use the array as is) and ``outer, R, inner``.
    """
    axes = tuple(sorted(set(axes)))
    kept = tuple(d for d in range(len(shape)) if d not in axes)
    R = math.prod(shape[d] for d in axes)
    outer_all = math.prod(shape[d] for d in kept)
    if is_c_contiguous(shape, strides):
        live = [d for d in range(len(shape)) if shape[d] != 1]
        red = [d for d in live if d in axes]
        if not red:
            return {"mode": "rows", "perm": None, "outer": outer_all, "R": R, "inner": 1}
        pos = [live.index(d) for d in red]
        if pos == list(range(pos[0], pos[0] + len(pos))):
            lo, hi = red[0], red[-1]
            outer = math.prod(shape[d] for d in range(len(shape)) if d < lo)
            inner = math.prod(shape[d] for d in range(len(shape)) if d > hi)
            if inner == 1:
                return {"mode": "rows", "perm": None, "outer": outer, "R": R, "inner": 1}
            if outer * inner >= min_cols_threads or R <= 64:
                return {"mode": "cols", "perm": None, "outer": outer, "R": R, "inner": inner}
    return {"mode": "rows", "perm": kept + axes, "outer": outer_all, "R": R, "inner": 1}


def plan_split(rows: int, R: int, sm_count: int, min_chunk: int = 4096) -> int:
    """Chunk length for rows-mode reductions: split long rows when there are too few rows to
    fill ``sm_count`` SMs (a second launch combines the partials). Returns R for no split."""
    if R <= 2 * min_chunk or rows >= 2 * sm_count:
        return R
    want = max(1, (4 * sm_count) // max(rows, 1))
    nchunks = min(want, -(-R // min_chunk))
    if nchunks <= 1:
        return R
    return -(-R // nchunks)


def outer_len_inner(shape: tuple, axis: int) -> tuple:
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


# packed launch parameters; the layouts mirror kernels/common.cuh
_EW = struct.Struct("<qiiii dd 3d 3q 8q 24q")
_COPY = struct.Struct("<qii 8q 16q")
_IDX = struct.Struct("<qiiq ii dq 8q 24q")
EW_DTYPE = np.dtype({"names": ["raw"], "formats": [("V", _EW.size)], "itemsize": _EW.size})
COPY_DTYPE = np.dtype({"names": ["raw"], "formats": [("V", _COPY.size)], "itemsize": _COPY.size})
IDX_DTYPE = np.dtype({"names": ["raw"], "formats": [("V", _IDX.size)], "itemsize": _IDX.size})


def _pad(vals: Sequence[int], n: int) -> list:
    return list(vals) + [0] * (n - len(vals))


def _struct_arg(packed: bytes, dtype: np.dtype) -> np.ndarray:
    """A one-element structured NumPy array: CuPy passes its bytes by value as a struct argument."""
    return np.frombuffer(bytearray(packed), dtype=dtype)


def ew_params(n: int, mode: int, scalar_mask: int, a: float, b: float, fs: Sequence[float],
              is_: Sequence[int], shape: tuple, strides: Sequence[tuple]) -> np.ndarray:
    st: list = []
    for k in range(MAX_IN):
        st += _pad(strides[k] if k < len(strides) else (), MAX_DIMS)
    return _struct_arg(_EW.pack(n, len(shape), mode, scalar_mask, 0, float(a), float(b), *_pad(fs, MAX_IN),
                                *_pad(is_, MAX_IN), *_pad(shape, MAX_DIMS), *st), EW_DTYPE)


def copy_params(n: int, contig: int, shape: tuple, strides: Sequence[tuple]) -> np.ndarray:
    st: list = []
    for k in range(2):
        st += _pad(strides[k] if k < len(strides) else (), MAX_DIMS)
    return _struct_arg(_COPY.pack(n, len(shape), contig, *_pad(shape, MAX_DIMS), *st), COPY_DTYPE)


def idx_params(n: int, axis: int, axis_size: int, shape: tuple, strides: Sequence[tuple], src_scalar: int = 0,
               accumulate: int = 0, fsrc: float = 0.0, isrc: int = 0) -> np.ndarray:
    if len(shape) > MAX_DIMS:
        raise RuntimeError(f"CUDA index kernels support at most {MAX_DIMS} dims, got {len(shape)}")
    st: list = []
    for k in range(3):
        st += _pad(strides[k] if k < len(strides) else (), MAX_DIMS)
    return _struct_arg(_IDX.pack(n, len(shape), axis, axis_size, src_scalar, accumulate, float(fsrc), int(isrc),
                                 *_pad(shape, MAX_DIMS), *st), IDX_DTYPE)


def scalar_slots(value, kind: str) -> tuple[float, int]:
    """(double, long long) slots for a scalar input converted to a dtype of NumPy ``kind``
    ('f'; 'b'; anything else is an integer)."""
    if kind == "f":
        return float(value), 0
    if kind == "b":   # any non-zero value is True (int(0.5) would be 0)
        return 0.0, int(bool(value))
    return 0.0, int(value)

