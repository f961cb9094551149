"""Peak memory of one training step of ``mlp_train``, ``cnn_train`` and ``gpt_block_train``'s models,
ours against PyTorch and (CPU) the same step by hand in NumPy, measured the same way for all, in MiB.

What is measured: how far memory rises during a step above the state a step starts from once
``zero_grad`` has dropped the gradients (parameters, optimizer state, inputs, the libraries
themselves), that is the activations saved for backward, the gradients and the temporaries of
forward, backward and the optimizer update, at their highest. Target on CPU: at most 1.2x PyTorch.

CPU. ``tracemalloc`` sees NumPy's buffers but not PyTorch's C++ allocations, so the process's
resident set is used instead, which sees both. Each (model, framework) pair runs in a fresh
subprocess (``run.py --child train_memory JOB``) that imports only its own framework, builds the
model and inputs, runs one warm-up step (which creates the optimizer state and the BLAS/OpenMP
buffers), calls ``zero_grad``, collects garbage, then resets the kernel's peak-RSS counter
(``echo 5 > /proc/self/clear_refs``, Linux >= 4.0) and reads the baseline ``VmRSS``. It runs
``steps`` steps (each ends with ``loss.item()``) and reads ``VmHWM``, the peak RSS since the reset:
the result is ``VmHWM - baseline``. The children run with ``MALLOC_MMAP_THRESHOLD_=65536``: glibc
otherwise raises its mmap threshold after the first large free and keeps later freed buffers in
its heap, so RSS would report the allocator's leftovers, differently for each framework, instead
of live memory; with a fixed threshold every buffer over 64 KiB is its own mapping, given back on
free. Where ``clear_refs`` cannot be written the baseline is taken before the warm-up step and
``ru_maxrss`` is the peak, which then also counts the first step's one-time allocations (the
method used is in the result's meta). For ours, which tracemalloc does see, the RSS figure agreed
with tracemalloc's peak to within 0.3 MiB. The NumPy step (the limit) gets the same weights'
shapes and batch; it has no ``zero_grad`` (its gradients are temporaries of the step).

CUDA. Ours: CuPy's default memory pool (the one autograd_gpu allocates from), through an
allocator that records the pool's ``used_bytes()`` after every allocation (the pool's high-water
mark); torch: ``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``. Both
count bytes handed out by the caching allocator (rounded to its block size), not what it has
reserved. The baseline and warm-up are as on CPU. No limit on the GPU.
"""
from __future__ import annotations

import gc

from .common import MIB, Config, Row, torch_or_none

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = False   # each cell below is a fresh subprocess of its own
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") <= _status_kib("VmRSS") + 64  # the reset took effect


def _cpu(step, zero_grad, steps: int) -> dict:
    import resource
    before_warmup = _status_kib("VmRSS")
    step()
    zero_grad()
    gc.collect()
    reset = _reset_peak_rss()
    base = _status_kib("VmRSS") if reset else before_warmup
    for _ in range(steps):
        step()
    peak = _status_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"base": base * 1024, "peak": peak * 1024,
            "method": "VmHWM after clear_refs minus VmRSS after a warm-up step and zero_grad" if reset
            else "ru_maxrss minus VmRSS before the warm-up step (clear_refs not writable)"}


def _cuda_ours(setup, steps: int) -> dict:
    import autograd_gpu as ag
    import cupy as cp
    pool = cp.get_default_memory_pool()
    high = [0]

    def malloc(size):
        mem = pool.malloc(size)
        high[0] = max(high[0], pool.used_bytes())
        return mem

    cp.cuda.set_allocator(malloc)
    setup.step().item()
    setup.opt.zero_grad()
    gc.collect()
    ag.cuda.synchronize()
    base = high[0] = pool.used_bytes()
    for _ in range(steps):
        setup.step().item()
    ag.cuda.synchronize()
    return {"base": base, "peak": high[0], "method": "CuPy pool used_bytes() high-water mark (allocator hook)"}


