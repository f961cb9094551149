"""The Dockerfile's promises, checked without Docker: the command it runs exists, the CUDA version
picks the matching extra, it runs as a non-root user, and results and compiled kernels sit on
volumes. (CI lints it with hadolint; benchmarks/docker_build.sh builds and runs it with podman.)
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")   # Python >= 3.11

REPO = Path(__file__).resolve().parent.parent


def _instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order, continuation lines joined, comments dropped (Docker
    drops comment lines inside a continued instruction too)."""
    out, buf = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") or (not buf and not line.strip()):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + "\n"
            continue
        words = (buf + line).strip().split(None, 1)
        out.append((words[0].upper(), words[1] if len(words) > 1 else ""))
        buf = ""
    return out


DOCKERFILE = _instructions((REPO / "Dockerfile").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _all(name: str) -> list[str]:
    return [args for inst, args in DOCKERFILE if inst == name]


def _last(name: str) -> str:
    found = _all(name)
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def _exec_form(name: str) -> list[str]:
    args = _last(name)
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        pytest.fail(f"{name} {args}: use the exec (JSON) form, so that the command gets signals directly")
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{name} {args}"
    return value


def _arg_defaults() -> dict[str, str]:
    """``ARG NAME=default`` values (the first declaration of each name, before or after FROM)."""
    out = {}
    for args in _all("ARG"):
        name, _, default = args.partition("=")
        out.setdefault(name.strip(), default.strip())
    return out


def _install_run() -> str:
    runs = [args for args in _all("RUN") if "pip install" in args]
    assert len(runs) == 1, f"expected one RUN that pip-installs the project, found {len(runs)}"
    return runs[0]


def _volumes() -> list[str]:
    paths = []
    for args in _all("VOLUME"):
        paths += json.loads(args) if args.lstrip().startswith("[") else args.split()
    return paths


def _env(name: str) -> str | None:
    value = None
    for args in _all("ENV"):
        for word in shlex.split(args):
            key, eq, val = word.partition("=")
            if eq and key == name:
                value = val
    return value


def test_the_image_runs_the_console_scripts_bench_subcommand():
    entrypoint, cmd = _exec_form("ENTRYPOINT"), _exec_form("CMD")
    scripts = PYPROJECT["project"]["scripts"]
    assert entrypoint == ["autograd-gpu"] and "autograd-gpu" in scripts, (entrypoint, scripts)
    assert scripts["autograd-gpu"] == "autograd_gpu.cli:main"

    from autograd_gpu import cli
    _, commands = cli.build_parser()
    assert cmd[0] == "bench" and cmd[0] in commands, f"CMD {cmd}: not a sub-command of autograd-gpu {list(commands)}"
    # the runner must accept the CMD's flags: with --list it parses them all, prints the workloads
    # and exits 0 (run from a folder holding benchmarks/, as the image's WORKDIR does)
    r = subprocess.run([sys.executable, "-m", "autograd_gpu.cli", *cmd, "--list"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"autograd-gpu {' '.join(cmd)} --list exited {r.returncode}:\n{r.stdout}{r.stderr}"
    assert "per_op_overhead" in r.stdout


def test_cuda_13_is_the_default_and_the_base_is_nvidias_base_image():
    args = _arg_defaults()
    assert args["CUDA_VERSION"].startswith("13."), args["CUDA_VERSION"]
    # -base, not -devel: the cuda extras bring NVRTC, the libraries and the headers as wheels
    assert args["BASE_IMAGE"] == "nvidia/cuda:${CUDA_VERSION}-base-ubuntu24.04", args["BASE_IMAGE"]
    assert _all("FROM") == ["${BASE_IMAGE}"]


def _extras(**build_args: str) -> str:
    """The extras the install step picks for these build arguments: its shell text up to the venv,
    run by sh."""
    prelude = _install_run().split("python3 -m venv")[0]
    env = {**os.environ, **_arg_defaults(), **build_args}
    r = subprocess.run(["sh", "-c", prelude + '\nprintf "\\nextras=%s" "$extras"'], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.rsplit("extras=", 1)[1]


@pytest.mark.parametrize("build_args, expected", [
    ({}, "cuda13,plot,compare"),
    ({"CUDA_VERSION": "12.9.1"}, "cuda12,plot,compare"),
    ({"WITH_TORCH": "0"}, "cuda13,plot"),
    ({"CUDA_VERSION": "12.6.3", "WITH_TORCH": "0"}, "cuda12,plot"),
    ({"EXTRAS": "plot", "WITH_TORCH": "0"}, "plot"),  # benchmarks/docker_build.sh: CPU only
    ({"EXTRAS": "", "WITH_TORCH": "0"}, ""),
    ({"EXTRAS": "cuda12"}, "cuda12,compare"),
])
def test_the_cuda_version_picks_the_matching_extra(build_args, expected):
    assert _extras(**build_args) == expected
    known = PYPROJECT["project"]["optional-dependencies"]
    for extra in filter(None, expected.split(",")):
        assert extra in known, f"the image installs the extra {extra!r}, which pyproject.toml does not define"
    for major in ("12", "13"):   # cudaN brings CuPy and the CUDA components of CUDA N
        deps = known[f"cuda{major}"]
        assert any(d.startswith(f"cupy-cuda{major}x") for d in deps), deps
        assert any(d.startswith("cuda-toolkit[") and d.endswith(f"=={major}.*") for d in deps), deps
    assert any(d.startswith("torch") for d in known["compare"])


def test_the_install_is_cis_a_venv_and_pip_install_of_the_project_with_extras():
    run = _install_run()
    assert "python3 -m venv /opt/venv" in run
    assert re.search(r'pip install [^\n]*"/src\$\{extras:\+\[\$extras\]\}"', run), run
    copied = {w for a in _all("COPY") for w in a.split()[:-1]}
    # what the build backend reads besides the package: pyproject.toml, its readme and license files
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"], *PYPROJECT["project"].get("license-files", [])}
    assert needed <= copied, f"the Dockerfile does not copy {sorted(needed - copied)}"
    assert "requirements" not in run   # the versions are pyproject.toml's, as in CI
    assert (_env("PATH") or "").startswith("/opt/venv/bin:")
    ci = (REPO / ".ci" / "run").read_text()
    assert "-m venv" in ci and re.search(r"pip install -e '\.\[test[,a-z]*\]'", ci)


def test_it_runs_as_a_user_that_is_not_root():
    user = _last("USER").split(":")[0]
    assert user not in ("root", "0", ""), f"USER {_last('USER')}"


def test_results_and_compiled_kernels_are_on_volumes():
    volumes, cmd = _volumes(), _exec_form("CMD")
    assert "/results" in volumes
    assert cmd[cmd.index("--out") + 1] == "/results", f"CMD {cmd} does not write its reports to /results"
    cache = _env("CUPY_CACHE_DIR")
    assert cache, "CUPY_CACHE_DIR is not set"
    assert any(cache == v or cache.startswith(v.rstrip("/") + "/") for v in volumes), (cache, volumes)


def test_the_build_context_holds_what_the_dockerfile_copies():
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "the .dockerignore starts by leaving everything out, then names what goes in"
    for args in _all("COPY"):
        words = [w for w in args.split() if not w.startswith("--")]
        for src in words[:-1]:
            assert f"!{src.split('/')[0]}" in patterns, f"COPY {src}: left out of the build context by .dockerignore"
