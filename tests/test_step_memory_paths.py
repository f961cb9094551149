"""The memory-lean paths of a training step: the optimizers' chunked NumPy updates, SDPA as one node
that recomputes its probabilities, and the in-place forward/backward chains of softmax, layer_norm,
linear and dropout. These paths write into buffers they own; the tests catch one that writes into
a caller's tensor or a saved one: inputs unchanged after forward and backward, backward twice
(retain_graph) giving the same gradients, double backward, and values against PyTorch."""
from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

import autograd_gpu as ag
import autograd_gpu.nn.functional as F
from autograd_gpu.optim import _multi_tensor

from helpers import check_grad, make

try:
    import torch
except ImportError:   # CI has no torch: the comparisons skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


# optimizers ------------------------------------------------------------------------------------------
# shapes: larger than a chunk (1-D and 2-D), odd sizes, a 0-d and an empty parameter
SHAPES = [(300, 257), (70001,), (7, 3, 5), (), (0, 4)]
SMALL_CHUNK = 4096   # bytes: every parameter above spans many chunks


def _arrays(shapes, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _ag_param(a: np.ndarray, noncontig: bool):
    """A leaf parameter; ``noncontig``: a transposed view (strided data the optimizer updates in place)."""
    if noncontig and a.ndim >= 2:
        return ag.tensor(np.ascontiguousarray(a.swapaxes(0, -1))).transpose(0, -1).detach().requires_grad_()
    return ag.tensor(a).requires_grad_()


def _ag_grad(a: np.ndarray, noncontig: bool):
    if noncontig and a.ndim >= 2:
        return ag.tensor(np.ascontiguousarray(a.swapaxes(0, -1))).transpose(0, -1)
    return ag.tensor(a)


def _run_both(opt_name: str, kwargs: dict, noncontig: bool, steps: int = 4, dtype=np.float64):
    """Steps of ag's and torch's optimizer on the same parameters and gradients (given, not computed);
    returns both parameter lists as NumPy arrays after each step."""
    init = _arrays(SHAPES, 0, dtype)
    ours = [_ag_param(a, noncontig) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    if noncontig:
        assert not ours[0].is_contiguous()
    opt_a = getattr(ag.optim, opt_name)(ours, **kwargs)
    opt_t = getattr(torch.optim, opt_name)(theirs, **kwargs)
    out = []
    for step in range(steps):
        grads = _arrays(SHAPES, 100 + step, dtype)
        for p, q, g in zip(ours, theirs, grads):
            p.grad = _ag_grad(g, noncontig)
            q.grad = torch.tensor(g)
        opt_a.step()
        opt_t.step()
        out.append(([p.detach().numpy().copy() for p in ours], [q.detach().numpy().copy() for q in theirs]))
    return out


SGD_CASES = [dict(lr=0.1, momentum=m, dampening=d, weight_decay=wd, nesterov=n, maximize=mx)
             for m, d, wd, n, mx in itertools.product((0.0, 0.9), (0.0, 0.3), (0.0, 0.05), (False, True),
                                                      (False, True))
             if not (n and (m == 0 or d != 0))]
ADAM_CASES = [dict(lr=0.01, weight_decay=wd, amsgrad=a, maximize=mx)
              for wd, a, mx in itertools.product((0.0, 0.1), (False, True), (False, True))]
RMS_CASES = [dict(lr=0.01, momentum=m, centered=c, weight_decay=wd)
             for m, c, wd in itertools.product((0.0, 0.9), (False, True), (0.0, 0.1))]
ADAGRAD_CASES = [dict(lr=0.1, lr_decay=0.01, weight_decay=wd, maximize=mx)
                 for wd, mx in itertools.product((0.0, 0.1), (False, True))]


@needs_torch
@pytest.mark.parametrize("noncontig", [False, True], ids=["contig", "strided"])
@pytest.mark.parametrize("opt_name,kwargs", [("SGD", k) for k in SGD_CASES] + [("Adam", k) for k in ADAM_CASES]
                         + [("AdamW", k) for k in ADAM_CASES] + [("RMSprop", k) for k in RMS_CASES]
                         + [("Adagrad", k) for k in ADAGRAD_CASES])
def test_chunked_optimizer_matches_torch(monkeypatch, opt_name, kwargs, noncontig):
    monkeypatch.setattr(_multi_tensor, "_CHUNK_BYTES", SMALL_CHUNK)
    for ours, theirs in _run_both(opt_name, kwargs, noncontig):
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@needs_torch
@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
                                             ("AdamW", dict(lr=1e-3, weight_decay=0.1, amsgrad=True))])
