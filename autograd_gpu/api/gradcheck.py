"""Finite-difference checks of first and second derivatives (PyTorch's defaults: float64 inputs)."""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..engine.api import grad
from ..ops import zeros_like
from ..tensor import Tensor


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)


def _host(t) -> np.ndarray:
    return np.array(t._host(), dtype=np.float64)


def _numerical(fn, inputs, out_index: int, j: int, eps: float) -> np.ndarray:
    """d outputs[out_index] / d inputs[j] as a (numel_in, numel_out) matrix, central differences."""
    x = inputs[j]
    data = x._data  # perturbed in place (any strides) and restored; grad mode stays as the caller set it
    cols = []
    for idx in itertools.product(*(range(s) for s in data.shape)):
        orig = data[idx].item()
        data[idx] = orig + eps
        plus = _host(_as_tuple(fn(*inputs))[out_index]).ravel()
        data[idx] = orig - eps
        minus = _host(_as_tuple(fn(*inputs))[out_index]).ravel()
        data[idx] = orig
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols) if cols else np.zeros((0, 0))


def _analytical(out, diff_inputs, out_numel: int) -> list:
    rows = [np.zeros((t.numel(), out_numel)) for t in diff_inputs]
    for k in range(out_numel):
        g = zeros_like(out)
        g._data.reshape(-1)[k] = 1  # zeros_like is contiguous: reshape is a view
        gs = grad(out, diff_inputs, g, retain_graph=True, allow_unused=True)
        for r, gi, t in zip(rows, gs, diff_inputs):
            if gi is None:
                continue
            if gi.shape != t.shape:
                raise GradcheckError(f"Gradient has incorrect shape: got {list(gi.shape)}, expected "
                                     f"{list(t.shape)}")
            r[:, k] = _host(gi).ravel()
    return rows


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False, fast_mode: bool = False,
              masked=None) -> bool:
    """Compare analytical gradients with central differences for every differentiable input."""
    inputs = _as_tuple(inputs)
    diff = [(j, t) for j, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the "
                         "them have requires_grad=True.")
    for _, t in diff:
        if t.dtype.itemsize < 8:
            warnings.warn(f"Input is not a double precision floating point ({t.dtype}); gradcheck is meant "
                          "for float64 inputs and may fail otherwise.", stacklevel=2)
    outputs = _as_tuple(func(*inputs))
    for o_i, out in enumerate(outputs):
        if not isinstance(out, Tensor) or not out.is_floating_point():
            continue
        n_out = out.numel()
        if out.requires_grad:
            analytical = _analytical(out, [t for _, t in diff], n_out)
        else:
            analytical = [np.zeros((t.numel(), n_out)) for _, t in diff]
        for (j, _), a in zip(diff, analytical):
            n = _numerical(func, inputs, o_i, j, eps).reshape(a.shape)
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(f"Jacobian mismatch for output {o_i} with respect to input {j},\n"
                                     f"numerical:{n}\nanalytical:{a}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked=None) -> bool:
    """gradcheck of the first derivative (built with ``create_graph=True``) w.r.t. inputs and grad_outputs."""
    inputs = _as_tuple(inputs)
    outputs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor) and o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            Tensor._make(o._device.backend.from_numpy(rng.standard_normal(o.shape).astype(o._data.dtype),
                                                      o._device.index), o._device).requires_grad_()
            for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [j for j, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def first_derivative(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _as_tuple(func(*ins)) if isinstance(o, Tensor) and o.requires_grad]
        gs = grad(outs, [ins[j] for j in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
