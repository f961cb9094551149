"""Tensor basics: creation, dtype inference and promotion, attributes, conversions, devices,
repr, and the dispatch miss."""
from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import dispatch, dtypes
from helpers import assert_close


# creation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype, shape", [
    (1.5, ag.float32, ()),
    (3, ag.int64, ()),
    (True, ag.bool, ()),
    ([1.0, 2.0], ag.float32, (2,)),
    ([[1, 2], [3, 4]], ag.int64, (2, 2)),
    (np.zeros((2, 3)), ag.float64, (2, 3)),
    (np.zeros(3, dtype=np.float32), ag.float32, (3,)),
    (np.array(2.0), ag.float64, ()),
])
def test_tensor_infers_dtype_and_shape(data, dtype, shape):
    t = ag.tensor(data)
    assert t.dtype is dtype and t.shape == shape and t.ndim == len(shape)
    assert t.device == ag.device("cpu") and t.is_leaf and not t.requires_grad and t.grad_fn is None


def test_tensor_copies_as_tensor_and_from_numpy_share():
    a = np.array([1.0, 2.0])
    t, s, f = ag.tensor(a), ag.as_tensor(a), ag.from_numpy(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    assert s.tolist() == [9.0, 2.0] and f.tolist() == [9.0, 2.0]
    assert f.dtype is ag.float64 and ag.as_tensor(f) is f
    assert ag.as_tensor(a, dtype=ag.float32).dtype is ag.float32
    assert ag.tensor([1, 2], dtype=ag.float64).dtype is ag.float64


@pytest.mark.parametrize("fn", [ag.zeros, ag.ones, ag.empty])
def test_filled(fn):
    for t in (fn(2, 3), fn((2, 3)), fn([2, 3])):
        assert t.shape == (2, 3) and t.dtype is ag.float32
    assert fn(2, dtype=ag.int64).dtype is ag.int64
    assert fn(2, requires_grad=True).requires_grad
    assert fn(2, device="fake:1").device == ag.device("fake:1")
    if fn is not ag.empty:
        assert_close(fn(2), [float(fn is ag.ones)] * 2)


def test_full_and_like():
    assert ag.full((2,), 3.0).dtype is ag.float32 and ag.full((2,), 3).dtype is ag.int64
    assert_close(ag.full((2, 2), 7.0), np.full((2, 2), 7.0))
    x = ag.tensor([[1.0, 2.0, 3.0]], dtype=ag.float64, device="fake:0")
    for t in (ag.zeros_like(x), ag.ones_like(x), ag.empty_like(x), ag.full_like(x, 4.0)):
        assert t.shape == (1, 3) and t.dtype is ag.float64 and t.device == x.device
    assert_close(ag.full_like(x, 4.0), [[4.0] * 3])
    assert ag.zeros_like(x, dtype=ag.float32).dtype is ag.float32


def test_ranges():
    a = ag.arange(5)
    assert a.dtype is ag.int64 and a.tolist() == [0, 1, 2, 3, 4]
    b = ag.arange(0, 1, 0.25)
    assert b.dtype is ag.float32
    assert_close(b, [0.0, 0.25, 0.5, 0.75])
    assert ag.arange(1, 7, 2).tolist() == [1, 3, 5]
    c = ag.linspace(0, 1, 5)
    assert c.dtype is ag.float32
    assert_close(c, np.linspace(0, 1, 5))
    assert_close(ag.eye(3), np.eye(3))
    assert ag.eye(2, 3).shape == (2, 3)


def test_random_is_reproducible_with_manual_seed():
    def draw():
        ag.manual_seed(123)
        return (ag.rand(4), ag.randn(2, 3), ag.randint(0, 10, (5,)), ag.randperm(6))
    first, second = draw(), draw()
    for a, b in zip(first, second):
        assert a.tolist() == b.tolist()
    r, n, i, p = first
    assert r.dtype is ag.float32 and r.shape == (4,) and all(0 <= v < 1 for v in r.tolist())
    assert n.shape == (2, 3) and n.dtype is ag.float32
    assert i.dtype is ag.int64 and all(0 <= v < 10 for v in i.tolist())
    assert sorted(p.tolist()) == list(range(6)) and p.dtype is ag.int64
    assert ag.rand(2, dtype=ag.float64).dtype is ag.float64


def test_negative_size():
    with pytest.raises(RuntimeError, match="Dimension size must be non-negative"):   # torch's message
        ag.zeros(2, -1)


# attributes and conversions ---------------------------------------------------------------
def test_attributes():
    x = ag.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 6
    assert x.is_leaf and x.requires_grad and x.grad is None and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name() == "MulBackward0"
    d = x.data
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d._host(), x._host())
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(2)


