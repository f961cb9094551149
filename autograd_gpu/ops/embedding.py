"""``F.embedding`` (padding_idx, max_norm, scale_grad_by_freq; scatter-add backward) and ``F.one_hot``.

The forward gathers rows; the backward adds gradient rows into a (num_embeddings, dim) zero
gradient at their indices. On CPU that is one stable sort of the indices and ``np.add.reduceat``
over the sorted rows (about 3x faster than ``np.add.at`` on 2-D); on CUDA the kernels of
``kernels/embedding.cu``. The backward is a Function linear in its gradient whose own backward is
again an embedding lookup, so double backward works.
"""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..autograd.function import Function
from ..dispatch import register
from ..tensor import Tensor, type_name
from ._common import check_same_device, kernel, on_device
from .registry import export


SPARSE_MESSAGE = ("embedding(sparse=True): sparse gradients are not implemented in autograd_gpu; use "
                  "sparse=False (the weight gets a dense gradient)")


def _index_error(_index: int) -> IndexError:
    return IndexError("index out of range in self")


def _np_embedding_fwd(weight: np.ndarray, indices: np.ndarray, check=None) -> np.ndarray:
    if check is not None and indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise check(int(indices.min() if indices.min() < 0 else indices.max()))
    return weight.take(indices, axis=0)


def _np_embedding_bwd(grad: np.ndarray, indices: np.ndarray, num_weights: int, padding_idx: int,
                      scale_grad_by_freq: bool) -> np.ndarray:
    dim = grad.shape[-1]
    idx = indices.reshape(-1)
    g = grad.reshape(idx.size, dim)
    out = np.zeros((num_weights, dim), dtype=grad.dtype)
    if padding_idx >= 0:
        keep = idx != padding_idx
        idx, g = idx[keep], g[keep]
    if idx.size == 0:
        return out
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    rows = s[starts]
    sums = np.add.reduceat(g[order], starts, axis=0)
    if scale_grad_by_freq:   # every index's count: its run length (padding rows dropped above, as torch)
        counts = np.diff(np.append(starts, s.size))
        sums = sums / counts[:, None].astype(sums.dtype)
    out[rows] = sums
    return out


def _np_row_factor(indices: np.ndarray, num_weights: int, padding_idx: int, scale_grad_by_freq: bool,
                   dtype) -> np.ndarray:
    f = (indices != padding_idx).astype(dtype)
    if scale_grad_by_freq:
        counts = np.bincount(indices.reshape(-1), minlength=num_weights)
        f = f / np.maximum(counts, 1)[indices].astype(dtype)
    return f


def _cuda(name: str):
    """The launcher ``name`` of ``backends/cuda_embedding.py``, imported (with CuPy) on first use."""
    def run(*args):
        from ..backends import cuda_embedding
        return getattr(cuda_embedding, name)(*args)
    run.__name__ = f"cupy_{name}"
    return run


# kernels/embedding.cu on CUDA
register("embedding_fwd", "numpy", _np_embedding_fwd)
register("embedding_fwd", "cupy", _cuda("embedding_fwd"))                 # gather rows
register("embedding_bwd", "numpy", _np_embedding_bwd)
register("embedding_bwd", "cupy", _cuda("embedding_bwd"))                 # atomicAdd rows
register("embedding_row_factor", "numpy", _np_row_factor)
register("embedding_row_factor", "cupy", _cuda("embedding_row_factor"))   # 0 at padding, 1/count
register("one_hot_fwd", "numpy", lambda idx, n: (idx[..., None] == np.arange(n)).astype(np.int64))
register("one_hot_fwd", "cupy", _cuda("one_hot_fwd"))


