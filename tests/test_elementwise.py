"""Elementwise ops and activations: forward vs NumPy, gradcheck + gradgradcheck, dtypes, errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops import activation as A
from helpers import assert_close, check_grad, compare_devices, make

_erf = np.vectorize(math.erf)


def _zero_dim(v, dtype=np.float32, device="cpu") -> ag.Tensor:
    # built directly: ag.tensor(2.0) must give shape (), independent of creation.py
    return ag.Tensor._make(np.array(v, dtype=dtype), ag.device("cpu")).to(device)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_softplus(x, beta=1.0, thr=20.0):
    return np.where(beta * x > thr, x, np.log1p(np.exp(beta * x)) / beta)


POS = dict(low=0.3, high=2.0)          # log, sqrt, ...: positive inputs
NONZERO = dict(low=-2.0, high=2.0, avoid=[0.0], margin=0.3)
KINK0 = dict(low=-2.0, high=2.0, avoid=[0.0], margin=0.1)

# name, our function, NumPy reference, input range
UNARY = [
    ("neg", ag.neg, np.negative, {}),
    ("abs", ag.abs, np.abs, KINK0),
    ("exp", ag.exp, np.exp, {}),
    ("expm1", ag.expm1, np.expm1, {}),
    ("log", ag.log, np.log, POS),
    ("log1p", ag.log1p, np.log1p, dict(low=-0.7, high=2.0)),
    ("sqrt", ag.sqrt, np.sqrt, POS),
    ("rsqrt", ag.rsqrt, lambda x: 1 / np.sqrt(x), POS),
    ("reciprocal", ag.reciprocal, np.reciprocal, NONZERO),
    ("sin", ag.sin, np.sin, dict(low=-3.0, high=3.0)),
    ("cos", ag.cos, np.cos, dict(low=-3.0, high=3.0)),
    ("tanh", ag.tanh, np.tanh, dict(low=-2.0, high=2.0)),
    ("sigmoid", ag.sigmoid, _np_sigmoid, dict(low=-3.0, high=3.0)),
    ("relu", ag.relu, lambda x: np.maximum(x, 0), KINK0),
    ("square", ag.square, np.square, {}),
    ("pow_scalar", lambda x: x ** 3, lambda x: x ** 3, {}),
    ("pow_half", lambda x: x ** 0.5, np.sqrt, POS),
    ("pow_neg", lambda x: ag.pow(x, -2.0), lambda x: x ** -2.0, NONZERO),
    ("rpow", lambda x: 2.5 ** x, lambda x: 2.5 ** x, {}),
    ("clamp", lambda x: ag.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7),
     dict(avoid=[-0.5, 0.7], margin=0.05)),
    ("clamp_min", lambda x: x.clamp(min=-0.5), lambda x: np.maximum(x, -0.5), dict(avoid=[-0.5])),
    ("clip_max", lambda x: ag.clip(x, max=0.2), lambda x: np.minimum(x, 0.2), dict(avoid=[0.2])),
    ("gelu", ag.nn.functional.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), dict(low=-3.0, high=3.0)),
    ("gelu_tanh", lambda x: ag.nn.functional.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
     dict(low=-3.0, high=3.0)),
    ("silu", A.silu, lambda x: x * _np_sigmoid(x), dict(low=-3.0, high=3.0)),
    ("softplus", A.softplus, _np_softplus, dict(low=-3.0, high=3.0)),
    ("softplus_beta", lambda x: A.softplus(x, beta=2.0, threshold=3.0), lambda x: _np_softplus(x, 2.0, 3.0),
     dict(low=-3.0, high=3.0, avoid=[1.5])),
    ("leaky_relu", A.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), KINK0),
    ("leaky_relu_slope", lambda x: A.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), KINK0),
    ("elu", A.elu, lambda x: np.where(x > 0, x, np.expm1(x)), KINK0),
    ("elu_alpha", lambda x: A.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), KINK0),
]

# name, our function, NumPy reference, range of x, range of y
BINARY = [
    ("add", ag.add, np.add, {}, {}),
    ("add_alpha", lambda x, y: ag.add(x, y, alpha=2.5), lambda x, y: x + 2.5 * y, {}, {}),
    ("sub", ag.sub, np.subtract, {}, {}),
    ("sub_alpha", lambda x, y: ag.sub(x, y, alpha=0.5), lambda x, y: x - 0.5 * y, {}, {}),
    ("mul", ag.mul, np.multiply, {}, {}),
    ("div", ag.div, np.divide, {}, NONZERO),
    ("true_divide", ag.true_divide, np.divide, {}, NONZERO),
    ("pow", ag.pow, np.power, POS, {}),
    ("maximum", ag.maximum, np.maximum, {}, dict(low=-0.9, high=1.1)),
    ("minimum", ag.minimum, np.minimum, {}, dict(low=-0.9, high=1.1)),
    ("remainder", ag.remainder, np.remainder, dict(low=-3.0, high=3.0), dict(low=1.1, high=1.9)),
]


def _scalar_ok(name):
    return name not in ("pow",)


# forward against NumPy ---------------------------------------------------------
@pytest.mark.parametrize("name,fn,ref,rng", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward(name, fn, ref, rng):
    x = make((3, 4), requires_grad=False, **rng)
    out = fn(x)
    assert out.dtype == ag.float64 and out.shape == (3, 4)
    assert_close(out, ref(x.numpy()), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,fn,ref,rx,ry", BINARY, ids=[b[0] for b in BINARY])
def test_binary_forward_broadcast(name, fn, ref, rx, ry):
    x, y = make((3, 1, 4), requires_grad=False, **rx), make((5, 4), requires_grad=False, **ry)
    out = fn(x, y)
    assert out.dtype == ag.float64 and out.shape == (3, 5, 4)
    assert_close(out, ref(x.numpy(), y.numpy()), rtol=1e-12, atol=1e-14)


# gradients: first and second order, in float64 ---------------------------------------
@pytest.mark.parametrize("name,fn,ref,rng", UNARY, ids=[u[0] for u in UNARY])
def test_unary_grad(name, fn, ref, rng):
    check_grad(fn, make((2, 3), **rng))


@pytest.mark.parametrize("name,fn,ref,rng", UNARY, ids=[u[0] for u in UNARY])
def test_unary_grad_noncontig(name, fn, ref, rng):
    x = make((2, 3), noncontig=True, **rng)
    assert_close(fn(x).detach(), ref(np.ascontiguousarray(x.detach().numpy())), rtol=1e-12, atol=1e-14)
    check_grad(fn, x)


@pytest.mark.parametrize("name,fn,ref,rx,ry", BINARY, ids=[b[0] for b in BINARY])
def test_binary_grad_broadcast(name, fn, ref, rx, ry):
    check_grad(fn, make((3, 1, 2), **rx), make((2, 2), seed=5, **ry))


@pytest.mark.parametrize("name,fn,ref,rx,ry", BINARY, ids=[b[0] for b in BINARY])
def test_binary_grad_noncontig(name, fn, ref, rx, ry):
    check_grad(fn, make((2, 3), noncontig=True, **rx), make((2, 3), noncontig=True, seed=5, **ry))


@pytest.mark.parametrize("name,fn,ref,rx,ry", BINARY, ids=[b[0] for b in BINARY])
def test_binary_scalar_right(name, fn, ref, rx, ry):
    s = 1.7
    x = make((2, 3), **rx)
    out = fn(x, s)
    assert out.dtype == ag.float64
    assert_close(out.detach(), ref(x.detach().numpy(), s), rtol=1e-12, atol=1e-14)
    check_grad(lambda t: fn(t, s), x)


@pytest.mark.parametrize("name,fn,ref,rx,ry", BINARY, ids=[b[0] for b in BINARY])
def test_binary_scalar_left(name, fn, ref, rx, ry):
    s = 1.3
    y = make((2, 3), **ry)
    out = fn(s, y)
    assert out.dtype == ag.float64
    assert_close(out.detach(), ref(s, y.detach().numpy()), rtol=1e-12, atol=1e-14)
    check_grad(lambda t: fn(s, t), y)


def test_where_grad_and_scalars():
    c = make((3, 1, 4), requires_grad=False) > 0
    x, y = make((3, 1, 4)), make((5, 4), seed=3)
    out = ag.where(c, x, y)
    assert out.shape == (3, 5, 4)
    assert_close(out.detach(), np.where(c.numpy(), x.detach().numpy(), y.detach().numpy()))
    check_grad(lambda a, b: ag.where(c, a, b), x, y)
    check_grad(lambda a: ag.where(c, a, 0.5), x)
    check_grad(lambda b: ag.where(c[0], 2.0, b), y)
    s = ag.where(c, 1.0, 0.0)
    assert s.dtype == ag.float32 and s.shape == c.shape


def test_operators_reflected():
    x = make((2, 3), low=0.5, high=2.0)
    xd = x.detach().numpy()
    cases = [(x + 2, xd + 2), (2 + x, 2 + xd), (x - 2, xd - 2), (2.0 - x, 2.0 - xd), (3 * x, 3 * xd),
             (x / 4, xd / 4), (1 / x, 1 / xd), (x ** 2, xd ** 2), (2.0 ** x, 2.0 ** xd), (-x, -xd),
             (x // 0.3, xd // 0.3), (5 // x, 5 // xd), (x % 0.3, xd % 0.3), (5 % x, 5 % xd), (abs(-x), xd)]
    for ours, ref in cases:
        assert_close(ours.detach(), ref)
    check_grad(lambda t: (2.0 - t) * (1 / t) + 2.0 ** t - t ** 2 / 3, x)


# gradient conventions -----------------------------------------------------------
def _grad(fn, *vals):
    ts = [ag.tensor(v, dtype=ag.float64, requires_grad=True) for v in vals]
    fn(*ts).sum().backward()
    return [t.grad.numpy() for t in ts]


def test_kink_conventions():
    (g,) = _grad(ag.relu, [-1.0, 0.0, 2.0])
    assert_close(g, [0.0, 0.0, 1.0])
    (g,) = _grad(ag.abs, [-1.0, 0.0, 2.0])
    assert_close(g, [-1.0, 0.0, 1.0])
    (g,) = _grad(lambda t: ag.clamp(t, -1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    assert_close(g, [0.0, 1.0, 1.0, 1.0, 0.0])   # bounds inclusive
    gx, gy = _grad(ag.maximum, [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    assert_close(gx, [0.0, 0.5, 1.0]) and assert_close(gy, [1.0, 0.5, 0.0])
    gx, gy = _grad(ag.minimum, [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    assert_close(gx, [1.0, 0.5, 0.0]) and assert_close(gy, [0.0, 0.5, 1.0])
    (g,) = _grad(A.leaky_relu, [-1.0, 0.0, 2.0])
    assert_close(g, [0.01, 0.01, 1.0])
    (g,) = _grad(lambda t: t ** 0.0, [0.0, 2.0])
    assert_close(g, [0.0, 0.0])
    gx, gy = _grad(ag.pow, [0.0, 2.0], [2.0, 3.0])
    assert_close(gx, [0.0, 12.0]) and assert_close(gy, [0.0, 8 * math.log(2)])


@pytest.mark.parametrize("fn", [ag.sign, ag.floor, ag.ceil, ag.round, ag.trunc,
                                lambda t: ag.div(t, 0.7, rounding_mode="floor"),
                                lambda t: ag.div(t, 0.7, rounding_mode="trunc"),
                                lambda t: ag.floor_divide(t, 0.7)])
def test_zero_gradient_ops(fn):
    x = make((2, 3), low=-3.0, high=3.0)
    out = fn(x)
    assert out.requires_grad and out.dtype == ag.float64
    out.sum().backward()
    assert x.grad is not None and not x.grad.numpy().any()


def test_rounding_values():
    v = np.array([-2.5, -1.5, -0.4, 0.5, 1.5, 2.7])
    t = ag.tensor(v)
    for fn, ref in ((ag.floor, np.floor), (ag.ceil, np.ceil), (ag.round, np.round), (ag.trunc, np.trunc),
                    (ag.sign, np.sign)):
        assert_close(fn(t), ref(v).astype(np.float32))
    assert_close(ag.round(ag.tensor([1.234, -5.678]), decimals=2), np.array([1.23, -5.68], np.float32), rtol=1e-6)
    i = ag.tensor([-3, 0, 4])
    assert ag.floor(i).dtype == ag.int64 and ag.floor(i).tolist() == [-3, 0, 4]
    assert ag.sign(i).tolist() == [-1, 0, 1]


def test_div_rounding_modes():
    a, b = ag.tensor([-7, 7, -8]), ag.tensor([2, -2, 3])
    assert ag.div(a, b, rounding_mode="trunc").tolist() == [-3, -3, -2]
    assert ag.div(a, b, rounding_mode="floor").tolist() == [-4, -4, -3]
    assert (a // b).tolist() == [-4, -4, -3] and (a % b).tolist() == [1, -1, 1]
    assert ag.div(a, b, rounding_mode="trunc").dtype == ag.int64
    af = ag.tensor([-7.5, 7.5])
    assert ag.div(af, 2, rounding_mode="trunc").tolist() == [-3.0, 3.0]
    assert ag.div(af, 2, rounding_mode="floor").tolist() == [-4.0, 3.0]
    with pytest.raises(RuntimeError, match="rounding_mode"):
        ag.div(af, 2, rounding_mode="round")


# dtypes ---------------------------------------------------------------------------
I64, F32, F64 = ag.tensor([1, 2, 3]), ag.tensor([1.0, 2.0, 3.0]), ag.tensor([1.0, 2.0, 3.0], dtype=ag.float64)
F16, I32, B = F32.half(), ag.tensor([1, 2, 3], dtype=ag.int32), ag.tensor([True, False, True])
# PyTorch promotes int with float tensors to the float dtype (NumPy would widen int32 + float32
# to float64).
DTYPES = [
    ("int+float scalar", lambda: I64 + 1.5, ag.float32),
    ("int+int scalar", lambda: I64 + 1, ag.int64),
    ("int32+int scalar", lambda: I32 * 2, ag.int32),
    ("int32+int64", lambda: I32 + I64, ag.int64),
    ("f32+f64", lambda: F32 + F64, ag.float64),
    ("f16+f32 0-dim", lambda: F16 + _zero_dim(1.0), ag.float16),
    ("f16*int", lambda: F16 * I64, ag.float16),
    ("f32+int32", lambda: F32 + I32, ag.float32),
    ("int/int", lambda: I64 / I64, ag.float32),
    ("int/scalar", lambda: 1 / I64, ag.float32),
    ("int//int", lambda: I64 // 2, ag.int64),
    ("int**int", lambda: I64 ** 2, ag.int64),
    ("int**float", lambda: I64 ** 0.5, ag.float32),
    ("float**int tensor", lambda: F64 ** I64, ag.float64),
    ("exp(int)", lambda: ag.exp(I64), ag.float32),
    ("sqrt(bool)", lambda: ag.sqrt(B), ag.float32),
    ("tanh(f16)", lambda: ag.tanh(F16), ag.float16),
    ("abs(int)", lambda: ag.abs(-I64), ag.int64),
    ("relu(int)", lambda: ag.relu(-I64), ag.int64),
    ("clamp(int,int)", lambda: ag.clamp(I64, 0, 2), ag.int64),
    ("clamp(int,float)", lambda: ag.clamp(I64, 0.5), ag.float32),
    ("bool+bool", lambda: B + B, ag.bool),
    ("bool*int", lambda: B * 3, ag.int64),
    ("maximum(int,f64)", lambda: ag.maximum(I32, F64), ag.float64),
    ("where(int,float)", lambda: ag.where(B, I64, 0.5), ag.float32),
    ("where(f64,int)", lambda: ag.where(B, F64, 1), ag.float64),
    ("eq", lambda: I64 == F64, ag.bool),
    ("lt scalar", lambda: F16 < 2, ag.bool),
    ("logical_and", lambda: ag.logical_and(I64, F32), ag.bool),
    ("isnan(int)", lambda: ag.isnan(I64), ag.bool),
    ("bitwise_not int", lambda: ~I32, ag.int32),
]


@pytest.mark.parametrize("name,fn,dtype", DTYPES)
def test_result_dtype(name, fn, dtype):
    assert fn().dtype == dtype


def test_mixed_dtype_comparison_promotes():
    a = ag.tensor([16777217], dtype=ag.int64)          # not representable in float32
    assert (a == ag.tensor([16777216.0], dtype=ag.float64)).tolist() == [False]
    assert (ag.tensor([1, 2]) == ag.tensor([1.0, 2.5])).tolist() == [True, False]
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = x > 1.5
    assert out.tolist() == [False, True, True] and not out.requires_grad and out.grad_fn is None


def test_comparisons_and_logic_values():
    x, y = np.array([1.0, 2.0, 3.0, np.nan]), np.array([3.0, 2.0, 1.0, 1.0])
    tx, ty = ag.tensor(x), ag.tensor(y)
    for fn, ref in ((ag.eq, np.equal), (ag.ne, np.not_equal), (ag.lt, np.less), (ag.le, np.less_equal),
                    (ag.gt, np.greater), (ag.ge, np.greater_equal)):
        assert fn(tx, ty).tolist() == ref(x, y).tolist()
        assert fn(tx, 2).tolist() == ref(x, 2).tolist()
    p, q = ag.tensor([True, True, False, False]), ag.tensor([1, 0, 2, 0])
    assert ag.logical_and(p, q).tolist() == [True, False, False, False]
    assert ag.logical_or(p, q).tolist() == [True, True, True, False]
    assert ag.logical_xor(p, q).tolist() == [False, True, True, False]
    assert ag.logical_not(q).tolist() == [False, True, False, True]
    assert (p & (q > 0)).tolist() == [True, False, False, False] and (~p).tolist() == [False, False, True, True]
    assert ag.bitwise_not(ag.tensor([0, 5, -1])).tolist() == [-1, -6, 0]
    v = ag.tensor([1.0, np.inf, -np.inf, np.nan])
    assert ag.isnan(v).tolist() == [False, False, False, True]
    assert ag.isinf(v).tolist() == [False, True, True, False]
    assert ag.isfinite(v).tolist() == [True, False, False, False]
    assert (tx == None) is False and (tx != None) is True  # noqa: E711 - PyTorch's behaviour


def test_pow_int_and_nan_propagation():
    assert (ag.tensor([2, 3]) ** ag.tensor([3, 2])).tolist() == [8, 9]
    assert (2 ** ag.tensor([0, 1, 4])).tolist() == [1, 2, 16]
    assert np.isnan(ag.maximum(ag.tensor([np.nan, 1.0]), ag.tensor([0.0, np.nan])).numpy()).all()
    assert np.isnan(ag.relu(ag.tensor([np.nan])).numpy()).all()
    assert np.isnan(ag.clamp(ag.tensor([np.nan]), 0.0, 1.0).numpy()).all()


def test_zero_dim_results_are_tensors():
    s = _zero_dim(2.0, np.float64).requires_grad_()
    for out in (ag.exp(s), s * 3, ag.maximum(s, 1.0), ag.where(s > 1, s, 0.0), s > 1, ag.nn.functional.gelu(s)):
        assert out.shape == () and isinstance(out._data, np.ndarray)
    ag.exp(s).backward()
    assert_close(s.grad, np.exp(2.0), rtol=1e-6)


# in-place activations -------------------------------------------------------------
@pytest.mark.parametrize("fn,ref", [
    (lambda t: A.leaky_relu(t, 0.2, inplace=True), lambda x: np.where(x > 0, x, 0.2 * x)),
    (lambda t: A.elu(t, 0.5, inplace=True), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (lambda t: A.silu(t, inplace=True), lambda x: x * _np_sigmoid(x)),
])
def test_inplace_activation(fn, ref):
    x = make((2, 3), **KINK0)
    y = x * 1.0
    v = y._version
    out = fn(y)
    assert out is y and y._version == v + 1
    assert_close(y.detach(), ref(x.detach().numpy()), rtol=1e-12)
    check_grad(lambda t: fn(t * 1.0), x)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        fn(x)
    assert x._version == 0   # validated before mutating
    with ag.no_grad():
        fn(x)
    assert_close(x.detach(), ref(make((2, 3), requires_grad=False, **KINK0).numpy()), rtol=1e-12)


# errors ----------------------------------------------------------------------------
def test_broadcast_mismatch_message():
    a, b = ag.zeros(2, 3), ag.zeros(2, 4)
    for fn in (ag.add, ag.mul, ag.div, ag.pow, ag.maximum, ag.eq, ag.logical_and, ag.remainder):
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of tensor b "
                                               r"\(4\) at non-singleton dimension 1"):
            fn(a, b)
    with pytest.raises(RuntimeError, match="must match the size"):
        ag.where(ag.zeros(2, 3) > 0, ag.zeros(2, 4), 0.0)


def test_mixed_devices_message():
    a, b = ag.ones(3, device="fake:0"), ag.ones(3)
    for fn in (ag.add, ag.sub, ag.mul, ag.div, ag.maximum, ag.lt, ag.pow):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but found at "
                                               "least two devices, fake:0 and cpu!"):
            fn(b, a)
    assert (a + _zero_dim(2.0)).device == ag.device("fake:0")   # 0-dim CPU tensors mix like scalars
    assert (_zero_dim(2.0) * a).device == ag.device("fake:0")
    assert_close((a * 2).to("cpu"), np.full(3, 2.0, np.float32))


def test_zero_dim_device_tensor_gets_no_scalar_pass():
    """Only 0-dim CPU tensors mix with other devices; a 0-dim tensor on a device does not."""
    s = ag.tensor(2.0, device="fake:0")
    with pytest.raises(RuntimeError, match="found at least two devices, fake:0 and cpu!"):
        ag.ones(3) + s
    with pytest.raises(RuntimeError, match="found at least two devices, fake:1 and fake:0!"):
        ag.ones(3, device="fake:1") * s
    assert (ag.ones(3, device="fake:0") * s).device == ag.device("fake:0")
    assert (s * ag.tensor(3.0)).device == ag.device("fake:0")    # 0-dim CPU with 0-dim device: fine


def test_misc_errors():
    bt = ag.tensor([True, False])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        bt - bt
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        -bt
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        ag.tensor([2, 3]) ** -1
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        ag.where(ag.ones(2), 1.0, 0.0)
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        ag.clamp(ag.ones(2))
    with pytest.raises(RuntimeError, match="bitwise_not_cpu\" not implemented for 'Float'"):
        ag.bitwise_not(ag.ones(2))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        ag.nn.functional.gelu(ag.ones(2), approximate="fast")


def test_clamp_tensor_bounds():
    x, lo, hi = make((2, 3), low=-2, high=2), make((3,), low=-1.5, high=-0.5, seed=3), make((2, 1), seed=4)
    out = ag.clamp(x, lo, hi)
    assert_close(out.detach(), np.minimum(np.maximum(x.detach().numpy(), lo.detach().numpy()),
                                          hi.detach().numpy()))
    check_grad(lambda a, b, c: ag.clamp(a, b, c), x, lo, hi)


def test_node_names():
    x = make((2,), low=0.5, high=1.0)
    assert ag.tanh(x).grad_fn.name() == "TanhBackward0"
    assert (x ** 2).grad_fn.name() == "PowBackward0" and (x ** x).grad_fn.name() == "PowBackward1"
    assert (2 ** x).grad_fn.name() == "PowBackward2" and (x / 2).grad_fn.name() == "DivBackward0"
    g = ag.autograd.grad(ag.tanh(x).sum(), x, create_graph=True)[0]
    assert g.grad_fn.name() == "TanhBackwardBackward0"


# CUDA against CPU ------------------------------------------------------------------
CUDA_DTYPES = [ag.float32, ag.float64, ag.float16]


def _arr(shape, low=-1.0, high=1.0, seed=0, avoid=None, margin=0.1):
    return make(shape, low=low, high=high, seed=seed, avoid=avoid, margin=margin, requires_grad=False).numpy()


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", CUDA_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name,fn,ref,rng", UNARY, ids=[u[0] for u in UNARY])
def test_cuda_unary(name, fn, ref, rng, dtype):
    compare_devices(fn, _arr((4, 33), **rng), dtype=dtype)
    compare_devices(lambda t: fn(t.mT), _arr((33, 4), **rng), dtype=dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", CUDA_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("name,fn,ref,rx,ry", BINARY, ids=[b[0] for b in BINARY])
def test_cuda_binary(name, fn, ref, rx, ry, dtype):
    x, y = _arr((3, 1, 4), **rx), _arr((5, 4), seed=5, **ry)
    compare_devices(fn, x, y, dtype=dtype)
    compare_devices(lambda t: fn(t, 1.7), x, dtype=dtype)
    compare_devices(lambda t: fn(1.3, t), y, dtype=dtype)
    compare_devices(lambda a, b: fn(a.mT, b.mT), _arr((4, 6), **rx), _arr((4, 6), seed=5, **ry),
                    dtype=dtype)                            # transposed views: non-contiguous inputs


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", CUDA_DTYPES, ids=lambda d: d.name)
def test_cuda_second_order(dtype):
    x = _arr((5, 7), low=0.3, high=2.0)

    def f(t):
        g = ag.autograd.grad((ag.tanh(t) * ag.sigmoid(t) + ag.log(t) * ag.sqrt(t) + ag.nn.functional.gelu(t)).sum(), t,
                             create_graph=True)[0]
        return g
    compare_devices(f, x, dtype=dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", CUDA_DTYPES, ids=lambda d: d.name)
def test_cuda_where_compare_logic(dtype):
    x, y = _arr((3, 1, 4)), _arr((5, 4), seed=9)
    compare_devices(lambda a, b: ag.where(a > b, a, b * 2), x, y, dtype=dtype)
    compare_devices(lambda a, b: ag.where(a > 0, a, 0.5), x, y, dtype=dtype)
    compare_devices(lambda a, b: (a <= b).logical_xor(a > 0).float() + ag.isfinite(a), x, y, dtype=dtype,
                    grad=False)
    compare_devices(lambda a: (ag.floor(a * 3), ag.ceil(a * 3), ag.round(a * 3), ag.trunc(a * 3), ag.sign(a)),
                    x, dtype=dtype, grad=False)


@pytest.mark.cuda
def test_cuda_integer_ops():
    a, b = np.array([-7, 7, -8, 9]), np.array([2, -2, 3, 4])
    for fn in (ag.add, ag.sub, ag.mul, ag.floor_divide, ag.remainder, ag.maximum, ag.minimum, ag.eq, ag.lt,
               lambda x, y: ag.div(x, y, rounding_mode="trunc"), lambda x, y: x ** ag.abs(y), ag.div,
               lambda x, y: ag.clamp(x, -3, 4), lambda x, y: ~x, lambda x, y: ag.abs(x) + ag.relu(y)):
        compare_devices(fn, a, b, dtype=ag.float32, grad=False)


@pytest.mark.parametrize("reps", [1, 20])   # below and above the size where the CPU kernel changes form
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64], ids=str)
def test_sigmoid_tails_keep_relative_precision(dtype, reps):
    """Far into the negative tail sigmoid is tiny but not zero (exp(-100) = 3.7835e-44 in float32,
    a subnormal); no overflow warning on either side."""
    xs = np.array([-700.0, -100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0, 700.0])
    if dtype == ag.float32:
        xs = xs[1:-1]
    xs = np.tile(xs, reps)
    exact = 1.0 / (1.0 + np.exp(-xs.astype(np.longdouble)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ag.sigmoid(ag.tensor(xs, dtype=dtype)).numpy().astype(np.longdouble)
    tiny = np.finfo(dtype.np).tiny
    normal = exact > tiny
    rel = np.abs(got[normal] - exact[normal]) / exact[normal]
    assert rel.max() < (1e-6 if dtype == ag.float32 else 1e-14)
    assert got[0] > 0
