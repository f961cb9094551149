"""The CUDA launchers (``backends/cuda_*.py``) against the real calling convention, on CPU.

A stand-in CuPy (NumPy-backed arrays) and a stand-in ``Function`` that converts each kernel
argument as ``cupy/cuda/function.pyx`` (``_pointer``) does and checks it against the
``extern "C" __global__`` signature of the kernel in ``kernels/<family>.cu``: a cupy array
for every pointer (element type = pointee), a scalar whose converted dtype is the exact C type
(a Python int becomes int64, a float float64: CuPy copies the kernel's parameter size from
that buffer), a size-one NumPy array of the struct's size for a struct, and tuples for
grid/block (the Cython signature is ``tuple grid, tuple block``). Kernels are not run (but
copy/cast, which the launchers use to prepare operands): outputs stay zero, and these tests
check what each launch passes.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import types
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from autograd_gpu.backends import (cuda_conv, cuda_copy, cuda_elementwise, cuda_embedding, cuda_index, cuda_loss,
                                   cuda_norm, cuda_optim, cuda_pooling, cuda_random, cuda_reduce, cuda_scan,
                                   cuda_softmax)
from autograd_gpu.backends import cupy_backend as cb

KDIR = Path(__file__).resolve().parent.parent / "kernels"
_STRUCT_SIZES = {"EwParams": 344, "CopyParams": 208, "IdxParams": 304, "ConvGeom": 168, "PoolParams": 176}
_C_TYPES = {"float": "float32", "double": "float64", "int": "int32", "long long": "int64",
            "unsigned long long": "uint64", "bool": "bool", "ag_float16": "float16"}


def _c_dtype(name: str) -> np.dtype | None:
    """NumPy dtype of a C type of the kernels (None: ``void``, any element type)."""
    if name == "void":
        return None
    if name.startswith("ag_t_"):
        return np.dtype(name[5:])
    if name.startswith("ag_a_"):   # Compute<T>: float for float16
        return np.dtype(np.float32) if name == "ag_a_float16" else np.dtype(name[5:])
    return np.dtype(_C_TYPES[name])


@lru_cache(maxsize=None)
def signatures(family: str) -> dict:
    """{kernel name: [(kind, C type)]} of ``kernels/<family>.cu``; kind is "ptr", "scalar" or "struct"."""
    if shutil.which("cpp") is None:
        pytest.skip("no C preprocessor (cpp) on PATH")
    out = subprocess.run(["cpp", "-P", "-I", str(KDIR), str(KDIR / f"{family}.cu")], capture_output=True,
                         text=True, check=True).stdout
    sigs = {}
    for m in re.finditer(r'extern\s+"C"\s+__global__\s*void\s+(\w+)\s*\(([^)]*)\)', out):
        params = []
        for p in m.group(2).split(","):
            toks = [t for t in re.findall(r"[A-Za-z_]\w*|\*", p) if t != "const"]
            if "*" in toks:
                params.append(("ptr", " ".join(toks[:toks.index("*")])))
            else:
                ctype = " ".join(toks[:-1])
                params.append(("struct" if ctype in _STRUCT_SIZES else "scalar", ctype))
        sigs[m.group(1)] = params
    return sigs


# a NumPy-backed stand-in for CuPy -------------------------------------------------------------------------
class _Device:
    def __init__(self, dev: int = 0) -> None:
        self.id = dev

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


class _Mem:
    def __init__(self, a: np.ndarray) -> None:
        root = a
        while isinstance(root.base, np.ndarray):
            root = root.base
        self.ptr = a.__array_interface__["data"][0]
        self.mem = root   # views of one allocation share it, as MemoryPointer.mem does


class FakeArray(np.ndarray):
    """A cupy.ndarray stand-in: ``device``, ``data.ptr``/``data.mem`` and ``get()``."""

    @property
    def device(self) -> _Device:
        return _Device(0)

    @property
    def data(self) -> _Mem:   # type: ignore[override]
        return _Mem(self)

    def get(self) -> np.ndarray:
        return np.array(self.view(np.ndarray))


def _fa(a) -> FakeArray:
    return np.asarray(a).view(FakeArray)


def _ascontiguousarray(a, dtype=None):
    if not isinstance(a, FakeArray):   # cupy._core.ascontiguousarray takes a cupy.ndarray only
        raise TypeError(f"Argument 'a' has incorrect type (expected cupy.ndarray, got {type(a).__name__})")
    return _fa(np.ascontiguousarray(a, dtype))


def fake_cupy():
    return types.SimpleNamespace(
        ndarray=FakeArray, int64=np.int64, int32=np.int32, uint8=np.uint8, float32=np.float32,
        empty=lambda shape, dtype=float: _fa(np.zeros(shape, dtype)),
        zeros=lambda shape, dtype=float: _fa(np.zeros(shape, dtype)),
        full=lambda shape, v, dtype=None: _fa(np.full(shape, v, dtype)),
        asarray=lambda a, dtype=None: _fa(np.array(a, dtype)),
        ascontiguousarray=_ascontiguousarray,
        broadcast_to=lambda a, shape: _fa(np.broadcast_to(a, shape)),
        cuda=types.SimpleNamespace(Device=_Device))


def _converted(arg) -> tuple[str, object]:
    """(kind, dtype or size) of one kernel argument, converted as CuPy's ``_pointer`` converts it."""
    if arg is None or isinstance(arg, FakeArray):
        return "ptr", None if arg is None else arg.dtype
    if isinstance(arg, np.ndarray):
        if arg.size != 1:
            raise TypeError(f"a numpy.ndarray of shape {arg.shape} cannot be passed by value")
        return "value", arg.itemsize
    if type(arg) is bool:
        return "scalar", np.dtype(np.bool_)
    if type(arg) is float:
        return "scalar", np.dtype(np.float64)
    if type(arg) is int:
        return "scalar", np.dtype(np.uint64 if arg >= 2**63 else np.int64)
    if isinstance(arg, np.generic):
        return "scalar", arg.dtype
    raise TypeError(f"Unsupported type {type(arg)}")


