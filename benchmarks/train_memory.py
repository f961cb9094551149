"""Peak memory of one training step of ``mlp_train``, ``cnn_train`` and ``gpt_block_train``'s models,
ours against PyTorch, measured the same way for both.

What is measured: how far memory rises during a step above the state a step starts from once
``zero_grad`` has dropped the gradients (parameters, optimizer state, inputs, the libraries
themselves), that is the activations saved for backward, the gradients and the temporaries of
forward, backward and the optimizer update, at their highest.

CPU. ``tracemalloc`` sees NumPy's buffers but not PyTorch's C++ allocations, so the process's
resident set is used instead, which sees both. Each (model, framework) pair runs in a fresh
subprocess (``python train_memory.py --child MODEL FRAMEWORK DEVICE STEPS``) that imports only its
own framework, builds the model and inputs, runs one warm-up step (which creates the optimizer
state and the BLAS/OpenMP buffers), calls ``zero_grad``, collects garbage, then resets the kernel's
peak-RSS counter (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0) and reads the baseline
``VmRSS``. It runs ``STEPS`` steps (each ends with ``loss.item()``) and reads ``VmHWM``, the peak
RSS since the reset: the result is ``VmHWM - baseline``. The children run with
``MALLOC_MMAP_THRESHOLD_=65536``: glibc otherwise raises its mmap threshold after the first large
free and keeps later freed buffers in its heap, so RSS would report the allocator's leftovers,
differently for each framework, instead of live memory; with a fixed threshold every buffer
over 64 KiB is its own mapping, given back on free. Where ``clear_refs`` cannot be written the
baseline is taken before the warm-up step and ``ru_maxrss`` is the peak, which then also counts
the first step's one-time allocations (the method used is in the result's meta). For ours, which
tracemalloc does see, the RSS figure agreed with tracemalloc's peak to within 0.3 MiB.

CUDA. Ours: CuPy's default memory pool (the one autograd_gpu allocates from), through an
allocator that records the pool's ``used_bytes()`` after every allocation; torch:
``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``. Both count bytes
handed out by the caching allocator (rounded to its block size), not what it has reserved.
The baseline and warm-up are as on CPU.
"""
from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from common import Config, Result, torch_or_none

NAME = "train_memory"
MIB = 1 << 20
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


def _cpu_child(setup, steps: int) -> dict:
    import resource
    before_warmup = _status_kib("VmRSS")
    setup.step().item()
    setup.opt.zero_grad()
    gc.collect()
    reset = _reset_peak_rss()
    base = _status_kib("VmRSS") if reset else before_warmup
    for _ in range(steps):
        setup.step().item()
    peak = _status_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"base": base * 1024, "peak": peak * 1024,
            "method": "VmHWM after clear_refs minus VmRSS after a warm-up step and zero_grad" if reset
            else "ru_maxrss minus VmRSS before the warm-up step (clear_refs not writable)"}


def _cuda_child_ours(setup, steps: int) -> dict:
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


def _cuda_child_torch(setup, steps: int) -> dict:
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


def child(model: str, framework: str, device: str, steps: int) -> dict:
    """Runs in the subprocess: build, warm up, measure; the dict is printed as JSON."""
    from train_models import build
    if framework == "torch":
        import torch as mod
    else:
        import autograd_gpu as mod
    setup = build(model, mod, "cuda" if device != "cpu" and framework == "torch" else device)
    measure = _cpu_child if device == "cpu" else _cuda_child_ours if framework == "ours" else _cuda_child_torch
    out = measure(setup, steps)
    out["param_bytes"] = sum(p.numel() * p.element_size() for p in setup.model.parameters())
    return {**out, "step_bytes": out["peak"] - out["base"]}


def run(cfg: Config) -> list[Result]:
    from train_models import MEMORY_TARGET, MODELS, run_child, torch_usable
    torch = torch_or_none()
    steps = 1 if cfg.quick else 3
    results = []
    for device in cfg.devices:
        res = Result(NAME, device, "MiB")
        res.meta = {"statistic": f"peak over {steps} step(s), one fresh subprocess per cell",
                    "steps_measured": steps, "child_env": CHILD_ENV, "baseline_MiB": {}, "param_MiB": {}}
        frameworks = ("ours", "torch") if torch_usable(torch, device) else ("ours",)
        for model in MODELS:
            row = {"case": f"{model} step peak over its start"}
            for fw in frameworks:
                m = run_child(Path(__file__).resolve(), ["--child", model, fw, device, steps], CHILD_ENV)
                row[fw] = m["step_bytes"] / MIB
                res.meta["baseline_MiB"][f"{model}/{fw}"] = round(m["base"] / MIB, 1)
                res.meta["param_MiB"][model] = round(m["param_bytes"] / MIB, 2)
                res.meta.setdefault("memory_method", {})[fw] = m["method"]
            if device == "cpu":
                row["target"] = MEMORY_TARGET
            res.rows.append(row)
        if device != "cpu":
            import autograd_gpu as ag
            res.meta["gpu"] = ag.cuda.get_device_name(device)
        res.notes.append("baseline_MiB is the state a step starts from (whole process on CPU, "
                         "including each library's own footprint; pool bytes on CUDA): context, not compared")
        results.append(res)
    return results


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))))
        sys.exit(0)
    # through the runner, which sets thread counts before NumPy loads
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
