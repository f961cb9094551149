"""The ``autograd-gpu`` command: ``train`` end to end, its command line, checkpoints that resume
exactly and survive interruption, ``info`` and ``bench``."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import cli
from autograd_gpu.backends import nvml
from autograd_gpu.lm.train import CHECKPOINT, Trainer, TrainConfig

REPO = Path(__file__).resolve().parent.parent
TINY = ["--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--block-size", "16", "--batch-size", "8",
        "--sample-chars", "20", "--no-progress"]


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "autograd_gpu", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=cwd)


def _text(tmp_path: Path) -> Path:
    """A small learnable text: a few words repeated in a random order."""
    rng = np.random.default_rng(0)
    words = ["def ", "return ", "self", "(x)", ": ", "\n    ", "import ", "numpy"]
    p = tmp_path / "corpus.txt"
    p.write_text("".join(rng.choice(words, 6000)))
    return p


def _tiny_cfg(tmp_path: Path, steps: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=4, block_size=8, n_layer=1, n_head=2, n_embd=16, warmup=2,
                       eval_interval=1000, eval_iters=2, out=str(tmp_path / "out"), sample_chars=5)


def test_train_subprocess_default_corpus_flags_before_subcommand(tmp_path):
    """``--steps 25 --device cpu train``: the flags before the sub-command hold, the loss falls, the
    checkpoint, history and plot land in --out."""
    out = tmp_path / "run"
    r = _run("--steps", "25", "--device", "cpu", "train", *TINY, "--eval-interval", "10", "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "steps 1..25" in r.stdout and " on cpu" in r.stdout
    assert "Python standard library files" in r.stdout
    assert len(re.findall(r"step\s+\d+\s+train loss", r.stdout)) == 3   # steps 10, 20, 25
    first, last = map(float, re.search(r"loss ([0-9.]+) -> ([0-9.]+)", r.stdout).groups())
    assert last < first - 0.3, r.stdout
    hist = json.loads((out / "history.json").read_text())
    assert hist["step"] == list(range(1, 26)) and len(hist["val"]) == 3
    assert (out / CHECKPOINT).is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temp files left behind"


def test_command_first_keeps_flags_given_before_the_subcommand():
    parser, commands = cli.build_parser()
    for argv in (["--steps", "3", "--device", "cpu", "train"], ["train", "--steps", "3", "--device", "cpu"],
                 ["--device", "cpu", "train", "--steps", "3"]):
        ns = parser.parse_args(cli._command_first(argv, commands))
        assert (ns.command, ns.steps, ns.device) == ("train", 3, "cpu"), argv
    # a flag value that happens to be a command name is not taken for the command
    ns = parser.parse_args(cli._command_first(["--out", "info", "train"], commands))
    assert ns.command == "train" and ns.out == "info"


@pytest.mark.parametrize("argv, message", [
    (["train", "--steps", "0"], "--steps must be a positive integer (got 0)"),
    (["train", "--device", "tpu"], "--device 'tpu'"),
    (["train", "--batch-size", "-1"], "--batch-size must be a positive integer (got -1)"),
    (["train", "--n-embd", "30", "--n-head", "4"], "--n-embd (30) must be divisible by --n-head (4)"),
    (["train", "--dropout", "1.5"], "--dropout must be in [0, 1) (got 1.5)"),
    (["train", "--device", "cuda:99"], "--device cuda:99"),
    (["train", "--text", "/nonexistent/corpus.txt"], "--text /nonexistent/corpus.txt: no such file"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("autograd-gpu: error: ") and message in err, err
    assert "Traceback" not in err and err.count("unavailable") <= 1


def test_resume_without_checkpoint_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["train", "--resume", "--out", str(tmp_path / "none"), "--device", "cpu"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_no_subcommand_prints_help_and_version(capsys):
    assert cli.main([]) == 2
    assert "train" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and ag.__version__ in capsys.readouterr().out


def test_every_flag_has_help():
    _, commands = cli.build_parser()
    for name, p in commands.items():
        for a in p._actions:
            assert a.help, f"{name} {a.option_strings} has no help text"


def test_short_run_is_not_judged_and_long_flat_run_is(tmp_path, capsys):
    text = _text(tmp_path)
    assert cli.main(["train", "--steps", "3", "--text", str(text), "--out", str(tmp_path / "o"), *TINY,
                     "--device", "cpu"]) == 0
    assert "too short to judge" in capsys.readouterr().out
    assert cli._judge([2.0] * 30) == 1
    assert cli._judge(list(np.linspace(3, 1, 30))) == 0


def test_resume_continues_exactly(tmp_path):
    """Six steps in one go equal three (with an evaluation), a checkpoint, and three more after --resume."""
    text = _text(tmp_path).read_text()
    a = Trainer(_tiny_cfg(tmp_path / "a", 6), text)
    assert a.run(progress=False) == 0
    b = Trainer(_tiny_cfg(tmp_path / "b", 6), text)
    for _ in range(3):
        b.train_step()
    b.evaluate()
    b.save_checkpoint()
    c = Trainer(_tiny_cfg(tmp_path / "b", 6), text, resume=True)
    assert c.step == 3
    c.run(progress=False)
    assert c.history["loss"] == a.history["loss"]
    for (n, p), (_, q) in zip(a.model.named_parameters(), c.model.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=n)


def test_interrupted_write_and_truncated_checkpoint(tmp_path, monkeypatch):
    """A write killed before the rename leaves the old checkpoint whole; a truncated one raises
    a RuntimeError naming the file."""
    text = _text(tmp_path).read_text()
    t = Trainer(_tiny_cfg(tmp_path, 2), text)
    t.run(progress=False)
    path = t.save_checkpoint()
    before = path.read_bytes()
    t.train_step()

    def killed(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        t.save_checkpoint()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [CHECKPOINT, "history.json"]
    assert Trainer(_tiny_cfg(tmp_path, 5), text, resume=True).step == 2
    path.write_bytes(before[: len(before) // 2])
    with pytest.raises(RuntimeError, match=re.escape(str(path))):
        Trainer(_tiny_cfg(tmp_path, 5), text, resume=True)
    text_file = tmp_path / "t.txt"
    text_file.write_text(text)
    assert cli.main(["train", "--resume", "--out", str(path.parent), "--text", str(text_file), "--device", "cpu"]) == 2


def test_ctrl_c_saves_and_stops(tmp_path, monkeypatch):
    text = _text(tmp_path).read_text()
    t = Trainer(_tiny_cfg(tmp_path, 10), text, log=lambda s: None)
    real = t.train_step

    def step():
        if t.step == 4:
            raise KeyboardInterrupt
        return real()
    monkeypatch.setattr(t, "train_step", step)
    assert t.run(progress=False) == 130
    assert Trainer(_tiny_cfg(tmp_path, 10), text, resume=True).step == 4


def test_info_reports_devices_without_repeating_itself():
    r = _run("info")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s+cpu\s", r.stdout, re.M) and "NumPy" in r.stdout and "CuPy" in r.stdout
    assert "CUDA is unavailable: CUDA is unavailable" not in r.stdout
    if not ag.cuda.is_available():
        assert "CUDA is unavailable: " in r.stdout


def test_nvml_degrades_to_na():
    rep = nvml.report()
    assert set(rep) >= {"driver", "cuda_driver", "devices", "error"}
    if rep["error"]:
        assert rep["driver"] == "n/a" and rep["devices"] == []
    v = nvml.versions()
    assert v["cupy"] == "n/a" or re.match(r"\d+\.", v["cupy"])


def test_bench_without_runner_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "pkg" / "cli.py"))
    assert cli.main(["bench"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "benchmarks/ (run.py, runner.py) not found" in err


@pytest.mark.cuda
def test_train_on_cuda(tmp_path):
    r = _run("train", "--device", "cuda", "--steps", "30", *TINY, "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert " on cuda" in r.stdout


def test_bench_runs_the_checkouts_suite_from_any_folder(tmp_path):
    """``autograd-gpu bench`` finds the suite next to the package and passes its flags and exit
    status through; a tiny run writes its JSON and Markdown (the suite's own tests are in
    tests/test_benchmarks.py)."""
    r = _run("bench", "--list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "per_op_overhead" and "optimizer " in r.stdout
    r = _run("bench", "--workloads", "optimizer", "--device", "cpu", "--tiny", "--no-progress",
             "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [row["workload"] for row in data["rows"]] == ["optimizer"] and data["rows"][0]["median"]["ours"] > 0
    assert "optimizer on cpu" in r.stdout and (tmp_path / "out" / "report.md").exists()
    r = _run("bench", "--workloads", "nope", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().startswith("benchmarks: error: unknown workload 'nope'")


def test_no_driver_is_named_as_such(monkeypatch):
    """Without a driver CUDA's runtime says "driver version is insufficient" and NVML "library not
    found": both must read as "no NVIDIA driver found", not as a driver to upgrade."""
    import types

    from autograd_gpu.backends import cupy_backend

    class CUDARuntimeError(Exception):
        pass

    def count():
        raise CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count)))
    monkeypatch.setattr(cupy_backend, "_cupy", lambda: fake)
    monkeypatch.setattr(cupy_backend, "driver_installed", lambda: False)
    with pytest.raises(RuntimeError, match=r"^CUDA is unavailable: no NVIDIA driver found \(libcuda"):
        cupy_backend.CupyBackend()
    monkeypatch.setattr(cupy_backend, "driver_installed", lambda: True)   # a driver that is too old
    with pytest.raises(RuntimeError, match="cudaErrorInsufficientDriver"):
        cupy_backend.CupyBackend()

    class NVMLError_LibraryNotFound(Exception):  # noqa: N801 - pynvml's name
        pass

    def init():
        raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")

    monkeypatch.setitem(sys.modules, "pynvml", types.SimpleNamespace(nvmlInit=init))
    assert nvml.report()["error"] == "no NVIDIA driver found (NVML's library is not installed)"
