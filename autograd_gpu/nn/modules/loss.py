"""The loss modules (``CrossEntropyLoss``, ``MSELoss``, ...), each a thin wrapper of its ``F`` form."""
from __future__ import annotations

__all__: list[str] = []
