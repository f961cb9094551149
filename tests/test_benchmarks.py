"""The benchmark suite (``benchmarks/``): the runner's command line, a tiny run's files, the
measurement's order and input rotation, the figures derived from samples, and the NVML sampler
with a fake ``pynvml``. No PyTorch or GPU needed."""
from __future__ import annotations

import importlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the suite is a folder of the checkout, not part of the package
    sys.path.insert(0, str(REPO))

import autograd_gpu as ag  # noqa: E402
from autograd_gpu.backends import nvml  # noqa: E402
from benchmarks import common, report, runner  # noqa: E402
from benchmarks.common import Config, Impl, Row  # noqa: E402


@pytest.fixture
def env(monkeypatch):
    """The runner sets OMP_WAIT_POLICY for the process; keep that out of the other tests."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")


# the command line ---------------------------------------------------------------------------------
def test_list_names_every_workload_with_a_description(capsys):
    assert runner.main(["--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(runner.WORKLOADS)
    assert all(len(line.split()) > 3 for line in out)


def test_every_workload_module_declares_what_the_runner_reads():
    for name, module in runner.WORKLOADS.items():
        mod = importlib.import_module(f"benchmarks.{module}")
        assert callable(mod.run) and isinstance(mod.FRESH_PROCESS, bool), name
        assert set(mod.DEVICES) <= {"cpu", "cuda"} and mod.DEVICES, name
        assert mod.__doc__ and runner.description(name), name


@pytest.mark.parametrize("argv, message", [
    (["--workloads", "per_op_overhead,nope"], "unknown workload 'nope'; choose from per_op_overhead"),
    (["--workloads", ","], "unknown workload"),
    (["--device", "tpu"], "--device 'tpu': use cpu or cuda"),
    (["--repeat", "0"], "--repeat must be a positive integer"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, message, capsys, env):
    assert runner.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("benchmarks: error: ") and message in err, err


@pytest.mark.skipif(ag.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_a_gpu_is_one_line_and_exit_2(capsys, env, tmp_path):
    assert runner.main(["--device", "cuda", "--workloads", "optimizer", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device cuda: CUDA is unavailable: " in err
    assert not list(tmp_path.iterdir())


def test_tiny_run_writes_json_markdown_and_chart(tmp_path, capsys, env):
    out = tmp_path / "run"
    assert runner.main(["--workloads", "per_op_overhead,optimizer", "--device", "cpu", "--tiny", "--no-progress",
                        "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "per_op_overhead on cpu" in stdout and "optimizer on cpu" in stdout and "% of limit" in stdout
    data = json.loads((out / "results.json").read_text())
    assert data["run"]["size"] == "tiny" and data["run"]["workloads"] == ["per_op_overhead", "optimizer"]
    assert {r["workload"] for r in data["rows"]} == {"per_op_overhead", "optimizer"}
    for r in data["rows"]:
        assert set(r["meta"]["env"]) >= {"device_name", "driver", "cuda", "cupy", "numpy", "torch", "git_commit"}
        assert r["meta"]["env"]["git_commit"] != ""
        assert r["median"]["ours"] > 0 and r["meta"]["nvml"] == "n/a"
        if r["case"] != "forward, recording (per op)":   # by hand there is no graph to record
            assert r["median"]["limit"] > 0 and r["pct_of_limit"] > 0
    fwd_bwd = next(r for r in data["rows"] if r["case"] == "forward+backward (per op)")
    assert fwd_bwd["target"] == {"vs": "torch", "max": 1.2} and fwd_bwd["unit"] == "us"
    assert data["workloads"]["optimizer"]["duration_s"] >= 0
    md = (out / "report.md").read_text()
    assert "| case | ours | torch | ours/torch | limit | % of limit | target |" in md
    assert "git_commit" in md and "## optimizer on cpu" in md
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        assert not (out / "ratios.png").exists() and "matplotlib is not installed" in md
    else:
        assert (out / "ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_previous_run_is_never_written_over(tmp_path, capsys, env):
    (tmp_path / "results.json").write_text("{}")
    assert runner.main(["--workloads", "optimizer", "--device", "cpu", "--tiny", "--no-progress",
                        "--out", str(tmp_path)]) == 0
    assert (tmp_path / "results.json").read_text() == "{}"
    (sub,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (sub / "results.json").exists() and "holds a previous run" in capsys.readouterr().err


def test_a_failing_workload_does_not_hide_the_others(tmp_path, monkeypatch, capsys, env):
    from benchmarks import handoff, optimizer

    def boom(cfg):
        raise RuntimeError("SYNTHETIC: the optimizer broke")
    monkeypatch.setattr(optimizer, "run", boom)
    monkeypatch.setattr(handoff, "DEVICES", ("cuda",))
    assert runner.main(["--workloads", "optimizer,handoff,per_op_overhead", "--device", "cpu", "--tiny",
                        "--no-progress", "--out", str(tmp_path)]) == 1
    data = json.loads((tmp_path / "results.json").read_text())
    assert "SYNTHETIC: the optimizer broke" in data["workloads"]["optimizer"]["error"]
    assert data["workloads"]["handoff"]["skipped"] == "skipped: handoff runs on cuda only"
    assert {r["workload"] for r in data["rows"]} == {"per_op_overhead"}
    md = (tmp_path / "report.md").read_text()
    assert "## optimizer: failed" in md and "RuntimeError: SYNTHETIC: the optimizer broke" in md
    assert "optimizer: RuntimeError: SYNTHETIC" in capsys.readouterr().err


def test_default_out_is_a_fresh_timestamped_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = runner._out_dir(None)
    a.mkdir(parents=True)
    b = runner._out_dir(None)
    assert a.parent == b.parent == Path("bench-results") and a != b and not b.exists()


# the measurement ----------------------------------------------------------------------------------
def test_interleaving_takes_every_implementation_once_per_round_and_rotates_the_start():
    order = common.interleaved(["ours", "torch", "limit"], 4)
    assert order == [["ours", "torch", "limit"], ["torch", "limit", "ours"], ["limit", "ours", "torch"],
                     ["ours", "torch", "limit"]]


class FakeClock:
    """Each sample lasts ``per_call`` seconds per call."""

    def __init__(self, log: list, name: str, per_call: float):
        self.log, self.name, self.per_call = log, name, per_call

    def sample(self, impl, number):
        for _ in range(number):
            impl()
        return self.per_call


def test_measure_interleaves_samples_and_rotates_inputs():
    log: list = []
    impls = {name: Impl(lambda s, name=name: log.append((name, s)), [(i,) for i in range(3)],
                        FakeClock(log, name, t)) for name, t in (("ours", 2e-3), ("torch", 1e-3), ("limit", 5e-4))}
    cfg = Config(repeat=5, min_time=0.0035, warmup=1)
    samples = common.measure(impls, cfg)
    assert {k: len(v) for k, v in samples.items()} == {"ours": 5, "torch": 5, "limit": 5}
    assert samples["ours"] == pytest.approx([2e-3] * 5) and samples["limit"] == pytest.approx([5e-4] * 5)
    for name in impls:  # every call took the next input set, round and round
        sets = [s for n, s in log if n == name]
        assert sets == [i % 3 for i in range(len(sets))]
    # after warm-up and calibration, the sampled calls come in blocks whose order rotates
    calls = {"ours": 2, "torch": 4, "limit": 8}   # calls per sample: at least 3.5 ms each
    tail = [n for n, _ in log][-sum(calls.values()) * 5:]
    blocks = []
    for n in tail:
        if not blocks or blocks[-1][0] != n:
            blocks.append([n, 0])
        blocks[-1][1] += 1
    assert [b[0] for b in blocks[:3]] == ["ours", "torch", "limit"]
    assert [b[0] for b in blocks[3:6]] == ["torch", "limit", "ours"]
    assert all(b[1] == calls[b[0]] for b in blocks)


def test_cuda_timer_is_cupyx_benchmark_per_call(monkeypatch):
    """On CUDA a sample is ``cupyx.profiler.benchmark`` over ``number`` calls, the mean device time
    per call of the current device (row 0 of ``gpu_times``), the warm-up left to ``measure``."""
    seen = {}

    def benchmark(func, args=(), kwargs={}, n_repeat=10000, *, name=None, n_warmup=10, max_duration=math.inf,
                  devices=None):   # CuPy 14's signature and argument checks
        if name is None:
            name = func.__name__
        assert callable(func) and isinstance(args, tuple) and isinstance(kwargs, dict)
        assert isinstance(n_repeat, int) and isinstance(name, str) and isinstance(n_warmup, int)
        seen.update(n_repeat=n_repeat, n_warmup=n_warmup)
        for _ in range(n_warmup + n_repeat):
            func(*args, **kwargs)
        return types.SimpleNamespace(gpu_times=np.array([[1e-3, 3e-3] * (n_repeat // 2), [9.0] * n_repeat]),
                                     cpu_times=np.full(n_repeat, 7.0))

    profiler = types.ModuleType("cupyx.profiler")
    profiler.benchmark = benchmark
    monkeypatch.setitem(sys.modules, "cupyx", types.ModuleType("cupyx"))
    monkeypatch.setitem(sys.modules, "cupyx.profiler", profiler)
    calls = []
    impl = Impl(lambda i: calls.append(i), [(0,), (1,), (2,)], common.clock("cuda"))
    assert isinstance(impl.clock, common.CupyxTimer) and isinstance(common.clock("cpu"), common.HostClock)
    assert impl.clock.sample(impl, 4) == pytest.approx(2e-3)
    assert seen == {"n_repeat": 4, "n_warmup": 0} and calls == [0, 1, 2, 0]


def test_input_sets_cover_twice_the_cache_within_bounds():
    assert common.n_sets(1 << 20, 32 << 20) == 8                      # capped
    assert common.n_sets(24 << 20, 32 << 20) == 3
    assert common.n_sets(256 << 20, 50 << 20) == 1
    assert common.n_sets(300 << 20, 50 << 20, budget=200 << 20) == 1    # never fewer than one
    assert common.n_sets(10 << 20, 32 << 20, budget=25 << 20) == 2
    assert common.cache_bytes("cpu") > 0


# the figures ----------------------------------------------------------------------------------------
def _row(**kw) -> Row:
    base = dict(workload="w", case="c", device="cpu", unit="ms",
                samples={"ours": [3.0, 1.0, 2.0], "torch": [1.0, 1.5, 9.0], "limit": [0.5, 0.4, 0.6]})
    return Row(**{**base, **kw})


def test_medians_ratio_and_percent_of_limit():
    r = _row(target={"vs": "torch", "max": 1.2})
    assert r.median("ours") == 2.0 and r.median("torch") == 1.5 and r.median("limit") == 0.5
    assert r.value("ours") == pytest.approx(2000.0)                   # ms
    assert r.ratio() == pytest.approx(2 / 1.5) and r.pct_limit() == pytest.approx(25.0)
    assert r.verdict() == ("MISSED", "MISSED by 11%: 1.33x > 1.20x PyTorch")
    assert _row(target={"vs": "torch", "max": 1.5}).verdict()[0] == "met"
    assert _row(samples={"ours": [1.0]}, target={"vs": "torch", "max": 1.2}).verdict()[0] == "n/a"
    us = _row(unit="us", per=200)
    assert us.value("ours") == pytest.approx(2.0 / 200 * 1e6) and us.ratio() == pytest.approx(2 / 1.5)


def test_throughput_rows_compare_work_per_second():
    # an op moving 3 arrays of 1 GB in 2 s against a copy moving 2 GB in 1 s: 1.5 vs 2 GB/s = 75%
    r = Row("elementwise", "tanh backward", "cuda", "GB/s", {"ours": [2.0], "torch": [1.0], "limit": [1.0]},
            work={"ours": 3e9, "torch": 3e9, "limit": 2e9}, target={"vs": "limit", "min_pct": 80})
    assert r.value("ours") == pytest.approx(1.5) and r.value("limit") == pytest.approx(2.0)
    assert r.ratio() == pytest.approx(2.0) and r.pct_limit() == pytest.approx(75.0)
    assert r.verdict() == ("MISSED", "MISSED by 5 pts: 75% < 80% of limit")
    mm = Row("matmul", "fp32", "cuda", "TFLOP/s", {"ours": [1.04], "limit": [1.0]}, work={"ours": 1e12, "limit": 1e12},
             target={"vs": "limit", "max": 1.05})
    assert mm.value("ours") == pytest.approx(1 / 1.04) and mm.verdict()[0] == "met"
    mm.samples["ours"] = [1.1]
    assert mm.verdict() == ("MISSED", "MISSED by 4.8%: 1.100x > 1.05x the limit's time")


def test_memory_rows_and_json_round_trip():
    r = Row("train_memory", "mlp", "cpu", "MiB", {"ours": [12.0 * 2 ** 20], "torch": [10.0 * 2 ** 20],
                                                  "limit": [6.0 * 2 ** 20]}, target={"vs": "torch", "max": 1.2})
    assert r.value("ours") == pytest.approx(12.0) and r.ratio() == pytest.approx(1.2)
    assert r.pct_limit() == pytest.approx(50.0) and r.verdict()[0] == "met"
    d = json.loads(json.dumps(r.to_json()))
    assert d["ratio_vs_torch"] == pytest.approx(1.2) and d["target_status"] == "met"
    assert Row.from_json(d) == r


def test_tables_show_every_column():
    rows = [_row(target={"vs": "torch", "max": 1.2}), _row(case="no torch", samples={"ours": [1.0]})]
    text = report.terminal_table(rows)
    assert "w on cpu [ms]" in text and "1.33x" in text and "25%" in text and "MISSED by 11%" in text
    assert report.targets(rows) == ["w: c: MISSED by 11%: 1.33x > 1.20x PyTorch"]
    assert report.fmt(None) == "-" and report.fmt(1234.5) == "1234" and report.fmt(0.01234) == "0.0123"


def test_chart_is_skipped_with_a_note_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    note = report.chart([_row()], tmp_path / "ratios.png")
    assert "matplotlib is not installed" in note and not (tmp_path / "ratios.png").exists()


def test_a_workload_without_pytorch_has_no_torch_column(monkeypatch):
    from benchmarks import optimizer
    monkeypatch.setitem(sys.modules, "torch", None)
    assert common.torch_or_none() is None
    (row,) = optimizer.run(Config(size="tiny", repeat=2, min_time=0.0, warmup=1))
    assert set(row.samples) == {"ours", "limit"} and len(row.samples["ours"]) == 2
    assert row.ratio() is None and row.pct_limit() > 0 and row.unit == "GB/s"
    assert row.work["ours"] == 28.0 * row.meta["params"]        # Adam: p, g, m, v in; p, m, v out


def test_config_survives_json_for_a_subprocess():
    cfg = Config(device="cpu", size="tiny", repeat=3, min_time=0.0, warmup=1, progress=print)
    back = Config.from_json(json.loads(json.dumps(cfg.to_json())))
    assert back == cfg and back.progress is None


# NVML -------------------------------------------------------------------------------------------------
def fake_pynvml(fail_init: bool = False, values: list | None = None):
    """A module with pynvml's names; ``values`` are the SM clocks successive samples read."""
    m = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    clocks = iter(values or [1000])
    last = [None]
    m.NVMLError = NVMLError
    m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM = 1, 2
    m.calls = []

    def init():
        if fail_init:
            raise NVMLError("NVML Shared Library Not Found")
        m.calls.append("init")

    def clock(h, which):
        if which == 1:
            last[0] = next(clocks, last[0])
            return last[0]
        return 2619

    m.nvmlInit = init
    m.nvmlShutdown = lambda: m.calls.append("shutdown")
    m.nvmlDeviceGetHandleByIndex = lambda i: ("handle", i)
    m.nvmlDeviceGetHandleByPciBusId = lambda bus: ("handle", bus)
    m.nvmlDeviceGetClockInfo = clock
    m.nvmlDeviceGetPowerUsage = lambda h: 350_000
    m.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=97, memory=60)

    def no_memory(h):
        raise NVMLError("Not Supported")
    m.nvmlDeviceGetMemoryInfo = no_memory
    return m


