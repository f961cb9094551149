"""PyTorch parity of the logical, bitwise and comparison ops and of the narrow integer dtypes:
``& | ^ ~ << >>`` (bitwise on integers, logical on bool, shifts out of range), their in-place
forms, type promotion of every dtype pair (``result_type``), Python ints wrapped into narrow
dtypes, comparisons across dtypes, isclose/allclose/equal, all/any, Tensor.where, and clamp's NaN
bounds. Rules are written out so the tests run without torch; where torch is installed every
dtype combination is also run in both and compared."""
from __future__ import annotations

import warnings

import itertools
import operator

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import dtypes as D
from helpers import check_grad

NAN, INF = float("nan"), float("inf")
INT_NAMES = ["uint8", "int8", "int16", "int32", "int64"]
NAMES = ["bool"] + INT_NAMES + ["float16", "float32", "float64"]
SCALARS = [True, False, 0, 1, -1, 3, 127, 128, 255, 256, 1000, -129, 2 ** 40 + 5, 1.5, -0.5]


def arr(t):
    return t.detach().numpy()


def same(got, want) -> None:
    """Exact values, dtype and shape (ours vs a NumPy array or a torch tensor)."""
    if hasattr(want, "numpy"):   # torch
        w = want.detach().numpy()
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (got.dtype, want.dtype)
    else:
        w = np.asarray(want)
        assert got.dtype.np == w.dtype, (got.dtype, w.dtype)
    g = arr(got)
    assert g.shape == w.shape, (g.shape, w.shape)
    np.testing.assert_array_equal(g, w)


def values(name: str, n: int = 12, seed: int = 0) -> np.ndarray:
    """Values that hit each dtype's edges: 0, ±1, the extremes and a spread in between."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(name)
    if dt.kind == "b":
        return rng.random(n) < 0.5
    if dt.kind == "f":
        return rng.uniform(-4, 4, n).round(1).astype(dt)
    info = np.iinfo(dt)
    edge = np.array([0, 1, info.max, info.min, info.max - 1, info.min + 1], dtype=dt)
    return np.concatenate([edge, rng.integers(info.min, info.max, n - len(edge), dtype=dt, endpoint=True)])


def pair(torch, a, b):
    """The same operands as ours and as torch's (arrays become tensors; Python numbers stay)."""
    ours = tuple(ag.tensor(v) if isinstance(v, np.ndarray) else v for v in (a, b))
    theirs = tuple(torch.tensor(v) if isinstance(v, np.ndarray) else v for v in (a, b))
    return ours, theirs


def agree(torch, fn, a, b) -> None:
    """``fn`` on ours and on torch's operands: the same values and dtype, or the same error type and message."""
    (x, y), (tx, ty) = pair(torch, a, b)
    try:
        want = fn(tx, ty)
    except Exception as e:   # noqa: BLE001 - whatever torch raises, we must raise too
        with pytest.raises(type(e)) as info:
            fn(x, y)
        assert str(info.value).split("\n")[0] == str(e).split("\n")[0]
        return
    same(fn(x, y), want)


# 1. & | ^ are bitwise on integers (was: logical, a silent wrong result) ---------------------------
def test_and_or_xor_are_bitwise_on_integers():
    a, b = ag.tensor([6, 3, 12]), ag.tensor([3, 1, 10])
    same(a & b, np.array([2, 1, 8]))
    same(a | b, np.array([7, 3, 14]))
    same(a ^ b, np.array([5, 2, 6]))
    same(ag.bitwise_and(a, b), np.array([2, 1, 8]))
    same(a.bitwise_or(b), np.array([7, 3, 14]))


def test_bool_operands_stay_logical():
    t, f = ag.tensor([True, True, False]), ag.tensor([True, False, False])
    same(t & f, np.array([True, False, False]))
    same(t | f, np.array([True, True, False]))
    same(t ^ f, np.array([False, True, False]))
    same(~t, np.array([False, False, True]))
    same(t & 3, np.array([1, 1, 0]))                 # bool & int -> int64
    same(ag.tensor([5, 2]) | ag.tensor([True, False]), np.array([5, 2]))


