"""erf, erfc, erfinv and gelu on CPU: NumPy alone, no SciPy (``ops/erf_kernels.py``, ``ops/gelu.py``).

Against the math module per element on dense grids and at the special values. The bounds are the
maxima measured on 2.6 million float64 and 4.2 million float32 points (float64 erf 5 ulp, erfc 8 ulp
or 4.8 eps relative; float32 erf 2.9 ulp and 1.6e-7 absolute, erfc 4.2 ulp), plus a little room for
another CPU's exp and tanh. Then PyTorch (values and gradients), gradcheck, inputs left untouched,
and a run with SciPy hidden.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autograd_gpu as ag
import autograd_gpu.nn.functional as F
from autograd_gpu.dispatch import lookup
from autograd_gpu.ops import erf_kernels

from helpers import check_grad, make

_vec = np.vectorize
_ERF = _vec(math.erf, otypes=[np.float64])
_ERFC = _vec(math.erfc, otypes=[np.float64])
_TINY64 = 2.0 ** -1074
_TINY32 = 2.0 ** -149


def _near(points, n=40):
    """Each point, its ``n`` neighbours on either side (float64 steps) and their negatives."""
    out = []
    for p in points:
        lo = hi = p
        out.append(p)
        for _ in range(n):
            lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
            out += [lo, hi]
    out = np.array(out)
    return np.concatenate([out, -out])


def _grid64():
    rng = np.random.default_rng(7)
    return np.concatenate([
        np.linspace(-30.0, 30.0, 200_001),
        rng.uniform(-6.0, 6.0, 50_000),
        rng.uniform(-0.5, 0.5, 20_000),
        10.0 ** rng.uniform(-323.0, 0.0, 5_000) * rng.choice([-1.0, 1.0], 5_000),   # down to subnormals
        _near([erf_kernels._ERF64_SMALL, erf_kernels._ERF64_MID, 5.92, 26.5, 27.0, 27.3, erf_kernels._ERFC64_ZERO]),
        [0.0, -0.0, _TINY64, -_TINY64, 1e-310, 2.2250738585072014e-308, 1e-300],
    ])


def _grid32():
    rng = np.random.default_rng(8)
    x = np.concatenate([
        np.linspace(-12.0, 12.0, 200_001),
        rng.uniform(-4.5, 4.5, 200_000),
        10.0 ** rng.uniform(-45.0, 0.0, 20_000) * rng.choice([-1.0, 1.0], 20_000),
        [3.9, 3.92, 4.0, 4.0001, 5.0, 9.0, 9.5, 10.0, 10.05, 10.06, 10.1, 10.2, 1e-45, -1e-45, 1e-40],
    ]).astype(np.float32)
    return np.concatenate([x, _near([0.5, 3.92, 4.0, 10.05], 20).astype(np.float32)])


def _ulps(actual, expected, dtype):
    """|actual - expected| in units of the spacing of ``dtype`` at ``expected`` (the smallest subnormal
    where ``expected`` rounds to 0 there); 0 where both are the same infinity, inf where one is nan."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    r = np.abs(e).astype(dtype)
    spacing = np.where(r == 0, np.finfo(dtype).smallest_subnormal, np.spacing(r)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        u = np.abs(a - e) / spacing
    u[a == e] = 0.0
    u[np.isnan(u)] = np.inf
    return u


# float64 against the math module -----------------------------------------------------------
def test_erf_float64_within_6_ulp():
    x = _grid64()
    y = erf_kernels.np_erf(x)
    assert y.dtype == np.float64 and y.shape == x.shape
    u = _ulps(y, _ERF(x), np.float64)
    assert u.max() <= 6.0, f"{u.max()} ulp at x = {x[np.argmax(u)]!r}"
    assert np.median(u) <= 0.5


def test_erfc_float64_within_10_ulp_and_relative_down_to_its_underflow():
    x = _grid64()
    expected = _ERFC(x)
    y = erf_kernels._np_erfc(x)
    u = _ulps(y, expected, np.float64)
    assert u.max() <= 10.0, f"{u.max()} ulp at x = {x[np.argmax(u)]!r}"
    normal = expected >= np.finfo(np.float64).tiny
    rel = np.abs(y[normal] - expected[normal]) / expected[normal]
    assert rel.max() <= 6 * np.finfo(np.float64).eps


@pytest.mark.parametrize("x, expected", [(10.0, 2.088487583762544757e-45), (20.0, 5.395865611607900928e-176),
                                         (26.0, 5.663192408856142846e-296), (5.0, 1.537459794428034850e-12)])
def test_erfc_float64_large_x_keeps_relative_precision(x, expected):
    y = erf_kernels._np_erfc(np.array([x, -x]))
    assert abs(y[0] - expected) <= 4 * np.finfo(np.float64).eps * expected
    assert abs(y[1] - (2.0 - expected)) <= 2 * np.finfo(np.float64).eps


def test_erfc_float64_underflows_like_the_math_module():
    x = np.array([27.0, 27.2, 27.3, 28.0, 40.0, 1e300])
    np.testing.assert_array_equal(erf_kernels._np_erfc(x) == 0, _ERFC(x) == 0)
    assert erf_kernels._np_erfc(np.array([27.0]))[0] > 0   # subnormal, not flushed


# float32 / float16 against the math module ---------------------------------------------------
def test_erf_float32_within_3_5_ulp_and_2e_7_absolute():
    x = _grid32()
    y = erf_kernels.np_erf(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    expected = _ERF(x.astype(np.float64))
    assert np.abs(y - expected).max() <= 2e-7
    u = _ulps(y, expected, np.float32)
    assert u.max() <= 3.5, f"{u.max()} ulp at x = {x[np.argmax(u)]!r}"


def test_erf_float32_is_exactly_one_where_float32_rounds_to_one():
    x = np.array([4.0, 4.5, 10.0, 1e30, 3.4e38, np.inf], np.float32)   # and from 3.92 within an ulp
    np.testing.assert_array_equal(erf_kernels.np_erf(x), np.ones_like(x))
    np.testing.assert_array_equal(erf_kernels.np_erf(-x), -np.ones_like(x))


def test_erfc_float32_within_5_ulp_relative_and_underflows():
    x = _grid32()
    y = erf_kernels._np_erfc(x)
    assert y.dtype == np.float32
    expected = _ERFC(x.astype(np.float64))
    u = _ulps(y, expected, np.float32)
    assert u.max() <= 5.0, f"{u.max()} ulp at x = {x[np.argmax(u)]!r}"
    normal = expected >= np.finfo(np.float32).tiny
    assert (np.abs(y[normal] - expected[normal]) / expected[normal]).max() <= 3.5e-7
    big = np.array([9.0, 10.0], np.float32)
    np.testing.assert_allclose(erf_kernels._np_erfc(big), [4.137031746513810238e-37, 2.088487583762544757e-45],
                               rtol=4e-7, atol=_TINY32)
    np.testing.assert_array_equal(erf_kernels._np_erfc(np.array([10.1, 11.0, 1e30, np.inf], np.float32)), 0.0)


def test_float16_computes_in_float32_and_rounds_once():
    x = np.unique(np.linspace(-5.0, 5.0, 20_001).astype(np.float16))
    for fn, ref in ((erf_kernels.np_erf, _ERF), (erf_kernels._np_erfc, _ERFC)):
        y = fn(x)
        assert y.dtype == np.float16
        assert _ulps(y, ref(x.astype(np.float64)), np.float16).max() <= 0.5 + 1e-3


# special values, dtypes, shapes -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_special_values(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype)
    erf, erfc = erf_kernels.np_erf(x), erf_kernels._np_erfc(x)
    np.testing.assert_array_equal(erf, np.array([1.0, -1.0, np.nan, 0.0, -0.0], dtype))
    np.testing.assert_array_equal(np.signbit(erf[3:]), [False, True])
    np.testing.assert_array_equal(erfc, np.array([0.0, 2.0, np.nan, 1.0, 1.0], dtype))
    tiny = np.finfo(dtype).smallest_subnormal
    t = np.array([tiny, -tiny, np.finfo(dtype).tiny], dtype)
    assert erf_kernels.np_erf(t)[0] > 0 and erf_kernels.np_erf(t)[1] < 0
    np.testing.assert_allclose(erf_kernels.np_erf(t[2:]).astype(np.float64), 2 / math.sqrt(math.pi) * float(t[2]),
                               rtol=2 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(erf_kernels._np_erfc(t), np.ones(3, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_layouts_and_block_edges(dtype):
    rng = np.random.default_rng(3)
    n = erf_kernels._BLOCK_BYTES // np.dtype(dtype).itemsize
    for shape in [(), (0,), (3, 0), (1,), (n,), (n + 1,), (2 * n + 3,), (7, 5, 3)]:
        x = rng.uniform(-5, 5, shape).astype(dtype)
        for fn, ref in ((erf_kernels.np_erf, _ERF), (erf_kernels._np_erfc, _ERFC)):
            y = fn(x)
            assert y.shape == x.shape and y.dtype == dtype
            np.testing.assert_allclose(y, ref(x.astype(np.float64)), rtol=4e-7 if dtype == np.float32 else 4e-15,
                                       atol=2e-7 if dtype == np.float32 else 0)
    x = rng.uniform(-3, 3, (40, 30)).astype(dtype)
    for view in (x.T, x[::2, ::3], np.asfortranarray(x)):
        np.testing.assert_array_equal(erf_kernels.np_erf(view), erf_kernels.np_erf(np.ascontiguousarray(view)))
        np.testing.assert_array_equal(erf_kernels._np_erfc(view), erf_kernels._np_erfc(np.ascontiguousarray(view)))


def test_integer_input_computes_in_float64():
    y = erf_kernels.np_erf(np.array([0, 1, -2]))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, [0.0, math.erf(1), math.erf(-2)], rtol=1e-15)


# erfinv ------------------------------------------------------------------------------------------
def _erfinv_ref(p: float) -> float:
    """erfinv by bisection on math.erf / math.erfc (the latter near ±1, where 1 - |p| is exact)."""
    a = abs(p)
    if a == 1.0:
        return math.copysign(math.inf, p)
    if a > 1.0 or math.isnan(p):
        return math.nan
    lo, hi = (0.88 * a, 0.96 * a) if a < 0.5 else (0.4, 6.0)   # erfinv(a)/a rises from √π/2
    f = (lambda y: math.erf(y) - a) if a < 0.5 else (lambda y: (1.0 - a) - math.erfc(y))
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return math.copysign(lo if abs(f(lo)) <= abs(f(hi)) else hi, p)


def _erfinv_grid():
    rng = np.random.default_rng(9)
    return np.concatenate([np.linspace(-1, 1, 4001), rng.uniform(-1, 1, 4000), 1 - 10.0 ** rng.uniform(-16, -1, 1000),
                           -(1 - 10.0 ** rng.uniform(-16, -1, 1000)), 10.0 ** rng.uniform(-300, -1, 500),
                           [np.nextafter(1.0, 0.0), np.nextafter(-1.0, 0.0), 0.5, 0.4927, 0.9999999]])


def test_erfinv_numpy_float64_against_bisection():
    p = _erfinv_grid()
    with np.errstate(all="ignore"):   # log(0) at ±1 (the registered kernel runs quiet)
        y = erf_kernels._erfinv_np(p)
    expected = _vec(_erfinv_ref, otypes=[np.float64])(p)
    u = _ulps(y, expected, np.float64)
    assert u.max() <= 6.0, f"{u.max()} ulp at p = {p[np.argmax(u)]!r}"


def test_erfinv_numpy_float32_and_special_values():
    p = _erfinv_grid().astype(np.float32)
    with np.errstate(all="ignore"):
        y = erf_kernels._erfinv_np(p)
    assert y.dtype == np.float32
    expected = _vec(_erfinv_ref, otypes=[np.float64])(p.astype(np.float64))
    assert _ulps(y, expected, np.float32).max() <= 1.0
    for dtype in (np.float16, np.float32, np.float64):
        with np.errstate(all="ignore"):
            s = erf_kernels._erfinv_np(np.array([1.0, -1.0, 1.5, -2.0, np.nan, np.inf, 0.0, -0.0], dtype))
        assert s.dtype == dtype
        np.testing.assert_array_equal(s, np.array([np.inf, -np.inf, np.nan, np.nan, np.nan, np.nan, 0.0, -0.0], dtype))
        assert np.signbit(s[-1]) and not np.signbit(s[-2])
    assert erf_kernels._erfinv_np(np.asarray(0.5)).shape == ()


def test_erfinv_kernel_matches_the_numpy_fallback():
    p = np.linspace(-0.999, 0.999, 1001)
    np.testing.assert_allclose(erf_kernels._np_erfinv(p), erf_kernels._erfinv_np(p), rtol=2e-15, atol=0)


# gelu kernels -----------------------------------------------------------------------------------
def _gelu_ref(x):
    return 0.5 * x * (1 + _ERF(x / math.sqrt(2)))


def _gelu_grad_ref(x):
    return 0.5 * (1 + _ERF(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


_K, _C = math.sqrt(2 / math.pi), 0.044715


def _gelu_tanh_ref(x):
    return 0.5 * x * (1 + np.tanh(_K * (x + _C * x ** 3)))


def _gelu_tanh_grad_ref(x):
    t = np.tanh(_K * (x + _C * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _K * (1 + 3 * _C * x * x)


@pytest.mark.parametrize("variant", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_kernels_against_float64_formulas(variant, dtype):
    """Forward and fused backward within rounding of the textbook formulas in float64."""
    sfx = "" if variant == "none" else "_tanh"
    fwd, bwd = lookup(f"gelu{sfx}_fwd", "numpy"), lookup(f"gelu{sfx}_bwd", "numpy")
    ref, dref = (_gelu_ref, _gelu_grad_ref) if variant == "none" else (_gelu_tanh_ref, _gelu_tanh_grad_ref)
    x = np.concatenate([np.linspace(-12, 12, 100_001), np.random.default_rng(1).standard_normal(100_000) * 3])
    x = x.astype(dtype)
    g = np.random.default_rng(2).uniform(-2, 2, x.shape).astype(dtype)
    xd, gd = x.astype(np.float64), g.astype(np.float64)
    y, dx = fwd(x), bwd(g, x)
    assert y.dtype == dx.dtype == dtype
    # errors in units of eps times the size of the terms: x Φ(x) carries Φ's absolute error times |x|
    # (old and new: at most 1.4 for the forward, 3.1 for the tanh form's backward)
    eps = np.finfo(dtype).eps
    fwd_err = np.abs(y - ref(xd)) / (eps * (np.abs(ref(xd)) + 0.5 * np.abs(xd)) + 1e-300)
    bwd_err = np.abs(dx - gd * dref(xd)) / (eps * np.abs(gd) * (np.abs(dref(xd)) + 0.5 + 0.5 * np.abs(xd)) + 1e-300)
    assert np.nanmax(fwd_err) <= 2.0
    assert np.nanmax(bwd_err) <= 4.0


@pytest.mark.parametrize("variant", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gelu_kernels_special_values_and_inputs_untouched(variant, dtype):
    sfx = "" if variant == "none" else "_tanh"
    fwd, bwd = lookup(f"gelu{sfx}_fwd", "numpy"), lookup(f"gelu{sfx}_bwd", "numpy")
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, -100.0, 100.0, 1.0, -1.0], dtype)
    g = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0, -1.0, 3.0], dtype)
    xc, gc = x.copy(), g.copy()
    y, dx = fwd(x), bwd(g, x)
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(g, gc)
    assert y.dtype == dx.dtype == dtype
    # as 0.5 x (1 + erf(x/√2)) evaluates: gelu(-inf) = -inf * 0 = nan, as before
    np.testing.assert_array_equal(y[:7], np.array([np.inf, np.nan, np.nan, 0.0, -0.0, -0.0, 100.0], dtype))
    np.testing.assert_array_equal(np.signbit(y[3:6]), [False, True, True])
    np.testing.assert_array_equal(dx[2:7], np.array([np.nan, 1.0, 1.0, 0.0, 1.0], dtype))
    ref = _gelu_ref if variant == "none" else _gelu_tanh_ref
    np.testing.assert_allclose(y[7:].astype(np.float64), ref(x[7:].astype(np.float64)), rtol=np.finfo(dtype).eps * 4)


def test_gelu_bwd_kernel_broadcasts_and_takes_0dim():
    bwd = lookup("gelu_bwd", "numpy")
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    g_row = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(bwd(g_row, x), g_row * _gelu_grad_ref(x), rtol=1e-14)
    np.testing.assert_allclose(bwd(np.float64(2.0), x), 2.0 * _gelu_grad_ref(x), rtol=1e-14)
    np.testing.assert_allclose(bwd(np.ones((2, 3, 4)), x), np.broadcast_to(_gelu_grad_ref(x), (2, 3, 4)), rtol=1e-14)
    np.testing.assert_allclose(bwd(x, np.asarray(0.7)), x * _gelu_grad_ref(np.float64(0.7)), rtol=1e-14)
    assert lookup("gelu_fwd", "numpy")(np.asarray(np.float32(1.5))).shape == ()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck_and_gradgradcheck(approximate):
    x = make((4, 5), low=-4.0, high=4.0)
    check_grad(lambda t: F.gelu(t, approximate=approximate), x)


def test_erf_erfc_gradcheck():
    x = make((3, 4), low=-2.5, high=2.5)
    check_grad(ag.erf, x)
    check_grad(ag.erfc, x)


# against PyTorch ----------------------------------------------------------------------------------
def _torch_pair(dtype_name, values):
    torch = pytest.importorskip("torch")
    t = torch.tensor(values, dtype=getattr(torch, dtype_name), requires_grad=True)
    a = ag.tensor(values.astype(dtype_name), requires_grad=True)
    return torch, t, a


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("op", ["erf", "erfc", "gelu", "gelu_tanh"])
def test_values_and_gradients_against_torch(op, dtype_name):
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.standard_normal(20_000) * 2, np.linspace(-9, 9, 2001), [0.0, -0.0, 30.0, -30.0]])
    torch, t, a = _torch_pair(dtype_name, values)
    tf, af = {
        "erf": (torch.erf, ag.erf), "erfc": (torch.erfc, ag.erfc),
        "gelu": (torch.nn.functional.gelu, F.gelu),
        "gelu_tanh": (lambda v: torch.nn.functional.gelu(v, approximate="tanh"),
                      lambda v: F.gelu(v, approximate="tanh")),
    }[op]
    g = rng.uniform(-1, 1, values.shape)
    ty, ay = tf(t), af(a)
    ty.backward(torch.tensor(g, dtype=t.dtype))
    ay.backward(ag.tensor(g.astype(dtype_name)))
    x = values.astype(dtype_name).astype(np.float64)
    gd = g.astype(dtype_name).astype(np.float64)
    tv, av = ty.detach().numpy().astype(np.float64), ay.detach().numpy().astype(np.float64)
    tg, agr = t.grad.numpy().astype(np.float64), a.grad.numpy().astype(np.float64)
    eps = np.finfo(dtype_name).eps
    if op.startswith("erf"):   # relative all the way (erfc(9) ~ 4e-37); float32 erf: 2e-7 absolute
        np.testing.assert_allclose(av, tv, rtol=(4e-7 if dtype_name == "float32" else 8 * eps),
                                   atol=(2e-7 if op == "erf" and dtype_name == "float32" else 0))
        np.testing.assert_allclose(agr, tg, rtol=8 * eps, atol=0)
    else:   # in eps times the size of the terms, as in test_gelu_kernels_against_float64_formulas;
        # measured at most 5 (torch's float32 erf, its float64 tanh-form backward)
        d = np.abs(tg / np.where(gd == 0, 1, gd))
        assert (np.abs(av - tv) / (eps * (np.abs(tv) + 0.5 * np.abs(x)) + 1e-300)).max() <= 8
        assert (np.abs(agr - tg) / (eps * np.abs(gd) * (d + 0.5 + 0.5 * np.abs(x)) + 1e-300)).max() <= 8


def test_training_sized_gelu_matches_torch_float32():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((16, 64, 64)).astype(np.float32)
    t = torch.tensor(x, requires_grad=True)
    a = ag.tensor(x, requires_grad=True)
    torch.nn.functional.gelu(t).square().sum().backward()
    F.gelu(a).square().sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=2e-6, atol=4e-7)


# no SciPy -------------------------------------------------------------------------------------------
def test_runs_without_scipy():
    """A fresh interpreter where ``import scipy`` fails: erf, erfc, erfinv and gelu work and never
    import it, and agree with the math module."""
    code = textwrap.dedent("""
        import math, sys
        sys.modules["scipy"] = None          # import scipy -> ImportError
        import numpy as np
        import autograd_gpu as ag
        import autograd_gpu.nn.functional as F
        x = np.linspace(-6, 6, 4001)
        t = ag.tensor(x, requires_grad=True)
        F.gelu(t).sum().backward()
        erf, erfc = ag.erf(ag.tensor(x)).numpy(), ag.erfc(ag.tensor(x)).numpy()
        p = np.linspace(-0.999, 0.999, 999)
        inv = ag.erfinv(ag.tensor(p)).numpy()
        ref = np.array([math.erf(v) for v in x])
        assert np.abs(erf - ref).max() <= 4e-16, np.abs(erf - ref).max()
        assert np.allclose(erfc, [math.erfc(v) for v in x], rtol=1e-15, atol=0)
        assert np.allclose([math.erf(v) for v in inv], p, rtol=1e-15, atol=1e-16)
        phi = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
        g = phi + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        assert np.allclose(t.grad.numpy(), g, rtol=1e-14, atol=1e-15)
        assert sys.modules["scipy"] is None and not any(k.startswith("scipy.") for k in sys.modules)
        print("ok")
    """)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=root)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]
