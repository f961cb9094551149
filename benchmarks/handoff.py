"""Cross-thread hand-off: what it costs the engine to pass backward work to another device's worker
thread, in microseconds (CPU only; an engine figure with no PyTorch counterpart or limit).

When a graph spans devices, each backward node is run by its device's worker thread and its outputs
are queued to the next node's thread. The floor of that cost is one put/get between two Python
threads, measured as half a round trip for the queue types the engine could use (it uses
``queue.PriorityQueue``); then a chain hopping between two NumPy-backed fake devices, with the
engine's workers on and off. The single-device path does no hand-off at all.
"""
from __future__ import annotations

import queue
import sys
import threading
import time

from .common import Config, Impl, Row, measure

DEVICES = ("cpu",)
FRESH_PROCESS = False


def round_trip(make_queue, n: int) -> float:
    """Seconds per one-way hand-off: ping-pong ``n`` items between two threads."""
    ping, pong = make_queue(), make_queue()
    item = (0, 0, None)

    def echo():
        while True:
            x = ping.get()
            if x is None:
                return
            pong.put(x)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    for _ in range(100):  # warm up both threads
        ping.put(item)
        pong.get()
    t0 = time.perf_counter()
    for _ in range(n):
        ping.put(item)
        pong.get()
    dt = time.perf_counter() - t0
    ping.put(None)
    t.join()
    return dt / n / 2


def engine_crossings(cfg: Config, crossings: int = 50) -> dict:
    """Seconds per crossing of a backward through a chain that hops between fake:0 and fake:1,
    with the engine's per-device workers on and off."""
    import autograd_gpu as ag
    from autograd_gpu.testing import register_fake_devices
    register_fake_devices()
    x = ag.ones(16, device="fake:0", requires_grad=True)
    g = ag.ones(16, device="fake:0" if crossings % 2 == 0 else "fake:1")

    def fwd_bwd():
        h = x
        for i in range(crossings):
            h = (h * 1.0).to(f"fake:{(i + 1) % 2}")
        x.grad = None
        h.backward(g)

    def mode(on: bool):
        def run():
            ag.autograd.set_multithreading_enabled(on)
            fwd_bwd()
        return run
    try:
        return measure({"threaded": Impl(mode(True)), "single thread": Impl(mode(False))}, cfg)
    finally:
        ag.autograd.set_multithreading_enabled(True)


def run(cfg: Config) -> list[Row]:
    n = cfg.pick({"full": 20000, "quick": 2000, "tiny": 50})
    meta = {"round_trips_per_sample": n, "switch_interval_s": sys.getswitchinterval()}
    rows = []
    for name, make in (("queue.SimpleQueue", queue.SimpleQueue), ("queue.Queue", queue.Queue),
                       ("queue.PriorityQueue (engine)", queue.PriorityQueue)):
        cfg.note(name)
        rows.append(Row("handoff", f"{name}: one hand-off", "cpu", "us",
                        {"ours": [round_trip(make, n) for _ in range(max(cfg.repeat, 1))]}, meta=meta))
    cfg.note("engine")
    crossings = 50
    s = engine_crossings(cfg, crossings)
    for k, v in s.items():
        rows.append(Row("handoff", f"engine, fake:0<->fake:1 chain, {k} (per crossing)", "cpu", "us",
                        {"ours": v}, per=crossings))
    added = [a - b for a, b in zip(s["threaded"], s["single thread"])]
    rows.append(Row("handoff", "engine: added by the worker threads (per crossing)", "cpu", "us",
                    {"ours": added}, per=crossings,
                    meta={"notes": ["threaded minus single-thread sample by sample: the engine's real hand-off cost"]}))
    return rows