def test_python_number_operands_and_reflected_forms():
    a = ag.tensor([6, 3])
    same(3 & a, np.array([2, 3]))
    same(1 | a, np.array([7, 3]))
    same(5 ^ a, np.array([3, 6]))
    same(2 << a, np.array([128, 16]))
    same(256 >> a, np.array([4, 32]))
    same(a << True, np.array([12, 6]))
    same(ag.tensor([6, 3], dtype=ag.uint8) & -1, np.array([6, 3], np.uint8))    # -1 wraps to 255
    same(ag.tensor([6, 3], dtype=ag.int8) & 1000, np.array([0, 0], np.int8))    # 1000 wraps to -24
    same(ag.tensor([6, 3], dtype=ag.uint8) & ag.tensor([3, 1], dtype=ag.int8), np.array([2, 1], np.int16))


def test_invert_and_bitwise_not():
    same(~ag.tensor([0, 5], dtype=ag.uint8), np.array([255, 250], np.uint8))
    same(~ag.tensor([0, -6], dtype=ag.int8), np.array([-1, 5], np.int8))
    same(ag.bitwise_not(ag.tensor([7, -1])), np.array([-8, 0]))
    with pytest.raises(TypeError, match=r"~ \(operator.invert\) is only implemented on integer and Boolean-type"):
        ~ag.tensor([1.0])
    with pytest.raises(NotImplementedError, match="\"bitwise_not_cpu\" not implemented for 'Float'"):
        ag.bitwise_not(ag.tensor([1.0]))


@pytest.mark.parametrize("expr,label,dtype", [
    (lambda: ag.tensor([1.0]) & ag.tensor([1]), "bitwise_and", "Float"),
    (lambda: ag.tensor([1]) | 1.5, "bitwise_or", "Float"),
    (lambda: 1.5 ^ ag.tensor([1]), "bitwise_xor", "Float"),
    (lambda: ag.tensor([1], dtype=ag.float64) << 1, "lshift", "Double"),
    (lambda: ag.bitwise_right_shift(ag.tensor([1.0], dtype=ag.float16), 1), "rshift", "Half"),
    (lambda: ag.tensor([True]) << ag.tensor([True]), "lshift", "Bool"),
    (lambda: ag.tensor([1.0]).bitwise_and_(1), "bitwise_and", "Float"),
])
def test_float_operands_raise_torchs_error(expr, label, dtype):
    with pytest.raises(NotImplementedError) as info:   # a RuntimeError subclass, as torch's
        expr()
    assert str(info.value) == f"\"{label}_cpu\" not implemented for '{dtype}'"
    assert isinstance(info.value, RuntimeError)


# shifts: PyTorch's CPU rule outside [0, bits) -------------------------------------------------------
@pytest.mark.parametrize("name", INT_NAMES)
def test_shift_rule_written_out(name):
    dt = np.dtype(name)
    bits = 8 * dt.itemsize
    x = values(name)
    for s in (-3, -1, 0, 1, bits - 1, bits, bits + 1, 70):
        if dt.kind == "u" and s < 0:
            continue
        y = np.full_like(x, s)
        left = ag.tensor(x) << ag.tensor(y)
        right = ag.tensor(x) >> ag.tensor(y)
        if 0 <= s < bits:
            want_l = (x.astype(object) << s) % (1 << bits)   # the low bits, two's complement
            want_l = np.array([v - (1 << bits) if dt.kind == "i" and v >> (bits - 1) else v for v in want_l], dt)
            want_r = np.array([int(v) >> s for v in x], dt)
        else:
            want_l = np.zeros_like(x)
            want_r = np.where(x < 0, -1, 0).astype(dt)
        same(left, want_l)
        same(right, want_r)


def test_narrow_integer_ops_wrap():
    same(ag.tensor([255], dtype=ag.uint8) + ag.tensor([1], dtype=ag.uint8), np.array([0], np.uint8))
    same(ag.tensor([127], dtype=ag.int8) + 1, np.array([-128], np.int8))
    same(ag.tensor([-32768], dtype=ag.int16) - 1, np.array([32767], np.int16))
    same(ag.tensor([1, 1], dtype=ag.int8) << ag.tensor([7, 8], dtype=ag.int8), np.array([-128, 0], np.int8))
    same(ag.tensor([200], dtype=ag.uint8) << 1, np.array([144], np.uint8))


