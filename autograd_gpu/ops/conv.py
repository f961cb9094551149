"""Convolutions (``F.conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``) as im2col + GEMM."""
from __future__ import annotations
