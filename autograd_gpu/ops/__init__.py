"""All ops. Importing a family module runs its declarations, which fill ``registry``; the
layers below (autograd, engine, the Tensor itself) get the few ops they call through
``dispatch.provide``."""
from .. import dispatch as _dispatch
from . import registry
from . import (activation, arithmetic, bitwise, broadcast, compare, copy, creation, extrema, gelu,  # noqa: F401
               gather_scatter, index, inplace, join, layout, linalg, masked, padding, rearrange, reduce, scan, shape,
               scatter_reduce, softmaxes, sorting, special, take_put, unary)
from . import (attention, conv, dropout, embedding, fold, interpolate, linear, loss, normalization,  # noqa: F401
               pooling, sampling)

for _name, _fn in (("tensor", creation.tensor), ("rebuild", creation._rebuild), ("clone", copy.clone),
                   ("zeros_like", creation.zeros_like), ("ones_like", creation.ones_like),
                   ("zeros_from_meta", creation.zeros_from_meta), ("sum_to_shape", broadcast.sum_to_shape)):
    _dispatch.provide(_name, _fn)
globals().update(registry.FUNCTIONS)
__all__ = sorted(registry.FUNCTIONS)
