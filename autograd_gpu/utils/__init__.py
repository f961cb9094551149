"""``ag.utils``: training helpers mirroring ``torch.utils`` (``checkpoint``, ``data``)."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
