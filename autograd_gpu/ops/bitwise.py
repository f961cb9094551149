"""Bitwise and logical ops on integer and bool tensors, and their operators (``& | ^ ~ << >>``)."""
from __future__ import annotations
