"""Reductions, scans and softmax: gradients (first and second order), values against NumPy,
dtypes, PyTorch's return types and errors, and CUDA against CPU."""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import assert_close, check_grad, compare_devices, make

INF = float("inf")


def _np_logsumexp(a, axis, keepdims=False):
    m = a.max(axis=axis, keepdims=True)
    out = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_pnorm(a, p, axis=None, keepdims=False):
    return (np.abs(a) ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


# (id, op on a tensor, NumPy reference, input shape, extra make() options)
CASES = [
    ("sum", lambda x: x.sum(), lambda a: a.sum(), (2, 3), {}),
    ("sum_dim", lambda x: ag.sum(x, 1), lambda a: a.sum(1), (2, 3), {}),
    ("sum_negdim_keep", lambda x: x.sum(-1, keepdim=True), lambda a: a.sum(-1, keepdims=True), (2, 3), {}),
    ("sum_tuple", lambda x: x.sum((0, 2)), lambda a: a.sum((0, 2)), (2, 3, 2), {}),
    ("sum_tuple_keep", lambda x: x.sum((0, -1), keepdim=True), lambda a: a.sum((0, 2), keepdims=True),
     (2, 3, 2), {}),
    ("sum_0d", lambda x: x.sum(), lambda a: a.sum(), (), {}),
    ("sum_0d_dim", lambda x: x.sum(0), lambda a: a, (), {}),
    ("mean", lambda x: x.mean(), lambda a: a.mean(), (2, 3), {}),
    ("mean_dim", lambda x: ag.mean(x, 0), lambda a: a.mean(0), (2, 3), {}),
    ("mean_tuple_keep", lambda x: x.mean((1, 2), keepdim=True), lambda a: a.mean((1, 2), keepdims=True), (2, 3, 2), {}),
    ("prod", lambda x: x.prod(), lambda a: a.prod(), (2, 3), {"avoid": [0.0]}),
    ("prod_dim", lambda x: x.prod(1), lambda a: a.prod(1), (2, 3), {"avoid": [0.0]}),
    ("prod_negdim_keep", lambda x: ag.prod(x, -2, keepdim=True), lambda a: a.prod(-2, keepdims=True), (3, 2),
     {"avoid": [0.0]}),
    ("max", lambda x: x.max(), lambda a: a.max(), (2, 3), {}),
    ("min", lambda x: ag.min(x), lambda a: a.min(), (2, 3), {}),
    ("max_dim", lambda x: x.max(1)[0], lambda a: a.max(1), (2, 3), {}),
    ("max_negdim_keep", lambda x: ag.max(x, -1, keepdim=True).values, lambda a: a.max(-1, keepdims=True), (2, 3), {}),
    ("min_dim", lambda x: x.min(0).values, lambda a: a.min(0), (2, 3), {}),
    ("amax", lambda x: x.amax(), lambda a: a.max(), (2, 3), {}),
    ("amax_tuple", lambda x: ag.amax(x, (0, 2)), lambda a: a.max((0, 2)), (2, 3, 2), {}),
    ("amin_keep", lambda x: x.amin(-1, keepdim=True), lambda a: a.min(-1, keepdims=True), (2, 3), {}),
    ("var", lambda x: x.var(), lambda a: a.var(ddof=1), (2, 3), {}),
    ("var_dim_biased", lambda x: ag.var(x, 1, unbiased=False), lambda a: a.var(1), (2, 3), {}),
    ("var_tuple_corr_keep", lambda x: x.var((0, 2), correction=2, keepdim=True),
     lambda a: a.var((0, 2), ddof=2, keepdims=True), (2, 3, 2), {}),
    ("std", lambda x: x.std(), lambda a: a.std(ddof=1), (2, 3), {}),
    ("std_negdim_keep", lambda x: ag.std(x, -1, keepdim=True), lambda a: a.std(-1, ddof=1, keepdims=True), (2, 3), {}),
    ("std_correction0", lambda x: x.std(0, correction=0), lambda a: a.std(0), (2, 3), {}),
    ("logsumexp", lambda x: x.logsumexp(1), lambda a: _np_logsumexp(a, 1), (2, 3), {}),
    ("logsumexp_tuple_keep", lambda x: ag.logsumexp(x, (0, -1), keepdim=True),
     lambda a: _np_logsumexp(a, (0, 2), True), (2, 3, 2), {}),
    ("norm", lambda x: x.norm(), lambda a: np.sqrt((a * a).sum()), (2, 3), {}),
    ("norm_fro_dim", lambda x: ag.norm(x, "fro", dim=1), lambda a: np.sqrt((a * a).sum(1)), (2, 3), {}),
    ("norm_1", lambda x: x.norm(1, dim=-1, keepdim=True), lambda a: np.abs(a).sum(-1, keepdims=True), (2, 3),
     {"avoid": [0.0]}),
    ("norm_inf", lambda x: x.norm(INF, dim=0), lambda a: np.abs(a).max(0), (2, 3), {"avoid": [0.0]}),
    ("norm_neginf", lambda x: x.norm(-INF), lambda a: np.abs(a).min(), (2, 3), {"avoid": [0.0]}),
    ("norm_3", lambda x: x.norm(3, dim=(0, 1)), lambda a: _np_pnorm(a, 3, (0, 1)), (2, 3), {"avoid": [0.0]}),
    ("norm_1.5", lambda x: x.norm(1.5), lambda a: _np_pnorm(a, 1.5), (2, 3), {"avoid": [0.0]}),
    ("cumsum", lambda x: x.cumsum(1), lambda a: a.cumsum(1), (2, 3), {}),
    ("cumsum_negdim", lambda x: ag.cumsum(x, -3), lambda a: a.cumsum(0), (2, 3, 2), {}),
    ("cumsum_0d", lambda x: x.cumsum(0), lambda a: a, (), {}),
    ("cumprod", lambda x: x.cumprod(1), lambda a: a.cumprod(1), (2, 3), {"avoid": [0.0]}),
    ("cumprod_negdim", lambda x: ag.cumprod(x, -1), lambda a: a.cumprod(-1), (2, 2, 3), {"avoid": [0.0]}),
    ("softmax", lambda x: x.softmax(1), lambda a: _np_softmax(a, 1), (2, 3), {}),
    ("softmax_dim0", lambda x: ag.softmax(x, 0), lambda a: _np_softmax(a, 0), (2, 3, 2), {}),
    ("log_softmax", lambda x: x.log_softmax(-1), lambda a: np.log(_np_softmax(a, -1)), (2, 3), {}),
    ("log_softmax_dim1", lambda x: ag.log_softmax(x, 1), lambda a: np.log(_np_softmax(a, 1)), (2, 3, 2), {}),
]
IDS = [c[0] for c in CASES]


def _input(shape, noncontig=False, **opts):
    if shape == ():   # a 0-dim input (built from NumPy directly: no strides to make odd)
        return ag.from_numpy(np.array(0.37)).requires_grad_()
    return make(shape, noncontig=noncontig, **opts)


@pytest.mark.parametrize("name,fn,ref,shape,opts", CASES, ids=IDS)
@pytest.mark.parametrize("noncontig", [False, True], ids=["contig", "noncontig"])
def test_grad(name, fn, ref, shape, opts, noncontig):
    check_grad(fn, _input(shape, noncontig, **opts))


@pytest.mark.parametrize("name,fn,ref,shape,opts", CASES, ids=IDS)
def test_forward_matches_numpy(name, fn, ref, shape, opts):
    x = _input(shape, **opts)
    out = fn(x)
    assert out.dtype == ag.float64
    assert_close(out, np.asarray(ref(x.detach().numpy())), rtol=1e-10, atol=1e-12)


# values and dtypes ---------------------------------------------------------------------
@pytest.mark.parametrize("dt", [ag.int32, ag.int64, ag.bool])
def test_sum_prod_cumsum_of_integers_give_int64(dt):
    a = np.array([[1, 0, 2], [3, 1, 1]])
    x = ag.tensor(a, dtype=dt)
    ref = a.astype(dt.np)
    assert x.sum().dtype == ag.int64 and x.sum().item() == ref.sum()
    assert x.sum(1).dtype == ag.int64 and x.sum(1).tolist() == ref.sum(1, dtype=np.int64).tolist()
    assert x.prod(1).dtype == ag.int64 and x.prod(1).tolist() == ref.prod(1, dtype=np.int64).tolist()
    assert x.cumsum(1).dtype == ag.int64 and x.cumsum(1).tolist() == ref.cumsum(1, dtype=np.int64).tolist()


@pytest.mark.parametrize("dt", [ag.float16, ag.float32])
def test_float_reductions_keep_dtype(dt):
    x = ag.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=dt)
    for out in (x.sum(), x.mean(1), x.prod(0), x.amax(1), x.max(), x.var(1), x.std(), x.logsumexp(1), x.norm(),
                x.cumsum(0), x.cumprod(1), x.softmax(1), x.log_softmax(0), x.max(1).values):
        assert out.dtype == dt
    assert_close(x.sum().float(), np.float32(np.linspace(-1, 1, 12).astype(dt.np).astype(np.float32).sum()),
                 rtol=1e-3, atol=1e-3)


