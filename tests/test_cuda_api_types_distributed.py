"""The distributed layer's and the benchmarks' CUDA calls checked on CPU against stand-ins that keep the
real API's types and semantics (CuPy 14: cupy/cuda/device.pyx, cupy/_creation/basic.py allocate on the
current device; cupy_backends/cuda/libs/nccl.pyx ``allReduce(intptr_t sendbuf, intptr_t recvbuf, size_t
count, int datatype, int op, intptr_t stream)``, whose buffers must be on the communicator's device)."""
from __future__ import annotations

from types import SimpleNamespace

from benchmarks import ddp_scaling


class _Device:
    """cupy.cuda.Device: a context manager making its device current, restoring the previous one."""

    def __init__(self, cp, index: int) -> None:
        self.cp, self.id = cp, index

    def __enter__(self):
        self.prev, self.cp.current = self.cp.current, self.id
        return self

    def __exit__(self, *exc) -> None:
        self.cp.current = self.prev


class _FakeCupy:
    """The slice of CuPy that allocates: ``ones`` on the current device (0 until something sets it)."""

    def __init__(self) -> None:
        self.current = 0
        self.cuda = SimpleNamespace(Device=lambda i: _Device(self, i),
                                    get_current_stream=lambda: SimpleNamespace(ptr=0))   # Stream.null

    def ones(self, n: int, dtype=None):
        return SimpleNamespace(device_id=self.current, size=n, data=SimpleNamespace(ptr=(self.current + 1) << 40))


class _FakeNcclComm:
    """NcclCommunicator of one GPU: NCCL reads the buffers from its own device."""

    def __init__(self, index: int) -> None:
        self.index, self.calls = index, []

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream) -> None:
        for v in (sendbuf, recvbuf, count, datatype, op, stream):
            assert isinstance(v, int), f"Cython intptr_t/size_t/int argument got {type(v).__name__}"
        for ptr in (sendbuf, recvbuf):
            assert (ptr >> 40) - 1 == self.index, f"buffer on GPU {(ptr >> 40) - 1}, communicator on {self.index}"
        self.calls.append((count, datatype, op))


def test_ddp_scaling_raw_nccl_reference_uses_the_ranks_gpu():
    # rank 1 of a 2-GPU node: its communicator is on GPU 1 while CuPy's current device is still GPU 0
    cp = _FakeCupy()
    comm = SimpleNamespace(cp=cp, comm=_FakeNcclComm(1), device=lambda: _Device(cp, 1))
    synced = []
    direct = ddp_scaling._nccl_direct(comm, 256, 3, lambda: synced.append(True))
    direct()
    assert comm.comm.calls == [(256, 7, 0)] * 3 and synced == [True]   # float32 = 7, sum = 0
    assert cp.current == 0   # the device is current only inside
