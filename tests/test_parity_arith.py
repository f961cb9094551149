"""PyTorch parity of the arithmetic and elementwise math families on the values where NumPy and
PyTorch part ways: integer division by zero, signed zeros, sign(nan), NumPy's floating-point
warnings (PyTorch never warns), integer pow. Values are written out, and compared with PyTorch
where it is installed; CUDA against CPU under the ``cuda`` marker."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops import arithmetic, special, unary
from autograd_gpu.ops import registry
from op_db import OP_DB
from test_op_table import samples, to_tensors, invoke, walk

INF, NAN = math.inf, math.nan


# 1. integer division by zero raises on CPU, as PyTorch's CPU -----------------------------------------
INT_DIV_M = {   # each on module m: ag or torch
    "floor_divide": lambda m, x, y: m.floor_divide(x, y),
    "//": lambda m, x, y: x // y,
    "remainder": lambda m, x, y: m.remainder(x, y),
    "%": lambda m, x, y: x % y,
    "div_trunc": lambda m, x, y: m.div(x, y, rounding_mode="trunc"),
    "div_floor": lambda m, x, y: m.div(x, y, rounding_mode="floor"),
    "fmod": lambda m, x, y: m.fmod(x, y),
}
INT_DIV = {k: (lambda f: lambda x, y: f(ag, x, y))(f) for k, f in INT_DIV_M.items()}


@pytest.mark.parametrize("name", INT_DIV)
@pytest.mark.parametrize("divisor", [lambda: ag.tensor([1, 0, 2]), lambda: 0, lambda: ag.tensor(0),
                                     lambda: ag.tensor([0], dtype=ag.int32)])
def test_integer_division_by_zero_raises(name, divisor):
    with pytest.raises(RuntimeError, match="^ZeroDivisionError$"):
        INT_DIV[name](ag.tensor([5, -5, 7]), divisor())


@pytest.mark.parametrize("name", INT_DIV)
def test_integer_division_values_and_float_division_by_zero(name):
    x, y = [7, -7, 7, -7, 0], [2, 2, -2, -2, 3]
    got = INT_DIV[name](ag.tensor(x), ag.tensor(y))
    assert got.dtype == ag.int64
    expected = {"floor_divide": [3, -4, -4, 3, 0], "//": [3, -4, -4, 3, 0], "div_floor": [3, -4, -4, 3, 0],
                "remainder": [1, 1, -1, -1, 0], "%": [1, 1, -1, -1, 0], "div_trunc": [3, -3, -3, 3, 0],
                "fmod": [1, -1, 1, -1, 0]}[name]
    assert got.tolist() == expected
    # floats divide by zero without raising (inf / nan), and without warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = INT_DIV[name](ag.tensor([1.0, -1.0, 0.0]), 0.0).numpy()
    assert np.isnan(out[2]) and (name in ("remainder", "%", "fmod") or np.isinf(out[:2]).all())


def test_integer_division_by_zero_matches_torch():
    torch = pytest.importorskip("torch")
    for name, fn in INT_DIV_M.items():
        with pytest.raises(RuntimeError, match="^ZeroDivisionError$"):
            fn(torch, torch.tensor([5, -5]), torch.tensor([1, 0]))


# 2. signed zeros and 3. sign(nan): CPU against values written out and PyTorch -----------------------
XS = [4.0, -4.0, -0.0, 0.0, 3.0, -3.0, 1e-30, -1e-30, INF, -5.0, 5.0, NAN, 2.5, -2.5, -0.5]
YS = [-2.0, 2.0, 1.0, -1.0, -3.0, 3.0, 2.0, -2.0, 2.0, INF, -INF, 1.0, 0.0, -0.0, 2.0]
BINARY_SIGNED = {"remainder": ag.remainder, "fmod": ag.fmod, "floor_divide": ag.floor_divide,
                 "copysign": ag.copysign, "atan2": ag.atan2, "div": ag.div, "mul": ag.mul}
UNARY_SIGNED = ["abs", "neg", "sign", "frac", "trunc", "floor", "ceil", "round", "sqrt", "sin", "tan", "asin",
                "atan", "sinh", "asinh", "atanh", "erf", "expm1", "log1p", "nan_to_num", "relu", "square"]


def _same_bits(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal values, NaN where NaN, and the same sign on every zero."""
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True, err_msg=what)
    zeros = want == 0
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]), err_msg=f"{what}: signed zeros")


