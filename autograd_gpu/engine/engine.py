"""The backward pass: count dependencies, then run each node once its gradients are in.

Read ``run_backward`` top to bottom: build the task, seed the root, loop on the
caller's queue. Nodes on other devices are handed to that device's worker only
when the graph spans several devices; otherwise the caller does everything.
"""
from __future__ import annotations

import itertools
import math
import operator
from heapq import heappop, heappush


from ..autograd import anomaly
from ..autograd.grad_mode import _state as _grad_state
from ..autograd.graph import ACCUMULATE_LOCK
from ..device import CPU, Device, current_index, only_cpu, set_current_index
from ..dispatch import kernel, op, quiet_scope
from .graph_task import DONE, GraphRoot, GraphTask, LocalQueue, SharedQueue, node_device, priority
from .workers import current_worker_device, worker_for

_multithreading = True
_tiebreak = itertools.count()


def set_multithreading_enabled(mode: bool) -> None:
    """Off: every node runs on the calling thread (for debugging)."""
    global _multithreading
    _multithreading = bool(mode)


def is_multithreading_enabled() -> bool:
    return _multithreading


def run_backward(root_edges: list, root_grads: list, keep_graph: bool, create_graph: bool,
                 input_edges: list | None = None, accumulate: bool = True) -> list | None:
    """Run backward from ``root_edges`` seeded with ``root_grads``.

    With ``input_edges``, only nodes on a path to them run and the gradient
    arriving at each is captured (returned when ``accumulate`` is False).
    """
    task = GraphTask(keep_graph, create_graph, accumulate)
    for g in root_grads:   # the caller's gradients: a leaf that would hold their storage gets a copy
        if g is not None:
            task.claimed.add(g._device.backend.storage_key(g._data))
    root = GraphRoot(root_edges, root_grads)
    devices = _count_dependencies(task, root)
    if input_edges is not None:
        _prune_to_inputs(task, root, input_edges)

    # A worker running a reentrant backward must not wait on itself: it does all the work.
    single = len(devices) <= 1 or not _multithreading or current_worker_device() is not None
    task.threaded = not single
    # nothing to look for around a node without hooks (see _evaluate)
    task.direct = not task.captures and task.exec_nodes is None and not (anomaly.enabled and anomaly.check_nan)
    task.switch_devices = single and len(devices) > 1
    task.caller_queue = LocalQueue() if single else SharedQueue()
    prev_grad = _grad_state.enabled
    prev_devices = [(t, current_index(t)) for t in {d.type for d in devices}] if single else []
    if single and devices:
        _make_current(next(iter(devices)))
    try:
        _grad_state.enabled = create_graph
        task.outstanding = 1
        task.caller_queue.put((priority(root), next(_tiebreak), root, []))
        with quiet_scope():  # inf/nan in a gradient is data, not a warning (as in PyTorch)
            _loop(task)
    finally:
        _grad_state.enabled = prev_grad
        for dev_type, index in prev_devices:  # leave this thread's devices as we found them
            if current_index(dev_type) != index:
                set_current_index(dev_type, index)
    error = task.error
    if error is not None:
        # The error's traceback holds the engine's frames, and they hold the task and the graph:
        # nothing here may hold the error back (task.error, this frame's locals), or the graph and
        # its saved tensors would live on in a cycle until the cyclic collector runs.
        task.error = None
        try:
            raise error
        finally:
            del error, task, root
    return task.captured if input_edges is not None else None


def _count_dependencies(task: GraphTask, root: GraphRoot) -> set:
    """Fill ``task.deps`` (how many gradients each reachable node waits for); the non-CPU devices seen.

    While only the CPU backend exists there is no other device to look for: the walk only counts."""
    deps = task.deps
    devices: set = set()
    stack = [root]
    scan = not only_cpu()
    seen_meta = None   # nodes of one geometry share their out_meta (recording._single_meta): look once
    while stack:
        for edge in stack.pop().next_edges:
            if edge is None:
                continue
            nxt = edge[0]
            if nxt in deps:
                deps[nxt] += 1
                continue
            deps[nxt] = 1
            stack.append(nxt)
            if scan and nxt.out_meta is not seen_meta:
                seen_meta = nxt.out_meta
                for meta in seen_meta:   # node_device, inlined: this loop visits the whole graph
                    if meta[2].type != "cpu":
                        devices.add(meta[2])
                        break
    return devices


