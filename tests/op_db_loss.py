"""Op table rows: the losses of ``ag.nn.functional`` (tests/test_nn_loss.py holds what a row cannot
express: weights that must not require grad, ignore_index, errors, warnings, modules).

References are the textbook formulas in float64 NumPy, cast back to the input's dtype. Class-index
targets are ``Idx`` (int64); float targets are drawn like inputs and so also get gradients.
"""
from __future__ import annotations

import numpy as np

from op_db import FLOAT, Arr, Domain, Idx, OpInfo, S, cases

PROB = Domain(0.1, 0.9)
POS = Domain(0.5, 2.0)


def _f64(fn):
    def ref(*args, **kwargs):
        dt = next(a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f")
        args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
        return np.asarray(fn(*args, **kwargs)).astype(dt)
    return ref


def _reduce(loss, reduction="mean"):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _moved(x):
    """(N, C, d...) -> (N, d..., C); (C,) stays."""
    return np.moveaxis(x, 1, -1) if x.ndim > 1 else x


def _log_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _np_nll(logp, t, reduction="mean", ignore_index=-100):
    lp = _moved(logp)
    valid = t != ignore_index
    picked = np.take_along_axis(lp, np.where(valid, t, 0)[..., None], -1)[..., 0]
    loss = np.where(valid, -picked, 0.0)
    if reduction == "mean":
        return loss.sum() / valid.sum()
    return _reduce(loss, reduction)


def _np_cross_entropy(x, t, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    lp = _log_softmax(_moved(x))
    C = lp.shape[-1]
    if t.dtype.kind == "f":
        y = _moved(t) * (1 - label_smoothing) + label_smoothing / C
        loss = -(y * lp).sum(-1)
        return _reduce(loss, reduction)
    valid = t != ignore_index
    nll = np.where(valid, -np.take_along_axis(lp, np.where(valid, t, 0)[..., None], -1)[..., 0], 0.0)
    smooth = np.where(valid, -lp.sum(-1), 0.0)
    loss = (1 - label_smoothing) * nll + label_smoothing / C * smooth
    return loss.sum() / valid.sum() if reduction == "mean" else _reduce(loss, reduction)


def _np_logsigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _np_smooth_l1(x, y, reduction="mean", beta=1.0):
    d = np.abs(x - y)
    return _reduce(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def _np_huber(x, y, reduction="mean", delta=1.0):
    d = np.abs(x - y)
    return _reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def _np_bce(x, y, reduction="mean"):
    return _reduce(-(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100)), reduction)


def _np_bce_logits(x, y, reduction="mean", pos_weight=None):
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
    return _reduce((1 - y) * x - lw * _np_logsigmoid(x), reduction)


def _np_kl_div(x, y, reduction="mean", log_target=False):
    loss = np.exp(y) * (y - x) if log_target else y * (np.log(y) - x)
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _reduce(loss, reduction)


def _np_poisson(x, y, log_input=True, full=False, reduction="mean"):
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + 1e-8)
    if full:
        loss = loss + np.where(y > 1, y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y), 0)
    return _reduce(loss, reduction)


def _np_gaussian(x, y, var, full=False, reduction="mean"):
    v = np.maximum(var, 1e-6)
    loss = 0.5 * (np.log(v) + (x - y) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0)
    return _reduce(loss, reduction)


def _np_margin_ranking(x1, x2, y, margin=0.0, reduction="mean"):
    return _reduce(np.maximum(0, -y * (x1 - x2) + margin), reduction)


def _np_hinge(x, y, margin=1.0, reduction="mean"):
    return _reduce(np.where(y != 1, np.maximum(0, margin - x), 0) + np.where(y != -1, x, 0), reduction)


def _np_cosine(x1, x2, y, margin=0.0, reduction="mean"):
    cos = (x1 * x2).sum(-1) / np.sqrt(((x1 * x1).sum(-1) + 1e-12) * ((x2 * x2).sum(-1) + 1e-12))
    return _reduce(np.where(y == 1, 1 - cos, np.where(y == -1, np.maximum(0, cos - margin), 0)), reduction)