def test_remainder_zero_keeps_the_dividend_sign():
    """PyTorch's remainder is fmod moved into the divisor's sign when nonzero: -4 % 2 is -0.0 (NumPy: +0.0)."""
    got = ag.remainder(ag.tensor([4.0, -4.0, -0.0, 0.0]), ag.tensor([-2.0, 2.0, 1.0, -1.0])).numpy()
    assert np.signbit(got).tolist() == [False, True, True, False]
    assert np.signbit(ag.remainder(ag.tensor(-4.0), 2.0).numpy())     # 0-d takes another branch


def test_abs_and_sign_values():
    x = ag.tensor([-0.0, 0.0, NAN, -INF, -2.0])
    a = ag.abs(x).numpy()
    assert not np.signbit(a[:2]).any() and np.isnan(a[2]) and a[3] == INF
    assert ag.sign(x).numpy().tolist()[2] == 0.0   # sign(nan) = 0, as PyTorch
    assert ag.sign(x).tolist() == [0.0, 0.0, 0.0, -1.0, -1.0]
    assert ag.sign(ag.tensor(NAN)).item() == 0.0


@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
@pytest.mark.parametrize("name", BINARY_SIGNED)
def test_binary_special_values_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    x, y = np.array(XS, dtype.np), np.array(YS, dtype.np)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = BINARY_SIGNED[name](ag.tensor(x), ag.tensor(y)).numpy()
    want = getattr(torch, name)(torch.tensor(x), torch.tensor(y)).numpy()
    _same_bits(got, want, name)


@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
@pytest.mark.parametrize("name", UNARY_SIGNED)
def test_unary_special_values_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    x = np.array(XS + YS, dtype.np)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = getattr(ag, name)(ag.tensor(x)).numpy()
    want = getattr(torch, name)(torch.tensor(x)).numpy()
    _same_bits(got, want, name)


# 4. no NumPy warnings from any elementwise op of the table ---------------------------------------------
def _family_ops(*modules) -> set:
    return {n for m in modules for n, v in vars(m).items()
            if registry.FUNCTIONS.get(n) is v or registry.METHODS.get(n) is v}


MINE = _family_ops(unary, arithmetic, special)
MINE |= {f"{n}_" for n in MINE if f"{n}_" in registry.METHODS}
SPECIAL_VALUES = [NAN, INF, -INF, 0.0, -0.0, -1.0, 1.0, 1e308, -1e308, 0.5, 2.0, 1e-310, -3.0, 40.0]


def _special_sample(sample, dtype):
    """The sample with every float array replaced by the special values (each array shifted, so binary
    ops meet every pair such as inf - inf, 0 * inf, 0 / 0)."""
    k = [0]

    def fill(a):
        if a.dtype.kind != "f":
            return a
        vals = np.roll(np.array(SPECIAL_VALUES, np.float64), 3 * k[0])
        k[0] += 1
        with np.errstate(all="ignore"):
            return np.resize(vals, a.shape).astype(a.dtype)
    return walk(sample, np.ndarray, fill)


@pytest.mark.parametrize("op", [op for op in OP_DB if op.name in MINE], ids=lambda op: op.name)
def test_no_numpy_warnings_on_special_values(op):
    ran = 0
    for dtype in (ag.float32, ag.float64):
        if dtype not in op.dtypes:
            continue
        for sample in samples(op, dtype):
            args, kwargs = to_tensors(op, _special_sample(sample, dtype), grad=op.grad > 0)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                out = invoke(op, op.op, args, kwargs)
                if op.grad and isinstance(out, ag.Tensor) and out.requires_grad:   # and backward
                    out.backward(ag.ones_like(out))
            ran += 1
    assert ran, f"{op.name}: no float sample"


