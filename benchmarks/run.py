"""Run the benchmark workloads; print medians and ratios; write results/<workload>-<host|GPU>.json/.md.

    python benchmarks/run.py                   # every workload, CPU (+ CUDA when available)
    python benchmarks/run.py --only mlp_step   # one workload (or: python benchmarks/mlp_step.py)
    python benchmarks/run.py --quick           # smaller and fewer samples: a smoke run

PyTorch columns appear when ``torch`` is importable; NumPy columns are hand-written
forward+backward versions of the same math (CPU only).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if importlib.util.find_spec("autograd_gpu") is None:  # a checkout that was not pip-installed
    sys.path.insert(1, str(HERE.parent))

from common import RESULTS, Config, machine_meta, table, torch_or_none, write  # noqa: E402

WORKLOADS = ("per_op_overhead", "mlp_step", "handoff", "gpu_bandwidth",
             "mlp_train", "cnn_train", "gpt_block_train", "train_memory")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help=f"comma-separated workloads from: {', '.join(WORKLOADS)}")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--repeat", type=int, default=None, help="samples per measurement (median is reported)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per sample")
    p.add_argument("--quick", action="store_true", help="fewer samples and smaller GPU arrays")
    p.add_argument("--device", action="append", default=None,
                   help="cpu, cuda (repeatable); default: cpu, plus cuda when available")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for BLAS/OpenMP in NumPy and PyTorch alike (default: their own default)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"results folder (default {RESULTS})")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(WORKLOADS))
        return 0
    names = WORKLOADS if not args.only else tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")

    # before NumPy or PyTorch load: idle OpenMP threads must not spin on the cores the other
    # library's BLAS threads need (on 2 cores that alone made PyTorch's MLP step 10x slower)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import autograd_gpu as ag
    devices = tuple(args.device) if args.device else ("cpu", "cuda") if ag.cuda.is_available() else ("cpu",)
    cfg = Config(devices=devices, out=args.out, quick=args.quick)
    cfg.repeat = args.repeat or (3 if args.quick else 7)
    cfg.min_time = args.min_time or (0.05 if args.quick else 0.2)
    meta = machine_meta()
    torch = torch_or_none()
    print(f"autograd_gpu {meta.get('autograd_gpu')} | NumPy {meta['numpy']} | "
          f"PyTorch {meta.get('torch', 'not installed: no torch columns')} | {meta['cpu_count']} CPUs | "
          f"devices {', '.join(devices)}")
    if torch is not None:
        torch.manual_seed(0)
        if args.threads:
            torch.set_num_threads(args.threads)
        meta["torch_threads"] = torch.get_num_threads()
    meta["threads_flag"] = args.threads
    meta["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY")
    failed = 0
    for name in names:
        t0 = time.perf_counter()
        print(f"\n## {name}")
        try:
            results = importlib.import_module(name).run(cfg)
        except Exception:  # noqa: BLE001 - one broken workload must not hide the others
            traceback.print_exc()
            failed += 1
            continue
        for res in results:
            res.meta = {**meta, **res.meta}
            print(f"\n{name} on {res.device} ({res.meta.get('statistic', f'median of {cfg.repeat}')})")
            print(table(res))
            for note in res.notes:
                print(f"  - {note}")
            for k in ("loss", "ops_in_chain", "first_step_loss", "second_step_loss",
                      "per_step_faults_sys", "memory_method", "max_abs_grad_diff_vs_torch", "gpu",
                      "driver (NVML)", "cuda_runtime", "cupy", "copy_GB_per_s"):
                if k in res.meta:
                    print(f"  - {k}: {res.meta[k]}")
            js, md = write(res, cfg)
            print(f"  -> {js} (+ {md.name})")
        print(f"({name}: {time.perf_counter() - t0:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
