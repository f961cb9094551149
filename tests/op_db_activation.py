"""Op table rows: the nn.functional activations of tier 1b (hardtanh, relu6, hardsigmoid, hardswish,
celu, selu, mish, logsigmoid, softsign), softmin and normalize.

References are the textbook formulas in float64 NumPy, cast back to the input's float dtype. Domains
keep samples away from each op's kinks (gradcheck); the kinks themselves are checked against
PyTorch in tests/test_nn_modules.py. ``inplace=True`` is tested there too (the table's inputs must
stay unchanged).
"""
from __future__ import annotations

import math

import numpy as np

from op_db import F64, FLOAT, INF, NUM, Arr, Domain, OpInfo, S, _max_or_0, _on_0d, cases, reduction, unary

SELU_SCALE, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


def _f64(fn):
    """``fn`` computed in float64, the result in the input's float dtype."""
    def ref(a, *args, **kwargs):
        return np.asarray(fn(a.astype(np.float64), *args, **kwargs)).astype(a.dtype)
    return ref


def _np_hardtanh(a, min_val=-1.0, max_val=1.0):
    if a.dtype.kind in "iu":   # PyTorch casts the bounds to the integer dtype (truncating)
        min_val, max_val = math.trunc(min_val), math.trunc(max_val)
    return np.clip(a, min_val, max_val).astype(a.dtype)


def _np_softmin(a, dim, dtype=None):
    z = -(a if dtype is None else a.astype(dtype.np))
    e = np.exp(z - _max_or_0(z, dim))
    return e / np.sum(e, axis=dim, keepdims=True)


def _np_normalize(a, p=2.0, dim=1, eps=1e-12):
    x = np.abs(a.astype(np.float64))
    n = np.max(x, axis=dim, keepdims=True) if p == INF else np.sum(x ** p, axis=dim, keepdims=True) ** (1 / p)
    return (a / np.maximum(n, eps)).astype(a.dtype)


HARD = Domain(-4.0, 4.0, avoid=(-3.0, 3.0))          # hardsigmoid/hardswish kinks at ±3
KINK0 = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.1)

ROWS = [
    unary("hardtanh", _np_hardtanh, Domain(-2.0, 2.0, avoid=(-1.0, 1.0, -0.5, 0.5)), dtypes=NUM,
          variants=(S(), S(-0.5, 0.5), S(min_val=-0.5), S(max_val=0.5))),
    unary("relu6", lambda a: _np_hardtanh(a, 0.0, 6.0), Domain(-2.0, 8.0, avoid=(0.0, 6.0)),
          dtypes=NUM),
    unary("hardsigmoid", _f64(lambda a: np.clip(a + 3, 0, 6) / 6), HARD, dtypes=FLOAT,
          # PyTorch's backward multiplies by float(1/6) even in float64 (one_sixth(1.0f / 6.0f)); ours by 1/6
          tol={"float64": (1e-7, 1e-12)}),
    unary("hardswish", _f64(lambda a: a * np.clip(a + 3, 0, 6) / 6), HARD, dtypes=FLOAT),
    unary("celu", _f64(lambda a, alpha=1.0: np.where(a > 0, a, alpha * np.expm1(a / alpha))), KINK0,
          variants=(S(), S(alpha=0.5), S(2.0)), dtypes=FLOAT),
    unary("selu", _f64(lambda a: SELU_SCALE * np.where(a > 0, a, SELU_ALPHA * np.expm1(a))), KINK0, dtypes=FLOAT),
    unary("mish", _f64(lambda a: a * np.tanh(np.log1p(np.exp(a)))), Domain(-3.0, 3.0), dtypes=FLOAT),
    unary("logsigmoid", _f64(lambda a: -np.logaddexp(0, -a)), Domain(-5.0, 5.0), dtypes=FLOAT),
    unary("softsign", lambda a: a / (1 + np.abs(a)), KINK0, float_result=True, dtypes=NUM),
    reduction("softmin", _on_0d(_np_softmin), [S(1), S(0), S(-1), S(1, dtype=F64)], [S(0)], [S(1), S(0)],
              dtypes=FLOAT),
    OpInfo("normalize", _on_0d(_np_normalize), cases(
        [S(Arr((2, 3))), S(Arr((2, 3)), 1.0, 0), S(Arr((3, 4)), 3, -1), S(Arr((2, 3, 2)), 2, 1, 0.5),
         S(Arr((2, 3)), INF, 1), S(Arr((2, 3)), dim=0, eps=1e-3)],
        [S(Arr(()), 2, 0)], [S(Arr((0, 3))), S(Arr((0, 3)), 2, 0)],
        special=[S(Arr((2, 3), Domain(specials=True)))]), tol={"float64": (1e-10, 1e-12)}),
]
