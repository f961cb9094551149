"""``F.linear`` and ``F.bilinear``."""
from __future__ import annotations
