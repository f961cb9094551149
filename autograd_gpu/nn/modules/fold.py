"""``Unfold`` and ``Fold`` (im2col / col2im as layers)."""
from __future__ import annotations

__all__: list[str] = []
