"""``F.interpolate``: nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area.

Every mode is separable: along each spatial axis, output o is a weighted sum of a few input
positions (taps). The tap tables (index, weight) are built on the host in float64 by PyTorch's
coordinate rules; one kernel applies a table along one axis. The backward applies the transposed
table (built on the host too), so it is a gather as well -- no atomics -- and is itself
differentiable (its backward is the forward table again). Adaptive average pooling and
``mode='area'`` are the same map with window-average taps.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backends.cuda_interpolate import launcher as _cuda
from ..dispatch import register
from ..tensor import Tensor
from ._common import kernel
from .registry import export


# tap tables (host, float64) --------------------------------------------------------------------------
def _dense(idx: np.ndarray, w: np.ndarray, L: int) -> np.ndarray:
    M = np.zeros((idx.shape[0], L))
    np.add.at(M, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel()), w.ravel())
    return M


def transpose_taps(idx: np.ndarray, w: np.ndarray, L: int) -> tuple:
    """The (idx, w) table of the adjoint map (L outputs over idx.shape[0] inputs)."""
    MT = _dense(idx, w, L).T
    nz = MT != 0
    T = max(int(nz.sum(1).max()) if MT.size else 1, 1)
    order = np.argsort(~nz, axis=1, kind="stable")[:, :T]
    return order.astype(np.int64), np.take_along_axis(MT, order, 1)


def window_taps(L: int, O: int) -> tuple:
    """Adaptive average pooling: window [floor(o L / O), ceil((o+1) L / O)) averaged."""
    o = np.arange(O)
    st, en = (o * L) // O, ((o + 1) * L + O - 1) // O
    T = int((en - st).max()) if O else 1
    t = np.arange(T)
    idx = np.minimum(st[:, None] + t, en[:, None] - 1)
    w = np.where(t < (en - st)[:, None], 1.0 / (en - st)[:, None], 0.0)
    return idx.astype(np.int64), w


def _src_scale(L: int, O: int, align: bool, scale) -> float:
    if align:
        return (L - 1) / (O - 1) if O > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else L / O


def _cubic(t: np.ndarray, A: float = -0.75) -> np.ndarray:
    """Keys' cubic convolution weights of the taps at -1, 0, 1, 2 for fractional offset t."""
    def c1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def c2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
    return np.stack([c2(t + 1), c1(t), c1(1 - t), c2(2 - t)], 1)


def axis_taps(L: int, O: int, mode: str, align: bool, scale) -> tuple:
    """(idx (O, T) int64, w (O, T) float64 or None for a pure selection) along one axis."""
    dst = np.arange(O)
    if mode in ("nearest", "nearest-exact"):
        # PyTorch computes these in float32: floorf((dst [+ 0.5]) * (float)scale)
        sc = np.float32(1.0 / scale if scale is not None and scale > 0 else L / O)
        off = np.float32(0.5 if mode == "nearest-exact" else 0.0)
        src = np.floor((dst.astype(np.float32) + off) * sc).astype(np.int64)
        return np.minimum(src, L - 1)[:, None], None
    if mode == "area":
        return window_taps(L, O)
    sc = _src_scale(L, O, align, scale)
    src = sc * dst if align else sc * (dst + 0.5) - 0.5
    if mode == "linear":
        src = np.maximum(src, 0.0)
        i0 = np.floor(src).astype(np.int64)
        lam = src - i0
        i1 = np.where(i0 < L - 1, i0 + 1, i0)
        return np.stack([i0, i1], 1), np.stack([1 - lam, lam], 1)
    i0 = np.floor(src).astype(np.int64)                         # cubic
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, L - 1)
    return idx, _cubic(src - i0)


# kernels: one axis ---------------------------------------------------------------------------------
def _np_interp_axis(x, axis: int, idx, w):
    """y[..., o, ...] = sum_t w[o, t] x[..., idx[o, t], ...] along ``axis`` (a gather per tap, or one
    matmul with the dense map when the axis is short)."""
    if w is None:
        return np.take(x, idx[:, 0], axis)
    L = x.shape[axis]
    if L <= 2048 and x.size:     # BLAS on the dense (O, L) map beats T gathers by ~2x at these sizes
        M = _dense(idx, w, L).astype(x.dtype)
        if axis == x.ndim - 1:    # one 2-D GEMM: NumPy's stacked matmul can miss BLAS
            return (np.ascontiguousarray(x).reshape(-1, L) @ M.T).reshape(x.shape[:-1] + (idx.shape[0],))
        outer = math.prod(x.shape[:axis])
        y = np.matmul(M, x.reshape(outer, L, -1))
        return y.reshape(x.shape[:axis] + (idx.shape[0],) + x.shape[axis + 1:])
    shape = (idx.shape[0],) + (1,) * (x.ndim - axis - 1)
    out = np.take(x, idx[:, 0], axis) * w[:, 0].astype(x.dtype).reshape(shape)
    for t in range(1, idx.shape[1]):
        out += np.take(x, idx[:, t], axis) * w[:, t].astype(x.dtype).reshape(shape)
    return out


