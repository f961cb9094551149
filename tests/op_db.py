"""The op table: one row (``OpInfo``) per public op, read by ``test_op_table.py``.

PyTorch's OpInfo idea, our own code. A row names the op, a NumPy reference with the op's own
signature (arrays where the op takes tensors), the PyTorch name to compare against, sample
inputs, the dtypes it supports, how far it is differentiable, and which generated tests apply.

Samples are templates: ``S(Arr((2, 3)), 1, keepdim=True)`` stands for ``op(x, 1, keepdim=True)``
with ``x`` a (2, 3) array drawn (from a seeded ``numpy.random.default_rng``) in the dtype under
test; ``Idx``/``Mask`` are int64/bool arrays that stay so whatever the dtype. A row's samples are
grouped by case: ``main`` (every test), ``0d``, ``empty``, ``broadcast`` and ``special`` (nan/inf
inputs and odd arguments, forward only): the tests of those names run for the rows that have that case.

A real mismatch found here is a bug: its row gets a strict xfail whose reason names it (``BUG_*``).
"""
from __future__ import annotations

import importlib
import math
import operator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

import autograd_gpu as ag
from autograd_gpu.ops import registry
from helpers import make

F32, F64, I64, BOOL = ag.float32, ag.float64, ag.int64, ag.bool
FLOAT = (F32, F64)
NUM = (F32, F64, I64)
ALL = (F32, F64, I64, BOOL)
INF = math.inf


# sample templates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """Where drawn values lie: floats in (low, high) at least ``margin`` from each ``avoid`` point
    (kinks), rounded to ``grid`` when set (so comparisons see ties); ints in ``ints``; ``specials``
    plants nan/inf/-inf."""
    low: float = -1.0
    high: float = 1.0
    avoid: tuple = ()
    margin: float = 0.1
    ints: tuple | None = None
    grid: float | None = None
    specials: bool = False

    def int_range(self) -> tuple:
        if self.ints is not None:
            return self.ints
        lo = math.ceil(self.low * 3) if self.low > 0 else math.floor(self.low * 3)
        return max(-5, lo), min(5, math.ceil(self.high * 3))


def values(rng, shape, dtype, dom: Domain = Domain()) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` (an ``ag`` dtype) with values in ``dom``."""
    npd = dtype.np
    if npd.kind == "b":
        out = rng.random(shape) < 0.5
    elif npd.kind in "iu":
        lo, hi = dom.int_range()
        out = rng.integers(lo, hi + 1, shape).astype(npd)
        for p in dom.avoid:
            if float(p).is_integer():
                out[out == p] = p + 1 if p + 1 <= hi else p - 1
    else:   # tie-free and away from kinks: helpers.make, seeded from rng
        out = make(tuple(shape), low=dom.low, high=dom.high, avoid=list(dom.avoid) or None, margin=dom.margin,
                   requires_grad=False, seed=int(rng.integers(2 ** 31))).numpy().reshape(shape)
        if dom.grid:
            out = np.round(out / dom.grid) * dom.grid
        out = out.astype(npd)
    out = np.asarray(out)   # a 0-d array, not a NumPy scalar
    if dom.specials and npd.kind == "f" and out.size >= 3:
        out.flat[:3] = (np.nan, np.inf, -np.inf)
    return out


@dataclass(frozen=True)
class Arr:
    """An input tensor: ``shape``, values in ``dom``, the tested dtype unless ``dtype`` is given."""
    shape: tuple
    dom: Domain = Domain()
    dtype: Any = None

    def draw(self, rng, dtype):
        return values(rng, self.shape, self.dtype or dtype, self.dom)


@dataclass(frozen=True)
class Idx:
    """An int64 index array with values in [0, high); ``unique_dim``: no repeats along that dim
    (needs ``shape[unique_dim] <= high``); ``neg``: every other entry written as its negative alias."""
    shape: tuple
    high: int
    unique_dim: int | None = None
    neg: bool = False

    def draw(self, rng, dtype):
        if self.unique_dim is None:
            out = rng.integers(0, self.high, self.shape)
        else:
            d = self.unique_dim
            full = self.shape[:d] + (self.high,) + self.shape[d + 1:]
            out = np.argsort(rng.random(full), axis=d).take(range(self.shape[d]), axis=d)
        out = np.asarray(out, dtype=np.int64)
        if self.neg:
            out.flat[::2] -= self.high
        return out


@dataclass(frozen=True)
class Mask:
    shape: tuple

    def draw(self, rng, dtype):
        return np.asarray(rng.random(self.shape) < 0.5)


@dataclass(frozen=True)
class Scalar:
    """A Python number inside ``dom``, of the tested dtype's kind."""
    dom: Domain = Domain()

    def draw(self, rng, dtype):
        if dtype.np.kind == "b":
            return True
        if dtype.np.kind in "iu":
            return int(self.dom.int_range()[1])
        return round(self.dom.low + 0.7 * (self.dom.high - self.dom.low), 3)


def S(*args, **kwargs) -> tuple:
    """One sample: the op's (args, kwargs)."""
    return args, kwargs


