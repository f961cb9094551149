"""``DistributedDataParallel`` (PyTorch's ``torch/nn/parallel/distributed.py``): one model replica
per rank, gradients averaged over the ranks while backward still runs.

At construction every rank checks that all ranks built the same parameters (names, shapes,
dtypes) and takes rank 0's parameters and buffers. The parameters, in reverse registration order
(roughly the order backward produces their gradients), are grouped by device and dtype into
buckets of ``bucket_cap_mb`` (the first bucket at most 1 MiB, so communication starts early).
A post-accumulate-grad hook on each parameter copies its gradient into its bucket; when a bucket
holds all its gradients it is all-reduced (averaged) asynchronously, buckets always launched in
order so that every rank issues the same collectives in the same order. The hook that launches the
last bucket waits for all of them and writes the averages back into ``.grad``.

A parameter that gets no gradient keeps its bucket (and every later one) from launching: as in
PyTorch, the next forward reports it by name; ``find_unused_parameters=True`` finds such
parameters from the forward's outputs instead and reduces them as zeros.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager

from ... import distributed as dist
from ...autograd import is_grad_enabled, no_grad
from ...autograd.graph import gradient_edge
from ...device import Device
from ...dtypes import int32
from ...ops.creation import empty, tensor, zeros
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024
_BROADCAST_CHUNK_BYTES = 250 * 1024 * 1024


class _Bucket:
    """The flat buffer of some parameters' gradients (one device, one dtype) and its collective."""

    __slots__ = ("members", "flat", "views", "pending", "work")

    def __init__(self, members: list[int], params: list) -> None:
        self.members = members
        p0 = params[members[0]]
        total = sum(params[i].numel() for i in members)
        self.flat = zeros(total, dtype=p0.dtype, device=p0.device)
        self.views, off = [], 0
        for i in members:
            n = params[i].numel()
            self.views.append(self.flat[off:off + n].view(params[i].shape))
            off += n
        self.pending = len(members)
        self.work = None


def _assign_buckets(params: list, first_cap: int, cap: int) -> list[list[int]]:
    """Indices of ``params`` grouped into buckets: reverse order, per (device, dtype), up to the caps."""
    open_: dict = {}
    done: list[list[int]] = []
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p.device, p.dtype)
        members, size = open_.get(key, ([], 0))
        members.append(i)
        size += p.numel() * p.element_size()
        limit = first_cap if not done else cap
        if size >= limit:
            done.append(members)
            open_.pop(key, None)
        else:
            open_[key] = (members, size)
    done.extend(m for m, _ in open_.values())
    return done


def _tensors_in(obj, out: list) -> list:
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _reached_leaves(outputs) -> set:
    """ids of the leaves whose gradients backward from ``outputs`` would accumulate."""
    stack = [e[0] for t in _tensors_in(outputs, []) if t.requires_grad and (e := gradient_edge(t)) is not None]
    seen, leaves = set(), set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.is_accumulate:
            leaves.add(id(node.variable))
        stack.extend(e[0] for e in node.next_edges if e is not None)
    return leaves