def test_dtype_argument_casts_first():
    x = ag.tensor([[1, 2], [3, 4]])
    assert x.sum(dtype=ag.float64).dtype == ag.float64
    assert x.mean(dtype=ag.float32).item() == 2.5
    assert x.cumsum(0, dtype=ag.float32).dtype == ag.float32
    assert ag.softmax(x, 1, dtype=ag.float64).dtype == ag.float64


def test_mean_of_integers_raises():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype.*Got: Long"):
        ag.tensor([1, 2, 3]).mean()


def test_max_min_with_dim_return_namedtuple():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    x = ag.tensor(a)
    r = x.max(1)
    values, indices = r
    assert type(r).__name__ == "max" and r.values is values and r.indices is indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]  # first index of a tie
    assert indices.dtype == ag.int64 and not indices.requires_grad
    r = ag.min(x, 0, keepdim=True)
    assert type(r).__name__ == "min" and r.values.shape == (1, 3) and r.indices.tolist() == [[0, 1, 0]]
    assert x.max().shape == () and x.max().item() == 7.0


def test_max_with_tensor_is_maximum():
    x, y = ag.tensor([1.0, 5.0]), ag.tensor([3.0, 2.0])
    assert ag.max(x, y).tolist() == [3.0, 5.0]
    assert x.min(y).tolist() == [1.0, 2.0]


