"""docs/API_STATUS.md must agree with the package in both directions.

A backticked `ag.x.y` under a "Supported" heading must resolve on autograd_gpu, and
one under a "Not yet" heading must not, so the page fails loudly when it goes stale.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import autograd_gpu

DOC = Path(__file__).resolve().parent.parent / "docs" / "API_STATUS.md"
NAME = re.compile(r"`(ag(?:\.[A-Za-z_]\w*)+)`")


def _sections() -> dict[str, list[str]]:
    """Names per kind ("supported" / "missing"), in document order."""
    out: dict[str, list[str]] = {"supported": [], "missing": []}
    kind = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            kind = "supported" if title.startswith("supported") else "missing" if title.startswith("not yet") else None
            continue
        if kind is not None:
            out[kind].extend(NAME.findall(line))
    return out


def _resolves(name: str) -> bool:
    # getattr first; a submodule that the package does not import eagerly still counts.
    obj = autograd_gpu
    parts = name.split(".")[1:]
    for i, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = importlib.import_module("autograd_gpu." + ".".join(parts[: i + 1]))
            except ImportError:
                return False
    return True


SECTIONS = _sections()


def test_doc_lists_names_in_both_kinds():
    assert len(SECTIONS["supported"]) > 100 and SECTIONS["missing"], "API_STATUS.md lost its name lists"
    both = set(SECTIONS["supported"]) & set(SECTIONS["missing"])
    assert not both, f"listed as both supported and not yet: {sorted(both)}"


def test_supported_names_resolve():
    absent = [n for n in SECTIONS["supported"] if not _resolves(n)]
    assert not absent, f"docs/API_STATUS.md lists these as supported but they are missing: {absent}"


def test_not_yet_names_are_absent():
    present = [n for n in SECTIONS["missing"] if _resolves(n)]
    assert not present, (f"these now exist; move them to a 'Supported' list in docs/API_STATUS.md: {present}")


@pytest.mark.parametrize("kind", ["supported", "missing"])
def test_no_duplicate_names(kind):
    names = SECTIONS[kind]
    dups = sorted({n for n in names if names.count(n) > 1})
    assert not dups, f"listed twice under {kind}: {dups}"
