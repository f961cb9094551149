"""The three training-step models, written once for autograd_gpu and PyTorch, and the timing run.

Not a workload itself: ``mlp_train``, ``cnn_train`` and ``gpt_block_train`` time a step of one
model each, ``train_memory`` measures the peak memory of a step of all three.

Each model is built by a function of the framework module (``ag`` or ``torch``: the same names,
``nn.Linear``, ``nn.functional.cross_entropy``, ``optim.SGD``), so the two steps are the same
code. Ours is built first (seeded); its ``state_dict`` arrays are loaded into the torch model,
so both start from identical weights and see identical inputs; the first two losses of each
(before and after one update) are compared and recorded, which checks forward, backward and the
optimizer in one go.

Each workload is timed in a fresh subprocess (``python train_models.py --time '<json>'``), ours and
PyTorch in the same one with interleaved samples as elsewhere in the runner. A fresh process
because the step time depends on the state glibc's allocator was left in: it raises its mmap and
trim thresholds after large frees, and a workload that ran earlier in the same process (the MLP's
4 MiB buffers) spares a later one the page faults of getting memory back from the kernel; the
GPT block's step measured 35 ms alone and 25 ms after the MLP. A user's training script is a
fresh process. The minor page faults and system time per step are recorded for each framework.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from common import Config, Result, measure_many, torch_or_none

MODELS = ("mlp", "cnn", "gpt_block")
# ours/torch step-time targets on CPU; peak memory of a step: MEMORY_TARGET for every model
TIME_TARGETS = {"mlp": 1.05, "cnn": 1.5, "gpt_block": 1.3}
MEMORY_TARGET = 1.2
CASE = "zero_grad+forward+backward+step"

MLP_SIZES, MLP_BATCH = (784, 1024, 1024, 10), 256
CNN_BATCH = 32
GPT = {"d_model": 128, "heads": 4, "seq": 64, "batch": 16, "mlp": 512}


@dataclass
class Setup:
    model: object
    opt: object
    x: object
    y: object
    loss_fn: Callable
    meta: dict

    def step(self):
        """One full training step; returns the loss tensor (not synchronised)."""
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss


def _mlp(mod):
    nn = mod.nn
    layers = []
    for i, (a, b) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(MLP_SIZES) - 2 else [])
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(np.float32)
    y = rng.integers(0, MLP_SIZES[-1], MLP_BATCH).astype(np.int64)
    meta = {"layers": list(MLP_SIZES), "batch": MLP_BATCH, "loss": "cross_entropy",
            "optimizer": "SGD(lr=0.01, momentum=0.9)"}
    return model, (lambda ps: mod.optim.SGD(ps, lr=0.01, momentum=0.9)), x, y, mod.nn.functional.cross_entropy, meta


def _cnn(mod):
    nn = mod.nn
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((CNN_BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, CNN_BATCH).astype(np.int64)
    meta = {"layers": "conv(1,16,3,p1)-relu-maxpool2-conv(16,32,3,p1)-relu-maxpool2-flatten-linear(1568,10)",
            "batch": CNN_BATCH, "input": [1, 28, 28], "loss": "cross_entropy",
            "optimizer": "SGD(lr=0.01, momentum=0.9)"}
    return model, (lambda ps: mod.optim.SGD(ps, lr=0.01, momentum=0.9)), x, y, mod.nn.functional.cross_entropy, meta


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

    rng = np.random.default_rng(3)
    shape = (GPT["batch"], GPT["seq"], d)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.standard_normal(shape).astype(np.float32)
    meta = {**GPT, "loss": "mse_loss against a fixed standard-normal target",
            "attention": "qkv Linear + F.scaled_dot_product_attention(is_causal=True) + out Linear",
            "optimizer": "AdamW(lr=1e-3, weight_decay=0.1)"}
    return Block(), (lambda ps: mod.optim.AdamW(ps, lr=1e-3, weight_decay=0.1)), x, y, F.mse_loss, meta


BUILDERS = {"mlp": _mlp, "cnn": _cnn, "gpt_block": _gpt_block}


def build(name: str, mod, device: str, seed: int = 0, weights: dict | None = None) -> Setup:
    """``name``'s model, optimizer and inputs in framework ``mod`` on ``device``; ``weights``
    (name -> NumPy array) replaces the initial parameters before the optimizer is made."""
    # touch the CPU backend first: ag.manual_seed before the backend exists leaves the generator
    # it creates seeded from entropy (backends/numpy_backend.py), so the weights would change per run
    mod.zeros(1)
    mod.manual_seed(seed)
    model, make_opt, x, y, loss_fn, meta = BUILDERS[name](mod)
    if weights is not None:
        model.load_state_dict({k: mod.tensor(v) for k, v in weights.items()})
    model = model.to(device)
    model.train()
    return Setup(model, make_opt(list(model.parameters())), mod.tensor(x, device=device),
                 mod.tensor(y, device=device), loss_fn, {**meta, "dtype": "float32"})


def state_arrays(model) -> dict:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def syncs(device: str):
    """(ours, torch) functions that wait for the device's queued work (None on CPU)."""
    if device == "cpu":
        return None, None
    import autograd_gpu as ag
    torch = torch_or_none()
    return ag.cuda.synchronize, (torch.cuda.synchronize if torch is not None else None)