class Embedding(Function):
    """``weight[indices]``; the indices are saved, the weight is not (the backward needs its shape only)."""
    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight: Tensor, indices: Tensor, padding_idx: int, scale_grad_by_freq: bool,
                checked: bool) -> Tensor:
        ctx.save_for_backward(indices)
        ctx.opts = (weight.shape[0], padding_idx, scale_grad_by_freq)
        out = kernel("embedding_fwd", weight)(weight._data, indices._data, None if checked else _index_error)
        return Tensor._make(out, weight._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        (indices,) = ctx.saved_tensors
        return EmbeddingDenseBackward.apply(g, indices, *ctx.opts), None, None, None, None


class EmbeddingDenseBackward(Function):
    """The weight's gradient: rows of g added at their indices (linear in g)."""
    node_name = "EmbeddingDenseBackwardBackward0"

    @staticmethod
    def forward(ctx, g: Tensor, indices: Tensor, num_weights: int, padding_idx: int,
                scale_grad_by_freq: bool) -> Tensor:
        ctx.save_for_backward(indices)
        ctx.opts = (padding_idx, scale_grad_by_freq)
        gc = g if g.is_contiguous() else g.contiguous()
        out = kernel("embedding_bwd", g)(gc._data, indices._data, num_weights, padding_idx, scale_grad_by_freq)
        return Tensor._make(out, g._device)

    @staticmethod
    def backward(ctx, ggw: Tensor):
        """The adjoint: look the rows of ggw up again, with padding rows zeroed and each row
        divided by its index's count (the same factors the forward applied)."""
        (indices,) = ctx.saved_tensors
        padding_idx, scale = ctx.opts
        gg = Embedding.apply(ggw, indices, -1, False, True)
        if padding_idx >= 0 or scale:
            f = kernel("embedding_row_factor", indices)(indices._data, ggw.shape[0], padding_idx, scale,
                                                        ggw._data.dtype)
            gg = gg * Tensor._make(f[..., None], indices._device)
        return gg, None, None, None, None


def _check_indices(input: Tensor) -> None:
    if input.dtype.np.kind not in "iu" or input.dtype.np.itemsize not in (4, 8) or input.dtype.np.kind == "u":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {type_name(input)} instead (while checking arguments for "
                           f"embedding)")


def _padding_index(padding_idx: int, num: int) -> int:
    """``padding_idx`` in [0, num) (negatives count from the end), or PyTorch's AssertionError."""
    if not -num <= padding_idx < num:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx % num


def _renorm_(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescale (in place, no gradient) the referenced rows whose norm exceeds max_norm, as torch's
    ``embedding_renorm_``: scale = max_norm / (norm + 1e-7). Repeated indices write the same row
    (every copy is computed from the weight before the write), so no unique pass is needed."""
    with no_grad():
        idx = indices.reshape(-1)
        rows = weight.index_select(0, idx)
        norms = rows.norm(norm_type, dim=1, keepdim=True)
        scale = (max_norm / (norms + 1e-7)).clamp(max=1.0)
        weight.index_copy_(0, idx, rows * scale.to(rows.dtype))


@export(nn=True, function=False, method=False)
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer ``input``: shape ``input.shape + (dim,)``.
    No gradient reaches row ``padding_idx``; ``max_norm`` renormalises the referenced rows of
    ``weight`` in place first (PyTorch's behaviour)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("embedding(): argument 'input' and 'weight' must be Tensor")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    _check_indices(input)
    check_same_device(input, weight)
    if sparse:
        raise NotImplementedError(SPARSE_MESSAGE)
    padding_idx = -1 if padding_idx is None else _padding_index(padding_idx, weight.shape[0])
    indices = input if input.dtype.np.itemsize == 8 else input.long()
    checked = False
    if max_norm is not None:
        if indices.numel():
            lo, hi = int(indices.min().item()), int(indices.max().item())
            if lo < 0 or hi >= weight.shape[0]:
                raise _index_error(lo)
            _renorm_(weight, indices.contiguous(), float(max_norm), float(norm_type))
        checked = True
    return Embedding.apply(weight, indices.contiguous(), padding_idx, bool(scale_grad_by_freq), checked)


@export(nn=True, function=False, method=False)
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim of ``num_classes`` (-1: max + 1)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot(): argument 'input' (position 1) must be Tensor, not {type(tensor).__name__}")
    if tensor.dtype.np != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._data
    with on_device(tensor):
        if data.size == 0:
            if num_classes == -1:
                raise RuntimeError("Can not infer total number of classes from empty tensor.")
            n = num_classes
        else:
            lo, hi = int(data.min()), int(data.max())
            if lo < 0:
                raise RuntimeError("Class values must be non-negative.")
            if num_classes == -1:
                n = hi + 1
            else:
                if hi >= num_classes:
                    raise RuntimeError("Class values must be smaller than num_classes.")
                n = num_classes
    out = kernel("one_hot_fwd", tensor)(data, n)
    return Tensor._make(out, tensor._device)
