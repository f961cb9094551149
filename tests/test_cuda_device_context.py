"""CUDA code paths outside the launchers make the array's device current before calling CuPy.

No GPU or CuPy here: a NumPy-backed stand-in models CuPy 14's device rule. An array lives on the
device that was current when it was made (views keep their base's); ``Device(i)`` is a context
manager that makes ``i`` current; a ufunc, reduction, cast, fill or element write whose array
operands live on another device raises, as CuPy does without peer access (``_check_peer_access``),
and ``copy()`` lands on the current device. The real ``CupyBackend`` runs on it; the launchers the
paths reach are replaced by their NumPy kernels run under ``with x.device:``, as the real ones do.
Every test works on ``cuda:1`` with device 0 current.
"""
from __future__ import annotations

import contextlib
import copy as _copy
import importlib
import types

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import dispatch
from autograd_gpu.backends import cuda_conv, cuda_random, cupy_backend
from autograd_gpu.dispatch import lookup
from autograd_gpu.ops import index as _index, loss_ce, sampling
from autograd_gpu.ops.fold import out_sizes
from autograd_gpu.tensor import Tensor

_device = importlib.import_module("autograd_gpu.device")   # ag.device is the class

_cur = [0]   # the stand-in's current device


class PeerAccessError(ValueError):
    """What CuPy raises for an operand on another device when peer access is unavailable."""


class Device:
    def __init__(self, i: int = 0) -> None:
        self.id = int(i)
        self._prev: list[int] = []

    def __enter__(self):
        self._prev.append(_cur[0])
        _cur[0] = self.id
        return self

    def __exit__(self, *exc) -> None:
        _cur[0] = self._prev.pop()

    def use(self) -> None:
        _cur[0] = self.id

    def synchronize(self) -> None:
        pass


def _check(*xs) -> None:
    for a in xs:
        if isinstance(a, Arr) and a._dev != _cur[0]:
            raise PeerAccessError(f"The device where the array resides ({a._dev}) is different from the current "
                                  f"device ({_cur[0]}). Peer access is unavailable between these devices.")


def _plain(a):
    return a.view(np.ndarray) if isinstance(a, Arr) else a


def _new(res):
    """A result made now: on the current device (CuPy returns 0-d arrays, never NumPy scalars)."""
    if isinstance(res, tuple):
        return tuple(_new(r) for r in res)
    out = np.asarray(res).view(Arr)
    out._dev = _cur[0]
    return out


class _Mem:
    def __init__(self, arr) -> None:
        self.arr, self.mem, self.device_id = arr, arr.base if arr.base is not None else arr, arr._dev

    def copy_from_device(self, src: "_Mem", nbytes: int) -> None:   # a memcpy: no device rule
        self.arr.view(np.ndarray).reshape(-1).view(np.uint8)[:nbytes] = \
            src.arr.view(np.ndarray).reshape(-1).view(np.uint8)[:nbytes]


class Arr(np.ndarray):
    """A stand-in ``cupy.ndarray``."""

    _dev = 0

    def __array_finalize__(self, obj) -> None:   # views keep their base's device
        self._dev = getattr(obj, "_dev", _cur[0]) if isinstance(obj, Arr) else _cur[0]

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kw):
        _check(*inputs, *(out or ()))
        if out is not None:
            kw["out"] = tuple(_plain(o) for o in out)
        res = getattr(ufunc, method)(*(_plain(i) for i in inputs), **kw)
        return (out[0] if len(out) == 1 else out) if out is not None else _new(res)

    @property
    def device(self) -> Device:
        return Device(self._dev)

    @property
    def data(self) -> _Mem:
        return _Mem(self)

    def astype(self, dtype, copy=True, **kw):
        if np.dtype(dtype) == self.dtype and not copy:
            return self
        _check(self)
        return _new(self.view(np.ndarray).astype(dtype))

    def copy(self, order="C"):   # CuPy: a copy on the current device, whatever the source's
        return _new(self.view(np.ndarray).copy(order))

    def fill(self, value) -> None:
        _check(self)
        self.view(np.ndarray).fill(value)

    def __setitem__(self, key, value) -> None:
        _check(self, value)
        self.view(np.ndarray)[key] = _plain(value)

    def get(self) -> np.ndarray:
        return self.view(np.ndarray).copy()

    def _red(name):
        def red(self, *args, **kw):
            _check(self)
            return _new(getattr(self.view(np.ndarray), name)(*args, **kw))
        return red

    for _n in ("sum", "any", "all", "min", "max", "argmin", "argmax", "argsort", "cumsum", "mean", "prod"):
        locals()[_n] = _red(_n)
    del _n, _red


