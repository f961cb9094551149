"""Op table rows: indexed updates (scatter_reduce with every reduction and include_self, index_copy,
index_fill, take_along_dim) and the in-place forms of the gather/scatter family.

The references are written out with NumPy's unbuffered ``ufunc.at`` (repeats combine) and plain
indexing; scatter_reduce's mean counts ``self`` when ``include_self``, integer means floor."""
from __future__ import annotations

import numpy as np

from op_db import ALL, NUM, Arr, Domain, Idx, Mask, OpInfo, S, Scalar, cases

M34 = Arr((3, 4), Domain(0.5, 2.0))     # away from 0: prod's gradient is smooth there
_UFUNC = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}
_START = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}


def _np_scatter_reduce(a, dim, index, src, reduce, *, include_self=True):
    out = a.copy()
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim % a.ndim] = index
    at = tuple(grid)
    if not include_self:
        out[at] = _START[reduce] if a.dtype.kind == "f" or reduce in ("sum", "mean", "prod") else \
            (np.iinfo(a.dtype).min if reduce == "amax" else np.iinfo(a.dtype).max)
    _UFUNC[reduce].at(out, at, src[tuple(slice(0, s) for s in index.shape)])
    if reduce == "mean":
        n = np.full(a.shape, int(include_self))
        np.add.at(n, at, 1)
        n = np.maximum(n, 1)
        out = (out / n).astype(a.dtype) if a.dtype.kind == "f" else out // n
    return out


def _np_index_copy(a, dim, index, source):
    out = a.copy()
    out[(slice(None),) * (dim % a.ndim) + (index,)] = source
    return out


def _np_index_fill(a, dim, index, value):
    out = a.copy()
    out[(slice(None),) * (dim % a.ndim) + (index,)] = value
    return out


def _np_take_along_dim(a, indices, dim=None):
    if dim is None:
        return a.reshape(-1)[indices.reshape(-1)]
    shape = np.broadcast_shapes(a.shape[:dim] + (1,) + a.shape[dim + 1:], indices.shape[:dim] + (1,)
                                + indices.shape[dim + 1:])
    i = np.broadcast_to(indices, shape[:dim] + (indices.shape[dim],) + shape[dim + 1:])
    x = np.broadcast_to(a, shape[:dim] + (a.shape[dim],) + shape[dim + 1:])
    return np.take_along_axis(x, i % a.shape[dim], dim)


def _np_scatter(a, dim, index, src=None, *, value=None):
    out = a.copy()
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim % a.ndim] = index
    out[tuple(grid)] = value if src is None else src[tuple(slice(0, s) for s in index.shape)]
    return out


def _np_index_add(a, dim, index, source, *, alpha=1):
    out = a.copy()
    np.add.at(out, (slice(None),) * (dim % a.ndim) + (index,), alpha * source)
    return out


SR = [S(M34, 1, Idx((3, 3), 4), Arr((3, 5), Domain(0.5, 2.0)), r, include_self=inc)
      for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)]
SR_ = [S(M34, 1, Idx((3, 3), 4), Arr((3, 3), Domain(0.5, 2.0)), r, include_self=inc)
       for r in ("sum", "mean", "amax") for inc in (True, False)]
IC = [S(M34, 1, Idx((2,), 4, unique_dim=0), Arr((3, 2))), S(M34, 0, Idx((3,), 3, unique_dim=0), M34)]
IF = [S(M34, 1, Idx((2,), 4, neg=True), Scalar()), S(M34, -1, Idx((3,), 4), Scalar())]
TAKE = [S(M34, Idx((3, 2), 4), 1), S(M34, Idx((1, 4), 3, neg=True), 0), S(M34, Idx((3, 1), 9), -2),
        S(M34, Idx((2, 2), 12)), S(Arr((2, 1, 3)), Idx((1, 4, 2), 3), 2)]
SC = [S(M34, 1, Idx((3, 2), 4, unique_dim=1), Arr((3, 2))), S(M34, 1, Idx((3, 2), 4, unique_dim=1), value=Scalar())]


def _inplace(name, ref, main, empty=(), dtypes=NUM, **kw):
    return OpInfo(name, ref, cases(main, empty=empty), dtypes=dtypes, inplace_of=name[:-1], **kw)


ROWS = [
    OpInfo("scatter_reduce", _np_scatter_reduce, cases(SR, empty=[S(M34, 1, Idx((3, 0), 4), Arr((3, 0)), "amax")]),
           dtypes=NUM, torch_grad=False),   # torch cannot differentiate w.r.t. a src larger than index
    OpInfo("index_copy", _np_index_copy, cases(IC, empty=[S(M34, 1, Idx((0,), 4), Arr((3, 0)))]), dtypes=ALL),
    OpInfo("index_fill", _np_index_fill, cases(IF, empty=[S(M34, 1, Idx((0,), 4), Scalar())]), dtypes=ALL),
    OpInfo("take_along_dim", _np_take_along_dim, cases(TAKE, empty=[S(M34, Idx((3, 0), 4), 1)]), dtypes=ALL),
    _inplace("scatter_reduce_", _np_scatter_reduce, SR_, torch_grad=False),
    _inplace("scatter_", _np_scatter, SC, dtypes=ALL),
    _inplace("scatter_add_", lambda a, dim, index, src: _np_scatter_reduce(a, dim, index, src, "sum"),
             [S(M34, 1, Idx((3, 3), 4), Arr((3, 3)))]),
    _inplace("index_add_", _np_index_add, [S(M34, 1, Idx((3,), 4), Arr((3, 3))),
                                           S(M34, 0, Idx((2,), 3), Arr((2, 4)), alpha=2)]),
    _inplace("index_copy_", _np_index_copy, IC, dtypes=ALL),
    _inplace("index_fill_", _np_index_fill, IF, dtypes=ALL),
    _inplace("masked_fill_", lambda a, mask, value: np.where(mask, value, a).astype(a.dtype),
             [S(M34, Mask((3, 4)), Scalar()), S(M34, Mask((4,)), Scalar())], dtypes=ALL),
]
