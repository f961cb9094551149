"""The CUDA backend: CuPy arrays, our kernels from ``kernels/*.cu``, cuBLAS for matmul.

Imports without CuPy (CuPy is imported by ``CupyBackend()`` and by the launchers on
their first call), so the launch planning below -- broadcasting strides, collapsing
dims, reduction plans, launch sizes, packed parameter structs -- is plain Python on
tuples and testable on CPU.

Kernels: one ``cupy.RawModule`` per (kernel file, device), compiled on first use and
cached in ``_modules``; functions are looked up by name ``<op>_<dtype>`` and cached.
Every launch happens with the array's device current.

Python scalars as elementwise inputs travel inside the parameter struct (a bit in
``scalar_mask`` and the value in ``fs``/``is``), never as device allocations.
"""
from __future__ import annotations

import math
import struct
import threading
from .kernel_files import kernel_dir, kernel_path
from typing import Any, Callable, Sequence

import numpy as np

MAX_DIMS = 8
MAX_IN = 3
THREADS = 256
_INT32_MAX = 2**31 - 1

_cp: Any = None


def _cupy():
    """CuPy, imported on first use; RuntimeError (never ImportError) when it is missing."""
    global _cp
    if _cp is None:
        try:
            import cupy
        except ImportError:
            raise RuntimeError("CUDA is unavailable: CuPy is not installed; install autograd-gpu[cuda12] "
                               "or [cuda13]") from None
        except Exception as e:   # CuPy present but its CUDA libraries fail to load
            raise RuntimeError(f"CUDA is unavailable: importing CuPy failed: {type(e).__name__}: {e}") from None
        _cp = cupy
    return _cp


# ---------------------------------------------------------------------------------
# kernel sources and the per-(family, device) module cache
def kernel_source(family: str) -> str:
    """``<family>.cu`` with ``common.cuh`` inlined (NVRTC compiles from a string, no include path)."""
    src = kernel_path(family).read_text()
    common = (kernel_dir() / "common.cuh").read_text()
    return src.replace('#include "common.cuh"', common, 1)


COMPILE_OPTIONS = ("--std=c++17",)
_modules: dict[tuple[str, int], Any] = {}
_functions: dict[tuple[str, int, str], Any] = {}
compile_count: dict[tuple[str, int], int] = {}
_lock = threading.Lock()


def _module(family: str, dev: int):
    key = (family, dev)
    mod = _modules.get(key)
    if mod is None:
        with _lock:
            mod = _modules.get(key)
            if mod is None:
                cp = _cupy()
                with cp.cuda.Device(dev):
                    mod = cp.RawModule(code=kernel_source(family), options=COMPILE_OPTIONS)
                    mod.compile()
                compile_count[key] = compile_count.get(key, 0) + 1
                _modules[key] = mod
    return mod


_TORCH_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "uint8": "Byte",
                "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}


def get_kernel(family: str, name: str, dev: int):
    """The compiled function ``name`` of ``kernels/<family>.cu`` on device ``dev`` (cached)."""
    key = (family, dev, name)
    f = _functions.get(key)
    if f is None:
        mod = _module(family, dev)
        cp = _cupy()
        try:
            with cp.cuda.Device(dev):
                f = mod.get_function(name)
        except Exception:
            op, _, dt = name.rpartition("_")
            raise RuntimeError(f'"{op}" not implemented for \'{_TORCH_NAMES.get(dt, dt)}\' on CUDA '
                               f"(no kernel {name} in kernels/{family}.cu)") from None
        _functions[key] = f
    return f


def dtype_name(dt) -> str:
    return "bool" if dt == np.bool_ else np.dtype(dt).name


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


# ---------------------------------------------------------------------------------
# device helpers
_sm_counts: dict[int, int] = {}


def _sm_count(dev: int) -> int:
    n = _sm_counts.get(dev)
    if n is None:
        n = _sm_counts[dev] = int(_cupy().cuda.Device(dev).attributes["MultiProcessorCount"])
    return n


