"""A NumPy-backed fake device type for tests and benchmarks without a GPU.

``register_fake_devices()`` adds device type ``fake`` with two devices (``fake:0``,
``fake:1``) that reuse the NumPy kernels. Copies between them are real copies, as
between GPUs, so the engine's per-device workers, queue routing and cross-device
gradients all run as they would on two GPUs.
"""
from __future__ import annotations

import numpy as np

from . import dispatch
from .backends.numpy_backend import NumpyBackend
from .device import register_backend


class FakeBackend(NumpyBackend):
    """Two NumPy 'devices'; ``set_device_calls`` records which device was made current, in order."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.set_device_calls: list = []

    def device_count(self) -> int:
        return 2

    def set_device(self, index: int) -> None:
        self.current = index
        self.set_device_calls.append(index)

    def from_numpy(self, arr, index):
        return np.array(arr, copy=True)

    def to_numpy(self, arr):
        return np.array(arr, copy=True)

    def to_device(self, arr, index):
        return np.array(arr, copy=True)


def register_fake_devices() -> None:
    register_backend("fake", FakeBackend)
    dispatch.inherit("fake", "numpy")
