"""Random sampling: ``Generator``, ``multinomial``, ``bernoulli``, ``normal`` and the in-place samplers."""
from __future__ import annotations