def _fn(f):
    """An array-module function: operands on the current device, result made there."""
    def call(*args, **kw):
        _check(*args, *kw.values())
        return _new(f(*(_plain(a) for a in args), **{k: _plain(v) for k, v in kw.items()}))
    return call


def _alloc(f):
    def call(*args, **kw):
        return _new(f(*args, **kw))
    return call


def _asarray(a, dtype=None):
    if isinstance(a, Arr):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return _new(np.array(a, dtype=dtype))


def _ascontiguousarray(a, dtype=None):
    if isinstance(a, Arr) and a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    _check(a)
    return _new(np.ascontiguousarray(_plain(a), dtype=dtype))


def _broadcast_to(a, shape):   # a view
    out = np.broadcast_to(_plain(a), shape).view(Arr)
    out._dev = a._dev if isinstance(a, Arr) else _cur[0]
    return out


XP = types.SimpleNamespace(
    ndarray=Arr, __version__="14.0.0-standin",
    cuda=types.SimpleNamespace(Device=Device, runtime=types.SimpleNamespace(getDeviceCount=lambda: 2)),
    asarray=_asarray, ascontiguousarray=_ascontiguousarray, asnumpy=lambda a: _plain(a).copy(),
    broadcast_to=_broadcast_to,
    **{n: _alloc(getattr(np, n)) for n in ("zeros", "empty", "full", "ones", "arange")},
    **{n: _fn(getattr(np, n)) for n in ("isfinite", "cumsum", "searchsorted", "minimum", "maximum", "log1p", "argmin",
                                        "argsort", "ceil", "exp", "tan", "power", "stack", "round")})


def _launcher(op: str):
    """``op``'s NumPy kernel as a launcher: under ``with x.device:`` for its first array, as ours."""
    np_impl = lookup(op, "numpy")

    def run(*args, **kw):
        dev = next(a for a in args if isinstance(a, Arr)).device
        with dev:
            return _new(np_impl(*(_plain(a) for a in args), **kw))
    return run


def _draw(kind):
    def draw(dev, shape, *rest):
        seed, off = rest[-2:]
        rng = np.random.default_rng([seed, off])
        with Device(dev):
            if kind == "randint":
                return _new(rng.integers(rest[0], rest[1], size=shape, dtype=np.int64))
            return _new((rng.random(shape) if kind == "uniform" else rng.standard_normal(shape)).astype(rest[0]))
    return draw


_LAUNCHED = ("copy", "cast", "copy_into", "matmul_fwd", "add_fwd", "mul_fwd", "sub_fwd")


@pytest.fixture
def cuda(monkeypatch):
    """``cuda:0`` and ``cuda:1`` on the stand-in; device 0 current."""
    monkeypatch.setattr(cupy_backend, "_cp", XP)
    monkeypatch.setattr(_device, "_only_cpu", _device._only_cpu)
    for kind in ("uniform", "normal", "randint"):
        monkeypatch.setattr(cuda_random, kind, _draw(kind))
    table = dispatch._tables["cupy"]
    for op in _LAUNCHED:
        monkeypatch.setitem(table, op, _launcher(op))
    _device.register_backend("cuda", cupy_backend.CupyBackend)
    _cur[0] = 0
    yield
    _device.register_backend("cuda", _device._cuda_factory)
    _cur[0] = 0


def _on1(values, dtype=np.float64) -> Tensor:
    with Device(1):
        data = XP.asarray(np.asarray(values, dtype=dtype))
    return Tensor._make(data, ag.device("cuda:1"))


def _on_device_1(t: Tensor) -> None:
    assert t.device == ag.device("cuda:1")
    assert t._data._dev == 1, "the result's array was allocated on another device"
    assert _cur[0] == 0, "the current device was left changed"


def test_stand_in_raises_for_an_operand_on_another_device(cuda):
    x = _on1([1.0, 2.0])
    with pytest.raises(PeerAccessError):
        x._data + 1
    with x._data.device:
        assert (x._data + 1)._dev == 1


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("num_samples", [1, 2])
def test_multinomial(cuda, replacement, num_samples):
    _on_device_1(ag.multinomial(_on1([[0.2, 0.3, 0.5], [1.0, 0.0, 1.0]]), num_samples, replacement))


