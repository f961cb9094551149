"""The NCCL engine for CUDA tensors: CuPy's ``cupy.cuda.nccl`` over NVIDIA's library (the
``nvidia-nccl-cu12`` / ``-cu13`` wheel).

One NCCL communicator per (process group, CUDA device), created on the first collective on that
device: rank 0 makes the unique id and MPI broadcasts it (128 bytes, no pickling). As in PyTorch's
ProcessGroupNCCL, a collective is ordered after the work already queued on the tensor's stream
(the device's current stream): an event recorded there is waited for by the communicator's own
stream, which runs the NCCL call. ``wait()`` makes the current stream wait for the collective's
event; it does not block the host. Arrays in flight are kept alive until their event is done.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from ...device import get_backend

_NCCL_TYPES = {"int8": 0, "uint8": 1, "int32": 2, "uint32": 3, "int64": 4, "uint64": 5, "float16": 6,
               "float32": 7, "float64": 8}
_NCCL_OPS = {"sum": 0, "product": 1, "max": 2, "min": 3, "avg": 4}


def available() -> bool:
    """CuPy and its NCCL binding can be imported (a GPU is another matter)."""
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        return bool(_nccl().available)
    except RuntimeError:
        return False


def _nccl():
    try:
        from cupy.cuda import nccl
    except Exception as e:   # noqa: BLE001 - missing CuPy or a library that fails to load
        raise RuntimeError(f"NCCL is unavailable: cupy.cuda.nccl could not be imported ({type(e).__name__}: "
                           f"{e}); install autograd-gpu[cuda12] or [cuda13] and nvidia-nccl-cu12 / -cu13") from None
    if not getattr(nccl, "available", True):
        raise RuntimeError("NCCL is unavailable: CuPy did not find the NCCL library; pip install nvidia-nccl-cu12 "
                           "(or -cu13, matching your CuPy)")
    return nccl


def nccl_type(dtype: np.dtype) -> int:
    code = _NCCL_TYPES.get(dtype.name)
    if code is None:
        raise TypeError(f"NCCL has no {dtype} type: use float16/32/64, (u)int8, (u)int32, (u)int64 or bool tensors")
    return code


def nccl_op(name: str, dtype: np.dtype) -> int:
    """NCCL's reduction; bools travel as uint8 (SUM/MAX is OR, PRODUCT/MIN is AND, as in PyTorch)."""
    if dtype.kind == "b":
        name = {"sum": "max", "bor": "max", "product": "min", "band": "min"}.get(name, name)
    if name not in _NCCL_OPS or (name == "avg" and dtype.kind != "f"):
        raise ValueError(f"ReduceOp.{name.upper()} is not supported by NCCL for {dtype} tensors")
    return _NCCL_OPS[name]


class DeviceComm:
    """The NCCL communicator of one process group on one device, with its own stream."""

    def __init__(self, index: int, size: int, rank: int, uid: np.ndarray) -> None:
        cp = get_backend("cuda").xp
        self.nccl, self.cp, self.index = _nccl(), cp, index
        with cp.cuda.Device(index):
            self.comm = _communicator(self.nccl, size, uid, rank)
            self.stream = cp.cuda.Stream(non_blocking=True)
        self._in_flight: list = []

    def launch(self, fn, keep: tuple):
        """Run ``fn(comm, stream_ptr)`` after the work queued on the current stream; its done event."""
        cp = self.cp
        with cp.cuda.Device(self.index):
            ready = cp.cuda.Event(disable_timing=True)
            ready.record(cp.cuda.get_current_stream())
            self.stream.wait_event(ready)
            fn(self.comm, self.stream.ptr)
            done = cp.cuda.Event(disable_timing=True)
            done.record(self.stream)
        # the caching allocator must not hand these arrays out while NCCL may still use them
        self._in_flight = [(e, k) for e, k in self._in_flight if not e.done]
        self._in_flight.append((done, keep))
        return done

    def device(self):
        """A context in which this communicator's device is current (CuPy works on the current one)."""
        return self.cp.cuda.Device(self.index)

    def on_device(self, fn):
        with self.cp.cuda.Device(self.index):
            return fn()

    def stream_wait(self, done) -> None:
        """Make this device's current stream wait for ``done`` (no host blocking)."""
        with self.cp.cuda.Device(self.index):
            self.cp.cuda.get_current_stream().wait_event(done)

    def destroy(self) -> None:
        self._in_flight = []
        self.comm.destroy()


def _communicator(nccl, size: int, uid: np.ndarray, rank: int):
    """``NcclCommunicator`` from the 128 id bytes. CuPy takes the id back as the tuple of C chars it
    gave, and C's char is signed on x86 and unsigned on Arm: the form that does not overflow."""
    try:
        return nccl.NcclCommunicator(size, tuple(uid.view(np.int8).tolist()), rank)
    except OverflowError:
        return nccl.NcclCommunicator(size, tuple(uid.tolist()), rank)


class NcclComms:
    """A process group's NCCL communicators by device index, made on first use (collectively)."""

    def __init__(self, mpi_comm, watch) -> None:
        self.mpi, self.watch = mpi_comm, watch
        self.by_device: dict[int, DeviceComm] = {}

    def get(self, index: int) -> DeviceComm:
        c = self.by_device.get(index)
        if c is None:
            uid = np.empty(128, dtype=np.uint8)
            if self.mpi.rank == 0:   # CuPy gives the id as a tuple of 128 C chars (ints)
                uid[:] = np.array(_nccl().get_unique_id(), dtype=np.int64).astype(np.uint8)
            self.watch.wait([self.mpi.bcast(uid, 0)], "broadcasting the NCCL unique id")
            c = self.by_device[index] = DeviceComm(index, self.mpi.size, self.mpi.rank, uid)
        return c

    def destroy(self) -> None:
        for c in self.by_device.values():
            c.destroy()
        self.by_device.clear()


def flat_ptr(arr) -> int:
    return int(arr.data.ptr)


def group(fn) -> None:
    """``fn()`` between ncclGroupStart and ncclGroupEnd (the sends and receives of an all-to-all)."""
    nccl = _nccl()
    nccl.groupStart()
    try:
        fn()
    finally:
        nccl.groupEnd()
