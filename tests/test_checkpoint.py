"""utils.checkpoint: same gradients as without it, same random masks, far less saved memory."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.utils.checkpoint import checkpoint, checkpoint_sequential
from helpers import assert_close, make


def params(n_layers=20, width=16, seed=0):
    rng = np.random.default_rng(seed)
    return [ag.tensor(rng.standard_normal((width, width)) * 0.1, requires_grad=True) for _ in range(n_layers)]


def layer(W):
    def f(h):
        return ag.matmul(h, W).exp()
    return f


def random_mask(h):
    """Dropout-like: the mask comes from the global generator, so recomputation must replay it."""
    return h * ag.rand(*h.shape, dtype=ag.float64)


def saved_bytes_and_nodes(root) -> tuple[int, int]:
    """Bytes held by saved tensors in the graph below ``root`` and the number of nodes."""
    seen, stack, total = set(), [root.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for s in getattr(node, "saved", None) or ():
            if s is not None:
                total += (s.data if s.data is not None else s.tensor._data).nbytes
        stack.extend(n for n, _ in node.next_functions)
    return total, len(seen)


def run_mlp(x, Ws, segments=None):
    fns = [layer(W) for W in Ws]
    h = x
    if segments is None:
        for f in fns:
            h = f(h)
        return h
    size = len(fns) // segments
    for s in range(segments):
        def seg(t, chunk=fns[s * size:(s + 1) * size]):
            for f in chunk:
                t = f(t)
            return t
        h = checkpoint(seg, h, use_reentrant=True)
    return h


def test_same_gradients_and_far_less_saved_memory_for_20_layer_mlp():
    x = make((8, 16))
    Ws = params()
    plain = run_mlp(x, Ws)
    ck = run_mlp(x, Ws, segments=4)
    assert_close(ck, plain)
    b_plain, n_plain = saved_bytes_and_nodes(plain)
    b_ck, n_ck = saved_bytes_and_nodes(ck)
    assert n_ck < n_plain // 3
    assert b_ck * 10 < b_plain   # only the 4 segment inputs are kept
    plain.sum().backward()
    g_plain = [W.grad._data.copy() for W in Ws] + [x.grad._data.copy()]
    for t in Ws + [x]:
        t.grad = None
    ck.sum().backward()
    for t, g in zip(Ws + [x], g_plain):
        assert_close(t.grad, g, rtol=1e-12, atol=1e-12)


def test_checkpointed_forward_creates_no_inner_nodes():
    x = make((2, 3))
    y = checkpoint(lambda t: (t * 2).exp() * t, x, use_reentrant=True)
    assert y.grad_fn.name() == "CheckpointFunctionBackward"
    assert all(n is None or n.is_accumulate for n, _ in y.grad_fn.next_functions)


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_random_mask_replayed_in_recomputation(use_reentrant):
    W = params(1, width=4)[0]

    def f(h):
        return random_mask(ag.matmul(h, W).exp())

    x = make((3, 4))
    ag.manual_seed(123)
    ref = f(x)
    ref.sum().backward()
    gx, gw = x.grad._data.copy(), W.grad._data.copy()
    after_ref = ag.rand(5, dtype=ag.float64)._data
    x.grad = W.grad = None
    ag.manual_seed(123)
    out = checkpoint(f, x, use_reentrant=use_reentrant)
    assert_close(out, ref)
    out.sum().backward()
    assert_close(x.grad, gx)
    assert_close(W.grad, gw)
    assert_close(ag.rand(5, dtype=ag.float64), after_ref)  # the generator continues as if never replayed


def test_without_preserve_rng_state_masks_differ():
    x = make((3, 4))

    ag.manual_seed(7)
    ref = random_mask(x)
    ref.sum().backward()
    g_ref = x.grad._data.copy()
    x.grad = None
    ag.manual_seed(7)
    out = checkpoint(random_mask, x, use_reentrant=True, preserve_rng_state=False)
    out.sum().backward()
    assert not np.allclose(x.grad._data, g_ref)


def test_non_tensor_args_multiple_outputs_and_kwargs():
    x, y = make((3,)), make((3,), seed=2)

    def f(a, k, b, scale=1.0):
        return a * b * k * scale, a.exp()

    p, q = checkpoint(f, x, 2.0, y, use_reentrant=True)
    (p * q).sum().backward()
    xe = np.exp(x.detach()._data)
    gx_ref = 2 * y.detach()._data * xe + 2 * x.detach()._data * y.detach()._data * xe
    assert_close(x.grad, gx_ref)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(f, x, 2.0, y, use_reentrant=True, scale=3.0)
    x.grad = None
    p, _ = checkpoint(f, x, 2.0, y, use_reentrant=False, scale=3.0)
    p.sum().backward()
    assert_close(x.grad, 6 * y.detach()._data)


def test_params_inside_get_gradients_when_no_input_requires_grad():
    W = params(1, width=3)[0]
    x = make((2, 3), requires_grad=False)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(layer(W), x, use_reentrant=True)
    assert not y.requires_grad   # PyTorch's reentrant limitation
    y = checkpoint(layer(W), x, use_reentrant=False)
    y.sum().backward()
    ref = ag.autograd.grad(layer(W)(x).sum(), W)[0]
    assert_close(W.grad, ref)


def test_no_grad_mode_just_runs_function():
    x = make((3,))
    with ag.no_grad():
        y = checkpoint(lambda t: t.exp(), x, use_reentrant=False)
    assert y.grad_fn is None
    assert_close(y, np.exp(x.detach()._data))


def test_checkpoint_sequential_matches_plain():
    Ws = params(6, width=4, seed=3)
    x = make((2, 4))
    plain = run_mlp(x, Ws)
    (gp,) = ag.autograd.grad(plain.sum(), x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = checkpoint_sequential([layer(W) for W in Ws], 3, x, use_reentrant=True)
    assert_close(out, plain)
    out.sum().backward()
    assert_close(x.grad, gp, rtol=1e-12, atol=1e-12)


def _mlp(Ws):
    def f(h):
        for W in Ws:
            h = (h @ W).tanh()
        return h
    return f


def test_non_reentrant_supports_autograd_grad_wrt_inner_parameters():
    rng = np.random.default_rng(3)
    Ws = [ag.tensor(rng.standard_normal((4, 4)) * 0.5, dtype=ag.float64, requires_grad=True) for _ in range(3)]
    x = ag.tensor(rng.standard_normal((2, 4)), dtype=ag.float64)      # the input needs no gradient
    plain = ag.autograd.grad(_mlp(Ws)(x).sum(), Ws)
    ckpt = ag.autograd.grad(checkpoint(_mlp(Ws), x, use_reentrant=False).sum(), Ws)
    for p, c in zip(plain, ckpt):
        np.testing.assert_allclose(c.numpy(), p.numpy(), rtol=1e-12)


def test_non_reentrant_keeps_no_saved_tensors_until_backward():
    rng = np.random.default_rng(4)
    Ws = [ag.tensor(rng.standard_normal((8, 8)) * 0.3, requires_grad=True) for _ in range(10)]
    x = ag.tensor(rng.standard_normal((4, 8)))
    y = checkpoint(_mlp(Ws), x, use_reentrant=False)
    saved, stack, seen = [], [y.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        saved += [s for s in getattr(node, "saved", None) or () if s is not None]
        stack += [e[0] for e in node.next_edges if e is not None]
    assert len(saved) >= 20                   # matmul and tanh saved tensors in every layer...
    assert all(s.tensor is None and s.data is None for s in saved)   # ...as indices, not data
    y.sum().backward()
    assert all(W.grad is not None for W in Ws)


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_on_a_device_worker(use_reentrant):
    """The graph spans fake:0 and fake:1, so backward runs on device workers and the
    recomputation (a backward inside a backward, when reentrant) starts from one of them."""
    rng = np.random.default_rng(5)
    W = ag.tensor(rng.standard_normal((3, 3)), dtype=ag.float64, device="fake:1", requires_grad=True)
    x = ag.tensor(rng.standard_normal((2, 3)), dtype=ag.float64, device="fake:0", requires_grad=True)

    def f(h):
        return (h @ W).exp()

    def run(ckpt):
        h = x.to("fake:1")
        out = checkpoint(f, h, use_reentrant=use_reentrant) if ckpt else f(h)
        out.to("fake:0").sum().backward()
        grads = (x.grad.to("cpu").numpy().copy(), W.grad.to("cpu").numpy().copy())
        x.grad = W.grad = None
        return grads
    for p, c in zip(run(False), run(True)):
        np.testing.assert_allclose(c, p, rtol=1e-12)
