"""Shape ops that build new layouts: diagonal, diag, unfold, tile, repeat_interleave, meshgrid,
take_along_dim."""
from __future__ import annotations
