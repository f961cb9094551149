"""Tensor hooks, retain_grad, post-accumulate hooks and node hooks, in PyTorch's order."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import assert_close, make


def ones(n):
    return ag.ones(n, dtype=ag.float64)


def test_tensor_hook_replaces_gradient_on_non_leaf_and_leaf():
    x = make((3,))
    y = x * 2
    y.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: g + 1)
    (y * 1.0).backward(ones(3))
    assert_close(x.grad, np.full(3, 21.0))


def test_hook_returning_none_keeps_gradient_and_sees_it():
    seen = []
    x = make((2,))
    x.register_hook(lambda g: seen.append(g._data.copy()))
    (x * 3).backward(ones(2))
    assert_close(seen[0], np.full(2, 3.0))
    assert_close(x.grad, np.full(2, 3.0))


def test_leaf_hook_runs_before_accumulation():
    x = make((2,))
    x.grad = ag.full((2,), 100.0, dtype=ag.float64)
    x.register_hook(lambda g: g * 0)  # replaces only the new gradient, not the accumulated one
    (x * 3).backward(ones(2))
    assert_close(x.grad, np.full(2, 100.0))


def test_hook_handle_remove():
    x = make((2,))
    h = x.register_hook(lambda g: g * 5)
    y = x * 1.0
    hy = y.register_hook(lambda g: g * 7)
    h.remove()
    hy.remove()
    y.backward(ones(2))
    assert_close(x.grad, np.ones(2))
    h.remove()  # removing twice is harmless


def test_hooks_run_in_registration_order_and_chain():
    order = []
    x = make((2,))
    y = x * 1.0
    y.register_hook(lambda g: (order.append(1), g * 2)[1])
    y.register_hook(lambda g: (order.append(2), g + 1)[1])
    y.backward(ones(2))
    assert order == [1, 2]
    assert_close(x.grad, np.full(2, 3.0))


def test_retain_grad_on_non_leaf_and_leaf_noop():
    x = make((3,))
    y = x * 2
    y.retain_grad()
    y.retain_grad()  # idempotent
    assert y.retains_grad
    z = y * y
    z.backward(ones(3), retain_graph=True)
    assert_close(y.grad, 2 * y.detach()._data)
    z = y * y
    z.backward(ones(3))  # accumulates like a leaf
    assert_close(y.grad, 4 * y.detach()._data)
    x.retain_grad()
    assert not x.retains_grad and x.grad is not None


def test_retain_grad_sees_hooked_gradient():
    x = make((2,))
    y = x * 1.0
    y.retain_grad()
    y.register_hook(lambda g: g * 4)  # tensor hooks run before retain-grad, whatever the order of registration
    (y * 1.0).backward(ones(2))
    assert_close(y.grad, np.full(2, 4.0))


def test_post_accumulate_grad_hook():
    x = make((2,))
    seen = []
    h = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad._data.copy()))
    (x * 3).backward(ones(2))
    (x * 3).backward(ones(2))
    assert_close(seen[0], np.full(2, 3.0))
    assert_close(seen[1], np.full(2, 6.0))
    h.remove()
    (x * 3).backward(ones(2))
    assert len(seen) == 2


def test_hook_errors():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        ag.ones(2).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (make((2,)) * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        ag.ones(2).register_post_accumulate_grad_hook(lambda t: None)


def test_node_pre_and_post_hooks():
    x, w = make((3,)), make((3,), seed=4)
    y = x * w
    seen = {}

    def pre(grad_outputs):
        seen["pre"] = grad_outputs
        return (grad_outputs[0] * 2,)

    def post(grad_inputs, grad_outputs):
        seen["post"] = (grad_inputs, grad_outputs)
        return (grad_inputs[0], grad_inputs[1] * 0)

    y.grad_fn.register_prehook(pre)
    y.grad_fn.register_hook(post)
    y.backward(ones(3))
    assert_close(x.grad, 2 * w.detach()._data)
    assert_close(w.grad, np.zeros(3))
    assert len(seen["pre"]) == 1 and len(seen["post"][0]) == 2
    assert_close(seen["post"][1][0], np.full(3, 2.0))  # post hook sees the pre-hooked gradient


def test_node_hook_handles_remove():
    x = make((2,))
    y = x * 2
    h1 = y.grad_fn.register_prehook(lambda go: (go[0] * 100,))
    h2 = y.grad_fn.register_hook(lambda gi, go: (gi[0] * 100, None))
    h1.remove()
    h2.remove()
    y.backward(ones(2))
    assert_close(x.grad, np.full(2, 2.0))


def test_hook_order_matches_pytorch():
    order = []
    x = make((2,))
    y = x * 2
    node = y.grad_fn
    node.register_hook(lambda gi, go: order.append("node post"))
    node.register_prehook(lambda go: order.append("node pre"))
    y.retain_grad()  # registered before the tensor hook, still runs after it
    y.register_hook(lambda g: order.append("tensor pre"))
    orig = type(node).apply

    def traced(self, grads):
        order.append("node")
        return orig(self, grads)

    type(node).apply = traced
    try:
        y.backward(ones(2))
    finally:
        type(node).apply = orig
    assert order == ["tensor pre", "node pre", "node", "node post"]
    assert y.grad is not None


def test_hooks_with_autograd_grad_and_leaf_capture():
    x = make((3,))
    x.register_hook(lambda g: g * 2)
    (g,) = ag.autograd.grad(x * 5, x, ones(3))
    assert_close(g, np.full(3, 10.0))
    assert x.grad is None


def test_grad_fn_next_functions_and_accumulator():
    x = make((2,))
    y = (x * 2).exp()
    (mul_node, _), = y.grad_fn.next_functions
    assert mul_node.name() == "MulBackward0"
    acc, nr = mul_node.next_functions[0]
    assert acc.name() == "torch::autograd::AccumulateGrad" and acc.variable is x and nr == 0
