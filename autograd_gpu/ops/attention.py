"""``F.scaled_dot_product_attention`` and ``F.multi_head_attention_forward``.

Without dropout, SDPA is one node (``_Attention``): forward is two batched GEMMs around a row
softmax, with the scale, the mask and the softmax applied in place to the scores (ours, fresh from
the GEMM). It saves q, k, v, the mask and two numbers per row, not the (L, S) probabilities:
backward recomputes them with one more GEMM (as flash attention does), then runs three or four
GEMMs and the softmax backward in buffers it owns. Under ``create_graph`` the backward is made of
differentiable ops instead, so double backward is exact. With dropout, SDPA is the composition of
differentiable ops it always was. The semantics are those of PyTorch's math backend: masks
broadcast, bool masks mean "may attend", ``is_causal`` is a top-left aligned ``tril``, and a row
with every key masked gives zeros in SDPA (PyTorch's ``_safe_softmax``) but NaN in the weights
path of MHA (plain softmax).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..dtypes import bool as _BOOL, float32 as _F32
from ..tensor import Tensor
from ._common import check_same_device, kernel, on_device
from .creation import ones, zeros
from .join import cat
from .linalg import matmul
from .linear import linear
from .registry import export
from .softmaxes import SoftmaxBackward, softmax

_INF = float("-inf")
_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
            "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool"}


def _c(dtype) -> str:
    """PyTorch's C++ spelling of a dtype in SDPA's messages."""
    name = str(dtype).rsplit(".", 1)[-1]
    return _C_NAMES.get(name, name)


def _additive(mask: Tensor, dtype) -> Tensor:
    """A bool mask (True = attend) as the additive float mask PyTorch's math backend builds: 0 / -inf."""
    return zeros(tuple(mask.shape), dtype=dtype, device=mask.device).masked_fill(mask.logical_not(), _INF)


def _check_sdpa(query: Tensor, key: Tensor, value: Tensor, attn_mask, dropout_p: float, is_causal: bool) -> None:
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_c(query.dtype)} key.dtype: {_c(key.dtype)} and value.dtype: {_c(value.dtype)} instead.")
    if not (query.device == key.device == value.device):
        raise RuntimeError(f"Expected query, key, and value to have the same device type, but got query.device: "
                           f"{query.device} key.device: {key.device} and value.device: {value.device} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} instead.")
    if attn_mask is not None:
        if attn_mask.dtype not in (query.dtype, _BOOL, _F32):
            raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                               f"attn_mask.dtype: {_c(attn_mask.dtype)} and  query.dtype: {_c(query.dtype)} instead.")
        check_same_device(query, attn_mask)
        if is_causal:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")


def _repeat_heads(t: Tensor, groups: int) -> Tensor:
    """``t.repeat_interleave(groups, dim=-3)`` as one expand and one copy."""
    shape = tuple(t.shape)
    return t.unsqueeze(-3).expand(*shape[:-2], groups, *shape[-2:]).reshape(
        *shape[:-3], shape[-3] * groups, *shape[-2:])