def _prune_to_inputs(task: GraphTask, root: GraphRoot, input_edges: list) -> None:
    """Keep only nodes from which an input is reachable; note where to capture gradients."""
    targets = set()
    for i, edge in enumerate(input_edges):
        task.captured.append(None)
        if edge is None:
            continue
        node, nr = edge
        if task.accumulate and node.is_accumulate:
            targets.add(node)           # the leaf's accumulator runs as usual
            continue
        task.captures.setdefault(node, []).append((nr, i))
        targets.add(node)
    needed = _needed_by_seq(task.deps, targets)
    if needed is None:
        needed = _needed_by_walk(root, targets)
    for node in targets:
        if node.is_accumulate and task.accumulate:
            needed.add(node)
    needed.add(root)
    task.exec_nodes = needed


_SEQ = operator.attrgetter("seq")


def _needed_by_seq(nodes, targets: set) -> set | None:
    """The nodes (of ``nodes``, the graph's) that reach a target: a node is needed when any child is
    a target or needed. A node is made after the nodes its edges point to, so in creation
    (``seq``) order every child is decided before its parents: one pass. None if some edge
    breaks that order (then ``_needed_by_walk`` decides)."""
    needed = set()
    for node in sorted(nodes, key=_SEQ):
        seq = node.seq
        for e in node.next_edges:
            if e is None:
                continue
            child = e[0]
            if child in needed or child in targets:
                needed.add(node)
                break
            if child.seq > seq and not child.is_accumulate:   # accumulators have no children
                return None
    return needed


def _needed_by_walk(root, targets: set) -> set:
    """``_needed_by_seq`` for any graph: an iterative post-order walk."""
    needed = set()
    stack = [(root, iter(root.next_edges))]
    visited = {root}
    while stack:
        node, it = stack[-1]
        advanced = False
        for edge in it:
            if edge is None:
                continue
            child = edge[0]
            if child not in visited:
                visited.add(child)
                stack.append((child, iter(child.next_edges)))
                advanced = True
                break
        if advanced:
            continue
        stack.pop()
        if any(e is not None and (e[0] in needed or e[0] in targets) for e in node.next_edges):
            needed.add(node)
    return needed


def _loop(task: GraphTask) -> None:
    """The calling thread's loop: run what is ready here until nothing is outstanding."""
    q = task.caller_queue
    if not task.threaded:  # everything runs here: a plain heap, no counting, no locks
        heap, switch, direct, keep = q.heap, task.switch_devices, task.direct, task.keep_graph
        while heap:
            _, _, node, grads = heappop(heap)
            try:
                if switch:
                    _make_current(node_device(node))
                if direct and node.plain:   # _evaluate's first case, inlined: nothing around the node
                    outputs = node.apply(grads)
                    if not keep:
                        node.release()
                else:
                    outputs = _evaluate(task, node, grads)
                    if outputs is None:
                        continue
                _route(task, node, outputs, heap)   # pushes what becomes ready onto the heap
            except BaseException as e:  # noqa: BLE001 - re-raised by run_backward
                _name_node(e, node)
                task.error = e
                return
        return
    while True:
        _, _, node, grads = q.get()
        if grads is DONE:
            return
        _run(task, node, grads)


def _run(task: GraphTask, node, grads: list) -> None:
    """Run one node of a threaded task (on whichever thread owns its device) and route its outputs."""
    ready = ()
    if task.error is None:
        try:
            _grad_state.enabled = task.create_graph
            outputs = _evaluate(task, node, grads)
            if outputs is not None:
                with task.lock:
                    ready = _route(task, node, outputs)
                    task.outstanding += len(ready)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            with task.lock:
                if task.error is None:
                    _name_node(e, node)
                    task.error = e
    for nxt, buf in ready:
        item = (priority(nxt), next(_tiebreak), task, nxt, buf)
        dev: Device = node_device(nxt)
        if dev is not CPU:
            worker_for(dev, _run).queue.put(item)
        else:
            task.caller_queue.put((item[0], item[1], nxt, buf))
    with task.lock:
        task.outstanding -= 1
        done = task.outstanding == 0
    if done:
        task.caller_queue.put((-math.inf, 0, None, DONE))


