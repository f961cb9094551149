"""Max/average pooling 1-3 d, adaptive average pooling, ``max_unpool``."""
from __future__ import annotations