def test_optimizer_float32_default_chunks_match_torch(opt_name, kwargs):
    """float32 at the default chunk size (the 300x257 and 70001 parameters span several chunks)."""
    for ours, theirs in _run_both(opt_name, kwargs, False, dtype=np.float32):
        for a, b in zip(ours, theirs):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)


def _kernel_args(name, params, grads, rng):
    st = lambda: [np.abs(rng.standard_normal(p.shape)) for p in params]  # noqa: E731
    if name == "sgd_step":
        return (params, grads, st(), [False] * len(params), 0.1, 0.9, 0.1, 0.01, False, True)
    if name == "adam_step":
        return (params, grads, st(), st(), st(), [3.0] * len(params), 1e-3, 0.9, 0.999, 1e-8, 0.1, True, True, False)
    if name == "rmsprop_step":
        return (params, grads, st(), st(), st(), 0.01, 0.99, 1e-8, 0.1, 0.9, True, True)
    return (params, grads, st(), [2.0] * len(params), 0.1, 0.01, 0.1, 1e-10, True)


@pytest.mark.parametrize("name", ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_chunk_size_does_not_change_the_update(monkeypatch, name, order):
    """Chunks of 4 KiB and one chunk per parameter give bit-identical parameters and state; the
    gradients are read, never written."""
    fn = getattr(_multi_tensor, f"{name}_numpy")
    results = []
    for chunk in (SMALL_CHUNK, 1 << 40):
        monkeypatch.setattr(_multi_tensor, "_CHUNK_BYTES", chunk)
        rng = np.random.default_rng(5)
        params = [np.asarray(a, order=order) for a in _arrays(SHAPES, 1)]
        grads = [np.asarray(a, order=order) for a in _arrays(SHAPES, 2)]
        grads_before = [g.copy() for g in grads]
        args = _kernel_args(name, params, grads, rng)
        with np.errstate(all="ignore"):
            fn(*args)
        for g, g0 in zip(grads, grads_before):
            np.testing.assert_array_equal(g, g0)
        results.append([a for a in args if isinstance(a, list) and a and isinstance(a[0], np.ndarray)])
    for xs, ys in zip(*results):
        for x, y in zip(xs, ys):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("opt", [lambda ps: ag.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                                 lambda ps: ag.optim.AdamW(ps, lr=1e-3, amsgrad=True),
                                 lambda ps: ag.optim.Adam(ps, lr=1e-3, weight_decay=0.1, maximize=True)],
                         ids=["sgd", "adamw", "adam"])
def test_optimizer_step_temporaries_are_bounded(opt):
    """A 4 MiB parameter's update allocates at most a chunk-sized scratch, not parameter-sized arrays."""
    p = ag.randn(1024, 1024, requires_grad=True)
    o = opt([p])
    p.grad = ag.randn(1024, 1024)
    o.step()          # creates the optimizer state
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        o.step()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < (1 << 20), f"optimizer step peaked {peak / 2**20:.2f} MiB above its start"


# attention -------------------------------------------------------------------------------------------
def _t(a, requires_grad=True):
    return ag.tensor(a).requires_grad_(requires_grad)


def _sdpa_pair(q, k, v, mask=None, mask_grad=False, **kw):
    """(ours, torch) outputs and gradients of sum(out * w) for the same NumPy inputs."""
    res = []
    for lib in (ag, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        m = None if mask is None else lib.tensor(mask, requires_grad=mask_grad and mask.dtype != bool)
        fn = F.scaled_dot_product_attention if lib is ag else torch.nn.functional.scaled_dot_product_attention
        out = fn(*ts, m, **kw)
        w = lib.tensor(np.random.default_rng(3).standard_normal(tuple(out.shape)))
        (out * w).sum().backward()
        grads = [t.grad.numpy() for t in ts] + ([m.grad.numpy()] if m is not None and m.requires_grad else [])
        res.append((out.detach().numpy(), grads))
    return res


def _qkv(B=2, H=3, L=5, S=7, E=4, Ev=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, H, L, E)), rng.standard_normal((B, H, S, E)), rng.standard_normal((B, H, S, Ev)))


