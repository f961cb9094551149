"""Per-op overhead: a chain of 200 small elementwise ops on a (16,) tensor, forward and backward, in
microseconds per op.

At 16 elements the arithmetic is free, so the time is what each framework spends per op in
Python/C++: dispatch, output allocation, recording the graph node and, in backward, the engine's
bookkeeping. The limit is the same chain written by hand without autograd (NumPy on CPU, CuPy on
the GPU, where it is the launch cost of the kernels alone); its backward walks a hand-kept tape.
"""
from __future__ import annotations

import numpy as np

from .common import Config, Impl, Row, clock, n_sets, sync_fn, torch_device, torch_or_none

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = False
N_OPS = 200
SIZE = 16
CASES = ("forward, no grad", "forward, recording", "forward+backward")
TARGET = {"vs": "torch", "max": 1.2}   # CPU, forward+backward

# (name, ours/torch forward on (x, y), by-hand forward (xp, x, y), by-hand backward (g, x, out, y) -> (gx, gy or None))
# The mix keeps values bounded: tanh/sigmoid squash whatever mul/exp produced.
_OPS = [
    ("mul_scalar", lambda m, x, y: x * 0.9, lambda xp, x, y: x * 0.9, lambda g, x, o, y: (g * 0.9, None)),
    ("add", lambda m, x, y: x + y, lambda xp, x, y: x + y, lambda g, x, o, y: (g, g)),
    ("tanh", lambda m, x, y: m.tanh(x), lambda xp, x, y: xp.tanh(x), lambda g, x, o, y: (g * (1 - o * o), None)),
    ("sigmoid", lambda m, x, y: m.sigmoid(x), lambda xp, x, y: 1 / (1 + xp.exp(-x)),
     lambda g, x, o, y: (g * o * (1 - o), None)),
    ("mul", lambda m, x, y: x * y, lambda xp, x, y: x * y, lambda g, x, o, y: (g * y, g * x)),
    ("exp", lambda m, x, y: m.exp(x), lambda xp, x, y: xp.exp(x), lambda g, x, o, y: (g * o, None)),
    ("sub_scalar", lambda m, x, y: x - 0.5, lambda xp, x, y: x - 0.5, lambda g, x, o, y: (g, None)),
    ("neg", lambda m, x, y: -x, lambda xp, x, y: -x, lambda g, x, o, y: (-g, None)),
]


def _chain(mod, ops):
    def run(x, y):
        for i in range(N_OPS):
            x = ops[i % len(ops)][1](mod, x, y)
        return x
    return run


def _fwd_bwd(chain, g):
    def run(x, y):
        x.grad = y.grad = None
        chain(x, y).backward(g)
    return run


def by_hand(xp, ops, x0, y, backward: bool):
    """The chain without a framework: forward keeps (x, out) per op, backward walks them in reverse."""
    x = x0
    tape = []
    for i in range(N_OPS):
        op = ops[i % len(ops)]
        out = op[2](xp, x, y)
        tape.append((op[3], x, out))
        x = out
    if not backward:
        return x
    g = xp.ones_like(x)
    gy = xp.zeros_like(y)
    for bwd, xi, oi in reversed(tape):
        g, gyi = bwd(g, xi, oi, y)
        if gyi is not None:
            gy += gyi
    return g, gy


def _inputs(cfg: Config) -> list[tuple[np.ndarray, np.ndarray]]:
    from .common import cache_bytes
    rng = np.random.default_rng(0)
    k = n_sets(2 * SIZE * 4, cache_bytes(cfg.device))
    return [(rng.uniform(-1, 1, SIZE).astype(np.float32), rng.uniform(-1, 1, SIZE).astype(np.float32))
            for _ in range(k)]


def run(cfg: Config) -> list[Row]:
    import autograd_gpu as ag
    torch = torch_or_none(cfg.device)
    dev, ops = cfg.device, _OPS
    sets = _inputs(cfg)
    g = ag.ones(SIZE, device=dev)
    ours = [(ag.tensor(x, device=dev, requires_grad=True), ag.tensor(y, device=dev, requires_grad=True))
            for x, y in sets]
    chain = _chain(ag, ops)
    impls = {"ours": {CASES[0]: Impl(chain, [(x.detach(), y.detach()) for x, y in ours], clock(dev)),
                      CASES[1]: Impl(chain, ours, clock(dev)),
                      CASES[2]: Impl(_fwd_bwd(chain, g), ours, clock(dev))}}
    meta: dict = {"ops_in_chain": [o[0] for o in ops], "n_ops": N_OPS, "shape": [SIZE], "dtype": "float32",
                  "input_sets": len(sets)}
    if torch is not None:
        tdev = torch_device(dev)
        theirs = [(torch.tensor(x, device=tdev, requires_grad=True), torch.tensor(y, device=tdev, requires_grad=True))
                  for x, y in sets]
        tg = torch.ones(SIZE, device=tdev)
        tchain = _chain(torch, ops)
        impls["torch"] = {CASES[0]: Impl(tchain, [(x.detach(), y.detach()) for x, y in theirs], clock(dev)),
                          CASES[1]: Impl(tchain, theirs, clock(dev)),
                          CASES[2]: Impl(_fwd_bwd(tchain, tg), theirs, clock(dev))}
        _fwd_bwd(chain, g)(*ours[0])      # same math: our gradient must match PyTorch's
        _fwd_bwd(tchain, tg)(*theirs[0])
        meta["max_abs_grad_diff_vs_torch"] = float(np.max(np.abs(ours[0][0].grad.cpu().numpy() -
                                                                 theirs[0][0].grad.detach().cpu().numpy())))
    xp, limit = np, "the chain by hand in NumPy"
    hand_sets = sets
    if cfg.cuda:
        import cupy as xp
        limit = "the chain by hand in CuPy (kernel launches alone)"
        hand_sets = [(xp.asarray(x), xp.asarray(y)) for x, y in sets]
    # the by-hand chain has no graph to record: no limit in the "recording" row
    impls["limit"] = {CASES[0]: Impl(lambda x, y: by_hand(xp, ops, x, y, False), hand_sets, clock(dev)),
                      CASES[2]: Impl(lambda x, y: by_hand(xp, ops, x, y, True), hand_sets, clock(dev))}
    rows = []
    for case in CASES:
        cfg.note(case)
        samples = _measure({k: v.get(case) for k, v in impls.items()}, cfg)
        target = TARGET if case == CASES[2] and not cfg.cuda else None
        rows.append(Row("per_op_overhead", f"{case} (per op)", dev, "us", samples, per=N_OPS, limit=limit,
                        target=target, meta=meta if case == CASES[2] else {}))
    if cfg.size == "full":  # where the time per op goes: one op type at a time
        for op in ops:
            cfg.note(f"{op[0]} only")
            single = {"ours": Impl(_fwd_bwd(_chain(ag, [op]), g), ours, clock(dev))}
            if torch is not None:
                single["torch"] = Impl(_fwd_bwd(_chain(torch, [op]), tg), theirs, clock(dev))
            rows.append(Row("per_op_overhead", f"forward+backward, {op[0]} only (per op)", dev, "us",
                            _measure(single, cfg), per=N_OPS))
    sync = sync_fn(dev)
    if sync is not None:
        sync()
    return rows


def _measure(impls: dict, cfg: Config) -> dict:
    from .common import measure
    # exp or mul repeated 200 times overflows or underflows: the same work for every implementation
    with np.errstate(over="ignore", under="ignore"):
        return measure(impls, cfg)
