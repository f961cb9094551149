"""``F.unfold`` / ``F.fold``: im2col and col2im."""
from __future__ import annotations