def test_arithmetic_wraps_out_of_range_python_ints():
    same(ag.tensor([6, 3], dtype=ag.uint8) + (-1), np.array([5, 2], np.uint8))
    same(ag.tensor([1], dtype=ag.int8) + 1000, np.array([-23], np.int8))
    same(ag.tensor([1, 2], dtype=ag.uint8) * 300, np.array([44, 88], np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a float16 overflow is inf, silently (PyTorch)
        same(ag.tensor([1.0], dtype=ag.float16) + 1e6, np.array([np.inf], np.float16))


# in-place and augmented forms ----------------------------------------------------------------------
def test_augmented_assignment_writes_in_place():
    a = ag.tensor([6, 3, 12], dtype=ag.int16)
    ref = a
    a &= ag.tensor([3, 1, 10])
    same(a, np.array([2, 1, 8], np.int16))
    a |= 16
    same(a, np.array([18, 17, 24], np.int16))
    a ^= 1
    same(a, np.array([19, 16, 25], np.int16))
    a <<= 2
    same(a, np.array([76, 64, 100], np.int16))
    a >>= ag.tensor([1, 2, 3])
    same(a, np.array([38, 16, 12], np.int16))
    assert a is ref and a._version == 5
    b = ag.tensor([True, False])
    b ^= True
    same(b, np.array([False, True]))
    c = ag.tensor([0, 5], dtype=ag.uint8)
    assert c.bitwise_not_() is c
    same(c, np.array([255, 250], np.uint8))


def test_in_place_casts_like_torch():
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired output type Bool"):
        ag.tensor([True]).__iand__(ag.tensor([3]))
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired output type Bool"):
        b = ag.tensor([True])
        b <<= 1
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        a = ag.tensor([1])
        a &= 1.5
    v = ag.tensor([1, 2], dtype=ag.int8)
    v &= ag.tensor([3, 3])            # integer -> narrower integer is allowed, as PyTorch
    same(v, np.array([1, 2], np.int8))


# every dtype pair against torch ---------------------------------------------------------------------
BITWISE = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift,
           ag.bitwise_and, ag.bitwise_left_shift]


@pytest.mark.parametrize("op", range(len(BITWISE)))
def test_bitwise_every_dtype_pair_matches_torch(op):
    torch = pytest.importorskip("torch")
    fn = BITWISE[op]
    tfn = {ag.bitwise_and: torch.bitwise_and, ag.bitwise_left_shift: torch.bitwise_left_shift}.get(fn, fn)
    for a, b in itertools.product(NAMES, NAMES):
        x, y = values(a, seed=1), values(b, seed=2)
        if fn in (operator.lshift, operator.rshift, ag.bitwise_left_shift) and y.dtype.kind in "iu":
            y = (y.astype(np.int64) % 80 - 5).astype(y.dtype)     # amounts around 0 and every width
        (ox, oy), (tx, ty) = pair(torch, x, y)
        _agree_call(fn, tfn, (ox, oy), (tx, ty))
        _agree_call(fn, tfn, (ox, ag.tensor(y[3])), (tx, torch.tensor(y[3])))     # with a 0-d tensor
    for a in NAMES:
        for s in SCALARS:
            x = values(a, seed=3)
            _agree_call(fn, tfn, (ag.tensor(x), s), (torch.tensor(x), s))
            if fn in (operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift):
                _agree_call(fn, tfn, (s, ag.tensor(x)), (s, torch.tensor(x)))


def _agree_call(fn, tfn, ours, theirs):
    try:
        want = tfn(*theirs)
    except Exception as e:   # noqa: BLE001
        with pytest.raises(type(e)) as info:
            fn(*ours)
        assert str(info.value).split("\n")[0] == str(e).split("\n")[0], (ours, theirs)
        return
    got = fn(*ours)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (ours, want.dtype)
    np.testing.assert_array_equal(arr(got), want.numpy(), err_msg=str(theirs))


def test_result_type_every_pair_matches_torch():
    torch = pytest.importorskip("torch")

    def mk(lib, name, zero_d):
        return lib.ones(() if zero_d else (2,), dtype=getattr(lib, name))
    checked = 0
    for a, b in itertools.product(NAMES, NAMES):
        for za, zb in ((0, 0), (0, 1), (1, 0), (1, 1)):
            want = torch.result_type(mk(torch, a, za), mk(torch, b, zb))
            assert str(D.result_type(mk(ag, a, za), mk(ag, b, zb))) == str(want).split(".")[-1], (a, za, b, zb)
            checked += 1
    for a in NAMES:
        for s in SCALARS:
            for za in (0, 1):
                want = torch.result_type(mk(torch, a, za), s)
                assert str(D.result_type(mk(ag, a, za), s)) == str(want).split(".")[-1], (a, za, s)
                checked += 1
    assert checked == 81 * 4 + 9 * len(SCALARS) * 2


def test_result_type_rules_written_out():
    u8, i8, i16, f16 = (ag.ones(2, dtype=d) for d in (ag.uint8, ag.int8, ag.int16, ag.float16))
    assert D.result_type(u8, i8) == np.int16
    assert D.result_type(i8, 1000) == np.int8                     # a Python int keeps the tensor's dtype
    assert D.result_type(u8, -1) == np.uint8
    assert D.result_type(u8, 1.5) == np.float32                   # a float scalar: the default float
    assert D.result_type(i16, ag.tensor(2.0, dtype=ag.float64)) == np.float64   # 0-d of a higher category
    assert D.result_type(f16, ag.tensor(2.0, dtype=ag.float64)) == np.float16   # 0-d of the same category
    assert D.result_type(ag.ones(2, dtype=ag.bool), True) == np.bool_
    assert D.result_type(ag.ones(2, dtype=ag.bool), 3) == np.int64
    assert D.wrap_int(-1, np.dtype(np.uint8)) == 255 and D.wrap_int(1000, np.dtype(np.int8)) == -24
    assert D.wrap_int(262, np.dtype(np.uint8)) == 6 and D.wrap_int(-129, np.dtype(np.int8)) == 127


# comparisons and maximum/minimum across dtypes ------------------------------------------------------
COMPARE = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


def test_comparisons_wrap_python_ints_like_torch():
    u = ag.tensor([255, 6, 3], dtype=ag.uint8)
    same(u == -1, np.array([True, False, False]))                  # -1 is 255 in uint8
    same(u == 262, np.array([False, True, False]))
    same(u < 300, np.array([False, True, True]))                   # 300 is 44
    same(ag.tensor([-24, 0], dtype=ag.int8) == 1000, np.array([True, False]))
    same(ag.tensor([1.5]) == 1000, np.array([False]))


@pytest.mark.parametrize("op", range(len(COMPARE)))
def test_comparisons_every_dtype_pair_match_torch(op):
    torch = pytest.importorskip("torch")
    fn = COMPARE[op]
    for a, b in itertools.product(NAMES, NAMES):
        x, y = values(a, seed=4), values(b, seed=5)
        with np.errstate(over="ignore"):
            y[:4] = x[:4].astype(y.dtype) if y.dtype.kind != "b" else y[:4]   # some ties
        _agree_call(fn, fn, (ag.tensor(x), ag.tensor(y)), (torch.tensor(x), torch.tensor(y)))
        _agree_call(fn, fn, (ag.tensor(x), ag.tensor(y[0])), (torch.tensor(x), torch.tensor(y[0])))
    for a in NAMES:
        x = values(a, seed=6)
        for s in SCALARS:
            _agree_call(fn, fn, (ag.tensor(x), s), (torch.tensor(x), s))
            _agree_call(fn, fn, (s, ag.tensor(x)), (s, torch.tensor(x)))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_every_dtype_pair_match_torch(name):
    torch = pytest.importorskip("torch")
    fn, tfn = getattr(ag, name), getattr(torch, name)
    for a, b in itertools.product(NAMES, NAMES):
        x, y = values(a, seed=7), values(b, seed=8)
        if x.dtype.kind == "f":
            x[2] = NAN
        _agree_call(fn, tfn, (ag.tensor(x), ag.tensor(y)), (torch.tensor(x), torch.tensor(y)))
        _agree_call(fn, tfn, (ag.tensor(x), ag.tensor(y[1])), (torch.tensor(x), torch.tensor(y[1])))


# isclose / allclose / equal --------------------------------------------------------------------------
def test_isclose_rule():
    a = ag.tensor([1.0, NAN, INF, -INF, INF, 1.0, 0.0])
    b = ag.tensor([1.0, NAN, INF, INF, 1e30, 1.0 + 1e-6, 1e-9])
    same(ag.isclose(a, b), np.array([True, False, True, False, False, True, True]))
    same(ag.isclose(a, b, equal_nan=True), np.array([True, True, True, False, False, True, True]))
    same(ag.isclose(a, b, rtol=0, atol=0), np.array([True, False, True, False, False, False, False]))
    same(ag.isclose(ag.tensor([10]), ag.tensor([11]), rtol=0.05, atol=0.6), np.array([True]))
    # integers measure the error in float: uint8 1 and 3 differ by 2, not 254
    same(ag.isclose(ag.tensor([1, 3], dtype=ag.uint8), ag.tensor([3, 1], dtype=ag.uint8), atol=2),
         np.array([True, True]))
    same(ag.isclose(ag.tensor([1.0]), ag.tensor([[1.0], [2.0]])), np.array([[True], [False]]))


def test_isclose_errors():
    with pytest.raises(RuntimeError, match="^Long did not match Float$"):
        ag.isclose(ag.tensor([1, 2]), ag.tensor([1.0, 3.0]))
    with pytest.raises(RuntimeError, match="^rtol must be greater than or equal to zero, but got -1$"):
        ag.isclose(ag.tensor([1.0]), ag.tensor([1.0]), rtol=-1)
    with pytest.raises(RuntimeError, match="^atol must be greater than or equal to zero, but got -1e-05$"):
        ag.isclose(ag.tensor([1.0]), ag.tensor([1.0]), atol=-1e-5)
    with pytest.raises(TypeError, match=r"isclose\(\): argument 'other' \(position 2\) must be Tensor, not float"):
        ag.isclose(ag.tensor([1.0]), 1.0)


def test_allclose_and_equal_return_python_bools():
    assert ag.allclose(ag.tensor([1.0, 2.0]), ag.tensor([1.0, 2.0 + 1e-7])) is True
    assert ag.allclose(ag.tensor([1.0]), ag.tensor([1.0, 1.1])) is False
    assert ag.allclose(ag.tensor([NAN]), ag.tensor([NAN]), equal_nan=True) is True
    assert ag.equal(ag.tensor([1, 2]), ag.tensor([1.0, 2.0])) is True     # dtypes may differ
    assert ag.equal(ag.tensor([1]), ag.tensor([1, 1])) is False           # shapes differ: no broadcast
    assert ag.equal(ag.tensor([NAN]), ag.tensor([NAN])) is False
    assert ag.equal(ag.zeros(0, 3), ag.zeros(0, 3)) is True
    assert ag.tensor([1, 2]).equal(ag.tensor([1, 3])) is False
    with pytest.raises(TypeError, match=r"equal\(\): argument 'other' \(position 2\) must be Tensor, not int"):
        ag.equal(ag.tensor([1.0]), 1)


# all / any -------------------------------------------------------------------------------------------
def test_all_any_rules():
    x = ag.tensor([[1.0, 0.0, 2.0], [3.0, NAN, 4.0]])
    same(ag.all(x), np.array(False))
    same(ag.any(x), np.array(True))
    same(ag.all(x, 0), np.array([True, False, True]))              # NaN counts as true
    same(x.any(dim=1, keepdim=True), np.array([[True], [True]]))
    same(ag.all(x, (0, 1), keepdim=True), np.array([[False]]))
    same(ag.all(x, axis=1), np.array([False, True]))
    same(ag.any(x, axis=0, keepdims=True), np.array([[True, True, True]]))
    same(ag.all(x, dim=()), arr(x) != 0)                           # no dim reduced
    same(ag.all(ag.tensor([])), np.array(True))
    same(ag.any(ag.tensor([])), np.array(False))
    same(ag.all(ag.zeros(0, 3), 1), np.zeros(0, bool))
    same(ag.all(ag.tensor(3), 0), np.array(True))
    same(ag.all(ag.tensor([1, 2], dtype=ag.uint8)), np.array(1, np.uint8))   # uint8 stays uint8 (torch)
    same(ag.any(ag.tensor([[0, 0], [0, 7]], dtype=ag.uint8), 1), np.array([0, 1], np.uint8))
    same(ag.any(ag.tensor([[0, 2]], dtype=ag.int8), -1, True), np.array([[True]]))
    with pytest.raises(RuntimeError, match="^dim 0 appears multiple times in the list of dims$"):
        ag.all(x, (0, -2))
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        ag.any(x, 2)


def test_all_any_match_torch_every_dtype():
    torch = pytest.importorskip("torch")
    for name in NAMES:
        x = values(name, seed=9).reshape(3, 4)
        x[0] = 0
        for kw in ({}, {"dim": 1}, {"dim": (0, 1)}, {"dim": -1, "keepdim": True}, {"axis": 0}):
            for op in ("all", "any"):
                same(getattr(ag, op)(ag.tensor(x), **kw), getattr(torch, op)(torch.tensor(x), **kw))


# Tensor.where ----------------------------------------------------------------------------------------
def test_tensor_where_method():
    c = ag.tensor([True, False, True])
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = ag.tensor([5.0, 6.0, 7.0], requires_grad=True)
    out = x.where(c, y)
    same(out, np.array([1.0, 6.0, 3.0], np.float32))
    same(x.where(c, 0), np.array([1.0, 0.0, 3.0], np.float32))
    out.sum().backward()
    same(x.grad, np.array([1.0, 0.0, 1.0], np.float32))
    same(y.grad, np.array([0.0, 1.0, 0.0], np.float32))
    same(ag.tensor([1, 2]).where(ag.tensor([False, True]), ag.tensor(9.5)), np.array([9.5, 2.0], np.float32))


# clamp with NaN bounds ------------------------------------------------------------------------------
def test_clamp_nan_bound_is_nan():
    same(ag.clamp(ag.tensor([1.0]), min=ag.tensor([NAN])), np.array([NAN], np.float32))
    same(ag.clamp(ag.tensor([1.0, -3.0]), max=ag.tensor([NAN, 0.0])), np.array([NAN, -3.0], np.float32))
    same(ag.clamp(ag.tensor([1.0, 2.0]), min=NAN), np.array([NAN, NAN], np.float32))
    same(ag.clamp(ag.tensor([1.0, 2.0]), max=NAN), np.array([NAN, NAN], np.float32))
    same(ag.clamp(ag.tensor([NAN, 2.0]), ag.tensor([0.0]), ag.tensor([1.0])), np.array([NAN, 1.0], np.float32))
    same(ag.clamp(ag.tensor([5.0, -5.0]), ag.tensor([2.0]), ag.tensor([1.0])), np.array([1.0, 1.0], np.float32))
    same(ag.clamp(ag.tensor([5, -5]), min=ag.tensor([2.5])), np.array([5.0, 2.5], np.float32))
    same(ag.clamp(ag.tensor([5, 100], dtype=ag.int8), ag.tensor(7), 50), np.array([7, 50], np.int8))
    same(ag.clamp(ag.tensor([5, 200], dtype=ag.uint8), min=-1), np.array([255, 255], np.uint8))   # -1 is 255
    x = ag.tensor([1.0, 4.0])
    x.clamp_(min=ag.tensor([NAN, 0.0]))
    same(x, np.array([NAN, 4.0], np.float32))


def test_clamp_tensor_bounds_gradient():
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.uniform(-2, 2, (3, 4)), requires_grad=True)
    lo = ag.tensor(rng.uniform(-1.5, -0.5, (4,)), requires_grad=True)
    hi = ag.tensor(rng.uniform(0.5, 1.5, (3, 1)), requires_grad=True)
    check_grad(lambda a, b, c: ag.clamp(a, b, c), x, lo, hi)
    check_grad(lambda a, b: ag.clamp(a, min=b), x, lo)
    check_grad(lambda a, c: ag.clamp(a, max=c), x, hi)


