"""The CUDA backend: availability reporting (runs on CPU) and, on a GPU, the launchers of
``backends/cuda_*.py`` against NumPy -- module caching per device, odd sizes, strided and broadcast
inputs, float16, every kernel family."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.backends import cupy_backend as cb
from autograd_gpu.backends.cuda_copy import copy
from autograd_gpu.backends.cuda_elementwise import elementwise
from autograd_gpu.backends.cuda_index import index
from autograd_gpu.backends.cuda_matmul import matmul
from autograd_gpu.backends.cuda_reduce import arg_reduce, reduce
from autograd_gpu.backends.cuda_scan import scan
from autograd_gpu.backends.cuda_softmax import softmax

cuda = pytest.mark.cuda


# availability: must be False / a reason, never an exception -------------------------
def test_unavailable_is_false_with_reason():
    if ag.cuda.is_available():
        assert ag.cuda.unavailable_reason() is None and ag.cuda.device_count() >= 1
        return
    reason = ag.cuda.unavailable_reason()
    assert isinstance(reason, str) and reason
    assert ag.cuda.device_count() == 0
    try:
        import cupy  # noqa: F401
    except ImportError as e:   # absent, or installed but its CUDA libraries fail to load
        absent = isinstance(e, ModuleNotFoundError) and e.name == "cupy"
        assert ("CuPy is not installed" if absent else "importing CuPy failed") in reason


def test_backend_without_cupy_raises_runtime_error(monkeypatch):
    monkeypatch.setattr(cb, "_cp", None)
    monkeypatch.setitem(sys.modules, "cupy", None)   # makes `import cupy` raise ImportError
    with pytest.raises(RuntimeError, match=r"CUDA is unavailable: CuPy is not installed; install autograd-gpu"):
        cb.CupyBackend()
    with pytest.raises(RuntimeError, match="CuPy is not installed"):
        elementwise("exp_fwd")


def test_every_launcher_family_has_its_module():
    """``cuda._lazy`` finds each family's factory by table; the modules import without CuPy."""
    import importlib
    from autograd_gpu.backends import cuda as launchers
    for family, module in launchers._FAMILY_MODULES.items():
        assert callable(getattr(launchers, family)), family
        assert callable(getattr(importlib.import_module(f"autograd_gpu.backends.{module}"), family)), family


def test_numpy_backend_as_strided():
    from autograd_gpu.backends.numpy_backend import NumpyBackend
    a = np.arange(12.0).reshape(3, 4)
    v = NumpyBackend().as_strided(a, 5, (2, 2), (4, 1))
    np.testing.assert_array_equal(v, [[5.0, 6.0], [9.0, 10.0]])
    assert np.shares_memory(v, a)
    np.testing.assert_array_equal(NumpyBackend().as_strided(a, 1, (3,), (4,)), a[:, 1])


def test_cuda_tensor_request_says_why():
    if ag.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(RuntimeError, match="CUDA is unavailable"):
        ag.zeros(2, device="cuda")


# GPU tests ---------------------------------------------------------------------------
@pytest.fixture
def cp():
    import cupy
    return cupy


def _close(got, want, dtype=np.float64):
    tol = {np.float16: 2e-3, np.float32: 1e-5}.get(np.dtype(dtype).type, 1e-12)
    np.testing.assert_allclose(np.asarray(got.get(), dtype=np.float64), np.asarray(want, dtype=np.float64),
                               rtol=tol, atol=tol)


@cuda
def test_module_cache_per_device(cp):
    f = elementwise("exp_fwd")
    f(cp.ones(3, dtype=np.float32))
    key = ("elementwise", 0)
    n = cb.compile_count[key]
    f(cp.ones(5, dtype=np.float32))
    elementwise("neg_fwd")(cp.ones(5, dtype=np.float64))
    assert cb.compile_count[key] == n == 1
    assert key in cb._modules


