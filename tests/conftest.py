"""Devices and markers for every test file.

The ``fake`` device type is NumPy-backed with two devices (``fake:0``, ``fake:1``):
it lets the engine's per-device workers, queue routing and cross-device gradients
run in CI without a GPU.
"""
from __future__ import annotations

import pytest

import autograd_gpu as ag
from autograd_gpu.testing import register_fake_devices

register_fake_devices()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU with CuPy; skipped otherwise")


def pytest_collection_modifyitems(config, items) -> None:
    if ag.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=ag.cuda.unavailable_reason() or "CUDA is unavailable")
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
