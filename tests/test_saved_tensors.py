"""Saved tensors: version checks (shared by views), release after use, backward twice."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd import Function
from helpers import assert_close, make


class AddOne_(Function):
    """An in-place custom op (as the built-in in-place ops are): bumps the version counter."""

    @staticmethod
    def forward(ctx, x):
        x._data[...] += 1
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def ones(n, dtype=ag.float64):
    return ag.ones(n, dtype=dtype)


def test_version_counter_bumps_and_is_shared_by_views():
    x = make((3,), requires_grad=False)
    v = x.expand(2, 3)
    assert x._version == v._version == 0
    AddOne_.apply(x)
    assert x._version == 1 and v._version == 1
    assert x.detach()._version == 1  # detach shares the counter too
    assert x.data._version == 0      # .data does not (changes through it are untracked)


def test_modified_saved_output_raises_pytorch_message():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()
    AddOne_.apply(y)
    with pytest.raises(RuntimeError) as e:
        y.backward(ones(3, ag.float32))
    msg = str(e.value)
    assert msg.startswith("one of the variables needed for gradient computation has been modified by an inplace "
                          "operation: [autograd_gpu.FloatTensor [3]], which is output 0 of ExpBackward0, is at "
                          "version 1; expected version 0 instead. Hint: enable anomaly detection to find the "
                          "operation that failed to compute its gradient, with "
                          "autograd_gpu.autograd.set_detect_anomaly(True).")


def test_modified_saved_input_through_a_view_raises():
    x = make((2, 3))
    a = x * 1.0                 # non-leaf, saved by the mul below
    y = a * x
    AddOne_.apply(a._view_of(a._data[0]))  # in-place through a view of a row of a: same version counter
    with pytest.raises(RuntimeError, match=r"\[autograd_gpu.DoubleTensor \[2, 3\]\], which is output 0 of "
                                           r"MulBackward0, is at version 1; expected version 0 instead"):
        y.backward(ag.ones(2, 3, dtype=ag.float64))


def test_unmodified_saved_tensor_after_unrelated_inplace_is_fine():
    x = make((3,))
    y = x.exp()
    z = y.clone()
    AddOne_.apply(z)
    y.backward(ones(3))
    assert_close(x.grad, np.exp(x.detach()._data))


def test_backward_twice_raises_and_retain_graph_allows_it():
    x = make((3,))
    y = x.exp()
    y.backward(ones(3), retain_graph=True)
    y.backward(ones(3))
    assert_close(x.grad, 2 * np.exp(x.detach()._data))
    with pytest.raises(RuntimeError, match=r"Trying to backward through the graph a second time.*"
                                           r"Specify retain_graph=True"):
        y.backward(ones(3))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.grad_fn.saved_tensors


def test_graph_without_saved_tensors_can_run_twice():
    x = make((3,))
    y = x + 1.0
    y.backward(ones(3))
    y.backward(ones(3))
    assert_close(x.grad, np.full(3, 2.0))


def test_saved_buffers_released_right_after_their_node_runs():
    """A node's saved output is dropped as soon as the node ran: peak memory is not the whole graph."""
    x = make((4,))
    h = x
    refs = []
    for _ in range(6):
        e = h.exp()
        refs.append(weakref.ref(e._data))
        h = -e          # keeps values bounded; after the loop only the graph holds each exp output
    del e
    nodes = []
    node = h.grad_fn
    while not node.is_accumulate:
        if node.name() == "ExpBackward0":
            nodes.append(node)
        node = node.next_functions[0][0]
    assert len(nodes) == 6
    alive_when_run = []

    def probe(i):
        def pre(grads):
            # the i Exp nodes created after this one already ran: their saved outputs must be gone
            gc.collect()
            alive_when_run.append(sum(r() is not None for r in refs[len(refs) - i:]))
            alive_when_run.append(refs[len(refs) - 1 - i]() is not None)  # ours is still there
        return pre

    for i, n in enumerate(nodes):
        n.register_prehook(probe(i))
    h.backward(ones(4))
    assert alive_when_run == [0, True] * 6
    assert all(n.saved is None for n in nodes)
    gc.collect()
    assert all(r() is None for r in refs)


def test_retain_graph_keeps_saved_buffers():
    x = make((3,))
    y = x.exp().exp()
    y.backward(ones(3), retain_graph=True)
    assert y.grad_fn.saved is not None and y.grad_fn.next_functions[0][0].saved is not None
    y.backward(ones(3))
    assert y.grad_fn.saved is None


def test_saved_output_does_not_keep_node_alive():
    x = make((3,))
    y = x.exp()
    node = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert node() is None


def test_saved_tensors_unpack_restores_grad_fn_for_double_backward():
    x = make((3,))
    y = x.exp()
    (s,) = y.grad_fn.saved_tensors
    assert s.grad_fn is y.grad_fn and s._version == y._version
    assert_close(s, y)
    (g,) = ag.autograd.grad(y, x, ones(3), create_graph=True)
    (gg,) = ag.autograd.grad(g, x, ones(3))
    assert_close(gg, np.exp(x.detach()._data))
