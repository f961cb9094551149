"""The collectives (PyTorch's, from ``torch/distributed/distributed_c10d.py``), apart from the process groups.

Collectives change their tensors in place: CPU tensors go through MPI (``backends/mpi.py``), CUDA
tensors through NCCL (``backends/nccl.py``) unless the backend is ``"mpi"``, which stages them
through host memory. ``async_op=True`` returns a ``Work``; the tensors hold the result once
``wait()`` returned. The group comes from ``distributed_c10d._group``, which reads the default group
at call time.
"""
from __future__ import annotations

import functools

import numpy as np

from ..tensor import Tensor
from .backends import mpi, nccl
from .distributed_c10d import ProcessGroup, ReduceOp, Work, _group

__all__ = ["barrier", "all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
           "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "all_gather_object", "broadcast_object_list"]


def _check_tensor(t, name: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type Tensor\n but got "
                        f"{type(t)} instead.")


def _check_list(ts, name: str) -> None:
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, Tensor) for t in ts):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[Tensor]\n but got "
                        f"{type(ts)} instead.")


def _check_rank(g: ProcessGroup, r: int, what: str) -> None:
    if not 0 <= r < g.size():
        raise ValueError(f"{what}: rank {r} is outside the group of {g.size()} ranks")


def _op_name(op) -> str:
    if isinstance(op, ReduceOp):
        return op.value
    if isinstance(op, str) and op.lower() in {o.value for o in ReduceOp}:
        return op.lower()
    raise ValueError(f"unknown reduce op {op!r}: use ag.distributed.ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, "
                     f"BAND, BOR, BXOR)")


def _uses_nccl(g: ProcessGroup, tensors: list) -> bool:
    types = {t._device.type for t in tensors}
    if len(types) > 1:
        raise RuntimeError(f"Expected all tensors to be on the same device type, but found {sorted(types)}")
    return g._nccl is not None and "cuda" in types


def _cuda_index(tensors: list) -> int:
    idx = {int(t._data.device.id) for t in tensors}   # where the arrays are, whatever is current
    if len(idx) > 1:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found cuda:{min(idx)} and "
                           f"cuda:{max(idx)}")
    return idx.pop()


