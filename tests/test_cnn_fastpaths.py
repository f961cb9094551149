"""The CPU fast paths of the CNN ops against their general paths, direct references and PyTorch.

Max pool: the forward scan over strided taps (on the input itself when no padding or ceil_mode
overhang needs a padded copy) against PyTorch's loop written out (NaN and tie rules, all -inf
windows, integer inputs) and against the padded general path; the backward's direct write (windows
that cannot overlap) against the bincount of the general path, bit for bit. Convolution: the chunked
NumPy kernels (columns per chunk of the batch, x saved instead of the columns) at several chunk
sizes against a float64 reference, against the differentiable composition that create_graph takes,
and against PyTorch; what a conv and a max pool save; the forward's memory. col2im clipped to the
image against the padded-buffer algorithm. Average pooling's divisor in the input's dtype against
the float64 one.
"""
from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops import conv as conv_ops
from autograd_gpu.ops import fold as fold_ops
from autograd_gpu.ops import pooling, pooling_kernels
from helpers import check_grad

F = ag.nn.functional
try:
    import torch
    TF = torch.nn.functional
except ImportError:   # CI without torch: those comparisons skip
    torch = TF = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def _same_bits(a, b):
    """Equal values, NaN where NaN, and the same sign of zero."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), np.abs(a - b).max()
    if a.dtype.kind == "f":
        assert np.array_equal(np.signbit(a), np.signbit(b))


# max pool ---------------------------------------------------------------------------------------------
def _ref_max_pool(x, k, s, p, d, O):
    """PyTorch's CPU loop: the max starts below every value with the first in-bounds index of the
    window; a tap wins when ``v > max or isnan(v)`` (so the first max and the last NaN)."""
    S, isf = x.shape[1:], x.dtype.kind == "f"
    low = -np.inf if isf else np.iinfo(x.dtype).min
    vals, idx = np.empty((x.shape[0],) + O, x.dtype), np.empty((x.shape[0],) + O, np.int64)
    for o in np.ndindex(*O):
        st = [oo * ss - pp for oo, ss, pp in zip(o, s, p)]
        pos = [[a + t * dd for t in range(kk) if 0 <= a + t * dd < sz] for a, kk, dd, sz in zip(st, k, d, S)]
        first = int(np.ravel_multi_index(tuple(v[0] for v in pos), S))
        for b in range(x.shape[0]):
            best, bi = low, first
            for q in itertools.product(*pos):
                v = x[(b,) + q]
                if v > best or (isf and np.isnan(v)):
                    best, bi = v, int(np.ravel_multi_index(q, S))
            vals[(b,) + o], idx[(b,) + o] = best, bi
    return vals, idx


# (kernel, stride, padding, dilation, ceil_mode, spatial)
POOL_GEOMS = [
    ((2, 2), (2, 2), (0, 0), (1, 1), False, (6, 8)),     # the CNN's case: kernel == stride, exact tiling
    ((2, 2), (2, 2), (0, 0), (1, 1), False, (7, 9)),     # a row and a column left over
    ((2, 2), (2, 2), (0, 0), (1, 1), True, (7, 9)),      # ceil_mode: windows hang over the edge
    ((3, 3), (2, 2), (1, 1), (1, 1), False, (7, 6)),     # overlapping, padded
    ((3, 2), (4, 3), (1, 0), (1, 1), True, (9, 8)),      # stride > kernel
    ((2, 3), (1, 2), (1, 1), (2, 1), False, (6, 7)),     # dilation
    ((1, 1), (2, 1), (0, 0), (1, 1), False, (5, 4)),     # one tap
    ((3,), (3,), (0,), (1,), False, (10,)),              # 1-d
    ((4,), (2,), (2,), (1,), True, (9,)),
    ((2, 2, 2), (2, 2, 2), (0, 0, 0), (1, 1, 1), False, (4, 5, 4)),   # 3-d
    ((3, 1, 2), (2, 1, 3), (1, 0, 1), (1, 1, 1), True, (5, 3, 6)),
]


def _pool_input(kind, dtype, shape, rng):
    if kind == "normal":
        x = rng.standard_normal(shape)
    else:                                     # few distinct values: ties everywhere
        x = rng.integers(-2, 2, shape).astype(float)
    if np.dtype(dtype).kind in "iu":
        x = x.astype(dtype)
        if kind == "low":
            x[rng.random(shape) < 0.5] = np.iinfo(dtype).min
        return x
    x = x.astype(dtype)
    if kind == "nan":
        x[rng.random(shape) < 0.2] = np.nan
    elif kind == "low":
        x[rng.random(shape) < 0.6] = -np.inf
    elif kind == "ties":
        x[rng.random(shape) < 0.3] = -0.0
    return x


def _out(S, k, s, p, d, ceil):
    return tuple(pooling.out_len(*a, ceil) for a in zip(S, k, s, p, d))


@pytest.mark.parametrize("geom", POOL_GEOMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("kind", ["normal", "ties", "nan", "low"])
def test_max_pool_forward_matches_pytorch_loop(geom, dtype, kind):
    k, s, p, d, ceil, S = geom
    if np.dtype(dtype).kind in "iu" and kind == "nan":
        return
    rng = np.random.default_rng(hash((geom, kind)) % 2 ** 32)
    x = _pool_input(kind, dtype, (3,) + S, rng)
    O = _out(S, k, s, p, d, ceil)
    v, i = pooling_kernels._np_max_pool_fwd(x, k, s, p, d, O)
    rv, ri = _ref_max_pool(x, k, s, p, d, O)
    assert i.dtype == np.int64
    np.testing.assert_array_equal(i, ri)
    # values by np.maximum: a window of -0.0 and 0.0 may give either zero (PyTorch: the first), as
    # before the fast paths; the indices follow PyTorch exactly
    assert v.dtype == rv.dtype
    np.testing.assert_array_equal(v, rv)


@pytest.mark.parametrize("geom", POOL_GEOMS)
@pytest.mark.parametrize("kind", ["normal", "ties", "nan", "low"])
def test_max_pool_forward_on_the_input_equals_the_padded_path(geom, kind, monkeypatch):
    """Without padding the taps are views of x itself; forced through the padded copy, the same."""
    k, s, p, d, ceil, S = geom
    rng = np.random.default_rng(7)
    x = _pool_input(kind, np.float32, (4,) + S, rng)
    O = _out(S, k, s, p, d, ceil)
    fast = pooling_kernels._np_max_pool_fwd(x, k, s, p, d, O)
    monkeypatch.setattr(pooling_kernels, "_source", lambda x, p, need, fill: pooling_kernels._padded(x, p, need, fill))
    general = pooling_kernels._np_max_pool_fwd(x, k, s, p, d, O)
    _same_bits(fast[0], general[0])
    np.testing.assert_array_equal(fast[1], general[1])


@pytest.mark.parametrize("geom", POOL_GEOMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk", [1 << 15, 5])
def test_max_pool_backward_direct_write_equals_bincount(geom, dtype, chunk, monkeypatch):
    """Non-overlapping windows write g straight in (in steps of planes); overlapping ones keep
    the bincount. Both bit for bit the general path's sums, -0.0 gradients included."""
    monkeypatch.setattr(pooling_kernels, "_SCATTER_CHUNK", chunk)
    k, s, p, d, ceil, S = geom
    rng = np.random.default_rng(3)
    x = _pool_input("ties", dtype, (5,) + S, rng)
    O = _out(S, k, s, p, d, ceil)
    _, idx = pooling_kernels._np_max_pool_fwd(x, k, s, p, d, O)
    g = rng.standard_normal(idx.shape).astype(dtype)
    g[rng.random(g.shape) < 0.3] = -0.0
    g[rng.random(g.shape) < 0.1] = 0.0
    _same_bits(pooling_kernels._np_max_pool_bwd(g, idx, S, k, s, p, d), pooling_kernels._np_scatter_add(g, idx, S))


