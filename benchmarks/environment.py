"""Where a run happened: the device, driver and library versions and the git commit.

Every result row carries ``row_env`` (the keys of ``ROW_KEYS``); the whole of ``collect`` goes
into the run's JSON and report. Whatever cannot be found is "n/a", never an error.
"""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
from pathlib import Path

NA = "n/a"
ROOT = Path(__file__).resolve().parent.parent
ROW_KEYS = ("device", "device_name", "driver", "cuda", "cupy", "numpy", "torch", "git_commit")


def git_commit(root: Path = ROOT) -> tuple[str, str]:
    """(``git rev-parse HEAD`` of the checkout holding the benchmarks, "yes"/"no" for uncommitted
    changes); ("n/a", "n/a") outside a checkout or without git."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return NA, NA
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return NA, NA
    return head.stdout.strip() or NA, NA if dirty.returncode else "yes" if dirty.stdout.strip() else "no"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or NA


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def collect(device: str) -> dict:
    """Facts about this machine and its libraries for a run on ``device`` ("cpu" or "cuda")."""
    import numpy as np

    import autograd_gpu as ag
    from autograd_gpu.backends import nvml
    commit, dirty = git_commit()
    v = nvml.versions()
    env = {"device": device, "device_name": cpu_name(), "driver": NA, "cuda": v["cuda_runtime"],
           "cuda_driver": NA, "cupy": v["cupy"], "nvrtc": v["nvrtc"], "numpy": np.__version__,
           "torch": _torch_version(), "git_commit": commit, "git_uncommitted_changes": dirty,
           "autograd_gpu": ag.__version__, "python": platform.python_version(), "platform": platform.platform(),
           "host": socket.gethostname(), "cpu": cpu_name(), "cpu_count": os.cpu_count(),
           "tqdm": _version("tqdm"), "matplotlib": _version("matplotlib"),
           "nvidia-ml-py": _version("nvidia-ml-py"), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", NA),
           "threads": _threads(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    rep = nvml.report()
    env["driver"], env["cuda_driver"] = rep["driver"], rep["cuda_driver"]
    if rep["error"]:
        env["nvml"] = f"n/a ({rep['error']})"
    if device.startswith("cuda"):
        idx = int(device.split(":")[1]) if ":" in device else 0
        cuda = next((d for d in nvml.cuda_devices() if d["index"] == idx), {})
        env["device_name"] = cuda.get("name", NA)
        gpu = next((d for d in rep["devices"] if _bus(d.get("pci_bus_id")) == _bus(cuda.get("pci_bus_id"))), None)
        env["gpu"] = {"compute_capability": cuda.get("compute_capability", NA),
                      "memory_total_bytes": cuda.get("memory_total_bytes", NA),
                      "pci_bus_id": cuda.get("pci_bus_id", NA),
                      **({k: gpu[k] for k in ("max_sm_clock_mhz", "max_mem_clock_mhz", "power_limit_w")}
                         if gpu else {})}
    return env


def _bus(b) -> str:
    """PCI bus ids compare without the domain's leading zeros (CUDA: 0000:1B:00.0, NVML: 00000000:1B:00.0)."""
    if not isinstance(b, str) or ":" not in b:
        return NA
    dom, rest = b.split(":", 1)
    return f"{int(dom, 16):x}:{rest.lower()}"


def _torch_version() -> str:
    try:
        import torch
    except ImportError:
        return "not installed"
    return torch.__version__


def _threads() -> dict:
    out = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}
    try:
        import torch
        out["torch"] = torch.get_num_threads()
    except ImportError:
        pass
    return out


def row_env(env: dict) -> dict:
    return {k: env.get(k, NA) for k in ROW_KEYS}
