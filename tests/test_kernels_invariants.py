"""Static guards for invariants the kernel review relies on (no GPU needed): 64-bit indexing in
the grid-stride and per-row loops, block sizes the full-mask warp shuffles can use, and no
dynamic shared memory that a launcher would have to size."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograd_gpu.backends import cuda_plan

KDIR = Path(__file__).resolve().parent.parent / "kernels"
REVIEWED = ("common.cuh", "elementwise.cuh", "elementwise.cu", "copy.cu", "index.cu", "reduce.cu", "scan.cu",
            "softmax.cu")


def _code(name: str) -> str:
    """The file without // comments."""
    return re.sub(r"//[^\n]*", "", (KDIR / name).read_text())


@pytest.mark.parametrize("name", REVIEWED)
def test_no_32bit_thread_index(name):
    # an int/unsigned index from blockIdx * blockDim overflows past 2^31 elements; use ag_tid()
    bad = re.findall(r"\b(?:int|unsigned(?:\s+int)?)\s+\w+\s*=\s*[^;]*blockIdx\.x\s*\*\s*blockDim\.x", _code(name))
    assert not bad, f"{name}: 32-bit thread index: {bad}"


@pytest.mark.parametrize("name", REVIEWED)
def test_loops_over_elements_are_64bit(name):
    # every for loop bounded by an element count (n, rows, R, L, p.n) counts in long long
    bad = [m for m in re.findall(r"for\s*\(\s*(?:const\s+)?(\w+(?:\s+\w+)?)\s+\w+\s*=[^;]*;\s*\w+\s*<\s*(?:p\.n|n|nv|rows|R|L|hi)\b",
                                 _code(name)) if m != "long long"]
    assert not bad, f"{name}: element loops with a non-64-bit counter: {bad}"


@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 100, 255, 256, 257, 10**6, 2**40])
@pytest.mark.parametrize("cap", [256, 512, 1024])
def test_block_size_is_full_warps(length, cap):
    # ag_block_reduce / arg_run / scan_run shuffle with mask 0xffffffff: every warp must be full
    t = cuda_plan.block_size(length, cap)
    assert t % 32 == 0 and 32 <= t <= cap


def test_block_reduce_fills_missing_warps_with_identity():
    src = _code("common.cuh")
    assert re.search(r"lane\s*<\s*nw\s*\?\s*sh\[lane\]\s*:\s*ident", src)
    for name in ("reduce.cu", "scan.cu"):
        assert re.search(r"lane\s*<\s*nw\s*\?\s*s\w*\[lane\]\s*:", _code(name)), name


@pytest.mark.parametrize("name", REVIEWED)
def test_no_dynamic_shared_memory(name):
    # the launchers pass no shared_mem: a kernel needing extern __shared__ would get 0 bytes
    assert "extern __shared__" not in _code(name)