def _estrides(x) -> tuple:
    isz = x.itemsize
    return tuple(s // isz for s in x.strides)


def _max_blocks(dev: int) -> int:
    return _sm_count(dev) * 32


def _copy_to(dst, src) -> None:
    """dst[...] = src (src broadcast to dst's shape, any dtypes/strides), with our copy kernels."""
    n = dst.size
    if n == 0:
        return
    dev = dst.device.id
    shape = tuple(dst.shape)
    s_dst = _estrides(dst)
    s_src = broadcast_strides(tuple(src.shape), _estrides(src), shape)
    cshape, (c0, c1) = collapse_dims(shape, [s_dst, s_src])
    if len(cshape) > MAX_DIMS:   # rare: more non-mergeable dims than the kernel indexes; CuPy's copy
        dst[...] = src
        return
    contig = int(len(cshape) <= 1 and all(s[0] == 1 for s in (c0, c1) if s))
    sd, dd = dtype_name(src.dtype), dtype_name(dst.dtype)
    name = f"copy_{sd}" if sd == dd else f"cast_{sd}_{dd}"
    fn = get_kernel("copy", name, dev)
    blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
    fn((blocks,), (threads,), (dst, src, copy_params(n, contig, cshape, [c0, c1])))


def contiguous(x):
    """``x`` if C-contiguous, else a C-contiguous copy made by ``copy_<dtype>``."""
    return x if x.flags.c_contiguous else _copy(x)


def _as_dtype(x, dt):
    if x.dtype == dt:
        return x
    cp = _cupy()
    with x.device:
        out = cp.empty(x.shape, dtype=dt)
        _copy_to(out, x)
    return out


# ---------------------------------------------------------------------------------
# elementwise
_EW_DEFAULTS = {"add_fwd": (1.0, 0.0), "sub_fwd": (1.0, 0.0), "clamp_fwd": (-math.inf, math.inf),
                "clamp_bwd": (-math.inf, math.inf), "softplus_fwd": (1.0, 20.0), "softplus_bwd": (1.0, 20.0),
                "leaky_relu_fwd": (0.01, 0.0), "leaky_relu_bwd": (0.01, 0.0), "elu_fwd": (1.0, 0.0),
                "elu_bwd": (1.0, 0.0)}
# integer dtypes the arithmetic kernels lack (KERNELS.md: A = F + int32 + int64); they compute in a
# wider one and cast back (two's complement wrap-around gives the narrow type's result)
_NARROW = {np.dtype(np.int8): np.dtype(np.int32), np.dtype(np.uint8): np.dtype(np.int32),
           np.dtype(np.int16): np.dtype(np.int32)}
# kernels whose first input has its own dtype (bool condition): the dtype suffix comes from the rest
_EW_FIRST_OWN_DTYPE = {"where_fwd": np.dtype(np.bool_)}


def elementwise(kernel: str, out: str | None = None) -> Callable:
    """``impl(*inputs, a=None, b=None)`` for ``kernels/elementwise.cu``'s ``<kernel>_<dtype>``."""
    cp = _cupy()
    ndarray = cp.ndarray
    da, db = _EW_DEFAULTS.get(kernel, (0.0, 0.0))
    out_dt = None if out is None else np.dtype(out)
    first_dt = _EW_FIRST_OWN_DTYPE.get(kernel)
    kfirst = 0 if first_dt is None else 1

    def impl(*inputs, a=None, b=None):
        nin = len(inputs)
        if not 1 <= nin <= MAX_IN:
            raise TypeError(f"{kernel}: expected 1 to {MAX_IN} inputs, got {nin}")
        ref = None
        dt = None
        for k, x in enumerate(inputs):
            if isinstance(x, ndarray):
                if ref is None:
                    ref = x
                if dt is None and k >= kfirst:
                    dt = x.dtype
        if ref is None:
            raise TypeError(f"{kernel}: at least one input must be a CuPy array")
        if dt is None:
            x = inputs[kfirst] if nin > kfirst else inputs[0]
            dt = x.dtype if hasattr(x, "dtype") else np.result_type(x)
        if dt in _NARROW:   # int8/uint8/int16 have no kernels: compute in int32, wrap back on the cast
            res = impl(*(x if k < kfirst else _as_dtype(x, _NARROW[dt]) if isinstance(x, ndarray) else int(x)
                         for k, x in enumerate(inputs)), a=a, b=b)
            return res if out_dt is not None else _as_dtype(res, dt)
        dev = ref.device.id
        odt = out_dt or dt
        kinds = [(first_dt or dt).kind if k == 0 else dt.kind for k in range(nin)]
        with ref.device:
            arrays = []
            mask = 0
            fs = [0.0] * MAX_IN
            is_ = [0] * MAX_IN
            shapes = []
            for k, x in enumerate(inputs):
                if isinstance(x, ndarray):
                    want = first_dt if (k == 0 and first_dt is not None) else dt
                    if x.dtype != want:
                        x = _as_dtype(x, want)
                    if x.device.id != dev:
                        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                                           f"two devices, cuda:{dev} and cuda:{x.device.id}!")
                    arrays.append(x)
                    shapes.append(tuple(x.shape))
                else:
                    mask |= 1 << k
                    fs[k], is_[k] = scalar_slots(x, kinds[k])
                    arrays.append(None)
            shape = broadcast_shape(*shapes)
            res = cp.empty(shape, dtype=odt)
            n = res.size
            if n == 0:
                return res
            pa = da if a is None else a
            pb = db if b is None else b
            live = [x for x in arrays if x is not None]
            if all(tuple(x.shape) == shape and x.flags.c_contiguous for x in live):
                vec = all(x.data.ptr % (x.itemsize * 4) == 0 for x in live) and res.data.ptr % (res.itemsize * 4) == 0
                mode, cshape, cst = (2 if vec and n >= 4 else 1), (), []
                per = 4 if mode == 2 else 1
            else:
                sts = [broadcast_strides(tuple(x.shape), _estrides(x), shape) if x is not None else (0,) * len(shape)
                       for x in arrays]
                cshape, cst = collapse_dims(shape, sts)
                if len(cshape) > MAX_DIMS:   # too many dims to index in the kernel: materialise inputs
                    arrays = [contiguous(cp.broadcast_to(x, shape)) if x is not None else None for x in arrays]
                    sts = [c_strides(shape) if x is not None else (0,) * len(shape) for x in arrays]
                    cshape, cst = collapse_dims(shape, sts)
                mode, per = 0, 1
            fn = get_kernel("elementwise", f"{kernel}_{dtype_name(dt)}", dev)
            blocks, threads = launch_config(n, per_thread=per, max_blocks=_max_blocks(dev))
            params = ew_params(n, mode, mask, pa, pb, fs, is_, cshape, cst)
            args = [res] + arrays + [None] * (MAX_IN - nin) + [params]
            fn((blocks,), (threads,), tuple(args))
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl


# ---------------------------------------------------------------------------------
# reductions
_SUM_LIKE = {"sum_fwd", "prod_fwd"}


def _reduce_dtypes(kernel: str, dt: np.dtype) -> tuple[np.dtype, np.dtype]:
    """(output dtype, accumulator dtype) of a reduction kernel on input dtype ``dt``."""
    if dt == np.float16:
        return dt, np.dtype(np.float32)
    if kernel in _SUM_LIKE and dt.kind in "iub":
        return np.dtype(np.int64), np.dtype(np.int64)
    return dt, dt


def reduce(kernel: str) -> Callable:
    """``impl(x, axes, keepdims, acc=False)``: sum_fwd, prod_fwd, amax_fwd, amin_fwd over any set of axes;
    ``acc=True`` returns the accumulator dtype (float32 for float16) instead of the output dtype."""
    cp = _cupy()

    def impl(x, axes, keepdims: bool = False, acc: bool = False):
        wide = _NARROW.get(x.dtype)
        if wide is not None:   # no int8/uint8/int16 kernels; sum/prod give int64 anyway
            if kernel in _SUM_LIKE:
                return impl(_as_dtype(x, np.dtype(np.int64)), axes, keepdims)
            return _as_dtype(impl(_as_dtype(x, wide), axes, keepdims), x.dtype)
        ax = normalize_axes(axes, x.ndim)
        out_dt, acc_dt = _reduce_dtypes(kernel, x.dtype)
        if acc:   # the result in the accumulator dtype (float16 -> float32) for composites like mean
            out_dt = acc_dt
        fin = np.int32(1 if acc else 0)
        out_shape = tuple(1 if d in ax else s for d, s in enumerate(x.shape)) if keepdims else \
            tuple(s for d, s in enumerate(x.shape) if d not in ax)
        dev = x.device.id
        with x.device:
            if not ax:   # reducing over no axis: a copy in the output dtype
                return (_cast(x, out_dt) if x.dtype != out_dt else _copy(x)).reshape(out_shape)
            plan = plan_reduce(tuple(x.shape), _estrides(x), ax)
            if plan["perm"] is not None:
                x = contiguous(x.transpose(plan["perm"]))
            outer, R, inner = plan["outer"], plan["R"], plan["inner"]
            n_out = outer * inner
            res = cp.empty(out_shape, dtype=out_dt)
            if n_out == 0:
                return res
            dn = dtype_name(x.dtype)
            fn = get_kernel("reduce", f"{kernel}_{dn}", dev)
            if plan["mode"] == "cols":
                blocks, threads = launch_config(n_out, max_blocks=_max_blocks(dev))
                fn((blocks,), (threads,), (res, x, np.int64(n_out), np.int64(R), np.int64(inner), np.int64(R),
                                           fin))
                return res
            chunk = plan_split(outer, R, _sm_count(dev))
            threads = block_size(chunk)
            if chunk >= R:
                blocks = min(outer, 65535 * 32)
                fn((blocks,), (threads,), (res, x, np.int64(outer), np.int64(R), np.int64(1), np.int64(R),
                                           fin))
                return res
            nchunks = -(-R // chunk)
            part = cp.empty((outer, nchunks), dtype=acc_dt)
            fn((min(outer * nchunks, 65535 * 32),), (threads,),
               (part, x, np.int64(outer * nchunks), np.int64(R), np.int64(1), np.int64(chunk), np.int32(1)))
            fn2 = get_kernel("reduce", f"{kernel}_{dtype_name(acc_dt)}", dev)
            tmp = res if acc_dt == out_dt else cp.empty(out_shape, dtype=acc_dt)
            fn2((min(outer, 65535 * 32),), (block_size(nchunks),),
                (tmp, part, np.int64(outer), np.int64(nchunks), np.int64(1), np.int64(nchunks), np.int32(0)))
            if tmp is not res:
                _copy_to(res, tmp)
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl


def arg_reduce(kernel: str) -> Callable:
    """``impl(x, axis, keepdims) -> (values, int64 indices)``: max_fwd / min_fwd (first index, NaN wins)."""
    cp = _cupy()

    def impl(x, axis, keepdims: bool = False):
        wide = _NARROW.get(x.dtype)
        if wide is not None:
            v, i = impl(_as_dtype(x, wide), axis, keepdims)
            return _as_dtype(v, x.dtype), i
        dev = x.device.id
        with x.device:
            if axis is None:
                out_shape = (1,) * x.ndim if keepdims else ()
                src = contiguous(x).reshape(-1)
                outer, R, inner = 1, src.size, 1
            else:
                ax = axis % max(x.ndim, 1)
                shape = tuple(x.shape) or (1,)
                out_shape = tuple(1 if d == ax else s for d, s in enumerate(x.shape)) if keepdims else \
                    tuple(s for d, s in enumerate(x.shape) if d != ax)
                src = contiguous(x)
                outer, R, inner = outer_len_inner(shape, ax)
            vals = cp.empty(out_shape, dtype=x.dtype)
            idx = cp.empty(out_shape, dtype=np.int64)
            rows = outer * inner
            if rows == 0:
                return vals, idx
            fn = get_kernel("reduce", f"{kernel}_{dtype_name(x.dtype)}", dev)
            fn((min(rows, 65535 * 32),), (block_size(R),),
               (vals, idx, src, np.int64(rows), np.int64(R), np.int64(inner)))
            return vals, idx

    impl.__name__ = f"cupy_{kernel}"
    return impl


# ---------------------------------------------------------------------------------
# scans and softmax: one block per (outer, inner) row along an axis
def scan(kernel: str) -> Callable:
    """``impl(x, axis)``: cumsum_fwd, cumprod_fwd, cumsum_bwd (reverse); ints/bool give int64."""
    cp = _cupy()

    def impl(x, axis: int):
        if x.dtype in _NARROW:   # integer scans give int64 anyway
            x = _as_dtype(x, np.dtype(np.int64))
        dev = x.device.id
        with x.device:
            out_dt = np.dtype(np.int64) if x.dtype.kind in "iub" else x.dtype
            res = cp.empty(x.shape, dtype=out_dt)
            if res.size == 0:
                return res
            src = contiguous(x)
            shape = tuple(x.shape) or (1,)
            outer, L, inner = outer_len_inner(shape, axis % len(shape))
            rows = outer * inner
            fn = get_kernel("scan", f"{kernel}_{dtype_name(x.dtype)}", dev)
            fn((min(rows, 65535 * 32),), (block_size(L),), (res, src, np.int64(rows), np.int64(L), np.int64(inner)))
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl


def softmax(kernel: str) -> Callable:
    """``impl(x, axis)`` for softmax_fwd / log_softmax_fwd; ``impl(g, y, axis)`` for the _bwd kernels."""
    cp = _cupy()

    def impl(*args):
        *arrays, axis = args
        x = arrays[0]
        dev = x.device.id
        with x.device:
            arrays = [contiguous(a if a.dtype == x.dtype else _as_dtype(a, x.dtype)) for a in arrays]
            res = cp.empty(x.shape, dtype=x.dtype)
            if res.size == 0:
                return res
            shape = tuple(x.shape) or (1,)
            ax = 0 if axis is None else axis % len(shape)
            outer, L, inner = outer_len_inner(shape, ax)
            rows = outer * inner
            fn = get_kernel("softmax", f"{kernel}_{dtype_name(x.dtype)}", dev)
            second = arrays[1] if len(arrays) > 1 else None
            fn((min(rows, 65535 * 32),), (block_size(L),),
               (res, arrays[0], second, np.int64(rows), np.int64(L), np.int64(inner)))
            return res

    impl.__name__ = f"cupy_{kernel}"
    return impl


# ---------------------------------------------------------------------------------
# index kernels: (out, x, index, src, IdxParams)
def _index_array(index):
    cp = _cupy()
    if not isinstance(index, cp.ndarray):
        index = cp.asarray(index)
    return index if index.dtype == np.int64 else _as_dtype(index, np.dtype(np.int64))


def _src_operand(src, dt):
    """(array or None, src_scalar, fsrc, isrc) for a src that may be a Python scalar."""
    cp = _cupy()
    if isinstance(src, cp.ndarray):
        return (src if src.dtype == dt else _as_dtype(src, dt)), 0, 0.0, 0
    f, i = scalar_slots(src, dt.kind)
    return None, 1, f, i


def _launch_index(kernel: str, x, out, xa, index, src, params, n: int) -> None:
    if n == 0:
        return
    dev = out.device.id
    fn = get_kernel("index", f"{kernel}_{dtype_name(out.dtype)}", dev)
    blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
    fn((blocks,), (threads,), (out, xa, index, src, params))


def _gather(kernel, x, axis, index):
    cp = _cupy()
    with x.device:
        index = _index_array(index)
        if x.ndim == 0:
            x = x.reshape(1)
        ishape = tuple(index.shape)
        idx = index.reshape(1) if index.ndim == 0 else index
        ax = axis % x.ndim
        out = cp.empty(idx.shape, dtype=x.dtype)
        p = idx_params(out.size, ax, x.shape[ax], tuple(idx.shape), [_estrides(x), _estrides(idx)])
        _launch_index(kernel, x, out, x, idx, None, p, out.size)
        return out.reshape(ishape)


def _scatter(kernel, x, axis, index, src):
    cp = _cupy()
    with x.device:
        index = _index_array(index)
        shape0 = tuple(x.shape)
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
        o = out.reshape(1) if out.ndim == 0 else out
        idx = index.reshape(1) if index.ndim == 0 else index
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is not None and s.ndim == 0:
            s = s.reshape(1)
        ax = axis % o.ndim
        p = idx_params(idx.size, ax, o.shape[ax], tuple(idx.shape),
                       [c_strides(tuple(o.shape)), _estrides(idx), _estrides(s) if s is not None else ()],
                       src_scalar=ss, fsrc=fs, isrc=is_)
        _launch_index(kernel, x, o, None, idx, s, p, idx.size)
        return out.reshape(shape0)


def _index_select(kernel, x, axis, index):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(index)).reshape(-1)
        xx = x.reshape(1) if x.ndim == 0 else x
        ax = axis % xx.ndim
        oshape = tuple(xx.shape[:ax]) + (idx.size,) + tuple(xx.shape[ax + 1:])
        out = cp.empty(oshape, dtype=x.dtype)
        p = idx_params(out.size, ax, xx.shape[ax], oshape, [_estrides(xx)])
        _launch_index(kernel, x, out, xx, idx, None, p, out.size)
        return out.reshape(x.shape) if x.ndim == 0 else out


