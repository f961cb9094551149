"""The backward engine: per-device workers, routing, accumulation, order, pruning, errors, depth.

Graphs span the conftest ``fake`` devices (``fake:0``, ``fake:1``, NumPy-backed) so the
multi-device paths run without a GPU. ``Rec`` is an identity op whose backward records
which thread ran it, which fake device was current and where its gradient lives.
"""
from __future__ import annotations

import gc
import re
import threading
import time
import weakref

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import dispatch
from autograd_gpu.autograd.graph import FREED_MESSAGE
from autograd_gpu.device import current_index, set_current_index
from helpers import assert_close

MAIN = threading.main_thread().name


class Rec(ag.autograd.Function):
    """Identity; backward appends (tag, thread name, current fake index, gradient device) to ``log``."""

    @staticmethod
    def forward(ctx, x, tag, log):
        ctx.tag, ctx.log = tag, log
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        ctx.log.append((ctx.tag, threading.current_thread().name, current_index("fake"), str(g.device)))
        return g, None, None


def entries(log) -> dict:
    return {tag: (thread, cur, dev) for tag, thread, cur, dev in log}


def order(log) -> list:
    return [e[0] for e in log]


def two_device_graph(x, log):
    """cpu -> fake:0 and cpu -> fake:1 branches joined on the CPU: a threaded backward."""
    a = Rec.apply(x.to("fake:0"), "f0", log)
    b = Rec.apply(Rec.apply(x.to("fake:1"), "f1a", log), "f1b", log)
    return Rec.apply(a.to("cpu") + b.to("cpu"), "cpu", log)


@pytest.fixture
def fake_backend():
    return ag.device("fake:0").backend


# workers and routing ------------------------------------------------------------------
def test_each_device_has_its_worker_and_cpu_nodes_run_on_the_caller():
    log = []
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    two_device_graph(x, log).backward(ag.ones(2))
    e = entries(log)
    assert e["cpu"] == (MAIN, 0, "cpu")
    assert e["f0"][0] != MAIN and "fake:0" in e["f0"][0] and e["f0"][1:] == (0, "fake:0")
    assert e["f1a"][0] != MAIN and "fake:1" in e["f1a"][0] and e["f1a"][1:] == (1, "fake:1")
    assert e["f1b"][0] == e["f1a"][0] != e["f0"][0]  # one thread per device
    assert_close(x.grad, [2.0, 2.0])
    assert current_index("fake") == 0  # the caller's current device is untouched


