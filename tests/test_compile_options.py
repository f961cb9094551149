"""How the CUDA kernels are compiled and loaded, checked without a GPU.

PyTorch keeps float32 subnormals (nvcc's default -ftz=false); CuPy's RawModule forces -ftz=true.
We compile with ``cupy_backend.COMPILE_OPTIONS`` ourselves: nvcc, given exactly those options,
must emit PTX without flush-to-zero arithmetic, and with -ftz=true it does emit it (so the check
can fail). The compile cache and the kernel lookup's error handling run against a fake CuPy.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import types
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest

from autograd_gpu.backends import cupy_backend as cb

KDIR = Path(__file__).resolve().parent.parent / "kernels"
FAMILIES = tuple(sorted(f.stem for f in KDIR.glob("*.cu")))
NVCC = shutil.which("nvcc")
# an instruction with a .ftz modifier, e.g. "cvt.ftz.f64.f32", "add.ftz.f32", "setp.neu.ftz.f32"
FTZ = re.compile(r"\b([a-z][a-z0-9]*(?:\.[a-z0-9]+)*\.ftz(?:\.[a-z0-9]+)*)\b")
# libdevice's exp/division helpers use approximations that only exist with .ftz (ex2.approx.ftz.f32,
# rcp.approx.ftz.f64) on range-reduced arguments and rescale without ftz: not a flush of user data
ALLOWED = re.compile(r"\.approx\.")


@lru_cache(maxsize=None)
def _ptx(family: str, flags: tuple) -> str:
    # -Xcicc -O1: as test_kernels_static, for time; ftz is a code-generation flag either way
    r = subprocess.run([NVCC, "-ptx", "-arch=sm_90", *flags, "-Xcicc", "-O1", "-I", str(KDIR),
                        str(KDIR / f"{family}.cu"), "-o", "-"], capture_output=True, text=True)
    assert r.returncode == 0, f"nvcc {' '.join(flags)} kernels/{family}.cu failed:\n{r.stderr}"
    return r.stdout


def _flushing(ptx: str) -> set:
    return {m for m in FTZ.findall(ptx) if not ALLOWED.search(m)}


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_our_options_keep_subnormals_in_every_kernel_file():
    flags = tuple(cb.nvcc_options())
    with ThreadPoolExecutor(max_workers=4) as ex:
        ptx = dict(zip(FAMILIES, ex.map(lambda f: _ptx(f, flags), FAMILIES)))
    bad = {f: sorted(_flushing(p))[:5] for f, p in ptx.items() if _flushing(p)}
    assert not bad, f"flush-to-zero instructions compiled with {flags}: {bad}"


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_ftz_true_would_flush_the_casts():
    """CuPy's default: the float32 -> float64 cast (1e-40 -> 0) flushes; the check above would see it."""
    flags = tuple(o for o in cb.nvcc_options() if not o.startswith("-ftz")) + ("-ftz=true",)
    found = _flushing(_ptx("copy", flags))
    assert "cvt.ftz.f64.f32" in found and any(i.startswith("setp") for i in found)


def test_options_in_one_place():
    opts = cb.COMPILE_OPTIONS
    assert isinstance(opts, tuple)
    assert "-ftz=false" in opts and "-prec-div=true" in opts and "-prec-sqrt=true" in opts
    assert "-fmad=true" in opts and "--std=c++17" in opts
    assert not any(o.startswith(("-ftz=true", "--ftz=true", "-use_fast_math", "--use_fast_math")) for o in opts)
    assert cb.nvcc_options() == ["-std=c++17", "-ftz=false", "-prec-div=true", "-prec-sqrt=true", "-fmad=true"]