@cuda
@pytest.mark.parametrize("n", [1, 3, 1023, 2**20 + 1])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_elementwise_odd_sizes(cp, n, dtype):
    x = np.linspace(-2, 2, n).astype(dtype)
    y = np.linspace(1, 3, n).astype(dtype)
    _close(elementwise("add_fwd")(cp.asarray(x), cp.asarray(y)), x.astype(np.float64) + y, dtype)
    _close(elementwise("mul_fwd")(cp.asarray(x), 2.5), x.astype(np.float64) * 2.5, dtype)
    _close(elementwise("exp_fwd")(cp.asarray(x)), np.exp(x.astype(np.float64)), dtype)


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_broadcast_noncontig_scalar(cp, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 1, 4)).astype(dtype)
    bd = cp.asarray(rng.standard_normal((5, 8)).astype(dtype))[:, ::2]   # strided (5, 4)
    b = bd.get()
    _close(elementwise("sub_fwd")(cp.asarray(a), bd, a=2.0), a - 2.0 * b, dtype)
    t = rng.standard_normal((4, 6)).astype(dtype)
    _close(elementwise("maximum_fwd")(cp.asarray(t).T, 0.0), np.maximum(t.T, 0.0), dtype)
    _close(elementwise("where_fwd")(cp.asarray(t > 0), cp.asarray(t), 1.5), np.where(t > 0, t, 1.5), dtype)
    assert elementwise("lt_fwd", out="bool")(cp.asarray(t), 0.0).dtype == np.bool_
    np.testing.assert_array_equal(elementwise("lt_fwd", out="bool")(cp.asarray(t), 0.0).get(), t < 0)
    _close(elementwise("clamp_fwd")(cp.asarray(t), a=-0.5), np.maximum(t, -0.5), dtype)
    big = cp.asarray(rng.standard_normal((2, 3, 2, 3, 2, 3, 2, 3, 2, 3)).astype(dtype))
    v = big.transpose(9, 8, 7, 6, 5, 4, 3, 2, 1, 0)                 # > 8 non-mergeable dims
    _close(elementwise("neg_fwd")(v), -v.get(), dtype)


@cuda
def test_elementwise_int_semantics(cp):
    x = np.array([-7, -3, 0, 3, 7], dtype=np.int64)
    y = np.array([2, -2, 3, 2, -3], dtype=np.int64)
    np.testing.assert_array_equal(elementwise("floor_divide_fwd")(cp.asarray(x), cp.asarray(y)).get(), x // y)
    np.testing.assert_array_equal(elementwise("remainder_fwd")(cp.asarray(x), cp.asarray(y)).get(), x % y)
    np.testing.assert_array_equal(elementwise("sign_fwd")(cp.asarray(x)).get(), np.sign(x))
    f = np.array([-7.5, 7.5, -0.5], dtype=np.float64)
    np.testing.assert_allclose(elementwise("remainder_fwd")(cp.asarray(f), 2.0).get(), np.remainder(f, 2.0))
    nan = cp.asarray(np.array([np.nan, 1.0]))
    assert np.isnan(elementwise("maximum_fwd")(nan, 0.0).get()[0])


@cuda
def test_elementwise_over_2_31_elements(cp):
    n = 2**31 + 5
    free, _ = cp.cuda.Device().mem_info
    if free < 3 * n:
        pytest.skip("not enough GPU memory for a > 2**31-element int8/bool test")
    x = cp.zeros(n, dtype=np.bool_)
    x[-1] = True
    r = elementwise("logical_not_fwd", out="bool")(x)
    assert not bool(r[-1]) and bool(r[0]) and bool(r[2**31])
    del x, r


@cuda
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axes", [((7,), (0,)), ((3, 1023), (1,)), ((64, 5, 33), (0,)), ((4, 5, 6), (0, 2)),
                                        ((1, 2**20 + 1), (1,)), ((3, 4), ())])
def test_reduce_matches_numpy(cp, dtype, shape, axes):
    x = (np.random.default_rng(1).standard_normal(shape) * 3).astype(dtype)
    ref = x.astype(np.float64) if dtype == np.float16 else x
    for k, fn in (("sum_fwd", np.sum), ("amax_fwd", np.max), ("amin_fwd", np.min)):
        got = reduce(k)(cp.asarray(x), axes, False)
        want = fn(ref, axis=axes) if axes else ref
        tol = 1e-2 if dtype == np.float16 else (1e-4 if dtype == np.float32 else 1e-10)
        np.testing.assert_allclose(got.get().astype(np.float64), np.asarray(want, dtype=np.float64), rtol=tol,
                                   atol=tol * max(1, shape[-1]) ** 0.5)
    assert reduce("sum_fwd")(cp.asarray(x), axes, True).shape == np.sum(x, axis=axes, keepdims=True).shape
    if np.dtype(dtype).kind == "i":
        assert reduce("sum_fwd")(cp.asarray(x), axes, False).dtype == np.int64


