"""One-line op checks: random tie-free inputs, gradcheck/gradgradcheck in float64,
forward against a NumPy reference, and CUDA against CPU."""
from __future__ import annotations

import numpy as np

import autograd_gpu as ag

RNG_SEED = 1234


def make(shape, *, low=-1.0, high=1.0, dtype=ag.float64, requires_grad=True, device="cpu",
         noncontig=False, seed=None, avoid=None, margin=0.05) -> ag.Tensor:
    """Random values spread so no two are equal (no ties for max/min/sort-like ops).

    ``avoid`` (a list of points, e.g. [0.0] for abs/relu) keeps values at least ``margin``
    away from kinks where finite differences are wrong.
    """
    rng = np.random.default_rng(RNG_SEED if seed is None else seed)
    n = int(np.prod(shape)) if shape else 1
    vals = np.linspace(low, high, n + 2)[1:-1]
    vals = vals + rng.uniform(-0.3, 0.3, n) * (high - low) / (n + 2)
    if avoid:
        for p in avoid:
            close = np.abs(vals - p) < margin
            vals[close] = p + np.where(vals[close] >= p, margin, -margin)
    rng.shuffle(vals)
    arr = vals.reshape(shape).astype(dtype.np)
    if noncontig:
        big = np.zeros(tuple(s * 2 for s in shape) or (1,), dtype=arr.dtype)
        view = big[tuple(slice(None, None, 2) for _ in shape)] if shape else big[0:1].reshape(())
        view[...] = arr
        t = ag.Tensor._make(view, ag.device("cpu"))
        assert not shape or not t.is_contiguous()
        t = t.to(device)
    else:
        t = ag.tensor(arr, device=device)
    return t.requires_grad_(requires_grad)


def check_grad(fn, *inputs, second_order: bool = True, atol: float = 1e-5, rtol: float = 1e-3) -> None:
    """gradcheck (and gradgradcheck) in float64; raises GradcheckError on a mismatch."""
    assert ag.autograd.gradcheck(fn, inputs, atol=atol, rtol=rtol)
    if second_order:
        assert ag.autograd.gradgradcheck(fn, inputs, atol=atol, rtol=rtol)


def assert_close(actual, expected, rtol: float = 1e-7, atol: float = 1e-9) -> None:
    a = actual._host() if isinstance(actual, ag.Tensor) else np.asarray(actual)
    e = expected._host() if isinstance(expected, ag.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


TOL = {"float16": (1e-2, 1e-2), "float32": (1e-5, 1e-6), "float64": (1e-12, 1e-12)}


def compare_devices(fn, *arrays, device: str = "cuda", dtype=ag.float32, grad: bool = True) -> None:
    """Run ``fn`` on CPU and on ``device`` from the same NumPy inputs; forward and backward must match.

    Integer/bool arrays are passed through without gradients. float16 runs on the device only and
    is compared against the float32 CPU result.
    """
    def build(dev, dt):
        ts = []
        for a in arrays:
            if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                ts.append(ag.tensor(a, dtype=dt, device=dev).requires_grad_(grad))
            elif isinstance(a, np.ndarray):
                ts.append(ag.tensor(a, device=dev))
            else:
                ts.append(a)
        return ts
    cpu_dt = ag.float32 if dtype is ag.float16 else dtype
    rtol, atol = TOL[dtype.name]
    results = []
    for dev, dt in (("cpu", cpu_dt), (device, dtype)):
        ins = build(dev, dt)
        out = fn(*ins)
        outs = out if isinstance(out, tuple) else (out,)
        grads = []
        diff = [t for t in ins if isinstance(t, ag.Tensor) and t.requires_grad]
        main = outs[0]
        if grad and diff and main.requires_grad:
            rng = np.random.default_rng(7)
            g = ag.tensor(rng.standard_normal(main.shape), dtype=main.dtype, device=dev)
            grads = ag.autograd.grad(main, diff, g, allow_unused=True)
        results.append(([o for o in outs if isinstance(o, ag.Tensor)], grads))
    (co, cg), (do, dg) = results
    for c, d in zip(co, do):
        assert d.device.type == device.split(":")[0]
        np.testing.assert_allclose(d.to("cpu").double()._host(), c.double()._host(), rtol=rtol, atol=atol)
    for c, d in zip(cg, dg):
        if c is None:
            assert d is None
            continue
        np.testing.assert_allclose(d.to("cpu").double()._host(), c.double()._host(), rtol=rtol, atol=atol)
