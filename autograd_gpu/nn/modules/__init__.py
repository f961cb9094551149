"""The layers of ``ag.nn``, one module per family as in PyTorch's ``torch/nn/modules``; each family
lists its layers in its own ``__all__``."""
from . import (activation, batchnorm, container, conv, dropout, flatten, fold, linear, loss, module,
               normalization, pooling, rnn, sparse, transformer,
               upsampling)

_FAMILIES = (module, container, activation, linear, flatten, sparse, conv, fold, pooling, upsampling,
             normalization, batchnorm, dropout, rnn, transformer, loss)
__all__ = [name for fam in _FAMILIES for name in fam.__all__]
globals().update({name: getattr(fam, name) for fam in _FAMILIES for name in fam.__all__})
