"""Op table rows: scans with indices (cummax, cummin), logcumsumexp, sorting and selection (sort,
argsort, topk, nonzero, count_nonzero) and the paired statistics (std_mean, var_mean).

The references are written out independently of the ops: PyTorch's rules as plain loops (cummax's
last index of a tie, NaN winning) and a lexicographic sort (NaN largest, ties in input order).
"""
from __future__ import annotations

import numpy as np

from op_db import (ALL, FLOAT, NUM, SPECIALS, TIES, Arr, Domain, OpInfo, S, X, X0, XE, _np_var, _on_0d, _red,
                   cases, on_one)


def _along(fn, a, dim):
    """``fn`` applied to every 1-d row of ``a`` along ``dim`` (tuples of arrays come back as tuples)."""
    moved = np.moveaxis(a, dim, -1)
    rows = [fn(r) for r in moved.reshape(-1, moved.shape[-1])]
    if not rows:
        return np.moveaxis(np.zeros(moved.shape, a.dtype), -1, dim)
    outs = zip(*rows) if isinstance(rows[0], tuple) else [rows]
    return tuple(np.moveaxis(np.stack(o).reshape(moved.shape[:-1] + (-1,)), -1, dim) for o in outs)


def _cum_extreme(better):
    """PyTorch's cummax/cummin as a loop: ``better(x, best)`` or a NaN replaces the running extreme."""
    def row(r):
        vals, idx = np.empty_like(r), np.empty(r.shape, np.int64)
        best, at = r[0], 0
        for j, v in enumerate(r):
            if v != v or (best == best and better(v, best)):
                best, at = v, j
            vals[j], idx[j] = best, at
        return vals, idx

    def ref(a, dim):
        if a.size == 0:
            return a.copy(), np.zeros(a.shape, np.int64)
        return _along(row, a, dim)
    return _on_0d(ref)


def _np_logcumsumexp(a, dim):
    with np.errstate(all="ignore"):
        return np.log(np.cumsum(np.exp(a.astype(np.float64)), axis=dim)).astype(a.dtype)


def _order(r, descending):
    """Stable order of a row with NaN as the largest value."""
    nan = np.isnan(r) if r.dtype.kind == "f" else np.zeros(r.shape, bool)
    v = np.where(nan, 0, r).astype(np.float64)
    pos = np.arange(r.size)
    return np.lexsort((pos, -v, ~nan)) if descending else np.lexsort((pos, v, nan))


def _np_sort(a, dim=-1, descending=False, stable=False):
    def row(r):
        i = _order(r, descending)
        return r[i], i.astype(np.int64)
    if a.size == 0 or a.ndim == 0:
        return a.copy(), np.zeros(a.shape, np.int64)
    return _along(row, a, dim)


def _np_argsort(a, dim=-1, descending=False, stable=False):
    return _np_sort(a, dim, descending)[1]