def _np_triplet(a, p, n, margin=1.0, p_norm=2, eps=1e-6, swap=False, reduction="mean"):
    def dist(u, v):
        return (np.abs(u - v + eps) ** p_norm).sum(-1) ** (1 / p_norm)
    dn = dist(a, n)
    if swap:
        dn = np.minimum(dn, dist(p, n))
    return _reduce(np.maximum(margin + dist(a, p) - dn, 0), reduction)


def _np_multi_margin(x, t, p=1, margin=1.0, reduction="mean"):
    xy = np.take_along_axis(x, t[:, None], 1)
    z = np.maximum(0, margin - xy + x) ** p
    z[np.arange(x.shape[0]), t] = 0
    return _reduce(z.sum(1) / x.shape[1], reduction)


def _np_multilabel_soft(x, y, reduction="mean"):
    loss = -(y * _np_logsigmoid(x) + (1 - y) * _np_logsigmoid(-x))
    return _reduce(loss.mean(-1), reduction)


X = Arr((4, 5))
REDS = ("mean", "sum", "none")
CE = cases([S(X, Idx((4,), 5), reduction=r) for r in REDS]
           + [S(X, Idx((4,), 5), label_smoothing=0.2), S(Arr((2, 3, 2, 2)), Idx((2, 2, 2), 3)),
              S(Arr((2, 3, 4)), Idx((2, 4), 3), reduction="none", label_smoothing=0.1),
              S(X, Arr((4, 5), Domain(0.05, 1.0))), S(X, Arr((4, 5), Domain(0.05, 1.0)), label_smoothing=0.3,
                                                      reduction="none")],
           empty=[S(Arr((0, 5)), Idx((0,), 5), reduction="sum")])
NLL = cases([S(X, Idx((4,), 5), reduction=r) for r in REDS] + [S(Arr((2, 3, 2, 2)), Idx((2, 2, 2), 3)),
                                                               S(Arr((2, 3, 4)), Idx((2, 4), 3), reduction="none")])


def _pair(dom_x=Domain(-2.0, 2.0), dom_y=Domain(-2.0, 2.0), variants=(S(reduction="mean"), S(reduction="sum"),
                                                                      S(reduction="none"))):
    return cases([S(Arr((3, 4), dom_x), Arr((3, 4), dom_y), *a, **k) for a, k in variants],
                 empty=[S(Arr((0, 4), dom_x), Arr((0, 4), dom_y), reduction="sum")])


