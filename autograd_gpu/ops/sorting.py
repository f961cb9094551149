"""Sorting and selection: sort, argsort, topk, nonzero, count_nonzero."""
from __future__ import annotations
