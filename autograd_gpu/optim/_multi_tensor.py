"""The update kernels of the optimizers, one per (optimizer, backend), reached through ``dispatch``.

Each kernel takes the arrays of one (device, dtype) group of parameters at once, in lists, so the
CUDA side (``backends/cuda_optim.py``) updates the whole group with ONE multi-tensor launch, as
PyTorch's ``multi_tensor_apply``. The NumPy side walks the list and updates each parameter with
in-place ufuncs (``out=``), in PyTorch's operation order (its single-tensor CPU path), so float64
trajectories agree with ``torch.optim`` to rounding.

Signatures (lists have one entry per parameter; a state list is None when the option is off):
- ``sgd_step(params, grads, bufs, fresh, lr, momentum, dampening, weight_decay, nesterov, maximize)``
- ``adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
  weight_decay, amsgrad, maximize, decoupled)``
- ``rmsprop_step(params, grads, square_avgs, grad_avgs, bufs, lr, alpha, eps, weight_decay, momentum,
  centered, maximize)``
- ``adagrad_step(params, grads, sums, steps, lr, lr_decay, weight_decay, eps, maximize)``
"""
from __future__ import annotations

import numpy as np

from .. import dispatch
from ..backends import cuda_optim
from ..tensor import Tensor


def _effective_grad(p: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
    """``-g if maximize``, then ``+ weight_decay * p``: a new array only when one of them applies."""
    if maximize:
        g = np.negative(g, out=np.empty_like(g))
    if weight_decay != 0:
        t = np.multiply(p, weight_decay, out=np.empty_like(p))
        t += g
        g = t
    return g


def sgd_step_numpy(params, grads, bufs, fresh, lr, momentum, dampening, weight_decay, nesterov, maximize) -> None:
    for i, (p, g) in enumerate(zip(params, grads)):
        g = _effective_grad(p, g, weight_decay, maximize)
        if momentum != 0:
            buf = bufs[i]
            if fresh[i]:
                np.copyto(buf, g)
            else:
                buf *= momentum
                if dampening == 0:
                    buf += g
                else:
                    buf += np.multiply(g, 1 - dampening, out=np.empty_like(g))
            if nesterov:
                t = np.multiply(buf, momentum, out=np.empty_like(buf))
                t += g
                g = t
            else:
                g = buf
        t = np.multiply(g, -lr, out=np.empty_like(p))
        p += t


def adam_step_numpy(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled) -> None:
    for i, (p, g) in enumerate(zip(params, grads)):
        if decoupled:
            if weight_decay != 0:
                p *= 1 - lr * weight_decay
            g = np.negative(g, out=np.empty_like(g)) if maximize else g
        else:
            g = _effective_grad(p, g, weight_decay, maximize)
        m, v = exp_avgs[i], exp_avg_sqs[i]
        step = steps[i]
        t = np.subtract(g, m, out=np.empty_like(p))          # lerp(m, g, 1 - beta1) = m + (1 - beta1)(g - m)
        t *= 1 - beta1
        m += t
        v *= beta2
        np.multiply(g, g, out=t)
        t *= 1 - beta2
        v += t
        step_size = lr / (1 - beta1 ** step)
        bc2_sqrt = (1 - beta2 ** step) ** 0.5
        if amsgrad:
            vmax = max_exp_avg_sqs[i]
            np.maximum(vmax, v, out=vmax)
            np.sqrt(vmax, out=t)
        else:
            np.sqrt(v, out=t)
        t /= bc2_sqrt
        t += eps
        np.divide(m, t, out=t)
        t *= -step_size
        p += t


def rmsprop_step_numpy(params, grads, square_avgs, grad_avgs, bufs, lr, alpha, eps, weight_decay, momentum,
                       centered, maximize) -> None:
    for i, (p, g) in enumerate(zip(params, grads)):
        g = _effective_grad(p, g, weight_decay, maximize)
        sq = square_avgs[i]
        sq *= alpha
        t = np.multiply(g, g, out=np.empty_like(p))
        t *= 1 - alpha
        sq += t
        if centered:
            ga = grad_avgs[i]
            np.subtract(g, ga, out=t)
            t *= 1 - alpha
            ga += t
            np.multiply(ga, ga, out=t)
            np.subtract(sq, t, out=t)
            np.sqrt(t, out=t)
        else:
            np.sqrt(sq, out=t)
        t += eps
        if momentum > 0:
            buf = bufs[i]
            buf *= momentum
            np.divide(g, t, out=t)
            buf += t
            np.multiply(buf, -lr, out=t)
        else:
            np.divide(g, t, out=t)
            t *= -lr
        p += t


def adagrad_step_numpy(params, grads, sums, steps, lr, lr_decay, weight_decay, eps, maximize) -> None:
    for i, (p, g) in enumerate(zip(params, grads)):
        g = _effective_grad(p, g, weight_decay, maximize)
        clr = lr / (1 + (steps[i] - 1) * lr_decay)
        s = sums[i]
        t = np.multiply(g, g, out=np.empty_like(p))
        s += t
        np.sqrt(s, out=t)
        t += eps
        np.divide(g, t, out=t)
        t *= -clr
        p += t


for _name, _fn in (("sgd_step", sgd_step_numpy), ("adam_step", adam_step_numpy),
                   ("rmsprop_step", rmsprop_step_numpy), ("adagrad_step", adagrad_step_numpy)):
    dispatch.register(_name, "numpy", dispatch.quiet(_fn))
    dispatch.register(_name, "cupy", cuda_optim.multi_tensor(_name))


# grouping -----------------------------------------------------------------------------------------
def by_device_dtype(params: list[Tensor]) -> list[list[int]]:
    """Indices of ``params`` grouped by (device, dtype), first-seen order: one launch per group."""
    groups: dict = {}
    for i, p in enumerate(params):
        groups.setdefault((p._device, p._data.dtype), []).append(i)
    return list(groups.values())


def arrays(ts: list, idx: list[int]) -> list | None:
    """The backend arrays of ``ts[i]`` for i in ``idx`` (None entries stay None); None for a None list."""
    if ts is None:
        return None
    return [None if ts[i] is None else ts[i]._data for i in idx]


def run(name: str, params: list[Tensor], grads: list[Tensor], states: list, extra: list, scalars: tuple,
        bumps: int = 1) -> None:
    """Run kernel ``name`` once per (device, dtype) group; ``states``: lists of state tensors (or None),
    ``extra``: per-parameter host lists (steps, fresh flags); then bump the parameters' version
    counters as PyTorch's in-place ops do (``bumps`` in-place ops on each parameter)."""
    for idx in by_device_dtype(params):
        fn = dispatch.kernel(name, params[idx[0]])
        fn(arrays(params, idx), arrays(grads, idx), *[arrays(s, idx) for s in states],
           *[[e[i] for i in idx] for e in extra], *scalars)
    for p in params:
        p._vc[0] += bumps
    for s in states:
        for t in s or ():
            if t is not None:
                t._vc[0] += 1