def _index_add(kernel, x, axis, index, src):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(index)).reshape(-1)
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
        o = out.reshape(1) if out.ndim == 0 else out
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is None:
            raise TypeError("index_add_fwd: src must be an array")
        s = s.reshape(1) if s.ndim == 0 else s
        ax = axis % o.ndim
        p = idx_params(s.size, ax, o.shape[ax], tuple(s.shape), [c_strides(tuple(o.shape)), (), _estrides(s)])
        _launch_index(kernel, x, o, None, idx, s, p, s.size)
        return out


def _take(kernel, x, flat_index):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(flat_index))
        out = cp.empty(idx.shape, dtype=x.dtype)
        cshape, (cst,) = collapse_dims(tuple(x.shape), [_estrides(x)])
        xx = x
        if len(cshape) > MAX_DIMS:
            xx = contiguous(x)
            cshape, cst = (x.size,), (1,)
        p = idx_params(idx.size, -1, x.size, cshape, [cst])
        _launch_index(kernel, x, out, xx, idx, None, p, idx.size)
        return out


def _put(kernel, x, flat_index, src, accumulate: bool = False):
    cp = _cupy()
    with x.device:
        idx = contiguous(_index_array(flat_index)).reshape(-1)
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
        s, ss, fs, is_ = _src_operand(src, x.dtype)
        if s is not None:
            s = contiguous(s).reshape(-1)
        p = idx_params(idx.size, -1, x.size, (), [], src_scalar=ss, accumulate=int(bool(accumulate)), fsrc=fs,
                       isrc=is_)
        _launch_index(kernel, x, out, None, idx, s, p, idx.size)
        return out


