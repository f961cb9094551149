"""``ag.utils``: training helpers mirroring ``torch.utils`` (``checkpoint``; ``data`` lives beside it)."""
from . import checkpoint

__all__ = ["checkpoint"]
