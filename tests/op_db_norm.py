"""Op table rows: the normalisation ops of ``ag.nn.functional`` (tests/test_nn_norm.py holds what a
row cannot express: running statistics, eval mode, modules, errors, float16).

References are the textbook formulas in float64 NumPy, cast back to the input's dtype. Batch norm
rows use batch statistics without running buffers (those would be differentiable inputs here).
"""
from __future__ import annotations

import numpy as np

from op_db import FLOAT, Arr, Domain, OpInfo, S, cases

POS = Domain(0.5, 1.5)


def _f64(fn):
    def ref(x, *args, **kwargs):
        up = [a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args]
        kw = {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        return np.asarray(fn(x.astype(np.float64), *up, **kw)).astype(x.dtype)
    return ref


def _normalize(x, axes, eps, rms=False):
    m = 0.0 if rms else x.mean(axes, keepdims=True)
    return (x - m) / np.sqrt(((x - m) ** 2).mean(axes, keepdims=True) + eps)


def _affine(y, w, b, cshape):
    if w is not None:
        y = y * w.reshape(cshape)
    return y + b.reshape(cshape) if b is not None else y


def _np_layer_norm(x, shape, weight=None, bias=None, eps=1e-5):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    y = _normalize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    return _affine(y, weight, bias, shape)


def _np_rms_norm(x, shape, weight=None, eps=None):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    y = _normalize(x, tuple(range(x.ndim - len(shape), x.ndim)), np.finfo(np.float64).eps if eps is None else eps,
                   rms=True)
    return y * weight if weight is not None else y


def _np_batch_norm(x, rm, rv, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    y = _normalize(x, (0,) + tuple(range(2, x.ndim)), eps)
    return _affine(y, weight, bias, (1, -1) + (1,) * (x.ndim - 2))


def _np_group_norm(x, G, weight=None, bias=None, eps=1e-5):
    y = _normalize(x.reshape(x.shape[0], G, -1), (2,), eps).reshape(x.shape)
    return _affine(y, weight, bias, (1, -1) + (1,) * (x.ndim - 2))


def _np_instance_norm(x, rm=None, rv=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5):
    y = _normalize(x, tuple(range(2, x.ndim)), eps)
    return _affine(y, weight, bias, (1, -1) + (1,) * (x.ndim - 2))


def _ref(fn):
    return _f64(fn)


LN = cases([S(Arr((3, 5)), (5,), Arr((5,), POS), Arr((5,))), S(Arr((2, 3, 4)), (3, 4), Arr((3, 4), POS), Arr((3, 4))),
            S(Arr((2, 3, 4)), [4]), S(Arr((4, 6)), (6,), Arr((6,), POS), None, eps=1e-3),
            S(Arr((2, 2, 3)), (3,), None, Arr((3,)), eps=0.1)],
           empty=[S(Arr((0, 4)), (4,), Arr((4,), POS), Arr((4,)))])
RMS = cases([S(Arr((3, 5)), (5,), Arr((5,), POS)), S(Arr((2, 3, 4)), (3, 4), Arr((3, 4), POS), eps=1e-3),
             S(Arr((2, 4)), [4], None, eps=1e-6)])
BN = cases([S(Arr((4, 3)), None, None, Arr((3,), POS), Arr((3,)), training=True),
            S(Arr((3, 2, 4)), None, None, Arr((2,), POS), Arr((2,)), True, 0.1, 1e-3),
            S(Arr((2, 3, 2, 2)), None, None, None, None, training=True),
            S(Arr((2, 2, 2, 1, 3)), None, None, Arr((2,), POS), None, training=True)])
GN = cases([S(Arr((2, 6, 3)), 3, Arr((6,), POS), Arr((6,))), S(Arr((3, 4)), 2, Arr((4,), POS), Arr((4,)), 1e-3),
            S(Arr((2, 4, 2, 2)), 1), S(Arr((2, 4, 3)), 4, None, Arr((4,)))])
IN = cases([S(Arr((2, 3, 4))), S(Arr((2, 3, 2, 3)), None, None, Arr((3,), POS), Arr((3,))),
            S(Arr((3, 2, 5)), weight=Arr((2,), POS), eps=1e-3)])

ROWS = [
    OpInfo("layer_norm", _ref(_np_layer_norm), LN, dtypes=FLOAT),
    OpInfo("rms_norm", _ref(_np_rms_norm), RMS, dtypes=FLOAT),
    OpInfo("batch_norm", _ref(_np_batch_norm), BN, dtypes=FLOAT),
    OpInfo("group_norm", _ref(_np_group_norm), GN, dtypes=FLOAT),
    OpInfo("instance_norm", _ref(_np_instance_norm), IN, dtypes=FLOAT),
]