def test_max_dim_gradient_goes_to_the_index():
    x = ag.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


@pytest.mark.parametrize("op", ["amax", "max", "amin", "min"])
def test_ties_split_gradient_evenly(op):
    x = ag.tensor([[3.0, 1.0, 3.0, 3.0], [-1.0, -1.0, 2.0, 0.0]], requires_grad=True)
    if op in ("amax", "amin"):
        getattr(x, op)(1).sum().backward()
        expect = ([[1 / 3, 0, 1 / 3, 1 / 3], [0, 0, 1, 0]] if op == "amax" else
                  [[0, 1, 0, 0], [0.5, 0.5, 0, 0]])
    else:
        getattr(x, op)().backward()
        expect = ([[1 / 3, 0, 1 / 3, 1 / 3], [0, 0, 0, 0]] if op == "max" else
                  [[0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    assert_close(x.grad, np.array(expect))


def test_argmax_argmin():
    a = np.array([[1.0, 9.0, 9.0], [4.0, -2.0, 3.0]])
    x = ag.tensor(a)
    assert x.argmax().item() == 1 and x.argmin().item() == 4  # flattened
    assert x.argmax(1).tolist() == [1, 0] and ag.argmin(x, 0).tolist() == [0, 1, 1]
    assert x.argmax(-1, keepdim=True).shape == (2, 1) and x.argmax(1).dtype == ag.int64
    assert ag.tensor(3.0).argmax(0).shape == ()


def test_prod_gradient_with_zeros():
    # one zero: its gradient is the product of the others; two zeros: all gradients zero
    x = ag.tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]], requires_grad=True)
    x.prod(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]]
    y = ag.tensor([1.5, 0.0, -2.0], requires_grad=True)
    y.prod().backward()
    assert y.grad.tolist() == [0.0, -3.0, 0.0]


