"""``F.scaled_dot_product_attention`` and the multi-head attention forward."""
from __future__ import annotations