register("interp_fwd", "numpy", _np_interp_axis)
register("interp_fwd", "cupy", _cuda("interp_fwd"))
register("interp_bwd", "numpy", _np_interp_axis)        # the transposed table, applied the same way
register("interp_bwd", "cupy", _cuda("interp_fwd"))     # a gather: no atomics


class SepMap(Function):
    """A separable linear map: ``maps`` is one (axis, idx, w, idx_T, w_T) per mapped axis."""
    node_name = "UpsampleBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, maps: tuple, op: str = "interp_fwd") -> Tensor:
        ctx.maps = maps
        y = x._data
        fn = kernel(op, x)
        for axis, idx, w, *_ in maps:
            y = fn(y, axis, idx, w)
        return Tensor._make(y, x._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        back = tuple((a, iT, wT, i, w) for a, i, w, iT, wT in reversed(ctx.maps))
        return SepMap.apply(g, back, "interp_bwd"), None, None


def separable(x: Tensor, axes_taps: list) -> Tensor:
    """Apply the (axis, L, idx, w) tables to ``x`` as one differentiable node."""
    maps = []
    for axis, L, idx, w in axes_taps:
        wT_src = np.ones(idx.shape) if w is None else w
        iT, wT = transpose_taps(idx, wT_src, L)
        if w is None and np.all((wT == 1) | (wT == 0)) and wT.shape[1] == 1:
            wT = None if np.all(wT == 1) else wT
        maps.append((axis, idx, w, iT, wT))
    return SepMap.apply(x, tuple(maps))


# F.interpolate ---------------------------------------------------------------------------------------
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_NEED = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


@export(nn=True, function=False, method=False)
def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """PyTorch's ``F.interpolate`` (argument checks in PyTorch's order). ``antialias=True`` is not
    implemented."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {list(input.shape[2:])} and output size of {size}. "
                                 f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 f"(o1, o2, ...,oK) format.")
            out_size = [int(v) for v in size]
        else:
            out_size = [int(size)] * dim
        scales = [None] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 f"scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(v) for v in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out_size = None
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and out_size is None:
        recompute_scale_factor = True
    if out_size is None:
        out_size = [int(math.floor(float(input.shape[i + 2]) * scales[i])) for i in range(dim)]
        if recompute_scale_factor:
            scales = [None] * dim
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    if mode == "lanczos":
        raise ValueError("Lanczos mode requires antialias=True")
    if input.ndim not in (3, 4, 5) or mode not in ("nearest", "nearest-exact", "area", *_NEED):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: {_MODES} (got {mode})")
    if mode in _NEED and input.ndim != _NEED[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {_NEED[mode]}D input")
    if antialias:
        raise NotImplementedError("F.interpolate(antialias=True) is not implemented in autograd_gpu")
    if input._data.dtype.kind != "f" and mode not in ("nearest", "nearest-exact"):
        raise NotImplementedError(f"\"upsample_{mode}\" not implemented for '{input.dtype._torch_name}'")
    S = tuple(input.shape[2:])
    if any(o <= 0 for o in out_size) or any(s <= 0 for s in S):
        names = ("D", "H", "W")[-dim:] if dim > 1 else ("W",)
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(f'{n}: {s}' for n, s in zip(names, S))}) output "
                           f"({', '.join(f'{n}: {s}' for n, s in zip(names, out_size))})")
    kind = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    tables = []
    for a in range(dim):
        if out_size[a] == S[a] and kind in ("nearest", "nearest-exact", "area") and scales[a] in (None, 1.0):
            continue
        idx, w = axis_taps(S[a], out_size[a], kind, bool(align_corners), scales[a])
        tables.append((a + 2, S[a], idx, w))
    if not tables:
        return input.clone()
    return separable(input, tables)