_INDEX = {"gather_fwd": _gather, "scatter_fwd": _scatter, "scatter_add_fwd": _scatter,
          "index_select_fwd": _index_select, "index_add_fwd": _index_add, "take_fwd": _take, "put_fwd": _put}


def index(kernel: str) -> Callable:
    """Launchers of ``kernels/index.cu`` (signatures in KERNELS.md): gather/scatter/scatter_add
    ``(x, axis, index[, src])``, index_select/index_add ``(x, axis, index[, src])``,
    take ``(x, flat_index)``, put ``(x, flat_index, src, accumulate)``. Results are new arrays."""
    _cupy()
    try:
        adapter = _INDEX[kernel]
    except KeyError:
        raise RuntimeError(f"no CUDA index kernel named {kernel!r}; known: {', '.join(sorted(_INDEX))}") from None

    ndarray = _cupy().ndarray

    def impl(*args, **kwargs):
        x = args[0]
        wide = _NARROW.get(x.dtype)
        if wide is None:
            return adapter(kernel, *args, **kwargs)
        # no int8/uint8/int16 kernels: x and src (the arrays of x's dtype) go through int32
        args = tuple(_as_dtype(a, wide) if isinstance(a, ndarray) and a.dtype == x.dtype else a for a in args)
        return _as_dtype(adapter(kernel, *args, **kwargs), x.dtype)

    impl.__name__ = f"cupy_{kernel}"
    return impl


