"""Op table rows of the nn core: ``F.linear``, ``F.bilinear``, ``F.embedding``, ``F.one_hot``.

Embedding's ``padding_idx`` and ``scale_grad_by_freq`` change the gradient away from the true
derivative (PyTorch's definition), so those samples are forward-only (``special``); ``max_norm``
rewrites the weight in place and is tested in ``test_nn_core.py``."""
from __future__ import annotations

import numpy as np

from op_db import I64, Arr, Idx, OpInfo, S, X, XE, cases


def _np_linear(x, w, b=None):
    return (x @ w.T + (0 if b is None else b)).astype(x.dtype)


def _np_bilinear(x1, x2, w, b=None):
    y = np.einsum("...i,oij,...j->...o", x1, w, x2)
    return (y + (0 if b is None else b)).astype(x1.dtype)


def _np_embedding(idx, w, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    return w[idx]


def _np_one_hot(a, num_classes=-1):
    n = int(a.max()) + 1 if num_classes == -1 else num_classes
    return (a[..., None] == np.arange(n)).astype(np.int64)


ROWS = [
    OpInfo("linear", _np_linear, cases(
        [S(X, Arr((4, 3)), Arr((4,))), S(Arr((2, 2, 3)), Arr((4, 3))), S(Arr((3,)), Arr((4, 3)), Arr((4,))),
         S(X, Arr((4, 3)), None)],
        empty=[S(XE, Arr((4, 3)), Arr((4,))), S(Arr((2, 0)), Arr((4, 0)), Arr((4,)))]),
        torch="nn.functional.linear"),
    OpInfo("bilinear", _np_bilinear, cases(
        [S(Arr((3, 2)), Arr((3, 4)), Arr((5, 2, 4)), Arr((5,))), S(Arr((2, 2, 2)), Arr((2, 2, 3)), Arr((1, 2, 3))),
         S(Arr((2,)), Arr((3,)), Arr((4, 2, 3)))],
        empty=[S(Arr((0, 2)), Arr((0, 3)), Arr((4, 2, 3)), Arr((4,)))]),
        torch="nn.functional.bilinear"),
    OpInfo("embedding", _np_embedding, cases(
        [S(Idx((2, 3), 5), Arr((5, 4))), S(Idx((6,), 3), Arr((3, 2))), S(Idx((), 4), Arr((4, 3)))],
        empty=[S(Idx((0,), 5), Arr((5, 3))), S(Idx((2, 0), 5), Arr((5, 3)))],
        special=[S(Idx((2, 3), 5), Arr((5, 4)), padding_idx=1), S(Idx((2, 3), 5), Arr((5, 4)), padding_idx=-1),
                 S(Idx((8,), 3), Arr((3, 2)), scale_grad_by_freq=True)]),
        torch="nn.functional.embedding"),
    OpInfo("one_hot", _np_one_hot, cases([S(Idx((2, 3), 4)), S(Idx((5,), 3), 5), S(Idx((), 3), 3)],
                                         empty=[S(Idx((0,), 3), 3), S(Idx((2, 0), 3), 4)]),
           dtypes=(I64,), grad=0, torch="nn.functional.one_hot"),
]