def test_sampler_is_na_without_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)     # import fails
    s = nvml.Sampler(0, interval=0.01).start()
    summary = s.stop()
    assert "nvidia-ml-py is not installed" in summary["error"] and summary["samples"] == 0
    assert all(summary[k] == "n/a" for k in nvml.SAMPLED)
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(fail_init=True))
    with nvml.Sampler(0, interval=0.01) as s:
        pass
    assert "NVML unavailable: NVML Shared Library Not Found" in s.summary()["error"]
    assert s.summary()["power_w"] == "n/a"


def test_sampler_summarises_a_fake_gpu(monkeypatch):
    fake = fake_pynvml(values=[1980, 1410, 1755])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with nvml.Sampler(0, interval=0.005) as s:
        deadline = time.monotonic() + 5
        while len(s.samples) < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
    summary = s.summary()
    assert "error" not in summary and summary["samples"] >= 4
    assert summary["sm_clock_mhz"] == {"min": 1410, "median": 1755, "max": 1980}
    assert summary["mem_clock_mhz"] == {"min": 2619, "median": 2619, "max": 2619}
    assert summary["power_w"]["median"] == 350.0 and summary["gpu_util_pct"]["max"] == 97
    assert summary["mem_used_bytes"] == "n/a"                        # unsupported query: n/a, no error
    assert fake.calls[0] == "init" and fake.calls[-1] == "shutdown"
    assert not any(t.name == "nvml-sampler" for t in threading.enumerate())