@cuda
def test_reduce_noncontiguous(cp):
    x = np.random.default_rng(2).standard_normal((6, 8, 5))
    v = cp.asarray(x).transpose(2, 0, 1)[:, ::2]
    _close(reduce("sum_fwd")(v, (1,), False), x.transpose(2, 0, 1)[:, ::2].sum(1))
    _close(reduce("prod_fwd")(v, (0, 2), True), x.transpose(2, 0, 1)[:, ::2].prod((0, 2), keepdims=True))


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_arg_reduce(cp, dtype):
    x = np.array([[1, 5, 5, 0], [2, 2, -1, -1]], dtype=dtype)
    v, i = arg_reduce("max_fwd")(cp.asarray(x), 1, False)
    np.testing.assert_array_equal(i.get(), [1, 0])
    np.testing.assert_array_equal(v.get(), [5, 2])
    v, i = arg_reduce("min_fwd")(cp.asarray(x), None, False)
    assert i.shape == () and int(i) == 6
    if dtype != np.int64:
        x = x.astype(dtype)
        x[0, 2] = np.nan
        _, i = arg_reduce("max_fwd")(cp.asarray(x), 1, True)
        assert i.shape == (2, 1) and int(i[0, 0]) == 2


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((1,), 0), ((3, 1023), 1), ((700, 3), 0), ((2, 3, 4), 1)])
def test_scan_and_softmax(cp, dtype, shape, axis):
    x = np.random.default_rng(3).uniform(0.5, 1.5, shape).astype(dtype)
    d = cp.asarray(x)
    _close(scan("cumsum_fwd")(d, axis), np.cumsum(x.astype(np.float64), axis), dtype)
    _close(scan("cumsum_bwd")(d, axis), np.flip(np.cumsum(np.flip(x.astype(np.float64), axis), axis), axis), dtype)
    if shape[axis] < 64:
        _close(scan("cumprod_fwd")(d, axis), np.cumprod(x.astype(np.float64), axis), dtype)
    e = np.exp(x - x.max(axis, keepdims=True))
    sm = e / e.sum(axis, keepdims=True)
    _close(softmax("softmax_fwd")(d, axis), sm, dtype)
    _close(softmax("log_softmax_fwd")(d, axis), np.log(sm), dtype)
    g = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    _close(softmax("softmax_bwd")(cp.asarray(g), cp.asarray(sm), axis),
           sm * (g - (g * sm).sum(axis, keepdims=True)), dtype)
    _close(softmax("log_softmax_bwd")(cp.asarray(g), cp.asarray(np.log(sm)), axis),
           g - sm * g.sum(axis, keepdims=True), dtype)


@cuda
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64])
def test_index_kernels(cp, dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 5)) * 4).astype(dtype)
    idx = rng.integers(0, 5, (4, 3))
    src = (rng.standard_normal((4, 3)) * 4).astype(dtype)
    dx, di, ds = cp.asarray(x), cp.asarray(idx), cp.asarray(src)
    np.testing.assert_array_equal(index("gather_fwd")(dx, 1, di).get(), np.take_along_axis(x, idx, 1))
    want = x.copy()
    np.put_along_axis(want, idx[:, :1], src[:, :1], 1)
    np.testing.assert_array_equal(index("scatter_fwd")(dx, 1, di[:, :1], ds[:, :1]).get(), want)
    want = x.astype(np.float64)
    for r in range(4):
        for c in range(3):
            want[r, idx[r, c]] += src[r, c]
    _close(index("scatter_add_fwd")(dx, 1, di, ds), want, dtype if dtype != np.float16 else np.float32)
    sel = np.array([3, 0, 3])
    np.testing.assert_array_equal(index("index_select_fwd")(dx.T, 1, cp.asarray(sel)).get(), x.T[:, sel])
    want = x.astype(np.float64)
    np.add.at(want, sel, np.ones((3, 5)))
    _close(index("index_add_fwd")(dx, 0, cp.asarray(sel), cp.ones((3, 5), dtype=dtype)), want,
           dtype if dtype != np.float16 else np.float32)
    flat = np.array([[0, 19], [-1, 7]])
    np.testing.assert_array_equal(index("take_fwd")(dx.T, cp.asarray(flat)).get(), x.T.ravel()[flat])
    want = x.ravel().copy()
    want[[1, 2]] = src.ravel()[:2]
    np.testing.assert_array_equal(index("put_fwd")(dx, cp.asarray([1, 2]), ds.ravel()[:2], False).get(),
                                  want.reshape(4, 5))