@pytest.mark.parametrize("vals", [[2.0, 0.0, 3.0, -1.5], [0.0, 0.7, 0.0, 1.2], [0.0, 0.0, 0.0, 0.9]])
def test_prod_and_cumprod_second_order_with_zeros(vals):
    x = ag.tensor(vals, dtype=ag.float64, requires_grad=True)
    check_grad(lambda t: t.prod(), x)
    check_grad(lambda t: t.cumprod(0), x)
    m = ag.tensor([vals, vals[::-1]], dtype=ag.float64, requires_grad=True)
    check_grad(lambda t: t.prod(1), m)
    check_grad(lambda t: t.cumprod(1), m)


def test_cumprod_gradient_with_zero():
    x = ag.tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.cumprod(0).sum().backward()
    # out = [x0, x0 x1, x0 x1 x2]: d/dx0 = 1 + x1 + x1 x2, d/dx1 = x0 + x0 x2, d/dx2 = x0 x1
    assert x.grad.tolist() == [1.0, 8.0, 0.0]


def test_norm_gradient_at_zero_is_zero():
    x = ag.zeros(3, dtype=ag.float64, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    y = ag.zeros(2, 2, dtype=ag.float64, requires_grad=True)
    (g,) = ag.autograd.grad(y.std(), y, create_graph=True)
    assert g.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_norm_zero_counts_nonzeros():
    x = ag.tensor([[0.0, 2.0, -1.0], [0.0, 0.0, 3.0]], requires_grad=True)
    assert x.norm(0).item() == 3.0 and x.norm(0, dim=1).tolist() == [2.0, 1.0]
    x.norm(0).backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2


def test_logsumexp_is_stable():
    x = ag.tensor([[1000.0, 1000.0], [-1000.0, -INF]], dtype=ag.float64)
    assert_close(x.logsumexp(1), np.array([1000.0 + math.log(2.0), -1000.0]))
    assert ag.tensor([-INF, -INF]).logsumexp(0).item() == -INF
    assert ag.tensor([1, 2]).logsumexp(0).dtype == ag.float32


def test_softmax_is_stable_and_sums_to_one():
    x = ag.tensor([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]], dtype=ag.float64)
    assert_close(x.softmax(1), np.array([[1.0, 0.0, 0.0], [1 / 3] * 3]))
    assert_close(x.log_softmax(1), np.array([[0.0, -1000.0, -2000.0], [-math.log(3.0)] * 3]))


def test_var_std_overloads():
    a = np.arange(6.0).reshape(2, 3) ** 2
    x = ag.tensor(a)
    assert_close(x.var(False), np.asarray(a.var()))       # legacy positional ``unbiased``
    assert_close(ag.std(x, 1, False, True), a.std(1, keepdims=True))
    assert_close(x.var(dim=0, correction=0), a.var(0))
    assert math.isnan(ag.tensor([1.0]).var().item())
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        ag.tensor([1, 2]).var()


def test_keepdim_shapes():
    x = make((2, 3, 4), requires_grad=False)
    assert x.sum((0, 2), keepdim=True).shape == (1, 3, 1)
    assert x.mean(-1).shape == (2, 3)
    assert x.sum(()).shape == ()
    assert x.amax((1,), keepdim=True).shape == (2, 1, 4)
    assert x.argmax(keepdim=True).shape == (1, 1, 1)
    assert x.norm(dim=(1, 2)).shape == (2,)


# errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x: x.sum(2), lambda x: x.mean(-3), lambda x: x.prod(2), lambda x: x.max(2), lambda x: x.amax((0, 5)),
    lambda x: x.argmax(2), lambda x: x.var(2), lambda x: x.logsumexp(2), lambda x: x.norm(dim=2),
    lambda x: x.cumsum(2), lambda x: x.cumprod(-3), lambda x: x.softmax(2), lambda x: x.log_softmax(2),
])
def test_dim_out_of_range(call):
    x = make((2, 3), requires_grad=False)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got"):
        call(x)