def test_max_pool_large_kernel():
    """More taps than an int8 counts (the offsets are int32/int64 either way)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 3, (2, 400)).astype(np.float32)
    O = _out((400,), (200,), (150,), (0,), (1,), False)
    v, i = pooling_kernels._np_max_pool_fwd(x, (200,), (150,), (0,), (1,), O)
    rv, ri = _ref_max_pool(x, (200,), (150,), (0,), (1,), O)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(i, ri)


@needs_torch
@pytest.mark.parametrize("geom", POOL_GEOMS)
@pytest.mark.parametrize("kind", ["normal", "ties", "nan"])
def test_max_pool_vs_torch(geom, kind):
    k, s, p, d, ceil, S = geom
    n = len(k)
    rng = np.random.default_rng(11)
    x = _pool_input(kind, np.float64, (2, 3) + S, rng)
    xa, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, return_indices=True)
    va, ia = getattr(F, f"max_pool{n}d")(xa, **kw)
    vt, it = getattr(TF, f"max_pool{n}d")(xt, **kw)
    np.testing.assert_array_equal(ia.numpy(), it.numpy())
    np.testing.assert_array_equal(va.detach().numpy(), vt.detach().numpy())
    g = rng.standard_normal(tuple(vt.shape))
    va.backward(ag.tensor(g))
    vt.backward(torch.tensor(g))
    np.testing.assert_array_equal(xa.grad.numpy(), xt.grad.numpy())
    # without indices: the same values and gradient
    xb = ag.tensor(x, requires_grad=True)
    vb = getattr(F, f"max_pool{n}d")(xb, **{**kw, "return_indices": False})
    np.testing.assert_array_equal(vb.detach().numpy(), vt.detach().numpy())
    vb.backward(ag.tensor(g))
    np.testing.assert_array_equal(xb.grad.numpy(), xt.grad.numpy())


def test_max_pool_saves_its_indices_as_an_intermediate():
    """Without return_indices the node saves one int64 tensor and outputs only the values (an
    index output would stay referenced by the node after it ran); gradients of all orders work."""
    saved = []
    x = ag.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)), requires_grad=True)
    with ag.autograd.graph.saved_tensors_hooks(lambda t: saved.append((tuple(t.shape), t.dtype)) or t, lambda t: t):
        y = F.max_pool2d(x, 2)
    assert isinstance(y, ag.Tensor) and saved == [((2, 3, 3, 3), ag.int64)]
    v, i = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(v.detach().numpy(), y.detach().numpy())
    assert i.dtype == ag.int64 and not i.requires_grad
    check_grad(lambda t: F.max_pool2d(t, 2), x)
    check_grad(lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True)[0], x)


# avg pool: the divisor in the input's dtype --------------------------------------------------------
@pytest.mark.parametrize("geom", [g for g in POOL_GEOMS if g[3] == (1,) * len(g[0])])
@pytest.mark.parametrize("cip,divisor", [(True, None), (False, None), (True, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_avg_pool_divisor_in_dtype_equals_float64_division(geom, cip, divisor, dtype):
    k, s, p, _, ceil, S = geom
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3,) + S).astype(dtype)
    x[rng.random(x.shape) < 0.2] = -0.0
    O = _out(S, k, s, p, (1,) * len(k), ceil)
    div64 = pooling_kernels._avg_divisor(S, k, s, p, O, cip, divisor, np.float64)
    acc = np.zeros((3,) + O, dtype)
    xp = pooling_kernels._padded(x, p, [(o - 1) * ss + kk for o, ss, kk in zip(O, s, k)], 0)
    for t in np.ndindex(*k):
        acc += xp[pooling_kernels._tap(t, s, (1,) * len(k), O)]
    _same_bits(pooling_kernels._np_avg_pool_fwd(x, k, s, p, O, cip, divisor), (acc / div64).astype(dtype))
    g = rng.standard_normal((3,) + O).astype(dtype)
    want = np.zeros(xp.shape, dtype)
    for t in np.ndindex(*k):
        want[pooling_kernels._tap(t, s, (1,) * len(k), O)] += (g / div64).astype(dtype)
    want = want[(slice(None),) + tuple(slice(pp, pp + sz) for pp, sz in zip(p, S))]
    _same_bits(pooling_kernels._np_avg_pool_bwd(g, S, k, s, p, cip, divisor), np.ascontiguousarray(want))


# convolution ------------------------------------------------------------------------------------------
def _ref_conv(x, w, b, stride, padding, dilation, groups):
    """float64 cross-correlation by direct sums over the taps."""
    n = w.ndim - 2
    x, w = x.astype(np.float64), w.astype(np.float64)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    S = x.shape[2:]
    O = tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
              for s, p, d, k, st in zip(S, padding, dilation, w.shape[2:], stride))
    og, cg = w.shape[0] // groups, x.shape[1] // groups
    out = np.zeros((x.shape[0], w.shape[0]) + O)
    for t in np.ndindex(*w.shape[2:]):
        sl = (slice(None), slice(None)) + tuple(slice(tt * d, tt * d + (o - 1) * st + 1, st)
                                                for tt, d, o, st in zip(t, dilation, O, stride))
        win = xp[sl]
        for gi in range(groups):
            wt = w[gi * og:(gi + 1) * og][(slice(None), slice(None)) + t]      # (og, cg)
            out[:, gi * og:(gi + 1) * og] += np.einsum("bc...,oc->bo...", win[:, gi * cg:(gi + 1) * cg], wt)
    if b is not None:
        out += b.reshape((-1,) + (1,) * n)
    return out


# (batch, channels, spatial, out channels, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    (32, 1, (28, 28), 16, (3, 3), 1, 1, 1, 1),        # the CNN benchmark's two convolutions
    (32, 16, (14, 14), 32, (3, 3), 1, 1, 1, 1),
    (5, 4, (9, 8), 6, (3, 2), 2, 1, 1, 2),            # batch not a multiple of the chunk, groups
    (3, 6, (11, 10), 6, (3, 3), (2, 3), (2, 1), 2, 3),
    (4, 3, (7, 12), 5, (1, 4), 1, 0, (1, 2), 1),
    (6, 4, (13,), 8, (5,), 3, 2, 1, 4),               # 1-d, depthwise-like
    (2, 2, (5, 6, 4), 4, (2, 3, 2), (1, 2, 1), (1, 1, 0), 1, 2),   # 3-d
]


def _conv_case(case, dtype, rng):
    B, C, S, O, k, st, p, d, g = case
    n = len(S)
    tup = lambda v: tuple(v) if isinstance(v, tuple) else (v,) * n
    x = rng.standard_normal((B, C) + S).astype(dtype)
    w = (rng.standard_normal((O, C // g) + k) / math.sqrt(C // g * math.prod(k))).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    return x, w, b, dict(stride=tup(st), padding=tup(p), dilation=tup(d), groups=g)


def _conv_run(x, w, b, kw, create_graph=False, noncontig=False):
    n = w.ndim - 2
    xt = ag.tensor(x, requires_grad=True)
    wt, bt = ag.tensor(w, requires_grad=True), ag.tensor(b, requires_grad=True)
    xin = xt
    if noncontig:   # the same values through a transposed copy's transpose
        xin = ag.tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1)), requires_grad=True)
        xt = xin
        xin = xin.transpose(0, 1)
    y = getattr(F, f"conv{n}d")(xin, wt, bt, **kw)
    g = np.cos(np.arange(y.numel()).reshape(tuple(y.shape))).astype(x.dtype)
    grads = ag.autograd.grad(y, (xt, wt, bt), ag.tensor(g), create_graph=create_graph)
    gx = grads[0].detach().numpy()
    if noncontig:
        gx = np.swapaxes(gx, 0, 1)
    return y.detach().numpy(), gx, grads[1].detach().numpy(), grads[2].detach().numpy(), g


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_chunks_against_reference_and_the_composed_backward(case, dtype, monkeypatch):
    """Forward and gradients: one sample per chunk, a few, the whole batch in one; all against a
    float64 reference and the create_graph path (Im2Col / matmul / Col2Im, no chunks)."""
    rng = np.random.default_rng(abs(hash(case)) % 2 ** 32)
    x, w, b, kw = _conv_case(case, dtype, rng)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    ref = _ref_conv(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    runs = []
    for chunk in (1, 1 << 14, 1 << 30):
        monkeypatch.setattr(conv_ops, "_CHUNK_BYTES", chunk)
        runs.append(_conv_run(x, w, b, kw))
    composed = _conv_run(x, w, b, kw, create_graph=True)
    runs.append(_conv_run(x, w, b, kw, noncontig=True))
    y0, gx0, gw0, gb0, g = runs[0]
    np.testing.assert_allclose(y0, ref, **tol)
    for y, gx, gw, gb, _ in runs[1:] + [composed]:
        np.testing.assert_allclose(y, y0, **tol)
        np.testing.assert_allclose(gx, gx0, **tol)
        np.testing.assert_allclose(gw, gw0, **tol)
        np.testing.assert_array_equal(gb, gb0)
    # the reference's adjoints: gx by finite-free linearity checks (<g, conv(x)> = <gx, x> + ...)
    np.testing.assert_allclose(np.vdot(g.astype(np.float64), ref - b.reshape((-1,) + (1,) * (w.ndim - 2))),
                               np.vdot(gx0.astype(np.float64), x), rtol=1e-3 if dtype == np.float32 else 1e-9)
    np.testing.assert_allclose(np.vdot(g.astype(np.float64), ref - b.reshape((-1,) + (1,) * (w.ndim - 2))),
                               np.vdot(gw0.astype(np.float64), w), rtol=1e-3 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("case", CONV_CASES[2:])
def test_conv_gradcheck_small_chunks(case, monkeypatch):
    """float64 gradcheck with several chunks per call (second order takes the composed path,
    which the op table's gradgradcheck covers)."""
    monkeypatch.setattr(conv_ops, "_CHUNK_BYTES", 1)
    rng = np.random.default_rng(1)
    B, C, S, O, k, st, p, d, g = case
    small = (min(B, 2), C, tuple(min(s, 8) for s in S), O, k, st, p, d, g)
    try:
        x, w, b, kw = _conv_case(small, np.float64, rng)
        getattr(F, f"conv{len(S)}d")(ag.tensor(x), ag.tensor(w), ag.tensor(b), **kw)
    except RuntimeError:   # shrunk below the kernel
        pytest.skip("too small")
    fn = getattr(F, f"conv{len(S)}d")
    check_grad(lambda a, ww, bb: fn(a, ww, bb, **kw), ag.tensor(x, requires_grad=True),
               ag.tensor(w, requires_grad=True), ag.tensor(b, requires_grad=True), second_order=False)


def test_conv_gradient_of_input_or_weight_alone(monkeypatch):
    monkeypatch.setattr(conv_ops, "_CHUNK_BYTES", 1 << 12)
    rng = np.random.default_rng(4)
    x, w, b, kw = _conv_case(CONV_CASES[2], np.float64, rng)
    y_all = _conv_run(x, w, b, kw)
    xt, wt = ag.tensor(x, requires_grad=True), ag.tensor(w)
    F.conv2d(xt, wt, ag.tensor(b), **kw).backward(ag.tensor(y_all[4]))
    np.testing.assert_allclose(xt.grad.numpy(), y_all[1], rtol=1e-12, atol=1e-12)
    xt, wt = ag.tensor(x), ag.tensor(w, requires_grad=True)
    F.conv2d(xt, wt, None, **kw).backward(ag.tensor(y_all[4]))
    np.testing.assert_allclose(wt.grad.numpy(), y_all[2], rtol=1e-12, atol=1e-12)


def test_conv_same_padding_and_unbatched():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 8, 7))
    w = rng.standard_normal((4, 3, 4, 3))
    y = F.conv2d(ag.tensor(x), ag.tensor(w), padding="same")
    ref = _ref_conv(np.pad(x, [(0, 0), (1, 2), (1, 1)])[None], w, None, (1, 1), (0, 0), (1, 1), 1)[0]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_vs_torch(case):
    rng = np.random.default_rng(8)
    x, w, b, kw = _conv_case(case, np.float64, rng)
    y, gx, gw, gb, g = _conv_run(x, w, b, kw)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = getattr(TF, f"conv{w.ndim - 2}d")(xt, wt, bt, **kw)
    yt.backward(torch.tensor(g))
    for ours, theirs in ((y, yt), (gx, xt.grad), (gw, wt.grad), (gb, bt.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_conv_saves_the_input_not_its_columns():
    saved = []
    x = ag.tensor(np.ones((4, 3, 10, 10), np.float32), requires_grad=True)
    w = ag.tensor(np.ones((5, 3, 3, 3), np.float32), requires_grad=True)
    with ag.autograd.graph.saved_tensors_hooks(lambda t: saved.append(tuple(t.shape)) or t, lambda t: t):
        F.conv2d(x, w, padding=1)
    assert sorted(saved) == sorted([(4, 3, 10, 10), (5, 3, 3, 3)])
    saved.clear()
    with ag.autograd.graph.saved_tensors_hooks(lambda t: saved.append(tuple(t.shape)) or t, lambda t: t):
        F.conv2d(x.detach(), w, padding=1)   # weight gradient only: x, not the weight
    assert saved == [(4, 3, 10, 10)]


def test_conv_forward_never_holds_the_columns_of_the_whole_batch():
    """Peak NumPy memory of a forward: the output plus chunk buffers, not the 9x-input columns."""
    x = ag.tensor(np.ones((64, 16, 32, 32), np.float32))      # columns for the batch: 37.7 MB
    w = ag.tensor(np.ones((16, 16, 3, 3), np.float32))
    out_bytes = 64 * 16 * 32 * 32 * 4
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y = F.conv2d(x, w, padding=1)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    one_sample = 16 * 9 * 32 * 32 * 4
    assert peak < out_bytes + 2 * max(conv_ops._CHUNK_BYTES, one_sample) + 64 * 16 * 34 * 34 * 4 // 8, peak
    assert y.shape == (64, 16, 32, 32)


# col2im ------------------------------------------------------------------------------------------
def _col2im_padded(cols, spatial, k, d, p, s):
    """The padded-buffer algorithm: every tap added in full, then the padding cropped."""
    n = len(k)
    outs = cols.shape[2 + n:]
    res = np.zeros(cols.shape[:2] + tuple(max(sz + 2 * pp, t * dd + st * (o - 1) + 1)
                                          for sz, pp, t, dd, st, o in zip(spatial, p, k, d, s, outs)), cols.dtype)
    for tap in itertools.product(*(range(kk) for kk in k)):
        dst = (slice(None), slice(None)) + tuple(slice(t * dd, t * dd + st * (o - 1) + 1, st)
                                                 for t, dd, st, o in zip(tap, d, s, outs))
        res[dst] += cols[(slice(None), slice(None)) + tap]
    return res[(slice(None), slice(None)) + tuple(slice(pp, pp + sz) for pp, sz in zip(p, spatial))]


@pytest.mark.parametrize("spatial,k,d,p,s", [((7, 6), (3, 3), (1, 1), (1, 1), (1, 1)),
                                             ((9, 8), (3, 2), (2, 1), (2, 0), (2, 3)),
                                             ((5,), (4,), (1,), (2,), (3,)),
                                             ((4, 5, 3), (2, 2, 3), (1, 2, 1), (1, 0, 1), (1, 1, 2))])
@pytest.mark.parametrize("batch_first", [True, False])
def test_col2im_clipped_equals_padded_buffer(spatial, k, d, p, s, batch_first):
    rng = np.random.default_rng(9)
    outs = fold_ops.out_sizes(spatial, k, d, p, s)
    cols = rng.standard_normal((3, 2) + tuple(k) + outs)
    cols[rng.random(cols.shape) < 0.2] = -0.0
    want = _col2im_padded(cols, spatial, k, d, p, s)
    arg = cols if batch_first else np.ascontiguousarray(np.moveaxis(cols, 0, 1 + len(k)))
    got = fold_ops._np_col2im(arg, spatial, k, d, p, s, batch_first)
    assert got.flags.c_contiguous
    _same_bits(got, want)


@needs_torch
def test_fold_unfold_vs_torch():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 9, 8))
    for kw in (dict(kernel_size=3, padding=1),
               dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3))):
        u = F.unfold(ag.tensor(x), **kw)
        ut = TF.unfold(torch.tensor(x), **kw)
        np.testing.assert_array_equal(u.numpy(), ut.numpy())
        c = rng.standard_normal(tuple(ut.shape))
        np.testing.assert_allclose(F.fold(ag.tensor(c), (9, 8), **kw).numpy(),
                                   TF.fold(torch.tensor(c), (9, 8), **kw).numpy(), rtol=1e-12, atol=1e-12)