def test_clamp_tensor_bounds_match_torch_with_nan_and_ties():
    torch = pytest.importorskip("torch")
    vals = [0.0, 1.0, 2.0, NAN]
    xs, bs = zip(*itertools.product(vals, vals))
    x, b = np.array(xs), np.array(bs)
    for kw in ("min", "max"):   # one tensor bound: PyTorch's maximum/minimum gradient, ties split
        ours = [ag.tensor(v, requires_grad=True) for v in (x, b)]
        theirs = [torch.tensor(v, requires_grad=True) for v in (x, b)]
        o, t = ag.clamp(ours[0], **{kw: ours[1]}), torch.clamp(theirs[0], **{kw: theirs[1]})
        same(o, t)
        o.sum().backward()
        t.sum().backward()
        for a, w in zip(ours, theirs):
            same(a.grad, w.grad)
    x, lo, hi = (np.array(v) for v in zip(*itertools.product(vals, vals, vals)))
    same(ag.clamp(ag.tensor(x), ag.tensor(lo), ag.tensor(hi)),
         torch.clamp(torch.tensor(x), torch.tensor(lo), torch.tensor(hi)))


# CUDA against CPU ----------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("name", ["bool"] + INT_NAMES)
def test_cuda_bitwise_matches_cpu(name):
    x = values(name, 64, seed=10)
    for fn in (operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift, operator.invert):
        if name == "bool" and fn in (operator.lshift, operator.rshift):
            continue
        y = values(name, 64, seed=11)
        if fn in (operator.lshift, operator.rshift):
            y = (y.astype(np.int64) % 80 - (0 if y.dtype.kind == "u" else 5)).astype(y.dtype)
        args = (x,) if fn is operator.invert else (x, y)
        cpu = fn(*(ag.tensor(a) for a in args))
        dev = fn(*(ag.tensor(a, device="cuda") for a in args))
        same(dev.to("cpu"), arr(cpu))
        if fn is not operator.invert:
            same(fn(ag.tensor(x, device="cuda"), -1 if name != "bool" else True).to("cpu"),
                 arr(fn(ag.tensor(x), -1 if name != "bool" else True)))
            strided = ag.tensor(np.stack([x, x]), device="cuda")[:, ::2]
            same(fn(strided, ag.tensor(y[::2], device="cuda")).to("cpu"),
                 arr(fn(ag.tensor(np.stack([x, x]))[:, ::2], ag.tensor(y[::2]))))


