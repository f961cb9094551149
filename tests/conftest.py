"""Devices and markers for every test file.

The ``fake`` device type is NumPy-backed with two devices (``fake:0``, ``fake:1``):
it lets the engine's per-device workers, queue routing and cross-device gradients
run in CI without a GPU.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import dispatch
from autograd_gpu.backends.numpy_backend import NumpyBackend
from autograd_gpu.device import register_backend


class FakeBackend(NumpyBackend):
    """Two NumPy 'devices'; copies between them are real copies, as between GPUs."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.set_device_calls = []

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


register_backend("fake", FakeBackend)
dispatch.inherit("fake", "numpy")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU with CuPy; skipped otherwise")


def pytest_collection_modifyitems(config, items) -> None:
    if ag.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=f"CUDA unavailable: {ag.cuda.unavailable_reason()}")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Each test starts with grad mode on, anomaly off, multithreading on."""
    yield
    ag.autograd.grad_mode._set(True)
    ag.autograd.set_detect_anomaly(False)
    ag.autograd.set_multithreading_enabled(True)
