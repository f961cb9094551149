"""Max/average pooling 1-3 d, adaptive pooling, ``MaxUnpool``."""
from __future__ import annotations

__all__: list[str] = []