class SwitchDevice(ag.autograd.Function):
    """A backward that changes the current device (as user code may); the next node must not see it."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        set_current_index("fake", 0)
        return g


def test_worker_makes_its_device_current_before_each_node(fake_backend):
    log = []
    x = ag.tensor([1.0], requires_grad=True)
    a = Rec.apply(SwitchDevice.apply(Rec.apply(x.to("fake:1"), "before", log)), "after_switch", log)
    y = a.to("cpu") + x.to("fake:0").to("cpu")
    y.backward(ag.ones(1))
    assert entries(log)["before"][1] == 1
    assert entries(log)["after_switch"][1] == 1
    assert 1 in fake_backend.set_device_calls


def test_single_device_graph_runs_on_the_calling_thread():
    log = []
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = Rec.apply(Rec.apply(x.to("fake:1"), "a", log) * 3, "b", log).to("cpu")
    y.backward(ag.ones(2))
    assert {(t, cur) for _, t, cur, _ in log} == {(MAIN, 1)}  # no hand-off, but fake:1 was current
    assert current_index("fake") == 0                          # and the caller's device is restored
    assert_close(x.grad, [3.0, 3.0])


def test_multithreading_off_runs_everything_on_the_caller_with_each_device_current():
    ag.autograd.set_multithreading_enabled(False)
    assert not ag.autograd.is_multithreading_enabled()
    log = []
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    two_device_graph(x, log).backward(ag.ones(2))
    e = entries(log)
    assert {v[0] for v in e.values()} == {MAIN}
    assert e["f0"][1] == 0 and e["f1a"][1] == 1 and e["f1b"][1] == 1
    assert current_index("fake") == 0
    assert_close(x.grad, [2.0, 2.0])
    ag.autograd.set_multithreading_enabled(True)
    assert ag.autograd.is_multithreading_enabled()


# cross-device gradients -------------------------------------------------------------------
def test_gradient_through_a_to_chain_is_copied_once_per_crossing(monkeypatch, fake_backend):
    log = []
    x = ag.tensor([0.5, -1.0], dtype=ag.float64, requires_grad=True)
    a = Rec.apply(x.to("fake:0") * 2, "f0", log)
    b = Rec.apply(a.to("fake:1").exp(), "f1", log)
    y = b.to("cpu")
    copies = {"to_device": 0, "from_numpy": 0, "to_numpy": 0}
    for name in copies:
        orig = getattr(fake_backend, name)

        def counted(*args, _orig=orig, _name=name):
            copies[_name] += 1
            return _orig(*args)
        monkeypatch.setattr(fake_backend, name, counted)
    y.backward(ag.ones(2, dtype=ag.float64))
    assert copies == {"to_device": 1, "from_numpy": 1, "to_numpy": 1}  # cpu->fake:1->fake:0->cpu
    assert entries(log)["f1"][1:] == (1, "fake:1") and entries(log)["f0"][1:] == (0, "fake:0")
    assert x.grad.device == ag.device("cpu") and x.grad.dtype is ag.float64
    assert_close(x.grad, 2 * np.exp(2 * np.array([0.5, -1.0])))


def test_contributions_from_several_devices_accumulate_into_one_leaf(monkeypatch):
    x0 = np.array([0.5, 1.5])
    x = ag.tensor(x0, device="fake:0", requires_grad=True)
    y = x * x + (x.to("fake:1") * 3).to("fake:0") + x.to("cpu").exp().to("fake:0")
    seen = []

    def spy(op):  # every add in this backward sums fake:0 gradients: fake:0 must be current
        fn = dispatch.lookup(op, "fake")

        def run(*args, **kw):
            seen.append((op, current_index("fake")))
            return fn(*args, **kw)
        monkeypatch.setitem(dispatch._tables["fake"], op, run)
    spy("add_fwd")
    spy("add_into")   # x's buffer gets four gradients: the third and fourth are added in place
    y.backward(ag.ones(2, device="fake:0"))
    assert {op for op, _ in seen} == {"add_fwd", "add_into"} and {i for _, i in seen} == {0}
    assert x.grad.device == ag.device("fake:0") and x.grad.shape == (2,) and x.grad.dtype is ag.float64
    assert_close(x.grad, 2 * x0 + 3 + np.exp(x0))


def test_grad_accumulates_across_backward_calls_and_keeps_the_leafs_layout():
    x = ag.tensor([[1.0, 2.0, 3.0]], dtype=ag.float64, device="fake:1", requires_grad=True)
    for expected in (1.0, 2.0):
        y = x.to(ag.float32) + ag.ones(2, 3, device="fake:1")  # broadcast and a dtype change
        y.backward(ag.ones(2, 3, device="fake:1"))
        assert x.grad.shape == (1, 3) and x.grad.dtype is ag.float64 and x.grad.device == x.device
        assert_close(x.grad, np.full((1, 3), 2 * expected))


def test_many_gradients_into_one_buffer_sum_in_place_and_leave_each_incoming_gradient_alone():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    g = ag.tensor([0.5, -1.0])
    before = g.numpy().copy()
    seen = []
    y.register_hook(lambda grad: seen.append(grad))
    (y + y + y + y).backward(g)   # each AddBackward hands g itself on: y's buffer gets g four times
    np.testing.assert_array_equal(g.numpy(), before)
    np.testing.assert_array_equal(seen[0].numpy(), 4 * before)
    np.testing.assert_array_equal(x.grad.numpy(), 4 * before)


def test_with_create_graph_the_buffer_sum_is_recorded_not_changed_in_place():
    x = ag.tensor([1.0, 3.0], dtype=ag.float64, requires_grad=True)
    y = x * x
    (gx,) = ag.autograd.grad((y + y + y + y).sum(), x, create_graph=True)   # 4 gradients into y's buffer
    assert_close(gx, 8 * x.detach().numpy())
    (ggx,) = ag.autograd.grad(gx.sum(), x)
    assert_close(ggx, np.full(2, 8.0))


# order ------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "fake:1"])
def test_later_created_nodes_run_first(device):
    log = []
    x = ag.tensor([1.0], requires_grad=True)
    a = Rec.apply(x.to(device), "a", log)
    b = Rec.apply(a, "b", log)
    c = Rec.apply(a, "c", log)
    d = Rec.apply(b + c, "d", log)
    y = d.to("cpu") + x.to("fake:0").to("cpu")  # fake:0 too: a threaded backward
    y.backward(ag.ones(1))
    assert order(log) == ["d", "c", "b", "a"]
    assert_close(x.grad, [3.0])


def test_accumulate_grad_runs_as_soon_as_it_is_ready():
    log = []
    x = ag.tensor([1.0], requires_grad=True)
    w = ag.tensor([1.0], requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: log.append(("acc",)))
    other = x * 2                    # creates x's accumulator before a's node (and keeps it alive)
    a = Rec.apply(w, "a", log)
    (a + x).backward(ag.ones(1))     # both ready at once: the older accumulator still goes first
    assert order(log) == ["acc", "a"]
    assert other.grad_fn.next_functions[0][0] is x._grad_accumulator()


# pruning ----------------------------------------------------------------------------------
def test_grad_runs_only_nodes_on_a_path_to_the_inputs():
    log = []
    x = ag.tensor([1.0], requires_grad=True)
    w = ag.tensor([2.0], requires_grad=True)
    out = Rec.apply(x, "x", log) * 2 + Rec.apply(w, "w", log)
    (gx,) = ag.autograd.grad(out, x, retain_graph=True)
    assert order(log) == ["x"] and x.grad is None and w.grad is None
    assert_close(gx, [2.0])
    log.clear()
    out.backward(inputs=[w])
    assert order(log) == ["w"] and x.grad is None
    assert_close(w.grad, [1.0])


def test_backward_inputs_non_leaf_stops_there():
    log = []
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    a = Rec.apply(x, "below", log) * 3
    y = Rec.apply(a, "above", log) * a
    y.backward(ag.ones(2), inputs=[a])
    assert order(log) == ["above"]         # a's own backward is not needed
    assert x.grad is None
    assert_close(a.grad, 2 * np.array([3.0, 6.0]))


def test_grad_with_respect_to_a_multi_device_input():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    x1 = x.to("fake:1")
    y = (x1 * x1).to("cpu") + x.to("fake:0").to("cpu")
    (g,) = ag.autograd.grad(y, x1, ag.ones(2))
    assert g.device == ag.device("fake:1") and x.grad is None
    assert_close(g, [2.0, 4.0])


# errors -----------------------------------------------------------------------------------
class Boom(ag.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        raise ValueError("boom in backward")


def _message(e: BaseException) -> str:
    return str(e) + "\n".join(getattr(e, "__notes__", ()))


@pytest.mark.parametrize("device", ["fake:1", "cpu"])
def test_an_error_in_any_node_stops_the_backward_and_reaches_the_caller(device):
    log = []
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    upstream = Rec.apply(x.to(device), "upstream", log)
    y = Boom.apply(upstream).to("cpu") + x.to("fake:0").to("cpu")
    with pytest.raises(ValueError, match="boom in backward") as info:
        y.backward(ag.ones(2))
    assert "BoomBackward" in _message(info.value)
    assert "upstream" not in order(log)
    # the workers survive: the next backward works
    x.grad = None
    two_device_graph(x, []).backward(ag.ones(2))
    assert_close(x.grad, [2.0, 2.0])


def test_backward_twice_raises_the_freed_message_and_keeps_grad():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).exp()
    y.backward(ag.ones(2))
    first = x.grad._host().copy()
    with pytest.raises(RuntimeError, match=re.escape(FREED_MESSAGE)):
        y.backward(ag.ones(2))
    assert FREED_MESSAGE.startswith("Trying to backward through the graph a second time (or directly access "
                                    "saved tensors after they have already been freed).")
    assert_close(x.grad, first)


def test_retain_graph_allows_a_second_backward_that_doubles_grad():
    x = ag.tensor([1.0, 2.0], dtype=ag.float64, requires_grad=True)
    y = (x * x).exp().to("fake:1")
    y.backward(ag.ones(2, dtype=ag.float64, device="fake:1"), retain_graph=True)
    first = x.grad._host().copy()
    y.backward(ag.ones(2, dtype=ag.float64, device="fake:1"), retain_graph=True)
    assert_close(x.grad, 2 * first)
    assert_close(first, 2 * np.array([1.0, 2.0]) * np.exp(np.array([1.0, 4.0])))


# depth ------------------------------------------------------------------------------------
def test_a_chain_of_100k_ops_backwards_and_frees_without_recursion():
    x = ag.tensor([1.0], requires_grad=True)
    w = ag.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * w           # saves y and w: the chain runs through edges and saved tensors
    y.backward()
    assert_close(x.grad, [1.0])
    assert_close(w.grad, [100_000.0])
    y = x
    for _ in range(100_000):
        y = y + 1.0
    del y                    # freeing an un-run graph must not recurse either
    gc.collect()


# reentrant backward -----------------------------------------------------------------------
class ExpViaGrad(ag.autograd.Function):
    """exp whose backward computes its gradient with a nested ``autograd.grad`` (on the same device,
    or through ``to_device`` and back, so the nested graph spans two devices)."""

    @staticmethod
    def forward(ctx, x, to_device, log):
        ctx.save_for_backward(x)
        ctx.to_device, ctx.log = to_device, log
        return x.exp()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with ag.enable_grad():
            xd = x.detach().requires_grad_()
            inner = xd if ctx.to_device is None else xd.to(ctx.to_device)
            y = inner.exp().to(x.device)
            (gx,) = ag.autograd.grad(y, xd, g)
        ctx.log.append(("reentrant", threading.current_thread().name, current_index("fake"), str(g.device)))
        return gx, None, None


def test_reentrant_backward_on_the_cpu():
    log = []
    x = ag.tensor([0.0, 1.0], dtype=ag.float64, requires_grad=True)
    ExpViaGrad.apply(x * 2, None, log).backward(ag.ones(2, dtype=ag.float64))
    assert entries(log)["reentrant"][0] == MAIN
    assert_close(x.grad, 2 * np.exp(2 * np.array([0.0, 1.0])))


@pytest.mark.parametrize("inner_device", [None, "fake:0"])
def test_reentrant_backward_on_a_device_worker(inner_device):
    log = []
    x = ag.tensor([0.0, 1.0], dtype=ag.float64, requires_grad=True)
    x1 = x.to("fake:1")
    r = Rec.apply(ExpViaGrad.apply(Rec.apply(x1, "after", log), inner_device, log), "before", log)
    y = r.to("cpu") + x.to("fake:0").to("cpu")
    y.backward(ag.ones(2, dtype=ag.float64))
    e = entries(log)
    assert e["reentrant"][0] == e["before"][0] == e["after"][0] != MAIN
    assert e["reentrant"][1] == e["after"][1] == 1  # the nested backward left fake:1 current
    assert_close(x.grad, np.exp(np.array([0.0, 1.0])) + 1)


def test_create_graph_on_a_worker_builds_a_differentiable_gradient():
    x = ag.tensor([2.0], dtype=ag.float64, requires_grad=True)
    x1 = x.to("fake:1")
    y = (x1 * x1 * x1).to("cpu") + x.to("fake:0").to("cpu")
    (g,) = ag.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad
    assert_close(g, [3 * 4.0 + 1])
    (gg,) = ag.autograd.grad(g, x)
    assert_close(gg, [6 * 2.0])


# CUDA -------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_cuda_backward_matches_cpu(dtype):
    from helpers import compare_devices
    arr = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    compare_devices(lambda x: (x * x).exp() - x, arr, device="cuda", dtype=dtype)


@pytest.mark.cuda
def test_cuda_two_devices_route_to_their_workers():
    if ag.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")
    log = []
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    a = Rec.apply(x.to("cuda:0") * 2, "c0", log)
    b = Rec.apply(x.to("cuda:1") * 3, "c1", log)
    (a.to("cpu") + b.to("cpu")).backward(ag.ones(2))
    e = entries(log)
    assert "cuda:0" in e["c0"][0] and "cuda:1" in e["c1"][0] and e["c0"][2] == "cuda:0"
    assert_close(x.grad, [5.0, 5.0])


class SavesAndBooms(ag.autograd.Function):
    """Saves its input for backward, whose backward then raises."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        raise ValueError("boom after reading a saved tensor")


