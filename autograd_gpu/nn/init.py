"""``ag.nn.init``: PyTorch's initialisation functions and gains."""
from __future__ import annotations
