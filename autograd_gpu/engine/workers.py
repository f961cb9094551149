"""One worker thread per non-CPU device, each with its own ready queue, started lazily."""
from __future__ import annotations

import threading

import numpy as np

from ..device import Device, current_index, set_current_index
from .graph_task import SharedQueue

_workers: dict[Device, "DeviceWorker"] = {}
_lock = threading.Lock()
_tls = threading.local()


def current_worker_device() -> Device | None:
    """The device whose worker this thread is, or None on any other thread."""
    return getattr(_tls, "device", None)


class DeviceWorker:
    def __init__(self, device: Device, run) -> None:
        self.device = device
        self.queue = SharedQueue()
        self._run = run
        self.thread = threading.Thread(target=self._loop, name=f"autograd_gpu-{device}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        _tls.device = self.device
        dev_type, index = self.device.type, self.device.index or 0
        set_current_index(dev_type, index)
        np.seterr(all="ignore")  # our thread: gradients may hold inf/nan without warnings, as in PyTorch
        while True:
            _, _, task, node, grads = self.queue.get()
            if current_index(dev_type) != index:  # a backward (user code) switched it
                set_current_index(dev_type, index)
            self._run(task, node, grads)
            # between items this idle frame must not keep the last task (and through it the graph,
            # or a failed task's error) alive
            task = node = grads = None


def worker_for(device: Device, run) -> DeviceWorker:
    w = _workers.get(device)
    if w is None:
        with _lock:
            w = _workers.get(device)
            if w is None:
                w = _workers[device] = DeviceWorker(device, run)
    return w