@cuda
@pytest.mark.parametrize("src,dst", [("float32", "float16"), ("float64", "int32"), ("int64", "float64"),
                                     ("bool", "float32"), ("float16", "float64"), ("int32", "bool"),
                                     ("uint8", "int64")])
def test_copy_cast_triangle(cp, src, dst):
    x = (np.arange(24).reshape(2, 3, 4) % 5).astype(src)
    d = cp.asarray(x)
    np.testing.assert_array_equal(copy("cast")(d.transpose(2, 0, 1), np.dtype(dst)).get(),
                                  x.transpose(2, 0, 1).astype(dst))
    c = copy("copy")(d[:, ::2])
    assert c.flags.c_contiguous
    np.testing.assert_array_equal(c.get(), x[:, ::2])
    out = cp.zeros((2, 3, 4), dtype=dst)
    assert copy("copy_into")(out[:, 1:], d[0, :2]) is None
    want = np.zeros((2, 3, 4), dtype=dst)
    want[:, 1:] = x[0, :2].astype(dst)
    np.testing.assert_array_equal(out.get(), want)
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(copy("triangle")(d, k, False).get(), np.tril(x, k))
        np.testing.assert_array_equal(copy("triangle")(d.transpose(0, 2, 1), k, True).get(),
                                      np.triu(x.transpose(0, 2, 1), k))


@cuda
def test_matmul_backend_and_generator(cp):
    a = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    b = np.random.default_rng(7).standard_normal((5, 4)).astype(np.float32)
    _close(matmul("matmul")(cp.asarray(a), cp.asarray(b).T), a @ b.T, np.float32)
    be = cb.CupyBackend()
    be.manual_seed(3)
    r1 = be.generator(0).random((4,), np.float32).get()
    be.manual_seed(3)
    np.testing.assert_array_equal(be.generator(0).random((4,), np.float32).get(), r1)
    assert sorted(be.generator(0).permutation(6).get().tolist()) == list(range(6))
    assert be.generator(0).integers(0, 3, (10,)).dtype == np.int64
    arr = be.from_numpy(np.arange(6.0), 0)
    assert be.storage_key(arr[2:]) == be.storage_key(arr)
    np.testing.assert_array_equal(be.to_numpy(be.to_device(arr, 0)), np.arange(6.0))
    assert isinstance(be.device_name(0), str) and be.device_name(0)


@cuda
def test_cupy_backend_as_strided(cp):
    be = cb.CupyBackend()
    a = be.from_numpy(np.arange(12.0).reshape(3, 4), 0)
    v = be.as_strided(a, 5, (2, 2), (4, 1))
    np.testing.assert_array_equal(v.get(), [[5.0, 6.0], [9.0, 10.0]])
    assert be.storage_key(v) == be.storage_key(a)
    np.testing.assert_array_equal(be.as_strided(a, 1, (3,), (4,)).get(), np.arange(12.0).reshape(3, 4)[:, 1])


# call-convention fixes: narrow ints, bool arithmetic, float16 mean, masked_fill scalars ----------
@cuda
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_narrow_int_dtypes_run_through_int32(cp, dtype):
    x = np.array([[1, 2, 100], [7, 0, 3]], dtype=dtype)
    y = np.array([120, 5, 100], dtype=dtype)
    got = elementwise("add_fwd")(cp.asarray(x), cp.asarray(y))
    assert got.dtype == dtype and (got.get() == (x + y)).all()          # wraps like NumPy
    assert elementwise("lt_fwd", out="bool")(cp.asarray(x), 3).get().tolist() == (x < 3).tolist()
    assert reduce("sum_fwd")(cp.asarray(x), (1,), False).get().tolist() == x.sum(1, dtype=np.int64).tolist()
    v, i = arg_reduce("max_fwd")(cp.asarray(x), 1, False)
    assert v.dtype == dtype and v.get().tolist() == x.max(1).tolist() and i.get().tolist() == x.argmax(1).tolist()
    idx = cp.asarray(np.array([[2, 0, 1]]))
    assert index("gather_fwd")(cp.asarray(x), 1, idx).get().tolist() == np.take_along_axis(
        x[:1], np.array([[2, 0, 1]]), 1).tolist()