@pytest.mark.parametrize("device", ["cpu", "fake:1"])
def test_a_failed_backward_frees_its_graph_without_the_cyclic_collector(device):
    """No reference cycle (exception -> traceback -> engine frame -> graph task -> exception): once
    the caught exception is dropped, the graph and its saved tensors go at once (gc disabled)."""
    def step():
        x = ag.ones(4, requires_grad=True)
        h = (x * 3).to(device)
        y = SavesAndBooms.apply(h)
        if device != "cpu":   # a graph on two devices: the threaded engine, the error set by a worker
            y = y.to("cpu") + x.to("fake:0").to("cpu")
        refs = [weakref.ref(h), weakref.ref(y.grad_fn)]
        loss = y.sum()
        try:
            loss.backward()
        except ValueError as e:
            assert "boom after reading" in str(e)
        else:
            raise AssertionError("backward did not raise")
        return refs
    gc.collect()
    gc.disable()
    try:
        refs = step()
        deadline = time.monotonic() + 2.0   # a worker drops its last frame just after reporting the error
        while any(r() is not None for r in refs) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()


def test_a_failed_backward_that_is_kept_still_holds_its_frames():
    """The exception a caller keeps still carries its traceback (debuggers read the frames)."""
    x = ag.ones(2, requires_grad=True)
    with pytest.raises(ValueError) as info:
        SavesAndBooms.apply(x).sum().backward()
    frames = [tb.tb_frame.f_code.co_name for tb in _walk(info.value.__traceback__)]
    assert "backward" in frames and "run_backward" in frames


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