class FakeFunction:
    """``cupy.cuda.function.Function``: ``f(grid, block, args, shared_mem=0, stream=None)``, checked."""

    def __init__(self, family: str, name: str, launches: list) -> None:
        self.family, self.name, self.launches = family, name, launches
        self.params = signatures(family)[name]

    def __call__(self, grid, block, args, shared_mem: int = 0, stream=None,
                 enable_cooperative_groups: bool = False) -> None:
        where = f"{self.family}.cu:{self.name}"
        if not isinstance(grid, tuple) or not isinstance(block, tuple):   # Cython: `tuple grid, tuple block`
            raise TypeError(f"{where}: grid and block must be tuples, got {type(grid)}, {type(block)}")
        assert all(type(v) is int for v in grid + block), f"{where}: grid/block {grid}, {block}"
        assert 1 <= len(grid) <= 3 and 1 <= len(block) <= 3, where
        assert grid[0] < 2**31 and all(v <= 65535 for v in grid[1:]), f"{where}: grid {grid}"
        assert np.prod(block) <= 1024 and block[0] <= 1024, f"{where}: block {block}"
        args = tuple(args)
        assert len(args) == len(self.params), f"{where}: {len(args)} arguments, the kernel takes {len(self.params)}"
        for k, (arg, (kind, ctype)) in enumerate(zip(args, self.params)):
            got_kind, got = _converted(arg)
            if kind == "ptr":
                want = _c_dtype(ctype)
                assert got_kind == "ptr", f"{where}: argument {k} ({ctype}*) got {type(arg).__name__}"
                assert got is None or want is None or got == want, f"{where}: argument {k} ({ctype}*) got {got}"
            elif kind == "struct":
                assert got_kind == "value" and got == _STRUCT_SIZES[ctype], \
                    f"{where}: argument {k} ({ctype}, {_STRUCT_SIZES[ctype]} bytes) got {type(arg).__name__} {got}"
            else:
                assert got_kind == "scalar" and got == _c_dtype(ctype), \
                    f"{where}: argument {k} ({ctype}) got {type(arg).__name__} {got}"
        self.launches.append((self.family, self.name, args))
        if self.family == "copy" and self.name.startswith(("copy_", "cast_")):   # dst[...] = src, run here
            np.copyto(args[0], np.broadcast_to(args[1], args[0].shape), casting="unsafe")


_GET_KERNEL_USERS = (cb, cuda_conv, cuda_copy, cuda_elementwise, cuda_embedding, cuda_index, cuda_loss, cuda_norm,
                     cuda_optim, cuda_random, cuda_reduce, cuda_scan, cuda_softmax)


@pytest.fixture
def launches(monkeypatch) -> list:
    """Installs the stand-in CuPy and kernels; the list of (family, kernel, args) launched."""
    log: list = []
    monkeypatch.setattr(cb, "_cp", fake_cupy())
    for mod in _GET_KERNEL_USERS:
        monkeypatch.setattr(mod, "get_kernel", lambda family, name, dev: FakeFunction(family, name, log))
        for helper, value in (("_max_blocks", 32 * 132), ("_sm_count", 132)):
            if hasattr(mod, helper):
                monkeypatch.setattr(mod, helper, lambda dev, v=value: v)
    monkeypatch.setattr(cuda_index, "_FLAGS", {})
    return log