def walk(obj, leaf_type, fn):
    """``obj`` with every ``leaf_type`` inside (nested tuples/lists/dict values) replaced by ``fn(leaf)``."""
    if isinstance(obj, leaf_type):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(walk(o, leaf_type, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: walk(v, leaf_type, fn) for k, v in obj.items()}
    return obj


def draw(template, rng, dtype):
    """The template with every placeholder replaced by its drawn value."""
    return walk(template, (Arr, Idx, Mask, Scalar), lambda p: p.draw(rng, dtype))


class Cases(dict):
    """case -> sample templates. ``cases(rng, dtype, case)`` draws that case's samples."""

    def __call__(self, rng, dtype, case: str = "main") -> list:
        return [draw(t, rng, dtype) for t in self.get(case, ())]


# the row -------------------------------------------------------------------------------------------
TESTS = ("forward", "torch", "special", "grad", "noncontig", "broadcast", "0d", "empty", "cuda", "random")
SAME = "same"   # torch=SAME: the row's ``call`` only uses methods/operators, so it runs on torch tensors too


@dataclass
class OpInfo:
    name: str
    ref: Callable | None             # NumPy reference: same args as the op, arrays for tensors
    sample_inputs: Cases
    dtypes: tuple = FLOAT
    grad: int = 2                    # 0: not differentiable, 1: gradcheck, 2: also gradgradcheck
    torch: str | None = ""           # PyTorch name ("" = ours; dotted = a path under torch); None: none
    call: Callable | None = None     # how the tests invoke it, when not ``ag.<name>`` & co
    check: Callable | None = None    # (out, *args, **kwargs) -> asserts; for ops without a value reference
    supports_noncontiguous: bool | None = None
    inplace_of: str | None = None    # the first argument is the output (the tests pass a clone)
    is_view: bool = False            # the output shares memory with the first input
    is_random: bool = False
    is_creation: bool = False        # makes a tensor (no gradient; CUDA through its device= argument)
    raw_args: bool = False           # takes NumPy data itself: arrays are passed unconverted
    compare_values: bool = True      # False: only shape and dtype are defined (empty, rand)
    torch_grad: bool = True          # False: PyTorch cannot differentiate these samples (see the row)
    tol: dict = field(default_factory=dict)      # dtype name -> (rtol, atol), overrides helpers.TOL
    skips: dict = field(default_factory=dict)    # test (or "test:dtype") -> reason
    xfails: dict = field(default_factory=dict)   # test (or "test:dtype") -> reason naming the bug (strict)

    def __post_init__(self):
        assert self.ref is not None or self.check is not None, f"{self.name}: no reference and no check"
        assert set(self.skips) | set(self.xfails) <= {f"{t}{s}" for t in TESTS for s in
                                                      ("",) + tuple(f":{d.name}" for d in ALL)}, self.name
        if self.supports_noncontiguous is None:
            self.supports_noncontiguous = not (self.is_creation or self.is_random or self.raw_args)
        if self.torch == "":
            self.torch = self.name

    @property
    def supports_0d(self) -> bool:
        return "0d" in self.sample_inputs

    @property
    def supports_empty(self) -> bool:
        return "empty" in self.sample_inputs

    @property
    def supports_broadcast(self) -> bool:
        return "broadcast" in self.sample_inputs

    @property
    def op(self) -> Callable:
        return self.call or resolve(self.name)


def resolve(name: str) -> Callable:
    """``ag.X`` if exported as a function, else ``ag.nn.functional.X``, else the Tensor method."""
    if name in registry.FUNCTIONS:
        return getattr(ag, name)
    if name in registry.NN_FUNCTIONAL:
        return getattr(ag.nn.functional, name)
    return getattr(ag.Tensor, name)


# families: shapes and sample sets ------------------------------------------------------------------
POS = Domain(0.3, 2.0)
NONZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.3)
KINK0 = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.1)
WIDE = Domain(-3.0, 3.0)
STEPS = Domain(-2.2, 2.2, avoid=(-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2), margin=0.05)  # floor/round/...
TIES = Domain(-1.0, 1.0, grid=0.5)    # comparisons: equal elements, zeros
SPECIALS = Domain(specials=True)
X, X0, XE = Arr((2, 3)), Arr(()), Arr((0, 3))


def cases(main, zero_d=(), empty=(), broadcast=(), special=()) -> Cases:
    """The sample templates of each case; a case left empty does not apply to the row."""
    return Cases({k: list(v) for k, v in (("main", main), ("0d", zero_d), ("empty", empty), ("broadcast", broadcast),
                                          ("special", special)) if v})


def elementwise(n_inputs: int, doms=(Domain(), Domain()), variants=(S(),), scalar: bool = False) -> Cases:
    """``n_inputs`` same-shape tensors (main, 0d, empty; each in turn with nan/inf for special). Binary
    ops also mix 0-d with 1-d, broadcast, meet a float64 tensor (promotion where NumPy's rule is
    PyTorch's) and, when ``scalar``, a Python number."""
    doms = doms[:n_inputs]

    def group(shapes, ds=doms, dtypes=(None, None), vs=variants):
        return [S(*(Arr(s, d, t) for s, d, t in zip(shapes, ds, dtypes)), *a, **k) for a, k in vs]

    def same(shape):
        return group([shape] * n_inputs)
    special = [t for i in range(n_inputs)
               for t in group([(2, 3)] * n_inputs, [replace(d, specials=j == i) for j, d in enumerate(doms)])]
    if n_inputs == 1:
        return cases(same((2, 3)), same(()), same((0, 3)), special=special)
    main = same((2, 3)) + group([(2, 3)] * 2, dtypes=(None, F64), vs=variants[:1])
    if scalar:
        main += [S(Arr((2, 3), doms[0]), Scalar(doms[1]), *a, **k) for a, k in variants]
    zero_d = same(()) + group([(), (3,)], vs=variants[:1])
    empty = same((0, 3)) + group([(0, 3), (3,)], vs=variants[:1])
    return cases(main, zero_d, empty, group([(3, 1), (4,)]) + group([(2, 1, 3), (4, 1)]), special)


def on_one(main, zero_d=(), empty=(), shape=(2, 3), dom: Domain = Domain(), special=False) -> Cases:
    """One input tensor (``shape``; (), (0, 3) for 0d/empty) followed by each sample's further args,
    given as ``S(...)``; ``special``: ``main`` again with nan/inf inputs."""
    def group(s, d, variants):
        return [S(Arr(s, d), *a, **k) for a, k in variants]
    return cases(group(shape, dom, main), group((), dom, zero_d), group((0, 3), dom, empty),
                 special=group(shape, replace(dom, specials=True), main if special else ()))


def _float_in(ref):
    """Reference of an op that computes in float: integer/bool inputs go in as float32 (PyTorch's rule)."""
    def wrapped(a, *args, **kwargs):
        return ref(a.astype(np.float32) if a.dtype.kind in "biu" else a, *args, **kwargs)
    return wrapped


def unary(name, ref, dom: Domain = Domain(), variants=(S(),), float_result=False, **kw) -> OpInfo:
    kw.setdefault("dtypes", ALL if float_result else NUM)
    return OpInfo(name, _float_in(ref) if float_result else ref, elementwise(1, (dom,), variants), **kw)


def binary(name, ref, dx: Domain = Domain(), dy: Domain = Domain(), variants=(S(),), scalar=True, **kw) -> OpInfo:
    kw.setdefault("dtypes", NUM)
    return OpInfo(name, ref, elementwise(2, (dx, dy), variants, scalar), **kw)


def compare_op(name, ref, n_inputs=2, dom=TIES, scalar=True, **kw) -> OpInfo:
    return OpInfo(name, ref, elementwise(n_inputs, (dom, dom), scalar=scalar), **{"dtypes": ALL, "grad": 0, **kw})


def reduction(name, ref, main, zero_d=(), empty=(), dom: Domain = Domain(), **kw) -> OpInfo:
    """A (2, 3) input reduced/scanned as each sample says, and again with nan/inf inputs."""
    return OpInfo(name, ref, on_one(main, zero_d, empty, dom=dom, special=True), **kw)


def inplace(name, ref, samples: Cases, dtypes=FLOAT, **kw) -> OpInfo:
    return OpInfo(name, ref, samples, dtypes=dtypes, inplace_of=name[:-1], **kw)


def inplace_binary(name, ref, dom: Domain = Domain(), variants=(S(),), **kw) -> OpInfo:
    """``x.op_(other)``: other of x's shape, broadcast to it, a Python number."""
    return inplace(name, ref, cases([S(X, Arr((2, 3), dom), *a, **k) for a, k in variants] + [
        S(X, Arr((3,), dom), *variants[-1][0], **variants[-1][1]), S(X, Scalar(dom))],
        [S(X0, Arr((), dom))], [S(XE, Arr((3,), dom))]), **kw)


def creation(name, ref, main, **kw) -> OpInfo:
    """Samples hold the op's arguments themselves (sizes, values, dtype=...); no gradient."""
    return OpInfo(name, ref, cases(main), **{"dtypes": (F32,), "is_creation": True, "grad": 0, **kw})


