"""The CUDA backend's calls into CuPy / NVML checked on CPU against stand-ins that keep the real API's
argument and return types (CuPy 14 sources: cupy/__init__.py, cupy/cuda/compiler.py, cupy/cuda/function.pyx,
cupy_backends/cuda/api/runtime.pyx; nvidia-ml-py's pynvml.py)."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from autograd_gpu.backends import cupy_backend as cb
from autograd_gpu.backends import nvml


def _fake_cupy_package(root: Path, body: str) -> None:
    pkg = root / "cupy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(body))


@pytest.fixture
def fresh_cupy_import(monkeypatch, tmp_path):
    """``import cupy`` finds only what the test writes under ``tmp_path``."""
    monkeypatch.setattr(cb, "_cp", None)
    for name in [m for m in sys.modules if m == "cupy" or m.startswith("cupy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m == "cupy" or m.startswith("cupy.")]:
        sys.modules.pop(name, None)


def test_installed_cupy_whose_core_fails_to_load_is_not_reported_as_missing(fresh_cupy_import):
    # What cupy/__init__.py does when ``from cupy import _core`` fails (libcudart/libnvrtc missing or of
    # another CUDA major): a plain ImportError carrying its diagnosis, not ModuleNotFoundError('cupy').
    _fake_cupy_package(fresh_cupy_import, '''
        try:
            from cupy import _core  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"CuPy failed to load libnvrtc.so.12\\nOriginal error: {exc}") from exc
    ''')
    with pytest.raises(RuntimeError) as info:
        cb._cupy()
    msg = str(info.value)
    assert "not installed" not in msg
    assert msg.startswith("CUDA is unavailable: importing CuPy failed: ImportError: CuPy failed to load libnvrtc")


def test_cupy_missing_a_dependency_is_an_import_failure(fresh_cupy_import):
    _fake_cupy_package(fresh_cupy_import, "import autograd_gpu_no_such_dependency_xyz  # noqa: F401\n")
    with pytest.raises(RuntimeError, match="importing CuPy failed: ModuleNotFoundError: No module named "
                                           "'autograd_gpu_no_such_dependency_xyz'"):
        cb._cupy()


def test_cupy_not_installed(fresh_cupy_import, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)   # ModuleNotFoundError with name == "cupy"
    with pytest.raises(RuntimeError, match=r"CUDA is unavailable: CuPy is not installed; install autograd-gpu"):
        cb._cupy()


# compile and load: guards of calls that already match CuPy 14 ---------------------------------------------
def test_module_compiles_with_cupys_argument_types(monkeypatch, tmp_path):
    """compile_using_nvrtc(source, options=(), arch=None, filename=..., ...) does ``options += (arch_opt,)``
    and returns (bytes, mapping); Module.load is ``cpdef load(self, bytes cubin)``; Device.compute_capability
    is a str such as '90'."""
    calls: dict = {}

    class CompileException(Exception):
        pass

    def compile_using_nvrtc(source, options=(), arch=None, filename="kern.cu", name_expressions=None,
                            log_stream=None, cache_in_memory=False, jitify=None, method=None):
        options += (f"-arch=sm_{arch}",)   # TypeError unless options is a tuple
        calls.update(options=options, arch=arch, filename=filename)
        return b"\x7fELF-cubin", None

    class Module:
        def load(self, cubin):
            if not isinstance(cubin, bytes):
                raise TypeError("Argument 'cubin' has incorrect type (expected bytes)")
            self.cubin = cubin

    class Device:
        def __init__(self, dev):
            self.id = int(dev)
            self.compute_capability = "90"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    cuda = SimpleNamespace(Device=Device, function=SimpleNamespace(Module=Module),
                           compiler=SimpleNamespace(compile_using_nvrtc=compile_using_nvrtc,
                                                    CompileException=CompileException),
                           nvrtc=SimpleNamespace(getVersion=lambda: (12, 8)))
    monkeypatch.setattr(cb, "_cp", SimpleNamespace(cuda=cuda, __version__="14.0.0"))
    monkeypatch.setattr(cb, "_modules", {})
    monkeypatch.setattr(cb, "compile_count", {})
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    mod = cb._module("copy", 0)
    assert mod.cubin == b"\x7fELF-cubin"
    assert calls == {"options": cb.COMPILE_OPTIONS + ("-arch=sm_90",), "arch": "90", "filename": "copy.cu"}


def test_nvml_handle_passes_cupys_str_bus_id_as_bytes(monkeypatch):
    """runtime.deviceGetPCIBusId is ``cpdef str``; pynvml's ``c_char_p(pciBusId)`` needs bytes."""
    seen = []
    fake_cupy = SimpleNamespace(cuda=SimpleNamespace(runtime=SimpleNamespace(
        deviceGetPCIBusId=lambda i: "0000:3B:00.0")))
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)

    def by_bus(bus):
        if not isinstance(bus, bytes):
            raise TypeError("bytes or integer address expected instead of str instance")
        seen.append(bus)
        return "handle"
    nv = SimpleNamespace(nvmlDeviceGetHandleByPciBusId=by_bus, nvmlDeviceGetHandleByIndex=lambda i: "by-index")
    assert nvml.handle(nv, 0) == "handle" and seen == [b"0000:3B:00.0"]
