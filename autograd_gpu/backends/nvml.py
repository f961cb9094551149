"""GPU facts from NVML (``pynvml`` of the ``nvidia-ml-py`` package) and CuPy, for ``autograd-gpu
info`` and the benchmarks. Everything degrades to "n/a" (never an exception) when NVML, the
driver, CuPy or a GPU is missing. CUDA device ``i`` is matched to its NVML handle by PCI bus id,
since ``CUDA_VISIBLE_DEVICES`` renumbers CUDA's devices but not NVML's. ``Sampler`` samples one GPU
on a background thread while a benchmark runs and summarises the samples as min/median/max."""
from __future__ import annotations

import statistics
import threading
from typing import Any

NA = "n/a"
SAMPLED = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "gpu_util_pct", "mem_util_pct", "mem_used_bytes")


def _pynvml():
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    try:
        pynvml.nvmlInit()
    except Exception as e:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        if type(e).__name__ == "NVMLError_LibraryNotFound":   # NVML ships with the driver
            return None, "no NVIDIA driver found (NVML's library is not installed)"
        return None, f"NVML unavailable: {e}"
    return pynvml, None


def _str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _try(fn, *args, default: Any = NA):
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - an unsupported query on this GPU is "n/a", not an error
        return default


def sample(nv, handle) -> dict:
    """What changes while a workload runs: clocks (MHz), power (W), utilisation (%), memory used."""
    mem = _try(nv.nvmlDeviceGetMemoryInfo, handle, default=None)
    util = _try(nv.nvmlDeviceGetUtilizationRates, handle, default=None)
    power = _try(nv.nvmlDeviceGetPowerUsage, handle, default=None)
    return {"sm_clock_mhz": _try(nv.nvmlDeviceGetClockInfo, handle, nv.NVML_CLOCK_SM),
            "mem_clock_mhz": _try(nv.nvmlDeviceGetClockInfo, handle, nv.NVML_CLOCK_MEM),
            "power_w": NA if power is None else power / 1000.0,
            "gpu_util_pct": NA if util is None else util.gpu,
            "mem_util_pct": NA if util is None else util.memory,
            "mem_used_bytes": NA if mem is None else mem.used}


def handle(nv, cuda_index: int = 0):
    """The NVML handle of CUDA device ``cuda_index``: by its PCI bus id (CuPy's numbering follows
    ``CUDA_VISIBLE_DEVICES``, NVML's does not), by NVML's index where CuPy cannot say."""
    try:
        import cupy as cp
        bus = cp.cuda.runtime.deviceGetPCIBusId(cuda_index)
    except Exception:  # noqa: BLE001 - no CuPy or no driver: NVML's own numbering
        bus = None
    if bus:
        try:  # bytes: older nvidia-ml-py passes the argument to C unconverted
            return nv.nvmlDeviceGetHandleByPciBusId(bus.encode() if isinstance(bus, str) else bus)
        except Exception:  # noqa: BLE001
            pass
    return nv.nvmlDeviceGetHandleByIndex(cuda_index)


def summarize(samples: list[dict]) -> dict:
    """min/median/max of each of ``SAMPLED`` over ``samples`` (dicts from ``sample``); "n/a" for a
    quantity no sample could read."""
    out: dict[str, Any] = {"samples": len(samples)}
    for k in SAMPLED:
        vals = [s[k] for s in samples if isinstance(s.get(k), (int, float)) and not isinstance(s.get(k), bool)]
        out[k] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals)} if vals else NA
    return out


