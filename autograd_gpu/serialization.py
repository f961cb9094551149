"""``ag.save`` / ``ag.load``: checkpoints that never run code when read.

PyTorch pickles, so loading an untrusted file can execute anything. Here a checkpoint is one
`safetensors <https://github.com/huggingface/safetensors>`_ file: the tensors' bytes, and in its
header's metadata a JSON description of the object around them (dicts with any int/str/float
keys, lists, tuples, numbers, strings, None, dtypes, devices) plus a SHA-256 of the tensor data,
so a flipped byte is reported, not loaded. Writing goes to a temporary file in the same folder,
fsync'ed, then renamed over the target: a crash leaves the old checkpoint whole.

Tensors are stored contiguous; a tensor that appears several times in one object is stored once
and comes back as one object (views of one another come back as separate tensors).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import dtypes as _dt
from .device import Device
from .nn.parameter import Parameter
from .ops.copy import to as _to
from .ops.creation import from_numpy
from .tensor import Tensor

__all__ = ["save", "load"]

FORMAT = "autograd_gpu.checkpoint/1"
_KEY = "autograd_gpu"
_MAX_HEADER = 100 * 1024 * 1024


class _Writer:
    """Walks an object into JSON, collecting its tensors as NumPy arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, str] = {}

    def encode(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            v = float(obj)
            return v if math.isfinite(v) else {"float": repr(v)}
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._array(obj, id(obj))}
        if isinstance(obj, _dt.DType):
            return {"dtype": obj.name}
        if isinstance(obj, Device):
            return {"device": str(obj)}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, float, bool, type(None))):
                    raise TypeError(f"ag.save: dict key {k!r} at {where} is a {type(k).__name__}; keys must be "
                                    f"str, int, float, bool or None")
                items.append([self.encode(k, where), self.encode(v, f"{where}[{k!r}]")])
            return {"dict": items, "type": type(obj).__name__ if type(obj).__name__ == "OrderedDict" else "dict"}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        raise TypeError(f"ag.save cannot store the {type(obj).__module__}.{type(obj).__qualname__} at {where}: "
                        f"only tensors, NumPy arrays, numbers, strings, None, dtypes, devices and lists, tuples "
                        f"and dicts of them can be saved (loading them runs no code)")

    def _array(self, arr: np.ndarray, ident: int) -> str:
        if ident in self.seen:
            return self.seen[ident]
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"ag.save: arrays of dtype {arr.dtype} cannot be saved")
        key = f"t{len(self.arrays)}"
        self.arrays[key] = np.require(arr, requirements="C")   # ascontiguousarray makes 0-d 1-d
        self.seen[ident] = key
        return key

    def _tensor(self, t: Tensor) -> dict:
        host = t.detach().cpu()._data if t.device.type != "cpu" else t._data
        entry = {"tensor": self._array(np.asarray(host), id(t)), "device": str(t.device),
                 "dtype": t.dtype.name, "requires_grad": bool(t.requires_grad)}
        if isinstance(t, Parameter):
            entry["parameter"] = True
        return entry


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(np.require(arrays[k], requirements="C").reshape(-1).view(np.uint8))
    return h.hexdigest()


