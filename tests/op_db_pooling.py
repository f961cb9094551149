"""Op table rows: max/avg pooling 1-3 d (with indices), adaptive avg/max pooling, max_unpool, interpolate.

References are direct loops over output positions (PyTorch's window rules written out: ceil_mode,
padding, dilation, count_include_pad, divisor_override, adaptive windows); interpolate is checked
against PyTorch where installed (its rules are tested in detail in tests/test_nn_pooling.py).
"""
from __future__ import annotations

import math

import numpy as np

from op_db import FLOAT, Arr, Idx, OpInfo, S, cases


def _tup(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _out(size, k, s, p, d, ceil):
    o = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    return o - 1 if ceil and (o - 1) * s >= size + p else o


def _pool_ref(n, kind):
    def ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
            count_include_pad=True, divisor_override=None, with_indices=False):
        k = _tup(kernel_size, n)
        s = k if stride is None else _tup(stride, n)
        p, d = _tup(padding, n), _tup(dilation, n)
        S = x.shape[-n:]
        O = tuple(_out(*a, ceil_mode) for a in zip(S, k, s, p, d))
        lead = x.shape[:-n]
        out = np.zeros(lead + O, x.dtype)
        idx = np.zeros(lead + O, np.int64)
        for o in np.ndindex(*O):
            st = [oo * ss - pp for oo, ss, pp in zip(o, s, p)]
            pos = [[a + t * dd for t in range(kk) if 0 <= a + t * dd < sz] for a, kk, dd, sz in zip(st, k, d, S)]
            if kind == "max":
                best = np.full(lead, -np.inf)
                bi = np.zeros(lead, np.int64)
                first = True
                for q in np.ndindex(*[len(v) for v in pos]):
                    c = tuple(pos[a][q[a]] for a in range(n))
                    v = x[(...,) + c]
                    f = int(np.ravel_multi_index(c, S))
                    upd = (v > best) | first
                    best, bi, first = np.where(upd, v, best), np.where(upd, f, bi), False
                out[(...,) + o], idx[(...,) + o] = best, bi
            else:
                tot = sum(x[(...,) + tuple(pos[a][q[a]] for a in range(n))]
                          for q in np.ndindex(*[len(v) for v in pos]))
                if divisor_override:
                    div = divisor_override
                elif count_include_pad:
                    div = math.prod(min(a + kk, sz + pp) - a for a, kk, sz, pp in zip(st, k, S, p))
                else:
                    div = math.prod(len(v) for v in pos)
                out[(...,) + o] = tot / div
        return (out, idx) if (return_indices or with_indices) else out
    return ref


def _avg_ref(n):
    r = _pool_ref(n, "avg")
    return lambda x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, \
        divisor_override=None: r(x, kernel_size, stride, padding, 1, ceil_mode, count_include_pad=count_include_pad,
                                 divisor_override=divisor_override)


def _with_indices(n):
    r = _pool_ref(n, "max")
    return lambda x, *a, **k: r(x, *a, **k, with_indices=True)


