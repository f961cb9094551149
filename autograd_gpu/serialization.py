"""``ag.save`` / ``ag.load`` (being written)."""
from __future__ import annotations


def save(obj, f) -> None:
    raise NotImplementedError("ag.save is being written")


def load(f, map_location=None):
    raise NotImplementedError("ag.load is being written")
