"""PyTorch parity of the gather/scatter family: bounds and argument errors (type and message, written
out so they run without torch), scatter_reduce's values (ties, zeros, NaN, integer mean), its
gradients against PyTorch where installed, the in-place forms' autograd, and CUDA against CPU."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import check_grad, compare_devices

NAN = float("nan")
X34 = np.arange(12.0).reshape(3, 4)


def t(a, dtype=None):
    """A tensor of ``a``; floats in float32 (PyTorch's default) unless ``dtype`` says otherwise."""
    a = np.asarray(a)
    return ag.tensor(a, dtype=dtype or (ag.float32 if a.dtype.kind == "f" else None))


def idx(a, dtype=ag.int64):
    return ag.tensor(np.asarray(a), dtype=dtype)


# 1. errors ------------------------------------------------------------------------------------------
ERRORS = [
    (lambda x: ag.gather(x, 0, idx([[5]])), RuntimeError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.gather(x, 0, idx([[-1]])), RuntimeError, "index -1 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.gather(x, 1, idx([[1.0]], ag.float32)), RuntimeError, "gather(): Expected dtype int32/int64 for index"),
    (lambda x: ag.scatter(x, 0, idx([[5]]), t([[1.0]])), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.scatter(x, 0, idx([[1]]), t([[1.0]], ag.float64)), RuntimeError,
     "scatter(): Expected self.dtype to be equal to src.dtype"),
    (lambda x: ag.scatter(x, 0, idx([[1, 1, 1, 1, 1]]), t(np.ones((1, 5)))), RuntimeError,
     "Expected index [1, 5] to be no larger than self [3, 4] apart from dimension 0 and to be no larger size than "
     "src [1, 5]"),
    (lambda x: ag.scatter(x, 0, idx([[1, 1, 1]]), t(np.ones((1, 2)))), RuntimeError,
     "Expected index [1, 3] to be no larger than self [3, 4] apart from dimension 0 and to be no larger size than "
     "src [1, 2]"),
    (lambda x: ag.scatter(x, 0, idx([[1]]), t([[1.0]]), reduce="foo"), RuntimeError,
     "reduce argument must be either add or multiply."),
    (lambda x: ag.scatter_add(x, 0, idx([[3]]), t([[1.0]])), RuntimeError,
     "index 3 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.scatter_add(x, 0, idx([[1]]), t([[1.0]], ag.float64)), RuntimeError,
     "scatter(): Expected self.dtype to be equal to src.dtype"),
    (lambda x: ag.scatter_reduce(x, 0, idx([[1]]), t([[1.0]]), "add"), RuntimeError,
     "reduce argument must be either sum, prod, mean, amax or amin, got add"),
    (lambda x: ag.scatter_reduce(x, 0, idx([[7]]), t([[1.0]]), "amax"), RuntimeError,
     "index 7 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.index_select(x, 0, idx([5])), IndexError, "index out of range in self"),
    (lambda x: ag.index_select(x, 0, idx([-1])), IndexError, "index out of range in self"),
    (lambda x: ag.index_add(x, 0, idx([5]), t(np.ones((1, 4)))), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.index_add(x, 0, idx([0]), t(np.ones((1, 4)), ag.float64)), RuntimeError,
     "index_add_(): self (Float) and source (Double) must have the same scalar type"),
    (lambda x: ag.index_add(x, 0, idx([0, 1]), t(np.ones((1, 4)))), RuntimeError,
     "index_add_(): Number of indices (2) should be equal to source.size(dim): (1), for dim: 0"),
    (lambda x: ag.index_copy(x, 0, idx([3]), t(np.ones((1, 4)))), IndexError,
     "index_copy_(): index 3 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.index_copy(x, 0, idx([0], ag.int32), t(np.ones((1, 4)))), RuntimeError,
     "index_copy_(): Expected a long tensor for index, but got Int"),
    (lambda x: ag.index_fill(x, 0, idx([-4]), 1.0), IndexError, "index -4 is out of bounds for dimension 0 with size 3"),
    (lambda x: ag.index_fill(x, 0, idx([0], ag.int32), 1.0), IndexError, "index_fill_(): Expected dtype int64 for index."),
    (lambda x: ag.take_along_dim(x, idx([[1]], ag.int32), 0), RuntimeError,
     "torch.take_along_dim(): dtype of indices should be Long but got Int"),
    (lambda x: ag.take_along_dim(x, idx([1]), 1), RuntimeError,
     "torch.take_along_dim(): input and indices should have the same number of dimensions, but got 2 dimensions for "
     "input, and 1 dimensions for indices"),
    (lambda x: ag.take_along_dim(x, idx([[1, 12]])), RuntimeError, "index 12 is out of bounds for dimension 0 with size 12"),
    (lambda x: ag.take(x, idx([12])), IndexError, "out of range: tried to access index 12 on a tensor of 12 elements."),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_match_pytorch(k):
    fn, kind, msg = ERRORS[k]
    with pytest.raises(kind) as e:
        fn(t(X34, ag.float32))
    assert str(e.value) == msg


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_against_torch(k):
    torch = pytest.importorskip("torch")
    fn, kind, msg = ERRORS[k]
    import types   # the calls above spell torch's API: run the same lambdas with torch as ``ag``
    def tt(a, dtype=None):
        a = np.asarray(a)
        dt = getattr(torch, dtype.name) if dtype else torch.float32 if a.dtype.kind == "f" else None
        return torch.tensor(a, dtype=dt)
    g = dict(fn.__globals__, t=tt, idx=lambda a, dtype=ag.int64: tt(a, dtype))
    g["ag"] = types.SimpleNamespace(**{**{n: getattr(torch, n) for n in dir(torch) if not n.startswith("__")},
                                       **{d.name: d for d in (ag.float32, ag.float64, ag.int32, ag.int64)}})
    tfn = types.FunctionType(fn.__code__, g)
    with warnings.catch_warnings(), pytest.raises(kind) as e:
        warnings.simplefilter("ignore")
        tfn(torch.tensor(X34, dtype=torch.float32))
    assert str(e.value) == msg


def test_int32_index_accepted_where_torch_accepts_it():
    x = t(X34)
    i32 = idx([[1, 2]], ag.int32)
    np.testing.assert_array_equal(ag.gather(x, 1, i32).numpy(), [[1.0, 2.0]])
    np.testing.assert_array_equal(ag.scatter(x, 1, i32, t([[-1.0, -2.0]])).numpy()[0], [0, -1, -2, 3])
    np.testing.assert_array_equal(ag.scatter_add(x, 1, i32, t([[1.0, 1.0]])).numpy()[0], [0, 2, 3, 3])
    np.testing.assert_array_equal(ag.index_select(x, 0, idx([2], ag.int32)).numpy(), [[8, 9, 10, 11]])
    np.testing.assert_array_equal(ag.index_add(x, 0, idx([2], ag.int32), t(np.ones((1, 4)))).numpy()[2],
                                  [9, 10, 11, 12])


def test_take_along_dim_wraps_every_index_with_a_dim():
    """PyTorch takes ``indices % size`` along ``dim``: 5 and -1 both read row 2 of 3."""
    x = t(X34)
    np.testing.assert_array_equal(ag.take_along_dim(x, idx([[5], [-1], [-4]]), 0).numpy(), [[8, 9, 10, 11]] * 3)
    np.testing.assert_array_equal(ag.take_along_dim(x, idx([[-1, -2, -3, -1]]), 0).numpy(), [[8, 5, 2, 11]])
    np.testing.assert_array_equal(ag.take_along_dim(x, idx([[0], [1], [2]]), 1).numpy(), [[0], [5], [10]])
    np.testing.assert_array_equal(ag.take_along_dim(x, idx([[1, 3]])).numpy(), [1, 3])


# 2. scatter_reduce values -----------------------------------------------------------------------------
def test_scatter_reduce_values_written_out():
    x = t([[1., 2., 0., 4.], [5., 0., 7., 8.]], ag.float64)
    i = idx([[0, 0, 1], [2, 2, 2]])
    s = t([[3., 3., 0.], [0., 5., 5.]], ag.float64)
    want = {("sum", True): [[7, 2, 0, 4], [5, 0, 17, 8]], ("sum", False): [[6, 0, 0, 4], [5, 0, 10, 8]],
            ("prod", True): [[9, 0, 0, 4], [5, 0, 0, 8]], ("mean", True): [[7 / 3, 1, 0, 4], [5, 0, 4.25, 8]],
            ("mean", False): [[3, 0, 0, 4], [5, 0, 10 / 3, 8]], ("amax", False): [[3, 0, 0, 4], [5, 0, 5, 8]],
            ("amin", True): [[1, 0, 0, 4], [5, 0, 0, 8]]}
    for (r, inc), w in want.items():
        np.testing.assert_allclose(ag.scatter_reduce(x, 1, i, s, r, include_self=inc).numpy(), w, err_msg=r)


def test_scatter_reduce_integer_mean_floors_and_nan_wins():
    xi, ii = t([-1, 0, 0]), idx([0, 0, 1])
    np.testing.assert_array_equal(ag.scatter_reduce(xi, 0, ii, t([-2, -2, 1]), "mean").numpy(), [-2, 0, 0])
    np.testing.assert_array_equal(ag.scatter_reduce(t([1, 2, 3, 4]), 0, ii, t([2, 3, 4]), "mean",
                                                    include_self=False).numpy(), [2, 4, 3, 4])
    out = ag.scatter_reduce(t([1.0, 1.0]), 0, idx([0, 0]), t([NAN, 5.0]), "amax").numpy()
    assert np.isnan(out[0]) and out[1] == 1.0
    b = ag.scatter_reduce(t([True, False, False]), 0, idx([0, 1]), t([True, True]), "amin").numpy()
    np.testing.assert_array_equal(b, [True, False, False])


def test_legacy_scatter_reduce():
    x = t([[1., 2., 0., 4.]])
    i = idx([[0, 0, 1]])
    np.testing.assert_array_equal(ag.scatter(x, 1, i, t([[3., 3., 5.]]), reduce="add").numpy(), [[7, 7, 0, 4]])
    np.testing.assert_array_equal(ag.scatter(x, 1, i, 2.0, reduce="multiply").numpy(), [[4, 4, 0, 4]])


REDUCE_CASES = [(r, inc) for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)]


@pytest.mark.parametrize("reduce,include_self", REDUCE_CASES)
def test_scatter_reduce_gradients_match_torch(reduce, include_self):
    """Zeros (prod) and ties (amax/amin, against self too) as in PyTorch's formulas."""
    torch = pytest.importorskip("torch")
    xv = np.array([[1., 2., 0., 4.], [5., 0., 7., 8.], [3., 1., 1., 2.]])
    sv = np.array([[3., 3., 0.], [0., 5., 5.], [3., 3., 1.]])
    iv = np.array([[0, 0, 1], [2, 2, 2], [0, 0, 1]])
    go = np.arange(12.0).reshape(3, 4) + 1
    ours, theirs = [], []
    for mod, conv, res in ((ag, lambda a: ag.tensor(a, requires_grad=a.dtype.kind == "f"), ours),
                           (torch, lambda a: torch.tensor(a, requires_grad=a.dtype.kind == "f"), theirs)):
        x, s, i = conv(xv), conv(sv), conv(iv)
        out = mod.scatter_reduce(x, 1, i, s, reduce, include_self=include_self)
        res += [out.detach().numpy()] + [g.numpy() for g in mod.autograd.grad(out, (x, s), mod.tensor(go))]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("reduce,include_self", REDUCE_CASES)
def test_scatter_reduce_gradcheck(reduce, include_self):
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.uniform(0.5, 2, (3, 4)), requires_grad=True)
    s = ag.tensor(rng.uniform(0.5, 2, (3, 5)), requires_grad=True)
    i = idx(rng.integers(0, 4, (3, 3)))
    check_grad(lambda a, b: ag.scatter_reduce(a, 1, i, b, reduce, include_self=include_self), x, s)


# 3. in-place forms ------------------------------------------------------------------------------------
INPLACE = [
    ("scatter_", lambda x, s: (1, idx([[0, 2], [1, 3], [3, 0]]), s[:, :2])),
    ("scatter_add_", lambda x, s: (1, idx([[0, 0], [1, 3], [3, 3]]), s[:, :2])),
    ("scatter_reduce_", lambda x, s: (1, idx([[0, 0], [1, 3], [3, 3]]), s[:, :2], "amax")),
    ("index_add_", lambda x, s: (1, idx([0, 2, 2]), s[:, :3])),
    ("index_copy_", lambda x, s: (1, idx([0, 2, 3]), s[:, :3])),
    ("index_fill_", lambda x, s: (1, idx([0, -1]), 2.5)),
    ("masked_fill_", lambda x, s: (t([True, False, True, False]), 2.5)),
]


@pytest.mark.parametrize("name,args", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_forms_match_out_of_place_with_gradients(name, args):
    rng = np.random.default_rng(1)
    xv, sv = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (3, 4))
    res = []
    for inplace in (False, True):
        x = ag.tensor(xv, requires_grad=True)
        s = ag.tensor(sv, requires_grad=True)
        y = x * 1.0
        a = args(x, s)
        out = getattr(y, name)(*a) if inplace else getattr(ag, name[:-1])(y, *a)
        if inplace:
            assert out is y and y._version == 1
        g = ag.autograd.grad(out, (x, s), ag.tensor(np.arange(12.0).reshape(3, 4)), allow_unused=True)
        res.append([out.detach().numpy()] + [np.zeros((3, 4)) if v is None else v.numpy() for v in g])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(ag.tensor(xv, requires_grad=True), name)(*args(None, ag.tensor(sv)))


def test_index_fill_tensor_value_gradient():
    x = ag.tensor(X34, requires_grad=True)
    v = ag.tensor(2.0, dtype=ag.float64, requires_grad=True)
    out = ag.index_fill(x, 1, idx([0, 1, 1]), v)
    assert out.grad_fn.name() == "IndexFillBackward1"
    gx, gv = ag.autograd.grad(out.sum(), (x, v))
    assert gv.item() == 6.0 and gx.numpy()[:, :2].sum() == 0 and gx.numpy()[:, 2:].sum() == 6


# 4. CUDA against CPU (device-side bounds flag) ------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("reduce,include_self", REDUCE_CASES)
def test_cuda_scatter_reduce_matches_cpu(reduce, include_self):
    rng = np.random.default_rng(2)
    compare_devices(lambda x, s, i: ag.scatter_reduce(x, 1, i, s, reduce, include_self=include_self),
                    rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (3, 5)), rng.integers(0, 4, (3, 3)))


@pytest.mark.cuda
def test_cuda_bounds_errors_from_the_device_flag():
    x = ag.tensor(X34).to("cuda")
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 0 with size 3"):
        ag.gather(x, 0, idx([[5]]).to("cuda"))
    np.testing.assert_array_equal(ag.gather(x, 0, idx([[2]]).to("cuda")).cpu().numpy(), [[8]])   # flag was reset
    with pytest.raises(IndexError, match="index out of range in self"):
        ag.index_select(x, 1, idx([0, 4]).to("cuda"))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds"):
        ag.scatter_reduce(x, 0, idx([[-1]]).to("cuda"), ag.tensor([[1.0]]).to("cuda"), "prod", include_self=False)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.int64, ag.bool])
def test_cuda_index_family_matches_cpu(dtype):
    xv = (np.arange(12).reshape(3, 4) % 5).astype(dtype.np)
    sv = (np.arange(12).reshape(3, 4) % 3).astype(dtype.np)
    ops = [lambda x, s: ag.index_copy(x, 1, idx([3, 0]), s[:, :2]),
           lambda x, s: ag.index_fill(x, 0, idx([-1]), 1),
           lambda x, s: ag.take_along_dim(x, idx([[5, -1, 0, 2]]), 0),
           lambda x, s: ag.scatter_reduce(x, 0, idx([[0, 1, 2, 0], [0, 0, 0, 0]]), s[:2], "amin",
                                          include_self=False)]
    for fn in ops:
        cpu = fn(ag.tensor(xv), ag.tensor(sv)).numpy()
        dev = fn(ag.tensor(xv).to("cuda"), ag.tensor(sv).to("cuda")).cpu().numpy()
        np.testing.assert_array_equal(dev, cpu)
