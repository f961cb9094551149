"""``Embedding`` (PyTorch's ``torch/nn/modules/sparse.py``)."""
from __future__ import annotations

__all__: list[str] = []
