"""The ops layer's CuPy registrations against CuPy's real typing rules, on CPU.

No GPU or CuPy here: a NumPy-backed stand-in array module reproduces the CuPy 14 behaviour each
test is about, and the registered ``cupy`` implementation must give what the ``numpy`` one gives.

CuPy 14 follows NEP 50 (``cupy/_core/_kernel.pyx``: ``guess_routine``, ``_scalar.pyx``:
``numpy_dtype_from_pyscalar``): a Python number beside an array is a weak scalar, but a ufunc
whose inputs are all scalars makes them strong (int64 / float64) and returns a 0-d *array*, which
then promotes whatever array it meets (``cp.abs(3)`` is an int64 0-d array; int32 // it is int64).
"""
from __future__ import annotations

import contextlib
import types

import numpy as np
import pytest

from autograd_gpu.dispatch import lookup, scalar_for
from autograd_gpu.ops import arithmetic, declare


class _CuArr(np.ndarray):
    """A stand-in ``cupy.ndarray``: a NumPy array with a ``device`` usable as a context manager."""

    @property
    def device(self):
        return contextlib.nullcontext()


def _cu(v) -> _CuArr:
    return np.asarray(v).view(_CuArr)


def _ufunc(f):
    def call(*args):
        if not any(isinstance(a, np.ndarray) for a in args):
            args = tuple(np.asarray(a) for a in args)   # all scalars: strong (CScalar, weak_t dropped)
        return _cu(f(*args))   # CuPy returns 0-d arrays, never NumPy scalars
    return call


def _result_type(*xs):   # cupy/__init__.py: arrays by dtype, everything else as given
    return np.result_type(*(x.dtype if isinstance(x, np.ndarray) else x for x in xs))


_XP = types.SimpleNamespace(ndarray=_CuArr, result_type=_result_type,
                            **{n: _ufunc(getattr(np, n)) for n in ("abs", "sign", "floor_divide", "trunc",
                                                                   "true_divide")})


@pytest.fixture
def fake_cupy(monkeypatch):
    monkeypatch.setattr(arithmetic, "_cuda_xp", lambda: _XP)
    monkeypatch.setattr(declare, "get_backend", lambda name: types.SimpleNamespace(xp=_XP))
    return _XP


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64", "float16", "float32"])
@pytest.mark.parametrize("scalar_first", [False, True])
def test_div_trunc_with_python_number_keeps_dtype(fake_cupy, dtype, scalar_first):
    """``div(t, 3, rounding_mode="trunc")``: the fast path hands the CUDA kernel the bare Python number."""
    host = np.array([7, 5, 3, 100], dtype=dtype) if dtype.startswith("u") else np.array([7, -7, 5, -100], dtype)
    num = 2.5 if dtype.startswith("f") else 3
    cu, np_impl, cu_impl = _cu(host), lookup("div_trunc_fwd", "numpy"), lookup("div_trunc_fwd", "cupy")
    if scalar_first:
        want, got = np_impl(scalar_for(host, num), host), cu_impl(num, cu)
    else:
        want, got = np_impl(host, scalar_for(host, num)), cu_impl(cu, num)
    assert got.dtype == want.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), want)
