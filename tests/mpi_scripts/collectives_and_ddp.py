"""Launched by tests/test_distributed.py as ``mpiexec -n N python collectives_and_ddp.py [--device cuda]``.

Every collective against NumPy's result, then DistributedDataParallel against one process training
on the whole batch, no_sync, bucket timing, unused parameters and mismatched models. One launch
runs every check (mpiexec start-up costs seconds); a failed check raises, which aborts the job with
the rank's traceback. Rank 0 prints ``PASS <check>`` lines and ``ALL <n> CHECKS PASSED`` at the end.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import autograd_gpu as ag
import autograd_gpu.distributed as dist
from autograd_gpu import nn
from autograd_gpu.nn.parallel import DistributedDataParallel as DDP
from autograd_gpu.utils.data import DistributedSampler, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
args = parser.parse_args()

CUDA = args.device.startswith("cuda")
dist.init_process_group("nccl" if CUDA else "mpi")
RANK, WORLD = dist.get_rank(), dist.get_world_size()
DEV = f"cuda:{dist.get_node_local_rank() % ag.cuda.device_count()}" if CUDA else "cpu"
CHECKS: list[str] = []


def check(fn):
    fn()
    dist.barrier()
    CHECKS.append(fn.__name__)
    if RANK == 0:
        print(f"PASS {fn.__name__}", flush=True)
    return fn


def host(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def data(r: int, shape, dtype, seed: int = 0) -> np.ndarray:
    """Rank r's input (every rank can make every other rank's)."""
    rng = np.random.default_rng(1000 * seed + r)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(1, 4, shape).astype(dtype)
    return (rng.random(shape) + 0.5).astype(dtype)


def tensor(a: np.ndarray):
    return ag.from_numpy(np.array(a, copy=True, order="C")).to(DEV)


def close(got, want, dtype, what: str) -> None:
    tol = {"float16": 1e-2, "float32": 1e-5}.get(np.dtype(dtype).name, 1e-12)
    if np.dtype(dtype).kind in "iub":
        assert np.array_equal(got, want), f"{what}: {got} != {want}"
    else:
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)


REDUCE = {"SUM": np.sum, "AVG": np.mean, "MAX": np.max, "MIN": np.min, "PRODUCT": np.prod}


# ---------------------------------------------------------------------------------------------------------
@check
def ranks_and_world():
    assert WORLD == int(os.environ.get("OMPI_COMM_WORLD_SIZE", WORLD))
    assert RANK == int(os.environ.get("OMPI_COMM_WORLD_RANK", RANK))
    assert dist.is_initialized() and dist.get_backend() == ("nccl" if CUDA else "mpi")


@check
def all_reduce_against_numpy():
    for dtype in ("float32", "float64", "float16", "int32", "int64"):
        for name, ref in REDUCE.items():
            if name == "AVG" and dtype[0] == "i":
                continue
            every = np.stack([data(r, (3, 5), dtype, seed=1) for r in range(WORLD)])
            want = ref(every, axis=0)
            for async_op in (False, True):
                t = tensor(every[RANK])
                w = dist.all_reduce(t, op=getattr(dist.ReduceOp, name), async_op=async_op)
                if async_op:
                    assert w.wait() and w.is_completed()
                else:
                    assert w is None
                close(host(t), want.astype(dtype), dtype, f"all_reduce {name} {dtype} async={async_op}")
    every = np.stack([data(r, (4, 6), "float64", seed=2) for r in range(WORLD)])
    t = tensor(every[RANK]).t()            # a non-contiguous view: reduced through a copy, written back
    dist.all_reduce(t)
    close(host(t), every.sum(0).T, "float64", "all_reduce of a transposed view")
    b = [data(r, (7,), "bool", seed=3) for r in range(WORLD)]
    t, u = tensor(b[RANK]), tensor(b[RANK])
    dist.all_reduce(t, dist.ReduceOp.SUM)
    dist.all_reduce(u, dist.ReduceOp.MIN)
    assert np.array_equal(host(t), np.any(b, 0)) and np.array_equal(host(u), np.all(b, 0)), "bool all_reduce"
    if not CUDA:
        ints = [data(r, (6,), "int64", seed=4) * 5 for r in range(WORLD)]
        for name, ref in (("BAND", np.bitwise_and), ("BOR", np.bitwise_or), ("BXOR", np.bitwise_xor)):
            t = tensor(ints[RANK])
            dist.all_reduce(t, getattr(dist.ReduceOp, name))
            assert np.array_equal(host(t), ref.reduce(ints)), name
    try:
        dist.all_reduce(tensor(np.arange(3)), dist.ReduceOp.AVG)
        raise AssertionError("AVG of an integer tensor did not raise")
    except ValueError as e:
        assert "floating-point" in str(e)


@check
def several_collectives_in_flight():
    every = [data(r, (1000,), "float64", seed=5) for r in range(WORLD)]
    ts = [tensor(every[RANK] * (k + 1)) for k in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    for w in reversed(works):
        w.wait()
    for k, t in enumerate(ts):
        close(host(t), np.sum(every, 0) * (k + 1), "float64", f"in-flight all_reduce {k}")


@check
def reduce_to_one_rank():
    every = np.stack([data(r, (2, 3), "float32", seed=6) for r in range(WORLD)])
    dst = WORLD - 1
    t = tensor(every[RANK])
    dist.reduce(t, dst, dist.ReduceOp.MAX)
    if RANK == dst:
        close(host(t), every.max(0), "float32", "reduce MAX")


@check
def broadcast_from_every_rank():
    for src in range(WORLD):
        for dtype in ("float64", "int64", "bool"):
            t = tensor(data(RANK, (2, 4), dtype, seed=7))
            w = dist.broadcast(t, src, async_op=bool(src % 2))
            if w is not None:
                w.wait()
            assert np.array_equal(host(t), data(src, (2, 4), dtype, seed=7)), f"broadcast from {src} ({dtype})"
    t = tensor(data(RANK, (3, 4), "float64", seed=8)).t()
    dist.broadcast(t, 0)
    assert np.array_equal(host(t), data(0, (3, 4), "float64", seed=8).T), "broadcast into a view"


@check
def all_gather_against_numpy():
    for dtype in ("float32", "int64", "bool"):
        mine = tensor(data(RANK, (2, 3), dtype, seed=9))
        out = [tensor(np.zeros((2, 3), dtype=dtype)) for _ in range(WORLD)]
        dist.all_gather(out, mine)
        for r in range(WORLD):
            assert np.array_equal(host(out[r]), data(r, (2, 3), dtype, seed=9)), f"all_gather {dtype} from {r}"
        big = tensor(np.zeros((2 * WORLD, 3), dtype=dtype))
        dist.all_gather_into_tensor(big, mine, async_op=True).wait()
        assert np.array_equal(host(big), np.concatenate([data(r, (2, 3), dtype, seed=9) for r in range(WORLD)]))
    try:
        dist.all_gather([tensor(np.zeros(3))], tensor(np.zeros(3)))
        assert WORLD == 1, "a tensor_list shorter than the world did not raise"
    except RuntimeError as e:
        assert "tensor_list has 1 tensors" in str(e)


@check
def reduce_scatter_against_numpy():
    for name in ("SUM", "AVG", "MAX"):
        rows = [data(r, (WORLD, 2, 3), "float64", seed=10) for r in range(WORLD)]
        want = REDUCE[name](np.stack(rows), axis=0)[RANK]
        out = tensor(np.zeros((2, 3)))
        dist.reduce_scatter(out, [tensor(rows[RANK][j]) for j in range(WORLD)], getattr(dist.ReduceOp, name))
        close(host(out), want, "float64", f"reduce_scatter {name}")
        out = tensor(np.zeros((2, 3)))
        dist.reduce_scatter_tensor(out, tensor(rows[RANK].reshape(WORLD * 2, 3)), getattr(dist.ReduceOp, name),
                                   async_op=True).wait()
        close(host(out), want, "float64", f"reduce_scatter_tensor {name}")


@check
def all_to_all_unequal_sizes():
    ins = [tensor(np.full(RANK + j + 1, 100.0 * RANK + j)) for j in range(WORLD)]
    outs = [tensor(np.zeros(j + RANK + 1)) for j in range(WORLD)]
    dist.all_to_all(outs, ins)
    for j in range(WORLD):
        assert np.array_equal(host(outs[j]), np.full(j + RANK + 1, 100.0 * j + RANK)), f"all_to_all from {j}"
    src = tensor(np.arange(WORLD * 2, dtype=np.int64) + 1000 * RANK)
    dst = tensor(np.zeros(WORLD * 2, dtype=np.int64))
    dist.all_to_all_single(dst, src)
    want = np.concatenate([np.arange(2 * RANK, 2 * RANK + 2) + 1000 * j for j in range(WORLD)])
    assert np.array_equal(host(dst), want), "all_to_all_single"
    in_splits = [j + 1 for j in range(WORLD)]                  # rank r sends j+1 rows to rank j
    out_splits = [RANK + 1] * WORLD                             # and receives r+1 rows from each
    src = tensor(np.full(sum(in_splits), float(RANK)))
    dst = tensor(np.zeros(sum(out_splits)))
    dist.all_to_all_single(dst, src, out_splits, in_splits)
    assert np.array_equal(host(dst), np.repeat(np.arange(WORLD, dtype=float), RANK + 1)), "uneven all_to_all_single"


@check
def objects_and_groups():
    got = [None] * WORLD
    dist.all_gather_object(got, {"rank": RANK, "name": f"r{RANK}"})
    assert got == [{"rank": r, "name": f"r{r}"} for r in range(WORLD)]
    objs = [RANK, "x" * RANK] if RANK == 1 % WORLD else [None, None]
    dist.broadcast_object_list(objs, src=1 % WORLD)
    assert objs == [1 % WORLD, "x" * (1 % WORLD)]
    members = [0, WORLD - 1]
    g = dist.new_group(members)
    if RANK in members:
        t = tensor(np.array([float(RANK)]))
        dist.all_reduce(t, group=g)
        assert host(t)[0] == sum(set(members)) and dist.get_world_size(g) == len(set(members))
        assert dist.get_rank(g) == sorted(set(members)).index(RANK)
        dist.destroy_process_group(g)
    else:
        assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1


@check
def distributed_sampler_shards():
    ds = TensorDataset(ag.arange(11))
    for drop_last in (False, True):
        s = DistributedSampler(ds, shuffle=True, seed=3, drop_last=drop_last)
        s.set_epoch(2)
        mine = list(s)
        every = [None] * WORLD
        dist.all_gather_object(every, mine)
        flat = [i for part in every for i in part]
        assert all(len(p) == len(s) for p in every)
        if drop_last:
            assert len(set(flat)) == len(flat) == (11 // WORLD) * WORLD
        else:
            assert set(flat) == set(range(11)) and len(flat) == len(s) * WORLD


# DistributedDataParallel ----------------------------------------------------------------------------------
def mlp(seed: int, width: int = 16, extra=None) -> nn.Module:
    ag.manual_seed(seed)
    layers = [nn.Linear(6, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 2)]
    if extra is not None:
        layers[2] = extra
    return nn.Sequential(*layers).double().to(DEV)


def dataset(n: int):
    rng = np.random.default_rng(42)
    x, y = rng.standard_normal((n, 6)), rng.standard_normal((n, 2))
    return TensorDataset(ag.from_numpy(x), ag.from_numpy(y))


def params(m) -> list[np.ndarray]:
    return [host(p) for p in m.parameters()]


def train_compare(bucket_cap_mb, gradient_as_bucket_view=False, steps=5, per_rank=4):
    """DDP on each rank's shard vs one process on the union of the shards (the global batch)."""
    ds = dataset(per_rank * WORLD * steps)
    model = mlp(seed=RANK + 10)          # different on each rank: DDP must take rank 0's
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb, gradient_as_bucket_view=gradient_as_bucket_view)
    ref = mlp(seed=10)
    assert all(np.array_equal(a, b) for a, b in zip(params(model), params(ref))), "rank 0's parameters not taken"
    opt = ag.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = ag.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    samplers = [DistributedSampler(ds, num_replicas=WORLD, rank=r, shuffle=True, seed=5) for r in range(WORLD)]
    shards = [list(s) for s in samplers]
    for step in range(steps):
        batch = [shards[r][step * per_rank:(step + 1) * per_rank] for r in range(WORLD)]
        x, y = ds[batch[RANK]]
        opt.zero_grad()
        nn.functional.mse_loss(ddp(x.to(DEV)), y.to(DEV)).backward()
        opt.step()
        gx, gy = ds[[i for b in batch for i in b]]
        ref_opt.zero_grad()
        nn.functional.mse_loss(ref(gx.to(DEV)), gy.to(DEV)).backward()
        ref_opt.step()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(host(p), host(q), rtol=1e-11, atol=1e-13, err_msg=f"{name} vs one process")
    every = [None] * WORLD
    dist.all_gather_object(every, params(model))
    for r in range(WORLD):
        assert all(np.array_equal(a, b) for a, b in zip(every[r], every[0])), f"rank {r} differs from rank 0"
    return ddp


