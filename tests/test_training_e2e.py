"""End to end on CPU: an MLP, a small CNN and the default GPT train with a falling loss; the same
model trained by PyTorch from the same weights follows the same trajectory; save/load round-trips
a model and optimizer exactly and training continues identically."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
import autograd_gpu.nn as nn
import autograd_gpu.nn.functional as F
from autograd_gpu.lm import GPT, GPTConfig, CharCorpus


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 4))


def _cnn() -> nn.Module:
    # no bias before BatchNorm: its gradient is zero in exact arithmetic, and Adam would turn the
    # rounding noise of both frameworks into full-size steps that differ between them
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3, padding="same", bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 3))


def _data(kind: str, n: int = 64):
    """A learnable problem: labels from a fixed random projection of the inputs."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 20) if kind == "mlp" else (n, 1, 8, 8)).astype(np.float32)
    k = 4 if kind == "mlp" else 3
    proj = rng.standard_normal((x[0].size, k)).astype(np.float32)
    y = (x.reshape(n, -1) @ proj).argmax(1)
    return x, y


def _train(model, opt, x, y, steps: int, sched=None) -> list[float]:
    losses = []
    xs, ys = ag.tensor(x), ag.tensor(y)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_model_trains_with_falling_loss(kind):
    ag.manual_seed(0)
    model = _mlp() if kind == "mlp" else _cnn()
    opt = ag.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if kind == "mlp" else \
        ag.optim.Adam(model.parameters(), lr=0.01)
    losses = _train(model, opt, *_data(kind), steps=40)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_trajectory_matches_pytorch(kind):
    torch = pytest.importorskip("torch")
    ag.manual_seed(0)
    ours = _mlp() if kind == "mlp" else _cnn()
    ref = _torch_twin(torch, kind)
    ref.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in ours.state_dict().items()})
    x, y = _data(kind)
    a = _train(ours, ag.optim.AdamW(ours.parameters(), lr=0.01, weight_decay=0.1), x, y, steps=8)
    topt = torch.optim.AdamW(ref.parameters(), lr=0.01, weight_decay=0.1)
    b = []
    for _ in range(8):
        topt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
        topt.step()
        b.append(loss.item())
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v.detach().numpy(), ref.state_dict()[k].numpy(), rtol=2e-3, atol=2e-4, err_msg=k)


def _torch_twin(torch, kind):
    tnn = torch.nn
    if kind == "mlp":
        return tnn.Sequential(tnn.Linear(20, 32), tnn.ReLU(), tnn.Linear(32, 32), tnn.Tanh(), tnn.Linear(32, 4))
    return tnn.Sequential(tnn.Conv2d(1, 6, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(6, 8, 3, padding="same", bias=False), tnn.BatchNorm2d(8), tnn.ReLU(),
                          tnn.AdaptiveAvgPool2d(2), tnn.Flatten(), tnn.Linear(32, 3))


def test_save_load_round_trip_continues_identically(tmp_path):
    """Model, optimizer and scheduler saved mid-training and loaded into fresh objects continue
    exactly as the uninterrupted run."""
    x, y = _data("cnn")

    def fresh():
        ag.manual_seed(0)
        m = _cnn()
        o = ag.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
        return m, o, ag.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)

    m, o, s = fresh()
    full = _train(m, o, x, y, steps=10, sched=s)
    m, o, s = fresh()
    _train(m, o, x, y, steps=5, sched=s)
    ag.save({"model": m.state_dict(), "opt": o.state_dict(), "sched": s.state_dict()}, tmp_path / "ck.safetensors")
    m2, o2, s2 = fresh()
    state = ag.load(tmp_path / "ck.safetensors")
    m2.load_state_dict(state["model"])
    o2.load_state_dict(state["opt"])
    s2.load_state_dict(state["sched"])
    assert s2.get_last_lr() == s.get_last_lr()
    rest = _train(m2, o2, x, y, steps=5, sched=s2)
    assert rest == full[5:]
    for (k, v), (_, w) in zip(m.state_dict().items(), state["model"].items()):
        np.testing.assert_array_equal(v.detach().numpy(), w.numpy(), err_msg=k)


def test_default_gpt_trains_with_falling_loss():
    """The model ``autograd-gpu train`` builds, at its default width, on a repetitive text."""
    text = "the quick brown fox jumps over the lazy dog. " * 200
    corpus = CharCorpus(text)
    ag.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=32, n_layer=1))
    opt = ag.optim.AdamW(model.parameters(), lr=3e-3)
    gen = ag.Generator().manual_seed(0)
    losses = []
    for _ in range(15):
        x, y = corpus.batch("train", 8, 32, "cpu", gen)
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 2.5 and np.mean(losses[-3:]) < 0.7 * losses[0], losses
    out = model.generate(ag.tensor([corpus.encode("the ")]), 10, top_k=5, generator=gen)
    assert out.shape == (1, 14) and out.dtype == ag.int64