def _cuda_torch(setup, steps: int) -> dict:
    import torch
    setup.step().item()
    setup.opt.zero_grad()
    gc.collect()
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(steps):
        setup.step().item()
    torch.cuda.synchronize()
    return {"base": base, "peak": torch.cuda.max_memory_allocated(), "method": "torch.cuda.max_memory_allocated"}


def child(job: dict) -> dict:
    """In the subprocess: build, warm up, measure one (model, framework, device) cell."""
    from .train_models import batches, build
    model, framework, device, steps = job["model"], job["framework"], job["device"], job["steps"]
    if framework == "numpy":
        import numpy as np

        from .train_models import by_hand
        rng = np.random.default_rng(0)
        hand = by_hand(model, {k: (rng.standard_normal(s) * 0.05).astype(np.float32) for k, s in job["shapes"].items()})
        x, y = batches(model, 1)[0]
        out = _cpu(lambda: hand.step(x, y), lambda: None, steps)
        out["param_bytes"] = sum(p.nbytes for p in hand.p.values())
        return {**out, "step_bytes": out["peak"] - out["base"]}
    if framework == "torch":
        import torch as mod
    else:
        import autograd_gpu as mod
    setup = build(model, mod, "cuda" if device != "cpu" and framework == "torch" else device)
    if device == "cpu":
        out = _cpu(lambda: setup.step().item(), setup.opt.zero_grad, steps)
    else:
        out = (_cuda_ours if framework == "ours" else _cuda_torch)(setup, steps)
    out["param_bytes"] = sum(p.numel() * p.element_size() for p in setup.model.parameters())
    return {**out, "step_bytes": out["peak"] - out["base"]}


def run(cfg: Config) -> list[Row]:
    """One subprocess per (model, framework); those of one model run side by side (each measures
    its own process or its own allocator, so they do not disturb each other's figure)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import autograd_gpu as ag

    from .runner import run_child
    from .train_models import MEMORY_TARGET, MODELS, build, state_arrays
    torch = torch_or_none(cfg.device)
    steps = {"full": 3, "quick": 1, "tiny": 1}[cfg.size]
    models = MODELS if cfg.size != "tiny" else ("mlp",)
    frameworks = ("ours",) + (("torch",) if torch is not None else ()) + (() if cfg.cuda else ("numpy",))
    rows = []
    with ThreadPoolExecutor(max_workers=max(1, min(len(frameworks), os.cpu_count() or 1))) as pool:
        for model in models:
            cfg.note(model)
            shapes = {k: list(v.shape) for k, v in state_arrays(build(model, ag, "cpu").model).items()}
            jobs = {fw: {"model": model, "framework": fw, "device": cfg.device, "steps": steps, "shapes": shapes}
                    for fw in frameworks}
            futures = {fw: pool.submit(run_child, "train_memory", job, CHILD_ENV) for fw, job in jobs.items()}
            samples, base, meta = {}, {}, {"steps_measured": steps, "child_env": CHILD_ENV, "method": {}}
            for fw, fut in futures.items():
                m = fut.result()
                impl = "limit" if fw == "numpy" else fw
                samples[impl] = [float(m["step_bytes"])]
                base[impl] = round(m["base"] / MIB, 1)
                meta["method"][impl] = m["method"]
                meta["param_MiB"] = round(m["param_bytes"] / MIB, 2)
            meta["baseline_MiB"] = base
            meta["notes"] = ["baseline_MiB is the state a step starts from (whole process on CPU, including each "
                             "library's own footprint; pool bytes on CUDA): context, not compared"]
            rows.append(Row("train_memory", f"{model} step peak over its start", cfg.device, "MiB", samples,
                            limit=None if cfg.cuda else "the same step by hand in NumPy",
                            target=None if cfg.cuda else {"vs": "torch", "max": MEMORY_TARGET}, meta=meta))
    return rows
