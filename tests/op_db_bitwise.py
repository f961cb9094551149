"""Op-table rows of the bitwise/logical family and of the closeness and truth tests
(``ops/bitwise.py``, ``ops/compare.py``). Integer rows run every integer width, so the narrow
dtypes' wrapping and promotion are checked against NumPy and PyTorch."""
from __future__ import annotations

import numpy as np

import autograd_gpu as ag
from op_db import (ALL, BOOL, F64, I64, SPECIALS, TIES, Arr, Cases, Domain, OpInfo, S, Scalar, X, X0, XE, _on_0d,
                   cases, inplace, inplace_binary)

NARROW = (ag.uint8, ag.int8, ag.int16, ag.int32)
INTS = (I64,) + NARROW
INTS_B = INTS + (BOOL,)
EVERY = ALL + NARROW
SHIFT = Domain(ints=(-3, 70))           # amounts below 0 and at/above every bit width
ONES = Domain(0.9, 1.1, grid=1.0, ints=(1, 1))   # all ones: equal() is True
ZERO_ONE = Domain(-1.0, 1.0, grid=1.0, ints=(0, 2))   # zeros among the values: all/any differ


def _binary_int(dy: Domain = Domain()):
    """Two integer/bool tensors, a Python number, broadcast, 0-d and empty."""
    return cases([S(X, Arr((2, 3), dy)), S(X, Scalar(Domain(ints=(2, 2)))), S(X, Arr((3,), dy))],
                 [S(X0, Arr((), dy)), S(X0, Arr((3,), dy))], [S(XE, Arr((0, 3), dy)), S(XE, Arr((3,), dy))],
                 [S(Arr((3, 1)), Arr((4,), dy)), S(Arr((2, 1, 3)), Arr((4, 1), dy))])


def _np_isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """PyTorch's definition (integers compute the error in float32), not NumPy's isclose."""
    close = a == b
    if a.dtype.kind != "f":
        a, b = a.astype(np.float32), b.astype(np.float32)
    if equal_nan:
        close |= np.isnan(a) & np.isnan(b)
    t = a.dtype.type
    diff = np.abs(a - b)
    return np.asarray(close | (np.isfinite(diff) & (diff <= t(atol) + np.abs(t(rtol) * b))))


def _np_truth(fn):
    def ref(a, dim=None, keepdim=False, *, axis=None):
        dim = dim if axis is None else axis
        out = np.asarray(fn(a, axis=tuple(dim) if isinstance(dim, (tuple, list)) else dim, keepdims=keepdim))
        return out.astype(np.uint8) if a.dtype == np.uint8 else out
    return _on_0d(ref)


CLOSE = cases([S(Arr((2, 3), TIES), Arr((2, 3), TIES)), S(X, X, rtol=0.5, atol=0.1), S(X, X, 0.0, 0.0),
               S(Arr((2, 3), TIES), Arr((3,), TIES), atol=0.6)],
              [S(Arr((), TIES), Arr((), TIES))], [S(XE, Arr((3,)))], [S(Arr((3, 1), TIES), Arr((4,), TIES))],
              [S(Arr((2, 3), SPECIALS), Arr((2, 3), SPECIALS)), S(Arr((2, 3), SPECIALS), Arr((2, 3), SPECIALS),
                                                                 equal_nan=True)])
_TRUTH_DIMS = [S(), S(1), S(-1, keepdim=True), S((0, 1)), S((0, -1), keepdim=True), S(()), S(axis=0), S(keepdim=True)]
TRUTH = cases(*([S(Arr(shape, ZERO_ONE), *a, **k) for a, k in variants] for shape, variants in (
    ((2, 3), _TRUTH_DIMS), ((), [S(), S(0), S(-1, keepdim=True)]), ((0, 3), [S(), S(1), S(0)]))),
    special=[S(Arr((2, 3), SPECIALS)), S(Arr((2, 3), SPECIALS), 1)])

ROWS: list = [
    OpInfo("bitwise_and", np.bitwise_and, _binary_int(), dtypes=INTS_B, grad=0),
    OpInfo("bitwise_or", np.bitwise_or, _binary_int(), dtypes=INTS_B, grad=0),
    OpInfo("bitwise_xor", np.bitwise_xor, _binary_int(), dtypes=INTS_B, grad=0),
    OpInfo("bitwise_left_shift", np.left_shift, _binary_int(SHIFT), dtypes=INTS, grad=0),
    OpInfo("bitwise_right_shift", np.right_shift, _binary_int(SHIFT), dtypes=INTS, grad=0),
    inplace_binary("bitwise_and_", np.bitwise_and, dtypes=INTS_B, grad=0),
    inplace_binary("bitwise_or_", np.bitwise_or, dtypes=INTS_B, grad=0),
    inplace_binary("bitwise_xor_", np.bitwise_xor, dtypes=INTS_B, grad=0),
    inplace_binary("bitwise_left_shift_", np.left_shift, SHIFT, dtypes=INTS, grad=0),
    inplace_binary("bitwise_right_shift_", np.right_shift, SHIFT, dtypes=INTS, grad=0),
    inplace("bitwise_not_", np.invert, cases([S(X)], [S(X0)], [S(XE)]), dtypes=INTS_B, grad=0),
    OpInfo("isclose", _np_isclose, CLOSE, dtypes=EVERY, grad=0),
    OpInfo("allclose", lambda *a, **k: bool(np.all(_np_isclose(*a, **k))),   # a Python bool: no "broadcast" case
           Cases({k: v for k, v in CLOSE.items() if k != "broadcast"}), dtypes=EVERY, grad=0),
    OpInfo("equal", lambda a, b: a.shape == b.shape and bool(np.array_equal(a, b)), cases(
        [S(Arr((2, 3), ONES), Arr((2, 3), ONES)), S(X, X), S(Arr((2, 3), ONES), Arr((3,), ONES)),
         S(Arr((2, 3), ONES), Arr((2, 3), ONES, dtype=F64))],
        [S(Arr((), ONES), Arr((), ONES))], [S(XE, XE), S(XE, Arr((3, 0)))],
        special=[S(Arr((2, 3), SPECIALS), Arr((2, 3), SPECIALS))]), dtypes=EVERY, grad=0),
    OpInfo("all", _np_truth(np.all), TRUTH, dtypes=EVERY, grad=0),
    OpInfo("any", _np_truth(np.any), TRUTH, dtypes=EVERY, grad=0),
]