KINKS = Domain(-2.0, 2.0, margin=0.1)
ROWS = [
    OpInfo("cross_entropy", _f64(_np_cross_entropy), CE, dtypes=FLOAT, supports_noncontiguous=True),
    OpInfo("nll_loss", _f64(_np_nll), NLL, dtypes=FLOAT),
    OpInfo("mse_loss", _f64(lambda x, y, reduction="mean": _reduce((x - y) ** 2, reduction)), _pair(), dtypes=FLOAT),
    OpInfo("l1_loss", _f64(lambda x, y, reduction="mean": _reduce(np.abs(x - y), reduction)),
           _pair(Domain(-2.0, -0.2), Domain(0.2, 2.0)), dtypes=FLOAT),
    OpInfo("smooth_l1_loss", _f64(_np_smooth_l1), _pair(Domain(-1.5, 0.0), Domain(0.05, 1.5),
                                                       (S(), S(reduction="none", beta=0.5), S(beta=0.0))),
           dtypes=FLOAT),
    OpInfo("huber_loss", _f64(_np_huber), _pair(Domain(-1.5, 0.0), Domain(0.05, 1.5),
                                               (S(), S(reduction="none", delta=0.7), S(reduction="sum"))),
           dtypes=FLOAT),
    OpInfo("binary_cross_entropy", _f64(_np_bce), _pair(PROB, PROB), dtypes=FLOAT),
    OpInfo("binary_cross_entropy_with_logits", _f64(_np_bce_logits),
           cases([S(Arr((3, 4), Domain(-3.0, 3.0)), Arr((3, 4), PROB), reduction=r) for r in REDS]
                 ), dtypes=FLOAT),
    OpInfo("kl_div", _f64(_np_kl_div), _pair(Domain(-2.0, 0.0), PROB, (S(reduction="batchmean"), S(reduction="sum"),
                                                                      S(reduction="none"), S(reduction="sum",
                                                                                             log_target=True))),
           dtypes=FLOAT),
    OpInfo("soft_margin_loss", _f64(lambda x, y, reduction="mean": _reduce(-_np_logsigmoid(x * y), reduction)),
           cases([S(Arr((3, 4)), Idx((3, 4), 2, neg=True), reduction=r) for r in REDS]), dtypes=FLOAT),
    OpInfo("poisson_nll_loss", _f64(_np_poisson), _pair(Domain(0.2, 2.0), Domain(0.0, 3.0), (
        S(), S(log_input=False, reduction="none"), S(full=True, reduction="sum"))), dtypes=FLOAT),
    OpInfo("gaussian_nll_loss", _f64(_np_gaussian), cases([
        S(Arr((3, 4)), Arr((3, 4)), Arr((3, 4), POS)), S(Arr((3, 4)), Arr((3, 4)), Arr((3, 1), POS), full=True),
        S(Arr((3, 4)), Arr((3, 4)), Arr((3, 4), POS), reduction="none")]), dtypes=FLOAT),
    OpInfo("margin_ranking_loss", _f64(_np_margin_ranking), cases([
        S(Arr((5,)), Arr((5,), Domain(1.5, 3.0)), Arr((5,), Domain(0.3, 1.0)), margin=0.1),
        S(Arr((5,)), Arr((5,), Domain(1.5, 3.0)), Arr((5,), Domain(-1.0, -0.3)), reduction="none")]), dtypes=FLOAT),
    OpInfo("hinge_embedding_loss", _f64(_np_hinge), cases([
        S(Arr((3, 4), Domain(-0.8, 0.8)), Arr((3, 4), Domain(-1.0, 1.0, grid=1.0)), reduction=r) for r in REDS]),
           dtypes=FLOAT),
    OpInfo("cosine_embedding_loss", _f64(_np_cosine), cases([
        S(Arr((4, 3)), Arr((4, 3)), Idx((4,), 2, neg=True), margin=m, reduction=r)
        for m, r in ((-1.5, "mean"), (-1.5, "none"), (0.0, "sum"))]), dtypes=FLOAT),
    OpInfo("triplet_margin_loss", _f64(lambda a, p, n, margin=1.0, p_norm=2, swap=False, reduction="mean":
                                       _np_triplet(a, p, n, margin, p_norm, 1e-6, swap, reduction)), cases([
        S(Arr((3, 4)), Arr((3, 4)), Arr((3, 4)), margin=3.0), S(Arr((3, 4)), Arr((3, 4)), Arr((3, 4)), margin=3.0,
                                                                swap=True, reduction="none")]), dtypes=FLOAT),
    OpInfo("multi_margin_loss", _f64(_np_multi_margin), cases([
        S(Arr((4, 5), Domain(-0.3, 0.3)), Idx((4,), 5), reduction=r) for r in REDS]
        + [S(Arr((4, 5), Domain(-0.3, 0.3)), Idx((4,), 5), p=2, margin=2.0)]), dtypes=FLOAT),
    OpInfo("multilabel_soft_margin_loss", _f64(_np_multilabel_soft), cases([
        S(Arr((3, 4)), Arr((3, 4), PROB), reduction=r) for r in REDS]), dtypes=FLOAT),
]
