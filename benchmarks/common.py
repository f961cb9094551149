"""What every workload shares: the run's settings, the measurement and one result row.

The measurement (``measure``): each implementation is warmed up, then calibrated to the number of
calls that makes one sample last ``min_time``; then ``repeat`` rounds each take one sample of every
implementation, the round's order starting one implementation further each time
(``interleaved``), so that a change in machine load hits all of them alike. Every call takes the
next of the implementation's input sets (``Impl.args``, as many as ``n_sets`` says), so that
inputs are not already in cache because the previous call used them. A sample is timed by the
implementation's clock: the host's ``perf_counter`` on CPU, ``cupyx.profiler.benchmark``'s
CUDA events on the GPU (``CupyxTimer``, for every implementation), which time the device's
timeline instead of the host's. The figure reported is the median of the
samples.

A ``Row`` holds the samples of ``ours``, ``torch`` (when installed) and ``limit`` (what the
hardware or a framework-free version allows: the same math written by hand in NumPy on CPU; the
measured copy bandwidth or cuBLAS on the GPU) and derives from them the ratio to PyTorch, the
percentage of the limit and whether the row's target is met.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

IMPLS = ("ours", "torch", "limit")
MIB = 1 << 20
SIZES = ("full", "quick", "tiny")   # tiny: the tests' size, seconds for the whole suite


@dataclass
class Config:
    device: str = "cpu"          # "cpu" or "cuda" (device 0)
    size: str = "full"           # one of SIZES: which of a workload's sizes to run
    repeat: int = 7              # samples per implementation; the median is reported
    min_time: float = 0.1        # seconds per sample
    warmup: int = 2              # calls before calibration (compiles kernels, fills pools)
    progress: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def pick(self, by_size: dict):
        """``by_size[self.size]``: a workload's sizes (or cases) for this run."""
        return by_size[self.size]

    def note(self, what: str) -> None:
        """Tell the progress bar what is being measured now."""
        if self.progress is not None:
            self.progress(what)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "progress"}

    @classmethod
    def from_json(cls, d: dict) -> "Config":
        return cls(**{k: v for k, v in d.items() if k != "progress"})


def torch_or_none(device: str = "cpu"):
    """PyTorch when installed (and, for a CUDA run, built with CUDA and seeing a GPU), else None."""
    try:
        import torch
    except ImportError:
        return None
    if device.startswith("cuda") and not torch.cuda.is_available():
        return None
    return torch


def torch_device(device: str) -> str:
    return "cuda" if device.startswith("cuda") else "cpu"


# clocks -------------------------------------------------------------------------------------------
class HostClock:
    """``perf_counter`` around a sample (CPU work is done when the call returns)."""

    @staticmethod
    def sample(impl: "Impl", number: int) -> float:
        """Seconds per call over ``number`` calls."""
        t0 = time.perf_counter()
        for _ in range(number):
            impl()
        return (time.perf_counter() - t0) / number


class CupyxTimer:
    """``cupyx.profiler.benchmark``: CUDA events recorded on the current stream before and after each
    call, the device synchronized after each. It times ours, the raw CuPy/cuBLAS limits and
    PyTorch alike: all three launch on the legacy default stream, which the events order against,
    and the per-call synchronisation is the same for all, so the ratios compare like with like."""

    def __init__(self):
        from cupyx.profiler import benchmark
        self.benchmark = benchmark

    def sample(self, impl: "Impl", number: int) -> float:
        """Seconds of device time per call over ``number`` calls (the current device's events)."""
        # name=: cupyx reads func.__name__ otherwise, which an Impl has not
        return float(self.benchmark(impl, n_repeat=int(number), n_warmup=0, name="sample").gpu_times[0].mean())


def clock(device: str):
    """The timer of a sample on ``device``: the host's clock on CPU, ``CupyxTimer`` on CUDA."""
    return CupyxTimer() if device.startswith("cuda") else HostClock()


# measurement --------------------------------------------------------------------------------------
@dataclass
class Impl:
    """One implementation of a case: ``fn(*args[k % len(args)])`` is its ``k``-th call."""

    fn: Callable
    args: Sequence[tuple] = ((),)
    clock: object = field(default_factory=HostClock)
    calls: int = 0

    def __call__(self):
        a = self.args[self.calls % len(self.args)]
        self.calls += 1
        return self.fn(*a)


def interleaved(names: Sequence[str], repeat: int) -> list[list[str]]:
    """The order of the samples: each round takes one of every implementation, starting one further
    than the round before (ours, torch, limit; torch, limit, ours; ...)."""
    k = len(names)
    return [[names[(r + i) % k] for i in range(k)] for r in range(max(repeat, 1))]


def calibrate(impl: Impl, min_time: float, cap: int = 1 << 20) -> int:
    """Calls per sample so that one sample lasts at least ``min_time``."""
    number = 1
    while True:
        total = impl.clock.sample(impl, number) * number
        if total >= min_time or number >= cap:
            return number
        number = min(cap, max(number * 2, int(number * min_time / max(total, 1e-9) * 1.2)))


def measure(impls: dict, cfg: Config) -> dict[str, list[float]]:
    """Seconds per call, ``cfg.repeat`` interleaved samples per implementation (``name -> Impl``;
    None values are left out)."""
    impls = {k: v for k, v in impls.items() if v is not None}
    for impl in impls.values():
        impl.clock.sample(impl, max(cfg.warmup, 1))
    numbers = {k: calibrate(v, cfg.min_time) for k, v in impls.items()}
    samples: dict = {k: [] for k in impls}
    for order in interleaved(list(impls), cfg.repeat):
        for k in order:
            samples[k].append(impls[k].clock.sample(impls[k], numbers[k]))
    return samples


