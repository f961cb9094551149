"""Process groups (PyTorch's ``torch/distributed/distributed_c10d.py``); the collectives are in ``collectives.py``.

``init_process_group`` takes rank and world size from the MPI launcher (``mpiexec -n N``); a
process started without one is a world of 1. The default group lives in ``_world``, rebound by
``init_process_group``/``destroy_process_group``: other modules reach it through ``_group()``, never
by importing the name, which would keep the group of the time of import.
"""
from __future__ import annotations

import enum
import os
from datetime import timedelta

from ..cuda import is_available as cuda_available
from ..device import Device
from .backends import mpi, nccl

__all__ = ["Backend", "ReduceOp", "Work", "ProcessGroup", "GroupMember", "init_process_group",
           "destroy_process_group", "is_initialized", "is_available", "is_mpi_available", "is_nccl_available",
           "get_rank", "get_world_size", "get_backend", "get_node_local_rank", "new_group", "default_pg_timeout"]

default_pg_timeout = timedelta(minutes=30)
_NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


class Backend(str):
    """A backend name: ``Backend("MPI") == "mpi"``."""

    MPI = "mpi"
    NCCL = "nccl"

    def __new__(cls, name: str) -> "Backend":
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name}")
        value = name.lower()
        if value not in (cls.MPI, cls.NCCL):
            hint = " (for CPU tensors use 'mpi', launched with mpiexec)" if value == "gloo" else ""
            raise ValueError(f"Invalid backend: '{name}'{hint}; autograd_gpu offers 'mpi' (CPU tensors, and CUDA "
                             f"tensors through host memory) and 'nccl' (CUDA tensors; CPU tensors through MPI)")
        return super().__new__(cls, value)


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` completes it and fills the output tensors."""

    def __init__(self, wait, test, finish: list, outputs: list, keep: tuple = ()) -> None:
        self._wait, self._test, self._finish, self._outputs = wait, test, finish, outputs
        self._keep = keep    # the buffers the engine reads and writes, alive until the collective is done
        self._done = False
        self._error: BaseException | None = None

    def wait(self, timeout: timedelta | None = None) -> bool:
        if not self._done:
            try:
                self._wait(None if timeout is None else _seconds(timeout))
            except BaseException as e:
                self._error = e
                raise
            for fn in self._finish:
                fn()
            for t in self._outputs:
                t._vc[0] += 1        # an in-place change, as far as saved-tensor checks go
            self._done = True
            self._finish = self._keep = ()
        return True

    def is_completed(self) -> bool:
        """Done on the wire (MPI: drives MPI's progress); ``wait()`` still finishes the outputs."""
        return self._done or self._test()

    def is_success(self) -> bool:
        return self._done and self._error is None

    def exception(self) -> BaseException | None:
        return self._error

    def result(self) -> list:
        return list(self._outputs)

    def synchronize(self) -> None:
        self.wait()


class ProcessGroup:
    """A set of ranks with their MPI communicator and, for CUDA tensors, NCCL communicators."""

    def __init__(self, backend: Backend, comm: "mpi.MpiComm", ranks: list[int], timeout: float) -> None:
        self._backend, self._comm, self._ranks, self._timeout = backend, comm, ranks, timeout
        self._nccl = nccl.NcclComms(comm, mpi.watch()) if backend == Backend.NCCL else None

    def rank(self) -> int:
        return self._comm.rank

    def size(self) -> int:
        return self._comm.size

    def name(self) -> str:
        return self._backend

    def _destroy(self) -> None:
        if self._nccl is not None:
            self._nccl.destroy()
        self._comm.free()

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self._backend!r}, rank={self.rank()}, size={self.size()})"


class GroupMember:
    WORLD = None                  # group=None: the default group
    NON_GROUP_MEMBER = object()   # what new_group returns to ranks outside it


_world: ProcessGroup | None = None
_groups: list[ProcessGroup] = []


def _seconds(t) -> float:
    return t.total_seconds() if isinstance(t, timedelta) else float(t)


# the process group ---------------------------------------------------------------------------------
def is_available() -> bool:
    return True


def is_mpi_available() -> bool:
    return mpi.available()


def is_nccl_available() -> bool:
    return nccl.available()


def is_initialized() -> bool:
    return _world is not None


def init_process_group(backend: str | None = None, init_method: str | None = None, timeout: timedelta | None = None,
                       world_size: int = -1, rank: int = -1, store=None, group_name: str = "", pg_options=None,
                       device_id=None) -> None:
    """Join the job started by ``mpiexec -n N``: rank and world size come from MPI.

    ``backend``: ``"mpi"`` or ``"nccl"``; None picks NCCL when CUDA and NCCL are usable, else MPI.
    ``rank``/``world_size``, when given, must match MPI's. ``timeout`` bounds every wait (default 30
    minutes): past it the waiting rank raises and the job is aborted.
    """
    global _world
    if _world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None:
        raise ValueError("autograd_gpu.distributed bootstraps through MPI: store= is not supported")
    if init_method not in (None, "env://", "mpi://"):
        raise ValueError(f"init_method {init_method!r} is not supported: rank and world size come from the MPI "
                         f"launcher (mpiexec -n N)")
    if backend is None:
        backend = Backend.NCCL if cuda_available() and nccl.available() else Backend.MPI
    backend = Backend(backend)
    comm = mpi.start(_seconds(timeout) if timeout is not None else _seconds(default_pg_timeout))
    problem = None
    if world_size not in (-1, None) and world_size != comm.size:
        problem = ValueError(f"world_size={world_size} but the MPI launcher started {comm.size} processes")
    elif rank not in (-1, None) and rank != comm.rank:
        problem = ValueError(f"rank={rank} but MPI gave this process rank {comm.rank}")
    elif backend == Backend.NCCL and not nccl.available():
        problem = RuntimeError("backend 'nccl' needs CuPy with NCCL (install autograd-gpu[cuda12] or [cuda13] and "
                               "nvidia-nccl-cu12 / -cu13); use backend='mpi' for CPU tensors")
    if problem is not None:
        comm.free()
        mpi.stop()
        raise problem
    _world = ProcessGroup(backend, comm, list(range(comm.size)), mpi.watch().timeout)
    if device_id is not None:   # PyTorch: eager NCCL communicator on this device
        d = Device(device_id) if not isinstance(device_id, int) else Device("cuda", device_id)
        if d.type == "cuda" and _world._nccl is not None:
            _world._nccl.get(d.index or 0)


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Free the group (the default one: every group, and the watch on failures). MPI itself stays up
    until the interpreter exits, so a new ``init_process_group`` may follow."""
    global _world
    if group is None or group is _world:
        if _world is None:
            raise ValueError(_NOT_INITIALIZED)
        for g in _groups:
            g._destroy()
        _groups.clear()
        _world._destroy()
        _world = None
        mpi.stop()
        return
    if group in _groups:
        _groups.remove(group)
        group._destroy()


def _group(group) -> ProcessGroup:
    if _world is None:
        raise ValueError(_NOT_INITIALIZED)
    if group is None:
        return _world
    if group is GroupMember.NON_GROUP_MEMBER:
        raise RuntimeError("this rank is not a member of the group it called a collective on")
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup or None, got {type(group).__name__}")
    return group


def get_rank(group: ProcessGroup | None = None) -> int:
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _group(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _group(group).size()


def get_backend(group: ProcessGroup | None = None) -> str:
    return _group(group)._backend


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """This process's rank on its machine: ``LOCAL_RANK``, else Open MPI's local rank, else MPI's
    shared-memory split, else ``fallback_rank``."""
    for var in ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"):
        if var in os.environ:
            return int(os.environ[var])
    if mpi.available():
        return mpi.local_rank()
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment and MPI is unavailable to find it")


def new_group(ranks: list[int] | None = None, timeout: timedelta | None = None, backend: str | None = None,
              pg_options=None) -> "ProcessGroup | object":
    """A group of ``ranks`` (every rank of the default group calls this, as in PyTorch); ranks outside
    it get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _group(None)
    ranks = sorted(set(range(world.size()) if ranks is None else ranks))
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is outside the world of {world.size()}")
    sub = world._comm.split(ranks)
    if sub is None:
        return GroupMember.NON_GROUP_MEMBER
    g = ProcessGroup(Backend(backend) if backend else world._backend, sub, ranks,
                     _seconds(timeout) if timeout is not None else world._timeout)
    _groups.append(g)
    return g