def _x(shape, dtype=np.float32) -> FakeArray:
    return _fa((np.arange(int(np.prod(shape))) % 7).reshape(shape).astype(dtype))


# the stand-in itself: it rejects what real CuPy / the kernel would get wrong ------------------------------
def test_stand_in_rejects_mismatches(launches):
    fn = FakeFunction("random", "uniform_fwd_float32", launches)
    out = _x((4,))
    fn((1,), (256,), (out, np.int64(4), np.uint64(1), np.uint64(0)))
    for bad in [(out, 4.0, np.uint64(1), np.uint64(0)),                    # double for long long
                (out, np.int32(4), np.uint64(1), np.uint64(0)),            # 4 bytes for 8
                (_x((4,), np.float64), np.int64(4), np.uint64(1), np.uint64(0)),   # double* for float*
                (out, np.int64(4), np.uint64(1))]:                         # an argument missing
        with pytest.raises(AssertionError):
            fn((1,), (256,), bad)
    with pytest.raises(TypeError):
        fn([1], (256,), (out, np.int64(4), np.uint64(1), np.uint64(0)))
    assert signatures("index")["gather_fwd_float32"][4] == ("struct", "IdxParams")
    assert signatures("norm")["layer_norm_fwd_float16"][1] == ("ptr", "ag_a_float16")


# every launcher family through the stand-in -------------------------------------------------------------
@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
def test_float_families_pass_what_the_kernels_take(launches, dt):
    x = _x((2, 3, 5), dt)
    cuda_elementwise.elementwise("add_fwd")(x, x[:, :1], a=2.0)
    cuda_elementwise.elementwise("add_fwd")(x, 1.5)
    cuda_elementwise.elementwise("where_fwd")(_fa(np.ones((2, 3, 5), bool)), x, 0.0)
    cuda_elementwise.elementwise("eq_fwd", out="bool")(x, x)
    for k in ("sum_fwd", "amax_fwd"):
        cuda_reduce.reduce(k)(x, (1,), False)
        cuda_reduce.reduce(k)(x, (2,), True, acc=True)
        cuda_reduce.reduce(k)(_x((1, 10**5), dt), (1,), False)   # split rows: two launches
    cuda_reduce.arg_reduce("max_fwd")(x, 1)
    for k in ("cumsum_fwd", "cummax_fwd", "logcumsumexp_fwd"):
        cuda_scan.scan(k)(x, 1)
    cuda_softmax.softmax("softmax_fwd")(x, 1)
    cuda_softmax.softmax("softmax_bwd")(x, x, -1)
    cuda_copy.copy("triangle")(x, 1, True)
    cuda_copy.copy("cast")(x.transpose(2, 0, 1), np.float64)
    idx = _fa(np.zeros((2, 3, 5), np.int64))
    cuda_index.index("gather_fwd")(x, 1, idx, check=lambda i: IndexError(i))
    cuda_index.index("scatter_reduce_fwd")(x, 1, idx, x, "mean", False)
    cuda_index.index("index_copy_fwd")(x, 0, _fa(np.array([1, 0])), 2.0)
    cuda_index.index("put_fwd")(x, _fa(np.array([1, 3])), x.reshape(-1)[:2], True)
    cuda_index.index("take_fwd")(x, _fa(np.array([[1, 3]])))
    names = {n for _, n, _ in launches}
    d = cb.dtype_name(np.dtype(dt))
    assert {f"add_fwd_{d}", f"scatter_mean_{d}", "scatter_count_int32", "sum_fwd_float32" if d != "float64" else
            "sum_fwd_float64"} <= names


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
def test_nn_families_pass_what_the_kernels_take(launches, dt):
    x = _x((2, 3, 4, 4), dt)
    cols = cuda_conv.im2col_fwd(x, (2, 2), (1, 1), (0, 0), (1, 1), True)
    cuda_conv.col2im_fwd(cols, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), True)
    w = _x((5, 3), dt)
    ii = _fa(np.array([[0, 4], [2, 1]]))
    g = cuda_embedding.embedding_fwd(w, ii, check=lambda i: IndexError(i))
    cuda_embedding.embedding_bwd(g, ii, 5, -1, True)
    cuda_embedding.embedding_row_factor(ii, 5, 0, True, w.dtype)
    cuda_embedding.one_hot_fwd(ii, 5)
    x3, t2, c2 = _x((2, 5, 3), dt), _fa(np.zeros((2, 3), np.int64)), _x((2, 3), dt)
    loss, lse, _ = cuda_loss.cross_entropy_fwd(x3, t2, None, -100, 0.1)
    cuda_loss.cross_entropy_bwd(c2, x3, lse, t2, _x((5,), dt), -100, 0.1)
    cuda_loss.cross_entropy_fwd_prob(x3, x3, None, 0.0)
    cuda_loss.cross_entropy_bwd_prob(c2, x3, lse, x3, None, 0.0)
    cuda_loss.nll_loss_fwd(x3, t2, None, -100)
    cuda_loss.nll_loss_bwd(c2, t2, None, -100, 5)
    x2 = _x((4, 6), dt)
    y, mean, rstd = cuda_norm.layer_norm_fwd(x2, _x((6,), dt), None, 1e-5)
    cuda_norm.layer_norm_bwd(x2, x2, mean, rstd, None)
    m, v = cuda_norm.batch_norm_fwd_stats(x3)
    cuda_norm.batch_norm_fwd(x3, m, v, None, None)
    cuda_norm.batch_norm_bwd(x3, x3, m, v, None, True)
    cuda_random.uniform(0, (3, 4), dt, 7, 0)
    cuda_random.randint(0, (3,), -2, 5, 7, 0)
    cuda_random.dropout_fwd(x, 1, 0.5, 2.0, 0.0, 0.0, 7, 0)
    cuda_random.dropout_bwd(x, 1, 0.5, 2.0, 7, 0)
    p = [_x((3, 4), dt), _x((5,), dt)]
    cuda_optim.multi_tensor("adam_step")(p, p, p, p, [None, None], [1, 2], 1e-3, 0.9, 0.999, 1e-8, 0.0,
                                         False, False, False)
    from autograd_gpu.backends import cuda_interpolate
    taps = np.array([[0, 1], [2, 3]])
    cuda_interpolate._impl("interp_fwd")(x, 3, taps, np.full((2, 2), 0.5))
    cuda_interpolate._impl("interp_fwd")(x, 2, taps, None)
    assert len(launches) >= 20