def _make_current(dev: Device) -> None:
    if dev.type != "cpu" and current_index(dev.type) != (dev.index or 0):
        set_current_index(dev.type, dev.index or 0)


def _on(dev: Device, fn, *args):
    """``fn(*args)`` for a node on ``dev``, possibly called from another device's worker (after a ``.to()``)."""
    if dev.type == "cpu" or current_index(dev.type) == (dev.index or 0):
        return fn(*args)
    prev = current_index(dev.type)
    set_current_index(dev.type, dev.index or 0)
    try:
        return fn(*args)
    finally:
        set_current_index(dev.type, prev)


class _Sum:
    """An input-buffer slot that has received several gradients: their running sum, a tensor the
    engine made and alone holds, so later gradients are added into it in place (as PyTorch's
    InputBuffer does) instead of through a new tensor each. Unwrapped when its node is ready."""

    __slots__ = ("tensor", "add_into")

    def __init__(self, tensor) -> None:
        self.tensor = tensor
        self.add_into = kernel("add_into", tensor)


def _sum(dev: Device, cur, g):
    """The buffer slot holding ``cur`` after gradient ``g`` (validated: same shape, dtype, device) arrives."""
    if type(cur) is _Sum:
        t = cur.tensor
        t._data = cur.add_into(t._data, g._data) if dev is CPU else _on(dev, cur.add_into, t._data, g._data)
        return cur
    return _Sum(_on(dev, operator.add, cur, g))   # a fresh tensor: no one else holds it


def _name_node(e: BaseException, node) -> None:
    note = f"(raised while running the backward of {node.name()})"
    if anomaly.enabled and node.anomaly_trace and "Traceback of forward call" not in str(e):
        note += "\nTraceback of forward call that caused the error:\n" + node.anomaly_trace
    if hasattr(e, "add_note"):
        e.add_note(note)
    elif e.args and isinstance(e.args[0], str):
        e.args = (f"{e.args[0]}\n{note}",) + e.args[1:]


def _evaluate(task: GraphTask, node, grads: list) -> list | None:
    """Hooks, then the node itself; its gradients for its next edges (None: pruned, nothing to route).

    A node without hooks in a task that captures, prunes and checks nothing just runs."""
    if node.plain and task.direct:
        outputs = node.apply(grads)
        if not task.keep_graph:
            node.release()
        return outputs
    if node.tensor_pre_hooks:
        for nr, hooks in node.tensor_pre_hooks.items():
            for fn in list(hooks.values()):
                if grads[nr] is not None:
                    new = fn(grads[nr])
                    if new is not None:
                        grads[nr] = new
    if node.retains_grad_hooks:
        for nr, fn in node.retains_grad_hooks.items():
            if grads[nr] is not None:
                fn(grads[nr])
    if task.captures:
        caps = task.captures.get(node)
        if caps:
            _capture(task, node, grads, caps)
    if task.exec_nodes is not None and node not in task.exec_nodes:
        return None
    if node.pre_hooks:
        for fn in list(node.pre_hooks.values()):
            new = fn(tuple(grads))
            if new is not None:
                grads = list(new)
    if node.is_accumulate:
        with ACCUMULATE_LOCK:
            _claim(task, node, grads)
            outputs = node.apply(grads)
    else:
        outputs = node.apply(grads)
    if not task.keep_graph:
        node.release()
    if node.post_hooks:
        for fn in list(node.post_hooks.values()):
            new = fn(tuple(outputs), tuple(grads))
            if new is not None:
                outputs = tuple(new)
    if anomaly.enabled and anomaly.check_nan:
        _check_nan(node, outputs)
    return outputs


def _capture(task: GraphTask, node, grads: list, caps: list) -> None:
    for nr, i in caps:
        g = grads[nr]
        if task.accumulate:  # backward(inputs=[non-leaf]): accumulate into its .grad
            t = task.captured[i]
            task.captured[i] = g if t is None or g is None else t + g
        else:
            task.captured[i] = g