@pytest.mark.cuda
@pytest.mark.parametrize("name", NAMES)
def test_cuda_tests_and_reductions_match_cpu(name):
    x = values(name, 48, seed=12).reshape(4, 12)
    x[1] = 0
    y = x.copy()
    if x.dtype.kind == "f":
        x[0, :3] = (NAN, INF, -INF)
        y[0, :3] = (NAN, INF, INF)
        y[2] += 1e-6
    for fn in (lambda a, b: ag.isclose(a, b), lambda a, b: ag.isclose(a, b, equal_nan=True, atol=0.5),
               lambda a, b: ag.all(a, 1), lambda a, b: ag.any(a, (0, 1)), lambda a, b: ag.all(a, 0, keepdim=True),
               lambda a, b: a == b, lambda a, b: a < 300, lambda a, b: ag.all(a)):
        same(fn(ag.tensor(x, device="cuda"), ag.tensor(y, device="cuda")).to("cpu"),
             arr(fn(ag.tensor(x), ag.tensor(y))))
    assert ag.equal(ag.tensor(x, device="cuda"), ag.tensor(x, device="cuda")) is (x.dtype.kind != "f")
    assert ag.allclose(ag.tensor(y, device="cuda"), ag.tensor(y, device="cuda"), equal_nan=True) is True