@pytest.mark.parametrize("dt", [np.float32, np.float16])
def test_pooling_launchers_pass_what_the_kernels_take(launches, dt):
    x = _x((2, 6, 6), dt)
    v, i = cuda_pooling._impl("max_pool_fwd")(x, (2, 2), (2, 2), (0, 0), (1, 1), (3, 3))
    cuda_pooling._impl("max_pool_bwd")(v, i, (6, 6), (2, 2), (2, 2), (0, 0), (1, 1))
    cuda_pooling._impl("avg_pool_fwd")(x, (2, 2), (2, 2), (0, 0), (3, 3), True, None)
    cuda_pooling._impl("pool_gather_fwd")(x.reshape(2, 36), i.reshape(2, 9))
    cuda_pooling._impl("pool_scatter_add_fwd")(v.reshape(2, 9), i.reshape(2, 9), (36,))
    assert len(launches) == 5


@pytest.mark.parametrize("idt", [np.int32, np.int16, np.uint8])
def test_pool_indices_of_any_integer_dtype_reach_the_kernel_as_int64(launches, idt):
    """max_unpool's user indices keep their dtype up to the launcher (the NumPy kernel takes any
    integer dtype), but pool_scatter/pool_gather/max_pool_bwd read ``const long long* idx``: an
    int32 buffer would be read as int64 there (pairs of indices fused, reads past the end)."""
    x = _x((2, 4), np.float32)
    idx = _fa(np.array([[0, 3, 5, 8], [1, 2, 4, 7]], dtype=idt))
    cuda_pooling._impl("pool_scatter_fwd")(x, idx, (3, 3))
    cuda_pooling._impl("pool_scatter_add_fwd")(x, idx, (9,))
    cuda_pooling._impl("pool_gather_fwd")(_x((2, 9)), idx)
    cuda_pooling._impl("max_pool_bwd")(x.reshape(2, 2, 2), idx.reshape(2, 2, 2), (3, 3), (2, 2), (1, 1), (0, 0),
                                       (1, 1))
    passed = [a[2] for fam, _, a in launches if fam == "pooling"]
    assert len(passed) == 4 and all(p.dtype == np.int64 for p in passed)
    np.testing.assert_array_equal(passed[0].get(), idx.get().astype(np.int64))
