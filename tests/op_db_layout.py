"""Op table rows: the layout ops of ``ops/layout.py`` (diagonal, diag, Tensor.unfold, tile,
repeat_interleave, meshgrid).

References are NumPy's own (diagonal, diag, tile, repeat and meshgrid agree with PyTorch's
definitions); unfold's is NumPy's sliding window taken every ``step``.
"""
from __future__ import annotations

import numpy as np

from op_db import ALL, Arr, Idx, OpInfo, S, X, X0, XE, cases

M34, T234 = Arr((3, 4)), Arr((2, 3, 4))


def _np_unfold(a, dimension, size, step):
    if a.ndim == 0:
        return a.reshape(1)[:size]
    d = dimension % a.ndim
    win = np.lib.stride_tricks.sliding_window_view(a, size, axis=d)
    return win[(slice(None),) * d + (slice(None, None, step),)]


def _np_repeat_interleave(a, repeats, dim=None, *, output_size=None):
    return np.repeat(a, repeats, axis=dim)


def _np_meshgrid(*arrays, indexing="ij"):
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = arrays[0]
    return tuple(np.meshgrid(*arrays, indexing=indexing))


ROWS: list[OpInfo] = [
    OpInfo("diagonal", lambda a, offset=0, dim1=0, dim2=1: np.diagonal(a, offset, dim1, dim2), cases(
        [S(M34), S(M34, 1), S(M34, -2), S(T234, 1, 0, 2), S(T234, -1, -1, 0), S(T234, 0, 2, 1),
         S(T234, dim1=1, dim2=2)],
        empty=[S(XE), S(Arr((2, 0, 3)), 1, 2, 0), S(M34, -3), S(M34, 7)]), dtypes=ALL, is_view=True),
    OpInfo("diag", np.diag, cases(
        [S(Arr((3,))), S(Arr((3,)), 1), S(Arr((2,)), -2), S(M34), S(M34, 2), S(M34, -1), S(M34, 5)],
        empty=[S(Arr((0,))), S(Arr((0,)), 2), S(XE), S(XE, -1)]), dtypes=ALL),
    OpInfo("unfold", _np_unfold, cases(
        [S(T234, 2, 2, 1), S(T234, -1, 3, 2), S(T234, 1, 3, 5), S(T234, 0, 1, 1), S(T234, 2, 1, 3),
         S(Arr((7, 2)), 0, 3, 2), S(Arr((7, 2)), 0, 2, 2), S(Arr((7, 2)), 0, 4, 1)],
        [S(X0, 0, 1, 1), S(X0, -1, 0, 2)],
        [S(XE, 0, 0, 1), S(XE, 1, 2, 1), S(T234, 2, 0, 1)]),
        dtypes=ALL, is_view=True, call=lambda x, *a: x.unfold(*a), torch="Tensor.unfold"),
    OpInfo("tile", np.tile, cases(
        [S(X, (2,)), S(X, (2, 1)), S(X, (2, 1, 3)), S(X, ()), S(Arr((3,)), (2, 2)), S(X, [1, 1])],
        [S(X0, ()), S(X0, (3,)), S(X0, (2, 1))],
        [S(XE, (2, 2)), S(X, (0, 2))]), dtypes=ALL),
    OpInfo("repeat_interleave", _np_repeat_interleave, cases(
        [S(X, 2), S(X, 2, 0), S(X, 3, -1), S(X, 1, 1), S(X, 0, 0), S(X, Idx((2,), 3), 0),
         S(X, Idx((3,), 4), dim=1), S(X, Idx((1,), 3), 1), S(X, Idx((), 3), -2), S(X, Idx((6,), 3)),
         S(X, 2, 1, output_size=6)],
        [S(X0, 3), S(X0, Idx((1,), 4))],
        [S(XE, 2, 0), S(XE, 2), S(XE, Idx((3,), 3), 1), S(Arr((0,)), Idx((0,), 2), 0)]), dtypes=ALL),
    OpInfo("meshgrid", _np_meshgrid, cases(
        [S(Arr((3,)), Arr((2,)), indexing="ij"), S(Arr((3,)), Arr((2,)), indexing="xy"),
         S(Arr((3,)), Arr((2,)), Arr((4,)), indexing="xy"), S(Arr((3,)), indexing="xy"),
         S(Arr((2,)), Arr((4,)), Arr((3,)), indexing="ij")],
        [S(X0, Arr((2,)), indexing="xy"), S([Arr((3,)), X0], indexing="ij")],
        [S(Arr((0,)), Arr((2,)), indexing="ij"), S((Arr((2,)), Arr((0,))), indexing="xy")]),
        dtypes=ALL, is_view=True),
]
