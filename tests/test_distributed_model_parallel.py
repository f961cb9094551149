"""Model parallelism: a model whose layers sit on two devices trains with the per-device backward
engine, each device's part of backward on that device's worker thread. CI runs it on the fake
NumPy-backed devices (``fake:0``, ``fake:1``, tests/conftest.py); with two GPUs it runs on
``cuda:0`` and ``cuda:1`` too."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn


class TwoDeviceMLP(nn.Module):
    """The first layer on ``d0``, the rest on ``d1``: activations cross devices with ``.to``."""

    def __init__(self, d0: str, d1: str) -> None:
        super().__init__()
        self.d0, self.d1 = d0, d1
        self.first = nn.Linear(5, 8).double().to(d0)
        self.second = nn.Linear(8, 8).double().to(d1)
        self.head = nn.Linear(8, 2).double().to(d1)

    def forward(self, x):
        h = self.first(x.to(self.d0)).tanh()
        return self.head(self.second(h.to(self.d1)).tanh())


def _two_devices():
    pairs = [pytest.param(("fake:0", "fake:1"), id="fake")]
    marks = [pytest.mark.cuda]
    if not (ag.cuda.is_available() and ag.cuda.device_count() >= 2):
        marks.append(pytest.mark.skip(reason="needs two CUDA devices"))
    pairs.append(pytest.param(("cuda:0", "cuda:1"), id="cuda", marks=marks))
    return pairs


@pytest.mark.parametrize("devices", _two_devices())
def test_a_model_split_over_two_devices_trains_like_one_device(devices):
    d0, d1 = devices
    ag.manual_seed(0)
    model = TwoDeviceMLP(d0, d1)
    ag.manual_seed(0)
    ref = TwoDeviceMLP("cpu", "cpu")
    opt = ag.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = ag.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    threads: dict[str, set] = {}
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(
            lambda t, name=name: threads.setdefault(name, set()).add(threading.current_thread().name))
    rng = np.random.default_rng(0)
    for _ in range(4):
        x, y = ag.from_numpy(rng.standard_normal((6, 5))), ag.from_numpy(rng.standard_normal((6, 2)))
        for m, o in ((model, opt), (ref, ref_opt)):
            o.zero_grad()
            loss = nn.functional.mse_loss(m(x), y.to(m.d1))
            loss.backward()
            o.step()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        assert p.device == ag.device(d0 if name.startswith("first") else d1)
        np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=name)
    # each device's share of backward ran on that device's worker
    assert threads["first.weight"] == threads["first.bias"] == {f"autograd_gpu-{d0}"}
    assert threads["second.weight"] == threads["head.weight"] == {f"autograd_gpu-{d1}"}