def test_item_tolist_numpy():
    t = ag.tensor([[1.0, 2.0]])
    assert t.tolist() == [[1.0, 2.0]]
    assert ag.tensor([2.5]).item() == 2.5 and isinstance(ag.tensor([3]).item(), int)
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        t.item()
    arr = t.numpy()
    assert isinstance(arr, np.ndarray) and np.shares_memory(arr, t._host())
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad. Use "
                                           r"tensor.detach\(\).numpy\(\) instead."):
        ag.tensor([1.0], requires_grad=True).numpy()
    with pytest.raises(TypeError, match=r"can't convert fake:1 device type tensor to numpy. Use "
                                        r"Tensor.cpu\(\) to copy the tensor to host memory first."):
        t.to("fake:1").numpy()
    assert t.to("fake:1").tolist() == [[1.0, 2.0]]  # tolist copies to the host itself


def test_to_device_and_dtype():
    x = ag.tensor([1.0, 2.0])
    assert x.to("cpu") is x and x.to(ag.float32) is x
    y = x.to("fake:1")
    assert y.device == ag.device("fake:1") and y.device.type == "fake" and y.device.index == 1
    assert not np.shares_memory(y._data, x._data)
    z = x.to(ag.float64)
    assert z.dtype is ag.float64 and z.tolist() == [1.0, 2.0]
    w = x.to("fake:0", ag.float64)
    assert w.device == ag.device("fake:0") and w.dtype is ag.float64
    assert x.to(device="fake:1", dtype=ag.float16).dtype is ag.float16
    assert y.cpu().device == ag.device("cpu") and y.cpu().tolist() == [1.0, 2.0]
    assert x.double().dtype is ag.float64 and x.long().dtype is ag.int64 and x.half().dtype is ag.float16
    assert x.to(y).device == y.device
    # "fake" resolves to the current index and is the very same device as "fake:0"
    assert x.to("fake").device is ag.device("fake:0")
    assert_close((x.to("fake") + x.to("fake:0")).cpu(), [2.0, 4.0])


def test_mixing_devices_raises():
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but found at least "
                                           "two devices"):
        ag.tensor([1.0]).to("fake:0") + ag.tensor([1.0]).to("fake:1")


def test_cuda_without_a_gpu_says_why():
    if ag.cuda.is_available():
        pytest.skip("a GPU is available")
    assert ag.cuda.device_count() == 0
    reason = ag.cuda.unavailable_reason()
    assert reason
    with pytest.raises(RuntimeError) as info:
        ag.tensor([1.0]).cuda()
    assert str(info.value) and "unavailable" in str(info.value).lower()
    with pytest.raises(RuntimeError):
        ag.zeros(2, device="cuda")


@pytest.mark.parametrize("spec", ["tpu", "tpu:0", "nope:1"])
def test_unknown_device_string(spec):
    with pytest.raises(RuntimeError, match=spec):
        ag.device(spec)
    with pytest.raises(RuntimeError, match=spec):
        ag.tensor([1.0]).to(spec)


@pytest.mark.parametrize("spec", ["fake:x", "fake:-1", "fake:"])
def test_malformed_device_string(spec):
    with pytest.raises(RuntimeError):
        ag.device(spec)


def test_device_parsing_and_equality():
    d = ag.device("fake:1")
    assert d.type == "fake" and d.index == 1 and str(d) == "fake:1"
    assert repr(d) == "device(type='fake', index=1)"
    assert d == ag.device("fake", 1) and d is ag.device("fake", 1) and d == "fake:1"
    assert d != ag.device("fake:0") and d != ag.device("fake")
    assert ag.device("cpu").index is None and repr(ag.device("cpu")) == "device(type='cpu')"
    assert ag.device(d) is d
    assert len({ag.device("fake:1"), ag.device("fake", 1)}) == 1
    assert ag.device("cpu") != "not a device" and ag.device("cpu") == "cpu"
    with pytest.raises(RuntimeError, match="Invalid device"):
        ag.tensor([1.0]).to("fake:5")


