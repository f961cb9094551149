"""Where the CUDA sources (``<family>.cu``) are, installed or in a checkout.

A wheel carries the top-level ``kernels/`` folder as ``autograd_gpu/_kernels/``;
an editable install or a plain checkout has only ``<repo>/kernels``. Looking in
that order means an installed copy never reads a stray checkout's sources.
"""
from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def candidate_dirs() -> list[Path]:
    """The folders searched, first match wins (``AUTOGRAD_GPU_KERNELS`` overrides both)."""
    dirs = []
    override = os.environ.get("AUTOGRAD_GPU_KERNELS")
    if override:
        dirs.append(Path(override))
    dirs += [_PACKAGE / "_kernels", _PACKAGE.parent / "kernels"]
    return dirs


def kernel_dir() -> Path:
    """The folder holding the ``.cu`` files; RuntimeError lists where it looked."""
    for d in candidate_dirs():
        if d.is_dir() and any(d.glob("*.cu")):
            return d
    looked = ", ".join(str(d) for d in candidate_dirs())
    raise RuntimeError(f"CUDA kernel sources (*.cu) not found; looked in: {looked}. "
                       f"Reinstall autograd-gpu or set AUTOGRAD_GPU_KERNELS to the kernels folder")


def kernel_path(family: str) -> Path:
    """``kernel_path("elementwise")`` -> ``.../elementwise.cu``."""
    p = kernel_dir() / f"{family}.cu"
    if not p.is_file():
        raise RuntimeError(f"CUDA kernel source {p.name} not found in {p.parent}")
    return p
