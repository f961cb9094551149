"""The layering rules a linter cannot see: CuPy is reached only through ``backends/``."""
from __future__ import annotations

import re
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "autograd_gpu"
_CUPY = re.compile(r"^\s*(import cupy|from cupy\b)|__import__\(\s*[\"']cupy[\"']\s*\)", re.M)


def test_cupy_is_imported_in_backends_alone():
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                 if p.parent.name != "backends" and _CUPY.search(p.read_text())]
    assert not offenders, f"CuPy imported outside autograd_gpu/backends/: {offenders}"


def test_the_pattern_finds_an_import():
    assert _CUPY.search("def f():\n    import cupy\n") and _CUPY.search('cp = __import__("cupy")')
    assert not _CUPY.search("xp = get_backend('cuda').xp  # cupy")
