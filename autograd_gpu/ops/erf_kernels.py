"""NumPy kernels for erf, erfc and erfinv, and Φ (gelu's normal distribution function): NumPy has
none of them, and SciPy is not a dependency (erfinv uses SciPy's when it is installed).

Arrays in, arrays out: no Tensor, no ops. The declarations that register them as kernels are in
``special.py`` (erf, erfc, erfinv) and ``activation.py`` (gelu, which also runs its own kernels
through ``blockwise``). The accuracy tests are ``tests/test_erf_gelu_cpu.py``.
"""
from __future__ import annotations

import math

import numpy as np


# NumPy kernels without a NumPy function --------------------------------------------------
# NumPy has no erf. These are NumPy alone (SciPy is not a dependency; erfinv uses it when installed):
# chains of in-place ufuncs, never a Python call per element, run over blocks of 256 KiB so that
# their scratch arrays are a block long, stay in cache and are reused, instead of full-size
# temporaries on fresh pages (``blockwise``).
#
# float64: W. J. Cody's rational Chebyshev approximations (Math. Comp. 23 (1969) 631-637, the
# coefficients of his CALERF): erf(x) = x N1(x²)/D1(x²) for |x| < 0.46875; erfc(x) = exp(-x²) N2(x)/D2(x)
# for 0.46875 <= x <= 4; erfc(x) = exp(-x²)/x (1/√π - w N3(w)/D3(w)), w = 1/x², for x > 4; exp(-x²)
# as exp(-h²) exp(-(x - h)(x + h)), h = x rounded down to a multiple of 1/16 (h² exact). Each range
# is computed on its own elements (``_pieces64``). erfc keeps its relative precision down to its
# underflow (erfc(27) ~ 5e-319); erf is ±(1 - erfc(|x|)) from 0.46875. Measured against the math
# module on 2.6 million points in [-30, 30]: erf within 5 ulp, erfc within 8 ulp (4.8 eps relative).
# Coefficients are highest degree first; a leading 1.0 is a monic denominator's.
_ERF64_SMALL = 0.46875
_ERF64_MID = 4.0
_ERFC64_ZERO = 28.0   # erfc underflows to 0 before this
_ERF64_N1 = (1.85777706184603153e-1, 3.16112374387056560e0, 1.13864154151050156e2,
             3.77485237685302021e2, 3.20937758913846947e3)
_ERF64_D1 = (1.0, 2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3,
             2.84423683343917062e3)
_ERF64_N2 = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e0,
             6.61191906371416295e1, 2.98635138197400131e2, 8.81952221241769090e2,
             1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3)
_ERF64_D2 = (1.0, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2,
             1.62138957456669019e3, 3.29079923573345963e3, 4.36261909014324716e3,
             3.43936767414372164e3, 1.23033935480374942e3)
_ERF64_N3 = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
             1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4)