def n_sets(set_bytes: float, cache: float, max_sets: int = 8, budget: float = 1 << 30) -> int:
    """How many input sets to rotate through: enough that together they are twice the cache (so a
    call finds its inputs evicted by the calls before it), at most ``max_sets`` and ``budget`` bytes."""
    want = math.ceil(2 * cache / max(set_bytes, 1))
    return max(1, min(max_sets, want, int(budget // max(set_bytes, 1))))


def cache_bytes(device: str) -> int:
    """The last-level cache: L2 of the GPU, the largest CPU cache level in sysfs (32 MiB if unknown)."""
    if device.startswith("cuda"):
        try:
            import cupy
            return int(cupy.cuda.Device().attributes["L2CacheSize"])
        except Exception:  # noqa: BLE001 - no attribute on this CuPy: H100's 50 MB
            return 50 << 20
    best = 0
    for p in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            s = p.read_text().strip()            # "32768K"
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
            best = max(best, int(s.rstrip("KMG")) * scale)
        except (OSError, ValueError):
            continue
    return best or 32 << 20


def sync_fn(device: str):
    """A function waiting for our queued work on ``device`` (None on CPU)."""
    if not device.startswith("cuda"):
        return None
    import autograd_gpu as ag
    return ag.cuda.synchronize


# rows -----------------------------------------------------------------------------------------------
THROUGHPUT = {"GB/s": 1e9, "GFLOP/s": 1e9, "TFLOP/s": 1e12}
TIME = {"us": 1e6, "ms": 1e3}


@dataclass
class Row:
    """One case of a workload on one device.

    ``samples[impl]`` are seconds per call (bytes for a "MiB" row). For a throughput unit
    (GB/s, TFLOP/s) ``work[impl]`` is the bytes or FLOPs one call must move or do; the limit's work
    may differ from ours (a copy of the same array stands for an op that moves three). For a time
    unit the figure is per ``per`` operations (a chain of 200 ops: microseconds per op).
    ``target``: ``{"vs": "torch", "max": 1.2}`` (ours/PyTorch at most), ``{"vs": "limit",
    "min_pct": 80}`` (at least this % of the limit) or ``{"vs": "limit", "max": 1.05}`` (ours'
    time at most this multiple of the limit's)."""

    workload: str
    case: str
    device: str
    unit: str
    samples: dict
    work: dict = field(default_factory=dict)
    per: float = 1.0
    limit: str | None = None
    target: dict | None = None
    meta: dict = field(default_factory=dict)

    def median(self, impl: str) -> float | None:
        s = self.samples.get(impl)
        return statistics.median(s) if s else None

    def cost(self, impl: str) -> float | None:
        """Time (or bytes) per unit of work: lower is better, comparable across implementations."""
        m = self.median(impl)
        if m is None:
            return None
        return m / self.work.get(impl, 1.0) if self.unit in THROUGHPUT else m

    def value(self, impl: str) -> float | None:
        """The figure shown for ``impl`` in this row's unit."""
        m = self.median(impl)
        if m is None:
            return None
        if self.unit in THROUGHPUT:
            return self.work[impl] / m / THROUGHPUT[self.unit] if m > 0 else math.inf
        if self.unit == "MiB":
            return m / MIB
        return m / self.per * TIME[self.unit]

    def ratio(self) -> float | None:
        """ours / PyTorch in time or memory per unit of work (> 1: we are slower or use more)."""
        a, b = self.cost("ours"), self.cost("torch")
        return a / b if a is not None and b else None

    def pct_limit(self) -> float | None:
        """Ours as a percentage of the limit's speed (or, for memory, of its frugality)."""
        a, b = self.cost("ours"), self.cost("limit")
        return 100.0 * b / a if a and b is not None else None

    def verdict(self) -> tuple[str, str]:
        """("met" | "MISSED" | "n/a" | "", how far from the target)."""
        t = self.target
        if not t:
            return "", ""
        if t["vs"] == "torch":
            q = self.ratio()
            if q is None:
                return "n/a", f"<= {t['max']:.2f}x PyTorch: no PyTorch figure"
            if q <= t["max"]:
                return "met", f"met: {q:.2f}x <= {t['max']:.2f}x PyTorch"
            return "MISSED", f"MISSED by {100 * (q / t['max'] - 1):.0f}%: {q:.2f}x > {t['max']:.2f}x PyTorch"
        p = self.pct_limit()
        if p is None:
            return "n/a", "no limit figure"
        if "min_pct" in t:
            lo = t["min_pct"]
            if p >= lo:
                return "met", f"met: {p:.0f}% >= {lo:.0f}% of limit"
            return "MISSED", f"MISSED by {lo - p:.0f} pts: {p:.0f}% < {lo:.0f}% of limit"
        q = 100.0 / p
        if q <= t["max"]:
            return "met", f"met: {q:.3f}x <= {t['max']:.2f}x the limit's time"
        return "MISSED", f"MISSED by {100 * (q / t['max'] - 1):.1f}%: {q:.3f}x > {t['max']:.2f}x the limit's time"

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        status, detail = self.verdict()
        d.update({"median": {k: self.median(k) for k in self.samples},
                  "value": {k: self.value(k) for k in self.samples},
                  "ratio_vs_torch": self.ratio(), "pct_of_limit": self.pct_limit(),
                  "target_status": status or None, "target_detail": detail or None})
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Row":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})
