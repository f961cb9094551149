"""Cross-thread hand-off: what it costs the engine to pass work to another device's worker.

When a graph spans devices, each backward node is run by its device's worker thread
and its outputs are queued to the next node's thread. The floor of that cost is one
put/get between two Python threads; measured here as half a round trip, for the queue
types the engine could use (it uses ``queue.PriorityQueue`` for shared ready queues).
The single-device path does no hand-off at all, so this is added per device crossing.
"""
from __future__ import annotations

import queue
import sys
import threading
import time

from common import Config, Result

NAME = "handoff"


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


def _register_fake() -> None:
    """Two NumPy-backed "devices", so the engine's workers run without a GPU."""
    from autograd_gpu.testing import register_fake_devices
    register_fake_devices()


def engine_crossings(cfg: Config, crossings: int = 50) -> dict:
    """Backward through a chain that hops between fake:0 and fake:1 ``crossings`` times,
    with the engine's per-device workers on and off; the difference is the threads' cost."""
    import autograd_gpu as ag
    from common import measure
    _register_fake()
    x = ag.ones(16, device="fake:0", requires_grad=True)
    g = ag.ones(16, device="fake:0" if crossings % 2 == 0 else "fake:1")

    def fwd_bwd():
        h = x
        for i in range(crossings):
            h = (h * 1.0).to(f"fake:{(i + 1) % 2}")
        x.grad = None
        h.backward(g)

    out = {}
    try:
        for mode in (True, False):
            ag.autograd.set_multithreading_enabled(mode)
            out[mode] = measure(fwd_bwd, cfg)
    finally:
        ag.autograd.set_multithreading_enabled(True)
    return {"threaded": out[True] / crossings, "single thread": out[False] / crossings,
            "added by threads": (out[True] - out[False]) / crossings}


def run(cfg: Config) -> list[Result]:
    import statistics
    n = 2000 if cfg.quick else 20000
    res = Result(NAME, "cpu", "us", impls=("ours",))
    res.meta = {"round_trips_per_sample": n, "switch_interval_s": sys.getswitchinterval()}
    for name, make in (("queue.SimpleQueue", queue.SimpleQueue), ("queue.Queue", queue.Queue),
                       ("queue.PriorityQueue (engine)", queue.PriorityQueue)):
        samples = [round_trip(make, n) for _ in range(max(cfg.repeat, 1))]
        res.rows.append({"case": f"{name}: one hand-off", "ours": statistics.median(samples)})
    try:
        per = engine_crossings(cfg)
    except Exception as e:  # noqa: BLE001 - the queue figures above still stand
        res.notes.append(f"engine measurement failed: {type(e).__name__}: {e}")
    else:
        for k, v in per.items():
            res.rows.append({"case": f"engine, fake:0<->fake:1 chain, {k} (per crossing)", "ours": v})
        res.notes.append("engine rows: forward+backward of mul+to() per crossing; 'added by threads' is "
                         "threaded minus single-thread, i.e. the engine's real hand-off cost")
    res.notes.append("one-way hand-off = half a put/get round trip between two threads (median of samples)")
    return [res]


if __name__ == "__main__":  # through the runner, which sets thread counts before NumPy loads
    import subprocess
    from pathlib import Path
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
