"""``ag.nn.functional``: the ops declared ``nn=True`` (PyTorch exposes some only here)."""
from __future__ import annotations

from ..ops import registry as _registry

globals().update(_registry.NN_FUNCTIONAL)
__all__ = sorted(_registry.NN_FUNCTIONAL)
