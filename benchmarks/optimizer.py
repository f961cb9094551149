"""The optimizer step alone: ``Adam.step()`` over a GPT-like set of parameters with their gradients
in place, in GB/s over the bytes Adam must move.

Per float32 element Adam reads the parameter, its gradient and both moments and writes the
parameter and both moments: 7 x 4 bytes. The limit on the GPU is the copy bandwidth measured in
the same samples (target: 70% of it); on CPU it is the same update by hand in NumPy, in place.
PyTorch runs its default (``foreach`` on CUDA, the per-tensor loop on CPU).
"""
from __future__ import annotations

import math

import numpy as np

from .common import Config, Impl, Row, cache_bytes, clock, n_sets, torch_device, torch_or_none

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = False
TARGET_GPU = {"vs": "limit", "min_pct": 70}
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
# (d_model, layers) of the parameter set: per layer qkv, proj, fc, out weights and their biases, 2 LayerNorms
MODEL = {"cpu": {"full": (256, 4), "quick": (128, 4), "tiny": (16, 1)},
         "cuda": {"full": (1024, 4), "quick": (1024, 2), "tiny": (64, 1)}}


def shapes(d: int, layers: int) -> list[tuple]:
    out = []
    for _ in range(layers):
        out += [(3 * d, d), (3 * d,), (d, d), (d,), (4 * d, d), (4 * d,), (d, 4 * d), (d,), (d,), (d,), (d,), (d,)]
    return out


class NumpyAdam:
    """Adam by hand, in place, in PyTorch's formulation (no weight decay)."""

    def __init__(self, params: list, grads: list):
        self.params, self.grads = params, grads
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        b1, b2 = BETAS
        step_size = LR / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        for p, g, m, v, tmp in zip(self.params, self.grads, self.m, self.v, self.tmp):
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= bc2_sqrt
            tmp += EPS
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


def run(cfg: Config) -> list[Row]:
    import autograd_gpu as ag
    torch = torch_or_none(cfg.device)
    kind = "cuda" if cfg.cuda else "cpu"
    dev = cfg.device
    d, layers = cfg.pick(MODEL[kind])
    shp = shapes(d, layers)
    numel = sum(math.prod(s) for s in shp)
    rng = np.random.default_rng(0)
    sets = n_sets(numel * 16, cache_bytes(dev), max_sets=4, budget=4 << 30)
    host = [([rng.standard_normal(s).astype(np.float32) * 0.02 for s in shp],
             [rng.standard_normal(s).astype(np.float32) for s in shp]) for _ in range(sets)]

    def ours_opt(ps, gs):
        params = [ag.tensor(p, device=dev, requires_grad=True) for p in ps]
        for p, g in zip(params, gs):
            p.grad = ag.tensor(g, device=dev)
        return (ag.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS),)

    impls = {"ours": Impl(lambda o: o.step(), [ours_opt(*h) for h in host], clock(dev))}
    if torch is not None:
        tdev = torch_device(dev)

        def torch_opt(ps, gs):
            params = [torch.tensor(p, device=tdev, requires_grad=True) for p in ps]
            for p, g in zip(params, gs):
                p.grad = torch.tensor(g, device=tdev)
            return (torch.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS),)
        impls["torch"] = Impl(lambda o: o.step(), [torch_opt(*h) for h in host], clock(dev))
    work = 28.0 * numel
    if cfg.cuda:
        import cupy as cp

        from .elementwise import _copy_impl
        impls["limit"] = _copy_impl(cp, numel, dev)
        works = {"ours": work, "torch": work, "limit": 8.0 * numel}
        limit = "device copy bandwidth (cudaMemcpy D2D)"
    else:
        impls["limit"] = Impl(lambda o: o.step(), [(NumpyAdam(*h),) for h in host])
        works = {k: work for k in ("ours", "torch", "limit")}
        limit = "the same update by hand in NumPy (in place)"
    cfg.note("Adam step")
    from .common import measure
    samples = measure(impls, cfg)
    return [Row("optimizer", f"Adam step, {numel:,} params in {len(shp)} tensors", dev, "GB/s", samples,
                work=works, limit=limit, target=TARGET_GPU if cfg.cuda else None,
                meta={"params": numel, "tensors": len(shp), "d_model": d, "layers": layers, "dtype": "float32",
                      "bytes_per_step": work, "input_sets": sets,
                      "torch_default": "foreach on CUDA, per-tensor loop on CPU"})]