def random_op(name, ref, main, check) -> OpInfo:
    """``ref`` gives the expected shape and dtype; ``check`` the range; test_random the seeding."""
    return creation(name, ref, main, is_random=True, check=check, compare_values=False)


# NumPy references ----------------------------------------------------------------------------------
def _axis(dim):
    return None if dim is None or dim == () else tuple(dim) if isinstance(dim, (tuple, list)) else dim


def _on_0d(ref):
    """PyTorch accepts dim 0/-1 on a 0-d tensor (result 0-d); NumPy does not: reduce a (1,) copy."""
    def wrapped(a, *args, **kwargs):
        if np.ndim(a) == 0 and (args or kwargs.get("dim") is not None):
            out = ref(np.reshape(a, (1,)), *args, **kwargs)
            return tuple(np.reshape(o, ()) for o in out) if isinstance(out, tuple) else np.reshape(out, ())
        return ref(a, *args, **kwargs)
    return wrapped


def _red(fn):
    return _on_0d(lambda a, dim=None, keepdim=False, *, dtype=None: np.asarray(
        fn(a if dtype is None else a.astype(dtype.np), axis=_axis(dim), keepdims=keepdim)))


def _np_maxmin(red, arg, pairwise):
    """max/min: all elements; with a dim the (values, indices) pair; with a tensor, elementwise."""
    def ref(a, dim=None, keepdim=False):
        if isinstance(dim, np.ndarray):
            return pairwise(a, dim)
        if dim is None:
            return np.asarray(red(a))
        return np.asarray(red(a, axis=dim, keepdims=keepdim)), np.asarray(arg(a, axis=dim, keepdims=keepdim))
    return _on_0d(ref)


def _np_arg(fn):
    return _on_0d(lambda a, dim=None, keepdim=False: np.asarray(fn(a, axis=dim, keepdims=keepdim)))


def _np_var(fn):
    def ref(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
        ddof = correction if correction is not None else 0 if unbiased is False else 1
        return np.asarray(fn(a, axis=_axis(dim), ddof=ddof, keepdims=keepdim))
    return _on_0d(ref)


def _max_or_0(a, dim):
    """The max along ``dim`` for shifting exponentials (0 where all are -inf or the dim is empty)."""
    m = np.max(a, axis=dim, keepdims=True, initial=-INF)
    return np.where(m == -INF, 0, m).astype(a.dtype)


def _np_logsumexp(a, dim, keepdim=False):
    m = _max_or_0(a, _axis(dim))
    out = np.log(np.sum(np.exp(a - m), axis=_axis(dim), keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=_axis(dim))


def _np_norm(a, p="fro", dim=None, keepdim=False):
    x, ax = np.abs(a), _axis(dim)
    if p in ("fro", 2):
        out = np.sqrt(np.sum(x * x, axis=ax, keepdims=keepdim))
    elif p in (INF, -INF):
        out = (np.max if p > 0 else np.min)(x, axis=ax, keepdims=keepdim)
    elif p == 0:
        out = np.sum(x != 0, axis=ax, keepdims=keepdim)
    else:
        out = np.sum(x ** p, axis=ax, keepdims=keepdim) ** (1 / p)
    return np.asarray(out).astype(a.dtype)


def _np_softmax(a, dim, dtype=None):
    e = np.exp(a - _max_or_0(a, dim))
    return e / np.sum(e, axis=dim, keepdims=True)


def _np_log_softmax(a, dim, dtype=None):
    z = a - _max_or_0(a, dim)
    return z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))


def _cum(fn):
    return _on_0d(lambda a, dim, *, dtype=None: fn(a if dtype is None else a.astype(dtype.np), axis=dim))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _np_gelu(a, approximate="none"):
    if approximate == "tanh":
        out = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
    else:
        out = 0.5 * a * (1 + _erf(a / math.sqrt(2)))
    return out.astype(a.dtype)


def _np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _np_softplus(a, beta=1.0, threshold=20.0):
    return np.where(beta * a > threshold, a, np.log1p(np.exp(beta * a)) / beta).astype(a.dtype)


def _int_pair(a, b) -> bool:
    return np.result_type(a, b).kind in "biu"


def _np_div(a, b, rounding_mode=None):
    if rounding_mode == "floor":
        return np.floor_divide(a, b)
    if _int_pair(a, b):   # PyTorch divides integers in the default float dtype
        q = np.true_divide(np.asarray(a, np.float32), np.asarray(b, np.float32))
    else:
        q = np.true_divide(a, b)
    if rounding_mode == "trunc":
        return np.trunc(q).astype(np.result_type(a, b))
    return q


def _np_clamp(a, min=None, max=None):  # noqa: A002 - PyTorch's names
    out = a if min is None else np.maximum(a, min)
    out = out if max is None else np.minimum(out, max)
    return out.astype(np.result_type(a, *(v for v in (min, max) if v is not None)))


def _sizes(size) -> tuple:
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _np_reshape(a, *shape):
    return a.reshape(_sizes(shape))


def _np_reshape_as(a, other):
    return a.reshape(other.shape)


def _np_unflatten(a, dim, sizes):
    d = dim % a.ndim
    return a.reshape(a.shape[:d] + tuple(sizes) + a.shape[d + 1:])


def _np_cat(tensors, dim=0):
    return np.concatenate(tensors, axis=dim)


def _np_flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return a.reshape(1)
    s, e = start_dim % a.ndim, end_dim % a.ndim
    return a.reshape(a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:])


def _np_squeeze(a, dim=None):
    if a.ndim == 0:
        return a
    dims = range(a.ndim) if dim is None else np.atleast_1d(dim) % a.ndim
    return a.squeeze(tuple(int(d) for d in dims if a.shape[d] == 1))


def _np_split(a, size_or_sections, dim=0):
    n = a.shape[dim]
    if n == 0 and not isinstance(size_or_sections, (tuple, list)):
        return (a,)
    if isinstance(size_or_sections, (tuple, list)):
        sizes = list(size_or_sections)
    else:
        q, r = divmod(n, size_or_sections)
        sizes = [size_or_sections] * q + ([r] if r else [])
    return tuple(np.split(a, np.cumsum(sizes)[:-1], axis=dim))


def _np_chunk(a, chunks, dim=0):
    n = a.shape[dim]
    return (a,) * chunks if n == 0 else _np_split(a, -(-n // chunks), dim)


def _np_swapaxes(a, dim0, dim1):
    return a if a.ndim == 0 else np.swapaxes(a, dim0, dim1)


def _np_expand(a, *sizes):
    sizes = _sizes(sizes)
    lead = len(sizes) - a.ndim
    return np.broadcast_to(a, tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes)))


def _np_narrow(a, dim, start, length):
    start = start % a.shape[dim]
    return np.take(a, np.arange(start, start + length), axis=dim)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _np_pad(a, pad, mode="constant", value=None):
    widths = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    extra = {"constant_values": value or 0} if mode == "constant" else {}
    return np.pad(a, widths, _PAD_MODES[mode], **extra)