def _adaptive_ref(n, kind):
    def ref(x, output_size, return_indices=False, with_indices=False):
        O = tuple(x.shape[-n + a] if v is None else v for a, v in enumerate(_tup(output_size, n)))
        S = x.shape[-n:]
        out = np.zeros(x.shape[:-n] + O, x.dtype)
        idx = np.zeros(x.shape[:-n] + O, np.int64)
        for o in np.ndindex(*O):
            win = tuple(slice(oo * sz // oo_n, -(-(oo + 1) * sz // oo_n)) for oo, sz, oo_n in zip(o, S, O))
            w = x[(...,) + win].reshape(x.shape[:-n] + (-1,))
            if kind == "avg":
                out[(...,) + o] = w.mean(-1)
            else:
                j = w.argmax(-1)
                out[(...,) + o] = w.max(-1)
                loc = np.unravel_index(j, tuple(sl.stop - sl.start for sl in win))
                idx[(...,) + o] = np.ravel_multi_index(tuple(l_ + sl.start for l_, sl in zip(loc, win)), S)
        if kind == "avg":
            return out
        return (out, idx) if (return_indices or with_indices) else out
    return ref


def _unpool_ref(n):
    def ref(x, indices, kernel_size, stride=None, padding=0, output_size=None):
        k = _tup(kernel_size, n)
        s = k if stride is None else _tup(stride, n)
        p = _tup(padding, n)
        S = tuple(output_size[-n:]) if output_size is not None else \
            tuple((x.shape[-n + a] - 1) * s[a] + k[a] - 2 * p[a] for a in range(n))
        lead = x.shape[:-n]
        out = np.zeros((math.prod(lead), math.prod(S)), x.dtype)
        np.put_along_axis(out, indices.reshape(out.shape[0], -1), x.reshape(out.shape[0], -1), 1)
        return out.reshape(lead + S)
    return ref


def _unpool_idx(shape, S, k):
    """Valid max-pool-style indices: one position inside each (non-overlapping) window."""
    class _I(Idx):
        def draw(self, rng, dtype):
            n = len(S)
            O = shape[-n:]
            pos = [np.arange(o)[(...,) + (None,) * (n - a - 1)] * kk + rng.integers(0, kk, shape)
                   for a, (o, kk) in enumerate(zip(O, k))]
            return np.asarray(np.ravel_multi_index(tuple(np.broadcast_to(q, shape) for q in pos), S), np.int64)
    return _I(shape, 1)


def _interp_check(out, x, *args, **kwargs):
    try:
        import torch
    except ImportError:
        return
    ref = torch.nn.functional.interpolate(torch.tensor(x), *args, **kwargs).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def _row(name, ref, main, torch_name=None, **kw):
    return OpInfo(name, ref, cases(main), dtypes=FLOAT, torch=torch_name or f"nn.functional.{name}", **kw)


X1, X2, X3 = Arr((2, 3, 7)), Arr((2, 2, 5, 6)), Arr((1, 2, 3, 4, 3))
MAX1 = [S(X1, 2), S(X1, 3, 2, 1, ceil_mode=True), S(Arr((3, 8)), 3, 2, 1, 2), S(X1, 2, return_indices=True)]
MAX2 = [S(X2, 2), S(X2, (3, 2), (2, 1), (1, 0), ceil_mode=True), S(Arr((2, 5, 6)), 2, 1, 1, 2),
        S(X2, 3, 2, 1, return_indices=True)]
MAX3 = [S(X3, 2), S(X3, (2, 3, 2), 2, (1, 1, 0), ceil_mode=True), S(Arr((2, 5, 5, 5)), 2, 2, 1, 2)]
AVG1 = [S(X1, 2), S(X1, 3, 2, 1, ceil_mode=True), S(X1, 3, 2, 1, True, False), S(Arr((3, 8)), 2, 3)]
AVG2 = [S(X2, 2), S(X2, 3, 2, 1, ceil_mode=True), S(X2, 3, 2, 1, True, False), S(X2, (3, 2), 2, 1, divisor_override=3),
        S(Arr((2, 5, 6)), 2, 1)]
AVG3 = [S(X3, 2), S(X3, 3, 2, 1, ceil_mode=True, count_include_pad=False), S(X3, 2, divisor_override=5)]

ROWS = [
    _row("max_pool1d", _pool_ref(1, "max"), MAX1),
    _row("max_pool2d", _pool_ref(2, "max"), MAX2),
    _row("max_pool3d", _pool_ref(3, "max"), MAX3),
    _row("max_pool1d_with_indices", _with_indices(1), MAX1[:3]),
    _row("max_pool2d_with_indices", _with_indices(2), MAX2[:3]),
    _row("max_pool3d_with_indices", _with_indices(3), MAX3[:2]),
    _row("avg_pool1d", _avg_ref(1), AVG1),
    _row("avg_pool2d", _avg_ref(2), AVG2),
    _row("avg_pool3d", _avg_ref(3), AVG3),
    _row("adaptive_avg_pool1d", _adaptive_ref(1, "avg"), [S(X1, 3), S(X1, 5), S(Arr((3, 5)), 7)]),
    _row("adaptive_avg_pool2d", _adaptive_ref(2, "avg"), [S(X2, (2, 4)), S(X2, (3, None)), S(Arr((2, 5, 6)), 4)]),
    _row("adaptive_avg_pool3d", _adaptive_ref(3, "avg"), [S(X3, (2, 3, 3)), S(Arr((2, 3, 4, 5)), 2)]),
    _row("adaptive_max_pool1d", _adaptive_ref(1, "max"), [S(X1, 3), S(X1, 4, True), S(Arr((3, 5)), 3)]),
    _row("adaptive_max_pool2d", _adaptive_ref(2, "max"), [S(X2, (2, 4)), S(X2, 3, True), S(Arr((2, 5, 6)), (4, None))]),
    _row("adaptive_max_pool1d_with_indices", lambda x, o: _adaptive_ref(1, "max")(x, o, True), [S(X1, 3)]),
    _row("adaptive_max_pool2d_with_indices", lambda x, o: _adaptive_ref(2, "max")(x, o, True), [S(X2, (2, 4))]),
    _row("max_unpool1d", _unpool_ref(1), [S(Arr((2, 3, 3)), _unpool_idx((2, 3, 3), (6,), (2,)), 2),
                                          S(Arr((2, 3)), _unpool_idx((2, 3), (7,), (2,)), 2, output_size=(7,))]),
    _row("max_unpool2d", _unpool_ref(2), [S(Arr((1, 2, 2, 3)), _unpool_idx((1, 2, 2, 3), (4, 6), (2, 2)), 2),
                                          S(Arr((2, 2, 3)), _unpool_idx((2, 2, 3), (5, 6), (2, 2)), 2,
                                            output_size=(5, 6))]),
    _row("max_unpool3d", _unpool_ref(3), [S(Arr((1, 2, 2, 2, 2)), _unpool_idx((1, 2, 2, 2, 2), (4, 4, 4), (2, 2, 2)),
                                            2)]),
    OpInfo("interpolate", None, cases([
        S(X1, 5), S(X1, scale_factor=1.6, mode="linear"), S(X1, 4, mode="linear", align_corners=True),
        S(X2, (7, 4), mode="bilinear"), S(X2, scale_factor=2, mode="bicubic", align_corners=True),
        S(X2, (3, 9), mode="nearest-exact"), S(X2, (3, 4), mode="area"), S(X2, scale_factor=1.5),
        S(X3, (2, 5, 4), mode="trilinear"), S(X3, scale_factor=0.7, mode="nearest")]),
        dtypes=FLOAT, torch="nn.functional.interpolate", check=_interp_check),
]
