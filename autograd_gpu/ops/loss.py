"""The losses of ``ag.nn.functional`` with ``reduction``, ``weight``, ``ignore_index``, ...

Split by kind, each module registering its ops on import: ``loss_ce`` (cross_entropy and nll_loss,
fused nodes with kernels of their own), ``loss_pointwise`` (elementwise losses), ``loss_margin``
(margin and embedding losses); ``loss_common`` holds the reduction rules."""
from __future__ import annotations

from . import loss_ce, loss_margin, loss_pointwise  # noqa: F401 - registration
from .loss_common import legacy_reduction, reduce_loss, resolve_reduction  # noqa: F401

__all__ = ["loss_ce", "loss_margin", "loss_pointwise", "legacy_reduction", "reduce_loss", "resolve_reduction"]
