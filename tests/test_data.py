"""ag.utils.data: datasets, samplers, collation and the DataLoader against PyTorch's behaviour."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.utils.data import (BatchSampler, ConcatDataset, DataLoader, IterableDataset, RandomSampler,
                                     SequentialSampler, Subset, TensorDataset, default_collate, get_worker_info,
                                     random_split)


def _ds(n=10):
    return TensorDataset(ag.arange(n).float().unsqueeze(1) * 2, ag.arange(n))


def test_tensor_dataset_and_errors():
    ds = _ds()
    x, y = ds[3]
    assert x.tolist() == [6.0] and y.item() == 3 and len(ds) == 10
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(ag.zeros(3), ag.zeros(4))


@pytest.mark.parametrize("drop_last,expect", [(False, [4, 4, 2]), (True, [4, 4])])
def test_batches_in_order(drop_last, expect):
    dl = DataLoader(_ds(), batch_size=4, drop_last=drop_last)
    batches = list(dl)
    assert [len(b[1]) for b in batches] == expect and len(dl) == len(expect)
    assert ag.cat([b[1] for b in batches]).tolist() == list(range(sum(expect)))
    assert batches[0][0].shape == (4, 1) and batches[0][1].dtype == ag.int64


def test_shuffle_is_a_permutation_and_seeded():
    def order(seed):
        ag.manual_seed(seed)
        return ag.cat([b[1] for b in DataLoader(_ds(50), batch_size=7, shuffle=True)]).tolist()
    a, b, c = order(1), order(1), order(2)
    assert sorted(a) == list(range(50)) and a == b and a != c and a != list(range(50))


def test_shuffle_with_generator_is_independent_of_global_seed():
    def order(global_seed):
        ag.manual_seed(global_seed)
        g = ag.Generator().manual_seed(5)
        return [b[1].tolist() for b in DataLoader(_ds(20), batch_size=5, shuffle=True, generator=g)]
    assert order(0) == order(1)


def test_collate_structures():
    Point = namedtuple("Point", "x y")
    batch = default_collate([{"a": 1, "b": 2.5, "s": "u", "t": ag.ones(2), "n": np.zeros(3, np.float32),
                              "p": Point(1, 2.0)},
                             {"a": 3, "b": 4.0, "s": "v", "t": ag.zeros(2), "n": np.ones(3, np.float32),
                              "p": Point(3, 4.0)}])
    assert batch["a"].tolist() == [1, 3] and batch["a"].dtype == ag.int64
    assert batch["b"].dtype == ag.float64 and batch["s"] == ["u", "v"]
    assert batch["t"].shape == (2, 2) and batch["n"].shape == (2, 3) and batch["n"].dtype == ag.float32
    assert isinstance(batch["p"], Point) and batch["p"].y.tolist() == [2.0, 4.0]
    assert isinstance(default_collate([(1, 2), (3, 4)]), list)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])


def test_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as tc
    samples = [{"a": 1, "b": 2.5, "c": [1.0, 2.0]}, {"a": 3, "b": 4.0, "c": [3.0, 4.0]}]
    ours, theirs = default_collate(samples), tc(samples)
    assert ours["a"].tolist() == theirs["a"].tolist() and ours["b"].tolist() == theirs["b"].tolist()
    assert str(ours["b"].dtype).split(".")[-1] == str(theirs["b"].dtype).split(".")[-1]
    assert [c.tolist() for c in ours["c"]] == [c.tolist() for c in theirs["c"]]


def test_iterable_dataset_batches_and_workers():
    class Stream(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(start, 11, step))
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    got = sorted(x for b in DataLoader(Stream(), batch_size=2, num_workers=2) for x in b.tolist())
    assert got == list(range(11))
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(), shuffle=True)


def test_threaded_workers_keep_order_and_report_errors():
    ds = _ds(23)
    serial = [b[1].tolist() for b in DataLoader(ds, batch_size=4)]
    assert [b[1].tolist() for b in DataLoader(ds, batch_size=4, num_workers=3)] == serial

    class Bad(TensorDataset):
        def __getitem__(self, i):
            if i == 7:
                raise KeyError("bad sample 7")
            return super().__getitem__(i)
    with pytest.raises(RuntimeError, match="Caught KeyError in DataLoader worker") as e:
        list(DataLoader(Bad(ag.arange(10)), batch_size=2, num_workers=2))
    assert "bad sample 7" in str(e.value.__cause__)


def test_argument_errors_match_torch():
    ds = _ds()
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=3, batch_sampler=BatchSampler(SequentialSampler(ds), 2, False))
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(SequentialSampler(ds), 0, False)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(ds, num_samples=0)


def test_batch_size_none_and_pin_memory():
    dl = DataLoader(_ds(3), batch_size=None, pin_memory=True)
    items = list(dl)
    assert len(items) == 3 and items[1][1].item() == 1 and items[1][0].shape == (1,)


def test_samplers():
    ds = _ds(10)
    ag.manual_seed(0)
    with_rep = list(RandomSampler(ds, replacement=True, num_samples=25))
    assert len(with_rep) == 25 and all(0 <= i < 10 for i in with_rep)
    more = list(RandomSampler(ds, num_samples=15))
    assert len(more) == 15 and sorted(more[:10]) == list(range(10))
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, True)) == 2


def test_random_split_subset_concat():
    ds = _ds(10)
    ag.manual_seed(3)
    a, b = random_split(ds, [7, 3])
    idx = sorted(a.indices + b.indices)
    assert idx == list(range(10)) and len(a) == 7 and len(b) == 3
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=ag.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [3, 3])
    s = Subset(ds, [4, 2])
    assert s[1][1].item() == 2
    c = s + ds
    assert isinstance(c, ConcatDataset) and len(c) == 12 and c[2][1].item() == 0 and c[-1][1].item() == 9