@needs_torch
@pytest.mark.parametrize("case", ["plain", "causal", "causal_L>S", "float_mask", "bool_mask", "full_rows",
                                  "scale", "broadcast", "empty_L", "empty_S", "wide_range", "wide_range_causal"])
def test_sdpa_values_and_grads_match_torch(case):
    q, k, v = _qkv()
    kw, mask, mgrad = {}, None, False
    if case == "causal":
        q, k, v = _qkv(L=7, S=7)
        kw["is_causal"] = True
    elif case == "causal_L>S":
        q, k, v = _qkv(L=8, S=5)
        kw["is_causal"] = True
    elif case == "float_mask":
        mask, mgrad = np.random.default_rng(1).standard_normal((5, 7)), True
    elif case == "bool_mask":
        mask = np.random.default_rng(1).random((2, 1, 5, 7)) > 0.4
        mask[..., 0] = True
    elif case == "full_rows":   # rows with every key masked: zeros and zero gradients, as torch
        mask = np.random.default_rng(1).random((5, 7)) > 0.4
        mask[2] = False
        mask[4, 0] = True
    elif case == "scale":
        kw["scale"] = 0.3
    elif case == "broadcast":
        q, k, v = _qkv()[0][:, :1], _qkv()[1][:1], _qkv()[2][:1]
    elif case == "empty_L":
        q, k, v = _qkv(L=0)
    elif case == "empty_S":
        q, k, v = _qkv(S=0)
    elif case in ("wide_range", "wide_range_causal"):   # rows far below the global max: per-row shifts
        q = q.copy()
        q[0, 1, 2] *= 3000.0
        kw["is_causal"] = case == "wide_range_causal"
        if kw["is_causal"]:
            q, k, v = q[..., :5, :], k[..., :5, :], v[..., :5, :]
    (oa, ga), (ot, gt) = _sdpa_pair(q, k, v, mask, mgrad, **kw)
    assert oa.shape == ot.shape
    np.testing.assert_allclose(oa, ot, rtol=1e-10, atol=1e-12)
    assert len(ga) == len(gt)
    for a, b in zip(ga, gt):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mask_kind", [None, "causal", "float", "bool"])
def test_sdpa_leaves_inputs_alone_and_backward_twice_agrees(mask_kind):
    q, k, v = (make(s, seed=i) for i, s in enumerate([(2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6)]))
    mask, kw = None, {}
    if mask_kind == "causal":
        kw["is_causal"] = True
    elif mask_kind == "float":
        mask = make((5, 5), seed=7)
    elif mask_kind == "bool":
        mask = ag.tensor(np.random.default_rng(2).random((5, 5)) > 0.3)
    inputs = [t for t in (q, k, v, mask) if t is not None]
    before = [t.detach().numpy().copy() for t in inputs]
    out = F.scaled_dot_product_attention(q, k, v, mask, **kw)
    w = make(tuple(out.shape), seed=11, requires_grad=False)
    loss = (out * w).sum()
    loss.backward(retain_graph=True)
    first = [t.grad.numpy().copy() for t in inputs if t.requires_grad]
    for t in inputs:
        t.grad = None
    loss.backward()
    second = [t.grad.numpy().copy() for t in inputs if t.requires_grad]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    for t, b in zip(inputs, before):
        np.testing.assert_array_equal(t.detach().numpy(), b)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.7}])
def test_sdpa_double_backward(kw):
    q, k, v = make((1, 2, 3, 2), seed=1), make((1, 2, 3, 2), seed=2), make((1, 2, 3, 3), seed=3)
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw), q, k, v)


def test_sdpa_double_backward_float_mask_and_full_row():
    q, k, v, m = make((2, 3, 2), seed=1), make((2, 4, 2), seed=2), make((2, 4, 3), seed=3), make((3, 4), seed=4)
    check_grad(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m), q, k, v, m)
    bm = ag.tensor(np.array([[True, False, True, True], [False] * 4, [True, True, False, True]]))
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, bm), q, k, v)


