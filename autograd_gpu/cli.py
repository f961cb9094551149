"""The ``autograd-gpu`` command: ``train`` (a character-level GPT), ``info`` (devices and
versions), ``bench`` (the benchmarks).

Flags may come before or after the sub-command (``autograd-gpu --steps 3 train`` is
``autograd-gpu train --steps 3``): the words are reordered so one parser reads each flag, and a
flag given once is never reset by a default. Usage errors print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

import autograd_gpu as ag

from .backends import nvml
from .lm.data import default_corpus_files, read_text
from .lm.train import CHECKPOINT, TrainConfig, Trainer


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


# devices ------------------------------------------------------------------------------------------
def cuda_devices() -> tuple[list[str], str | None]:
    """(names of the visible CUDA devices, why there are none or None)."""
    try:  # a diagnostic tool reports a broken CUDA setup instead of dying on it
        if not ag.cuda.is_available():
            reason = ag.cuda.unavailable_reason() or "unknown reason"
            return [], reason.removeprefix("CUDA is unavailable: ")
        return [ag.cuda.get_device_name(i) for i in range(ag.cuda.device_count())], None
    except Exception as e:  # noqa: BLE001
        return [], f"{type(e).__name__}: {e}"


def best_device() -> str:
    return os.environ.get("AUTOGRAD_GPU_DEVICE") or ("cuda" if cuda_devices()[1] is None else "cpu")


def check_device(name: str) -> str:
    """``name`` if a tensor can live there now, else UsageError saying why."""
    try:
        dev = ag.device(name)
    except (RuntimeError, ValueError, TypeError) as e:
        raise UsageError(f"--device {name!r}: {e}") from None
    if dev.type == "cpu":
        return str(dev)
    if dev.type != "cuda":
        raise UsageError(f"--device {name!r}: use cpu, cuda or cuda:N")
    names, reason = cuda_devices()
    if reason is not None:
        raise UsageError(f"--device {name}: CUDA is unavailable: {reason}")
    if (dev.index or 0) >= len(names):
        raise UsageError(f"--device {name}: only {len(names)} CUDA device(s) visible (cuda:0..cuda:{len(names) - 1})")
    return str(dev)


def _gib(v) -> str:
    return v if isinstance(v, str) else f"{v / 2 ** 30:.1f} GiB"


def info(_: argparse.Namespace | None = None) -> int:
    print(f"autograd_gpu {ag.__version__}")
    print(f"  Python {platform.python_version()}, NumPy {np.__version__}, " +
          ", ".join(f"{k} {v}" for k, v in _library_versions().items()))
    v = nvml.versions()
    print(f"  CuPy {v['cupy']} (CUDA runtime {v['cuda_runtime']}, NVRTC {v['nvrtc']})")
    print("devices:")
    print(f"  cpu      {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    names, reason = cuda_devices()
    if reason is not None:
        print(f"  cuda     CUDA is unavailable: {reason}")
    for d in nvml.cuda_devices() if reason is None else []:
        print(f"  cuda:{d['index']}   {d['name']}, compute capability {d['compute_capability']}, "
              f"memory {_gib(d['memory_free_bytes'])} free of {_gib(d['memory_total_bytes'])}")
    rep = nvml.report()
    if rep["error"]:
        print(f"  NVML     n/a ({rep['error']})")
    else:
        print(f"  NVML     driver {rep['driver']}, CUDA driver API {rep['cuda_driver']}")
        for d in rep["devices"]:
            print(f"    [{d['nvml_index']}] {d['name']} ({d['pci_bus_id']}): SM {d['sm_clock_mhz']}/"
                  f"{d['max_sm_clock_mhz']} MHz, memory {d['mem_clock_mhz']}/{d['max_mem_clock_mhz']} MHz, "
                  f"power {d['power_w']} W of {d['power_limit_w']} W, utilisation {d['gpu_util_pct']}%")
    env = os.environ.get("AUTOGRAD_GPU_DEVICE")
    if env:
        print(f"  AUTOGRAD_GPU_DEVICE={env}")
    return 0


def _library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for dist in ("safetensors", "tqdm", "matplotlib", "torch"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


# train ------------------------------------------------------------------------------------------
def _corpus(text: str | None) -> tuple[str, str]:
    """(the training text, a description of where it came from)."""
    if text is not None:
        p = Path(text)
        if not p.is_file():
            raise UsageError(f"--text {text}: no such file")
        body = p.read_text(encoding="utf-8", errors="replace")
        if len(body) < 1000:
            raise UsageError(f"--text {text}: {len(body)} characters is too little text to train on (need 1000)")
        return body, f"{p} ({len(body) / 1e6:.2f}M chars)"
    files = default_corpus_files()
    body = read_text(files)
    return body, f"{len(files)} Python standard library files ({len(body) / 1e6:.2f}M chars)"


def _check_train_flags(ns: argparse.Namespace) -> None:
    for flag in ("steps", "batch_size", "block_size", "n_layer", "n_head", "n_embd", "eval_interval"):
        if getattr(ns, flag) <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive integer (got {getattr(ns, flag)})")
    if ns.n_embd % ns.n_head:
        raise UsageError(f"--n-embd ({ns.n_embd}) must be divisible by --n-head ({ns.n_head})")
    if not 0 <= ns.dropout < 1:
        raise UsageError(f"--dropout must be in [0, 1) (got {ns.dropout})")
    if not ns.lr > 0:
        raise UsageError(f"--lr must be positive (got {ns.lr})")
    if ns.warmup < 0 or ns.sample_chars < 0:
        raise UsageError("--warmup and --sample-chars must not be negative")


def train(ns: argparse.Namespace) -> int:
    _check_train_flags(ns)
    if ns.distributed and not ag.distributed.is_mpi_available():
        raise UsageError("--distributed needs mpi4py and Open MPI: pip install 'autograd-gpu[distributed]', then "
                         "launch with mpiexec -n N autograd-gpu train --distributed")
    device = check_device(ns.device or best_device())
    text, source = _corpus(ns.text)
    cfg = TrainConfig(steps=ns.steps, batch_size=ns.batch_size, block_size=ns.block_size, n_layer=ns.n_layer,
                      n_head=ns.n_head, n_embd=ns.n_embd, dropout=ns.dropout, lr=ns.lr, min_lr=ns.lr / 10,
                      warmup=min(ns.warmup, ns.steps), eval_interval=ns.eval_interval, seed=ns.seed,
                      sample_chars=ns.sample_chars, device=device, out=ns.out, text=ns.text,
                      distributed=ns.distributed)
    if ns.resume and not (Path(ns.out) / CHECKPOINT).is_file():
        raise UsageError(f"--resume: no checkpoint {CHECKPOINT} in {ns.out}")
    if Path(ns.out).exists() and not Path(ns.out).is_dir():
        raise UsageError(f"--out {ns.out}: not a folder")
    try:
        trainer = Trainer(cfg, text, resume=ns.resume)
    except (RuntimeError, ValueError) as e:   # a corrupted checkpoint, a text outside its vocabulary
        if not ns.resume:
            raise
        raise UsageError(f"--resume: {e}") from None
    if not trainer.is_main:   # --distributed: the other ranks train silently; rank 0 reports and writes
        return trainer.run(progress=False)
    m = trainer.model_cfg
    where = f"{trainer.world_size} ranks ({cfg.device} on rank 0), data-parallel" if ns.distributed else device
    print(f"training a GPT ({m.n_layer} layers, {m.n_head} heads, d={m.n_embd}, context {m.block_size}, "
          f"{trainer.model.num_parameters() / 1e6:.2f}M parameters) on {where}")
    print(f"  text: {source}, vocabulary {trainer.corpus.vocab_size} characters")
    print(f"  AdamW lr {cfg.lr:g} (warm-up {cfg.warmup}, cosine to {cfg.min_lr:g}), batch {cfg.batch_size}x"
          f"{cfg.block_size} tokens{' per rank' if ns.distributed else ''}, steps {trainer.step + 1}..{cfg.steps}, "
          f"output in {cfg.out}/")
    if trainer.step >= cfg.steps:
        print(f"  the checkpoint is already at step {trainer.step}: nothing left to train (raise --steps)")
    status = trainer.run(progress=not ns.no_progress)
    if status:
        return status
    trainer.save_checkpoint()
    print(f"\nsample:\n{trainer.sample()}\n")
    png = trainer.plot()
    print(f"checkpoint {Path(cfg.out) / CHECKPOINT}; loss curve " +
          (str(png) if png else "not drawn (pip install matplotlib, or the [plot] extra)"))
    return _judge(trainer.history["loss"])


def _judge(losses: list[float]) -> int:
    """Compare the first and last tenth of the losses; runs under 20 steps are too short to judge."""
    if len(losses) < 20:
        print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} ({len(losses)} steps: too short to judge the trend)")
        return 0
    k = max(2, len(losses) // 10)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    print(f"loss {first:.4f} -> {last:.4f} (means of the first and last {k} steps)")
    if not last < first:
        print("error: the loss did not fall", file=sys.stderr)
        return 1
    return 0


# bench --------------------------------------------------------------------------------------------
def _benchmarks_dir() -> Path | None:
    """The benchmark suite: ``./benchmarks`` first, then the checkout this package sits in."""
    for d in (Path.cwd() / "benchmarks", Path(__file__).resolve().parent.parent / "benchmarks"):
        if (d / "run.py").is_file() and (d / "runner.py").is_file():
            return d
    return None


def bench(args: list[str]) -> int:
    """``benchmarks/run.py args`` (the suite's runner, ``python -m benchmarks``) in a subprocess:
    it sets thread variables before NumPy and PyTorch load, which this process has done already."""
    d = _benchmarks_dir()
    if d is None:
        raise UsageError("benchmarks/ (run.py, runner.py) not found in this folder or next to the package; run "
                         "`autograd-gpu bench` from a checkout of the repository (the benchmarks are not part "
                         "of the wheel)")
    return subprocess.call([sys.executable, str(d / "run.py"), *args])


# the parser ---------------------------------------------------------------------------------------
def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default: cuda when available, else cpu; or $AUTOGRAD_GPU_DEVICE)")
    parser = argparse.ArgumentParser(prog="autograd-gpu", description="autograd_gpu's command: train a "
                                     "character-level GPT (train), list devices and versions (info), run the "
                                     "benchmarks (bench). Flags may come before or after the sub-command.")
    parser.add_argument("--version", action="version", version=f"autograd-gpu {ag.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,info,bench}")
    d = TrainConfig()
    p = sub.add_parser("train", parents=[common], help="train a character-level GPT and sample from it",
                       description="Train a small GPT-style character-level language model (pre-LayerNorm blocks, "
                                   "causal multi-head attention, GELU MLP) with AdamW and a cosine schedule.")
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimizer steps in all (default {d.steps})")
    p.add_argument("--text", default=None, help="train on this UTF-8 text file (default: the Python standard "
                                                "library's source files on this machine)")
    p.add_argument("--out", default=d.out, help=f"folder for the checkpoint, history and loss plot (default {d.out})")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"sequences per step (default {d.batch_size})")
    p.add_argument("--block-size", type=int, default=d.block_size, help=f"context length (default {d.block_size})")
    p.add_argument("--n-layer", type=int, default=d.n_layer, help=f"transformer blocks (default {d.n_layer})")
    p.add_argument("--n-head", type=int, default=d.n_head, help=f"attention heads (default {d.n_head})")
    p.add_argument("--n-embd", type=int, default=d.n_embd, help=f"model width (default {d.n_embd})")
    p.add_argument("--dropout", type=float, default=d.dropout, help=f"dropout probability (default {d.dropout})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    p.add_argument("--warmup", type=int, default=d.warmup, help=f"linear warm-up steps (default {d.warmup})")
    p.add_argument("--eval-interval", type=int, default=d.eval_interval,
                   help=f"evaluate and checkpoint every N steps (default {d.eval_interval})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument("--sample-chars", type=int, default=d.sample_chars,
                   help=f"characters to generate at the end (default {d.sample_chars})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (evaluation lines still print)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of `mpiexec -n N autograd-gpu train --distributed` "
                        "(--batch-size per rank; rank 0 prints and writes the checkpoint)")
    i = sub.add_parser("info", parents=[common], help="list devices, drivers and library versions")
    b = sub.add_parser("bench", help="run the benchmark suite of a checkout (python -m benchmarks; arguments are "
                                     "passed on: bench --list, bench --quick, bench --help)", add_help=False)
    return parser, {"train": p, "info": i, "bench": b}


def _command_first(argv: list[str], commands: dict[str, argparse.ArgumentParser]) -> list[str]:
    """Move the sub-command in front of any flags given before it (skipping flag values)."""
    takes_value = {opt for p in commands.values() for a in p._actions for opt in a.option_strings if a.nargs != 0}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in commands:
            return [tok, *argv[:i], *argv[i + 1:]] if i else argv
        if tok == "--":
            break
        i += 2 if tok in takes_value else 1
    return argv


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, commands = build_parser()
    argv = _command_first(argv, commands)
    try:
        if argv and argv[0] == "bench":     # everything after goes to the runner untouched
            return bench(argv[1:])
        ns = parser.parse_args(argv)
        if ns.command is None:
            parser.print_help()
            return 2
        return train(ns) if ns.command == "train" else info(ns)
    except UsageError as e:
        print(f"autograd-gpu: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