@export(nn=True, function=False, method=False)
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` over (..., L, E), (..., S, E), (..., S, Ev); PyTorch's math
    backend: dropout applies whenever ``dropout_p > 0`` (the caller passes 0 in eval)."""
    _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal)
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError(f"Number of heads in key and value must divide the number of heads in query, "
                               f"got query heads {hq}, key heads {hk} and value heads {hv}")
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hv)
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if attn_mask is not None and attn_mask.dtype not in (_BOOL, query.dtype):
        attn_mask = attn_mask.to(query.dtype)
    if dropout_p > 0.0:
        from .dropout import dropout
        return matmul(dropout(_probs(query, key, attn_mask, is_causal, s), dropout_p, training=True), value)
    return _Attention.apply(query, key, value, attn_mask, bool(is_causal), float(s))


def _probs(query: Tensor, key: Tensor, mask: Tensor | None, is_causal: bool, s: float) -> Tensor:
    """softmax(q k^T * s + mask) from differentiable ops (the dropout path, and _Attention's
    backward under create_graph); rows whose every key is masked give 0, with a zero gradient."""
    L, S = query.shape[-2], key.shape[-2]
    scores = matmul(query * s, key.transpose(-2, -1))   # scaling q (L*E values) costs less than the scores
    full = None
    if is_causal:
        causal = ones(L, S, dtype=_BOOL, device=query.device).tril()
        scores = scores.masked_fill(causal.logical_not(), _INF)
    elif mask is not None:
        m = _additive(mask, query.dtype) if mask.dtype == _BOOL else mask
        scores = scores + m
        # rows whose every key is masked: PyTorch's safe softmax gives 0 (and a zero gradient) there
        full = (m == _INF).all(-1, keepdim=True)
        if not bool(full.any()):
            full = None
        else:
            scores = scores.masked_fill(full, 0.0)
    attn = softmax(scores, -1)
    return attn if full is None else attn.masked_fill(full, 0.0)


def _mask_scores(xp, scores, mask, is_causal: bool):
    """Apply the causal or given mask to ``scores`` (ours) in place; a new array only when the mask
    has more batch dims than the scores. bool masks: True = may attend."""
    if is_causal:   # adding a 0 / -inf triangle: a plain broadcast add, faster than a masked copy
        L, S = scores.shape[-2:]
        scores += xp.triu(xp.full((L, S), _INF, scores.dtype), 1)
        return scores
    if mask is None:
        return scores
    shape = np.broadcast_shapes(scores.shape, mask.shape)
    if shape != scores.shape:
        scores = xp.ascontiguousarray(xp.broadcast_to(scores, shape))
    if mask.dtype == bool:
        xp.copyto(scores, _INF, where=~mask)
    else:
        scores += mask
    return scores


def _scores(xp, q, k, mask, is_causal: bool, scale: float):
    """q k^T * scale with the mask applied, in place in the GEMM's result (ours)."""
    s = kernel("matmul_fwd", q)(q._data, xp.swapaxes(k._data, -1, -2))
    s *= scale
    return _mask_scores(xp, s, None if mask is None else mask._data, is_causal)


def _row_sums(xp, mm, s):
    """Sums over the last axis as a GEMM with a ones vector: a short-row reduction that NumPy's
    ``sum`` makes several times slower."""
    return mm(s, xp.ones((s.shape[-1], 1), s.dtype))


def _normalize_rows(xp, mm, s, redo, stats=None):
    """softmax over the last axis of the scores ``s``, in place; returns ``(shift, sum, full)`` so
    that a second call with them repeats the same operations (bit-identical probabilities). The
    shift is the global max, one fast reduction instead of a max per row: exp(s - shift) cannot
    overflow, and a row far enough below it to lose precision (its sum under tiny / eps) sends
    every row to its own max, on fresh scores from ``redo()``. ``full``: the rows whose every key
    is masked (they give 0, PyTorch's safe softmax), or None."""
    if stats is None:
        rows = s.shape[:-1] + (1,)
        top = s.max() if s.size else None
        if top is not None and bool(xp.isfinite(top)):
            m = xp.full(rows, top, s.dtype)
            s -= m
            xp.exp(s, out=s)
            r = _row_sums(xp, mm, s)
            fi = np.finfo(s.dtype)
            low = r < fi.tiny / fi.eps
            if not low.any():
                s /= r
                return m, r, None
            s[...] = redo()
        m = s.max(-1, keepdims=True) if s.size else xp.zeros(rows, s.dtype)
        s -= m
        xp.exp(s, out=s)
        r = _row_sums(xp, mm, s)
        full = m == _INF
        stats = m, r, (full if full.any() else None)
    else:
        s -= stats[0]
        xp.exp(s, out=s)
    s /= stats[1]
    if stats[2] is not None:
        xp.copyto(s, 0, where=stats[2])
    return stats


def _softmax_grad_(xp, dp, p):
    """dp <- p (dp - sum(dp p)) over the last axis, in place in dp (ours)."""
    dp -= xp.einsum("...ij,...ij->...i", dp, p)[..., None]
    dp *= p
    return dp


class _Attention(Function):
    """``softmax(q k^T * scale + mask) v`` as one node. It saves q, k, v, the mask and each row's
    shift and sum: backward recomputes the probabilities (one GEMM, as flash attention does) rather
    than keeping an (L, S) matrix per head alive from forward to backward."""
    node_name = "ScaledDotProductAttentionBackward0"

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, is_causal: bool, scale: float) -> Tensor:
        xp = q._device.backend.xp
        with on_device(q), np.errstate(invalid="ignore"):
            mm = kernel("matmul_fwd", q)
            p = _scores(xp, q, k, mask, is_causal, scale)
            ctx.stats = _normalize_rows(xp, mm, p, lambda: _scores(xp, q, k, mask, is_causal, scale))
            out = mm(p, v._data)
        ctx.is_causal, ctx.scale = is_causal, scale
        ctx.save_for_backward(q, k, v, mask)
        return Tensor._make(out, q._device)

    @staticmethod
    def backward(ctx, g: Tensor):
        q, k, v, mask = ctx.saved_tensors
        need, scale = ctx.needs_input_grad, ctx.scale
        if is_grad_enabled():   # create_graph: differentiable ops
            p = _probs(q, k, mask, ctx.is_causal, scale)
            gv = matmul(p.mT, g) if need[2] else None
            gq = gk = gm = None
            if need[0] or need[1] or need[3]:
                ds = SoftmaxBackward.apply(matmul(g, v.mT), p, p.ndim - 1)
                gq = matmul(ds, k) * scale if need[0] else None
                gk = matmul(ds.mT, q) * scale if need[1] else None
                gm = ds if need[3] else None
            return gq, gk, gv, gm, None, None
        xp, mm, dev = q._device.backend.xp, kernel("matmul_fwd", q), q._device
        gq = gk = gv = gm = None
        with on_device(q), np.errstate(invalid="ignore"):
            p = _scores(xp, q, k, mask, ctx.is_causal, scale)
            _normalize_rows(xp, mm, p, None, ctx.stats)
            gd = g._data
            if need[2]:
                gv = Tensor._make(mm(xp.swapaxes(p, -1, -2), gd), dev)
            if need[0] or need[1] or need[3]:
                ds = _softmax_grad_(xp, mm(gd, xp.swapaxes(v._data, -1, -2)), p)
                del p
                if need[0]:
                    gq = mm(ds, k._data)
                    gq *= scale
                    gq = Tensor._make(gq, dev)
                if need[1]:
                    gk = mm(xp.swapaxes(ds, -1, -2), q._data)
                    gk *= scale
                    gk = Tensor._make(gk, dev)
                if need[3]:
                    gm = Tensor._make(ds, dev)
        return gq, gk, gv, gm, None, None


# multi-head attention ----------------------------------------------------------------------------
def _canonical_mask(mask: Tensor | None, mask_name: str, other_type, other_name: str, target_type,
                    check_other: bool = True) -> Tensor | None:
    """PyTorch's rule: bool masks become additive float masks (-inf where True = masked out)."""
    if mask is None:
        return None
    is_bool = mask.dtype == _BOOL
    if not is_bool and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if is_bool:
        return zeros(tuple(mask.shape), dtype=target_type, device=mask.device).masked_fill(mask, _INF)
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but "
                                 f"found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.ndim}-D tensor instead")
            if attn_mask.ndim == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query tensor")


def _in_projection(query, key, value, w, b, wq=None, wk=None, wv=None):
    """q, k, v projections; self-attention with packed weights is one GEMM (PyTorch's packed path)."""
    E = query.shape[-1]
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = b.chunk(3)
    if wq is None:
        if key is value and query is key:
            proj = linear(query, w, b).unflatten(-1, (3, E))
            return proj.select(-2, 0), proj.select(-2, 1), proj.select(-2, 2)
        wq, wk, wv = w.chunk(3)
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def _pad_last(t: Tensor) -> Tensor:
    """PyTorch's ``pad(mask, (0, 1))``: one zero column appended (the added key is visible)."""
    return cat([t, zeros(tuple(t.shape[:-1]) + (1,), dtype=t.dtype, device=t.device)], -1)


@export(nn=True, function=False, method=False)
def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
                                 bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None, need_weights: bool = True,
                                 attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
                                 static_v: Tensor | None = None, average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """PyTorch's ``F.multi_head_attention_forward``: inputs (L, N, E) (or unbatched (L, E)); returns
    the output and, with ``need_weights``, the attention weights (averaged over heads by default)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       None if attn_mask is None else attn_mask.dtype, "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None    # the hint alone drives SDPA
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight is None")
        q, k, v = _in_projection(query, key, value, None, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = None if attn_mask is None else _pad_last(attn_mask)
        key_padding_mask = None if key_padding_mask is None else _pad_last(key_padding_mask)
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz * num_heads, head_dim)
    v = _heads(v, static_v, "static_v", bsz * num_heads, head_dim)
    if add_zero_attn:
        k = cat([k, zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)], 1)
        v = cat([v, zeros((bsz * num_heads, 1, head_dim), dtype=v.dtype, device=v.device)], 1)
        attn_mask = None if attn_mask is None else _pad_last(attn_mask)
        key_padding_mask = None if key_padding_mask is None else _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got {key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1).reshape(
            bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        scores = matmul(q * math.sqrt(1.0 / float(head_dim)), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            from .dropout import dropout
            weights = dropout(weights, dropout_p)
        out = matmul(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 and attn_mask.ndim == 3 else \
            attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not is_batched:
        out = out.squeeze(1)
    return out, None


def _heads(t: Tensor, static: Tensor | None, name: str, bh: int, head_dim: int) -> Tensor:
    """(S, N, E) -> (N*H, S, head_dim), or the caller's precomputed ``static_k``/``static_v``."""
    if static is None:
        return t.reshape(t.shape[0], bh, head_dim).transpose(0, 1)
    if static.shape[0] != bh:
        raise AssertionError(f"expecting {name}.size(0) of {bh}, but got {static.shape[0]}")
    if static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {static.shape[2]}")
    return static
