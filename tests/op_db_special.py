"""Op table rows: the elementwise math of ``ops/special.py`` (inverse trigonometric and hyperbolic
functions, erf family, exp2/log2/log10, frac, atan2, fmod, copysign, lerp, logaddexp(2), nan_to_num),
their in-place forms and aliases, and the in-place alias ``negative_``.

References are NumPy's functions; ops PyTorch computes in float take integer/bool inputs as float32
(its default dtype), as ``op_db._float_in`` does for one input.
"""
from __future__ import annotations

import math

import numpy as np

from op_db import (FLOAT, KINK0, NONZERO, NUM, POS, WIDE, X, X0, XE, Arr, Domain, OpInfo, S, Scalar, binary,
                   cases, elementwise, inplace, inplace_binary, unary)

try:
    from scipy.special import erf as _erf, erfc as _erfc, erfinv as _erfinv
except ImportError:   # pragma: no cover
    _erf = np.vectorize(math.erf, otypes=[np.float64])
    _erfc = np.vectorize(math.erfc, otypes=[np.float64])

    def _erfinv_one(y: float) -> float:
        """Newton's method on math.erf, in float64 (the reference when SciPy is missing)."""
        if not abs(y) <= 1:
            return math.nan
        if abs(y) == 1:
            return math.copysign(math.inf, y)
        x = 0.0
        for _ in range(100):
            step = (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
            x -= step
            if abs(step) < 1e-17:
                break
        return x
    _erfinv = np.vectorize(_erfinv_one, otypes=[np.float64])

UNIT = Domain(-0.8, 0.8)          # asin, acos, atanh, erfinv: away from the poles at +-1
ABOVE1 = Domain(1.2, 3.0)         # acosh
HYP = Domain(-2.0, 2.0)


def _f32(ref):
    """Reference of an op that computes in float: integer/bool arrays go in as float32."""
    def wrapped(*args, **kwargs):
        args = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind in "biu" else a for a in args]
        return ref(*args, **kwargs)
    return wrapped


def _same(fn):
    """Results in the input's float dtype (SciPy's functions may compute in float64)."""
    return lambda a: np.asarray(fn(a)).astype(a.dtype)


def _np_lerp(a, b, w):
    w = np.asarray(w, a.dtype) if not isinstance(w, np.ndarray) else w
    d = b - a
    return np.where(np.abs(w) < 0.5, a + w * d, b - d * (1 - w)).astype(np.result_type(a, b))


def _np_copysign(a, b):
    return np.copysign(a, b)


def _np_nan_to_num(a, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)


LERP = cases([S(X, X, X), S(X, X, Scalar()), S(X, X, 0.7), S(X, X, Arr(())), S(X, Arr((3,)), Arr((2, 1)))],
             [S(X0, X0, X0), S(X0, X0, 0.25)], [S(XE, XE, XE), S(XE, Arr((3,)), 0.5)],
             [S(Arr((3, 1)), Arr((4,)), Arr((2, 1, 1)))],
             [S(Arr((2, 3), Domain(specials=True)), X, X), S(X, X, Arr((2, 3), Domain(specials=True)))])
# torch: "the derivative for 'inplace version of asinh' is not implemented" (ours: gradcheck covers them)
NO_TORCH_INPLACE_GRAD = ("asinh", "acosh", "atanh")
NAN_TO_NUM = (S(), S(1.0, 2.0, -3.0), S(nan=0.5, posinf=10.0))

_UNARY = [   # name, aliases, reference, domain
    ("asin", ("arcsin",), np.arcsin, UNIT),
    ("acos", ("arccos",), np.arccos, UNIT),
    ("atan", ("arctan",), np.arctan, Domain(-3.0, 3.0)),
    ("sinh", (), np.sinh, HYP),
    ("cosh", (), np.cosh, HYP),
    ("asinh", ("arcsinh",), np.arcsinh, Domain(-3.0, 3.0)),
    ("acosh", ("arccosh",), np.arccosh, ABOVE1),
    ("atanh", ("arctanh",), np.arctanh, UNIT),
    ("erf", (), _same(_erf), HYP),
    ("erfc", (), _same(_erfc), HYP),
    ("exp2", (), np.exp2, HYP),
    ("log2", (), np.log2, POS),
    ("log10", (), np.log10, POS),
    ("erfinv", (), _same(_erfinv), UNIT),
]

ROWS: list = [
    *(unary(n, ref, dom, float_result=True) for name, aliases, ref, dom in _UNARY for n in (name,) + aliases),
    *(inplace(f"{n}_", ref, elementwise(1, (dom,)), torch_grad=name not in NO_TORCH_INPLACE_GRAD)
      for name, aliases, ref, dom in _UNARY for n in (name,) + aliases),
    unary("frac", lambda a: a - np.trunc(a), Domain(-3.0, 3.0, avoid=(-2.0, -1.0, 0.0, 1.0, 2.0), margin=0.05),
          dtypes=FLOAT),
    inplace("frac_", lambda a: a - np.trunc(a), elementwise(1, (Domain(-3.0, 3.0, avoid=(-2.0, -1.0, 0.0, 1.0, 2.0),
                                                                      margin=0.05),))),
    unary("nan_to_num", _np_nan_to_num, variants=NAN_TO_NUM, dtypes=(*FLOAT, NUM[2])),
    inplace("nan_to_num_", _np_nan_to_num, elementwise(1, variants=NAN_TO_NUM)),
    *(binary(n, _f32(np.arctan2), NONZERO, NONZERO, scalar=False) for n in ("atan2", "arctan2")),
    *(inplace(f"{n}_", np.arctan2, cases([S(X, Arr((2, 3), NONZERO)), S(X, Arr((3,), NONZERO))],
                                         [S(X0, Arr((), NONZERO))], [S(XE, Arr((3,)))])) for n in ("atan2", "arctan2")),
    binary("fmod", np.fmod, WIDE, NONZERO),
    inplace_binary("fmod_", np.fmod, NONZERO, dtypes=NUM),
    binary("copysign", _f32(_np_copysign), KINK0, NONZERO),
    inplace_binary("copysign_", _np_copysign, NONZERO),
    binary("logaddexp", np.logaddexp, WIDE, WIDE, scalar=False, dtypes=FLOAT),
    binary("logaddexp2", np.logaddexp2, WIDE, WIDE, scalar=False, dtypes=FLOAT),
    OpInfo("lerp", _np_lerp, LERP),
    inplace("lerp_", _np_lerp, cases([S(X, X, X), S(X, X, 0.3), S(X, Arr((3,)), Arr(()))], [S(X0, X0, 0.6)],
                                     [S(XE, XE, 0.5)])),
    inplace("negative_", np.negative, elementwise(1), dtypes=NUM),
]