@check
def ddp_matches_one_process_one_bucket():
    ddp = train_compare(bucket_cap_mb=25)
    assert len(ddp._buckets) == 1


@check
def ddp_matches_one_process_many_buckets():
    ddp = train_compare(bucket_cap_mb=0.0001)      # 104 bytes: a bucket per weight or bias
    assert len(ddp._buckets) >= 4


@check
def ddp_gradient_as_bucket_view():
    train_compare(bucket_cap_mb=0.001, gradient_as_bucket_view=True, steps=3)


@check
def ddp_buffers_come_from_rank_0():
    m = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).double().to(DEV)
    with ag.no_grad():
        m[1].running_mean.fill_(float(RANK))
    ddp = DDP(m)
    assert np.all(host(m[1].running_mean) == 0.0), "construction did not take rank 0's buffers"
    with ag.no_grad():
        m[1].running_mean.fill_(float(RANK + 7))
    x = tensor(np.arange(12.0).reshape(4, 3))
    ddp(x).sum().backward()              # a training forward takes rank 0's buffers first
    with ag.no_grad():
        batch_mean = host(m[0](x)).mean(0)
    close(host(m[1].running_mean), 0.9 * 7.0 + 0.1 * batch_mean, "float64", "buffers broadcast in forward")


@check
def ddp_no_sync_accumulates_locally():
    ds = dataset(6 * WORLD)
    model, ref = mlp(seed=1), mlp(seed=1)
    ddp = DDP(model)
    xs = [ds[list(range(6 * RANK + 2 * k, 6 * RANK + 2 * k + 2))] for k in range(3)]
    with ddp.no_sync():
        for x, y in xs[:2]:
            nn.functional.mse_loss(ddp(x.to(DEV)), y.to(DEV)).backward()
    for x, y in xs[:2]:
        nn.functional.mse_loss(ref(x.to(DEV)), y.to(DEV)).backward()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):    # the unsynchronised sum
        np.testing.assert_allclose(host(p.grad), host(q.grad), rtol=1e-12, atol=1e-14, err_msg=f"no_sync {name}")
    x, y = xs[2]
    nn.functional.mse_loss(ddp(x.to(DEV)), y.to(DEV)).backward()           # synced: the average of the sums
    nn.functional.mse_loss(ref(x.to(DEV)), y.to(DEV)).backward()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        want = q.grad.detach().clone()
        dist.all_reduce(want, dist.ReduceOp.AVG)
        np.testing.assert_allclose(host(p.grad), host(want), rtol=1e-12, atol=1e-14, err_msg=f"after no_sync {name}")