# 6. pow: integer rules -----------------------------------------------------------------------------------
def test_integer_pow_negative_exponent_raises():
    msg = "Integers to negative integer powers are not allowed."
    for call in (lambda: ag.tensor([2, 3]) ** -1, lambda: ag.pow(ag.tensor([2]), ag.tensor([1, -2])),
                 lambda: 2 ** ag.tensor([1, -1]), lambda: ag.tensor([2]) ** ag.tensor(-1)):
        with pytest.raises(RuntimeError, match=f"^{msg}$"):
            call()
    assert (ag.tensor([2, 3]) ** -1.0).tolist() == [0.5, 1 / 3] or \
        np.allclose((ag.tensor([2, 3]) ** -1.0).numpy(), [0.5, 1 / 3])
    assert (ag.tensor([2.0]) ** ag.tensor([-1])).tolist() == [0.5]


def test_integer_pow_wraps_like_torch():
    base = ag.tensor([3, -3, 2, 7], dtype=ag.int64)
    got = (base ** 41).numpy()
    want = np.array([pow(b, 41, 2 ** 64) for b in (3, -3, 2, 7)], dtype=np.uint64).view(np.int64)
    np.testing.assert_array_equal(got, want)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(got, (torch.tensor([3, -3, 2, 7]) ** 41).numpy())
    np.testing.assert_array_equal((ag.tensor([0, 1, -1]) ** 0).numpy(), [1, 1, 1])


# 5. type promotion and errors of the new ops against PyTorch ---------------------------------------------
PROMOTION = [
    ("atan2", lambda m: m.atan2(m.tensor([1, -2]), m.tensor([3, 4]))),
    ("copysign", lambda m: m.copysign(m.tensor([1, 2]), m.tensor([-1, 0]))),
    ("copysign_scalar", lambda m: m.copysign(m.tensor([1, 2]), -1.0)),
    ("fmod_int", lambda m: m.fmod(m.tensor([7, -7]), m.tensor([3, 3]))),
    ("fmod_int_float", lambda m: m.fmod(m.tensor([7, -7]), 2.5)),
    ("exp2_int", lambda m: m.exp2(m.tensor([1, 3]))),
    ("log10_bool", lambda m: m.log10(m.tensor([True, False]))),
    ("erf_int", lambda m: m.erf(m.tensor([0, 1]))),
    ("nan_to_num_int", lambda m: m.nan_to_num(m.tensor([1, 2]))),
    ("nan_to_num_f16", lambda m: m.nan_to_num(m.tensor([INF, -INF, NAN], dtype=m.float16))),
    ("lerp_0d_weight", lambda m: m.lerp(m.zeros(3), m.ones(3), m.tensor(0.25, dtype=m.float64))),
    ("logaddexp_mixed", lambda m: m.logaddexp(m.tensor([1.0, 2.0]), m.tensor([1, 2]))),
]
ERRORS = [
    ("frac_int", lambda m: m.frac(m.tensor([1, 2]))),
    ("fmod_bool", lambda m: m.fmod(m.tensor([True]), m.tensor([True]))),
    ("logaddexp_int", lambda m: m.logaddexp(m.tensor([1]), m.tensor([2]))),
    ("logaddexp_scalar", lambda m: m.logaddexp(m.tensor([1.0]), 2.0)),
    ("atan2_scalar", lambda m: m.atan2(m.tensor([1.0]), 2)),
    ("atan2_inplace_scalar", lambda m: m.tensor([1.0]).atan2_(2.0)),
    ("lerp_int", lambda m: m.lerp(m.tensor([1]), m.tensor([2]), 0.5)),
    ("lerp_int_tensor_weight", lambda m: m.lerp(m.tensor([1]), m.tensor([2]), m.tensor([1]))),
    ("lerp_end_dtype", lambda m: m.lerp(m.zeros(2), m.ones(2, dtype=m.float64), 0.5)),
    ("lerp_weight_dtype", lambda m: m.lerp(m.zeros(2), m.ones(2), m.ones(2, dtype=m.float64))),
    ("asin_inplace_int", lambda m: m.tensor([1]).asin_()),
]