def test_sdpa_keeps_no_probability_matrix():
    """Forward keeps q, k, v and per-row statistics only: far less than the (L, S) probabilities."""
    q, k, v = (make(s, seed=i, dtype=ag.float32) for i, s in enumerate([(2, 4, 128, 16)] * 3))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    probs = 2 * 4 * 128 * 128 * 4
    assert kept < probs // 2, f"forward kept {kept} bytes; the probabilities alone are {probs}"
    assert tuple(out.shape) == (2, 4, 128, 16)


def test_sdpa_detects_inplace_change_of_a_saved_input():
    q, k, v = make((1, 2, 3, 2), seed=1), make((1, 2, 3, 2), seed=2), make((1, 2, 3, 3), seed=3)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    with ag.no_grad():
        k.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# softmax / log_softmax / cross entropy ----------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_paths(op, dim):
    x = make((4, 5, 6), seed=3)
    x0 = x.detach().numpy().copy()
    y = getattr(F, op)(x, dim)
    w = make(tuple(y.shape), seed=4, requires_grad=False)
    (y * w).sum().backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    x.grad = None
    (y * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), g1)
    np.testing.assert_array_equal(x.detach().numpy(), x0)
    xt = torch.tensor(x0, requires_grad=True)
    yt = getattr(torch.nn.functional, op)(xt, dim)
    (yt * torch.tensor(w.numpy())).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g1, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    check_grad(lambda t: getattr(F, op)(t, dim), make((3, 4), seed=5))


@needs_torch
def test_softmax_float32_stays_float32_and_handles_inf():
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, -np.inf, 0.5]], np.float32)
    ours = F.softmax(ag.tensor(x), -1)
    assert ours.dtype == ag.float32
    np.testing.assert_allclose(ours.numpy(), torch.softmax(torch.tensor(x), -1).numpy(), rtol=1e-6)


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"reduction": "sum"}])
def test_cross_entropy_leaves_inputs_alone(kw):
    x = make((8, 10), seed=6)
    t = ag.tensor(np.random.default_rng(0).integers(0, 10, 8))
    x0 = x.detach().numpy().copy()
    loss = F.cross_entropy(x, t, **kw)
    loss.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), g1)
    np.testing.assert_array_equal(x.detach().numpy(), x0)
    xt = torch.tensor(x0, requires_grad=True)
    torch.nn.functional.cross_entropy(xt, torch.tensor(t.numpy()), **kw).backward()
    np.testing.assert_allclose(g1, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


# layer_norm / rms_norm ----------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("fn", ["layer_norm", "rms_norm"])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_row_norm_paths(fn, affine, dtype):
    x = make((3, 4, 6), seed=1, dtype=dtype)
    w = make((6,), seed=2, dtype=dtype) if affine else None
    b = make((6,), seed=3, dtype=dtype) if affine and fn == "layer_norm" else None
    ins = [t for t in (x, w, b) if t is not None]
    before = [t.detach().numpy().copy() for t in ins]
    args = (x, (6,), w, b) if fn == "layer_norm" else (x, (6,), w)
    y = getattr(F, fn)(*args)
    g = make(tuple(y.shape), seed=4, dtype=dtype, requires_grad=False)
    grads = _backward_twice_same(y, g, ins, before)
    tins = [torch.tensor(b0, requires_grad=True) for b0 in before]
    targs = [tins[0], (6,)] + tins[1:] if fn == "rms_norm" or not affine else [tins[0], (6,), tins[1], tins[2]]
    if fn == "layer_norm" and not affine:
        targs = [tins[0], (6,)]
    yt = getattr(torch.nn.functional, fn)(*targs)
    (yt * torch.tensor(g.numpy())).sum().backward()
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == ag.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **tol)
    for a, t in zip(grads, tins):
        np.testing.assert_allclose(a, t.grad.numpy(), **tol)


def test_layer_norm_double_backward():
    x, w, b = make((2, 5), seed=1), make((5,), seed=2), make((5,), seed=3)
    check_grad(lambda x, w, b: F.layer_norm(x, (5,), w, b), x, w, b)


def _backward_twice_same(y, g, ins, before):
    """Backward of ``(y*g).sum()`` twice (``retain_graph``) gives the same gradients, and the inputs
    still hold ``before``: nothing saved was overwritten in place. Returns the gradients."""
    (y * g).sum().backward(retain_graph=True)
    grads = [t.grad.numpy().copy() for t in ins]
    for t in ins:
        t.grad = None
    (y * g).sum().backward()
    for t, g1 in zip(ins, grads):
        np.testing.assert_array_equal(t.grad.numpy(), g1)
    for t, b0 in zip(ins, before):
        np.testing.assert_array_equal(t.detach().numpy(), b0)
    return grads