_ERF64_D3 = (1.0, 2.56852019228982242e0, 1.87295284992346725e0, 5.27905102951428412e-1,
             6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0
_SQRT1_2 = math.sqrt(0.5)   # correctly rounded (1 / math.sqrt(2) is 1 ulp below), as kernels/*.cu

# float32 (float16 computes in float32): cheaper approximations, evaluated in float32, fitted for
# this module (minimax relative error on a dense grid, by linear programming).
# erf(x) = tanh(x P(x²)), P fitted to atanh(erf(x))/x on [0, 4] (5.6e-8 relative): odd, so
# erf(-0) = -0; x is clipped to ±4, where tanh gives ±1 (float32's erf is ±1 from 3.92). Measured on
# 4.2 million points: within 2.9 ulp, 1.6e-7 absolute.
_ERF32_P64 = (4.7992039488693195e-09, 3.8881293925418667e-08, -4.867368606521066e-06,
              8.481048570728816e-05, -0.0006150874041928997, -0.00019529574540463586,
              0.10277002091811363, 1.1283792302440203)
_ERF32_P = tuple(float(np.float32(c)) for c in _ERF32_P64)
_ERF32_X_MAX = 4.0
# the same for erf(x/√2), gelu's: x P(x²/2)/√2, the 1/√2 folded into the coefficients
_PHI32_P = tuple(float(np.float32(c / (2.0 ** (len(_ERF32_P64) - 1 - k) * math.sqrt(2.0))))
                 for k, c in enumerate(_ERF32_P64))
_PHI32_X_MAX = _ERF32_X_MAX * math.sqrt(2.0)
# erfc(x) = exp(-x²) F(z)/(1 + 2x), z = (x - 2)/(x + 2), x = |x| clipped to 10.1 (float32's erfc is 0
# from 10.06); F fitted to erfcx(x)(1 + 2x) on [0, 10.1] (1.3e-8 relative). z and F in float32,
# exp(-x²) (x² is exact) and the products in float64: NumPy's float32 exp is 2.5 ulp off. Measured:
# within 4.2 ulp (2.6e-7 relative).
_ERFC32_F = tuple(float(np.float32(c)) for c in (
    -0.0004005798996207422, -0.0012299318914619944, 0.0013135239756405597, 0.008631684614118675,
    -0.008059874857105145, -0.0542042992898936, 0.164055346562049, -0.166031425037601,
    -0.09276398083555146, 1.276978393461503))
_ERFC32_X_MAX = 10.1

_BLOCK_BYTES = 1 << 18
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def blockwise(fn, dtype, *arrays, compute=None):
    """A new array of ``dtype`` (the arrays' broadcast shape) filled by ``fn(out, *blocks)``, block by
    block: ``out`` and the blocks are 1-dim, of the compute dtype (``compute``, default ``dtype``;
    float32 for float16), at most 256 KiB. ``fn`` writes its result in ``out`` and may allocate
    block-sized scratch, which the allocator hands back block after block."""
    arrays = [np.asarray(a) for a in arrays]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    dtype = np.dtype(dtype)
    cdt = np.dtype(compute or (np.float32 if dtype == np.float16 else dtype))
    result = np.empty(shape, dtype)
    # 0-dim operands stay 0-dim (broadcast per block, stride 0); others are flattened (copied only
    # when not C-contiguous or broadcast)
    flat = [a if a.ndim == 0 else np.broadcast_to(a, shape).reshape(-1) for a in arrays]
    out = result.reshape(-1)
    step = _BLOCK_BYTES // cdt.itemsize
    for i in range(0, out.size, step):
        o = out[i:i + step]
        blocks = [np.broadcast_to(a, o.shape) if a.ndim == 0 else a[i:i + step] for a in flat]
        blocks = [a if a.dtype == cdt else a.astype(cdt) for a in blocks]
        if o.dtype == cdt:
            fn(o, *blocks)
        else:
            tmp = np.empty(o.size, cdt)
            fn(tmp, *blocks)
            o[...] = tmp
    return result


def _result_dtype(x):
    """erf's dtype for ``x``: float16/32/64 keep theirs, anything else computes in float64."""
    return x.dtype if x.dtype in _FLOATS else np.dtype(np.float64)


def _poly(t, coeffs, out):
    """``out`` = the polynomial (coefficients highest degree first) at ``t``, by Horner's rule in place."""
    if coeffs[0] == 1.0:
        np.add(t, coeffs[1], out=out)
    else:
        np.multiply(t, coeffs[0], out=out)
        np.add(out, coeffs[1], out=out)
    for c in coeffs[2:]:
        np.multiply(out, t, out=out)
        np.add(out, c, out=out)
    return out


def _reflect_erfc(x, e):
    """``e`` (erfc(|x|)) becomes erfc(x) in place: ``2 - e`` where ``x < 0``, as ``c + (1 - c) e`` with
    ``c`` = 0 or 2 (exact where ``c`` = 0, one rounding where 2; no boolean indexing)."""
    s = np.less(x, 0.0, out=np.empty(x.shape, e.dtype), casting="unsafe")   # 1.0 where x < 0
    np.multiply(s, -2.0, out=s)
    np.add(s, 1.0, out=s)                                                # 1 - c: -1 or 1
    np.multiply(e, s, out=e)
    np.subtract(1.0, s, out=s)                                           # c
    np.add(e, s, out=e)


# float32 --------------------------------------------------------------------------------------
def _tanh_erf32(out, x, coeffs, x_max):
    """``out = tanh(c P(c²))``, ``c`` = x clipped to ±x_max: erf(x) (or erf(x/√2) with ``_PHI32_P``).
    tanh is ±1 at the clip already; nan and -0 propagate; nothing overflows."""
    c = np.clip(x, -x_max, x_max, out=np.empty_like(x))   # both bounds: NumPy's fast clip
    s = np.multiply(c, c, out=np.empty_like(x))
    _poly(s, coeffs, out)
    np.multiply(out, c, out=out)
    return np.tanh(out, out=out)


def _erfc32(out, x):
    t = np.abs(x, out=np.empty_like(x))
    np.clip(t, 0.0, _ERFC32_X_MAX, out=t)
    e = t.astype(np.float64)                 # exp(-t²) in float64, where t² is exact
    np.multiply(e, e, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    z = np.subtract(t, 2.0, out=out)
    f = np.add(t, 2.0, out=np.empty_like(t))
    np.divide(z, f, out=z)
    _poly(z, _ERFC32_F, f)
    np.multiply(t, 2.0, out=t)
    np.add(t, 1.0, out=t)
    np.divide(f, t, out=f)                   # erfc(|x|) exp(x²)
    np.multiply(e, f, out=e)                 # erfc(|x|)
    _reflect_erfc(x, e)
    out[...] = e


# float64 --------------------------------------------------------------------------------------
def _erf_small64(x):
    """erf(x) for |x| < 0.46875: x N1(x²)/D1(x²), a new array."""
    s = np.multiply(x, x, out=np.empty_like(x))
    n = _poly(s, _ERF64_N1, np.empty_like(x))
    np.divide(n, _poly(s, _ERF64_D1, np.empty_like(x)), out=n)
    return np.multiply(n, x, out=n)


def _erfc_pos64(t, mid):
    """erfc(t) for t >= 0.46875 (nan propagates), a new array, overwriting ``t``: exp(-t²) times
    N2(t)/D2(t) (``mid``: t <= 4) or (1/√π - w N3(w)/D3(w))/t, w = 1/t² (t > 4, clipped to 28)."""
    n = np.empty_like(t)
    d = np.empty_like(t)
    if mid:
        _poly(t, _ERF64_N2, n)
        np.divide(n, _poly(t, _ERF64_D2, d), out=n)
        r = np.empty_like(t)
    else:
        np.minimum(t, _ERFC64_ZERO, out=t)
        r = np.multiply(t, t, out=np.empty_like(t))
        np.divide(1.0, r, out=r)                     # w
        _poly(r, _ERF64_N3, n)
        np.divide(n, _poly(r, _ERF64_D3, d), out=n)
        np.multiply(n, r, out=n)
        np.subtract(_INV_SQRT_PI, n, out=n)
        np.divide(n, t, out=n)
    h = np.multiply(t, 16.0, out=d)                  # exp(-t²) = exp(-h²) exp(-(t - h)(t + h))
    np.floor(h, out=h)
    np.multiply(h, 0.0625, out=h)
    np.add(t, h, out=r)
    np.subtract(t, h, out=t)                         # exact
    np.multiply(r, t, out=r)
    np.negative(r, out=r)
    np.exp(r, out=r)
    np.multiply(n, r, out=n)
    np.multiply(h, h, out=h)                         # exact
    np.negative(h, out=h)
    np.exp(h, out=h)
    return np.multiply(n, h, out=n)


def _pieces64(x):
    """erf and erfc of a flat float64 array by range of ``|x|``: ``(idx, xp, v, small)`` for each
    non-empty range, ``idx`` its flat indices (None: all of ``x``), ``xp = x[idx]``, ``v`` = erf(xp)
    where ``small`` (|x| < 0.46875), else erfc(|xp|) (0.46875 <= |x| <= 4 and nan; |x| > 4). Gathered by
    index: boolean masks and ``np.where`` run slowly on mixed data."""
    t = np.abs(x)
    small = np.less(t, _ERF64_SMALL)
    big = np.greater(t, _ERF64_MID)
    mid = np.logical_or(small, big)
    np.logical_not(mid, out=mid)
    for mask, kind in ((small, 0), (mid, 1), (big, 2)):
        count = np.count_nonzero(mask)
        if count == 0:
            continue
        if count == x.size:
            idx, xp, tp = None, x, t
        else:
            idx = np.flatnonzero(mask)
            xp = x.take(idx)
            tp = np.abs(xp)
        yield idx, xp, _erf_small64(xp) if kind == 0 else _erfc_pos64(tp, kind == 1), kind == 0


def _put(out, idx, v):
    if idx is None:
        out[...] = v
    else:
        out[idx] = v


def _erf64(out, x):
    for idx, xp, v, small in _pieces64(x):
        if not small:   # ±(1 - erfc(|x|))
            np.subtract(1.0, v, out=v)
            np.copysign(v, xp, out=v)
        _put(out, idx, v)


def _erfc64(out, x):
    for idx, xp, v, small in _pieces64(x):
        if small:
            np.subtract(1.0, v, out=v)
        else:
            _reflect_erfc(xp, v)
        _put(out, idx, v)


# by dtype -------------------------------------------------------------------------------------------
def _erf_block(out, x):
    if x.dtype == np.float32:
        _tanh_erf32(out, x, _ERF32_P, _ERF32_X_MAX)
    else:
        _erf64(out, x)


def _erfc_block(out, x):
    (_erfc32 if x.dtype == np.float32 else _erfc64)(out, x)


def phi_into(out, x):
    """``out`` = Φ(x) = (1 + erf(x/√2))/2, the normal distribution function (gelu's), for flat float32
    or float64 blocks (``blockwise``). float32: 1/2 + tanh(u)/2 with erf's float32 ``u``, the 1/√2
    folded into its coefficients; float64: erf(x/√2) from ``_erf64``."""
    if x.dtype == np.float32:
        _tanh_erf32(out, x, _PHI32_P, _PHI32_X_MAX)
    else:
        _erf64(out, np.multiply(x, _SQRT1_2, out=np.empty_like(x)))
    np.multiply(out, 0.5, out=out)
    return np.add(out, 0.5, out=out)


def np_erf(x):
    """erf of an array, in its float dtype (float16 computes in float32, integers in float64)."""
    x = np.asarray(x)
    return blockwise(_erf_block, _result_dtype(x), x)


def _np_erfc(x):
    x = np.asarray(x)
    return blockwise(_erfc_block, _result_dtype(x), x)


# erfinv -----------------------------------------------------------------------------------------
_sp_erfinv = None


def _np_erfinv(x):
    """erfinv: SciPy's when installed (optional; about twice as fast), else ``_erfinv_np``."""
    global _sp_erfinv
    if _sp_erfinv is None:
        try:
            from scipy.special import erfinv as _sp_erfinv
        except ImportError:   # pragma: no cover - depends on the environment
            _sp_erfinv = False
    if _sp_erfinv is False:
        return _erfinv_np(x)
    return _sp_erfinv(x).astype(x.dtype, copy=False)


def _erfinv_np(x):
    """erfinv in float64 (float32 and float16 round its result), within 5 ulp of SciPy's."""
    x = np.asarray(x)
    steps = 2 if x.dtype == np.float64 or x.dtype not in _FLOATS else 1
    return blockwise(lambda out, b: _erfinv64(out, b, steps), _result_dtype(x), x, compute=np.float64)


def _erfinv64(out, x, steps):
    """erfinv of flat float64 ``x`` into ``out``. Start: Giles' single-precision approximation
    ("Approximating the erfinv function", GPU Computing Gems, 2011) up to w = -log(1 - x²) = 16
    (float32's range); beyond, erfc(y) ~ exp(-y²)/(y√π) (1 - 1/(2y²) + 3/(4y⁴)) solved for y by
    fixed-point steps. Then ``steps`` Newton steps: on erf(y) = |x| where |y| < 0.46875, on
    log erfc(y) = log(1 - |x|) beyond (1 - |x| is exact near 1; the step stays tame in the tail)."""
    a = np.abs(x)
    b = np.subtract(1.0, a)
    w = np.add(a, 1.0)
    np.multiply(w, b, out=w)
    np.log(w, out=w)
    np.negative(w, out=w)
    ws = np.subtract(w, 2.5)
    y = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                    -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], ws)
    np.sqrt(w, out=ws)
    np.subtract(ws, 3.0, out=ws)
    yl = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                     -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], ws)
    np.copyto(y, yl, where=w >= 5.0)
    np.multiply(y, a, out=y)                              # erfinv(|x|), to float32's precision
    tail = np.flatnonzero(w > 16.0)
    if tail.size:
        lb = np.log(b.take(tail) * math.sqrt(math.pi))
        np.negative(lb, out=lb)                           # y² = lb - log y + log(1 - 1/(2y²) + ...)
        yt = np.sqrt(lb)
        for _ in range(4):
            r = np.reciprocal(yt * yt)
            yt = np.sqrt(lb - np.log(yt) + np.log1p(r * (0.75 * r - 0.5)))
        y[tail] = yt
    edge = np.greater_equal(a, 1.0)                       # ±1 -> ±inf, beyond -> nan; nan stays
    has_edge = edge.any()
    if has_edge:
        np.copyto(y, 0.0, where=edge)
    step = np.empty_like(y)
    for _ in range(steps):
        for idx, _, v, small in _pieces64(y):
            if small:                                     # (erf(y) - |x|) / erf'(y), erf' = exp(-y²) 2/√π
                np.subtract(v, a if idx is None else a.take(idx), out=v)
                np.multiply(v, _SQRT_PI_OVER_2, out=v)
            else:                                         # log(erfc(y)/(1 - |x|)) / (log erfc)'(y)
                q = np.divide(v, b if idx is None else b.take(idx))
                np.log(q, out=q)
                np.multiply(v, q, out=v)
                np.multiply(v, -_SQRT_PI_OVER_2, out=v)
            _put(step, idx, v)
        np.multiply(y, y, out=w)
        np.exp(w, out=w)
        np.multiply(step, w, out=step)
        np.subtract(y, step, out=y)
    if has_edge:
        np.copyto(y, np.where(a == 1.0, np.inf, np.nan), where=edge)
    np.copysign(y, x, out=out)                            # erfinv(-0) = -0