def _claim(task: GraphTask, node, grads: list) -> None:
    """A leaf's first .grad steals the gradient only if no other leaf holds the same storage, nor
    the caller (a root gradient, claimed up front), and it is contiguous; otherwise it gets a copy
    (PyTorch's layout and aliasing contract)."""
    g = grads[0]
    if g is None or node.variable.grad is not None:
        return
    backend = g._device.backend
    key = backend.storage_key(g._data)
    if key in task.claimed or not g._data.flags.c_contiguous:
        grads[0] = op("clone")(g)
    else:
        task.claimed.add(key)


def _check_nan(node, outputs) -> None:
    for i, g in enumerate(outputs):
        if g is not None and g._data.dtype.kind == "f" and bool(g._device.backend.xp.isnan(g._data).any()):
            msg = f"Function '{node.name()}' returned nan values in its {i}th output."
            if node.anomaly_trace:
                msg += "\nTraceback of forward call that caused the error:\n" + node.anomaly_trace
            raise RuntimeError(msg)


def _validate(node, i: int, g, meta):
    """Sum a broadcast gradient back to the input's shape, cast to its dtype, check its device."""
    shape, dtype, device = meta
    if g._data.shape != shape:
        if not _sum_to_compatible(g._data.shape, shape):
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                               f"{list(g._data.shape)} but expected shape compatible with {list(shape)}")
        g = op("sum_to_shape")(g, shape)
    if g._device is not device:
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - expected "
                           f"device {device} but got {g._device}")
    if g._data.dtype != dtype:
        g = g.to(dtype)
    return g


def _sum_to_compatible(src: tuple, dst: tuple) -> bool:
    """Whether a gradient of shape ``src`` can be summed down to ``dst`` (a broadcast of it)."""
    if len(dst) > len(src):
        return False
    lead = len(src) - len(dst)
    return all(d == s or d == 1 for s, d in zip(src[lead:], dst))


def _route(task: GraphTask, node, outputs, heap: list | None = None) -> list:
    """Add ``node``'s outputs into the next nodes' input buffers; the (node, gradients) now ready.

    The threaded engine calls this under ``task.lock`` and gets that list. The single-threaded
    loop needs no lock and passes its ``heap``: ready nodes go straight onto it (later-created
    first; ``seq`` is unique, so no tiebreak), and the list stays empty.
    """
    exec_nodes, buffers, deps = task.exec_nodes, task.buffers, task.deps
    ready = []
    for i, edge in enumerate(node.next_edges):
        if edge is None:
            continue
        nxt, nr = edge
        if exec_nodes is not None and nxt not in exec_nodes and nxt not in task.captures:
            continue
        g = outputs[i]
        metas = nxt.out_meta
        if g is not None:
            meta = metas[nr]
            d = g._data
            if d.shape != meta[0] or g._device is not meta[2] or (d.dtype is not meta[1] and d.dtype != meta[1]):
                g = _validate(node, i, g, meta)
        left = deps[nxt] - 1
        if not left and len(metas) == 1 and nxt not in buffers:   # its one and only gradient
            if heap is None:
                ready.append((nxt, [g]))
            else:
                heappush(heap, (-nxt.seq, 0, nxt, [g]))
            continue
        deps[nxt] = left
        buf = buffers.get(nxt) if left else buffers.pop(nxt, None)
        if buf is None:
            buf = [None] * len(metas)
            if left:
                buffers[nxt] = buf
        if g is not None:
            cur = buf[nr]
            if cur is None:
                buf[nr] = g
            elif task.create_graph:   # the sum is recorded: never changed in place
                buf[nr] = _on(metas[nr][2], operator.add, cur, g)
            else:
                buf[nr] = _sum(metas[nr][2], cur, g)
        if not left:
            for j, v in enumerate(buf):
                if type(v) is _Sum:
                    buf[j] = v.tensor
            if heap is None:
                ready.append((nxt, buf))
            else:
                heappush(heap, (-nxt.seq, 0, nxt, buf))
    return ready