def test_repr():
    assert repr(ag.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(ag.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(ag.tensor([1.0, 2.0], dtype=ag.float64)) == "tensor([1., 2.], dtype=autograd_gpu.float64)"
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(ag.tensor([1.0]).to("fake:1")) == "tensor([1.], device='fake:1')"


@pytest.mark.parametrize("make, want", [
    (lambda m: m.zeros(0), "tensor([])"),
    (lambda m: m.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda m: m.zeros(2, 0, dtype=m.int64), "tensor([], size=(2, 0), dtype={}.int64)"),
    (lambda m: m.zeros(0, dtype=m.bool), "tensor([], dtype={}.bool)"),
    (lambda m: m.zeros(0, 3, requires_grad=True).split(2)[0], "tensor([], size=(0, 3), grad_fn=<SplitBackward0>)"),
    (lambda m: m.ones(2, dtype=m.float16), "tensor([1., 1.], dtype={}.float16)"),
])
@pytest.mark.parametrize("default", ["float32", "float64"])
def test_repr_of_empty_tensors_and_the_default_dtype(make, want, default):
    """An empty tensor shows its size (unless 1-d) and any dtype but the default (the tensors above
    are made in the default dtype, so they read the same under either)."""
    def under(m):
        old = m.get_default_dtype()
        m.set_default_dtype(getattr(m, default))
        try:
            return repr(make(m))
        finally:
            m.set_default_dtype(old)
    assert under(ag) == want.format("autograd_gpu")
    torch = pytest.importorskip("torch")
    assert under(torch) == want.format("torch")


# PyTorch 2.14's output for these (so the layout is checked where torch is not installed)
REPR_CASES = [
    (lambda m: m.tensor([float("nan"), float("inf"), -1.5]), "tensor([    nan,     inf, -1.5000])"),
    (lambda m: m.arange(2000.0), "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
                                 "        1.9990e+03])"),
    (lambda m: m.tensor([[1.5, -2.25], [1e-3, 7.0]]), "tensor([[ 1.5000e+00, -2.2500e+00],\n        [ 1.0000e-03,  7.0000e+00]])"),
    (lambda m: m.tensor([True, False]), "tensor([ True, False])"),
    (lambda m: m.tensor([[1, -20], [300, 4]]), "tensor([[  1, -20],\n        [300,   4]])"),
    (lambda m: m.tensor([1e9, 1.0]), "tensor([1.0000e+09, 1.0000e+00])"),
    (lambda m: m.tensor(3.0), "tensor(3.)"),
    (lambda m: m.arange(24.0).reshape(2, 3, 4)[:, :2, :2],
     "tensor([[[ 0.,  1.],\n         [ 4.,  5.]],\n\n        [[12., 13.],\n         [16., 17.]]])"),
    (lambda m: m.arange(1200).reshape(40, 30)[:5, :8].float() / 7,
     "tensor([[ 0.0000,  0.1429,  0.2857,  0.4286,  0.5714,  0.7143,  0.8571,  1.0000],\n"
     "        [ 4.2857,  4.4286,  4.5714,  4.7143,  4.8571,  5.0000,  5.1429,  5.2857],\n"
     "        [ 8.5714,  8.7143,  8.8571,  9.0000,  9.1429,  9.2857,  9.4286,  9.5714],\n"
     "        [12.8571, 13.0000, 13.1429, 13.2857, 13.4286, 13.5714, 13.7143, 13.8571],\n"
     "        [17.1429, 17.2857, 17.4286, 17.5714, 17.7143, 17.8571, 18.0000, 18.1429]])"),
    (lambda m: m.arange(1200).reshape(40, 30),
     "tensor([[   0,    1,    2,  ...,   27,   28,   29],\n        [  30,   31,   32,  ...,   57,   58,   59],\n"
     "        [  60,   61,   62,  ...,   87,   88,   89],\n        ...,\n"
     "        [1110, 1111, 1112,  ..., 1137, 1138, 1139],\n        [1140, 1141, 1142,  ..., 1167, 1168, 1169],\n"
     "        [1170, 1171, 1172,  ..., 1197, 1198, 1199]])"),
]


@pytest.mark.parametrize("make, want", REPR_CASES)
def test_repr_layout_is_pytorchs(make, want):
    """Right-aligned to one width, PyTorch's choice of notation, summarised past 1000 elements,
    wrapped at 80 columns."""
    assert repr(make(ag)) == want
    torch = pytest.importorskip("torch")
    assert repr(make(torch)) == want


def test_repr_matches_torch_on_random_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for shape in [(), (7,), (30,), (1001,), (3, 4), (40, 30), (7, 8, 9), (2, 3, 4, 5)]:
        base = rng.normal(size=shape)
        scale = np.asarray(10.0) ** rng.integers(-6, 10, size=shape)
        for a in (base, np.round(base * 10), base * scale, np.where(base > 1, np.nan, base)):
            for dt in (np.float32, np.float64, np.float16, np.int64):
                with np.errstate(all="ignore"):
                    v = a.astype(dt)
                ours = repr(ag.tensor(v)).replace("autograd_gpu.", "torch.")
                # the wrap before a suffix depends on the dtype's printed name, longer in ours
                ours, theirs = (re.sub(r",\n +dtype", ", dtype", r) for r in (ours, repr(torch.tensor(v))))
                assert ours == theirs, (shape, dt)


@pytest.mark.parametrize("opts, make, want", [
    (dict(precision=2), lambda m: m.tensor([1.23456, -2.5]), "tensor([ 1.23, -2.50])"),
    (dict(sci_mode=True), lambda m: m.tensor([1.5, 2.0]), "tensor([1.5000e+00, 2.0000e+00])"),
    (dict(sci_mode=False), lambda m: m.tensor([1e-6, 1.0]), "tensor([0.0000, 1.0000])"),
    (dict(profile="short"), lambda m: m.arange(10.0) / 3,
     "tensor([0.00, 0.33, 0.67, 1.00, 1.33, 1.67, 2.00, 2.33, 2.67, 3.00])"),
    (dict(threshold=5, edgeitems=1), lambda m: m.arange(12).reshape(3, 4), "tensor([[ 0,  ...,  3],\n        ...,\n        [ 8,  ..., 11]])"),
    (dict(linewidth=30), lambda m: m.arange(8), "tensor([0, 1, 2, 3, 4, 5, 6,\n        7])"),
])
def test_set_printoptions_as_pytorchs(opts, make, want):
    def under(m):
        m.set_printoptions(**opts)
        try:
            return repr(make(m))
        finally:
            m.set_printoptions(profile="default")
    assert under(ag) == want
    assert under(pytest.importorskip("torch")) == want


def test_set_printoptions_profile_resets_and_rejects_unknown():
    ag.set_printoptions(precision=1, linewidth=20)
    ag.set_printoptions(profile="default")
    assert repr(ag.tensor([1.23456, 2.0])) == "tensor([1.2346, 2.0000])"
    with pytest.raises(ValueError, match="unknown print profile 'long'"):
        ag.set_printoptions(profile="long")


def test_repr_hides_the_current_default_dtype():
    old = ag.get_default_dtype()
    ag.set_default_dtype(ag.float64)
    try:
        assert repr(ag.ones(2)) == "tensor([1., 1.])"
        assert repr(ag.ones(2, dtype=ag.float32)) == "tensor([1., 1.], dtype=autograd_gpu.float32)"
        assert repr(ag.zeros(0, dtype=ag.float32)) == "tensor([], dtype=autograd_gpu.float32)"
    finally:
        ag.set_default_dtype(old)


# promotion --------------------------------------------------------------------------------
def _zero_dim(value, dtype):
    return ag.from_numpy(np.array(value, dtype=dtype.np))


@pytest.mark.parametrize("operands, expected", [
    ((ag.tensor([1, 2]), 2.5), ag.float32),                              # int tensor + float scalar
    ((ag.tensor([1.0]), ag.tensor([1.0], dtype=ag.float64)), ag.float64),
    ((ag.tensor([1.0]), 2.5), ag.float32),                               # scalars don't upcast
    ((ag.tensor([1.0]), 2), ag.float32),
    ((ag.tensor([1, 2]), 3), ag.int64),
    ((_zero_dim(1.0, ag.float64), ag.tensor([1.0])), ag.float32),        # dimensioned tensors win
    ((_zero_dim(1.0, ag.float64), ag.tensor([1, 2])), ag.float64),       # unless of a higher category
    ((ag.tensor([True]), 1), ag.int64),
    ((ag.tensor([1.0], dtype=ag.float16), ag.tensor([1.0])), ag.float32),
])
def test_result_type(operands, expected):
    assert dtypes.result_type(*operands) == expected.np


def test_promotion_in_ops():
    assert (ag.tensor([1, 2]) * 1.5).dtype is ag.float32
    assert (ag.tensor([1.0]) + ag.tensor([1.0], dtype=ag.float64)).dtype is ag.float64
    assert (ag.tensor([1.0], dtype=ag.float64) * 2.0).dtype is ag.float64


# dispatch ---------------------------------------------------------------------------------
def test_dispatch_miss_names_op_and_backend():
    with pytest.raises(NotImplementedError, match="'nope'.*'numpy'"):
        dispatch.lookup("nope", "numpy")
    assert dispatch.lookup("exp_fwd", "fake") is dispatch.lookup("exp_fwd", "numpy")  # inherited
    assert "exp_fwd" in dispatch.registered("numpy")


def test_inherited_dispatch_sees_later_registrations(monkeypatch):
    monkeypatch.setitem(dispatch._tables["numpy"], "probe_op", lambda x: "first")
    assert dispatch.lookup("probe_op", "fake")(0) == "first"
    monkeypatch.setitem(dispatch._tables["numpy"], "probe_op", lambda x: "second")
    assert dispatch.lookup("probe_op", "fake")(0) == "second"
    assert "probe_op" not in dispatch._tables["fake"]


def test_python_types_as_dtypes_are_pytorchs():
    """``dtype=float`` is float64 (not the default dtype), ``int`` int64, ``bool`` bool, as in PyTorch."""
    ag.set_default_dtype(ag.float32)
    assert ag.zeros(2, dtype=float).dtype == ag.float64
    assert ag.tensor([1], dtype=float).dtype == ag.float64
    assert ag.ones(2).to(float).dtype == ag.float64
    assert ag.ones(2, dtype=int).dtype == ag.int64 and ag.ones(2, dtype=bool).dtype == ag.bool
