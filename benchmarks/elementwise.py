"""Large elementwise ops, forward and backward: GB/s over the bytes each kernel must move, and % of
the limit.

An elementwise kernel is memory-bound: it must read each input once and write its output once
(backward: read the incoming gradient and what forward saved, write each input's gradient), so
its figure of merit is those bytes per second. On the GPU the limit is the device's copy bandwidth
measured in the same samples (``cudaMemcpyAsync`` device to device of one array: read + write);
the target is 80% of it. On CPU the limit is the same math in NumPy (one call per op, or the
gradient formula by hand). add/sub backward only passes the gradient on (no kernel): not timed.
"""
from __future__ import annotations

import numpy as np

from .common import Config, Impl, Row, cache_bytes, clock, n_sets, torch_device, torch_or_none

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = False
TARGET_GPU = {"vs": "limit", "min_pct": 80}
ELEMENTS = {"cpu": {"full": 1 << 22, "quick": 1 << 20, "tiny": 1 << 10},
            "cuda": {"full": 1 << 26, "quick": 1 << 24, "tiny": 1 << 12}}  # 256 MiB float32 arrays: past L2

# name: (arity, input range, arrays the forward moves, arrays the backward moves or None,
#        NumPy forward, NumPy backward (g, inputs, output) -> gradients)
# backward arrays: what our gradient kernels must read and write (tanh: g and y in, gx out = 3;
# mul: gx = g*y and gy = g*x = 6)
OPS = {
    "neg": (1, (-1, 1), 2, 2, np.negative, lambda g, xs, y: (-g,)),
    "abs": (1, (-1, 1), 2, 3, np.abs, lambda g, xs, y: (g * np.sign(xs[0]),)),
    "exp": (1, (-1, 1), 2, 3, np.exp, lambda g, xs, y: (g * y,)),
    "log": (1, (0.5, 2), 2, 3, np.log, lambda g, xs, y: (g / xs[0],)),
    "log1p": (1, (0, 1), 2, 3, np.log1p, lambda g, xs, y: (g / (1 + xs[0]),)),
    "expm1": (1, (-1, 1), 2, 3, np.expm1, lambda g, xs, y: (g * (y + 1),)),
    "sqrt": (1, (0.5, 2), 2, 3, np.sqrt, lambda g, xs, y: (g / (2 * y),)),
    "rsqrt": (1, (0.5, 2), 2, 3, lambda x: 1 / np.sqrt(x), lambda g, xs, y: (-0.5 * g * y * y * y,)),
    "reciprocal": (1, (0.5, 2), 2, 3, np.reciprocal, lambda g, xs, y: (-g * y * y,)),
    "sin": (1, (-1, 1), 2, 3, np.sin, lambda g, xs, y: (g * np.cos(xs[0]),)),
    "cos": (1, (-1, 1), 2, 3, np.cos, lambda g, xs, y: (-g * np.sin(xs[0]),)),
    "tanh": (1, (-1, 1), 2, 3, np.tanh, lambda g, xs, y: (g * (1 - y * y),)),
    "sigmoid": (1, (-1, 1), 2, 3, lambda x: 1 / (1 + np.exp(-x)), lambda g, xs, y: (g * y * (1 - y),)),
    "relu": (1, (-1, 1), 2, 3, lambda x: np.maximum(x, 0), lambda g, xs, y: (g * (y > 0),)),
    "add": (2, (-1, 1), 3, None, np.add, None),
    "sub": (2, (-1, 1), 3, None, np.subtract, None),
    "mul": (2, (-1, 1), 3, 6, np.multiply, lambda g, xs, y: (g * xs[1], g * xs[0])),
    "div": (2, (0.5, 2), 3, 7, np.divide, lambda g, xs, y: (g / xs[1], -g * y / xs[1])),
    "maximum": (2, (-1, 1), 3, 8, np.maximum, lambda g, xs, y: (g * (xs[0] >= xs[1]), g * (xs[0] < xs[1]))),
    "minimum": (2, (-1, 1), 3, 8, np.minimum, lambda g, xs, y: (g * (xs[0] <= xs[1]), g * (xs[0] > xs[1]))),
    "pow": (2, (0.5, 2), 3, 7, np.power,
            lambda g, xs, y: (g * xs[1] * y / xs[0], g * y * np.log(xs[0]))),
}
CASES = {"cpu": {"full": ("neg", "exp", "tanh", "sigmoid", "relu", "add", "mul", "div"),
                 "quick": ("exp", "tanh", "add", "mul"), "tiny": ("tanh", "mul")},
         "cuda": {"full": tuple(OPS), "quick": ("neg", "exp", "tanh", "sigmoid", "relu", "add", "mul", "div"),
                  "tiny": ("tanh", "mul")}}


def _copy_impl(cp, n: int, dev: str) -> Impl:
    """One device-to-device copy of ``n`` float32 (the GPU limit): 2 * 4n bytes moved."""
    src = cp.random.random(n, dtype=cp.float32)
    dst = cp.empty_like(src)
    rt = cp.cuda.runtime

    def copy():
        rt.memcpyAsync(dst.data.ptr, src.data.ptr, src.nbytes, rt.memcpyDeviceToDevice,
                       cp.cuda.get_current_stream().ptr)
    return Impl(copy, clock=clock(dev))


