"""Matmul forward and forward+backward: FLOP/s, against cuBLAS at the same dtype (TF32 off and on).

Forward is one GEMM (2mnk FLOPs); forward+backward adds the two gradient GEMMs (6mnk in all).
The limit on the GPU is raw cuBLAS through ``cupy.matmul`` doing the same GEMMs (a @ b, then
g @ b.T and a.T @ g), measured in the same samples: ours should be within 5% of it, since our
matmul is that same call plus the autograd around it. On CPU the limit is the same GEMMs in NumPy
(its BLAS). TF32 is switched for CuPy (its float32 compute type, which our matmul shares) and for
PyTorch together, and restored afterwards.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .common import Config, Impl, Row, cache_bytes, clock, n_sets, torch_device, torch_or_none

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = False
TARGET_GPU = {"vs": "limit", "max": 1.05}
SHAPES = {"cpu": {"full": ((1024, 1024, 1024),), "quick": ((512, 512, 512),), "tiny": ((32, 32, 32),)},
          "cuda": {"full": ((4096, 4096, 4096), (8192, 8192, 8192)), "quick": ((4096, 4096, 4096),),
                   "tiny": ((256, 256, 256),)}}
# (label, dtype name, TF32 on?)
PRECISIONS = {"cpu": (("fp32", "float32", False),),
              "cuda": (("fp32, TF32 off", "float32", False), ("fp32, TF32 on", "float32", True),
                       ("fp16", "float16", False))}


@contextlib.contextmanager
def tf32(enabled: bool, torch=None):
    """TF32 for float32 GEMMs on (or off) in CuPy (hence ours) and PyTorch; restored on exit."""
    import cupy
    from cupy._core import _routines_linalg as rl
    old = rl.get_compute_type(cupy.float32)
    rl.set_compute_type(cupy.float32, getattr(rl, "COMPUTE_TYPE_TF32", 7) if enabled
                        else getattr(rl, "COMPUTE_TYPE_DEFAULT", 1))
    told = None
    if torch is not None:
        m = torch.backends.cuda.matmul
        if hasattr(m, "fp32_precision"):
            told = ("fp32_precision", m.fp32_precision)
            m.fp32_precision = "tf32" if enabled else "ieee"
        else:
            told = ("allow_tf32", m.allow_tf32)
            m.allow_tf32 = enabled
    try:
        yield
    finally:
        rl.set_compute_type(cupy.float32, old)
        if told is not None:
            setattr(torch.backends.cuda.matmul, *told)


def run(cfg: Config) -> list[Row]:
    import autograd_gpu as ag
    torch = torch_or_none(cfg.device)
    kind = "cuda" if cfg.cuda else "cpu"
    rng = np.random.default_rng(0)
    unit = "TFLOP/s" if cfg.cuda else "GFLOP/s"
    rows = []
    for m, k, n in cfg.pick(SHAPES[kind]):
        for label, dtype, on in PRECISIONS[kind]:
            ctx = tf32(on, torch) if cfg.cuda else contextlib.nullcontext()
            with ctx:
                rows += _shape(cfg, ag, torch, rng, m, k, n, label, dtype, on, unit)
    return rows


def _shape(cfg, ag, torch, rng, m, k, n, label, dtype, on, unit) -> list[Row]:
    dev = cfg.device
    itemsize = np.dtype(dtype).itemsize
    sets = n_sets((m * k + k * n + m * n) * itemsize, cache_bytes(dev), max_sets=4, budget=2 << 30)
    host = [(rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))
            for _ in range(sets)]
    g_np = rng.standard_normal((m, n)).astype(dtype)
    ag_dt = getattr(ag, dtype)
    ours = [(ag.tensor(a, device=dev, dtype=ag_dt, requires_grad=True),
             ag.tensor(b, device=dev, dtype=ag_dt, requires_grad=True)) for a, b in host]
    g = ag.tensor(g_np, device=dev, dtype=ag_dt)
    fwd = {"ours": Impl(lambda a, b: a @ b, [(a.detach(), b.detach()) for a, b in ours], clock(dev))}
    fb = {"ours": Impl(lambda a, b: ag.autograd.grad(a @ b, [a, b], g), ours, clock(dev))}
    if torch is not None:
        tdev, tdt = torch_device(dev), getattr(torch, dtype)
        theirs = [(torch.tensor(a, device=tdev, requires_grad=True), torch.tensor(b, device=tdev, requires_grad=True))
                  for a, b in host]
        tg = torch.tensor(g_np, device=tdev, dtype=tdt)
        fwd["torch"] = Impl(lambda a, b: a @ b, [(a.detach(), b.detach()) for a, b in theirs], clock(dev))
        fb["torch"] = Impl(lambda a, b: torch.autograd.grad(a @ b, [a, b], tg), theirs, clock(dev))
    if cfg.cuda:
        import cupy as xp
        raw = [(xp.asarray(a), xp.asarray(b)) for a, b in host]
        graw = xp.asarray(g_np)
        limit = "cuBLAS (cupy.matmul), same dtype and TF32 setting"
    else:
        xp, raw, graw, limit = np, host, g_np, "the same GEMMs in NumPy (its BLAS)"
    fwd["limit"] = Impl(xp.matmul, raw, clock(dev))
    fb["limit"] = Impl(lambda a, b: (xp.matmul(a, b), xp.matmul(graw, b.T), xp.matmul(a.T, graw)), raw,
                       clock(dev))
    flops = 2.0 * m * n * k
    meta = {"m": m, "k": k, "n": n, "dtype": dtype, "tf32": on, "input_sets": sets}
    if cfg.cuda:
        try:
            from cupy._core import _routines_linalg as rl
            meta["cupy_float32_compute_type"] = str(rl.compute_type_to_str(rl.get_compute_type(xp.float32)))
        except (ImportError, AttributeError):
            meta["cupy_float32_compute_type"] = "n/a"
    rows = []
    for what, impls, f in (("forward", fwd, flops), ("forward+backward", fb, 3 * flops)):
        cfg.note(f"{label} {m}x{k}x{n} {what}")
        from .common import measure
        rows.append(Row("matmul", f"{label}, {m}x{k} @ {k}x{n}, {what}", dev, unit, measure(impls, cfg),
                        work={i: f for i in impls}, limit=limit, target=TARGET_GPU if cfg.cuda else None,
                        meta=meta))
    return rows
