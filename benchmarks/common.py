"""Timing, tables and result files shared by the workloads.

Every number is a median over ``repeat`` samples; each sample times enough calls
(at least ``min_time`` seconds) that timer resolution does not matter.
"""
from __future__ import annotations

import json
import os
import platform
import re
import socket
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Config:
    repeat: int = 7
    min_time: float = 0.2     # seconds per sample
    quick: bool = False       # smaller sizes / fewer samples, for a smoke run
    devices: tuple = ("cpu",)
    out: Path = RESULTS


@dataclass
class Result:
    """One workload on one device: rows of ``{case: ..., <impl>: seconds, ...}``."""

    name: str
    device: str               # "cpu" or "cuda:0"
    unit: str                 # how rows are printed: "us", "ms", "GB/s", "%"
    rows: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    impls: tuple = ("ours", "torch", "numpy")


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _calibrate(fn: Callable[[], object], sync: Callable[[], None], min_time: float) -> int:
    """Calls per sample so that one sample lasts at least ``min_time`` (after one warm-up call)."""
    fn()
    sync()  # warm-up: compiles kernels, fills caches and memory pools
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        dt = time.perf_counter() - t0
        if dt >= min_time or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * min_time / max(dt, 1e-9) * 1.2))


def measure_many(fns: dict, cfg: Config) -> dict:
    """Median seconds per call for each ``name -> fn`` or ``name -> (fn, sync)``.

    Samples are interleaved (ours, torch, numpy, ours, ...) so that a change in machine
    load during the run shifts all implementations alike instead of one of them.
    """
    plan = {}
    for name, f in fns.items():
        fn, sync = f if isinstance(f, tuple) else (f, None)
        sync = sync or (lambda: None)
        plan[name] = (fn, sync, _calibrate(fn, sync, cfg.min_time))
    samples: dict = {name: [] for name in plan}
    for _ in range(max(cfg.repeat, 1)):
        for name, (fn, sync, number) in plan.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            sync()
            samples[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(v) for name, v in samples.items()}


def measure(fn: Callable[[], object], cfg: Config, sync: Callable[[], None] | None = None) -> float:
    """Median seconds per call of ``fn`` (``sync`` waits for queued GPU work, if any)."""
    return measure_many({"x": (fn, sync)}, cfg)["x"]


def host_tag() -> str:
    return slug(socket.gethostname() or platform.node() or "host")


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:60] or "x"


def machine_meta() -> dict:
    import numpy as np
    meta = {"host": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "numpy": np.__version__,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        import autograd_gpu as ag
        meta["autograd_gpu"] = ag.__version__
    except ImportError:
        pass
    torch = torch_or_none()
    if torch is not None:
        meta["torch"] = torch.__version__
        meta["torch_threads"] = torch.get_num_threads()
    return meta


def fmt(v, unit: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if unit == "us":
        return f"{v * 1e6:.2f}"
    if unit == "ms":
        return f"{v * 1e3:.3f}"
    return f"{v:.1f}"


def table(res: Result) -> str:
    """Markdown: one column per implementation, then ours/other ratios (>1: we are slower, or use
    more memory). Rows with a ``target`` (the most ours/torch may be) get a target and a met column."""
    impls = [i for i in res.impls if any(r.get(i) is not None for r in res.rows)]
    ratio_of = [i for i in impls if i != "ours"] if "ours" in impls and res.unit in ("us", "ms", "MiB") else []
    targets = any(r.get("target") is not None for r in res.rows)
    head = ["case"] + [f"{i} ({res.unit})" for i in impls] + [f"ours/{i}" for i in ratio_of]
    head += ["target ours/torch", "met?"] if targets else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in res.rows:
        cells = [str(r["case"])] + [fmt(r.get(i), res.unit) for i in impls]
        for i in ratio_of:
            q = _ratio(r.get("ours"), r.get(i))
            cells.append("-" if q is None else f"{q:.2f}x")
        if targets:
            t, q = r.get("target"), _ratio(r.get("ours"), r.get("torch"))
            met = "-" if q is None else "yes" if q <= t else "MISSED"
            cells += ["-", "-"] if t is None else [f"<= {t:.2f}x", met]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio(a, b) -> float | None:
    return a / b if isinstance(a, float) and isinstance(b, float) and b > 0 else None


def write(res: Result, cfg: Config) -> tuple[Path, Path]:
    """``results/<workload>-<host or GPU>.json`` and ``.md`` next to it."""
    tag = host_tag() if res.device == "cpu" else slug(res.meta.get("gpu", res.device))
    cfg.out.mkdir(parents=True, exist_ok=True)
    stem = f"{res.name}-{res.device.split(':')[0]}-{tag}"
    json_path, md_path = cfg.out / f"{stem}.json", cfg.out / f"{stem}.md"
    payload = {"name": res.name, "device": res.device, "unit": res.unit,
               "statistic": res.meta.get("statistic", "median"), "repeat": cfg.repeat, "meta": res.meta,
               "notes": res.notes, "rows": res.rows}
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md = [f"# {res.name} on {res.device}", "", table(res), ""]
    md += [f"- {n}" for n in res.notes]
    md += [f"- {k}: {v}" for k, v in res.meta.items()]
    md_path.write_text("\n".join(md) + "\n")
    return json_path, md_path
