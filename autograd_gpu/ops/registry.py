"""What every op declaration fills: the public names of the ops layer.

An op is exported where it is defined (``@export`` on its function, or the ``name=`` of a
``Pointwise`` declaration); ``ag.X``, ``Tensor.X``, ``ag.nn.functional.X`` and the operators
are bound from these tables by ``autograd_gpu.api`` -- no export list elsewhere repeats them.
"""
from __future__ import annotations

from typing import Callable

FUNCTIONS: dict[str, Callable] = {}     # ag.<name>
METHODS: dict[str, Callable] = {}       # Tensor.<name>
NN_FUNCTIONAL: dict[str, Callable] = {}  # ag.nn.functional.<name>
OPERATORS: dict[str, Callable] = {}     # Tensor.__<op>__


def export(fn: Callable | None = None, *, name: str | None = None, function: bool = True, method: bool = True,
           nn: bool = False, operators: tuple = (), aliases: tuple = ()):
    """Publish ``fn`` as ``ag.<name>`` (``function``), ``Tensor.<name>`` (``method``),
    ``ag.nn.functional.<name>`` (``nn``) and the dunders in ``operators``; ``aliases`` are
    further names for the same function (``clip`` for ``clamp``). Usable bare or with arguments."""
    def deco(f: Callable) -> Callable:
        for n in (name or f.__name__,) + tuple(aliases):
            for table, wanted in ((FUNCTIONS, function), (METHODS, method), (NN_FUNCTIONAL, nn)):
                if wanted:
                    if table.get(n, f) is not f:
                        raise RuntimeError(f"op '{n}' is declared twice (second: {f.__module__}.{f.__qualname__})")
                    table[n] = f
        for dunder in operators:
            OPERATORS[dunder] = f
        return f
    return deco if fn is None else deco(fn)


def exported() -> list[str]:
    """Every public op name (what the op table in ``tests/op_db.py`` must cover), those reached only
    through an operator (``getitem`` for ``t[i]``) included."""
    operator_only = {f.__name__ for f in OPERATORS.values() if not f.__name__.startswith("_")}
    return sorted(set(FUNCTIONS) | set(METHODS) | set(NN_FUNCTIONAL) | operator_only)
