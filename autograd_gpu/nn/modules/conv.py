"""Convolutions in 1-3 spatial dims and their transposes."""
from __future__ import annotations

__all__: list[str] = []