def test_repeated_dim_and_empty_max():
    x = make((2, 3), requires_grad=False)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.sum((1, -1))
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified for input.numel\\(\\) == 0"):
        ag.zeros(0).max()
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        ag.tensor([1, 2]).softmax(0)
    with pytest.raises(RuntimeError, match="floating point"):
        ag.tensor([1, 2]).norm()


def test_input_unchanged_after_error():
    x = make((2, 3))
    before = x.detach().numpy().copy()
    with pytest.raises(IndexError):
        x.sum(5)
    assert_close(x.detach(), before)
    assert x.grad is None


# CUDA against CPU ---------------------------------------------------------------------
CUDA_CASES = [
    ("sum", lambda x: x.sum()), ("sum_dim", lambda x: x.sum(-1)), ("sum_tuple", lambda x: x.sum((0, 2), keepdim=True)),
    ("mean", lambda x: x.mean(1)), ("prod", lambda x: x.prod(-1)), ("amax", lambda x: x.amax((0, 1))),
    ("max", lambda x: x.max()), ("max_dim", lambda x: x.max(1)), ("min_dim", lambda x: x.min(-1, keepdim=True)),
    ("var", lambda x: x.var(1)), ("std", lambda x: x.std()), ("logsumexp", lambda x: x.logsumexp(-1)),
    ("norm", lambda x: x.norm()), ("norm_1", lambda x: x.norm(1, dim=1)), ("norm_inf", lambda x: x.norm(INF)),
    ("cumsum", lambda x: x.cumsum(1)), ("cumprod", lambda x: x.cumprod(-1)),
    ("softmax", lambda x: x.softmax(-1)), ("log_softmax", lambda x: x.log_softmax(1)),
    ("softmax_dim0", lambda x: x.softmax(0)),
]


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64, ag.float16], ids=lambda d: d.name)
@pytest.mark.parametrize("name,fn", CUDA_CASES, ids=[c[0] for c in CUDA_CASES])
def test_cuda_matches_cpu(name, fn, dtype):
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 1.5, (3, 5, 7)) * rng.choice([-1.0, 1.0], (3, 5, 7))
    compare_devices(fn, a, dtype=dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("n", [1, 3, 1023, 2 ** 20 + 1])
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64, ag.float16], ids=lambda d: d.name)
def test_cuda_sum_sizes(n, dtype):
    a = np.random.default_rng(n).uniform(-1, 1, n)
    if dtype is ag.float16 and n > 2 ** 16:
        a = a * 1e-3   # keep the float16 result representable
    compare_devices(lambda x: x.sum(), a, dtype=dtype, grad=False)
    compare_devices(lambda x: (x.amax(), x.softmax(0)), a, dtype=dtype, grad=False)
    if dtype is not ag.float16:   # float16 rounding makes ties and long running sums inexact
        compare_devices(lambda x: (x.argmax(), x.cumsum(0)), a[:4097], dtype=dtype, grad=False)


@pytest.mark.cuda
@pytest.mark.parametrize("dt", [ag.int32, ag.int64, ag.bool])
def test_cuda_integer_reductions(dt):
    a = np.array([[1, 0, 2, 5], [3, 1, 1, 0]]).astype(dt.np)
    for fn in (lambda x: x.sum(), lambda x: x.sum(1), lambda x: x.cumsum(1), lambda x: x.argmax(1)):
        cpu, gpu = fn(ag.tensor(a)), fn(ag.tensor(a, device="cuda"))
        assert gpu.dtype == cpu.dtype and gpu.cpu().tolist() == cpu.tolist()
    if dt is not ag.bool:
        for fn in (lambda x: x.prod(1), lambda x: x.amax(0), lambda x: x.max(1).indices):
            cpu, gpu = fn(ag.tensor(a)), fn(ag.tensor(a, device="cuda"))
            assert gpu.dtype == cpu.dtype and gpu.cpu().tolist() == cpu.tolist()
