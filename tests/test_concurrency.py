"""Backward from many threads at once: same results as serial, no lost updates, flat memory."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd.graph import Node


def _graph(seed: int, device: str):
    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.standard_normal(8), dtype=ag.float64, device=device, requires_grad=True)
    y = x
    for k in range(30):
        y = (y * 0.1).exp() * 0.5 if k % 3 == 0 else y * y * 0.1 + x * 0.5
    return x, y


def _grad_of(seed: int, device: str) -> np.ndarray:
    x, y = _graph(seed, device)
    y.backward(ag.ones(8, dtype=ag.float64, device=device))
    return x.grad.to("cpu").numpy()


@pytest.mark.parametrize("device", ["cpu", "fake:1"])
def test_eight_threads_match_serial(device):
    serial = [_grad_of(s, device) for s in range(8)]
    results: list = [None] * 8
    errors: list = []
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            for _ in range(5):
                results[i] = _grad_of(i, device)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s, r in zip(serial, results):
        np.testing.assert_array_equal(s, r)


def test_cross_device_graphs_from_threads():
    """Graphs spanning fake:0 and fake:1 share the two device workers across threads."""
    def one(seed):
        x = ag.tensor(np.full(4, 0.5 + seed), dtype=ag.float64, device="fake:0", requires_grad=True)
        y = (x * x).to("fake:1").exp().to("fake:0") * 2.0
        y.backward(ag.ones(4, dtype=ag.float64, device="fake:0"))
        return x.grad.to("cpu").numpy()
    serial = [one(s) for s in range(8)]
    out: dict = {}
    threads = [threading.Thread(target=lambda s=s: out.__setitem__(s, one(s))) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in range(8):
        np.testing.assert_array_equal(out[s], serial[s])
        xs = 0.5 + s
        np.testing.assert_allclose(serial[s], 4 * xs * np.exp(xs * xs))


def test_shared_leaf_accumulates_every_contribution():
    import sys
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose lost updates
    try:
        _shared_leaf()
    finally:
        sys.setswitchinterval(old)


def _shared_leaf():
    w = ag.tensor(np.ones(4), dtype=ag.float64, requires_grad=True)
    n_threads, per_thread = 8, 200
    barrier = threading.Barrier(n_threads)

    def work():
        barrier.wait()
        for _ in range(per_thread):
            (w * 3.0).backward(ag.ones(4, dtype=ag.float64))
    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(w.grad.numpy(), np.full(4, 3.0 * n_threads * per_thread))


def test_grad_mode_is_thread_local():
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def other():
        with ag.no_grad():
            inside.set()
            release.wait(5)
            seen["other"] = ag.is_grad_enabled()
    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    seen["main"] = ag.is_grad_enabled()
    x = ag.ones(2, requires_grad=True)
    seen["main_records"] = (x * 2).requires_grad
    release.set()
    t.join()
    assert seen == {"other": False, "main": True, "main_records": True}


def _live_nodes() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Node))


def test_training_loop_memory_is_flat():
    """1,000 forward/backward/step iterations: no graph, buffer or hook outlives its iteration."""
    rng = np.random.default_rng(0)
    w = ag.tensor(rng.standard_normal(16) * 0.1, requires_grad=True)
    x = ag.tensor(rng.standard_normal(16))
    h = w.register_hook(lambda g: g * 1.0)

    def step():
        loss = ((w * x).exp() * 0.01 + w * w)
        loss.backward(ag.ones(16))
        with ag.no_grad():
            w.sub_(w.grad * 0.01) if hasattr(w, "sub_") else None
        w.grad = None

    for _ in range(20):
        step()
    before = _live_nodes()
    for _ in range(1000):
        step()
    after = _live_nodes()
    assert after <= before
    h.remove()
    assert not np.isnan(w.detach().numpy()).any()