def _assign(t, index, value):
    """``t[index] = value`` on a copy, returning it: setitem as a function; runs on ag/torch tensors."""
    t = t.copy() if isinstance(t, np.ndarray) else t.clone()
    t[index] = value
    return t


def _np_scatter(a, dim, index, src=None, *, value=None, reduce=None, add=False):
    out = a.copy()
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim % a.ndim] = index
    vals = value if src is None else src[tuple(slice(0, s) for s in index.shape)] if np.ndim(src) else src
    if add:
        np.add.at(out, tuple(grid), vals)
    else:
        out[tuple(grid)] = vals
    return out


def _np_index_add(a, dim, index, source, *, alpha=1):
    out = a.copy()
    np.add.at(out, (slice(None),) * (dim % a.ndim) + (index,), alpha * source)
    return out


def _np_put(a, index, source, accumulate=False):
    out = a.copy().reshape(-1)
    if accumulate:
        np.add.at(out, index.reshape(-1), source.reshape(-1))
    else:
        out[index.reshape(-1)] = source.reshape(-1)
    return out.reshape(a.shape)


def _np_masked_select(a, mask):
    ab, mb = np.broadcast_arrays(a, mask)
    return ab[mb]


def _np_dtype(dtype, default=np.float32):
    return np.dtype(default) if dtype is None else dtype.np


def _scalar_dtype(v):
    return np.bool_ if isinstance(v, bool) else np.int64 if isinstance(v, int) else np.float32


def _np_tensor(data, dtype=None, device=None, requires_grad=False):
    """PyTorch's inference: NumPy data keeps its dtype; Python floats give float32, ints int64."""
    if dtype is not None:
        return np.array(data, dtype=dtype.np)
    arr = np.array(data)
    if isinstance(data, np.ndarray) or arr.dtype.kind == "b":
        return arr
    return arr.astype(np.float32 if arr.dtype.kind == "f" else np.int64)


def _np_full(size, fill_value, dtype=None, **_):
    return np.full(size, fill_value, _np_dtype(dtype, _scalar_dtype(fill_value)))


def _np_linspace(start, end, steps, *, dtype=None, **_):
    return np.linspace(start, end, steps).astype(_np_dtype(dtype))


def _np_arange(start, end=None, step=1, *, dtype=None, **_):
    """PyTorch's arange: float arguments give float32; with an integer dtype the length comes from the
    float arguments but the values from start and step truncated to integers."""
    if end is None:
        start, end = 0, start
    is_float = any(isinstance(v, float) for v in (start, end, step))
    npd = _np_dtype(dtype, np.float32 if is_float else np.int64)
    if npd.kind in "iu":
        return (int(start) + np.arange(math.ceil((end - start) / step)) * int(step)).astype(npd)
    return np.arange(start, end, step).astype(npd)


def _np_randint(low, high=None, size=None, *, dtype=None, **_):
    if size is None:
        size = high
    return np.empty(_sizes((size,)), _np_dtype(dtype, np.int64))


def _like(fn):
    return lambda a, *args, dtype=None, **_: fn(a, *args, dtype=_np_dtype(dtype, a.dtype))


def _filled(fn):
    return lambda *size, dtype=None, **_: fn(_sizes(size), _np_dtype(dtype))


# checks for ops without a value reference ---------------------------------------------------------
def _check_uniform(out, *args, **kwargs):
    assert ((out >= 0) & (out < 1)).all(), "rand: values outside [0, 1)"
    if out.size >= 1000:
        assert abs(out.mean() - 0.5) < 0.05 and abs(out.std() - 12 ** -0.5) < 0.05


def _check_normal(out, *args, **kwargs):
    assert np.isfinite(out).all()
    if out.size >= 1000:
        assert abs(out.mean()) < 0.1 and abs(out.std() - 1) < 0.1


def _check_randint(out, low, high=None, size=None, **kwargs):
    if size is None:
        low, high = 0, low
    assert ((out >= low) & (out < high)).all(), f"randint: values outside [{low}, {high})"
    if out.size >= 100:
        assert set(np.unique(out)) == set(range(low, high)), "randint: some values never drawn"


def _check_randperm(out, n, **kwargs):
    assert sorted(out.tolist()) == list(range(n)), "randperm: not a permutation"


def _seeded_draws(seed):
    """What ``manual_seed`` promises: the same seed gives the same numbers from every random op."""
    ag.manual_seed(seed)
    return ag.rand(4), ag.randn(4), ag.randint(0, 1000, (4,)), ag.randperm(8)


def _check_manual_seed(out, seed):
    again = [t.numpy() for t in _seeded_draws(seed)]
    other = [t.numpy() for t in _seeded_draws(seed + 1)]
    for a, b, c in zip(out, again, other):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c), "a different seed gave the same numbers"


def _seed_then_initial(seed):
    ag.manual_seed(seed)
    return ag.initial_seed()


# the table -----------------------------------------------------------------------------------------
ROUNDING = dict(dom=STEPS, grad=1)   # piecewise constant: gradient zero away from the steps
M34 = Arr((3, 4))
REDUCE_DIMS = [S(), S(1), S(-1, keepdim=True), S((0, 1)), S((0, -1), keepdim=True)]
REDUCE_0D = [S(), S(0), S(-1, keepdim=True)]
MAXMIN = [S(), S(1), S(0, keepdim=True), S(-1, True), S(Arr((2, 3)))]   # all, (values, indices), elementwise
SOFTMAX = dict(main=[S(1), S(0), S(-1)], zero_d=[S(0)], empty=[S(1), S(0)])
CAT = cases([S([X, Arr((2, 2))], 1), S((X, Arr((1, 3))), -2), S([Arr((2,)), Arr((3,))])],
            empty=[S([XE, X]), S([Arr((2, 0)), X], 1)])
CLAMP = cases([S(Arr((2, 3), Domain(avoid=(-0.5, 0.5))), -0.5, 0.5), S(Arr((2, 3), Domain(avoid=(-0.5,))), min=-0.5),
               S(Arr((2, 3), Domain(avoid=(0.5,))), max=0.5), S(X, 0.5, -0.5),
               S(Arr((2, 3), WIDE), Arr((3,), Domain(-1.5, -0.5)), Arr((2, 1), Domain(0.5, 1.5)))],
              [S(Arr((), Domain(avoid=(-0.5, 0.5))), -0.5, 0.5)], [S(XE, min=-0.5)],
              [S(Arr((3, 1), WIDE), Arr((4,), Domain(-1.5, -0.5)), Arr((1, 4), Domain(0.5, 1.5)))],
              [S(Arr((2, 3), SPECIALS), -0.5, 0.5), S(X, Arr((3,), SPECIALS), Arr((2, 1), Domain(0.5, 1.5))),
               S(X, max=Arr((3,), SPECIALS))])
TENSOR_DATA = [S(np.arange(6.0).reshape(2, 3)), S([[1, 2], [3, 4]]), S([1.5, -2.0]), S(3.0), S([True, False]),
               S(np.arange(4, dtype=np.int32), dtype=F64), S([]), S([1, 2.5]), S([[True], [False]], dtype=I64)]