# ---------------------------------------------------------------------------------
# copies
def _copy(x):
    cp = _cupy()
    with x.device:
        out = cp.empty(x.shape, dtype=x.dtype)
        _copy_to(out, x)
    return out


def _cast(x, dtype):
    cp = _cupy()
    with x.device:
        out = cp.empty(x.shape, dtype=np.dtype(dtype))
        _copy_to(out, x)
    return out


def _copy_into(dst, src) -> None:
    cp = _cupy()
    with dst.device:
        if not isinstance(src, cp.ndarray):
            src = cp.asarray(np.asarray(src, dtype=dst.dtype))
        elif src.data.mem is dst.data.mem:   # overlapping views: read everything before writing
            src = _copy(src)
        _copy_to(dst, src)


def _triangle(x, k: int = 0, upper: bool = False):
    cp = _cupy()
    with x.device:
        if x.ndim < 2:
            raise RuntimeError("tril/triu: input tensor must have at least 2 dimensions")
        if x.dtype in _NARROW:   # triangle kernels are A+B only
            return _as_dtype(_triangle(_as_dtype(x, _NARROW[x.dtype]), k, upper), x.dtype)
        out = cp.empty(x.shape, dtype=x.dtype)
        n = out.size
        if n == 0:
            return out
        cshape, (cst,) = collapse_dims(tuple(x.shape), [_estrides(x)])
        xx = x
        if len(cshape) > MAX_DIMS:
            xx = contiguous(x)
            cshape, cst = (x.size,), (1,)
        dev = x.device.id
        fn = get_kernel("copy", f"triangle_{dtype_name(x.dtype)}", dev)
        blocks, threads = launch_config(n, max_blocks=_max_blocks(dev))
        fn((blocks,), (threads,), (out, xx, copy_params(n, 0, cshape, [(), cst]), np.int64(x.shape[-2]),
                                   np.int64(x.shape[-1]), np.int64(k), np.int32(1 if upper else 0)))
        return out


