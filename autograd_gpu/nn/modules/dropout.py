"""``Dropout`` and its 1-3 d and alpha forms."""
from __future__ import annotations

__all__: list[str] = []