SIZES = [S(2, 3), S([2, 3]), S(4, dtype=I64), S(0, 3), S(()), S(2, dtype=F64, requires_grad=True)]
LIKE = dict(main=[S(X), S(X, dtype=I64)], zero_d=[S(X0)], empty=[S(XE)])
RESHAPE_AS = cases([S(Arr((2, 3, 4)), Mask((6, 4)))], [S(X0, Mask((1,)))], [S(XE, Mask((3, 0)))])
TRI = cases([S(M34), S(M34, 1), S(Arr((4, 3)), -1), S(Arr((2, 3, 3)), -1)], empty=[S(XE)])
OUTER = cases([S(Arr((3,)), Arr((4,)))], empty=[S(Arr((0,)), Arr((2,)))])
CLAMP_ = cases([S(Arr((2, 3), Domain(avoid=(-0.5, 0.5))), -0.5, 0.5), S(Arr((2, 3), Domain(avoid=(0.2,))), max=0.2)],
               [S(Arr((), Domain(avoid=(0.2,))), min=0.2)], [S(XE, -0.5, 0.5)])

OP_DB: list[OpInfo] = [
    # unary, result in float (integer/bool inputs computed in float32) ---------------------------------
    unary("exp", np.exp, float_result=True),
    unary("expm1", np.expm1, float_result=True),
    unary("log", np.log, POS, float_result=True),
    unary("log1p", np.log1p, Domain(-0.7, 2.0), float_result=True),
    unary("sqrt", np.sqrt, POS, float_result=True),
    unary("rsqrt", lambda a: 1 / np.sqrt(a), POS, float_result=True),
    unary("reciprocal", np.reciprocal, NONZERO, float_result=True),
    unary("sin", np.sin, WIDE, float_result=True),
    unary("cos", np.cos, WIDE, float_result=True),
    unary("tan", np.tan, Domain(-1.2, 1.2), float_result=True),
    unary("tanh", np.tanh, Domain(-2.0, 2.0), float_result=True),
    unary("sigmoid", _np_sigmoid, WIDE, float_result=True),
    unary("gelu", _np_gelu, WIDE, variants=(S(), S(approximate="tanh")), dtypes=FLOAT, tol={"float64": (1e-10, 1e-12)},
          skips={"special:float32": "torch's float32 gelu(inf) is nan (its float64, NumPy and ours: inf)"}),
    unary("silu", lambda a: a * _np_sigmoid(a), WIDE, dtypes=FLOAT),
    unary("softplus", _np_softplus, Domain(-3.0, 3.0, avoid=(0.5,)), variants=(S(), S(beta=2.0, threshold=1.0)),
          dtypes=FLOAT),
    unary("elu", lambda a, alpha=1.0: np.where(a > 0, a, alpha * np.expm1(a)).astype(a.dtype), KINK0,
          variants=(S(), S(alpha=0.5)), dtypes=FLOAT),
    unary("leaky_relu", lambda a, negative_slope=0.01: np.where(a > 0, a, negative_slope * a).astype(a.dtype), KINK0,
          variants=(S(), S(0.2)), dtypes=FLOAT),
    # unary, result in the input's dtype --------------------------------------------------------------
    unary("neg", np.negative),
    unary("negative", np.negative),
    unary("abs", np.abs, KINK0),
    unary("absolute", np.abs, KINK0),
    unary("square", np.square),
    unary("relu", lambda a: np.maximum(a, 0).astype(a.dtype), KINK0),
    unary("sign", lambda a: np.where(np.isnan(a), 0, np.sign(a)).astype(a.dtype), KINK0, grad=1),
    unary("floor", np.floor, **ROUNDING),
    unary("ceil", np.ceil, **ROUNDING),
    unary("trunc", np.trunc, **ROUNDING),
    unary("fix", np.trunc, **ROUNDING),
    unary("round", lambda a, decimals=0: np.round(a, decimals), variants=(S(), S(decimals=1)), **ROUNDING,
          skips={"torch:int64": "torch.round has no integer kernel ('round_cpu' not implemented for 'Long')"}),
    # binary arithmetic ---------------------------------------------------------------------------------
    binary("add", lambda a, b, alpha=1: a + alpha * b, variants=(S(), S(alpha=2))),
    binary("sub", lambda a, b, alpha=1: a - alpha * b, variants=(S(), S(alpha=2))),
    binary("mul", np.multiply, dtypes=ALL),
    binary("div", _np_div, dy=NONZERO, variants=(S(), S(rounding_mode="trunc"), S(rounding_mode="floor"))),
    binary("true_divide", _np_div, dy=NONZERO),
    binary("floor_divide", np.floor_divide, WIDE, NONZERO, grad=1,
           torch_grad=False),   # torch: 'derivative for aten::floor_divide is not implemented' (ours: zero)
    binary("remainder", np.remainder, WIDE, NONZERO),
    binary("pow", np.power, POS, Domain(-1.0, 1.0, ints=(0, 3))),
    binary("maximum", np.maximum, scalar=False),
    binary("minimum", np.minimum, scalar=False),
    # comparison and logic (bool results, no gradient) -------------------------------------------------
    compare_op("eq", np.equal),
    compare_op("ne", np.not_equal),
    compare_op("lt", np.less),
    compare_op("le", np.less_equal),
    compare_op("gt", np.greater),
    compare_op("ge", np.greater_equal),
    compare_op("logical_and", np.logical_and, scalar=False),
    compare_op("logical_or", np.logical_or, scalar=False),
    compare_op("logical_xor", np.logical_xor, scalar=False),
    compare_op("logical_not", np.logical_not, n_inputs=1),
    compare_op("bitwise_not", np.invert, n_inputs=1, dtypes=(I64, BOOL)),
    compare_op("isnan", np.isnan, n_inputs=1, dom=SPECIALS, dtypes=NUM),
    compare_op("isinf", np.isinf, n_inputs=1, dom=SPECIALS, dtypes=NUM),
    compare_op("isfinite", np.isfinite, n_inputs=1, dom=SPECIALS, dtypes=NUM),
    # clamp, where, masks --------------------------------------------------------------------------------
    OpInfo("clamp", _np_clamp, CLAMP),
    OpInfo("clip", _np_clamp, CLAMP),
    OpInfo("where", np.where, cases(
        [S(Mask((2, 3)), X, X), S(Mask((2, 3)), X, Scalar()), S(Mask((2, 3)), Scalar(), X),
         S(Mask((2, 3)))],   # where(condition) alone: the indices of the true elements
        [S(Mask(()), X0, X0)], [S(Mask((0, 3)), XE, Arr((3,)))],
        [S(Mask((3, 1)), Arr((4,)), Arr((1, 4))), S(Mask((4,)), Arr((3, 1)), Scalar())]), dtypes=ALL,
           call=ag.where),   # Tensor.where(condition, other) is another signature (test_parity_logic)
    OpInfo("masked_fill", lambda a, mask, value: np.where(mask, value, a).astype(a.dtype), cases(
        [S(X, Mask((2, 3)), Scalar()), S(X, Mask((3,)), X0)], [S(X0, Mask(()), Scalar())],
        [S(XE, Mask((0, 3)), Scalar())], [S(M34, Mask((3, 1)), Scalar())]), dtypes=ALL),
    OpInfo("masked_select", _np_masked_select, cases(
        [S(X, Mask((2, 3))), S(X, Mask((3,))), S(Arr((3, 1)), Mask((4,)))], [S(X0, Mask(()))], [S(XE, Mask((3,)))]),
           dtypes=ALL),
    # reductions and scans (each also with nan/inf inputs) ------------------------------------------------
    reduction("sum", _red(np.sum), REDUCE_DIMS + [S(dtype=F64)], REDUCE_0D, [S(), S(1), S(0)], dtypes=ALL),
    reduction("mean", _red(np.mean), REDUCE_DIMS, REDUCE_0D, [S(1), S(0)]),
    reduction("prod", _red(np.prod), [S(), S(1), S(-2, keepdim=True)], REDUCE_0D[:2], [S(), S(1)],
              Domain(avoid=(0.0,)), dtypes=ALL),
    reduction("amax", _red(np.max), REDUCE_DIMS, REDUCE_0D, [S(1)], dtypes=NUM),
    reduction("amin", _red(np.min), REDUCE_DIMS, REDUCE_0D, [S(1)], dtypes=NUM),
    reduction("max", _np_maxmin(np.max, np.argmax, np.maximum), MAXMIN, REDUCE_0D, [S(1)], dtypes=NUM),
    reduction("min", _np_maxmin(np.min, np.argmin, np.minimum), MAXMIN, REDUCE_0D, [S(1)], dtypes=NUM),
    reduction("argmax", _np_arg(np.argmax), MAXMIN[:3] + [S(keepdim=True)], [S(), S(0)], [S(1)], dtypes=NUM, grad=0),
    reduction("argmin", _np_arg(np.argmin), MAXMIN[:3] + [S(keepdim=True)], [S(), S(0)], [S(1)], dtypes=NUM, grad=0),
    *(reduction(name, _np_var(fn), [S(), S(1), S(1, unbiased=False), S((0, 1), correction=0, keepdim=True),
                                    S(-1, keepdim=True)], [S(0, correction=0)], [S(1)], tol={"float64": (1e-10, 1e-12)})
      for name, fn in (("var", np.var), ("std", np.std))),
    reduction("logsumexp", _on_0d(_np_logsumexp), [S(1), S(-1, keepdim=True), S((0, 1))], [S(0)], [S(1), S(0)]),
    reduction("norm", _on_0d(_np_norm), [S(), S(2, 1), S(1, -1, True), S(INF, 0), S(-INF), S(3, (0, 1)), S(1.5),
                                         S("fro", dim=1)], [S()], [S(dim=1)], KINK0, tol={"float64": (1e-10, 1e-12)}),
    reduction("cumsum", _cum(np.cumsum), [S(1), S(-2), S(0, dtype=F64)], [S(0)], [S(1), S(0)], dtypes=ALL),
    reduction("cumprod", _cum(np.cumprod), [S(1), S(-2)], [S(0)], [S(1), S(0)], Domain(avoid=(0.0,)), dtypes=NUM),
    reduction("softmax", _on_0d(_np_softmax), **SOFTMAX),
    reduction("log_softmax", _on_0d(_np_log_softmax), **SOFTMAX),
    # shapes and views ----------------------------------------------------------------------------------
    OpInfo("reshape", _np_reshape, on_one([S(6, 4), S((4, -1)), S(24)], [S(1), S(())], [S(3, 0), S(-1)], (2, 3, 4)),
           dtypes=ALL, torch="Tensor.reshape"),
    OpInfo("view", _np_reshape, on_one([S(6, 4), S((4, -1)), S(24)], [S(1), S(())], [S(3, 0), S(-1)], (2, 3, 4)),
           dtypes=ALL, is_view=True, supports_noncontiguous=False, torch="Tensor.view"),
    OpInfo("reshape_as", _np_reshape_as, RESHAPE_AS, dtypes=ALL),
    OpInfo("view_as", _np_reshape_as, RESHAPE_AS, dtypes=ALL, is_view=True, supports_noncontiguous=False),
    OpInfo("flatten", _np_flatten, on_one([S(), S(1), S(0, 1), S(start_dim=1, end_dim=2)], [S()], [S()], (2, 3, 4)),
           dtypes=ALL),
    OpInfo("unflatten", _np_unflatten, on_one([S(1, (3, 2)), S(-1, (2, -1))], (), [S(1, (3, 1))], (2, 6)), dtypes=ALL,
           is_view=True),
    OpInfo("squeeze", _np_squeeze, on_one([S(), S(1), S((1, 3)), S(0)], [S(), S(0)], [S(0)], (3, 1, 2, 1)), dtypes=ALL,
           is_view=True),
    OpInfo("unsqueeze", np.expand_dims, on_one([S(0), S(-1), S(1)], [S(0)], [S(1)]), dtypes=ALL, is_view=True),
    OpInfo("permute", lambda a, *dims: a.transpose(_sizes(dims)), on_one([S(2, 0, 1), S((1, 0, 2))], [S(())], (),
                                                                         (2, 3, 4)),
           dtypes=ALL, is_view=True, torch="Tensor.permute"),
    *(OpInfo(name, _np_swapaxes, on_one([S(0, 2), S(-1, 1)], [S(0, -1)], [S(0, 1)], (2, 3, 4)), dtypes=ALL,
             is_view=True) for name in ("transpose", "swapaxes", "swapdims")),
    OpInfo("t", lambda a: a.T, cases([S(X), S(Arr((3,)))], [S(X0)], [S(XE)]), dtypes=ALL, is_view=True),
    *(OpInfo(name, np.moveaxis, on_one([S(0, -1), S((0, 1), (2, 0))], (), [S(0, 1)], (2, 3, 4)), dtypes=ALL,
             is_view=True) for name in ("movedim", "moveaxis")),
    OpInfo("narrow", _np_narrow, on_one([S(1, 1, 2), S(-1, -3, 2), S(0, 0, 1)], (), [S(1, 1, 2)], (3, 4)), dtypes=ALL,
           is_view=True),
    OpInfo("select", lambda a, dim, index: np.take(a, index, axis=dim), on_one([S(1, -1), S(0, 1)], (), [S(1, 2)]),
           dtypes=ALL, is_view=True),
    OpInfo("split", _np_split, on_one([S(2, 1), S([1, 3, 1], 1), S(1), S(7, 1)], (), [S(1, 1), S(2)], (2, 5)),
           dtypes=ALL, is_view=True),
    OpInfo("chunk", _np_chunk, on_one([S(3), S(2, 1), S(5, -1)], (), [S(3, 1), S(2)], (5, 2)), dtypes=ALL,
           is_view=True),
    OpInfo("unbind", lambda a, dim=0: tuple(np.moveaxis(a, dim, 0)), on_one([S(), S(1), S(-1)], (), [S(1)]),
           dtypes=ALL, is_view=True),
    OpInfo("expand", _np_expand, on_one([S(2, 3, 4), S((3, 5)), S(-1, 2)], [S(2, 3)], [S(2, 0, 3)], (3, 1)),
           dtypes=ALL, is_view=True),
    OpInfo("broadcast_to", np.broadcast_to, on_one([S((2, 3, 4)), S((3, 5))], [S((2, 3))], [S((2, 0, 3))], (3, 1)),
           dtypes=ALL, is_view=True),
    OpInfo("expand_as", lambda a, b: np.broadcast_to(a, b.shape), cases(
        [S(Arr((3, 1)), Mask((2, 3, 4)))], [S(X0, Mask((2,)))], [S(Arr((1, 3)), Mask((0, 3)))]), dtypes=ALL,
           is_view=True),
    OpInfo("cat", _np_cat, CAT, dtypes=ALL),
    OpInfo("concat", _np_cat, CAT, dtypes=ALL),
    OpInfo("concatenate", _np_cat, CAT, dtypes=ALL),
    OpInfo("stack", lambda ts, dim=0: np.stack(ts, axis=dim), cases(
        [S([X, X], 1), S((X, X, X), -1), S([Arr((3,))])], [S([X0, X0])], [S([XE, XE], 1)]), dtypes=ALL),
    OpInfo("repeat", lambda a, *sizes: np.tile(a, _sizes(sizes)),
           on_one([S(2, 1, 3), S((2, 2))], [S(3), S(2, 2)], [S(2, 1)], (3, 2)), dtypes=ALL),
    OpInfo("flip", lambda a, dims: np.flip(a, tuple(dims) if isinstance(dims, list) else dims),
           on_one([S(0), S((0, -1)), S([1])], [S(())], [S(1)], (2, 3, 2)), dtypes=ALL, torch="Tensor.flip"),
    OpInfo("roll", lambda a, shifts, dims=None: np.roll(a, shifts, dims),
           on_one([S(1, 1), S((1, -2), (0, 1)), S(5)], [S(1)], [S(1, 1)], (3, 4)), dtypes=ALL),
    OpInfo("tril", lambda a, diagonal=0: np.tril(a, diagonal), TRI, dtypes=ALL),
    OpInfo("triu", lambda a, diagonal=0: np.triu(a, diagonal), TRI, dtypes=ALL),
    OpInfo("pad", _np_pad, cases(
        [S(X, (1, 2)), S(Arr((2, 2, 3)), (1, 0, 2, 1), value=0.5), S(Arr((2, 4)), (2, 1), mode="reflect"),
         S(Arr((1, 2, 3)), (1, 2, 2, 0), mode="replicate"), S(X, (1, 2), mode="circular")], empty=[S(XE, (1, 1))]),
           torch="nn.functional.pad"),
    OpInfo("contiguous", lambda a: a, elementwise(1), dtypes=ALL),
    OpInfo("clone", lambda a: a.copy(), elementwise(1), dtypes=ALL),
    # indexing ------------------------------------------------------------------------------------------
    OpInfo("getitem", lambda a, index: a[index], cases(
        [S(M34, (1,)), S(M34, (slice(None), slice(1, None, 2))), S(M34, (Ellipsis, None, -1)), S(M34, (Idx((3,), 3),)),
         S(M34, (slice(None), Idx((2,), 4))), S(M34, Mask((3, 4))), S(M34, (Idx((2,), 3), Idx((2,), 4))),
         S(M34, ([0, 2],)), S(M34, (Idx((), 3), -1)), S(M34, (-1, slice(None, None, 3)))],
        [S(X0, (None,)), S(X0, (Ellipsis,))], [S(XE, (slice(None), 1))]), dtypes=ALL, torch="Tensor.__getitem__",
        call=operator.getitem),
    OpInfo("setitem", _assign, cases(
        [S(M34, (0,), Scalar()), S(M34, (slice(None), 1), Arr((3,))), S(M34, Mask((3, 4)), Scalar()),
         S(M34, (Idx((2,), 3, unique_dim=0),), Arr((2, 4)))], [S(X0, (), X0)], [S(XE, (slice(None), 1), Scalar())]),
           dtypes=ALL, call=_assign, torch=SAME),
    OpInfo("gather", lambda a, dim, index: np.take_along_axis(a, index, axis=dim), cases(
        [S(M34, 1, Idx((3, 2), 4)), S(M34, 0, Idx((2, 4), 3)), S(M34, -1, Idx((3, 5), 4))],
        empty=[S(M34, 1, Idx((3, 0), 4))]), dtypes=ALL),
    OpInfo("scatter", _np_scatter, cases(
        [S(M34, 1, Idx((3, 2), 4, unique_dim=1), Arr((3, 2))), S(M34, 0, Idx((2, 4), 3, unique_dim=0), M34),
         S(M34, 1, Idx((3, 2), 4, unique_dim=1), value=Scalar())]), dtypes=ALL,
           torch_grad=False),   # torch cannot differentiate w.r.t. a src larger than index; gradcheck covers ours
    OpInfo("scatter_add", lambda a, dim, index, src: _np_scatter(a, dim, index, src, add=True), cases(
        [S(M34, 1, Idx((3, 3), 4), Arr((3, 3))), S(M34, 0, Idx((4, 2), 3), Arr((4, 3)))]), dtypes=NUM,
           torch_grad=False),   # as scatter
    OpInfo("index_select", lambda a, dim, index: np.take(a, index, axis=dim), cases(
        [S(M34, 1, Idx((3,), 4)), S(M34, 0, Idx((5,), 3)), S(M34, -1, Idx((0,), 4))], empty=[S(XE, 1, Idx((2,), 3))]),
           dtypes=ALL),
    OpInfo("index_add", _np_index_add, cases(
        [S(M34, 0, Idx((3,), 3), M34), S(M34, 1, Idx((2,), 4), Arr((3, 2)), alpha=2), S(M34, -1, Idx((2,), 4),
                                                                                         Arr((3, 2)))],
        empty=[S(XE, 1, Idx((2,), 3), Arr((0, 2)))]), dtypes=NUM),
    OpInfo("take", lambda a, index: a.reshape(-1)[index], cases(
        [S(M34, Idx((2, 3), 12, neg=True)), S(M34, Idx((), 12))], [S(X0, Idx((2,), 1))], [S(XE, Idx((0,), 1))]),
           dtypes=ALL),
    OpInfo("put", _np_put, cases([S(M34, Idx((5,), 12, unique_dim=0, neg=True), Arr((5,))),
                                  S(M34, Idx((2, 3), 12), Arr((2, 3)), accumulate=True)]), dtypes=NUM),
    # linear algebra ------------------------------------------------------------------------------------
    OpInfo("matmul", np.matmul, cases(
        [S(X, Arr((3, 4))), S(Arr((3,)), Arr((3,))), S(X, Arr((3,))), S(Arr((3,)), Arr((3, 2))),
         S(Arr((2, 2, 3)), Arr((3, 4))), S(Arr((2, 1, 2, 3)), Arr((3, 3, 2))), S(Arr((3,)), Arr((2, 3, 4))),
         S(Arr((2, 2, 3)), Arr((3,)))], empty=[S(XE, Arr((3, 2))), S(Arr((2, 0)), Arr((0, 3)))]), dtypes=NUM),
    OpInfo("mm", np.matmul, cases([S(X, Arr((3, 4)))], empty=[S(XE, Arr((3, 2)))]), dtypes=NUM),
    OpInfo("bmm", np.matmul, cases([S(Arr((2, 2, 3)), Arr((2, 3, 4)))], empty=[S(Arr((0, 2, 3)), Arr((0, 3, 1)))]),
           dtypes=NUM),
    OpInfo("dot", np.dot, cases([S(Arr((3,)), Arr((3,)))], empty=[S(Arr((0,)), Arr((0,)))]), dtypes=NUM),
    OpInfo("outer", np.outer, OUTER, dtypes=NUM),
    OpInfo("ger", np.outer, OUTER, dtypes=NUM),
    OpInfo("einsum", np.einsum, cases(
        [S("ij,jk->ik", X, Arr((3, 4))), S("bij,bjk->bik", Arr((2, 2, 3)), Arr((2, 3, 2))), S("ii->i", Arr((3, 3))),
         S("ij->", X), S("i,j->ij", Arr((2,)), Arr((3,))), S("ij->ji", X), S("ij,ij->i", X, X),
         S("...ij,...jk->...ik", Arr((2, 2, 3)), Arr((3, 2))), S("ij,jk,kl->il", X, Arr((3, 2)), Arr((2, 2)))]),
           dtypes=NUM),
    # in place (the tests apply them to a clone of the first argument) -----------------------------------
    inplace_binary("add_", lambda a, b, alpha=1: (a + alpha * b).astype(a.dtype), variants=(S(), S(alpha=2)),
                   dtypes=NUM),
    inplace_binary("sub_", lambda a, b, alpha=1: (a - alpha * b).astype(a.dtype), variants=(S(), S(alpha=2)),
                   dtypes=NUM),
    inplace_binary("mul_", lambda a, b: (a * b).astype(a.dtype), dtypes=NUM),
    inplace_binary("div_", lambda a, b: (a / b).astype(a.dtype), NONZERO),
    inplace("neg_", np.negative, elementwise(1), dtypes=NUM),
    inplace("exp_", np.exp, elementwise(1)),
    inplace("relu_", lambda a: np.maximum(a, 0).astype(a.dtype), elementwise(1, (KINK0,)), dtypes=NUM),
    inplace("clamp_", _np_clamp, CLAMP_),
    inplace("clip_", _np_clamp, CLAMP_),
    inplace("fill_", lambda a, value: np.full_like(a, value), cases([S(X, Scalar()), S(X, X0)], [S(X0, Scalar())],
                                                                    [S(XE, 1)]), dtypes=ALL),
    inplace("zero_", np.zeros_like, elementwise(1), dtypes=ALL),
    inplace("copy_", lambda a, src: np.broadcast_to(src, a.shape).astype(a.dtype), cases(
        [S(X, X), S(X, Arr((3,))), S(X, Arr((2, 3), dtype=F64))], [S(X0, X0)], [S(XE, Arr((3,)))]), dtypes=ALL),
    # creation ------------------------------------------------------------------------------------------
    creation("tensor", _np_tensor, TENSOR_DATA, raw_args=True),
    creation("as_tensor", _np_tensor, TENSOR_DATA, raw_args=True),
    creation("from_numpy", lambda a: a, [S(np.arange(6.0).reshape(2, 3)), S(np.arange(4, dtype=np.int32)),
                                         S(np.array([True, False])), S(np.array(2.5, np.float32))],
             raw_args=True, is_view=True),
    creation("zeros", _filled(np.zeros), SIZES),
    creation("ones", _filled(np.ones), SIZES),
    creation("empty", _filled(np.empty), SIZES, compare_values=False),
    creation("full", _np_full, [S((2, 3), 1.5), S((2,), 7), S((2,), True), S((2, 2), 2.0, dtype=F64), S((), -1.0)]),
    OpInfo("zeros_like", _like(np.zeros_like), cases(**LIKE), dtypes=ALL, is_creation=True, grad=0),
    OpInfo("ones_like", _like(np.ones_like), cases(**LIKE), dtypes=ALL, is_creation=True, grad=0),
    OpInfo("empty_like", _like(np.empty_like), cases(**LIKE), dtypes=ALL, is_creation=True, grad=0,
           compare_values=False),
    OpInfo("full_like", _like(np.full_like), cases([S(X, 2.5), S(X, 3, dtype=I64)], [S(X0, 1)], [S(XE, 1)]),
           dtypes=ALL, is_creation=True, grad=0),
    OpInfo("arange", _np_arange, cases([S(5), S(1, 7, 2), S(0.0, 1.0, 0.25), S(5, dtype=F64), S(3, -3, -1.5), S(0)],
                                       special=[S(0, 5, 1.5, dtype=I64), S(-1.7, 3, 0.9, dtype=I64)]),
           dtypes=(F32,), is_creation=True, grad=0),
    creation("linspace", _np_linspace, [S(0.0, 1.0, 5), S(-2, 2, 4, dtype=F64), S(0, 1, 1), S(0, 1, 0),
                                        S(0, 10, 5, dtype=I64)]),
    creation("eye", lambda n, m=None, *, dtype=None, **_: np.eye(n, m, dtype=_np_dtype(dtype)),
             [S(3), S(2, 4), S(3, dtype=I64), S(3, 0)]),
    # random numbers: shape, dtype and range here; reproducibility under manual_seed in test_random ------
    random_op("rand", _filled(np.empty), [S(2000), S(2, 3), S((4,), dtype=F64)], _check_uniform),
    random_op("randn", _filled(np.empty), [S(2000), S(2, 3), S((4,), dtype=F64)], _check_normal),
    random_op("randint", _np_randint, [S(-2, 3, (200,)), S(5, (3, 4)), S(0, 2, (3,), dtype=F32)], _check_randint),
    random_op("randperm", lambda n, *, dtype=None, **_: np.empty(n, _np_dtype(dtype, np.int64)),
              [S(20), S(1), S(5, dtype=F64)], _check_randperm),
    creation("manual_seed", None, [S(0), S(1234)], call=_seeded_draws, check=_check_manual_seed, torch=None),
    creation("initial_seed", lambda seed: seed, [S(0), S(7), S(2 ** 31 - 1)], call=_seed_then_initial, torch=None),
]

# further families: one module each, ``tests/op_db_<family>.py``, holding ``ROWS`` built with the helpers above
# (imported here, after OP_DB and the helpers exist, so those modules can ``from op_db import ...``)
for _path in sorted(Path(__file__).parent.glob("op_db_*.py")):
    OP_DB += importlib.import_module(_path.stem).ROWS
