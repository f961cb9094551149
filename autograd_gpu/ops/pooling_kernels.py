"""The NumPy kernels of pooling (``pooling.py`` registers them and declares the ops): loops over
the kernel taps only, each tap a strided slice of the input, of a padded copy only when padding or
a ceil_mode overhang needs one.
"""
from __future__ import annotations

import math

import numpy as np


def _padded(x, p, need, fill):
    """x (B, *S) padded by p on the left and up to ``need`` extent (at least p on the right)."""
    S = x.shape[1:]
    shape = tuple(max(s + 2 * pp, nd) for s, pp, nd in zip(S, p, need))
    xp = np.full((x.shape[0],) + shape, fill, x.dtype)
    xp[(slice(None),) + tuple(slice(pp, pp + s) for pp, s in zip(p, S))] = x
    return xp


def _tap(t, s, d, O):
    return (slice(None),) + tuple(slice(tt * dd, tt * dd + (o - 1) * ss + 1, ss) for tt, ss, dd, o in zip(t, s, d, O))


def _strides(S) -> list:
    return [math.prod(S[a + 1:]) for a in range(len(S))]


def _source(x, p, need, fill):
    """x itself when every window lies inside it (no padding, no ceil_mode overhang), else the
    padded copy: the taps are strided views of it either way."""
    if not any(p) and all(nd <= sz for nd, sz in zip(need, x.shape[1:])):
        return x
    return _padded(x, p, need, fill)