# the disk cache --------------------------------------------------------------------------
def test_cache_dir_follows_cupy(monkeypatch, tmp_path):
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    assert cb.cache_dir() == tmp_path / "autograd_gpu"
    monkeypatch.delenv("CUPY_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cb.cache_dir() == tmp_path / "home" / ".cupy" / "kernel_cache" / "autograd_gpu"


def test_cache_key_depends_on_everything():
    base = cb.cache_key("src", "90", cb.COMPILE_OPTIONS, "nvrtc 12.8")
    assert base == cb.cache_key("src", "90", cb.COMPILE_OPTIONS, "nvrtc 12.8")
    others = {cb.cache_key("src2", "90", cb.COMPILE_OPTIONS, "nvrtc 12.8"),
              cb.cache_key("src", "80", cb.COMPILE_OPTIONS, "nvrtc 12.8"),
              cb.cache_key("src", "90", cb.COMPILE_OPTIONS + ("-ftz=true",), "nvrtc 12.8"),
              cb.cache_key("src", "90", cb.COMPILE_OPTIONS, "nvrtc 13.0")}
    assert len(others) == 4 and base not in others


def test_cached_binary_compiles_once_across_processes(monkeypatch, tmp_path):
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    calls = []

    def compile_fn(source, options, arch):
        calls.append((source, options, arch))
        return b"BIN:" + source.encode()

    assert cb.cached_binary("copy", "src", "90", "v1", compile_fn) == b"BIN:src"
    assert calls == [("src", cb.COMPILE_OPTIONS, "90")]
    # a new process has an empty module cache but finds the file
    assert cb.cached_binary("copy", "src", "90", "v1", compile_fn) == b"BIN:src"
    assert len(calls) == 1
    files = list((tmp_path / "autograd_gpu").iterdir())
    assert len(files) == 1 and files[0].name.startswith("copy-") and files[0].suffix == ".bin"
    cb.cached_binary("copy", "src", "80", "v1", compile_fn)   # another arch: compiled again
    assert len(calls) == 2


def test_cached_binary_survives_an_unwritable_cache(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CUPY_CACHE_DIR", str(blocker))   # a file, not a folder: mkdir fails
    assert cb.cached_binary("copy", "s", "90", "v", lambda s, o, a: b"X") == b"X"


# loading and the kernel lookup, against a fake CuPy -----------------------------------------
class CUDADriverError(RuntimeError):   # the name CuPy's driver error has
    def __init__(self, status: int, name: str) -> None:
        self.status = status
        super().__init__(f"{name}: {name.lower()}")


class CompileException(Exception):
    pass


def _fake_cupy(log: list, *, compile_error: str | None = None, lookup_error=None):
    class Device:
        def __init__(self, dev):
            self.id, self.compute_capability = dev, "90"

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    class Module:
        def load(self, binary):
            log.append(("load", binary))

        def get_function(self, name):
            if lookup_error is not None:
                raise lookup_error
            if not name.startswith("exp_fwd_"):
                raise CUDADriverError(500, "CUDA_ERROR_NOT_FOUND")
            return ("function", name)

    def compile_using_nvrtc(source, options=(), arch=None, filename="kern.cu", **kw):
        log.append(("compile", tuple(options), arch, filename))
        if compile_error:
            raise CompileException(compile_error)
        return "PTX of " + filename, {}

    compiler = types.SimpleNamespace(compile_using_nvrtc=compile_using_nvrtc, CompileException=CompileException)
    cuda = types.SimpleNamespace(Device=Device, compiler=compiler, function=types.SimpleNamespace(Module=Module),
                                 nvrtc=types.SimpleNamespace(getVersion=lambda: (12, 8)))
    return types.SimpleNamespace(cuda=cuda, __version__="14.0.0")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cb, "_modules", {})
    monkeypatch.setattr(cb, "_functions", {})
    monkeypatch.setattr(cb, "compile_count", {})

    def install(**kw):
        log: list = []
        monkeypatch.setattr(cb, "_cupy", lambda: _fake_cupy(log, **kw))
        return log
    return install


def test_kernels_compile_with_our_options_and_load_the_binary(fake):
    log = fake()
    assert cb.get_kernel("copy", "exp_fwd_float32", 0) == ("function", "exp_fwd_float32")
    assert log == [("compile", cb.COMPILE_OPTIONS, "90", "copy.cu"), ("load", b"PTX of copy.cu")]
    assert cb.get_kernel("copy", "exp_fwd_float64", 0) == ("function", "exp_fwd_float64")
    assert len(log) == 2 and cb.compile_count[("copy", 0)] == 1


def test_missing_kernel_is_not_implemented_for_dtype(fake):
    fake()
    with pytest.raises(RuntimeError, match=r"\"sin_fwd\" not implemented for 'Long' on CUDA \(no kernel "
                                           r"sin_fwd_int64 in kernels/copy.cu\)"):
        cb.get_kernel("copy", "sin_fwd_int64", 0)


@pytest.mark.parametrize("err", [CUDADriverError(2, "CUDA_ERROR_OUT_OF_MEMORY"),
                                 CUDADriverError(999, "CUDA_ERROR_UNKNOWN"), ValueError("bad name")])
def test_other_lookup_errors_propagate(fake, err):
    fake(lookup_error=err)
    with pytest.raises(type(err)) as info:
        cb.get_kernel("copy", "exp_fwd_float32", 0)
    assert info.value is err and "not implemented" not in str(info.value)


def test_compile_error_names_the_file_and_shows_the_log(fake):
    fake(compile_error="copy.cu(12): error: identifier \"oops\" is undefined")
    with pytest.raises(RuntimeError) as info:
        cb.get_kernel("copy", "exp_fwd_float32", 0)
    msg = str(info.value)
    assert "kernels/copy.cu" in msg and "sm_90" in msg and 'identifier "oops" is undefined' in msg
    assert "-ftz=false" in msg and "not implemented" not in msg
