"""One training step of an MLP 784-1024-1024-10, batch 256, ReLU, plain SGD.

Big matmuls dominate, so this shows whether the framework adds anything on top of
the BLAS calls a hand-written NumPy step makes (forward, backward, update).
"""
from __future__ import annotations

import sys

import numpy as np

from common import Config, Result, measure_many, torch_or_none

NAME = "mlp_step"
SIZES = (784, 1024, 1024, 10)
BATCH = 256
LR = 0.01


def _init(seed: int = 0) -> tuple[list, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = fan_in ** -0.5
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    labels = rng.integers(0, SIZES[-1], BATCH)
    return params, x, labels


def loss_kind(ag) -> str:
    """Cross-entropy through log_softmax when our package has it, else mean squared error."""
    fn = getattr(ag, "log_softmax", None)
    if fn is None:
        fn = getattr(getattr(getattr(ag, "nn", None), "functional", None), "log_softmax", None)
    if fn is None:
        return "mse"
    try:
        z = ag.zeros(2, 3, requires_grad=True)
        (fn(z, 1) * ag.ones(2, 3)).sum(1).mean().backward()
    except (AttributeError, NotImplementedError, RuntimeError, TypeError):
        return "mse"
    return "cross_entropy"


def _log_softmax(mod):
    return getattr(mod, "log_softmax", None) or mod.nn.functional.log_softmax


def _step_fn(mod, params, x, onehot, kind: str, backward: bool):
    """The step written once for ours and PyTorch (same names: matmul, relu, mean, no_grad)."""
    log_softmax = _log_softmax(mod) if kind == "cross_entropy" else None

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = mod.relu(h)
        if kind == "cross_entropy":
            loss = -(log_softmax(h, 1) * onehot).sum(1).mean()
        else:
            loss = ((h - onehot) ** 2).mean()
        if backward:
            loss.backward()
            with mod.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad = None
        return loss
    return step


def numpy_step(params: list, x: np.ndarray, onehot: np.ndarray, kind: str, backward: bool = True) -> float:
    """Forward, backward and SGD update by hand, in place on ``params``."""
    acts, pre = [x], []
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        z = h @ params[2 * i] + params[2 * i + 1]
        pre.append(z)
        h = np.maximum(z, 0) if i < n_layers - 1 else z
        acts.append(h)
    if kind == "cross_entropy":
        m = h.max(1, keepdims=True)
        e = np.exp(h - m)
        s = e.sum(1, keepdims=True)
        logp = h - m - np.log(s)
        loss = float(-(logp * onehot).sum(1).mean())
        dz = (e / s - onehot) / h.shape[0]
    else:
        d = h - onehot
        loss = float((d * d).mean())
        dz = d * (2.0 / d.size)
    if not backward:
        return loss
    for i in reversed(range(n_layers)):
        if i < n_layers - 1:
            dz = dz * (pre[i] > 0)
        gw = acts[i].T @ dz
        gb = dz.sum(0)
        if i > 0:
            dz = dz @ params[2 * i].T
        params[2 * i] -= LR * gw
        params[2 * i + 1] -= LR * gb
    return loss


def run(cfg: Config) -> list[Result]:
    import autograd_gpu as ag
    torch = torch_or_none()
    kind = loss_kind(ag)
    init, x_np, labels = _init()
    onehot_np = np.eye(SIZES[-1], dtype=np.float32)[labels]
    results = []
    for device in cfg.devices:
        res = Result(NAME, device, "ms")
        res.meta = {"layers": list(SIZES), "batch": BATCH, "dtype": "float32", "loss": kind, "optimizer": "SGD",
                    "lr": LR}
        sync_ours = (lambda: ag.cuda.synchronize()) if device != "cpu" else None
        params = [ag.tensor(p, device=device, requires_grad=True) for p in init]
        x, onehot = ag.tensor(x_np, device=device), ag.tensor(onehot_np, device=device)
        fwd = _step_fn(ag, params, x, onehot, kind, backward=False)
        full = _step_fn(ag, params, x, onehot, kind, backward=True)
        first_loss = {"ours": full().item()}  # one step from the shared init, checked below
        impls = {"ours": {"forward": (fwd, sync_ours), "forward+backward+update": (full, sync_ours)}}
        if torch is not None and (device == "cpu" or torch.cuda.is_available()):
            tdev = "cuda" if device != "cpu" else "cpu"
            tsync = torch.cuda.synchronize if device != "cpu" else None
            tparams = [torch.tensor(p, device=tdev, requires_grad=True) for p in init]
            tx, tonehot = torch.tensor(x_np, device=tdev), torch.tensor(onehot_np, device=tdev)
            tfull = _step_fn(torch, tparams, tx, tonehot, kind, backward=True)
            first_loss["torch"] = tfull().item()
            impls["torch"] = {"forward": (_step_fn(torch, tparams, tx, tonehot, kind, backward=False), tsync),
                              "forward+backward+update": (tfull, tsync)}
        if device == "cpu":
            nparams = [p.copy() for p in init]
            first_loss["numpy"] = numpy_step(nparams, x_np, onehot_np, kind)
            impls["numpy"] = {"forward": lambda: numpy_step(nparams, x_np, onehot_np, kind, backward=False),
                              "forward+backward+update": lambda: numpy_step(nparams, x_np, onehot_np, kind)}
        res.meta["first_step_loss"] = first_loss
        spread = max(first_loss.values()) - min(first_loss.values())
        if spread > 1e-3 * max(1.0, abs(first_loss["ours"])):
            res.notes.append(f"WARNING: first-step losses differ: {first_loss}")
        for case in ("forward", "forward+backward+update"):
            res.rows.append({"case": case, **measure_many({k: v[case] for k, v in impls.items()}, cfg)})
        results.append(res)
    return results


if __name__ == "__main__":  # through the runner, which sets thread counts before NumPy loads
    import subprocess
    from pathlib import Path
    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("run.py")), "--only", NAME, *sys.argv[1:]]))
