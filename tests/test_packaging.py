"""The wheel carries the CUDA sources as ``autograd_gpu/_kernels/`` and the CUDA backend.

An installed (non-editable) package has no ``<repo>/kernels`` to fall back on, so a
kernel left out of the wheel would only show up as a missing file on a GPU machine.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# pip's answers when it cannot reach an index to fetch the build backend
_OFFLINE = ("Could not find a version that satisfies the requirement", "No matching distribution found",
            "NewConnectionError", "Temporary failure in name resolution", "Network is unreachable")


def _pip_wheel(out: Path, isolated: bool) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)]
    if not isolated:
        cmd.insert(5, "--no-build-isolation")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in this environment: no way to build the wheel")
    # the backend already installed here builds in a second or two; otherwise pip fetches it
    r = _pip_wheel(out, isolated=importlib.util.find_spec("hatchling") is None)
    if r.returncode != 0:
        log = r.stdout + r.stderr
        if any(s in log for s in _OFFLINE):
            pytest.skip(f"cannot build the wheel: the build backend (hatchling) is not installed and no "
                        f"package index is reachable:\n{log[-800:]}")
        pytest.fail(f"building the wheel failed:\n{log[-4000:]}")
    wheels = sorted(out.glob("autograd_gpu-*.whl"))
    assert len(wheels) == 1, sorted(p.name for p in out.iterdir())
    with zipfile.ZipFile(wheels[0]) as zf:
        yield zf


def test_every_kernel_source_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    sources = sorted(p.name for p in (REPO / "kernels").iterdir() if p.suffix in (".cu", ".cuh"))
    missing = [s for s in sources if f"autograd_gpu/_kernels/{s}" not in names]
    assert not missing, f"kernel sources missing from the wheel: {missing}"
    assert "autograd_gpu/_kernels/KERNELS.md" in names
    for s in sources:  # byte for byte what the checkout has
        assert wheel.read(f"autograd_gpu/_kernels/{s}") == (REPO / "kernels" / s).read_bytes()


def test_cuda_backend_and_package_modules_are_in_the_wheel(wheel):
    names = set(wheel.namelist())
    for mod in ("__init__.py", "__main__.py", "cli.py", "tensor.py", "backends/cupy_backend.py",
                "backends/cuda.py", "backends/kernel_files.py"):
        assert f"autograd_gpu/{mod}" in names, mod
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "kernels/")) for n in names)


def test_wheel_metadata(wheel):
    dist = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    meta = wheel.read(dist).decode()
    assert "Name: autograd-gpu" in meta and "Version: 0.1.0" in meta
    assert "Requires-Python: >=3.10" in meta
    assert "Requires-Dist: numpy<3,>=2" in meta or "Requires-Dist: numpy>=2,<3" in meta
    for extra in ("cuda12", "cuda13", "test", "compare"):
        assert f"Provides-Extra: {extra}" in meta
    # the CUDA extras bring only the components we use, not CuPy's whole [ctk] set (cuFFT, cuSOLVER, ...)
    assert "cupy-cuda12x<15,>=14; extra == 'cuda12'" in meta and not any("[ctk]" in line for line in meta.splitlines() if line.startswith("Requires-Dist"))
    for cuda in ("12", "13"):
        assert f"cuda-toolkit[cublas,cudart,nvrtc]=={cuda}.*; extra == 'cuda{cuda}'" in meta, meta
    assert "Requires-Dist: torch==2.14.*; extra == 'compare'" in meta
    assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel.namelist())
    assert "autograd_gpu/py.typed" in wheel.namelist()    # PEP 561: the type hints are for users too
    entry = wheel.read(dist.replace("METADATA", "entry_points.txt")).decode()
    assert "autograd-gpu = autograd_gpu.cli:main" in entry


def test_version_has_one_source():
    """``ag.__version__`` is the distribution's version, which only pyproject.toml writes."""
    import re

    import autograd_gpu as ag
    assert ag.__version__ == re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)[1]
    assert not re.search(r"__version__\s*=\s*[\"']", (REPO / "autograd_gpu" / "__init__.py").read_text())


def test_kernel_dir_finds_the_checkout_sources():
    from autograd_gpu.backends import kernel_files
    if not any((REPO / "kernels").glob("*.cu")):
        pytest.skip("no kernels/*.cu in this checkout yet")
    d = kernel_files.kernel_dir()
    assert any(d.glob("*.cu"))
    assert d.name in ("kernels", "_kernels")


def test_kernel_dir_override_and_error(tmp_path, monkeypatch):
    from autograd_gpu.backends import kernel_files
    (tmp_path / "elementwise.cu").write_text("// test\n")
    monkeypatch.setenv("AUTOGRAD_GPU_KERNELS", str(tmp_path))
    assert kernel_files.kernel_dir() == tmp_path
    assert kernel_files.kernel_path("elementwise") == tmp_path / "elementwise.cu"
    with pytest.raises(RuntimeError, match="nosuch.cu not found"):
        kernel_files.kernel_path("nosuch")
    monkeypatch.setattr(kernel_files, "candidate_dirs", lambda: [tmp_path / "empty"])
    with pytest.raises(RuntimeError, match="not found; looked in"):
        kernel_files.kernel_dir()