def _move(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_move(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _move(v, device) for k, v in obj.items()}
    return obj


class DistributedDataParallel(Module):
    """Data parallelism over the ranks of ``process_group`` (default: all): wrap the model, train as
    usual; every rank's gradients are the average over the ranks after ``backward()``."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False) -> None:
        super().__init__()
        group = process_group
        if not dist.is_initialized():
            raise ValueError("Default process group has not been initialized, please make sure to call "
                             "init_process_group.")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        devices = {p.device for p in module.parameters()} | {b.device for b in module.buffers()}
        if device_ids is not None:
            if len(devices) > 1 or any(d.type == "cpu" for d in devices):
                raise ValueError(f"DistributedDataParallel device_ids and output_device arguments only work with "
                                 f"single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                                 f"{device_ids}, output_device {output_device}, and module parameters "
                                 f"{ {p.device for p in module.parameters()} }.")
            if len(device_ids) != 1:
                raise ValueError("device_ids can only be None or contain a single element.")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.process_group = group
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self.bucket_bytes_cap = cap
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._world = dist.get_world_size(group)
        self._input_device = None
        if device_ids is not None:
            d = device_ids[0]
            self._input_device = Device("cuda", d) if isinstance(d, int) else Device(d)
        self._verify_same_model()
        if init_sync:
            self._sync_states(self._params + [b for b in module.buffers()])
        buckets = _assign_buckets(self._params, min(_FIRST_BUCKET_BYTES, cap), cap)
        self._buckets = [_Bucket(m, self._params) for m in buckets]
        self._where = {}                   # param index -> (bucket, position in it)
        for b in self._buckets:
            for pos, i in enumerate(b.members):
                self._where[i] = (b, pos)
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        self._expect_hooks = False         # set by a forward that will be followed by a synced backward
        self._hooks_fired = False
        self._used = None                  # find_unused_parameters: this rank's used flags this iteration
        ref = weakref.ref(self)
        self._handles = [p.register_post_accumulate_grad_hook(_hook(ref, i)) for i, p in enumerate(self._params)]

    # construction ----------------------------------------------------------------------------------
    def _verify_same_model(self) -> None:
        """Every rank must have the same parameters: name the first one that differs."""
        if self._world == 1:
            return
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in zip(self._names, self._params)]
        every: list = [None] * self._world
        dist.all_gather_object(every, mine, group=self.process_group)
        ref = every[0]
        for r, theirs in enumerate(every):
            if theirs == ref:
                continue
            for (n0, s0, d0), (n, s, d) in zip(ref, theirs):
                if n0 != n:
                    raise RuntimeError(f"DistributedDataParallel: DDP expects same model across all ranks, but "
                                       f"parameter '{n}' on rank {r} stands where rank 0 has '{n0}'.")
                if s0 != s or d0 != d:
                    raise RuntimeError(f"DistributedDataParallel: DDP expects same model across all ranks, but "
                                       f"parameter '{n}' has shape {list(s)} ({d}) on rank {r} and shape {list(s0)} "
                                       f"({d0}) on rank 0.")
            extra = ref[len(theirs):] or theirs[len(ref):]
            raise RuntimeError(f"DistributedDataParallel: DDP expects same model across all ranks, but Rank {r} has "
                               f"{len(theirs)} params, while rank 0 has inconsistent {len(ref)} params (first "
                               f"unmatched: '{extra[0][0]}').")

    def _sync_states(self, tensors: list) -> None:
        """Rank 0's values into every rank's ``tensors``, a few flat broadcasts per device and dtype."""
        if self._world == 1 or not tensors:
            return
        groups: dict = {}
        for t in tensors:
            groups.setdefault((t.device, t.dtype), []).append(t)
        with no_grad():
            for ts in groups.values():
                chunk: list = []
                size = 0
                for t in ts + [None]:
                    if t is not None:
                        chunk.append(t)
                        size += t.numel() * t.element_size()
                    if chunk and (t is None or size >= _BROADCAST_CHUNK_BYTES):
                        self._broadcast_chunk(chunk)
                        chunk, size = [], 0

    def _broadcast_chunk(self, ts: list) -> None:
        flat = empty(sum(t.numel() for t in ts), dtype=ts[0].dtype, device=ts[0].device)
        off = 0
        for t in ts:
            flat[off:off + t.numel()].copy_(t.reshape(-1))
            off += t.numel()
        dist.broadcast(flat, 0, group=self.process_group)
        off = 0
        for t in ts:
            t.copy_(flat[off:off + t.numel()].view(t.shape))
            off += t.numel()

    # forward -----------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        grad = is_grad_enabled()
        if grad:
            self._check_prior_reduction()
        sync = grad and self.require_backward_grad_sync
        if sync and self.broadcast_buffers and self.require_forward_param_sync:
            bufs = list(self.module.buffers())
            if bufs:
                self._sync_states(bufs)
        if self._input_device is not None:
            inputs, kwargs = _move(inputs, self._input_device), _move(kwargs, self._input_device)
        out = self.module(*inputs, **kwargs)
        if grad:
            self._prepare_for_backward(out if sync else None)
        return out

    def _check_prior_reduction(self) -> None:
        if not (self._expect_hooks and self._hooks_fired):
            return
        missing = [i for i, r in enumerate(self._ready) if not r]
        names = ", ".join(self._names[i] for i in missing)
        rank = dist.get_rank(self.process_group)
        self._expect_hooks = self._hooks_fired = False
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new one. This error "
            "indicates that your module has parameters that were not used in producing loss. You can enable unused "
            "parameter detection by passing the keyword argument `find_unused_parameters=True` to "
            "`autograd_gpu.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
            f"participate in calculating loss.\nParameters which did not receive grad for rank {rank}: {names}\n"
            f"Parameter indices which did not receive grad for rank {rank}: {' '.join(map(str, missing))}")

    def _prepare_for_backward(self, outputs) -> None:
        """Arm the hooks for the backward of this forward (``outputs`` None: a no_sync forward)."""
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        self._hooks_fired = False
        for b in self._buckets:
            b.pending, b.work = len(b.members), None
        self._expect_hooks = outputs is not None
        if outputs is None or not self.find_unused_parameters:
            return
        reached = _reached_leaves(outputs)
        self._used = [id(p) in reached for p in self._params]
        for i, used in enumerate(self._used):
            if not used:
                self._mark_ready(i, self._params[i])

    # backward: the hooks ----------------------------------------------------------------------------------
    def _mark_ready(self, i: int, p: Tensor) -> None:
        if self._ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. This error is caused by one of the following "
                f"reasons: 1) Use of a module parameter outside the `forward` function, or 2) reused parameters in "
                f"multiple reentrant backward passes, or 3) backward called twice after one forward. Parameter "
                f"'{self._names[i]}' (index {i}) has been marked as ready twice.")
        self._ready[i] = True
        bucket, pos = self._where[i]
        if self._world > 1:     # a world of one keeps the bookkeeping (and its errors), not the copies
            with no_grad():
                if p.grad is None:
                    bucket.views[pos].zero_()
                else:
                    bucket.views[pos].copy_(p.grad)
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready()

    def _launch_ready(self) -> None:
        buckets = self._buckets
        while self._next_bucket < len(buckets) and buckets[self._next_bucket].pending == 0:
            b = buckets[self._next_bucket]
            if self._world > 1:
                b.work = dist.all_reduce(b.flat, op=dist.ReduceOp.AVG, group=self.process_group, async_op=True)
            self._next_bucket += 1
        if self._next_bucket == len(buckets):
            self._finalize()

    def _finalize(self) -> None:
        """All buckets launched: wait for them and hand the averages to ``.grad``."""
        self._expect_hooks = self._hooks_fired = False
        if self._world == 1:
            return
        for b in self._buckets:
            b.work.wait()
            b.work = None
        used = None
        if self.find_unused_parameters and self._used is not None:
            flags = tensor([int(u) for u in self._used], dtype=int32)   # a CPU tensor: through MPI
            dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.process_group)
            used = flags.tolist()
        with no_grad():
            for b in self._buckets:
                for i, view in zip(b.members, b.views):
                    p = self._params[i]
                    if used is not None and not used[i]:
                        continue        # unused on every rank: .grad stays as it was
                    if self.gradient_as_bucket_view or p.grad is None:
                        p.grad = view if self.gradient_as_bucket_view else view.clone()
                    elif p.grad is not view:
                        p.grad.copy_(view)

    # gradient accumulation --------------------------------------------------------------------------------
    @contextmanager
    def no_sync(self):
        """Inside, forwards are followed by backwards that only accumulate ``.grad`` locally; the first
        synced backward after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


def _hook(ref, i: int):
    def hook(p: Tensor) -> None:
        ddp = ref()
        if ddp is not None and ddp._expect_hooks:
            ddp._hooks_fired = True
            ddp._mark_ready(i, p)
    return hook