def _serialize(obj: Any) -> bytes:
    from safetensors.numpy import save as st_save
    w = _Writer()
    tree = w.encode(obj, "obj")
    meta = {"format": FORMAT, "object": tree, "sha256": _digest(w.arrays)}
    return st_save(w.arrays, metadata={_KEY: json.dumps(meta)})


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename over ``path``, fsync the folder. The file gets
    the mode a plain ``open`` would give it (mkstemp's is 0600)."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save(obj: Any, f, pickle_module: Any = None, pickle_protocol: int | None = None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` (tensors, state dicts, optimizer states, nested containers) to ``f``: a path
    (written atomically) or a binary file object. ``pickle_module``/``pickle_protocol`` are
    accepted for PyTorch compatibility and ignored: nothing is pickled."""
    data = _serialize(obj)
    if isinstance(f, (str, os.PathLike)):
        write_atomic(Path(f), data)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise AttributeError(f"'{type(f).__name__}' object has no attribute 'write'")


# loading ------------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, arrays: dict, map_location, name: str) -> None:
        self.arrays, self.map_location, self.name = arrays, map_location, name
        self.made: dict[str, Any] = {}

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise self.bad(f"unexpected entry {node!r}")
        if "float" in node:
            return float(node["float"])
        if "tuple" in node:
            return tuple(self.decode(v) for v in node["tuple"])
        if "dict" in node:
            out: dict = {}
            if node.get("type") == "OrderedDict":
                from collections import OrderedDict
                out = OrderedDict()
            for k, v in node["dict"]:
                out[self.decode(k)] = self.decode(v)
            return out
        if "dtype" in node and len(node) == 1:
            return getattr(_dt, node["dtype"])
        if "device" in node and len(node) == 1:
            return Device(node["device"])
        if "ndarray" in node:
            return self.array(node["ndarray"])
        if "tensor" in node:
            return self.tensor(node)
        raise self.bad(f"unexpected entry {node!r}")

    def array(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise self.bad(f"tensor data {key!r} is missing")
        return self.arrays[key]

    def tensor(self, node: dict) -> Tensor:
        key = node["tensor"]
        memo = ("t", key)
        if memo in self.made:
            return self.made[memo]
        arr = self.array(key)
        if arr.dtype.name != node["dtype"]:
            raise self.bad(f"tensor {key!r} holds {arr.dtype.name} data but is described as {node['dtype']}")
        t = from_numpy(arr.copy())
        t = self.place(t, node["device"])
        if node.get("parameter"):
            t = Parameter(t, node.get("requires_grad", True))
        elif node.get("requires_grad"):
            t.requires_grad_(True)
        self.made[memo] = t
        return t

    def place(self, t: Tensor, location: str) -> Tensor:
        ml = self.map_location
        if callable(ml) and not isinstance(ml, (str, Device)):
            moved = ml(t, location)
            return t if moved is None else moved
        if isinstance(ml, dict):
            target = ml.get(location, location)
        elif ml is None:
            target = location
        else:
            target = ml
        dev = Device(target) if not isinstance(target, Device) else target
        if dev.type == "cuda":
            from . import cuda
            if not cuda.is_available():
                raise RuntimeError("Attempting to deserialize object on a CUDA device but "
                                   "ag.cuda.is_available() is False. If you are running on a CPU-only machine, "
                                   "please use ag.load with map_location='cpu' to map your tensors to the CPU.")
        return t if dev.type == "cpu" else _to(t, dev)

    def bad(self, what: str) -> RuntimeError:
        return RuntimeError(f"{self.name}: corrupted autograd_gpu checkpoint: {what}")


def _read_bytes(f) -> tuple[bytes, str]:
    if isinstance(f, (str, os.PathLike)):
        p = Path(f)
        try:
            return p.read_bytes(), str(p)
        except FileNotFoundError:
            raise FileNotFoundError(2, "No such file or directory", str(p)) from None
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<file object>")
    raise TypeError(f"ag.load: expected a path or a binary file object, got {type(f).__name__}")


def _header(data: bytes, name: str) -> dict:
    if len(data) < 8:
        raise RuntimeError(f"{name}: not an autograd_gpu checkpoint (the file is {len(data)} bytes long; "
                           f"it is empty or truncated)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise RuntimeError(f"{name}: not an autograd_gpu checkpoint, or a truncated one (its header claims "
                           f"{n} bytes, the file has {len(data) - 8} after the length field)")
    try:
        head = json.loads(data[8:8 + n])
        meta = json.loads(head["__metadata__"][_KEY])
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(f"{name}: not an autograd_gpu checkpoint (no autograd_gpu metadata in a safetensors "
                           f"header; was it written by ag.save?)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RuntimeError(f"{name}: unsupported checkpoint format {meta.get('format') if isinstance(meta, dict) else meta!r}"
                           f" (this autograd_gpu reads {FORMAT})")
    return meta


def load(f, map_location: str | Device | dict | Callable | None = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: bool | None = None, **pickle_load_args) -> Any:
    """Read what ``ag.save`` wrote. ``map_location``: a device (string or ``ag.device``) for all
    tensors, a dict mapping saved device strings to new ones, or ``fn(tensor, saved_location)``
    returning the tensor to use. A truncated, corrupted or foreign file raises ``RuntimeError``
    naming the file and the problem. Loading is always weights-only: no code runs."""
    data, name = _read_bytes(f)
    meta = _header(data, name)
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load
    try:
        arrays = st_load(data)
    except SafetensorError as e:
        raise RuntimeError(f"{name}: corrupted autograd_gpu checkpoint: {e}") from None
    if _digest(arrays) != meta.get("sha256"):
        raise RuntimeError(f"{name}: corrupted autograd_gpu checkpoint: the tensor data does not match its "
                           f"SHA-256 checksum (the file was changed or damaged after it was written)")
    return _Reader(arrays, map_location, name).decode(meta["object"])

