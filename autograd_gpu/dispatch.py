"""The (op, backend) -> implementation table.

Ops register one implementation per backend by name (``register("exp_fwd",
"numpy", np.exp)``) so that ``grep exp_fwd`` finds every piece of exp. A backend
may inherit another's table (the tests' fake device reuses NumPy's).
"""
from __future__ import annotations

from typing import Callable

_tables: dict[str, dict[str, Callable]] = {}
_parents: dict[str, str] = {}


def register(op: str, backend: str, fn: Callable | None = None):
    """Register ``fn`` as ``op`` on ``backend``; usable as a decorator when ``fn`` is omitted."""
    def deco(f: Callable) -> Callable:
        _tables.setdefault(backend, {})[op] = f
        return f
    return deco if fn is None else deco(fn)


def inherit(backend: str, parent: str) -> None:
    """Let ``backend`` fall back to ``parent``'s implementations (looked up each time, never copied,
    so a later registration on ``parent`` is seen)."""
    _parents[backend] = parent
    _tables.setdefault(backend, {})


def lookup(op: str, backend: str) -> Callable:
    table = _tables.get(backend)
    if table is not None:
        fn = table.get(op)
        if fn is not None:
            return fn
    parent = _parents.get(backend)
    if parent is not None:
        return lookup(op, parent)
    raise NotImplementedError(
        f"Could not run '{op}' with arguments from the '{backend}' backend: no implementation is "
        f"registered for it. Move the tensors to a device whose backend implements '{op}' "
        f"(registered: {', '.join(sorted(b for b, t in _tables.items() if op in t)) or 'none'}).")


def registered(backend: str) -> list[str]:
    return sorted(_tables.get(backend, ()))