_COPY_FNS = {"copy": _copy, "cast": _cast, "copy_into": _copy_into, "triangle": _triangle}


def copy(kernel: str) -> Callable:
    """``copy(x)``, ``cast(x, dtype)``, ``copy_into(dst, src)`` (returns None), ``triangle(x, k, upper)``."""
    _cupy()
    try:
        return _COPY_FNS[kernel]
    except KeyError:
        raise RuntimeError(f"no CUDA copy kernel named {kernel!r}; known: {', '.join(sorted(_COPY_FNS))}") from None


def matmul(kernel: str = "matmul") -> Callable:
    """cuBLAS through ``cupy.matmul`` on the operands' device; float operands made contiguous."""
    cp = _cupy()

    def impl(a, b):
        with a.device:
            if a.dtype.kind == "f" and not (a.flags.c_contiguous or a.flags.f_contiguous):
                a = contiguous(a)
            if b.dtype.kind == "f" and not (b.flags.c_contiguous or b.flags.f_contiguous):
                b = contiguous(b)
            return cp.matmul(a, b)

    impl.__name__ = "cupy_matmul"
    return impl


# ---------------------------------------------------------------------------------
# the Backend
class _CudaGenerator:
    """NumPy-Generator-like sampling on one device (CuPy's Generator; permutation via argsort)."""

    def __init__(self, dev: int, seed: int) -> None:
        cp = _cupy()
        self.dev = dev
        with cp.cuda.Device(dev):
            self._g = cp.random.default_rng(seed)

    def random(self, shape, dtype=np.float64):
        with _cupy().cuda.Device(self.dev):
            return self._g.random(shape, dtype=dtype)

    def standard_normal(self, shape, dtype=np.float64):
        with _cupy().cuda.Device(self.dev):
            return self._g.standard_normal(shape, dtype=dtype)

    def integers(self, low, high=None, size=None):
        with _cupy().cuda.Device(self.dev):
            return self._g.integers(low, high, size=size, dtype=np.int64)

    def permutation(self, n: int):
        cp = _cupy()
        with cp.cuda.Device(self.dev):
            return cp.argsort(self._g.random(int(n), dtype=np.float64)).astype(np.int64)


