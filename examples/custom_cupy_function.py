"""A custom autograd Function whose forward and backward are your own CUDA kernels.

``FusedSiLU`` computes ``x * sigmoid(x)`` in one kernel launch instead of three ops,
and its backward ``g * s * (1 + x * (1 - s))`` (``s = sigmoid(x)``) in another.
On CUDA tensors it compiles two ``cupy.RawKernel``s (once per device and dtype); on
CPU tensors the same formulas run in NumPy, so this file imports and works without
CuPy.

Why ``@once_differentiable``: a hand-written backward kernel is not built from
differentiable ops, so a second derivative through it would silently be wrong. The
decorator makes ``create_graph=True`` raise instead.

Run: ``python examples/custom_cupy_function.py`` (uses CUDA when available).
"""
from __future__ import annotations

import numpy as np

import autograd_gpu as ag
from autograd_gpu.autograd import Function, once_differentiable

# RawKernels see raw pointers and ignore strides: we always pass contiguous arrays.
_CUDA_SOURCE = r"""
template <typename T>
__device__ T sigmoid_(T x) { return T(1) / (T(1) + exp(-x)); }

extern "C" __global__ void silu_fwd_f32(const float* x, float* y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        float v = x[i];
        y[i] = v * sigmoid_(v);
    }
}
extern "C" __global__ void silu_fwd_f64(const double* x, double* y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        double v = x[i];
        y[i] = v * sigmoid_(v);
    }
}
extern "C" __global__ void silu_bwd_f32(const float* x, const float* g, float* dx, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        float v = x[i], s = sigmoid_(v);
        dx[i] = g[i] * s * (1.0f + v * (1.0f - s));
    }
}
extern "C" __global__ void silu_bwd_f64(const double* x, const double* g, double* dx, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        double v = x[i], s = sigmoid_(v);
        dx[i] = g[i] * s * (1.0 + v * (1.0 - s));
    }
}
"""
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_kernels: dict = {}  # (name, device id) -> cupy.RawKernel; compiled lazily, once


def _kernel(name: str):
    import cupy  # only reached for CUDA tensors
    key = (name, cupy.cuda.Device().id)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = cupy.RawModule(code=_CUDA_SOURCE).get_function(name)
    return k


def _launch(name: str, out, *arrays) -> None:
    n = out.size
    threads = 256
    blocks = min((n + threads - 1) // threads, 65535) or 1
    _kernel(name)((blocks,), (threads,), (*arrays, out, np.int64(n)))


def _array(t: ag.Tensor):
    """The tensor's backend array (NumPy or CuPy), without a copy."""
    return t._data


def _wrap(array, like: ag.Tensor) -> ag.Tensor:
    """A new tensor over ``array`` on ``like``'s device, without a copy."""
    return ag.Tensor._make(array, like.device)


def _silu_forward(x):
    if isinstance(x, np.ndarray):
        return x / (1 + np.exp(-x))
    import cupy
    x = cupy.ascontiguousarray(x)
    y = cupy.empty_like(x)
    _launch(f"silu_fwd_{_SUFFIX[x.dtype]}", y, x)
    return y


def _silu_backward(x, g):
    if isinstance(x, np.ndarray):
        s = 1 / (1 + np.exp(-x))
        return g * s * (1 + x * (1 - s))
    import cupy
    x, g = cupy.ascontiguousarray(x), cupy.ascontiguousarray(g)
    dx = cupy.empty_like(x)
    _launch(f"silu_bwd_{_SUFFIX[x.dtype]}", dx, x, g)
    return dx


class FusedSiLU(Function):
    """``x * sigmoid(x)``: one kernel forward, one kernel backward (float32/float64)."""

    @staticmethod
    def forward(ctx, x: ag.Tensor) -> ag.Tensor:
        if x.dtype not in (ag.float32, ag.float64):
            raise TypeError(f"FusedSiLU supports float32 and float64, got {x.dtype}")
        ctx.save_for_backward(x)  # version-checked: an in-place change to x before backward raises
        return _wrap(_silu_forward(_array(x)), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: ag.Tensor) -> ag.Tensor:
        (x,) = ctx.saved_tensors
        return _wrap(_silu_backward(_array(x), _array(grad)), grad)


def fused_silu(x: ag.Tensor) -> ag.Tensor:
    return FusedSiLU.apply(x)


if __name__ == "__main__":
    device = "cuda" if ag.cuda.is_available() else "cpu"
    x = ag.tensor(np.linspace(-3, 3, 7), dtype=ag.float32, device=device, requires_grad=True)
    y = fused_silu(x)
    y.backward(ag.ones(7, device=device))
    print("device:", device)
    print("silu(x):", y)
    print("d/dx:   ", x.grad)