def test_summarize_ignores_na_and_takes_the_median():
    samples = [{"power_w": 100.0, "sm_clock_mhz": "n/a"}, {"power_w": 300.0}, {"power_w": 200.0}]
    s = nvml.summarize(samples)
    assert s["power_w"] == {"min": 100.0, "median": statistics.median([100, 200, 300]), "max": 300.0}
    assert s["sm_clock_mhz"] == "n/a" and s["samples"] == 3


def test_gpu_check_script_runs_every_stage_and_leaves_flat_files(tmp_path):
    """``benchmarks/gpu_check.sh``, the one script a GPU lease runs: on this CPU machine every stage
    still runs and is summarised (the cuda tests skip, the GPU benchmarks say why they cannot run),
    and what it leaves fits the device tool's return (at most 8 files, no folders)."""
    if ag.cuda.is_available():
        pytest.skip("on a GPU machine this script is the GPU session itself, run on its own")
    if shutil.which("timeout") is None:
        pytest.skip("coreutils' timeout is not installed")
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "TESTS_S": "240", "BENCH_S": "60", "CUPY_CACHE_DIR": str(tmp_path / "c")}
    subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh")], cwd=REPO, env=env, timeout=400, check=True,
                   capture_output=True)
    left = list(out.iterdir())
    assert len(left) <= 8 and all(p.is_file() for p in left), left
    summary = (out / "summary.txt").read_text()
    assert re.search(r"^tests +ok ", summary, re.M) and re.search(r"^bench +failed \(rc=2\)", summary, re.M), summary
    assert re.search(r"^tests: \d+ skipped", summary, re.M) and "failed" not in (out / "cuda-tests.log").read_text()
    assert "CUDA is unavailable" in (out / "bench.log").read_text()
    assert "autograd_gpu" in (out / "info.txt").read_text()