def run(cfg: Config) -> list[Row]:
    import autograd_gpu as ag
    torch = torch_or_none(cfg.device)
    kind = "cuda" if cfg.cuda else "cpu"
    dev, n = cfg.device, cfg.pick(ELEMENTS[kind])
    cp = None
    if cfg.cuda:
        import cupy as cp
    rng = np.random.default_rng(0)
    meta = {"elements": n, "dtype": "float32"}
    rows = []
    if cfg.cuda:  # our copy kernel against the copy engine's, and the figure every row is judged by
        cfg.note("copy")
        x = ag.rand(n, device=dev)
        impls = {"ours": Impl(lambda: x.clone(), clock=clock(dev)), "limit": _copy_impl(cp, n, dev)}
        if torch is not None:
            tx = torch.rand(n, device="cuda")
            impls["torch"] = Impl(lambda: tx.clone(), clock=clock(dev))
        rows.append(Row("elementwise", "clone (copy kernel)", dev, "GB/s", _measure(impls, cfg),
                        work={k: 8.0 * n for k in impls}, limit="device copy bandwidth (cudaMemcpy D2D)",
                        target=TARGET_GPU, meta=meta))
        del x
    for name in cfg.pick(CASES[kind]):
        arity, (lo, hi), fwd_arrays, bwd_arrays, np_fwd, np_bwd = OPS[name]
        k = n_sets(arity * n * 4, cache_bytes(dev), max_sets=4, budget=(1 << 30))
        host = [[rng.uniform(lo, hi, n).astype(np.float32) for _ in range(arity)] for _ in range(k)]
        fn = getattr(ag, name)
        ours = [[ag.tensor(a, device=dev, requires_grad=True) for a in s] for s in host]
        theirs = None
        if torch is not None:
            tfn = getattr(torch, name)
            theirs = [[torch.tensor(a, device=torch_device(dev), requires_grad=True) for a in s] for s in host]
        # forward
        cfg.note(f"{name} forward")
        # (detached inputs: no graph is recorded)
        impls = {"ours": Impl(fn, [tuple(t.detach() for t in s) for s in ours], clock(dev))}
        if theirs is not None:
            impls["torch"] = Impl(tfn, [tuple(t.detach() for t in s) for s in theirs], clock(dev))
        if cfg.cuda:
            impls["limit"] = _copy_impl(cp, n, dev)
            work_limit = 8.0 * n
        else:
            impls["limit"] = Impl(np_fwd, [tuple(s) for s in host])
            work_limit = fwd_arrays * 4.0 * n
        rows.append(Row("elementwise", f"{name} forward", dev, "GB/s", _measure(impls, cfg),
                        work={"ours": fwd_arrays * 4.0 * n, "torch": fwd_arrays * 4.0 * n, "limit": work_limit},
                        limit=_limit_name(cfg), target=TARGET_GPU if cfg.cuda else None, meta=meta))
        if bwd_arrays is None:
            continue
        # backward: the graph is kept (retain_graph), each call computes the gradients again
        cfg.note(f"{name} backward")
        graphs = [(fn(*s), s) for s in ours]
        g = ag.ones(n, device=dev)
        impls = {"ours": Impl(lambda y, s: ag.autograd.grad(y, s, g, retain_graph=True), graphs, clock(dev))}
        if theirs is not None:
            tg = torch.ones(n, device=torch_device(dev))
            tgraphs = [(tfn(*s), s) for s in theirs]
            impls["torch"] = Impl(lambda y, s: torch.autograd.grad(y, s, tg, retain_graph=True), tgraphs,
                                  clock(dev))
        if cfg.cuda:
            impls["limit"] = _copy_impl(cp, n, dev)
            work_limit = 8.0 * n
        else:
            gh = np.ones(n, dtype=np.float32)
            saved = [(s, np_fwd(*s)) for s in host]
            impls["limit"] = Impl(lambda s, y: np_bwd(gh, s, y), saved)
            work_limit = bwd_arrays * 4.0 * n
        with np.errstate(divide="ignore", invalid="ignore"):
            samples = _measure(impls, cfg)
        rows.append(Row("elementwise", f"{name} backward", dev, "GB/s", samples,
                        work={"ours": bwd_arrays * 4.0 * n, "torch": bwd_arrays * 4.0 * n, "limit": work_limit},
                        limit=_limit_name(cfg), target=TARGET_GPU if cfg.cuda else None, meta=meta))
        del graphs, ours, theirs
        if cp is not None:
            cp.get_default_memory_pool().free_all_blocks()
    return rows


def _limit_name(cfg: Config) -> str:
    return "device copy bandwidth (cudaMemcpy D2D)" if cfg.cuda else "the op by hand in NumPy"


def _measure(impls: dict, cfg: Config) -> dict:
    from .common import measure
    return measure(impls, cfg)
