"""Op table rows: ``F.scaled_dot_product_attention`` (plain, causal, scaled, float and bool masks,
grouped-query heads) and ``F.multi_head_attention_forward`` (packed and separate projections,
float masks, bias_k/bias_v, zero attention, per-head weights). The table cannot compare the
``None`` weights of ``need_weights=False``: tests/test_nn_attention.py covers that path.

The references are written out in NumPy; a row whose every key is masked gives 0 in SDPA
(PyTorch's safe softmax). MHA samples use finite float masks only: its weights path gives NaN
on fully masked rows (as PyTorch's), which gradcheck cannot take."""
from __future__ import annotations

import numpy as np

from op_db import Arr, Mask, OpInfo, S, cases


def _np_softmax(s):
    with np.errstate(invalid="ignore"):
        e = np.exp(s - s.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)


def _np_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if enable_gqa and q.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    s = (1 / np.sqrt(q.shape[-1]) if scale is None else scale) * (q @ np.swapaxes(k, -1, -2))
    L, S_ = q.shape[-2], k.shape[-2]
    if is_causal:
        attn_mask = np.tril(np.ones((L, S_), bool))
    if attn_mask is not None:
        add = np.where(attn_mask, 0.0, -np.inf) if attn_mask.dtype == bool else attn_mask
        s = s + add
    p = _np_softmax(s)
    p = np.where(np.isneginf(s).all(-1, keepdims=True), 0.0, p)
    return (p @ v).astype(q.dtype)


def _np_mha(q, k, v, E, H, w_in, b_in, bias_k, bias_v, add_zero_attn, dropout_p, w_out, b_out, training=True,
            key_padding_mask=None, need_weights=True, attn_mask=None, use_separate_proj_weight=False,
            q_proj_weight=None, k_proj_weight=None, v_proj_weight=None, average_attn_weights=True,
            is_causal=False):
    L, N, _ = q.shape
    d = E // H
    wq, wk, wv = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else np.split(w_in, 3)
    bq, bk, bv = np.split(b_in, 3) if b_in is not None else (0, 0, 0)
    Q, K, V = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv
    if bias_k is not None:
        K = np.concatenate([K, np.broadcast_to(bias_k, (1, N, E))])
        V = np.concatenate([V, np.broadcast_to(bias_v, (1, N, E))])
    heads = lambda t: t.reshape(t.shape[0], N * H, d).transpose(1, 0, 2)  # noqa: E731
    Q, K, V = heads(Q), heads(K), heads(V)
    if add_zero_attn:
        K = np.concatenate([K, np.zeros((N * H, 1, d), K.dtype)], 1)
        V = np.concatenate([V, np.zeros((N * H, 1, d), V.dtype)], 1)
    S_ = K.shape[1]
    mask = np.zeros((N * H, L, S_), q.dtype)
    if attn_mask is not None:
        mask[..., :attn_mask.shape[-1]] += attn_mask
    if key_padding_mask is not None:
        mask[..., :key_padding_mask.shape[-1]] += np.repeat(key_padding_mask, H, 0)[:, None, :]
    p = _np_softmax(Q @ K.transpose(0, 2, 1) / np.sqrt(d) + mask)
    out = (p @ V).transpose(1, 0, 2).reshape(L, N, E) @ w_out.T + (0 if b_out is None else b_out)
    if not need_weights:
        return out.astype(q.dtype), None
    w = p.reshape(N, H, L, S_)
    return out.astype(q.dtype), (w.mean(1) if average_attn_weights else w).astype(q.dtype)


Q, K, V = Arr((2, 3, 4)), Arr((2, 5, 4)), Arr((2, 5, 3))
E, H = 4, 2
W_IN, B_IN, W_OUT, B_OUT = Arr((3 * E, E)), Arr((3 * E,)), Arr((E, E)), Arr((E,))
MQ, MK = Arr((3, 2, E)), Arr((5, 2, E))


def _mha(q, k, *extra, **kw):
    """A sample of multi_head_attention_forward: query (3, 2, 4), key = value (5, 2, 4), 2 heads."""
    w_in, b_in, bk, bv, zero = extra or (W_IN, B_IN, None, None, False)
    return S(q, k, k, E, H, w_in, b_in, bk, bv, zero, 0.0, W_OUT, B_OUT, **{"training": False, **kw})


ROWS = [
    OpInfo("scaled_dot_product_attention", _np_sdpa, cases([
        S(Q, K, V), S(Q, K, V, is_causal=True), S(Q, K, V, Arr((3, 5)), scale=0.5), S(Q, K, V, Mask((3, 5))),
        S(Arr((2, 2, 3, 4)), Arr((2, 2, 5, 4)), Arr((2, 2, 5, 2)), Mask((2, 1, 3, 5))),
        S(Arr((1, 4, 3, 2)), Arr((1, 2, 5, 2)), Arr((1, 2, 5, 3)), enable_gqa=True),
        S(Arr((2, 1, 4, 3)), Arr((1, 3, 2, 3)), Arr((2, 3, 2, 2)), is_causal=True)]),   # L > S, batch broadcast
        torch="nn.functional.scaled_dot_product_attention"),
    OpInfo("multi_head_attention_forward", _np_mha, cases([
        _mha(MQ, MK), _mha(MQ, MK, attn_mask=Arr((3, 5)), average_attn_weights=False),
        _mha(MQ, MK, key_padding_mask=Arr((2, 5))),
        _mha(MQ, MK, W_IN, B_IN, Arr((1, 1, E)), Arr((1, 1, E)), True, key_padding_mask=Arr((2, 5)),
             attn_mask=Arr((4, 3, 5))),
        _mha(MQ, Arr((5, 2, 3)), None, None, None, None, False, use_separate_proj_weight=True,
             q_proj_weight=Arr((E, E)), k_proj_weight=Arr((E, 3)), v_proj_weight=Arr((E, 3)))]),
        torch="nn.functional.multi_head_attention_forward"),
]
