"""``F.embedding`` (padding_idx, max_norm; scatter-add backward) and ``F.one_hot``."""
from __future__ import annotations
