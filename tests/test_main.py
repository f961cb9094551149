"""``python -m autograd_gpu`` lists the devices and trains a small model end to end."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_gpu import cli

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env}
    return subprocess.run([sys.executable, "-m", "autograd_gpu", *args], capture_output=True, text=True,
                          env=full_env, timeout=120, cwd=REPO)


def _losses(out: str) -> list[float]:
    return [float(m) for m in re.findall(r"step\s+\d+\s+loss ([0-9.eE+-]+)", out)]


def test_main_lists_devices_and_loss_falls():
    r = _run()
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^\s+cpu\s", r.stdout, re.M), r.stdout
    assert "cuda" in r.stdout  # either the CUDA devices or why CUDA is unavailable
    assert "NVML driver version:" in r.stdout
    losses = _losses(r.stdout)
    assert len(losses) >= 2
    final = float(re.search(r"final loss ([0-9.eE+-]+)", r.stdout).group(1))
    assert final < losses[0] * 0.5, r.stdout


def test_info_only_does_not_train():
    r = _run("info")
    assert r.returncode == 0, r.stderr
    assert "cpu" in r.stdout and "final loss" not in r.stdout


def test_train_on_cpu_in_process(capsys):
    losses = cli.train("cpu", steps=20)
    assert len(losses) == 20 and losses[-1] < losses[0]
    assert all(l == l for l in losses)  # no NaN
    assert "final loss" in capsys.readouterr().out


def test_nvml_reports_na_without_driver():
    v = cli.nvml_driver_version()
    assert isinstance(v, str) and v


def test_bench_without_runner_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "pkg" / "cli.py"))
    assert cli.bench([]) == 2
    assert "benchmarks/run.py not found" in capsys.readouterr().err


@pytest.mark.cuda
def test_main_trains_on_cuda():
    r = _run("train", "--device", "cuda", "--steps", "30")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "on cuda" in r.stdout


def test_benchmark_runner_smoke(tmp_path):
    """The runner and two CPU workloads run and write their JSON and Markdown (tiny sample sizes)."""
    import json
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", "per_op_overhead,handoff",
                        "--quick", "--repeat", "1", "--min-time", "0.005", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    assert r.returncode == 0, r.stdout + r.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any(f.startswith("per_op_overhead-cpu-") and f.endswith(".json") for f in files), files
    assert any(f.startswith("handoff-cpu-") and f.endswith(".md") for f in files), files
    data = json.loads(next(tmp_path.glob("per_op_overhead-cpu-*.json")).read_text())
    assert data["statistic"] == "median" and data["rows"] and data["rows"][0]["ours"] > 0
    assert "| case |" in r.stdout
