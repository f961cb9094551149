"""``ag.nn.functional``: ops PyTorch exposes only here, plus the shared ones users expect here too."""
from __future__ import annotations

from ..ops.activation import NN_FUNCTIONAL as _ACT
from ..ops import activation as _activation
from ..ops import unary as _unary
from ..ops import reduce as _reduce
from ..ops import shape as _shape

for _name in _ACT:
    globals()[_name] = getattr(_activation, _name)
pad = _shape.pad
relu = _unary.relu
sigmoid = _unary.sigmoid
tanh = _unary.tanh
softmax = _reduce.softmax
log_softmax = _reduce.log_softmax

__all__ = list(_ACT) + ["pad", "relu", "sigmoid", "tanh", "softmax", "log_softmax"]
