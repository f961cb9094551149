"""``F.interpolate``: nearest, linear, bilinear, bicubic, trilinear."""
from __future__ import annotations
