"""The three training-step models, written once for autograd_gpu and PyTorch, and their timing.

Not a workload itself: ``mlp_train``, ``cnn_train`` and ``gpt_block_train`` time a step of one
model each (``time_step``), ``train_memory`` measures the peak memory of a step of all three.

Each model is built by a function of the framework module (``ag`` or ``torch``: the same names,
``nn.Linear``, ``nn.functional.cross_entropy``, ``optim.SGD``), so the two steps are the same
code. Ours is built first (seeded); its ``state_dict`` arrays are loaded into the torch model and
the hand-written NumPy one (``numpy_models.py``, the CPU limit), so all start from identical
weights and see identical inputs; the first two losses of each (before and after one update) are
compared and recorded, which checks forward, backward and the optimizer in one go.

The timing workloads run in a fresh subprocess each (``FRESH_PROCESS``), ours, PyTorch and the
limit in the same one with interleaved samples. A fresh process because the step time depends on
the state glibc's allocator was left in: it raises its mmap and trim thresholds after large frees,
and a workload that ran earlier in the same process (the MLP's 4 MiB buffers) spares a later one
the page faults of getting memory back from the kernel; the GPT block's step measured 35 ms alone
and 25 ms after the MLP. A user's training script is a fresh process. Each step takes the next of
a few input batches (rotated as elsewhere). The minor page faults and system time per step are
recorded for each implementation on CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .common import Config, Impl, Row, cache_bytes, clock, measure, n_sets, torch_device, torch_or_none

MODELS = ("mlp", "cnn", "gpt_block")
# ours/torch step-time targets on CPU (GPU: the GPT block only); peak memory of a step: MEMORY_TARGET
TIME_TARGETS = {"mlp": 1.05, "cnn": 1.5, "gpt_block": 1.3}
GPU_TIME_TARGETS = {"gpt_block": 1.5}
MEMORY_TARGET = 1.2
CASE = "zero_grad+forward+backward+step"

MLP_SIZES, MLP_BATCH = (784, 1024, 1024, 10), 256
CNN_BATCH = 32
GPT = {"d_model": 128, "heads": 4, "seq": 64, "batch": 16, "mlp": 512}


@dataclass
class Setup:
    model: object
    opt: object
    batches: list      # (x, y) on the device; batches[0] is the one the losses are checked on
    loss_fn: Callable
    meta: dict

    def step(self, x=None, y=None):
        """One full training step on (x, y) (default: the first batch); returns the loss tensor
        (not synchronised)."""
        if x is None:
            x, y = self.batches[0]
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss


def _mlp(mod):
    nn = mod.nn
    layers = []
    for i, (a, b) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(MLP_SIZES) - 2 else [])
    meta = {"layers": list(MLP_SIZES), "batch": MLP_BATCH, "loss": "cross_entropy",
            "optimizer": "SGD(lr=0.01, momentum=0.9)"}
    return nn.Sequential(*layers), (lambda ps: mod.optim.SGD(ps, lr=0.01, momentum=0.9)), \
        mod.nn.functional.cross_entropy, meta


def _cnn(mod):
    nn = mod.nn
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    meta = {"layers": "conv(1,16,3,p1)-relu-maxpool2-conv(16,32,3,p1)-relu-maxpool2-flatten-linear(1568,10)",
            "batch": CNN_BATCH, "input": [1, 28, 28], "loss": "cross_entropy",
            "optimizer": "SGD(lr=0.01, momentum=0.9)"}
    return model, (lambda ps: mod.optim.SGD(ps, lr=0.01, momentum=0.9)), mod.nn.functional.cross_entropy, meta


def _gpt_block(mod):
    nn, F = mod.nn, mod.nn.functional
    d, h = GPT["d_model"], GPT["heads"]

    class Block(nn.Module):
        """Pre-LayerNorm transformer block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, GPT["mlp"])
            self.act = nn.GELU()
            self.out = nn.Linear(GPT["mlp"], d)

        def forward(self, x):
            B, T, C = x.shape
            qkv = self.qkv(self.ln1(x)).reshape(B, T, 3, h, C // h).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
            return x + self.out(self.act(self.fc(self.ln2(x))))

    meta = {**GPT, "loss": "mse_loss against a fixed standard-normal target",
            "attention": "qkv Linear + F.scaled_dot_product_attention(is_causal=True) + out Linear",
            "optimizer": "AdamW(lr=1e-3, weight_decay=0.1)"}
    return Block(), (lambda ps: mod.optim.AdamW(ps, lr=1e-3, weight_decay=0.1)), F.mse_loss, meta


BUILDERS = {"mlp": _mlp, "cnn": _cnn, "gpt_block": _gpt_block}


def batches(name: str, n: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` input batches of model ``name``; the first is the same in every run."""
    rng = np.random.default_rng({"mlp": 1, "cnn": 2, "gpt_block": 3}[name])
    out = []
    for _ in range(n):
        if name == "mlp":
            out.append((rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(np.float32),
                        rng.integers(0, MLP_SIZES[-1], MLP_BATCH).astype(np.int64)))
        elif name == "cnn":
            out.append((rng.standard_normal((CNN_BATCH, 1, 28, 28)).astype(np.float32),
                        rng.integers(0, 10, CNN_BATCH).astype(np.int64)))
        else:
            shape = (GPT["batch"], GPT["seq"], GPT["d_model"])
            out.append((rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)))
    return out


def build(name: str, mod, device: str, seed: int = 0, weights: dict | None = None, n_batches: int = 1) -> Setup:
    """``name``'s model, optimizer and input batches in framework ``mod`` on ``device``; ``weights``
    (name -> NumPy array) replaces the initial parameters before the optimizer is made."""
    # touch the CPU backend first: ag.manual_seed before the backend exists leaves the generator
    # it creates seeded from entropy (backends/numpy_backend.py), so the weights would change per run
    mod.zeros(1)
    mod.manual_seed(seed)
    model, make_opt, loss_fn, meta = BUILDERS[name](mod)
    if weights is not None:
        model.load_state_dict({k: mod.tensor(v) for k, v in weights.items()})
    model = model.to(device)
    model.train()
    data = [(mod.tensor(x, device=device), mod.tensor(y, device=device)) for x, y in batches(name, n_batches)]
    return Setup(model, make_opt(list(model.parameters())), data, loss_fn, {**meta, "dtype": "float32"})


def state_arrays(model) -> dict:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def by_hand(name: str, weights: dict):
    """The NumPy model of ``numpy_models.py`` for ``name``."""
    from . import numpy_models
    return numpy_models.build(name, weights, **({"heads": GPT["heads"]} if name == "gpt_block" else {}))


def _faults(steps: dict, n: int) -> dict:
    """Minor page faults and system milliseconds per step of each ``name -> step`` (CPU)."""
    import resource
    out = {}
    for impl, step in steps.items():
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(n):
            step()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        out[impl] = {"minor_faults": round((r1.ru_minflt - r0.ru_minflt) / n),
                     "sys_ms": round((r1.ru_stime - r0.ru_stime) / n * 1e3, 2)}
    return out


def _item(x) -> float:
    return x if isinstance(x, float) else x.item()


def time_step(workload: str, name: str, cfg: Config) -> list[Row]:
    """Median time per training step of model ``name``: ours, PyTorch and (CPU) NumPy by hand."""
    import autograd_gpu as ag
    torch = torch_or_none(cfg.device)
    dev = cfg.device
    weights = state_arrays(build(name, ag, "cpu").model)  # seeded init of ours, given to all
    host = batches(name, 1)
    k = n_sets(sum(x.nbytes + y.nbytes for x, y in host), cache_bytes(dev), max_sets=4)
    ours = build(name, ag, dev, weights=weights, n_batches=k)
    meta = dict(ours.meta)
    meta["input_batches"] = k
    losses = {"ours": [ours.step().item(), ours.step().item()]}
    impls = {"ours": Impl(ours.step, ours.batches, clock(dev))}
    if torch is not None:
        theirs = build(name, torch, torch_device(dev), weights=weights, n_batches=k)
        losses["torch"] = [theirs.step().item(), theirs.step().item()]
        impls["torch"] = Impl(theirs.step, theirs.batches, clock(dev))
    if not cfg.cuda:
        hand = by_hand(name, weights)
        x0, y0 = batches(name, 1)[0]
        losses["limit"] = [hand.step(x0, y0), hand.step(x0, y0)]
        impls["limit"] = Impl(hand.step, batches(name, k))
    notes = []
    for i, what in enumerate(("first_step_loss", "second_step_loss")):
        meta[what] = {impl: v[i] for impl, v in losses.items()}
        for impl, v in losses.items():
            if abs(v[i] - losses["ours"][i]) > 1e-4 * max(1.0, abs(v[i])):
                notes.append(f"WARNING: {what} differs: ours {losses['ours'][i]!r}, {impl} {v[i]!r}")
    cfg.note(name)
    samples = measure(impls, cfg)
    if cfg.cuda:
        target = GPU_TIME_TARGETS.get(name)
        meta["gpu"] = ag.cuda.get_device_name(dev)
    else:
        target = TIME_TARGETS[name]
        meta["per_step_faults_sys"] = _faults({k: (lambda s=s: _item(s.fn(*s.args[0]))) for k, s in impls.items()},
                                              10 if cfg.size == "full" else 1)
    meta["process"] = "fresh subprocess per workload"
    meta["notes"] = notes
    return [Row(workload, CASE, dev, "ms", samples, limit=None if cfg.cuda else "the same step by hand in NumPy",
                target=None if target is None else {"vs": "torch", "max": target}, meta=meta)]
