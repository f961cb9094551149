"""``F.dropout`` and its variants, the mask drawn from a counter-based RNG (Philox)."""
from __future__ import annotations
