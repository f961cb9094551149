"""``F.layer_norm``, ``F.batch_norm``, ``F.group_norm``."""
from __future__ import annotations
