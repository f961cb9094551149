"""PyTorch parity of reductions, scans and sorting: the ``axis=``/``keepdims=`` spellings, errors over
size-0 dims, NaN and tie rules (written out, so they run without torch), gradients against PyTorch
where it is installed, and CUDA against CPU."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import check_grad, compare_devices, make

NAN, INF = float("nan"), float("inf")


def arr(t):
    return t.detach().numpy()


# 1. axis= / keepdims= -------------------------------------------------------------------------
AXIS_OPS = ["sum", "mean", "prod", "std", "var", "amax", "amin", "logsumexp", "max", "min", "argmax", "argmin",
            "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "sort", "argsort", "count_nonzero",
            "std_mean", "var_mean"]
_NO_KEEPDIM = {"cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "sort", "argsort", "count_nonzero"}


def _parts(out):
    return [arr(o) for o in out] if isinstance(out, tuple) else [arr(out)]


@pytest.mark.parametrize("name", AXIS_OPS)
def test_axis_is_dim(name):
    x = make((3, 4), requires_grad=False)
    fn = getattr(ag, name)
    for d in (0, -1):
        for a, b in zip(_parts(fn(x, axis=d)), _parts(fn(x, d))):
            np.testing.assert_array_equal(a, b)
    if name not in _NO_KEEPDIM:
        got = _parts(fn(x, axis=1, keepdims=True))
        assert all(g.shape == (3, 1) for g in got)
        for a, b in zip(got, _parts(fn(x, 1, keepdim=True))):
            np.testing.assert_array_equal(a, b)
    if name not in ("std_mean", "var_mean"):
        for a, b in zip(_parts(getattr(x, name)(axis=0)), _parts(fn(x, 0))):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="axis"):
        fn(x, 0, axis=0)


def test_axis_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((3, 4))
    for name in AXIS_OPS:
        ours = getattr(ag, name)(ag.tensor(a), axis=1)
        theirs = getattr(torch, name)(torch.tensor(a), axis=1)
        for o, t in zip(_parts(ours), [t.numpy() for t in theirs] if isinstance(theirs, tuple) else [theirs.numpy()]):
            assert o.dtype == t.dtype and o.shape == t.shape, name
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12, err_msg=name)


# 2. size-0 dims and NaN -------------------------------------------------------------------------
def test_logsumexp_over_an_empty_dim_is_minus_inf():
    e = ag.zeros(0, 3)
    np.testing.assert_array_equal(arr(ag.logsumexp(e, 0)), [-INF] * 3)
    assert arr(ag.logsumexp(e, 1)).shape == (0,)
    assert arr(ag.logsumexp(e, (0, 1))) == -INF
    np.testing.assert_array_equal(arr(ag.logsumexp(ag.zeros(2, 0), 1, keepdim=True)), [[-INF], [-INF]])
    with pytest.raises(TypeError, match="dim"):
        ag.logsumexp(ag.ones(3))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda e: ag.amax(e, (0, 1)), IndexError, "amax(): Expected reduction dim 1 to have non-zero size."),
    (lambda e: ag.amin(e, -2), IndexError, "amin(): Expected reduction dim -2 to have non-zero size."),
    (lambda e: ag.amax(e), RuntimeError, "amax(): Expected reduction dim to be specified for input.numel() == 0. "
                                         "Specify the reduction dim with the 'dim' argument."),
    (lambda e: ag.max(e, -2), IndexError, "max(): Expected reduction dim 1 to have non-zero size."),
    (lambda e: ag.min(e), RuntimeError, "min(): Expected reduction dim to be specified for input.numel() == 0. "
                                        "Specify the reduction dim with the 'dim' argument."),
    (lambda e: ag.argmax(e), IndexError, "argmax(): Expected reduction dim to be specified for input.numel() == 0."),
    (lambda e: ag.argmin(e, 1), IndexError, "argmin(): Expected reduction dim 1 to have non-zero size."),
])
def test_extremes_over_nothing_raise_torchs_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call(ag.zeros(2, 0, 3))
    assert str(info.value) == msg


def test_extremes_over_a_nonempty_dim_of_an_empty_tensor():
    e = ag.zeros(2, 0, 3)
    assert arr(ag.amax(e, (0, 2))).shape == (0,)
    v, i = ag.max(e, 0)
    assert v.shape == (0, 3) and i.dtype == ag.int64


def test_nan_propagates_in_extremes():
    x = ag.tensor([[1.0, NAN, 3.0, NAN], [2.0, 2.0, 1.0, 0.0]])
    for op in (ag.max, ag.min):
        v, i = op(x, 1)
        np.testing.assert_array_equal(arr(i), [1, 0] if op is ag.max else [1, 3])
        assert np.isnan(arr(v)[0])
    assert np.isnan(arr(ag.amax(x, 1))[0]) and np.isnan(arr(ag.amin(x, 1))[0])
    np.testing.assert_array_equal(arr(ag.argmax(x, 1)), [1, 0])
    np.testing.assert_array_equal(arr(ag.argmin(x, 1)), [1, 3])
    assert np.isnan(arr(ag.max(x))) and int(arr(ag.argmax(x))) == 1


# 3. scans ---------------------------------------------------------------------------------------
def test_cummax_cummin_ties_and_nan():
    x = ag.tensor([1.0, 3.0, 3.0, 2.0, NAN, 5.0, NAN, 1.0])
    v, i = ag.cummax(x, 0)
    np.testing.assert_array_equal(arr(v), [1, 3, 3, 3, NAN, NAN, NAN, NAN])
    np.testing.assert_array_equal(arr(i), [0, 1, 2, 2, 4, 4, 6, 6])   # last index of a tie; each NaN takes it
    v, i = ag.cummin(ag.tensor([3.0, 1.0, 1.0, 2.0, NAN, 0.0]), 0)
    np.testing.assert_array_equal(arr(v), [3, 1, 1, 1, NAN, NAN])
    np.testing.assert_array_equal(arr(i), [0, 1, 2, 2, 4, 4])
    out = ag.cummax(ag.tensor([True, False, True]), 0)
    assert type(out).__name__ == "cummax" and out.values.dtype == ag.bool
    np.testing.assert_array_equal(arr(out.indices), [0, 0, 2])
    v, i = ag.cummin(ag.tensor([[2, 1], [1, 1], [1, 3]]), 0)
    np.testing.assert_array_equal(arr(v), [[2, 1], [1, 1], [1, 1]])
    np.testing.assert_array_equal(arr(i), [[0, 0], [1, 1], [2, 1]])


def test_cummax_gradient_goes_to_the_winning_index():
    x = ag.tensor([1.0, 3.0, 2.0, 4.0], requires_grad=True)
    ag.cummax(x, 0).values.backward(ag.tensor([1.0, 10.0, 100.0, 1000.0]))
    np.testing.assert_array_equal(arr(x.grad), [1, 110, 0, 1000])
    check_grad(lambda t: ag.cummin(t, 1).values, make((3, 5)))


def test_logcumsumexp_is_stable():
    x = ag.tensor([1000.0, 1000.0, -1000.0, 5.0], dtype=ag.float32)
    np.testing.assert_allclose(arr(ag.logcumsumexp(x, 0)), [1000, 1000 + np.log(2)] * 1 + [1000 + np.log(2)] * 2,
                               rtol=1e-6)
    y = ag.tensor([[-INF, 0.0, INF, 1.0], [-INF, -INF, 2.0, NAN]])
    np.testing.assert_array_equal(arr(ag.logcumsumexp(y, 1)), [[-INF, 0, INF, INF], [-INF, -INF, 2, NAN]])
    with pytest.raises(NotImplementedError, match="Long"):
        ag.logcumsumexp(ag.tensor([1, 2]), 0)
    check_grad(lambda t: ag.logcumsumexp(t, 0), make((4, 3), low=-3, high=3))


@pytest.mark.parametrize("name", ["cumprod", "logcumsumexp", "cummax", "cummin"])
def test_scan_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 6))
    if name == "cumprod":   # one, two and three zeros in a row: the hard cases of cumprod's gradient
        a[0, 2] = 0
        a[1, [1, 4]] = 0
        a[2, [0, 3, 5]] = 0
    g, w = rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    grads = []
    for mod in (ag, torch):
        x = mod.tensor(a, requires_grad=True)
        out = getattr(mod, name)(x, 1)
        out = out[0] if isinstance(out, tuple) else out
        (gx,) = mod.autograd.grad(out, x, mod.tensor(g), create_graph=True)
        ggx = mod.autograd.grad((gx * mod.tensor(w)).sum(), x)[0] if gx.requires_grad else None
        grads.append((gx.detach().numpy(), None if ggx is None else ggx.detach().numpy()))
    assert (grads[0][1] is None) == (grads[1][1] is None) == (name in ("cummax", "cummin"))   # linear in g
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-12)
    if grads[1][1] is not None:   # d(grad)/dx: cumprod's and logcumsumexp's double backward
        np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)


# 4. sorting and selection -----------------------------------------------------------------------
def test_sort_nan_last_and_stable():
    x = ag.tensor([3.0, NAN, 1.0, 3.0, -INF, INF, 1.0, NAN])
    out = ag.sort(x)
    assert type(out).__name__ == "sort" and out.indices.dtype == ag.int64
    np.testing.assert_array_equal(arr(out.values), [-INF, 1, 1, 3, 3, INF, NAN, NAN])
    np.testing.assert_array_equal(arr(out.indices), [4, 2, 6, 0, 3, 5, 1, 7])
    v, i = ag.sort(x, descending=True)
    np.testing.assert_array_equal(arr(v), [NAN, NAN, INF, 3, 3, 1, 1, -INF])
    np.testing.assert_array_equal(arr(i), [1, 7, 5, 0, 3, 2, 6, 4])   # ties keep their order, descending too
    np.testing.assert_array_equal(arr(ag.argsort(x, descending=True)), [1, 7, 5, 0, 3, 2, 6, 4])
    np.testing.assert_array_equal(arr(ag.sort(ag.tensor([-0.0, 0.0, -0.0])).indices), [0, 1, 2])
    np.testing.assert_array_equal(arr(ag.sort(ag.tensor([[2, 1], [1, 3]]), 0, True).indices), [[0, 1], [1, 0]])


def test_sort_and_topk_gradients():
    x = ag.tensor([3.0, 1.0, 2.0], requires_grad=True)
    ag.sort(x).values.backward(ag.tensor([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(arr(x.grad), [100, 1, 10])
    x.grad = None
    ag.topk(x, 2).values.backward(ag.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(arr(x.grad), [1, 0, 10])
    check_grad(lambda t: ag.topk(t, 2, 0, largest=False).values, make((4, 3)))
    check_grad(lambda t: ag.sort(t, 1, descending=True).values, make((2, 5)))


def test_topk_nan_order_and_errors():
    x = ag.tensor([3.0, NAN, 1.0, INF, -INF])
    v, i = ag.topk(x, 3)
    np.testing.assert_array_equal(arr(v), [NAN, INF, 3])
    np.testing.assert_array_equal(arr(i), [1, 3, 0])
    v, i = ag.topk(x, 2, largest=False)
    np.testing.assert_array_equal(arr(i), [4, 2])
    v, i = ag.topk(ag.tensor([5.0, 1.0, 4.0, 2.0]), 3, sorted=False)
    assert sorted(arr(i).tolist()) == [0, 2, 3] and sorted(arr(v).tolist()) == [2, 4, 5]
    assert type(ag.topk(x, 1)).__name__ == "topk"
    for k in (6, -1):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            ag.topk(x, k)


def test_nonzero_and_count_nonzero():
    x = ag.tensor([[1.0, 0.0, NAN], [0.0, -0.0, 2.0]])
    nz = ag.nonzero(x)
    assert nz.dtype == ag.int64
    np.testing.assert_array_equal(arr(nz), [[0, 0], [0, 2], [1, 2]])
    rows, cols = ag.nonzero(x, as_tuple=True)
    np.testing.assert_array_equal(arr(rows), [0, 0, 1])
    np.testing.assert_array_equal(arr(cols), [0, 2, 2])
    assert ag.nonzero(ag.tensor(3.0)).shape == (1, 0) and ag.nonzero(ag.tensor(0.0)).shape == (0, 0)
    (only,) = ag.nonzero(ag.tensor(3.0), as_tuple=True)
    np.testing.assert_array_equal(arr(only), [0])
    assert ag.nonzero(ag.zeros(0, 3)).shape == (0, 2)
    c = ag.count_nonzero(x)
    assert c.dtype == ag.int64 and int(arr(c)) == 3
    np.testing.assert_array_equal(arr(ag.count_nonzero(x, 0)), [1, 0, 2])
    np.testing.assert_array_equal(arr(x.count_nonzero(dim=(0, 1))), 3)
    np.testing.assert_array_equal(arr(ag.count_nonzero(ag.tensor([True, False, True]), -1)), 2)


# 5. std_mean / var_mean -------------------------------------------------------------------------
def test_std_mean_var_mean_values_and_gradients():
    a = np.random.default_rng(1).standard_normal((3, 4))
    s, m = ag.std_mean(ag.tensor(a), 1)
    np.testing.assert_allclose(arr(s), a.std(1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(arr(m), a.mean(1), rtol=1e-12)
    v, m = ag.var_mean(ag.tensor(a), (0, 1), correction=0, keepdim=True)
    assert v.shape == m.shape == (1, 1)
    np.testing.assert_allclose(arr(v), [[a.var()]], rtol=1e-12)
    assert isinstance(ag.var_mean(ag.tensor(a)), tuple)
    check_grad(lambda t: ag.std_mean(t, 1, unbiased=False), make((3, 4)))
    check_grad(lambda t: ag.var_mean(t, 0), make((3, 4)))
    with pytest.raises(RuntimeError, match="std_mean only support floating point"):
        ag.std_mean(ag.tensor([1, 2]))


def test_std_mean_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(2).standard_normal((3, 4))
    gs, gm = np.ones(3), np.arange(3.0)
    out = []
    for mod in (ag, torch):
        x = mod.tensor(a, requires_grad=True)
        s, m = mod.std_mean(x, 1)
        (g,) = mod.autograd.grad([s, m], [x], [mod.tensor(gs), mod.tensor(gm)])
        out.append(g.detach().numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10)


# 6. CUDA against CPU ----------------------------------------------------------------------------
_CUDA_CASES = [
    ("cummax", lambda t: ag.cummax(t, 1)), ("cummin_dim0", lambda t: ag.cummin(t, 0)),
    ("logcumsumexp", lambda t: ag.logcumsumexp(t, 1)), ("logcumsumexp_dim0", lambda t: ag.logcumsumexp(t, 0)),
    ("sort", lambda t: ag.sort(t, 1)), ("sort_desc_dim0", lambda t: ag.sort(t, 0, descending=True)),
    ("argsort", lambda t: ag.argsort(t, -1, True)), ("topk", lambda t: ag.topk(t, 3, 1)),
    ("topk_smallest", lambda t: ag.topk(t, 2, 0, largest=False)), ("std_mean", lambda t: ag.std_mean(t, 1)),
    ("var_mean", lambda t: ag.var_mean(t, 0, correction=0)), ("nonzero", lambda t: ag.nonzero(t > 0)),
    ("count_nonzero", lambda t: ag.count_nonzero(t > 0, 1)), ("logsumexp", lambda t: ag.logsumexp(t, 1)),
]


@pytest.mark.cuda
@pytest.mark.parametrize("name,fn", _CUDA_CASES, ids=[c[0] for c in _CUDA_CASES])
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_cuda_matches_cpu(name, fn, dtype):
    a = np.random.default_rng(5).standard_normal((6, 300))
    a[0, :50] = 0.5    # ties
    compare_devices(fn, a, dtype=dtype, grad=name not in ("argsort", "nonzero", "count_nonzero"))


@pytest.mark.cuda
@pytest.mark.parametrize("dt", [ag.int64, ag.int32, ag.int8, ag.bool])
def test_cuda_integer_scans_and_sorts(dt):
    a = np.random.default_rng(6).integers(-3, 3, (5, 40))
    cpu, gpu = ag.tensor(a).to(dt), ag.tensor(a, device="cuda").to(dt)
    for fn in (lambda t: ag.cummax(t, 1), lambda t: ag.cummin(t, 0), lambda t: ag.sort(t, 1),
               lambda t: ag.sort(t, 0, descending=True), lambda t: ag.count_nonzero(t, 1), ag.nonzero):
        c, g = fn(cpu), fn(gpu)
        for x, y in zip(c if isinstance(c, tuple) else (c,), g if isinstance(g, tuple) else (g,)):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(y.to("cpu").numpy(), x.numpy())


@pytest.mark.cuda
def test_cuda_nan_rules():
    x = [1.0, 3.0, 3.0, NAN, 5.0, NAN, 1.0, -INF, INF]
    for fn in (lambda t: ag.cummax(t, 0), lambda t: ag.cummin(t, 0), lambda t: ag.sort(t, 0, True),
               lambda t: ag.sort(t), lambda t: ag.logcumsumexp(t, 0), lambda t: ag.topk(t, 4)):
        c, g = fn(ag.tensor(x)), fn(ag.tensor(x, device="cuda"))
        for a, b in zip(c if isinstance(c, tuple) else (c,), g if isinstance(g, tuple) else (g,)):
            np.testing.assert_array_equal(b.to("cpu").numpy(), a.numpy())
    np.testing.assert_array_equal(ag.logsumexp(ag.zeros(0, 3, device="cuda"), 0).to("cpu").numpy(), [-INF] * 3)
