"""``Identity``, ``Linear``, ``Bilinear`` (PyTorch's ``torch/nn/modules/linear.py``)."""
from __future__ import annotations

__all__: list[str] = []
