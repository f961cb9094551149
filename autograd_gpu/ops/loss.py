"""The losses of ``ag.nn.functional`` with ``reduction``, ``weight``, ``ignore_index``, ..."""
from __future__ import annotations