class Sampler:
    """Samples one GPU's clocks, power, utilisation and memory every ``interval`` seconds on a
    daemon thread while a workload runs; ``stop()`` returns ``summarize`` of the samples, plus
    ``error`` when NVML could not be used (every quantity is then "n/a").

        with Sampler(0) as s:
            run_workload()
        s.summary()
    """

    def __init__(self, cuda_index: int = 0, interval: float = 0.1):
        self.cuda_index, self.interval = cuda_index, interval
        self.samples: list[dict] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nv = None

    def start(self) -> "Sampler":
        nv, err = _pynvml()
        if nv is None:
            self.error = err
            return self
        try:
            h = handle(nv, self.cuda_index)
        except Exception as e:  # noqa: BLE001
            self.error = f"no NVML handle for CUDA device {self.cuda_index}: {e}"
            _try(nv.nvmlShutdown)
            return self
        self._nv = nv
        self._thread = threading.Thread(target=self._loop, args=(nv, h), name="nvml-sampler", daemon=True)
        self._thread.start()
        return self

    def _loop(self, nv, h) -> None:
        while True:
            self.samples.append(sample(nv, h))
            if self._stop.wait(self.interval):
                return

    def stop(self) -> dict:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._nv is not None:
            _try(self._nv.nvmlShutdown)
            self._nv = None
        return self.summary()

    def summary(self) -> dict:
        out = summarize(self.samples)
        if self.error:
            out["error"] = self.error
        return out

    def __enter__(self) -> "Sampler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def report() -> dict:
    """{"driver", "cuda_driver", "devices": [per NVML device facts], "error"}."""
    nv, err = _pynvml()
    if nv is None:
        return {"driver": NA, "cuda_driver": NA, "devices": [], "error": err}
    try:
        cuda = _try(nv.nvmlSystemGetCudaDriverVersion, default=None)
        out = {"driver": _str(_try(nv.nvmlSystemGetDriverVersion)),
               "cuda_driver": NA if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}",
               "devices": [], "error": None}
        for i in range(_try(nv.nvmlDeviceGetCount, default=0)):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            mem = _try(nv.nvmlDeviceGetMemoryInfo, h, default=None)
            limit = _try(nv.nvmlDeviceGetPowerManagementLimit, h, default=None)
            cc = _try(nv.nvmlDeviceGetCudaComputeCapability, h, default=None)
            pci = _try(nv.nvmlDeviceGetPciInfo, h, default=None)
            out["devices"].append({
                "nvml_index": i, "name": _str(_try(nv.nvmlDeviceGetName, h)),
                "pci_bus_id": NA if pci is None else _str(pci.busId),
                "compute_capability": NA if cc is None else f"{cc[0]}.{cc[1]}",
                "memory_total_bytes": NA if mem is None else mem.total,
                "memory_free_bytes": NA if mem is None else mem.free,
                "max_sm_clock_mhz": _try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM),
                "max_mem_clock_mhz": _try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_MEM),
                "power_limit_w": NA if limit is None else limit / 1000.0,
                **sample(nv, h)})
        return out
    finally:
        _try(nv.nvmlShutdown)


def cuda_devices() -> list[dict]:
    """Per visible CUDA device (CuPy's numbering): name, compute capability, memory, PCI bus id."""
    try:
        import cupy as cp
        n = cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no CuPy / no driver: nothing to list
        return []
    devs = []
    for i in range(n):
        props = _try(cp.cuda.runtime.getDeviceProperties, i, default={})
        with cp.cuda.Device(i):
            free, total = _try(cp.cuda.runtime.memGetInfo, default=(NA, NA))
        devs.append({"index": i, "name": _str(props.get("name", NA)),
                     "compute_capability": f"{props.get('major', '?')}.{props.get('minor', '?')}",
                     "memory_total_bytes": total, "memory_free_bytes": free,
                     "pci_bus_id": _str(_try(cp.cuda.runtime.deviceGetPCIBusId, i))})
    return devs


def versions() -> dict:
    """CuPy, its CUDA runtime and NVRTC versions (n/a without CuPy)."""
    try:
        import cupy as cp
    except Exception:  # noqa: BLE001
        return {"cupy": NA, "cuda_runtime": NA, "nvrtc": NA}
    rt = _try(cp.cuda.runtime.runtimeGetVersion, default=None)
    nvrtc = _try(cp.cuda.nvrtc.getVersion, default=None)
    return {"cupy": cp.__version__, "cuda_runtime": NA if rt is None else f"{rt // 1000}.{rt % 1000 // 10}",
            "nvrtc": NA if nvrtc is None else f"{nvrtc[0]}.{nvrtc[1]}"}