def _np_max_pool_fwd(x, k, s, p, d, O):
    """One forward scan over the taps (strided views of the input, or of its padded copy): ``best``
    by np.maximum, and ``rel``, the plane offset of the last tap that beat the running max strictly,
    i.e. of the first tap holding the window's max (PyTorch's ``val > max``). The tap offsets grow
    with the tap, so ``rel = maximum(rel, off_j * gt)`` (several times faster than
    ``copyto(where=)`` or np.where). The indices are ``org + rel``. Windows holding a NaN then
    take the tap loop with PyTorch's exact rule."""
    S = x.shape[1:]
    need = [(o - 1) * ss + (kk - 1) * dd + 1 for o, ss, kk, dd in zip(O, s, k, d)]
    isf = x.dtype.kind == "f"
    low = -np.inf if isf else np.iinfo(x.dtype).min
    xp = _source(x, p, need, low)
    mult = _strides(S)
    taps = list(np.ndindex(*k))
    org = sum(-pp * m for pp, m in zip(p, mult)) + \
        sum(((np.arange(o) * ss) * m).reshape((o,) + (1,) * (len(O) - a - 1))
            for a, (o, ss, m) in enumerate(zip(O, s, mult)))
    offs = np.array([sum(tt * dd * m for tt, dd, m in zip(t, d, mult)) for t in taps], np.int64)
    rt = np.int32 if offs[-1] < 2 ** 31 else np.int64
    v0 = xp[_tap(taps[0], s, d, O)]
    if len(taps) == 1:
        best, rel = v0.copy(), np.zeros(v0.shape, rt)
    else:
        v = xp[_tap(taps[1], s, d, O)]
        gt = np.greater(v, v0)
        best = np.maximum(v0, v)
        rel = np.multiply(gt, rt(offs[1]), dtype=rt)
        step = np.empty(best.shape, rt)
        for j in range(2, len(taps)):
            v = xp[_tap(taps[j], s, d, O)]
            np.greater(v, best, out=gt)
            np.maximum(best, v, out=best)
            np.multiply(gt, rt(offs[j]), out=step)
            np.maximum(rel, step, out=rel)
    idx = np.add(rel, org, dtype=np.int64)
    if isf and np.isnan(best).any():
        _nan_windows(xp, taps, s, d, O, org, offs, best, idx)
    # all-(-inf) windows: PyTorch keeps the first in-bounds index. Without padding tap 0 always is
    # in bounds (a ceil_mode window starts inside the input) and the scan kept it already.
    if any(p) and (best == low).any():
        base = np.zeros(O, np.int64)
        for a, (o, ss, pp, dd, m) in enumerate(zip(O, s, p, d, mult)):
            st = np.arange(o) * ss - pp
            first = np.where(st < 0, st + (-st + dd - 1) // dd * dd, st)
            base = base + (first * m).reshape((o,) + (1,) * (len(O) - a - 1))
        np.copyto(idx, np.broadcast_to(base, idx.shape), where=best == low)
    return best, idx


def _nan_windows(xp, taps, s, d, O, org, offs, best, idx):
    """PyTorch's scan (v > max || isnan(v)) where a window holds a NaN: the last NaN wins."""
    for j, t in enumerate(taps):
        v = xp[_tap(t, s, d, O)]
        np.copyto(idx, np.broadcast_to(org + offs[j], idx.shape), where=np.isnan(v))


def _flat(idx, L: int):
    """Flat positions in the (B, L) planes of the per-plane indices idx (B, ...)."""
    B = idx.shape[0]
    return (idx.reshape(B, -1) + np.arange(0, B * L, L, dtype=np.int64)[:, None]).ravel()


def _np_scatter_add(g, idx, S):
    """gx (B, *S): g summed into the flat positions idx of each plane (float64 sums, as bincount)."""
    B, L = g.shape[0], math.prod(S)
    out = np.bincount(_flat(idx, L), weights=g.reshape(-1), minlength=B * L)
    return out.astype(g.dtype, copy=False).reshape((B,) + tuple(S))


_SCATTER_CHUNK = 1 << 15   # gradient elements per step of the direct scatter


def _np_max_pool_bwd(g, idx, S, k, s, p, d):
    """Max pool's gx. Windows that cannot overlap (stride >= dilated kernel extent on every axis)
    pick distinct positions, so g is written straight in: no bincount, no float64 sums. In steps
    of whole planes whose flat positions (int64) take ~128 KiB: a full-size index temporary would
    be half the output again, at the step's memory peak."""
    if not all(ss >= (kk - 1) * dd + 1 for kk, ss, dd in zip(k, s, d)):
        return _np_scatter_add(g, idx, S)
    B, L = g.shape[0], math.prod(S)
    out = np.zeros((B, L), g.dtype)
    gf, idf, of = g.reshape(B, -1), idx.reshape(B, -1), out.reshape(-1)
    step = max(1, min(B, _SCATTER_CHUNK // max(1, gf.shape[1])))
    flat, val = np.empty((step, gf.shape[1]), np.int64), np.empty((step, gf.shape[1]), g.dtype)
    base = np.arange(0, step * L, L, dtype=np.int64)[:, None]
    for b0 in range(0, B, step):
        n = min(step, B - b0)
        np.add(idf[b0:b0 + n], base[:n], out=flat[:n])
        if b0:
            flat[:n] += b0 * L
        # + 0: a -0.0 gradient lands as +0.0, as the sums into zeros of the general path (and PyTorch) give
        np.add(gf[b0:b0 + n], 0, out=val[:n])
        of[flat[:n]] = val[:n]
    return out.reshape((B,) + tuple(S))


def _np_gather(x, idx):
    B = x.shape[0]
    return np.take_along_axis(x.reshape(B, -1), idx.reshape(B, -1), 1).reshape(idx.shape)


def _np_scatter(x, idx, S):
    B = x.shape[0]
    out = np.zeros((B, math.prod(S)), x.dtype)
    np.put_along_axis(out, idx.reshape(B, -1), x.reshape(B, -1), 1)
    return out.reshape((B,) + tuple(S))


def _avg_divisor(S, k, s, p, O, include_pad, divisor, dtype):
    """Per-output divisor (shape O) by PyTorch's rule: the window clipped to the padded input
    (include_pad) or to the input; ``divisor`` overrides. In ``dtype`` for float32/64: the divisor
    is an exact integer there and a float32 quotient equals the float64 one rounded (no float64
    temporaries); float16 keeps float64 (a large divisor is not exact in it)."""
    if divisor:
        div = np.full(O, float(divisor))
    else:
        div = np.ones(O)
        for a, (sz, kk, ss, pp, o) in enumerate(zip(S, k, s, p, O)):
            st = np.arange(o) * ss - pp
            en = np.minimum(st + kk, sz + pp)
            n = en - st if include_pad else np.minimum(en, sz) - np.maximum(st, 0)
            div = div * n.reshape((o,) + (1,) * (len(O) - a - 1))
    return div.astype(dtype) if np.dtype(dtype).char in "fd" else div


def _np_avg_pool_fwd(x, k, s, p, O, include_pad, divisor):
    S = x.shape[1:]
    need = [(o - 1) * ss + kk for o, ss, kk in zip(O, s, k)]
    xp = _source(x, p, need, 0)
    acc = np.zeros((x.shape[0],) + tuple(O), x.dtype)   # from zeros: -0.0 sums to +0.0, as in PyTorch
    one = (1,) * len(k)
    for t in np.ndindex(*k):
        acc += xp[_tap(t, s, one, O)]
    return (acc / _avg_divisor(S, k, s, p, O, include_pad, divisor, x.dtype)).astype(x.dtype, copy=False)


def _np_avg_pool_bwd(g, S, k, s, p, include_pad, divisor):
    O = g.shape[1:]
    gs = (g / _avg_divisor(S, k, s, p, O, include_pad, divisor, g.dtype)).astype(g.dtype, copy=False)
    need = [(o - 1) * ss + kk for o, ss, kk in zip(O, s, k)]
    inside = not any(p) and all(nd <= sz for nd, sz in zip(need, S))
    shape = tuple(S) if inside else tuple(max(sz + 2 * pp, nd) for sz, pp, nd in zip(S, p, need))
    gp = np.zeros((g.shape[0],) + shape, g.dtype)
    one = (1,) * len(k)
    for t in np.ndindex(*k):
        gp[_tap(t, s, one, O)] += gs
    if inside:
        return gp
    return np.ascontiguousarray(gp[(slice(None),) + tuple(slice(pp, pp + sz) for pp, sz in zip(p, S))])