@cuda
def test_bool_add_mul_maximum(cp):
    a, b = np.array([True, False, True, False]), np.array([True, True, False, False])
    for k, ref in (("add_fwd", np.add), ("mul_fwd", np.multiply), ("maximum_fwd", np.maximum),
                   ("minimum_fwd", np.minimum)):
        got = elementwise(k)(cp.asarray(a), cp.asarray(b))
        assert got.dtype == np.bool_ and got.get().tolist() == ref(a, b).tolist()


@cuda
def test_float16_mean_does_not_overflow(cp):
    x = cp.full((200000,), 1.0, dtype=np.float16)
    s = reduce("sum_fwd")(x, (0,), False, acc=True)
    assert s.dtype == np.float32 and float(s) == 200000.0
    m = ag.ones(200000, dtype=ag.float16, device="cuda").mean()
    assert m.dtype == ag.float16 and m.item() == 1.0


@cuda
def test_masked_fill_scalar_and_leading_unit_value(cp):
    x = ag.zeros(4, dtype=ag.bool, device="cuda")
    m = ag.tensor([True, False, True, False], device="cuda")
    assert ag.masked_fill(x, m, 0.5).cpu().tolist() == [True, False, True, False]
    t = ag.zeros(2, 3, device="cuda")
    t[ag.tensor([0, 1], device="cuda")] = ag.ones(1, 1, 3, device="cuda")
    assert t.cpu().tolist() == [[1.0] * 3] * 2


# compilation: subnormals kept, errors that say what went wrong ---------------------------------
SUBNORMALS = np.array([1e-40, -3e-42, 1.4e-45, 1.1754942e-38], dtype=np.float32)


@cuda
def test_float32_subnormals_survive_casts_and_arithmetic(cp):
    """Compiled with -ftz=false (CuPy's RawModule would force -ftz=true and give zeros), as PyTorch."""
    d = cp.asarray(SUBNORMALS)
    np.testing.assert_array_equal(copy("cast")(d, np.dtype(np.float64)).get(), SUBNORMALS.astype(np.float64))
    np.testing.assert_array_equal(elementwise("mul_fwd")(d, cp.asarray(np.float32(2.0))).get(), SUBNORMALS * 2)
    np.testing.assert_array_equal(elementwise("add_fwd")(d, d).get(), SUBNORMALS + SUBNORMALS)
    np.testing.assert_array_equal(elementwise("neg_fwd")(d).get(), -SUBNORMALS)
    t = ag.tensor(SUBNORMALS, device="cuda")
    np.testing.assert_array_equal((t.double() * 1).cpu().numpy(), SUBNORMALS.astype(np.float64))
    assert ((t * 1) != 0).all().item()


@cuda
def test_missing_kernel_says_not_implemented_and_other_errors_propagate(cp):
    with pytest.raises(RuntimeError, match=r"not implemented for 'Long' on CUDA \(no kernel nope_fwd_int64 in "
                                           r"kernels/copy.cu\)"):
        cb.get_kernel("copy", "nope_fwd_int64", 0)
    assert cb.get_kernel("copy", "copy_float32", 0) is cb.get_kernel("copy", "copy_float32", 0)


@cuda
def test_cuda_out_of_memory_is_a_runtime_error(cp):
    with pytest.raises(RuntimeError, match=r"CUDA out of memory\. Tried to allocate") as info:
        ag.zeros(2 ** 45, device="cuda")
    assert not isinstance(info.value, MemoryError)
    x = ag.ones(1, device="cuda").expand(2 ** 45)
    with pytest.raises(RuntimeError, match=r"CUDA out of memory"):
        x + 1