def _np_topk(a, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
    vals, idx = _np_sort(a, dim, largest)
    head = (slice(None),) * (dim % max(a.ndim, 1)) + (slice(0, k),)
    return (vals, idx) if a.ndim == 0 else (vals[head], idx[head])


def _np_nonzero(a, as_tuple=False):
    coords = np.stack(np.indices(a.shape), -1)[a != 0] if a.ndim else np.zeros((int(a != 0), 0), np.int64)
    coords = coords.astype(np.int64).reshape(coords.shape[0], a.ndim)
    if as_tuple:
        return tuple(coords[:, j] for j in range(a.ndim)) if a.ndim else (np.zeros(int(a != 0), np.int64),)
    return coords


def _np_count_nonzero(a, dim=None):
    ax = None if dim is None else tuple(dim) if isinstance(dim, (tuple, list)) else dim
    return np.asarray(np.sum(a != 0, axis=ax), dtype=np.int64)


def _stat_mean(fn):
    spread, mean = _np_var(fn), _red(np.mean)

    def ref(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return spread(a, dim, unbiased, keepdim, correction=correction), mean(a, dim, keepdim)
    return ref


def _ties_and_specials(*variants) -> list:
    """Forward-only samples: many ties (grid of 0.5) and nan/inf, as ``special``."""
    return [S(Arr((3, 5), dom), *a, **k) for dom in (TIES, SPECIALS, Domain(-1.0, 1.0, grid=0.5, specials=True))
            for a, k in variants]


SCAN = [S(1), S(0), S(-1)]
SORTS = [S(), S(0), S(1, True), S(dim=-1, descending=True, stable=True), S(dim=0, stable=True)]
# no sorted=False sample: PyTorch then returns the k elements in its selection order (test_parity_reduce)
TOPK = [S(2), S(1, 0), S(2, -1, False), S(3, 1, True, True), S(0, 1), S(2, dim=0, largest=False)]
COUNT = [S(), S(0), S(-1), S((0, 1))]
STATS = [S(), S(1), S(1, unbiased=False), S((0, 1), correction=0, keepdim=True), S(-1, keepdim=True)]

ROWS: list = [
    OpInfo("cummax", _cum_extreme(np.greater_equal), cases(
        [S(X, *a, **k) for a, k in SCAN], [S(X0, 0)], [S(XE, 0), S(XE, 1)], special=_ties_and_specials(*SCAN)),
           dtypes=ALL),
    OpInfo("cummin", _cum_extreme(np.less_equal), cases(
        [S(X, *a, **k) for a, k in SCAN], [S(X0, 0)], [S(XE, 0), S(XE, 1)], special=_ties_and_specials(*SCAN)),
           dtypes=ALL),
    OpInfo("logcumsumexp", _on_0d(_np_logcumsumexp), cases(
        [S(Arr((2, 3), Domain(-2.0, 2.0)), *a, **k) for a, k in SCAN], [S(X0, 0)], [S(XE, 0), S(XE, 1)],
        special=_ties_and_specials(*SCAN)), dtypes=FLOAT),
    OpInfo("sort", _on_0d(_np_sort), cases(
        [S(X, *a, **k) for a, k in SORTS], [S(X0), S(X0, 0)], [S(XE, 0), S(XE, 1, True)],
        special=_ties_and_specials(*SORTS)), dtypes=ALL),
    OpInfo("argsort", _on_0d(_np_argsort), cases(
        [S(X, *a, **k) for a, k in SORTS[:3]], [S(X0)], [S(XE, 0)], special=_ties_and_specials(*SORTS[3:])),
           dtypes=ALL, grad=0),
    # ties only through nan/inf: PyTorch's topk orders equal values by its selection algorithm
    OpInfo("topk", _np_topk, cases(
        [S(Arr((3, 4)), *a, **k) for a, k in TOPK], [S(X0, 1)], [S(XE, 0, 0), S(XE, 2, 1)],
        special=[S(Arr((3, 5), SPECIALS), *a, **k) for a, k in TOPK]), dtypes=FLOAT),
    OpInfo("nonzero", _np_nonzero, on_one(
        [S(), S(as_tuple=True)], [S(), S(as_tuple=True)], [S(), S(as_tuple=True)], (3, 4),
        Domain(-1.0, 1.0, ints=(-1, 1), grid=1.0), special=True), dtypes=ALL, grad=0),
    OpInfo("count_nonzero", _on_0d(_np_count_nonzero), on_one(
        COUNT, [S(), S(0)], [S(), S(0), S(1)], (3, 4), Domain(-1.0, 1.0, ints=(-1, 1), grid=1.0), special=True),
           dtypes=ALL, grad=0),
    *(OpInfo(name, _stat_mean(fn), on_one(STATS, [S(0, correction=0)], [S(1)], special=True), dtypes=FLOAT,
             tol={"float64": (1e-10, 1e-12)})
      for name, fn in (("std_mean", np.std), ("var_mean", np.var))),
]