class CupyBackend:
    """Arrays of ``cuda:N`` devices. Construction raises RuntimeError saying why CUDA is unusable."""

    name = "cupy"

    def __init__(self) -> None:
        cp = _cupy()
        try:
            n = int(cp.cuda.runtime.getDeviceCount())
        except Exception as e:   # CUDARuntimeError, missing driver library, ...
            raise RuntimeError(f"CUDA is unavailable: {type(e).__name__}: {e}") from None
        if n <= 0:
            raise RuntimeError("CUDA is unavailable: no CUDA device is visible (check CUDA_VISIBLE_DEVICES and "
                               "the driver)")
        self.xp = cp
        self._count = n
        self._generators: dict[int, _CudaGenerator] = {}
        from ..ops.creation import initial_seed
        s = initial_seed()
        self._seed = int(s) if s is not None else int(np.random.SeedSequence().entropy % (2**63))

    def device_count(self) -> int:
        return self._count

    def set_device(self, index: int) -> None:
        self.xp.cuda.Device(index or 0).use()

    def from_numpy(self, arr: np.ndarray, index: int | None):
        with self.xp.cuda.Device(index or 0):
            return self.xp.asarray(arr)

    def to_numpy(self, arr) -> np.ndarray:
        return self.xp.asnumpy(arr)

    def to_device(self, arr, index: int | None):
        dev = index or 0
        if arr.device.id == dev:
            return arr
        src = contiguous(arr)
        with self.xp.cuda.Device(dev):
            out = self.xp.empty(src.shape, dtype=src.dtype)
            if src.nbytes:
                out.data.copy_from_device(src.data, src.nbytes)
        return out

    def synchronize(self, index: int | None) -> None:
        self.xp.cuda.Device(index or 0).synchronize()

    def storage_key(self, arr) -> int:
        """Identity of the allocation an array views (views of one buffer share ``data.mem``)."""
        return id(arr.data.mem)

    def device_name(self, index: int | None) -> str:
        name = self.xp.cuda.runtime.getDeviceProperties(index or 0)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def manual_seed(self, seed: int) -> None:
        self._seed = int(seed)
        self._generators.clear()

    def generator(self, index: int | None) -> _CudaGenerator:
        dev = index or 0
        g = self._generators.get(dev)
        if g is None:
            g = self._generators[dev] = _CudaGenerator(dev, self._seed)
        return g


__all__ = ["CupyBackend", "kernel_source", "get_kernel", "elementwise", "reduce", "arg_reduce",
           "scan", "softmax", "index", "copy", "matmul"]
