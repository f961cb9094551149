"""Op table rows: convolutions (conv1d/2d/3d, conv_transpose1d/2d/3d) and ``F.fold``.

The references are written out directly: zero padding with ``np.pad``, then one ``einsum`` per
kernel tap (a strided slice of the input for a convolution; a strided add into the output for a
transposed one and for fold). ``F.unfold`` shares its name with ``Tensor.unfold``, whose row
(``op_db_layout``) covers the name; tests/test_nn_conv.py checks ``F.unfold`` itself."""
from __future__ import annotations

import itertools

import numpy as np

from op_db import Arr, OpInfo, S, cases


def _t(v, n: int) -> tuple:
    return (v,) * n if isinstance(v, int) else tuple(v) * (n if len(tuple(v)) == 1 else 1)


def _taps(k):
    return itertools.product(*(range(s) for s in k))


def _np_conv(n: int):
    def ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        unbatched = x.ndim == n + 1
        x = x[None] if unbatched else x
        s, d, k = _t(stride, n), _t(dilation, n), w.shape[2:]
        if padding == "valid":
            pairs = [(0, 0)] * n
        elif padding == "same":
            pairs = [(di * (ki - 1) // 2, di * (ki - 1) - di * (ki - 1) // 2) for di, ki in zip(d, k)]
        else:
            pairs = [(p, p) for p in _t(padding, n)]
        xp = np.pad(x, [(0, 0), (0, 0)] + pairs)
        outs = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(n)]
        bs, c, o, g = x.shape[0], x.shape[1], w.shape[0], groups
        xg = xp.reshape(bs, g, c // g, *xp.shape[2:])
        wg = w.reshape(g, o // g, c // g, *k)
        out = np.zeros((bs, g, o // g, *outs), dtype=x.dtype)
        for tap in _taps(k):
            sl = tuple(slice(t * di, t * di + si * (m - 1) + 1, si) for t, di, si, m in zip(tap, d, s, outs))
            out += np.einsum("bgc...,goc->bgo...", xg[(slice(None),) * 3 + sl], wg[(Ellipsis,) + tap])
        out = out.reshape(bs, o, *outs)
        if b is not None:
            out = out + b.reshape((o,) + (1,) * n)
        out = out.astype(x.dtype)
        return out[0] if unbatched else out
    return ref


def _np_conv_transpose(n: int):
    def ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        unbatched = x.ndim == n + 1
        x = x[None] if unbatched else x
        s, p, op, d, k = _t(stride, n), _t(padding, n), _t(output_padding, n), _t(dilation, n), w.shape[2:]
        bs, c = x.shape[:2]
        g = groups
        o = w.shape[1] * g
        ins = x.shape[2:]
        full = [(m - 1) * si + di * (ki - 1) + 1 + opi for m, si, di, ki, opi in zip(ins, s, d, k, op)]
        out = np.zeros((bs, g, o // g, *full), dtype=x.dtype)
        xg = x.reshape(bs, g, c // g, *ins)
        wg = w.reshape(g, c // g, o // g, *k)
        for tap in _taps(k):
            sl = tuple(slice(t * di, t * di + si * (m - 1) + 1, si) for t, di, si, m in zip(tap, d, s, ins))
            out[(slice(None),) * 3 + sl] += np.einsum("bgc...,gco->bgo...", xg, wg[(Ellipsis,) + tap])
        out = out.reshape(bs, o, *full)[(slice(None),) * 2 + tuple(slice(pi, f - pi) for pi, f in zip(p, full))]
        if b is not None:
            out = out + b.reshape((o,) + (1,) * n)
        out = out.astype(x.dtype)
        return out[0] if unbatched else out
    return ref


def _np_fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    unbatched = x.ndim == 2
    x = x[None] if unbatched else x
    o, k, d, p, s = (_t(v, 2) for v in (output_size, kernel_size, dilation, padding, stride))
    outs = [(o[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    bs = x.shape[0]
    cols = x.reshape(bs, -1, *k, *outs)
    res = np.zeros((bs, cols.shape[1], o[0] + 2 * p[0], o[1] + 2 * p[1]), dtype=x.dtype)
    for tap in _taps(k):
        sl = tuple(slice(t * di, t * di + si * (m - 1) + 1, si) for t, di, si, m in zip(tap, d, s, outs))
        res[(slice(None),) * 2 + sl] += cols[(slice(None),) * 2 + tap]
    res = res[:, :, p[0]:p[0] + o[0], p[1]:p[1] + o[1]]
    return res[0] if unbatched else res


CONV1 = cases([S(Arr((2, 4, 7)), Arr((3, 4, 3)), Arr((3,))),
               S(Arr((2, 4, 7)), Arr((4, 2, 2)), None, stride=2, padding=1, dilation=2, groups=2),
               S(Arr((4, 6)), Arr((3, 4, 3)), Arr((3,)), padding="same"),
               S(Arr((1, 2, 5)), Arr((2, 2, 3)), padding="valid", stride=(3,))],
              empty=[S(Arr((0, 4, 5)), Arr((3, 4, 3)), Arr((3,)))])
CONV2 = cases([S(Arr((2, 4, 5, 4)), Arr((3, 4, 3, 2)), Arr((3,))),
               S(Arr((2, 4, 5, 5)), Arr((4, 2, 2, 3)), None, stride=2, padding=1, groups=2),
               S(Arr((4, 5, 4)), Arr((3, 4, 3, 3)), Arr((3,)), padding="same", dilation=(2, 1)),
               S(Arr((1, 2, 6, 5)), Arr((2, 1, 2, 2)), Arr((2,)), stride=(2, 1), padding=(0, 2), dilation=(1, 2),
                 groups=2)],
              empty=[S(Arr((0, 2, 4, 4)), Arr((3, 2, 3, 3)), Arr((3,)), padding=1)])
CONV3 = cases([S(Arr((1, 2, 4, 3, 4)), Arr((2, 2, 2, 2, 3)), Arr((2,))),
               S(Arr((2, 4, 3, 4, 3)), Arr((2, 2, 3, 1, 2)), None, stride=(1, 2, 1), padding=(1, 0, 1), groups=2),
               S(Arr((2, 3, 3, 4)), Arr((2, 2, 1, 3, 3)), Arr((2,)), padding="same")])
CT1 = cases([S(Arr((2, 4, 5)), Arr((4, 3, 3)), Arr((3,))),
             S(Arr((2, 4, 4)), Arr((4, 2, 2)), Arr((4,)), stride=3, padding=1, output_padding=2, groups=2),
             S(Arr((4, 5)), Arr((4, 2, 3)), None, dilation=2, output_padding=1)])
CT2 = cases([S(Arr((2, 4, 3, 4)), Arr((4, 3, 3, 2)), Arr((3,))),
             S(Arr((2, 4, 3, 3)), Arr((4, 2, 3, 3)), Arr((4,)), stride=2, padding=1, output_padding=1, groups=2),
             S(Arr((4, 3, 3)), Arr((4, 2, 2, 3)), None, stride=(1, 2), dilation=(2, 1), output_padding=(1, 0))],
            empty=[S(Arr((0, 2, 3, 3)), Arr((2, 3, 2, 2)), Arr((3,)))])
CT3 = cases([S(Arr((1, 2, 3, 2, 3)), Arr((2, 2, 2, 2, 2)), Arr((2,))),
             S(Arr((1, 2, 2, 3, 2)), Arr((2, 1, 2, 1, 2)), None, stride=2, padding=(0, 1, 0), output_padding=1,
               groups=2)])
FOLD = cases([S(Arr((2, 12, 12)), (4, 5), 2),
              S(Arr((2, 8, 9)), (5, 5), (2, 2), dilation=(2, 1), padding=1, stride=2),
              S(Arr((6, 10)), (3, 4), (1, 2), padding=(1, 0), stride=(1, 2))])

ROWS = [
    OpInfo("conv1d", _np_conv(1), CONV1),
    OpInfo("conv2d", _np_conv(2), CONV2),
    OpInfo("conv3d", _np_conv(3), CONV3),
    OpInfo("conv_transpose1d", _np_conv_transpose(1), CT1),
    OpInfo("conv_transpose2d", _np_conv_transpose(2), CT2),
    OpInfo("conv_transpose3d", _np_conv_transpose(3), CT3),
    OpInfo("fold", _np_fold, FOLD),
]
