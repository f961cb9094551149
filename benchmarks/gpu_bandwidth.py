"""GPU memory bandwidth: each elementwise kernel, forward and backward, against a plain copy.

Elementwise kernels are memory-bound, so the figure of merit is the bytes they must
move (read each input once, write the output once) per second, as a percentage of a
device-to-device ``cudaMemcpy`` on the same buffers. 2^26 float32 elements (256 MiB per
array) is far past every cache. Timed with CUDA events around ``number`` launches.
"""
from __future__ import annotations

import sys

from common import Config, Result, torch_or_none

NAME = "gpu_bandwidth"
N = 1 << 26

# op name -> (arity, input range, arrays moved by the forward kernel, by the backward kernels)
# backward bytes: the gradient kernels our ops launch (e.g. tanh: read g and y, write gx = 3;
# mul: gx = g*y and gy = g*x = 6); add/sub only pass the gradient on (no kernel, not timed).
OPS = {
    "neg": (1, (-1, 1), 2, 2), "abs": (1, (-1, 1), 2, 3), "exp": (1, (-1, 1), 2, 3),
    "log": (1, (0.5, 2), 2, 3), "log1p": (1, (0, 1), 2, 3), "expm1": (1, (-1, 1), 2, 3),
    "sqrt": (1, (0.5, 2), 2, 3), "rsqrt": (1, (0.5, 2), 2, 3), "reciprocal": (1, (0.5, 2), 2, 3),
    "sin": (1, (-1, 1), 2, 3), "cos": (1, (-1, 1), 2, 3), "tanh": (1, (-1, 1), 2, 3),
    "sigmoid": (1, (-1, 1), 2, 3), "relu": (1, (-1, 1), 2, 3),
    "add": (2, (-1, 1), 3, None), "sub": (2, (-1, 1), 3, None), "mul": (2, (-1, 1), 3, 6),
    "div": (2, (0.5, 2), 3, 7), "maximum": (2, (-1, 1), 3, 8), "minimum": (2, (-1, 1), 3, 8),
    "pow": (2, (0.5, 2), 3, 7),
}


def _event_timer(cp, number: int, repeat: int):
    """``time(fn)`` -> median seconds per call, measured with CUDA events on the current stream."""
    import statistics

    def time_it(fn) -> float:
        fn()
        cp.cuda.Device().synchronize()
        samples = []
        for _ in range(repeat):
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            for _ in range(number):
                fn()
            end.record()
            end.synchronize()
            samples.append(cp.cuda.get_elapsed_time(start, end) / 1e3 / number)
        return statistics.median(samples)
    return time_it


def gpu_meta(cp) -> dict:
    from autograd_gpu.cli import nvml_driver_version
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    rt = cp.cuda.runtime.runtimeGetVersion()
    drv = cp.cuda.runtime.driverGetVersion()
    return {"gpu": name, "driver (NVML)": nvml_driver_version(), "cuda_runtime": f"{rt // 1000}.{rt % 1000 // 10}",
            "cuda_driver_api": f"{drv // 1000}.{drv % 1000 // 10}", "cupy": cp.__version__,
            "compute_capability": f"{props['major']}.{props['minor']}", "elements": N, "dtype": "float32"}


def run(cfg: Config) -> list[Result]:
    import autograd_gpu as ag
    if not ag.cuda.is_available():
        print(f"gpu_bandwidth: skipped, CUDA unavailable: {ag.cuda.unavailable_reason()}")
        return []
    import cupy as cp  # the baseline copy and the events; our ops go through ag
    torch = torch_or_none()
    tcuda = torch is not None and torch.cuda.is_available()
    n = N >> 4 if cfg.quick else N
    timer = _event_timer(cp, number=3 if cfg.quick else 10, repeat=max(cfg.repeat, 1))
    res = Result(NAME, "cuda:0", "%", impls=("ours", "torch"))
    res.meta = gpu_meta(cp)
    res.meta["elements"] = n

    src = cp.random.random(n, dtype=cp.float32)
    dst = cp.empty_like(src)
    nbytes = src.nbytes
    copy_s = timer(lambda: cp.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, nbytes,
                                                        cp.cuda.runtime.memcpyDeviceToDevice,
                                                        cp.cuda.get_current_stream().ptr))
    copy_bw = 2 * nbytes / copy_s
    res.meta["copy_GB_per_s"] = round(copy_bw / 1e9, 1)
    res.notes.append(f"device-to-device cudaMemcpyAsync: {copy_bw / 1e9:.1f} GB/s (read + write) = 100%")
    del src, dst

    def pct(arrays_moved: int, seconds: float) -> float:
        return 100.0 * arrays_moved * n * 4 / seconds / copy_bw

    xc = ag.rand(n, device="cuda")
    t_clone = timer(lambda: xc.clone())
    res.rows.append({"case": "clone (our copy kernel)", "ours": pct(2, t_clone), "ms_ours": t_clone * 1e3})
    del xc
    for name, (arity, (lo, hi), fwd_arrays, bwd_arrays) in OPS.items():
        fn = getattr(ag, name, None)
        if fn is None:
            res.notes.append(f"{name}: not in autograd_gpu yet")
            continue
        ins = [(ag.rand(n, device="cuda") * (hi - lo) + lo).requires_grad_() for _ in range(arity)]
        with ag.no_grad():
            t_fwd = timer(lambda: fn(*ins))
        row = {"case": f"{name} forward", "ours": pct(fwd_arrays, t_fwd), "ms_ours": t_fwd * 1e3}
        tins = None
        if tcuda:
            tfn = getattr(torch, name)
            tins = [torch.as_tensor(_cupy_of(cp, t), device="cuda").clone().requires_grad_() for t in ins]
            with torch.no_grad():
                row["torch"] = pct(fwd_arrays, timer(lambda: tfn(*tins)))
        res.rows.append(row)
        if bwd_arrays is None:
            continue
        y = fn(*ins)
        g = ag.ones_like(y)
        t_bwd = timer(lambda: ag.autograd.grad(y, ins, g, retain_graph=True))
        row = {"case": f"{name} backward", "ours": pct(bwd_arrays, t_bwd), "ms_ours": t_bwd * 1e3}
        if tcuda:
            ty = tfn(*tins)
            tg = torch.ones_like(ty)
            row["torch"] = pct(bwd_arrays, timer(lambda: torch.autograd.grad(ty, tins, tg, retain_graph=True)))
        res.rows.append(row)
        del ins, tins, y, g
        cp.get_default_memory_pool().free_all_blocks()
    res.notes.append("% of copy bandwidth = bytes the kernel must move / time / copy bandwidth; "
                     "ms_ours in the JSON is the time per call")
    return [res]


def _cupy_of(cp, t):
    """The CuPy array behind one of our CUDA tensors (zero-copy, for handing to PyTorch)."""
    return cp.asarray(t.detach()._data)


if __name__ == "__main__":  # through the runner, which sets thread counts before NumPy loads
    import subprocess
    from pathlib import Path
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
