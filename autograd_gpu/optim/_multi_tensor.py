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


# Scratch: each NumPy kernel walks a parameter (and its gradient and state) in chunks of at most
# _CHUNK_BYTES per scratch slot, so an update's temporaries are a few hundred KiB however large the
# parameter, instead of one parameter-sized array per temporary (4 MiB each for a 1024x1024 weight,
# which set the peak memory of a training step). The ufuncs are elementwise, so the results are
# bit-identical to whole-array updates; a chunk that fits in cache is also faster to make passes over.
_CHUNK_BYTES = 1 << 18


class _Scratch:
    """``slots`` scratch arrays per chunk, carved from one buffer reused across chunks and parameters."""

    def __init__(self, params: list, slots: int) -> None:
        self.slots, self.buf = slots, None
        if params:
            cap = max(1, _CHUNK_BYTES // params[0].itemsize)
            self.buf = np.empty(slots * min(cap, max(max(p.size for p in params), 1)), params[0].dtype)

    def views(self, shape: tuple, n: int) -> list:
        if self.buf.size < self.slots * n:     # a non-contiguous parameter whose rows exceed a chunk
            self.buf = np.empty(self.slots * n, self.buf.dtype)
        return [self.buf[k * n:(k + 1) * n].reshape(shape) for k in range(self.slots)]


def _chunks(scratch: _Scratch, *arrays):
    """Yield ``(views, scratch_views)``: views of ``arrays`` (same shape; None entries stay None) over
    successive chunks, with the scratch slots shaped like one chunk. C-contiguous arrays are walked
    flat; otherwise (a strided parameter or gradient) in slabs along the first axis."""
    live = [a for a in arrays if a is not None]
    ref = live[0]
    if ref.size == 0:
        return
    cap = max(1, _CHUNK_BYTES // ref.itemsize)
    if all(a.flags.c_contiguous for a in live):
        flat = [None if a is None else a.reshape(-1) for a in arrays]
        n = ref.size
        for i in range(0, n, cap):
            m = min(cap, n - i)
            yield [None if a is None else a[i:i + m] for a in flat], scratch.views((m,), m)
        return
    row = ref.size // ref.shape[0]
    step = max(1, cap // row)
    for i in range(0, ref.shape[0], step):
        j = min(ref.shape[0], i + step)
        yield [None if a is None else a[i:j] for a in arrays], scratch.views((j - i,) + ref.shape[1:], (j - i) * row)


def _effective_grad(p: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool, s0, s1) -> np.ndarray:
    """``-g if maximize``, then ``+ weight_decay * p``, into scratch ``s0`` (``s1`` a temporary);
    ``g`` itself (never written) when neither applies."""
    if maximize:
        g = np.negative(g, out=s0)
    if weight_decay != 0:
        t = np.multiply(p, weight_decay, out=s1)
        g = np.add(t, g, out=s0)           # t + g, as PyTorch's grad.add(p, alpha=wd)
    return g


def sgd_step_numpy(params, grads, bufs, fresh, lr, momentum, dampening, weight_decay, nesterov, maximize) -> None:
    scratch = _Scratch(params, 2)
    for i, (p_, g_) in enumerate(zip(params, grads)):
        buf_ = bufs[i] if momentum != 0 else None
        for (p, g, buf), (s0, s1) in _chunks(scratch, p_, g_, buf_):
            g = _effective_grad(p, g, weight_decay, maximize, s0, s1)
            if momentum != 0:
                if fresh[i]:
                    np.copyto(buf, g)
                else:
                    buf *= momentum
                    if dampening == 0:
                        buf += g
                    else:
                        buf += np.multiply(g, 1 - dampening, out=s1)
                if nesterov:
                    t = np.multiply(buf, momentum, out=s1)
                    g = np.add(t, g, out=s1)
                else:
                    g = buf
            p += np.multiply(g, -lr, out=s1)


def adam_step_numpy(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled) -> None:
    scratch = _Scratch(params, 2)
    for i, (p_, g_) in enumerate(zip(params, grads)):
        step = steps[i]
        step_size = lr / (1 - beta1 ** step)
        bc2_sqrt = (1 - beta2 ** step) ** 0.5
        vmax_ = max_exp_avg_sqs[i] if amsgrad else None
        for (p, g, m, v, vmax), (s0, t) in _chunks(scratch, p_, g_, exp_avgs[i], exp_avg_sqs[i], vmax_):
            if decoupled:
                if weight_decay != 0:
                    p *= 1 - lr * weight_decay
                g = np.negative(g, out=s0) if maximize else g
            else:
                g = _effective_grad(p, g, weight_decay, maximize, s0, t)
            np.subtract(g, m, out=t)             # lerp(m, g, 1 - beta1) = m + (1 - beta1)(g - m)
            t *= 1 - beta1
            m += t
            v *= beta2
            np.multiply(g, g, out=t)
            t *= 1 - beta2
            v += t
            if amsgrad:
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
    scratch = _Scratch(params, 2)
    for i, (p_, g_) in enumerate(zip(params, grads)):
        ga_ = grad_avgs[i] if centered else None
        buf_ = bufs[i] if momentum > 0 else None
        for (p, g, sq, ga, buf), (s0, t) in _chunks(scratch, p_, g_, square_avgs[i], ga_, buf_):
            g = _effective_grad(p, g, weight_decay, maximize, s0, t)
            sq *= alpha
            np.multiply(g, g, out=t)
            t *= 1 - alpha
            sq += t
            if centered:
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
                buf *= momentum
                np.divide(g, t, out=t)
                buf += t
                np.multiply(buf, -lr, out=t)
            else:
                np.divide(g, t, out=t)
                t *= -lr
            p += t


def adagrad_step_numpy(params, grads, sums, steps, lr, lr_decay, weight_decay, eps, maximize) -> None:
    scratch = _Scratch(params, 2)
    for i, (p_, g_) in enumerate(zip(params, grads)):
        clr = lr / (1 + (steps[i] - 1) * lr_decay)
        for (p, g, s), (s0, t) in _chunks(scratch, p_, g_, sums[i]):
            g = _effective_grad(p, g, weight_decay, maximize, s0, t)
            np.multiply(g, g, out=t)
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