@check
def ddp_buckets_start_before_backward_ends():
    model = mlp(seed=2)
    ddp = DDP(model, bucket_cap_mb=0.0001)
    events: list[str] = []
    real = dist.all_reduce

    def logged(t, *a, **kw):
        events.append(f"all_reduce {t.numel()}")
        return real(t, *a, **kw)
    x = tensor(np.random.default_rng(0).standard_normal((4, 6))).requires_grad_()
    x.register_hook(lambda g: events.append("grad of the input"))
    model[0].weight.register_hook(lambda g: events.append("grad of the first weight"))
    dist.all_reduce = logged
    try:
        ddp(x).sum().backward()
    finally:
        dist.all_reduce = real
    if WORLD == 1:       # nothing to average: DDP does not communicate
        assert not any(e.startswith("all_reduce") for e in events), events
        return
    first = events.index("grad of the first weight")
    launched_before = [e for e in events[:first] if e.startswith("all_reduce")]
    assert len(launched_before) >= 3, events          # the later layers' buckets went out during backward
    assert len([e for e in events if e.startswith("all_reduce")]) == len(ddp._buckets), events


@check
def ddp_unused_parameter_is_named():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 4)
            self.unused = nn.Linear(4, 4)

        def forward(self, x):
            return self.used(x)
    ag.manual_seed(0)
    ddp = DDP(Net().double().to(DEV))
    x = tensor(np.ones((2, 4)))
    ddp(x).sum().backward()
    try:
        ddp(x)
        raise AssertionError("an unused parameter went unreported")
    except RuntimeError as e:
        assert "unused.weight, unused.bias" in str(e) and "find_unused_parameters=True" in str(e), str(e)
    ag.manual_seed(0)
    net = Net().double().to(DEV)
    ddp = DDP(net, find_unused_parameters=True)
    for _ in range(2):
        ddp.zero_grad()
        ddp(tensor(np.full((2, 4), RANK + 1.0))).sum().backward()
    assert net.unused.weight.grad is None
    want = np.mean([np.full((4, 4), 2 * (r + 1.0)) for r in range(WORLD)], axis=0)
    close(host(net.used.weight.grad), want, "float64", "find_unused_parameters gradient")


@check
def ddp_names_a_parameter_whose_shape_differs():
    if WORLD == 1:
        return
    model = mlp(seed=0, extra=nn.Linear(16, 16 + (RANK == WORLD - 1)))
    try:
        DDP(model)
        raise AssertionError("mismatched models were accepted")
    except RuntimeError as e:
        assert "'2.weight'" in str(e) and f"rank {WORLD - 1}" in str(e), str(e)


dist.destroy_process_group()
if RANK == 0:
    print(f"ALL {len(CHECKS)} CHECKS PASSED on {WORLD} ranks ({DEV})", flush=True)
sys.exit(0)
