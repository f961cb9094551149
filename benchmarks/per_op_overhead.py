"""Per-op overhead: a chain of 200 small elementwise ops on a (16,) tensor.

At 16 elements the arithmetic is free, so the time is what each framework spends per
op in Python/C++: dispatch, output allocation, recording the graph node, and in the
backward pass the engine's bookkeeping. Reported in microseconds per op.
"""
from __future__ import annotations

import sys

import numpy as np

from common import Config, Result, measure_many, torch_or_none

NAME = "per_op_overhead"
N_OPS = 200
SIZE = 16

# (name, ours/torch forward on (x, y), NumPy forward, NumPy backward(g, x, out, y) -> (gx, gy or None))
# The mix keeps values bounded: tanh/sigmoid squash whatever mul/exp produced.
_OPS = [
    ("mul_scalar", lambda m, x, y: x * 0.9, lambda x, y: x * 0.9, lambda g, x, o, y: (g * 0.9, None)),
    ("add", lambda m, x, y: x + y, lambda x, y: x + y, lambda g, x, o, y: (g, g)),
    ("tanh", lambda m, x, y: m.tanh(x), lambda x, y: np.tanh(x), lambda g, x, o, y: (g * (1 - o * o), None)),
    ("sigmoid", lambda m, x, y: m.sigmoid(x), lambda x, y: 1 / (1 + np.exp(-x)),
     lambda g, x, o, y: (g * o * (1 - o), None)),
    ("mul", lambda m, x, y: x * y, lambda x, y: x * y, lambda g, x, o, y: (g * y, g * x)),
    ("exp", lambda m, x, y: m.exp(x), lambda x, y: np.exp(x), lambda g, x, o, y: (g * o, None)),
    ("sub_scalar", lambda m, x, y: x - 0.5, lambda x, y: x - 0.5, lambda g, x, o, y: (g, None)),
    ("neg", lambda m, x, y: -x, lambda x, y: -x, lambda g, x, o, y: (-g, None)),
]


def available_ops(ag) -> list:
    """Ops our package has right now (the chain is the same for all three implementations)."""
    have = []
    probe = ag.ones(2, requires_grad=True)
    y = ag.ones(2)
    for op in _OPS:
        try:
            op[1](ag, probe, y)
        except (AttributeError, NotImplementedError, KeyError, RuntimeError):
            continue
        have.append(op)
    return have


def _chain(mod, ops):
    def run(x, y):
        for i in range(N_OPS):
            x = ops[i % len(ops)][1](mod, x, y)
        return x
    return run


def _fwd_bwd(chain, x, y, g):
    def run():
        x.grad = y.grad = None
        chain(x, y).backward(g)
    return run


def _numpy_fwd_bwd(ops, x0: np.ndarray, y: np.ndarray, backward: bool):
    """The same chain by hand: forward keeps (x, out) per op, backward walks them in reverse."""
    x = x0
    tape = []
    for i in range(N_OPS):
        op = ops[i % len(ops)]
        out = op[2](x, y)
        tape.append((op[3], x, out))
        x = out
    if not backward:
        return x
    g = np.ones_like(x)
    gy = np.zeros_like(y)
    for bwd, xi, oi in reversed(tape):
        g, gyi = bwd(g, xi, oi, y)
        if gyi is not None:
            gy += gyi
    return g, gy


def run(cfg: Config) -> list[Result]:
    import autograd_gpu as ag
    torch = torch_or_none()
    ops = available_ops(ag)
    results = []
    rng = np.random.default_rng(0)
    x_np = rng.uniform(-1, 1, SIZE).astype(np.float32)
    y_np = rng.uniform(-1, 1, SIZE).astype(np.float32)
    cases = ("forward, no grad", "forward, recording", "forward+backward")
    for device in cfg.devices:
        res = Result(NAME, device, "us")
        res.meta = {"ops_in_chain": [o[0] for o in ops], "n_ops": N_OPS, "shape": [SIZE], "dtype": "float32"}
        if len(ops) < len(_OPS):
            res.notes.append(f"ops missing from autograd_gpu, left out of the chain: "
                             f"{sorted(set(o[0] for o in _OPS) - set(o[0] for o in ops))}")
        sync_ours = (lambda: ag.cuda.synchronize()) if device != "cpu" else None
        chain = _chain(ag, ops)
        x = ag.tensor(x_np, device=device, requires_grad=True)
        y = ag.tensor(y_np, device=device, requires_grad=True)
        xd, yd, g = x.detach(), y.detach(), ag.ones(SIZE, device=device)

        ours_fwd_bwd = _fwd_bwd(chain, x, y, g)
        impls = {"ours": {cases[0]: (lambda: chain(xd, yd), sync_ours), cases[1]: (lambda: chain(x, y), sync_ours),
                          cases[2]: (ours_fwd_bwd, sync_ours)}}
        if torch is not None and (device == "cpu" or torch.cuda.is_available()):
            tdev = "cuda" if device != "cpu" else "cpu"
            tsync = torch.cuda.synchronize if device != "cpu" else None
            tchain = _chain(torch, ops)
            tx = torch.tensor(x_np, device=tdev, requires_grad=True)
            ty = torch.tensor(y_np, device=tdev, requires_grad=True)
            txd, tyd, tg = tx.detach(), ty.detach(), torch.ones(SIZE, device=tdev)

            torch_fwd_bwd = _fwd_bwd(tchain, tx, ty, tg)
            impls["torch"] = {cases[0]: (lambda: tchain(txd, tyd), tsync), cases[1]: (lambda: tchain(tx, ty), tsync),
                              cases[2]: (torch_fwd_bwd, tsync)}
            ours_fwd_bwd()  # same math: our gradient must match PyTorch's
            torch_fwd_bwd()
            res.meta["max_abs_grad_diff_vs_torch"] = float(np.max(np.abs(x.grad.cpu().numpy() -
                                                                         tx.grad.cpu().numpy())))
        if device == "cpu":  # the NumPy chain has no graph to record: no "recording" row
            impls["numpy"] = {cases[0]: lambda: _numpy_fwd_bwd(ops, x_np, y_np, False),
                              cases[2]: lambda: _numpy_fwd_bwd(ops, x_np, y_np, True)}
        for case in cases:
            t = measure_many({k: v[case] for k, v in impls.items() if case in v}, cfg)
            res.rows.append({"case": f"{case} (per op)", **{k: v / N_OPS for k, v in t.items()}})
        # the same, one op type at a time: where the time per op goes (exp or mul repeated 200
        # times overflows or underflows; that is the same work for every implementation)
        for op in ops:
            single = {"ours": (_fwd_bwd(_chain(ag, [op]), x, y, g), sync_ours)}
            if "torch" in impls:
                single["torch"] = (_fwd_bwd(_chain(torch, [op]), tx, ty, tg), tsync)
            with np.errstate(over="ignore", under="ignore"):
                t = measure_many(single, cfg)
            res.rows.append({"case": f"forward+backward, {op[0]} only (per op)",
                             **{k: v / N_OPS for k, v in t.items()}})
        results.append(res)
    return results


if __name__ == "__main__":  # through the runner, which sets thread counts before NumPy loads
    import subprocess
    from pathlib import Path
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
