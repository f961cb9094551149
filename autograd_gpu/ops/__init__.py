"""All ops, gathered by name.

Each family module lists ``METHODS`` (functions that are also Tensor methods) and
``FUNCTIONS`` (module-level only, e.g. ``ag.zeros``); nothing else is exported.
"""
from . import (activation, arithmetic, broadcast, compare, copy, creation, elementwise, index, inplace, linalg,
               reduce, shape, unary)

_FAMILIES = (broadcast, copy, creation, elementwise, arithmetic, unary, compare, activation, reduce, shape, index,
             linalg, inplace)
METHODS = tuple(name for mod in _FAMILIES for name in mod.METHODS)
FUNCTIONS = tuple(name for mod in _FAMILIES for name in getattr(mod, "FUNCTIONS", ()))
for _mod in _FAMILIES:
    for _name in _mod.METHODS + getattr(_mod, "FUNCTIONS", ()):
        globals()[_name] = getattr(_mod, _name)
__all__ = list(METHODS + FUNCTIONS)
