"""Issue-3 semantics where they are hardest: graphs spanning fake:0 and fake:1, so hooks,
custom Functions, saved-tensor checks and anomaly mode run on the device worker threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import autograd_gpu as ag

F64 = ag.float64


def _leaf(values, device):
    return ag.tensor(np.asarray(values, dtype=np.float64), device=device, requires_grad=True)


def _ones(n, device):
    return ag.ones(n, dtype=F64, device=device)


def test_hooks_run_in_order_on_workers_and_can_replace_gradients():
    order, threads = [], set()
    x = _leaf([1.0, 2.0], "fake:0")
    y = (x * 3.0).to("fake:1")        # y's node lives on fake:1
    z = y * y
    y.register_hook(lambda g: (order.append("tensor"), threads.add(threading.current_thread().name), g * 2)[2])
    y.retain_grad()
    y.grad_fn.register_prehook(lambda gs: order.append("pre"))
    y.grad_fn.register_hook(lambda gi, go: order.append("post"))
    x.register_post_accumulate_grad_hook(lambda t: order.append("post_acc"))
    z.to("fake:0").sum().backward()
    assert order == ["tensor", "pre", "post", "post_acc"]
    assert threads == {"autograd_gpu-fake:1"}
    np.testing.assert_allclose(y.grad.to("cpu").numpy(), 2 * 2 * np.array([3.0, 6.0]))  # retain_grad sees the hooked grad
    np.testing.assert_allclose(x.grad.to("cpu").numpy(), 3 * 2 * 2 * np.array([3.0, 6.0]))


class _Cube(ag.autograd.Function):
    """A custom Function that records where its backward ran."""
    threads: list = []

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, g):
        _Cube.threads.append(threading.current_thread().name)
        (x,) = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


def test_custom_function_backward_runs_on_its_device_worker():
    _Cube.threads = []
    x = _leaf([1.0, 2.0], "fake:1")
    out = _Cube.apply(x, 0.5).to("fake:0") * 2.0
    out.sum().backward()
    assert _Cube.threads == ["autograd_gpu-fake:1"]
    np.testing.assert_allclose(x.grad.to("cpu").numpy(), 2 * 3 * 0.5 * np.array([1.0, 4.0]))


def test_in_place_change_detected_on_a_worker():
    x = _leaf([0.5, 1.5], "fake:1")
    y = x.exp()
    y.mul_(2)                                   # exp saved its output
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*ExpBackward0"):
        y.to("fake:0").sum().backward()


def test_anomaly_nan_raised_from_a_worker_names_node_and_forward():
    x = _leaf([0.0, 1.0], "fake:1")
    with ag.autograd.detect_anomaly():
        y = x / x                                # 0/0 in backward -> nan
        with pytest.raises(RuntimeError, match="Function 'DivBackward0' returned nan values") as e:
            y.to("fake:0").sum().backward()
    assert "test_anomaly_nan_raised_from_a_worker" in str(e.value)   # the forward traceback


def test_second_order_across_devices():
    x = _leaf([0.3, -0.7], "fake:0")
    y = (x.to("fake:1") ** 3).to("fake:0")
    (g,) = ag.autograd.grad(y.sum(), x, create_graph=True)
    (gg,) = ag.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.to("cpu").detach().numpy(), 3 * np.array([0.3, -0.7]) ** 2)
    np.testing.assert_allclose(gg.to("cpu").numpy(), 6 * np.array([0.3, -0.7]))


def test_functional_api_on_a_device():
    x = _leaf([0.3, -0.7, 1.1], "fake:1")
    J = ag.autograd.functional.jacobian(lambda t: (t * t).exp(), x)
    np.testing.assert_allclose(J.to("cpu").numpy(), np.diag(2 * x.to("cpu").detach().numpy()
                                                            * np.exp(x.to("cpu").detach().numpy() ** 2)))
    _, hv = ag.autograd.functional.hvp(lambda t: (t * t * t).sum(), x, _ones(3, "fake:1"))
    np.testing.assert_allclose(hv.to("cpu").numpy(), 6 * x.to("cpu").detach().numpy())


def test_saved_buffers_released_after_each_node_on_workers():
    import weakref
    x = _leaf([1.0, 2.0], "fake:1")
    y = x.exp()                                  # saves its output
    ref = weakref.ref(y._data)                   # the saved output's buffer
    out = (y * 2.0).to("fake:0").sum()
    del y
    out.backward()
    assert ref() is None                         # released once ExpBackward0 ran on fake:1
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        out.backward()
