"""The CUDA backend: the ``CupyBackend`` object, CuPy's lazy import and the kernel-module cache.

Imports without CuPy: CuPy is imported by ``CupyBackend()`` and by the launchers on their
first call, always through ``_cupy()``.

Kernels: one loaded module per (kernel file, device), compiled on first use with our own
``COMPILE_OPTIONS`` (not RawModule's, which force -ftz=true), the binary cached on disk
beside CuPy's (``CUPY_CACHE_DIR``) and the module in ``_modules``; functions are looked up
by name ``<op>_<dtype>`` and cached. Every launch happens with the array's device current.

The launchers live in one module per kernel file -- ``cuda_elementwise``, ``cuda_reduce``,
``cuda_scan``, ``cuda_softmax``, ``cuda_index``, ``cuda_copy`` (plus ``cuda_matmul`` for
cuBLAS) -- and their CuPy-free planning in ``cuda_plan``; ops reach them through ``cuda``.
This module also holds the device helpers several families share (``_sm_count``,
``_estrides``, ``_max_blocks``).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .kernel_files import kernel_dir, kernel_path

_cp: Any = None


def _cupy():
    """CuPy, imported on first use; RuntimeError (never ImportError) when it is missing."""
    global _cp
    if _cp is None:
        try:
            import cupy
        except Exception as e:
            # Only a missing ``cupy`` package is "not installed": CuPy re-raises a failing import of its
            # compiled core (CUDA libraries missing or mismatched) as a plain ImportError with its diagnosis.
            if isinstance(e, ModuleNotFoundError) and e.name == "cupy":
                raise RuntimeError("CUDA is unavailable: CuPy is not installed; install autograd-gpu[cuda12] "
                                   "or [cuda13]") from None
            raise RuntimeError(f"CUDA is unavailable: importing CuPy failed: {type(e).__name__}: {e}") from None
        _cp = cupy
    return _cp


# ---------------------------------------------------------------------------------
# kernel sources and the per-(family, device) module cache
def kernel_source(family: str) -> str:
    """``<family>.cu`` with its local headers (``#include "x.cuh"``, recursively, each once) inlined:
    NVRTC compiles from a string, with no include path."""
    seen: set[str] = set()

    def inline(text: str) -> str:
        def header(m):
            name = m.group(1)
            if name in seen:
                return ""
            seen.add(name)
            return inline((kernel_dir() / name).read_text().replace("#pragma once\n", "", 1))
        return re.sub(r'^#include "([\w.]+\.cuh)"[^\n]*$', header, text, flags=re.M)
    return inline(kernel_path(family).read_text())


# How every kernel file is compiled, in one place: NVRTC spellings, which nvcc also accepts.
# PyTorch builds its kernels with nvcc's defaults: subnormals kept (-ftz=false), IEEE division and
# square root, fused multiply-add on. CuPy's RawModule appends -ftz=true after the caller's options
# (NVRTC keeps the last), flushing float32 subnormals to zero in every kernel and cast (1e-40 cast
# to float64 gives 0). So we compile with ``compile_using_nvrtc`` ourselves and load the binary.
COMPILE_OPTIONS = ("--std=c++17", "-ftz=false", "-prec-div=true", "-prec-sqrt=true", "-fmad=true")


def nvcc_options(options: tuple = COMPILE_OPTIONS) -> list[str]:
    """``options`` as nvcc flags (CI compiles the kernels to PTX with exactly these)."""
    return [o.replace("--std=", "-std=", 1) for o in options]


def cache_dir() -> Path:
    """CuPy's kernel cache folder (``CUPY_CACHE_DIR``, else ``~/.cupy/kernel_cache``), our subfolder."""
    root = os.environ.get("CUPY_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cupy", "kernel_cache")
    return Path(root) / "autograd_gpu"


def cache_key(source: str, arch: str, options: tuple, compiler: str) -> str:
    """Hash of everything the binary depends on: source (headers inlined), arch, options, compiler."""
    h = hashlib.sha256()
    for part in (source, arch, "\0".join(options), compiler):
        h.update(part.encode())
        h.update(b"\1")
    return h.hexdigest()


def cached_binary(family: str, source: str, arch: str, compiler: str, compile_fn) -> bytes:
    """The compiled ``family`` for ``arch``: read from the disk cache, or ``compile_fn(source,
    COMPILE_OPTIONS, arch) -> bytes`` and stored (atomically: concurrent processes may race)."""
    path = cache_dir() / f"{family}-{cache_key(source, arch, COMPILE_OPTIONS, compiler)}.bin"
    try:
        return path.read_bytes()
    except OSError:
        pass
    binary = compile_fn(source, COMPILE_OPTIONS, arch)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(binary)
        os.replace(tmp, path)
    except OSError:   # a read-only cache is not an error: the next process compiles again
        pass
    return binary


def _compiler_id(cp) -> str:
    try:
        nvrtc = ".".join(map(str, cp.cuda.nvrtc.getVersion()))
    except Exception:   # noqa: BLE001 - the version only keys the cache
        nvrtc = "?"
    return f"cupy {cp.__version__} nvrtc {nvrtc} ptx={os.environ.get('CUPY_CUDA_COMPILE_WITH_PTX', '')}"


def _nvrtc(cp, family: str):
    """``compile_fn`` for ``cached_binary``: NVRTC through CuPy, errors naming the file with NVRTC's log."""
    def compile_fn(source: str, options: tuple, arch: str) -> bytes:
        try:
            binary, _ = cp.cuda.compiler.compile_using_nvrtc(source, options=options, arch=arch,
                                                             filename=f"{family}.cu")
        except cp.cuda.compiler.CompileException as e:
            raise RuntimeError(f"compiling kernels/{family}.cu for sm_{arch} failed (NVRTC, options "
                               f"{' '.join(options)}; line numbers count the source with its headers "
                               f"inlined):\n{e}") from None
        return binary.encode() if isinstance(binary, str) else bytes(binary)
    return compile_fn


_modules: dict[tuple[str, int], Any] = {}
_functions: dict[tuple[str, int, str], Any] = {}
compile_count: dict[tuple[str, int], int] = {}
_lock = threading.Lock()


def _module(family: str, dev: int):
    """The loaded module of ``kernels/<family>.cu`` on device ``dev`` (compiled or read from the cache once)."""
    key = (family, dev)
    mod = _modules.get(key)
    if mod is None:
        with _lock:
            mod = _modules.get(key)
            if mod is None:
                cp = _cupy()
                d = cp.cuda.Device(dev)
                with d:
                    binary = cached_binary(family, kernel_source(family), str(d.compute_capability),
                                           _compiler_id(cp), _nvrtc(cp, family))
                    mod = cp.cuda.function.Module()
                    mod.load(binary)
                compile_count[key] = compile_count.get(key, 0) + 1
                _modules[key] = mod
    return mod


_TORCH_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "uint8": "Byte",
                "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}
_CUDA_ERROR_NOT_FOUND = 500


def _is_missing_function(e: BaseException) -> bool:
    """Whether ``e`` is the driver's answer to a function name the module does not have."""
    return type(e).__name__ == "CUDADriverError" and (
        getattr(e, "status", None) == _CUDA_ERROR_NOT_FOUND or "CUDA_ERROR_NOT_FOUND" in str(e))


def get_kernel(family: str, name: str, dev: int):
    """The compiled function ``name`` of ``kernels/<family>.cu`` on device ``dev`` (cached).

    Only a name the module lacks becomes PyTorch's "not implemented for" error; compile and
    driver errors (out of memory, a lost device) propagate as they are."""
    key = (family, dev, name)
    f = _functions.get(key)
    if f is None:
        mod = _module(family, dev)
        cp = _cupy()
        try:
            with cp.cuda.Device(dev):
                f = mod.get_function(name)
        except Exception as e:
            if not _is_missing_function(e):
                raise
            op, _, dt = name.rpartition("_")
            raise RuntimeError(f'"{op}" not implemented for \'{_TORCH_NAMES.get(dt, dt)}\' on CUDA '
                               f"(no kernel {name} in kernels/{family}.cu)") from None
        _functions[key] = f
    return f


def dtype_name(dt) -> str:
    return "bool" if dt == np.bool_ else np.dtype(dt).name


# ---------------------------------------------------------------------------------
# device helpers
_sm_counts: dict[int, int] = {}


def _sm_count(dev: int) -> int:
    n = _sm_counts.get(dev)
    if n is None:
        n = _sm_counts[dev] = int(_cupy().cuda.Device(dev).attributes["MultiProcessorCount"])
    return n


def _estrides(x) -> tuple:
    isz = x.itemsize
    return tuple(s // isz for s in x.strides)


def _max_blocks(dev: int) -> int:
    return _sm_count(dev) * 32


# ---------------------------------------------------------------------------------
# the Backend
class _CudaGenerator:
    """One CUDA random stream as PyTorch keeps it: a Philox key (the seed) and a counter offset,
    both on the host. Each draw of n numbers takes blocks [offset, offset + n) and advances the
    offset (``kernels/random.cu``), so the state is 16 bytes and round-trips exactly.
    NumPy-Generator-like methods for the sampling ops (permutation: argsort of uniforms)."""

    device_type = "cuda"

    def __init__(self, dev: int, seed: int) -> None:
        self.dev = dev
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> None:
        self.initial_seed = int(seed) % (1 << 64)
        self.offset = 0

    def philox(self, n: int) -> tuple[int, int]:
        """(seed, offset) for a draw of ``n`` blocks, reserved by advancing the offset."""
        off = self.offset
        self.offset = (off + max(int(n), 1)) % (1 << 64)
        return self.initial_seed, off

    def random(self, shape, dtype=np.float64):
        from . import cuda_random
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
        return cuda_random.uniform(self.dev, shape, dtype, *self.philox(int(np.prod(shape))))

    def standard_normal(self, shape, dtype=np.float64):
        from . import cuda_random
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
        return cuda_random.normal(self.dev, shape, dtype, *self.philox(int(np.prod(shape))))

    def integers(self, low, high=None, size=None, dtype=np.int64):
        from . import cuda_random
        if high is None:
            low, high = 0, low
        shape = () if size is None else tuple(size) if isinstance(size, (tuple, list)) else (int(size),)
        out = cuda_random.randint(self.dev, shape, int(low), int(high), *self.philox(int(np.prod(shape))))
        if np.dtype(dtype) == np.int64:
            return out
        with _cupy().cuda.Device(self.dev):   # the cast allocates on the current device: make it out's
            return out.astype(dtype)

    def permutation(self, n: int):
        cp = _cupy()
        keys = self.random((int(n),), np.float64)
        with cp.cuda.Device(self.dev):
            return cp.argsort(keys).astype(np.int64)

    def host_rng(self) -> np.random.Generator:
        """A NumPy generator keyed by a fresh draw, for the samplers that have no kernel (poisson)."""
        seed, off = self.philox(1)
        return np.random.Generator(np.random.Philox(key=seed, counter=off))

    def get_state(self) -> np.ndarray:
        """16 bytes: seed and offset, little-endian uint64 (PyTorch's CUDA state layout)."""
        return np.array([self.initial_seed, self.offset], dtype="<u8").view(np.uint8).copy()

    def set_state(self, state: np.ndarray) -> None:
        state = np.ascontiguousarray(state, np.uint8)
        if state.size != 16:
            raise RuntimeError(f"Expected a CUDA generator state of size 16 but found the input RNG state size "
                               f"to be {state.size}")
        self.initial_seed, self.offset = (int(v) for v in state.view("<u8"))


NO_DRIVER = "no NVIDIA driver found (libcuda.so.1 is not installed; install the NVIDIA driver)"


def driver_installed() -> bool:
    """Whether the NVIDIA driver's library loads: without it CUDA's runtime reports an "insufficient"
    driver version, which sends users after a driver upgrade when they have no driver at all."""
    import ctypes
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


class CupyBackend:
    """Arrays of ``cuda:N`` devices. Construction raises RuntimeError saying why CUDA is unusable."""

    name = "cupy"

    def __init__(self) -> None:
        cp = _cupy()
        try:
            n = int(cp.cuda.runtime.getDeviceCount())
        except Exception as e:   # CUDARuntimeError, missing driver library, ...
            if not driver_installed():   # the runtime then says "driver version is insufficient": misleading
                raise RuntimeError(f"CUDA is unavailable: {NO_DRIVER}") from None
            raise RuntimeError(f"CUDA is unavailable: {type(e).__name__}: {e}") from None
        if n <= 0:
            raise RuntimeError("CUDA is unavailable: no CUDA device is visible (check CUDA_VISIBLE_DEVICES and "
                               "the driver)")
        self.xp = cp
        self._count = n
        self._generators: dict[int, _CudaGenerator] = {}
        from ..device import initial_seed   # device imports this module lazily: no cycle at import
        s = initial_seed()
        self._seed = int(s) if s is not None else int(np.random.SeedSequence().entropy % (2**63))

    def device_count(self) -> int:
        return self._count

    def set_device(self, index: int) -> None:
        self.xp.cuda.Device(index or 0).use()

    def from_numpy(self, arr: np.ndarray, index: int | None):
        with self.xp.cuda.Device(index or 0):
            return self.xp.asarray(arr)

    def to_numpy(self, arr) -> np.ndarray:
        return self.xp.asnumpy(arr)

    def to_device(self, arr, index: int | None):
        dev = index or 0
        if arr.device.id == dev:
            return arr
        from .cuda_copy import contiguous   # the copy launchers import this module: no cycle at import
        src = contiguous(arr)
        with self.xp.cuda.Device(dev):
            out = self.xp.empty(src.shape, dtype=src.dtype)
            if src.nbytes:
                out.data.copy_from_device(src.data, src.nbytes)
        return out

    def synchronize(self, index: int | None) -> None:
        self.xp.cuda.Device(index or 0).synchronize()

    def as_strided(self, arr, offset: int, shape: tuple, strides: tuple):
        """The view of C-contiguous ``arr`` at element ``offset`` with element ``strides``."""
        isz = arr.itemsize
        return self.xp.lib.stride_tricks.as_strided(arr.reshape(-1)[offset:], shape, tuple(st * isz for st in strides))

    def storage_key(self, arr) -> int:
        """Identity of the allocation an array views (views of one buffer share ``data.mem``)."""
        return id(arr.data.mem)

    def device_name(self, index: int | None) -> str:
        name = self.xp.cuda.runtime.getDeviceProperties(index or 0)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def manual_seed(self, seed: int) -> None:
        """Reseed every device's default generator in place (``Generator`` objects wrap them)."""
        self._seed = int(seed)
        for g in self._generators.values():
            g.manual_seed(self._seed)

    def generator(self, index: int | None) -> _CudaGenerator:
        dev = index or 0
        g = self._generators.get(dev)
        if g is None:
            g = self._generators[dev] = _CudaGenerator(dev, self._seed)
        return g

    def new_generator(self, index: int | None, seed: int | None = None) -> _CudaGenerator:
        """A generator of its own (``ag.Generator('cuda')``); PyTorch's default seed when none is given."""
        return _CudaGenerator(index or 0, 67280421310721 if seed is None else seed)



__all__ = ["CupyBackend", "kernel_source", "get_kernel", "compile_count", "dtype_name"]