# linear ---------------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_paths(shape, noncontig, bias):
    x = make(shape, seed=1, noncontig=noncontig)
    w = make((3, 4), seed=2, noncontig=noncontig)
    b = make((3,), seed=3) if bias else None
    ins = [t for t in (x, w, b) if t is not None]
    before = [t.detach().numpy().copy() for t in ins]
    y = F.linear(x, w, b)
    g = make(tuple(y.shape), seed=4, requires_grad=False)
    grads = _backward_twice_same(y, g, ins, before)
    tins = [torch.tensor(b0, requires_grad=True) for b0 in before]
    yt = torch.nn.functional.linear(*tins)
    (yt * torch.tensor(g.numpy())).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    for a, t in zip(grads, tins):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_linear_double_backward():
    x, w, b = make((2, 3, 4), seed=1), make((3, 4), seed=2), make((3,), seed=3)
    check_grad(lambda x, w, b: F.linear(x, w, b), x, w, b)
    check_grad(lambda x, w, b: F.linear(x, w, b).tanh(), x, w, b)


# dropout --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [ag.float16, ag.float32, ag.float64])
def test_dropout_mask_consistent_and_input_alone(dtype):
    ag.manual_seed(3)
    x = (make((64, 33), seed=1, dtype=ag.float64, requires_grad=False) * 10).to(dtype).requires_grad_()
    x0 = x.detach().numpy().copy()
    y = F.dropout(x, 0.4)
    y.backward(ag.ones_like(y))
    np.testing.assert_array_equal(x.detach().numpy(), x0)
    keep = y.detach().numpy() != 0
    scale = np.asarray(1 / 0.6, x0.dtype)
    np.testing.assert_array_equal(x.grad.numpy(), np.where(keep, scale, 0).astype(x0.dtype))
    np.testing.assert_array_equal(y.detach().numpy(), np.where(keep, x0 * scale, 0).astype(x0.dtype))


def test_dropout_of_a_large_dropped_float16_gives_zero():
    """x * scale overflows float16 for x = 60000; a dropped element must still be 0, not NaN."""
    ag.manual_seed(0)
    x = ag.full((1000,), 60000.0, dtype=ag.float16)
    y = F.dropout(x, 0.5).numpy()
    assert not np.isnan(y).any()
    assert (y == 0).any() and np.isinf(y).any()


# one training step ---------------------------------------------------------------------------------------
@needs_torch
def test_attention_block_steps_match_torch():
    """A small pre-LN attention block trained for three AdamW steps: losses and weights as torch's."""
    d, h, T, B = 8, 2, 5, 3

    def build(lib):
        nn = lib.nn
        lib.manual_seed(0)
        return nn.ModuleDict({"ln": nn.LayerNorm(d), "qkv": nn.Linear(d, 3 * d), "proj": nn.Linear(d, d)})

    def step(lib, mods, x, y):
        Fl = F if lib is ag else torch.nn.functional
        qkv = mods["qkv"](mods["ln"](x)).reshape(B, T, 3, h, d // h).permute(2, 0, 3, 1, 4)
        a = Fl.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=True)
        out = x + mods["proj"](a.transpose(1, 2).reshape(B, T, d))
        return Fl.mse_loss(out, y)

    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((B, T, d)), rng.standard_normal((B, T, d))
    ours, theirs = build(ag).double(), build(torch).double()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    oa = ag.optim.AdamW(ours.parameters(), lr=1e-2, weight_decay=0.1)
    ot = torch.optim.AdamW(theirs.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(3):
        for lib, mods, opt, (x, y) in ((ag, ours, oa, (ag.tensor(xs), ag.tensor(ys))),
                                       (torch, theirs, ot, (torch.tensor(xs), torch.tensor(ys)))):
            opt.zero_grad()
            loss = step(lib, mods, x, y)
            loss.backward()
            opt.step()
            if lib is ag:
                la = loss.item()
            else:
                assert abs(la - loss.item()) < 1e-10
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v.detach().numpy(), theirs.state_dict()[k].detach().numpy(), rtol=1e-9,
                                   atol=1e-11)