@pytest.mark.cuda
def test_cuda_clamp_nan_bounds():
    x = ag.tensor([1.0, -3.0, 5.0], device="cuda")
    same(ag.clamp(x, min=NAN).to("cpu"), np.full(3, NAN, np.float32))
    same(ag.clamp(x, min=ag.tensor([NAN, 0.0, 0.0], device="cuda")).to("cpu"), np.array([NAN, 0.0, 5.0], np.float32))
    same(ag.clamp(x, ag.tensor([0.0], device="cuda"), ag.tensor([NAN, 1.0, 2.0], device="cuda")).to("cpu"),
         np.array([NAN, 0.0, 2.0], np.float32))


def test_maximum_minimum_gradient_with_nan_and_ties():
    """PyTorch's rule: ties split g in half; a NaN on either side passes g to both inputs."""
    x = ag.tensor([1.0, NAN, 2.0, 2.0, NAN], requires_grad=True)
    y = ag.tensor([NAN, 1.0, 2.0, 3.0, NAN], requires_grad=True)
    ag.maximum(x, y).sum().backward()
    same(x.grad, np.array([1.0, 1.0, 0.5, 0.0, 1.0], np.float32))
    same(y.grad, np.array([1.0, 1.0, 0.5, 1.0, 1.0], np.float32))
    x.grad = y.grad = None
    ag.minimum(x, y).sum().backward()
    same(x.grad, np.array([1.0, 1.0, 0.5, 1.0, 1.0], np.float32))
    same(y.grad, np.array([1.0, 1.0, 0.5, 0.0, 1.0], np.float32))