@pytest.mark.parametrize("name,fn", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_promotion_matches_torch(name, fn):
    torch = pytest.importorskip("torch")
    ours, theirs = fn(ag), fn(torch)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    _same_bits(ours.numpy(), theirs.numpy(), name)


@pytest.mark.parametrize("name,fn", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(name, fn):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(type(theirs.value)) as ours:
        fn(ag)
    if not isinstance(theirs.value, TypeError):   # TypeError texts list torch's overloads
        assert str(ours.value) == str(theirs.value)


def test_gradients_at_the_edges_match_torch():
    """copysign at x = 0, nan_to_num at non-finite inputs, fmod's other, lerp's three inputs."""
    torch = pytest.importorskip("torch")

    def grads(m, x, y, w):
        xs = [m.tensor(v, dtype=m.float64, requires_grad=True) for v in (x, y, w)]
        a, b, c = xs
        out = (m.copysign(a, b) * 2 + m.nan_to_num(a / b) + m.fmod(a, b) + m.lerp(a, b, c) +
               m.logaddexp(a, b) + m.atan2(a, b)).sum()
        return [g.numpy() for g in m.autograd.grad(out, xs)]
    x, y, w = [0.0, -1.5, 2.0, 0.0], [2.0, 0.7, -0.5, 0.0], [0.2, 0.9, -0.3, 0.5]
    for ours, theirs in zip(grads(ag, x, y, w), grads(torch, x, y, w)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)


# CUDA against CPU: the kernels of this family on the values above -------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_cuda_special_values_match_cpu(dtype):
    x, y = np.array(XS, dtype.np), np.array(YS, dtype.np)
    for name, fn in BINARY_SIGNED.items():
        cpu = fn(ag.tensor(x), ag.tensor(y)).numpy()
        _same_bits(fn(ag.tensor(x).cuda(), ag.tensor(y).cuda()).cpu().numpy(), cpu, f"cuda {name}")
    for name in UNARY_SIGNED + ["acos", "cosh", "acosh", "erfc", "erfinv", "exp2", "log2", "log10"]:
        cpu = getattr(ag, name)(ag.tensor(x)).numpy()
        _same_bits(getattr(ag, name)(ag.tensor(x).cuda()).cpu().numpy(), cpu, f"cuda {name}")
    for name in ("logaddexp", "logaddexp2"):
        cpu = getattr(ag, name)(ag.tensor(x), ag.tensor(y)).numpy()
        _same_bits(getattr(ag, name)(ag.tensor(x).cuda(), ag.tensor(y).cuda()).cpu().numpy(), cpu, f"cuda {name}")
    w = np.resize(np.array([0.0, 1.0, 0.3, 0.7, -0.5, 1.5, NAN], dtype.np), x.shape)
    cpu = ag.lerp(ag.tensor(x), ag.tensor(y), ag.tensor(w)).numpy()
    _same_bits(ag.lerp(ag.tensor(x).cuda(), ag.tensor(y).cuda(), ag.tensor(w).cuda()).cpu().numpy(), cpu, "lerp")
    cpu = ag.nan_to_num(ag.tensor(x), 1.0, neginf=-2.0).numpy()
    _same_bits(ag.nan_to_num(ag.tensor(x).cuda(), 1.0, neginf=-2.0).cpu().numpy(), cpu, "nan_to_num")


@pytest.mark.cuda
def test_cuda_integer_division_by_zero_gives_zero():
    """Documented difference: CUDA does not raise (PyTorch's CUDA does not either); the kernels give 0."""
    x, y = ag.tensor([5, -5, 7]).cuda(), ag.tensor([0, 2, 0]).cuda()
    assert ag.remainder(x, y).tolist() == [0, 1, 0]
    assert ag.floor_divide(x, y).tolist() == [0, -3, 0]
    assert ag.fmod(x, y).tolist() == [0, -1, 0]