@pytest.mark.parametrize("name,args", [("uniform_", ()), ("normal_", ()), ("exponential_", ()),
                                       ("geometric_", (0.3,)), ("log_normal_", ()), ("cauchy_", ()),
                                       ("random_", (0, 10)), ("bernoulli_", (0.5,))])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_inplace_samplers(cuda, name, args, dtype):
    t = _on1(np.zeros(5), dtype)
    getattr(sampling, name)(t, *args)
    _on_device_1(t)


def test_bernoulli_with_tensor_probabilities(cuda):
    _on_device_1(ag.bernoulli(_on1([0.0, 0.5, 1.0])))
    t = _on1(np.zeros(3))
    sampling.bernoulli_(t, _on1([0.0, 0.5, 1.0]))
    _on_device_1(t)


def test_normal_with_tensor_std(cuda):
    _on_device_1(ag.normal(_on1([0.0, 1.0]), _on1([1.0, 2.0])))


@pytest.mark.parametrize("make", [lambda d: ag.rand(3, dtype=ag.float16, device=d),
                                  lambda d: ag.randn(3, dtype=ag.float16, device=d),
                                  lambda d: ag.randint(0, 5, (3,), dtype=ag.int32, device=d),
                                  lambda d: ag.randperm(4, dtype=ag.int32, device=d),
                                  lambda d: ag.zeros(3, device=d)])
def test_creation_on_device_1(cuda, make):
    _on_device_1(make("cuda:1"))


def test_conv_forward_bias(cuda, monkeypatch):
    x, w, bias = _on1(np.ones((2, 3, 5))), _on1(np.ones((4, 3, 3))), _on1(np.arange(4.0))
    geom = ((3,), (1,), (0,), (1,))   # kernel, dilation, padding, stride

    def im2col(x, k, dil, pad, st, _flag):
        with x.device:
            return XP.ones((x.shape[1],) + tuple(k) + (x.shape[0],) + out_sizes(x.shape[2:], k, dil, pad, st))
    monkeypatch.setattr(cuda_conv, "im2col_fwd", im2col)
    out = Tensor._make(lookup("conv_fwd", "cupy")(x._data, w._data, bias._data, geom, 1), x.device)
    _on_device_1(out)
    np.testing.assert_array_equal(out._data.get()[0, :, 0], 9.0 + np.arange(4.0))


def test_sign_of_bool(cuda):
    _on_device_1(ag.sign(_on1([True, False], np.bool_)))


def test_deepcopy(cuda):
    _on_device_1(_copy.deepcopy(_on1([1.0, 2.0])))


def test_integer_pow_checks_negative_exponents_on_their_device(cuda):
    _on_device_1(ag.pow(_on1([2, 3], np.int64), _on1([2, 1], np.int64)))
    with pytest.raises(RuntimeError, match="negative integer powers"):
        ag.pow(_on1([2, 3], np.int64), _on1([-1, 1], np.int64))


@pytest.mark.parametrize("idx_dtype", [np.int64, np.uint8])
def test_index_bounds_check_and_byte_mask(cuda, idx_dtype):
    x = _on1(np.arange(6.0).reshape(3, 2))
    idx = _on1([1, 0, 1], idx_dtype)
    with pytest.warns(UserWarning) if idx_dtype == np.uint8 else contextlib.nullcontext():
        _index._normalize(x, (idx,))
    assert _cur[0] == 0
    with pytest.raises(IndexError):
        _index._normalize(x, (_on1([0, 3], np.int64),))


def test_cross_entropy_full_rows(cuda):
    rows = loss_ce._full_rows(_on1(np.zeros((2, 3, 4))), (2, 3, 4), 7.0)
    assert rows._dev == 1 and (rows.get() == 7.0).all()


def test_to_between_devices(cuda):
    """``_move``: read on the source device, written on the destination."""
    x = _on1([1.0, 2.0])
    y = x.to("cuda:0")
    assert y.device == ag.device("cuda:0") and y._data._dev == 0
    _on_device_1(y.to("cuda:1"))
    np.testing.assert_array_equal(x.to("cpu").numpy(), [1.0, 2.0])