def _finish(g: ProcessGroup, work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


class _Staging:
    """Contiguous host buffers for MPI: a tensor's own array when it already is one, else a copy (a
    non-contiguous view, a CUDA tensor under backend 'mpi') written back when the collective is done."""

    def __init__(self) -> None:
        self.finish: list = []

    def read(self, t: Tensor) -> np.ndarray:
        a = t._data
        if isinstance(a, np.ndarray):
            return a if a.flags.c_contiguous else np.ascontiguousarray(a)
        return np.ascontiguousarray(t._device.backend.to_numpy(a))

    def inout(self, t: Tensor, read: bool = True) -> np.ndarray:
        """A buffer the collective reads (if ``read``) and writes; copied into ``t`` at the end."""
        a = t._data
        if isinstance(a, np.ndarray) and a.flags.c_contiguous:
            return a
        buf = self.read(t) if read else np.empty(a.shape, dtype=a.dtype)
        self.write_back(t, buf)
        return buf

    def write_back(self, t: Tensor, buf: np.ndarray) -> None:
        a = t._data
        if isinstance(a, np.ndarray):
            self.finish.append(lambda: np.copyto(a, buf.reshape(a.shape)))
        else:
            backend, index = t._device.backend, int(a.device.id)
            self.finish.append(lambda: a.__setitem__(Ellipsis, backend.from_numpy(buf.reshape(a.shape), index)))


def _mpi_work(op: "mpi.Op | mpi.RequestOp", what: str, staging: _Staging, outputs: list, keep: tuple = ()) -> Work:
    watch = mpi.watch()
    return Work(lambda timeout: watch.wait([op], what, timeout), op.test, staging.finish, outputs, keep)


def _nccl_work(comm: "nccl.DeviceComm", done, finish: list, outputs: list) -> Work:
    # the arrays in flight are kept by the communicator until ``done``; copies back run on its device
    return Work(lambda timeout: comm.stream_wait(done), lambda: bool(done.done),
                [functools.partial(comm.on_device, fn) for fn in finish], outputs)


def _divide(buf: np.ndarray, n: int):
    """AVG over MPI is SUM, then this (before any copy back)."""
    def div() -> None:
        buf[...] /= n
    return div


def _cuda_contiguous(t: Tensor):
    """(the array NCCL works on, the copy-back to run at the end or None)."""
    a = t._data
    if a.flags.c_contiguous:
        return a, None
    buf = a.copy(order="C")
    return buf, (lambda: a.__setitem__(Ellipsis, buf))


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks, in place, on every rank."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    name = _op_name(op)
    kind = tensor._data.dtype.kind
    if name == "avg" and kind != "f":
        raise ValueError(f"ReduceOp.AVG needs a floating-point tensor, got {tensor.dtype}")
    if _uses_nccl(g, [tensor]):
        comm = g._nccl.get(_cuda_index([tensor]))
        with comm.device():
            buf, back = _cuda_contiguous(tensor)
            arr = buf.view(np.uint8) if kind == "b" else buf
            dt, nop = nccl.nccl_type(arr.dtype), nccl.nccl_op(name, tensor._data.dtype)
            done = comm.launch(lambda c, s: c.allReduce(nccl.flat_ptr(arr), nccl.flat_ptr(arr), arr.size, dt, nop, s),
                               (arr,))
            return _finish(g, _nccl_work(comm, done, [back] if back else [], [tensor]), async_op)
    st = _Staging()
    buf = st.inout(tensor)
    pending = g._comm.allreduce(buf, "sum" if name == "avg" else name)
    if name == "avg":
        st.finish.insert(0, _divide(buf, g.size()))
    return _finish(g, _mpi_work(pending, "all_reduce", st, [tensor], (buf,)), async_op)


def reduce(tensor: Tensor, dst: int, op=ReduceOp.SUM, group: ProcessGroup | None = None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks into rank ``dst``'s ``tensor``."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    _check_rank(g, dst, "reduce")
    name = _op_name(op)
    if name == "avg" and tensor._data.dtype.kind != "f":
        raise ValueError(f"ReduceOp.AVG needs a floating-point tensor, got {tensor.dtype}")
    if _uses_nccl(g, [tensor]):
        comm = g._nccl.get(_cuda_index([tensor]))
        with comm.device():
            buf, back = _cuda_contiguous(tensor)
            arr = buf.view(np.uint8) if buf.dtype.kind == "b" else buf
            dt, nop = nccl.nccl_type(arr.dtype), nccl.nccl_op(name, tensor._data.dtype)
            done = comm.launch(lambda c, s: c.reduce(nccl.flat_ptr(arr), nccl.flat_ptr(arr), arr.size, dt, nop, dst, s),
                               (arr,))
            return _finish(g, _nccl_work(comm, done, [back] if back and g.rank() == dst else [], [tensor]), async_op)
    st = _Staging()
    buf = st.inout(tensor) if g.rank() == dst else st.read(tensor)
    pending = g._comm.reduce(buf, dst, "sum" if name == "avg" else name)
    if name == "avg" and g.rank() == dst:
        st.finish.insert(0, _divide(buf, g.size()))
    return _finish(g, _mpi_work(pending, "reduce", st, [tensor] if g.rank() == dst else [], (buf,)), async_op)


def broadcast(tensor: Tensor, src: int, group: ProcessGroup | None = None, async_op: bool = False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    _check_rank(g, src, "broadcast")
    if _uses_nccl(g, [tensor]):
        comm = g._nccl.get(_cuda_index([tensor]))
        with comm.device():
            buf, back = _cuda_contiguous(tensor)
            arr = buf.view(np.uint8)
            done = comm.launch(lambda c, s: c.broadcast(nccl.flat_ptr(arr), nccl.flat_ptr(arr), arr.size, 1, src, s),
                               (arr,))
            return _finish(g, _nccl_work(comm, done, [back] if back else [], [tensor]), async_op)
    st = _Staging()
    buf = st.inout(tensor, read=g.rank() == src)
    pending = g._comm.bcast(buf.reshape(-1).view(np.uint8), src)
    return _finish(g, _mpi_work(pending, "broadcast", st, [tensor], (buf,)), async_op)


def _one_per_rank(ts: list, name: str, like: Tensor, g: ProcessGroup, what: str) -> None:
    """``ts`` holds one tensor per rank of ``g``, each of ``like``'s shape and dtype."""
    if len(ts) != g.size():
        raise RuntimeError(f"{what}: {name} has {len(ts)} tensors but the group has {g.size()} ranks")
    for i, t in enumerate(ts):
        if t.shape != like.shape or t._data.dtype != like._data.dtype:
            raise RuntimeError(f"{what}: tensor {i} has shape {list(t.shape)} and dtype {t.dtype}, expected "
                               f"{list(like.shape)} and {like.dtype} like the input")


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None, async_op: bool = False):
    """``tensor_list[r]`` = rank r's ``tensor``, on every rank."""
    _check_list(tensor_list, "tensor_list")
    _check_tensor(tensor, "tensor")
    g = _group(group)
    _one_per_rank(tensor_list, "tensor_list", tensor, g, "all_gather")
    n = tensor._data.size
    if _uses_nccl(g, [tensor, *tensor_list]):
        comm = g._nccl.get(_cuda_index([tensor, *tensor_list]))
        with comm.device():
            send = tensor._data.reshape(-1).view(np.uint8) if tensor._data.flags.c_contiguous else \
                tensor._data.copy(order="C").reshape(-1).view(np.uint8)
            recv = comm.cp.empty((g.size(), send.size), dtype=np.uint8)
            done = comm.launch(lambda c, s: c.allGather(nccl.flat_ptr(send), nccl.flat_ptr(recv), send.size, 1, s),
                               (send, recv))
            finish = [lambda: [t._data.__setitem__(Ellipsis, recv[r].view(t._data.dtype).reshape(t.shape))
                               for r, t in enumerate(tensor_list)]]
            return _finish(g, _nccl_work(comm, done, finish, list(tensor_list)), async_op)
    st = _Staging()
    send = st.read(tensor)
    recv = np.empty((g.size(), n), dtype=send.dtype)
    for r, t in enumerate(tensor_list):
        st.write_back(t, recv[r])
    pending = g._comm.allgather(send.reshape(-1).view(np.uint8), recv.view(np.uint8))
    return _finish(g, _mpi_work(pending, "all_gather", st, list(tensor_list), (send, recv)), async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: ProcessGroup | None = None,
                           async_op: bool = False):
    """Every rank's ``input_tensor`` concatenated along dim 0 (or stacked) into ``output_tensor``."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    g = _group(group)
    if output_tensor._data.size != input_tensor._data.size * g.size() or \
            output_tensor._data.dtype != input_tensor._data.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor must hold world_size ({g.size()}) times the input "
                         f"({list(input_tensor.shape)}, {input_tensor.dtype}); got {list(output_tensor.shape)}, "
                         f"{output_tensor.dtype}")
    if _uses_nccl(g, [output_tensor, input_tensor]):
        comm = g._nccl.get(_cuda_index([output_tensor, input_tensor]))
        with comm.device():
            send = input_tensor._data.copy(order="C").reshape(-1).view(np.uint8)
            recv, back = _cuda_contiguous(output_tensor)
            rb = recv.reshape(-1).view(np.uint8)
            done = comm.launch(lambda c, s: c.allGather(nccl.flat_ptr(send), nccl.flat_ptr(rb), send.size, 1, s),
                               (send, rb))
            return _finish(g, _nccl_work(comm, done, [back] if back else [], [output_tensor]), async_op)
    st = _Staging()
    send = st.read(input_tensor)
    recv = st.inout(output_tensor, read=False)
    pending = g._comm.allgather(send.reshape(-1).view(np.uint8), recv.reshape(-1).view(np.uint8))
    return _finish(g, _mpi_work(pending, "all_gather_into_tensor", st, [output_tensor], (send, recv)), async_op)


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                   async_op: bool = False):
    """``output`` on rank r = the reduction over ranks of their ``input_list[r]``."""
    _check_tensor(output, "output")
    _check_list(input_list, "input_list")
    g = _group(group)
    _one_per_rank(input_list, "input_list", output, g, "reduce_scatter")
    xp, parts = output._device.backend.xp, [t._data.reshape(-1) for t in input_list]
    if output._device.type == "cuda":
        with output._data.device:      # CuPy allocates on the current device: make it the tensors'
            flat = xp.concatenate(parts)
    else:
        flat = xp.concatenate(parts)
    flat = Tensor._make(flat, output._device)
    return reduce_scatter_tensor(output, flat, op, group, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                          async_op: bool = False):
    """``input`` split in world_size equal chunks along dim 0; rank r gets the reduction of chunk r."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    g = _group(group)
    name = _op_name(op)
    if input._data.size != output._data.size * g.size() or input._data.dtype != output._data.dtype:
        raise ValueError(f"reduce_scatter_tensor: input must hold world_size ({g.size()}) times the output "
                         f"({list(output.shape)}, {output.dtype}); got {list(input.shape)}, {input.dtype}")
    if name == "avg" and output._data.dtype.kind != "f":
        raise ValueError(f"ReduceOp.AVG needs a floating-point tensor, got {output.dtype}")
    n = output._data.size
    if _uses_nccl(g, [output, input]):
        comm = g._nccl.get(_cuda_index([output, input]))
        with comm.device():
            send = input._data.copy(order="C").reshape(-1)
            recv, back = _cuda_contiguous(output)
            if send.dtype.kind == "b":
                send, recv_n = send.view(np.uint8), recv.reshape(-1).view(np.uint8)
            else:
                recv_n = recv.reshape(-1)
            dt, nop = nccl.nccl_type(send.dtype), nccl.nccl_op(name, output._data.dtype)
            done = comm.launch(lambda c, s: c.reduceScatter(nccl.flat_ptr(send), nccl.flat_ptr(recv_n), n, dt, nop, s),
                               (send, recv_n))
            return _finish(g, _nccl_work(comm, done, [back] if back else [], [output]), async_op)
    st = _Staging()
    send = st.read(input)
    recv = st.inout(output, read=False)
    pending = g._comm.reduce_scatter(send.reshape(-1), recv.reshape(-1), "sum" if name == "avg" else name)
    if name == "avg":
        st.finish.insert(0, _divide(recv, g.size()))
    return _finish(g, _mpi_work(pending, "reduce_scatter", st, [output], (send, recv)), async_op)


def all_to_all(output_tensor_list: list, input_tensor_list: list, group: ProcessGroup | None = None,
               async_op: bool = False):
    """Rank r sends ``input_tensor_list[j]`` to rank j, which receives it as ``output_tensor_list[r]``
    (sizes may differ between pairs; dtypes may not)."""
    _check_list(output_tensor_list, "output_tensor_list")
    _check_list(input_tensor_list, "input_tensor_list")
    g = _group(group)
    n = g.size()
    if len(output_tensor_list) != n or len(input_tensor_list) != n:
        raise RuntimeError(f"all_to_all: expected {n} input and {n} output tensors (the group's size), got "
                           f"{len(input_tensor_list)} and {len(output_tensor_list)}")
    dtypes = {t._data.dtype for t in (*output_tensor_list, *input_tensor_list)}
    if len(dtypes) > 1:
        raise RuntimeError(f"all_to_all: all tensors must have one dtype, got {sorted(str(d) for d in dtypes)}")
    every = [*output_tensor_list, *input_tensor_list]
    if _uses_nccl(g, every):
        comm = g._nccl.get(_cuda_index(every))
        with comm.device():
            sends = [t._data.copy(order="C").reshape(-1).view(np.uint8) for t in input_tensor_list]
            recvs = [comm.cp.empty(t._data.nbytes, dtype=np.uint8) for t in output_tensor_list]

            def run(c, s):
                def body():
                    for peer in range(n):
                        c.send(nccl.flat_ptr(sends[peer]), sends[peer].size, 1, peer, s)
                        c.recv(nccl.flat_ptr(recvs[peer]), recvs[peer].size, 1, peer, s)
                nccl.group(body)
            done = comm.launch(run, (*sends, *recvs))
            finish = [lambda: [t._data.__setitem__(Ellipsis, r.view(t._data.dtype).reshape(t.shape))
                               for t, r in zip(output_tensor_list, recvs)]]
            return _finish(g, _nccl_work(comm, done, finish, list(output_tensor_list)), async_op)
    st = _Staging()
    sends = [st.read(t).reshape(-1) for t in input_tensor_list]
    send = np.concatenate(sends) if sends else np.empty(0)
    counts_in = [s.nbytes for s in sends]
    counts_out = [t._data.nbytes for t in output_tensor_list]
    recv = np.empty(sum(counts_out), dtype=np.uint8)
    off = 0
    for t, c in zip(output_tensor_list, counts_out):
        st.write_back(t, recv[off:off + c].view(t._data.dtype))
        off += c
    pending = g._comm.alltoallv(send.view(np.uint8), counts_in, recv, counts_out)
    return _finish(g, _mpi_work(pending, "all_to_all", st, list(output_tensor_list), (send, recv)), async_op)


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes: list | None = None,
                      input_split_sizes: list | None = None, group: ProcessGroup | None = None, async_op: bool = False):
    """``all_to_all`` on dim-0 splits of one input and one output tensor (equal splits by default)."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    g = _group(group)
    n = g.size()

    def splits(t: Tensor, sizes, what):
        rows = t.shape[0] if t.ndim else 1
        if sizes is None:
            if rows % n:
                raise ValueError(f"all_to_all_single: {what} has {rows} rows, not divisible by the world size {n}")
            sizes = [rows // n] * n
        if len(sizes) != n or sum(sizes) != rows:
            raise ValueError(f"all_to_all_single: {what}_split_sizes {list(sizes)} must have {n} entries summing "
                             f"to {rows}")
        out, off = [], 0
        for s in sizes:
            out.append(t[off:off + s])
            off += s
        return out
    outs = splits(output, output_split_sizes, "output")
    ins = splits(input, input_split_sizes, "input")
    return all_to_all(outs, ins, group, async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids=None):
    """Wait until every rank of the group got here."""
    g = _group(group)
    pending = g._comm.barrier()
    return _finish(g, _mpi_work(pending, "barrier", _Staging(), []), async_op)


def all_gather_object(object_list: list, obj, group: ProcessGroup | None = None) -> None:
    """``object_list[r]`` = rank r's ``obj`` (pickled: for small metadata, as PyTorch's)."""
    g = _group(group)
    if len(object_list) != g.size():
        raise RuntimeError(f"all_gather_object: object_list has {len(object_list)} entries but the group has "
                           f"{g.size()} ranks")
    object_list[:] = g._comm.allgather_object(obj, "all_gather_object")


def broadcast_object_list(object_list: list, src: int = 0, group: ProcessGroup | None = None, device=None) -> None:
    """Replace ``object_list``'s entries by rank ``src``'s (pickled)."""
    g = _group(group)
    _check_rank(g, src, "broadcast_object_list")
    object_list[:] = g._comm.bcast_object(list(object_list), src, "broadcast_object_list")