# pruning to the inputs of grad() ------------------------------------------------------------------
def _diamond():
    """x -> a -> (b, c) -> d, plus a branch e that does not lead to a, and a leaf w."""
    x = ag.tensor([0.5, 1.5], dtype=ag.float64, requires_grad=True)
    w = ag.tensor([2.0, 3.0], dtype=ag.float64, requires_grad=True)
    a = x * 2
    b, c = a.exp(), a.sin()
    e = (w * 3).tanh()
    return x, w, a, (b * c + e).sum()


def test_pruning_in_creation_order_matches_the_walk():
    from autograd_gpu.autograd.graph import gradient_edge
    from autograd_gpu.engine import engine
    from autograd_gpu.engine.graph_task import GraphRoot, GraphTask
    x, w, a, out = _diamond()
    for inputs in ([a], [x], [w], [x, w], [a, w]):
        task = GraphTask(False, False, False)
        root = GraphRoot([gradient_edge(out)], [ag.ones(())])
        engine._count_dependencies(task, root)
        targets = {gradient_edge(t)[0] for t in inputs}
        by_seq = engine._needed_by_seq(task.deps, targets)
        assert by_seq is not None and by_seq == engine._needed_by_walk(root, targets) - {root}
        assert (a.grad_fn in by_seq) == any(t is x for t in inputs)   # only on the way to x


def test_pruning_falls_back_to_the_walk_when_creation_order_is_broken():
    """Nodes made out of order (not something ops do) must not make grad() skip a node."""
    from autograd_gpu.engine import engine
    x, w, a, out = _diamond()
    a.grad_fn.seq += 10 ** 9   # now older than nothing: its parents come first in seq order
    calls = []
    orig = engine._needed_by_walk
    engine._needed_by_walk = lambda *args: calls.append(1) or orig(*args)
    try:
        gx, = ag.autograd.grad(out, [x])
    finally:
        engine._needed_by_walk = orig
    assert calls == [1]
    xv = x.detach().numpy()
    np.testing.assert_allclose(gx.numpy(), 2 * (np.exp(2 * xv) * np.sin(2 * xv) + np.exp(2 * xv) * np.cos(2 * xv)))
