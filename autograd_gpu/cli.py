"""The ``autograd-gpu`` command: ``info`` (devices), ``train`` (a small fit), ``bench`` (benchmarks).

With no sub-command it does ``info`` then ``train``: the quickest way to see that an
install works end to end, forward and backward, on the best device it has.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import autograd_gpu as ag


def nvml_driver_version() -> str:
    """The driver version NVML reports, or "n/a" (no nvidia-ml-py, no driver, no GPU)."""
    try:
        import pynvml
    except ImportError:
        return "n/a"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return "n/a"
    try:
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except pynvml.NVMLError:
        return "n/a"
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


def cuda_devices() -> tuple[list[str], str | None]:
    """(names of the visible CUDA devices, why there are none or None)."""
    try:  # a diagnostic tool reports a broken CUDA setup instead of dying on it
        if not ag.cuda.is_available():
            return [], ag.cuda.unavailable_reason() or "unknown reason"
        return [ag.cuda.get_device_name(i) for i in range(ag.cuda.device_count())], None
    except Exception as e:  # noqa: BLE001
        return [], f"{type(e).__name__}: {e}"


def best_device() -> str:
    return "cuda" if not cuda_devices()[1] else "cpu"


def info() -> None:
    print(f"autograd_gpu {ag.__version__}  (Python {platform.python_version()}, NumPy {np.__version__})")
    print("devices:")
    print(f"  cpu      {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    names, reason = cuda_devices()
    for i, name in enumerate(names):
        print(f"  cuda:{i}   {name}")
    if reason is not None:
        print(f"  cuda     unavailable: {reason}")
    print(f"  NVML driver version: {nvml_driver_version()}")
    env = os.environ.get("AUTOGRAD_GPU_DEVICE")
    if env:
        print(f"  AUTOGRAD_GPU_DEVICE={env}")


def train(device: str | None = None, steps: int = 50, lr: float = 0.1, seed: int = 0) -> list[float]:
    """Fit y = relu(x W1 + b1) W2 + b2 to a fixed linear target with plain SGD; returns the losses.

    Written with ag ops only (matmul, relu, mean, in-place updates under no_grad), so it
    exercises forward, backward and the grad modes on whatever device it runs.
    """
    device = device or os.environ.get("AUTOGRAD_GPU_DEVICE") or best_device()
    rng = np.random.default_rng(seed)
    n, d_in, d_hidden = 256, 8, 32
    x_np = rng.standard_normal((n, d_in)).astype(np.float32)
    y_np = (x_np @ rng.standard_normal((d_in, 1)) + 0.5).astype(np.float32)
    x = ag.tensor(x_np, device=device)
    y = ag.tensor(y_np, device=device)

    def param(*shape: int, scale: float) -> ag.Tensor:
        return ag.tensor((rng.standard_normal(shape) * scale).astype(np.float32), device=device,
                         requires_grad=True)

    w1, b1 = param(d_in, d_hidden, scale=d_in ** -0.5), param(d_hidden, scale=0.0)
    w2, b2 = param(d_hidden, 1, scale=d_hidden ** -0.5), param(1, scale=0.0)
    params = (w1, b1, w2, b2)
    print(f"training a {d_in}-{d_hidden}-1 MLP on {device} for {steps} steps (SGD, lr={lr})")
    losses = []
    t0 = time.perf_counter()
    for step in range(steps):
        pred = ag.relu(x @ w1 + b1) @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with ag.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        losses.append(loss.item())
        if step % 10 == 0 or step == steps - 1:
            print(f"  step {step:3d}  loss {losses[-1]:.6f}")
    dt = time.perf_counter() - t0
    print(f"final loss {losses[-1]:.6f} (from {losses[0]:.6f}) in {dt * 1e3:.1f} ms "
          f"({dt / steps * 1e3:.2f} ms/step)")
    return losses


def _benchmarks_dir() -> Path | None:
    """The benchmarks folder: ``./benchmarks`` first, then the checkout this package sits in."""
    for d in (Path.cwd() / "benchmarks", Path(__file__).resolve().parent.parent / "benchmarks"):
        if (d / "run.py").is_file():
            return d
    return None


def bench(args: list[str]) -> int:
    d = _benchmarks_dir()
    if d is None:
        print("autograd-gpu bench: benchmarks/run.py not found; run it from a checkout of the repository "
              "(the benchmarks are not part of the wheel)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(d / "run.py"), *args])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":  # everything after goes to the runner untouched
        return bench(argv[1:])
    parser = argparse.ArgumentParser(prog="autograd-gpu", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="list the devices found")
    p_train = sub.add_parser("train", help="fit a small MLP with SGD and print the loss")
    for p in (parser, p_train):
        p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available)")
        p.add_argument("--steps", type=int, default=50)
    sub.add_parser("bench", help="run benchmarks/run.py (arguments are passed on; try bench --help)")
    ns = parser.parse_args(argv)
    if ns.command in (None, "info"):
        info()
    if ns.command in (None, "train"):
        if ns.command is None:
            print()
        losses = train(ns.device, ns.steps)
        if not losses[-1] < losses[0]:
            print("error: the loss did not decrease", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