def torch_usable(torch, device: str) -> bool:
    return torch is not None and (device == "cpu" or torch.cuda.is_available())


def run_child(script: Path, args: list, env: dict | None = None) -> object:
    """Run ``script args`` in a fresh interpreter that imports the same autograd_gpu as this one;
    returns the JSON its last line of stdout holds."""
    import autograd_gpu as ag
    pkg_root = str(Path(ag.__file__).resolve().parent.parent)
    env = {**os.environ, **(env or {}),
           "PYTHONPATH": os.pathsep.join(p for p in (pkg_root, os.environ.get("PYTHONPATH")) if p)}
    cmd = [sys.executable, str(script), *map(str, args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_timing(workload: str, name: str, cfg: Config) -> list[Result]:
    """Median ms per training step of model ``name``, ours and PyTorch, in a fresh subprocess."""
    job = {"workload": workload, "model": name, "repeat": cfg.repeat, "min_time": cfg.min_time,
           "quick": cfg.quick, "devices": list(cfg.devices)}
    return [Result(**r) for r in run_child(Path(__file__).resolve(), ["--time", json.dumps(job)])]


def _faults(steps: dict, n: int) -> dict:
    """Minor page faults and system milliseconds per step of each ``name -> step`` (CPU)."""
    import resource
    out = {}
    for impl, step in steps.items():
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(n):
            step().item()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        out[impl] = {"minor_faults": round((r1.ru_minflt - r0.ru_minflt) / n),
                     "sys_ms": round((r1.ru_stime - r0.ru_stime) / n * 1e3, 2)}
    return out


def time_in_process(workload: str, name: str, cfg: Config) -> list[Result]:
    import autograd_gpu as ag
    torch = torch_or_none()
    results = []
    for device in cfg.devices:
        res = Result(workload, device, "ms")
        weights = state_arrays(build(name, ag, "cpu").model)  # seeded init of ours, given to both
        ours = build(name, ag, device, weights=weights)
        res.meta = dict(ours.meta)
        sync_ours, sync_torch = syncs(device)
        impls = {"ours": (ours.step, sync_ours)}
        losses = {"ours": [ours.step().item(), ours.step().item()]}
        if torch_usable(torch, device):
            theirs = build(name, torch, "cuda" if device != "cpu" else "cpu", weights=weights)
            losses["torch"] = [theirs.step().item(), theirs.step().item()]
            impls["torch"] = (theirs.step, sync_torch)
            for i, what in enumerate(("first_step_loss", "second_step_loss")):
                a, b = losses["ours"][i], losses["torch"][i]
                if abs(a - b) > 1e-4 * max(1.0, abs(b)):
                    res.notes.append(f"WARNING: {what} differs: ours {a!r}, torch {b!r}")
        res.meta["first_step_loss"] = {k: v[0] for k, v in losses.items()}
        res.meta["second_step_loss"] = {k: v[1] for k, v in losses.items()}
        row = {"case": CASE, **measure_many(impls, cfg)}
        if device == "cpu":
            row["target"] = TIME_TARGETS[name]
            res.meta["per_step_faults_sys"] = _faults({k: v[0] for k, v in impls.items()}, 3 if cfg.quick else 10)
        else:
            res.meta["gpu"] = ag.cuda.get_device_name(device)
        res.meta["process"] = "fresh subprocess per workload"
        res.rows.append(row)
        results.append(res)
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--time":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        job = json.loads(sys.argv[2])
        cfg = Config(repeat=job["repeat"], min_time=job["min_time"], quick=job["quick"], devices=tuple(job["devices"]))
        out = time_in_process(job["workload"], job["model"], cfg)
        print(json.dumps([dataclasses.asdict(r) for r in out], default=str))
        sys.exit(0)
    sys.exit("train_models.py is not a workload: run benchmarks/run.py --only mlp_train,cnn_train,...")
