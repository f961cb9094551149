"""The benchmark runner: ``python -m benchmarks``, ``autograd-gpu bench``, ``python benchmarks/run.py``.

    python -m benchmarks                        # every workload on cuda when available, else cpu
    python -m benchmarks --quick                # about a minute: smaller sizes, fewer samples
    python -m benchmarks --workloads matmul,optimizer --device cpu --repeat 11
    python -m benchmarks --list

Each workload is a module of this package named in ``WORKLOADS``, with ``run(cfg) -> [Row]``,
``DEVICES`` and ``FRESH_PROCESS`` (True: run it in a subprocess of its own, as a user's training
script is, so that what earlier workloads left in the allocator does not change it). On CUDA an
NVML sampler thread records clocks, power and utilisation while each workload runs. Results go to
``--out`` (default ``bench-results/<date>-<time>``): ``results.json`` (rewritten after every
workload), ``report.md`` and ``ratios.png``. A folder that holds a previous run is never written
over: the run goes to a fresh timestamped subfolder of it, and a line says so.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from .common import Config, Row

# name -> module of this package; the order is the run's order
WORKLOADS = {name: name for name in (
    "per_op_overhead", "elementwise", "reductions", "matmul", "optimizer",
    "mlp_train", "cnn_train", "gpt_block_train", "train_memory", "handoff")}
PROG = "benchmarks"
# (repeat, seconds per sample) by size and device kind; events time a GPU sample precisely, so it can be short
DEFAULTS = {("full", "cpu"): (7, 0.1), ("full", "cuda"): (7, 0.03), ("quick", "cpu"): (3, 0.02),
            ("quick", "cuda"): (3, 0.01), ("tiny", "cpu"): (1, 0.0), ("tiny", "cuda"): (1, 0.0)}


class Usage(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise Usage(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Run the benchmark workloads: autograd_gpu, PyTorch (when installed) and "
                "the limit (NumPy by hand on CPU; copy bandwidth and cuBLAS on the GPU), side by side.")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--workloads", "--only", default=None, metavar="A,B",
                   help="comma-separated workloads to run (default: all; see --list)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, else cpu)")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer samples: about a minute")
    p.add_argument("--repeat", type=int, default=None, help="samples per implementation, the median is reported "
                   "(default 7, --quick 3)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per sample (default 0.1 on CPU, 0.03 "
                   "on CUDA; --quick 0.02 / 0.01)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for results.json, report.md and ratios.png (default: bench-results/<date>-<time>)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for NumPy's BLAS and PyTorch alike (default: their own default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the tests' size
    return p


def _module(name: str):
    return importlib.import_module(f"{__package__}.{WORKLOADS[name]}")


def description(name: str) -> str:
    doc = _module(name).__doc__ or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _names(arg: str | None) -> list[str]:
    if not arg:
        return list(WORKLOADS)
    names = [n.strip() for n in arg.split(",") if n.strip()]
    bad = [n for n in names if n not in WORKLOADS]
    if bad or not names:
        raise Usage(f"unknown workload {', '.join(map(repr, bad)) or repr(arg)}; choose from {', '.join(WORKLOADS)}")
    return names


def _device(arg: str | None) -> str:
    import autograd_gpu as ag
    if arg is None:
        return "cuda" if ag.cuda.is_available() else "cpu"
    if arg not in ("cpu", "cuda"):
        raise Usage(f"--device {arg!r}: use cpu or cuda")
    if arg == "cuda" and not ag.cuda.is_available():
        raise Usage(f"--device cuda: CUDA is unavailable: "
                    f"{(ag.cuda.unavailable_reason() or 'unknown reason').removeprefix('CUDA is unavailable: ')}")
    return arg


def _fresh(parent: Path) -> Path:
    """``parent/<date>-<time>`` (with -1, -2, ... when that exists already)."""
    base = parent / time.strftime("%Y%m%d-%H%M%S")
    out, i = base, 1
    while out.exists():
        out, i = base.with_name(f"{base.name}-{i}"), i + 1
    return out


def _out_dir(arg: Path | None) -> Path:
    """Where this run writes. A folder that holds a previous run is never written over: the run
    goes to a fresh subfolder of it instead (so that a container's fixed ``--out /results`` volume
    keeps every run), and a line says so."""
    from .report import FILES
    if arg is None:
        return _fresh(Path("bench-results"))
    if arg.exists() and not arg.is_dir():
        raise Usage(f"--out {arg}: not a folder")
    held = [f for f in FILES if (arg / f).exists()]
    if held:
        out = _fresh(arg)
        print(f"{PROG}: --out {arg} holds a previous run ({', '.join(held)}): writing to {out}", file=sys.stderr)
        return out
    return arg


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["--child"]:
            return child_main(argv[1:])
        return _main(argv)
    except Usage as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


def _main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for name in WORKLOADS:
            print(f"{name:16s} {description(name)}")
        return 0
    names = _names(args.workloads)
    for flag in ("repeat", "threads"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise Usage(f"--{flag} must be a positive integer (got {getattr(args, flag)})")
    # before NumPy or PyTorch load: idle OpenMP threads must not spin on the cores the other
    # library's BLAS threads need (on 2 cores that alone made PyTorch's MLP step 10x slower)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    device = _device(args.device)
    out = _out_dir(args.out)
    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    repeat, min_time = DEFAULTS[(size, "cuda" if device == "cuda" else "cpu")]
    cfg = Config(device=device, size=size, repeat=args.repeat or repeat,
                 min_time=min_time if args.min_time is None else args.min_time, warmup=1 if args.tiny else 2)
    out.mkdir(parents=True, exist_ok=True)
    return run(names, cfg, out, progress=not args.no_progress, command=" ".join([PROG, *argv]),
               threads=args.threads)


def run(names: list[str], cfg: Config, out: Path, progress: bool = True, command: str = PROG,
        threads: int | None = None) -> int:
    from . import environment, report
    if threads:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            pass
    env = environment.collect(cfg.device)
    t_run = time.perf_counter()
    payload = {"schema": 1, "run": {"command": command, **cfg.to_json(), "out": str(out),
                                    "workloads": names}, "env": env, "workloads": {}, "rows": []}
    print(f"{env['device_name']} ({cfg.device}) | autograd_gpu {env['autograd_gpu']} | NumPy {env['numpy']} | "
          f"PyTorch {env['torch']} | CuPy {env['cupy']} | driver {env['driver']} | git {env['git_commit'][:12]} "
          f"| {cfg.size}, median of {cfg.repeat} -> {out}", flush=True)
    bar = _bar(len(names), progress)
    rows: list[Row] = []
    failed = 0
    for name in names:
        bar.set_description(name)
        bar.set_postfix_str("fresh process" if getattr(_module(name), "FRESH_PROCESS", False) else "")
        t0 = time.perf_counter()
        info, new = _run_one(name, cfg, lambda what: bar.set_postfix_str(what[:60], refresh=True))
        info["duration_s"] = round(time.perf_counter() - t0, 1)
        failed += bool(info.get("error"))
        for r in new:
            r.meta["env"] = environment.row_env(env)
            r.meta["nvml"] = info.get("nvml", "n/a")
        rows += new
        payload["workloads"][name] = info
        payload["rows"] = [r.to_json() for r in rows]
        payload["run"]["duration_s"] = round(time.perf_counter() - t_run, 1)
        report.write_json(out / "results.json", payload)
        what = (info["error"].strip().splitlines()[-1] if info.get("error")
                else info.get("skipped") or f"{len(new)} rows")
        bar.write(f"{name}: {what} ({info['duration_s']} s)")
        bar.update(1)
    bar.close()
    chart_note = report.chart(rows, out / "ratios.png")
    (out / "report.md").write_text(report.markdown(payload, rows, chart_note))
    print()
    print(report.terminal_table(rows))
    lines = report.targets(rows)
    if lines:
        print("\nTargets:")
        print("\n".join(f"  {t}" for t in lines))
    print(f"\n{payload['run']['duration_s']} s; wrote {out / 'results.json'}, {out / 'report.md'}"
          + (f" ({chart_note})" if chart_note else f", {out / 'ratios.png'}"))
    return 1 if failed else 0


def _run_one(name: str, cfg: Config, progress) -> tuple[dict, list[Row]]:
    """({description, nvml summary, error or skipped}, rows) of one workload."""
    mod = _module(name)
    info: dict = {"description": description(name)}
    kind = "cuda" if cfg.cuda else "cpu"
    if kind not in mod.DEVICES:
        info["skipped"] = f"skipped: {name} runs on {', '.join(mod.DEVICES)} only"
        return info, []
    sampler = None
    if cfg.cuda:
        from autograd_gpu.backends.nvml import Sampler
        sampler = Sampler(int(cfg.device.split(":")[1]) if ":" in cfg.device else 0).start()
    rows: list[Row] = []
    try:
        if mod.FRESH_PROCESS:
            rows = [Row.from_json(r) for r in run_child("runner", {"workload": name, "cfg": cfg.to_json()})]
        else:
            rows = mod.run(Config(**{**cfg.to_json(), "progress": progress}))
    except Exception:  # noqa: BLE001 - one broken workload must not hide the others
        info["error"] = traceback.format_exc()
        print(f"\n{name} failed:\n{info['error']}", file=sys.stderr)
    finally:
        if sampler is not None:
            info["nvml"] = sampler.stop()
        _free_memory(cfg)
    return info, rows


def _free_memory(cfg: Config) -> None:
    gc.collect()
    if not cfg.cuda:
        return
    try:
        import cupy
        cupy.get_default_memory_pool().free_all_blocks()
    except Exception:  # noqa: BLE001
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].cuda.empty_cache()


def run_child(module: str, job: dict, extra_env: dict | None = None, timeout: float = 1800):
    """``module.child(job)`` in a fresh interpreter (``python benchmarks/run.py --child MODULE JOB``)
    that imports the autograd_gpu this process imported; returns what it returned (JSON)."""
    import autograd_gpu as ag
    paths = [str(Path(ag.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]
    env = {**os.environ, **(extra_env or {}), "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    cmd = [sys.executable, str(Path(__file__).with_name("run.py")), "--child", module, json.dumps(job)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:4])} ... failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child(job: dict) -> list:
    """In the subprocess of a FRESH_PROCESS workload: run it, return its rows."""
    return [r.to_json() for r in _module(job["workload"]).run(Config.from_json(job["cfg"]))]


def child_main(argv: list[str]) -> int:
    """``--child MODULE JOB``: print ``MODULE.child(JOB)`` as JSON on the last line of stdout."""
    if len(argv) != 2:
        raise Usage("--child takes a module of the package and a JSON job")
    out = importlib.import_module(f"{__package__}.{argv[0]}").child(json.loads(argv[1]))
    print(json.dumps(out, default=str))
    return 0


class _NoBar:
    def __init__(self, *a, **k):
        pass

    def set_description(self, *a, **k):
        pass

    set_postfix_str = update = close = set_description

    def write(self, s: str) -> None:
        print(s, file=sys.stderr, flush=True)


def _bar(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()

    class Bar(tqdm):
        def write(self, s: str) -> None:  # noqa: D102 - a line above the bar, on the bar's stream
            tqdm.write(s, file=sys.stderr)

    return Bar(total=total, file=sys.stderr, unit="workload", dynamic_ncols=True)
