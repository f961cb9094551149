"""State of one backward call: dependency counts, input buffers, ready queues."""
from __future__ import annotations

import heapq
import queue
import threading

from ..autograd.graph import Node
from ..device import CPU

DONE = object()


def priority(node: Node) -> int:
    """Lower runs first: later-created nodes first, leaves' accumulators before all (``Node.seq``)."""
    return -node.seq


def node_device(node: Node):
    """The device a node's gradients live on: the first non-CPU device among its outputs."""
    for meta in node.out_meta:
        if meta[2].type != "cpu":
            return meta[2]
    return CPU


class GraphRoot(Node):
    """Feeds the root gradients into the graph."""

    __slots__ = ("grads",)

    def __init__(self, edges: list, grads: list) -> None:
        super().__init__()
        self.next_edges = edges
        self.grads = grads

    def apply(self, grads: list) -> list:
        return self.grads


class LocalQueue:
    """The calling thread's heap when no other thread feeds it: no locks."""

    __slots__ = ("heap",)

    def __init__(self) -> None:
        self.heap: list = []

    def put(self, item) -> None:
        heapq.heappush(self.heap, item)

    def get(self):
        return heapq.heappop(self.heap) if self.heap else (0, 0, None, DONE)


class SharedQueue:
    """A heap other threads may push to; ``get`` blocks."""

    __slots__ = ("q",)

    def __init__(self) -> None:
        self.q: queue.PriorityQueue = queue.PriorityQueue()

    def put(self, item) -> None:
        self.q.put(item)

    def get(self):
        return self.q.get()


class GraphTask:
    __slots__ = ("deps", "buffers", "keep_graph", "create_graph", "exec_nodes", "captures", "captured",
                 "accumulate", "lock", "outstanding", "error", "caller_queue", "threaded", "claimed",
                 "switch_devices", "direct")

    def __init__(self, keep_graph: bool, create_graph: bool, accumulate: bool) -> None:
        self.deps: dict = {}
        self.buffers: dict = {}
        self.keep_graph = keep_graph
        self.create_graph = create_graph
        self.accumulate = accumulate
        self.exec_nodes: set | None = None   # None: run every reachable node
        self.captures: dict = {}             # node -> [(output_nr, result index)]
        self.captured: list = []
        self.lock = threading.Lock()
        self.outstanding = 0
        self.error: BaseException | None = None
        self.caller_queue = None
        self.threaded = False
        self.switch_devices = False          # one thread, several devices: make each node's current
        self.claimed: set = set()
        self.direct = False                  # no captures, pruning or NaN checks: hook-free nodes just run
