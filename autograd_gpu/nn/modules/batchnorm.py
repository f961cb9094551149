"""``BatchNorm1d/2d/3d``: running statistics, momentum, train/eval."""
from __future__ import annotations

__all__: list[str] = []
