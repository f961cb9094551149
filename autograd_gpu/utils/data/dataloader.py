"""``DataLoader`` (PyTorch's ``torch/utils/data/dataloader.py``): batches from a dataset, in the
sampler's order, collated.

``num_workers > 0`` loads in that many background *threads* (PyTorch uses processes): NumPy
releases the GIL in its copies, and threads need no pickling of the dataset. Batches still come
out in sampler order; an ``IterableDataset`` is iterated once per worker (each sees
``get_worker_info()``), batches taken round-robin, as in PyTorch. ``pin_memory`` is accepted; CPU
tensors here are plain NumPy arrays, and host-to-device copies go through CuPy as they are.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ._collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]


@dataclass(frozen=True)
class WorkerInfo:
    id: int
    num_workers: int
    seed: int
    dataset: Any


_local = threading.local()


def get_worker_info() -> WorkerInfo | None:
    """The calling worker's info inside a DataLoader worker, else None."""
    return getattr(_local, "info", None)


class DataLoader:
    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | None = None, batch_sampler: Sampler | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers, self.prefetch_factor = num_workers, 2 if prefetch_factor is None and num_workers else \
            prefetch_factor
        self.pin_memory, self.timeout, self.worker_init_fn = pin_memory, timeout, worker_init_fn
        self.generator, self.persistent_workers = generator, persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn or (default_collate if self._auto_collation else default_convert)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    # one worker's view of the data ----------------------------------------------------------------
    def _fetch(self, index) -> Any:
        if self._auto_collation:
            getitems = getattr(self.dataset, "__getitems__", None)
            samples = getitems(index) if getitems else [self.dataset[i] for i in index]
            return self.collate_fn(samples)
        return self.collate_fn(self.dataset[index])

    def _stream(self, it: Iterator) -> Iterator:
        """Batches of an iterable dataset's samples."""
        if self.batch_size is None:
            for sample in it:
                yield self.collate_fn(sample)
            return
        batch: list = []
        for sample in it:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __iter__(self) -> Iterator:
        if self.num_workers == 0:
            if self._iterable:
                return self._stream(iter(self.dataset))
            return (self._fetch(i) for i in (self.batch_sampler if self.batch_sampler is not None else self.sampler))
        return _ThreadedIter(self)


class _ThreadedIter:
    """Workers fill one bounded queue each; the consumer reads them round-robin, so the order is
    the sampler's. An exception in a worker is re-raised in the consumer, naming the worker."""

    _DONE = object()

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        n = loader.num_workers
        self.queues = [queue.Queue(maxsize=loader.prefetch_factor) for _ in range(n)]
        self.stop = threading.Event()
        if loader._iterable:
            sources = [None] * n
        else:
            indices = list(loader.batch_sampler if loader.batch_sampler is not None else loader.sampler)
            sources = [indices[w::n] for w in range(n)]
        from ...ops.creation import randint
        base = int(randint(0, 2 ** 62, (1,), generator=loader.generator).item())
        self.threads = [threading.Thread(target=self._work, args=(w, sources[w], base + w), daemon=True,
                                         name=f"DataLoader worker {w}") for w in range(n)]
        for t in self.threads:
            t.start()
        self.alive = list(range(n))
        self.turn = 0

    def _put(self, q: queue.Queue, item) -> bool:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, wid: int, indices, seed: int) -> None:
        loader = self.loader
        _local.info = WorkerInfo(wid, loader.num_workers, seed, loader.dataset)
        q = self.queues[wid]
        try:
            if loader.worker_init_fn is not None:
                loader.worker_init_fn(wid)
            batches = loader._stream(iter(loader.dataset)) if loader._iterable else \
                (loader._fetch(i) for i in indices)
            for b in batches:
                if not self._put(q, (True, b)):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which re-raises it
            self._put(q, (False, e))
            return
        self._put(q, (True, self._DONE))

    def __iter__(self):
        return self

    def __next__(self):
        while self.alive:
            wid = self.alive[self.turn % len(self.alive)]
            try:
                ok, item = self.queues[wid].get(timeout=self.loader.timeout or None)
            except queue.Empty:
                self.close()
                raise RuntimeError(f"DataLoader timed out after {self.loader.timeout} seconds") from None
            if not ok:
                self.close()
                raise RuntimeError(f"Caught {type(item).__name__} in DataLoader worker process {wid}") from item
            if item is self._DONE:
                self.alive.remove(wid)
                continue
            self.turn += 1
            return item
        raise StopIteration

    def close(self) -> None:
        self.stop.set()

    def __del__(self) -> None:
        self.stop.set()
