"""Kernel checks that need no GPU: the .cu files compile (when nvcc is here), every kernel
KERNELS.md promises exists for its dtypes, every CUDA registration names a real kernel, the
parameter structs match the CUDA layout, and the launch planning of ``cuda_plan`` is right."""
from __future__ import annotations

import itertools
import math
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import autograd_gpu  # noqa: F401 - registers every op
from autograd_gpu import dispatch
from autograd_gpu.backends import cuda_elementwise, cuda_plan, cuda_reduce
from autograd_gpu.backends import cupy_backend as cb

KDIR = Path(__file__).resolve().parent.parent / "kernels"
FAMILIES = tuple(sorted(f.stem for f in KDIR.glob("*.cu")))
# the files built on elementwise.cuh: launched by cuda.elementwise(kernel, file=...), contract in KERNELS.md
EW_FILES = tuple(f for f in FAMILIES if '#include "elementwise.cuh"' in (KDIR / f"{f}.cu").read_text())
NVCC = shutil.which("nvcc")
F = ("float16", "float32", "float64")
A = F + ("int32", "int64")
AB = A + ("bool",)
ALL = AB + ("int8", "uint8", "int16")


# compilation -------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _compile_all() -> dict:
    """nvcc -ptx for every (file, arch), in parallel; {(family, arch): (returncode, output)}.

    ``-Xcicc -O1`` halves the time of the 231-kernel elementwise.cu; parsing, template
    instantiation and PTX generation (inline asm, intrinsics per arch) are all still checked,
    and the GPU tests compile everything at full optimisation through NVRTC.
    """
    def one(job):
        fam, arch = job
        r = subprocess.run([NVCC, "-ptx", f"-arch={arch}", "-std=c++17", "-Xcicc", "-O1", "-I", str(KDIR),
                            str(KDIR / f"{fam}.cu"), "-o", "/dev/null"], capture_output=True, text=True)
        return job, (r.returncode, r.stdout + r.stderr)
    jobs = list(itertools.product(FAMILIES, ("sm_80", "sm_90")))
    jobs.sort(key=lambda j: j[0] != "elementwise")   # longest first
    with ThreadPoolExecutor(max_workers=4) as ex:
        return dict(ex.map(one, jobs))


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("family", FAMILIES)
def test_kernels_compile(family, arch):
    rc, out = _compile_all()[(family, arch)]
    assert rc == 0, f"nvcc -ptx -arch={arch} kernels/{family}.cu failed:\n{out}"


# kernel names -------------------------------------------------------------------------
@lru_cache(maxsize=None)
def defined_kernels(family: str) -> frozenset:
    """Names of the extern "C" kernels a .cu file defines, from its preprocessed source."""
    src = str(KDIR / f"{family}.cu")
    if shutil.which("cpp"):   # fast; the kernels include nothing but common.cuh
        cmd = ["cpp", "-P", "-I", str(KDIR), src]
    elif NVCC:
        cmd = [NVCC, "-E", "-std=c++17", "-I", str(KDIR), src]
    else:
        pytest.skip("no C preprocessor (cpp or nvcc) on PATH")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    # nvcc -E spells __global__ as __attribute__((global))
    return frozenset(re.findall(r'extern\s+"C"\s+(?:__global__|__attribute__\(\(global\)\))\s*void\s+(\w+)\s*\(',
                                out))


def _elementwise_contract(file: str = "elementwise") -> dict:
    """{kernel: dtypes} from the table of KERNELS.md's section on ``<file>.cu`` (an elementwise file)."""
    sets = {"F": F, "A": A, "B": ("bool",), "I": ("int32", "int64")}
    text = (KDIR / "KERNELS.md").read_text()
    section = text.split(f"## {file}.cu", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not line.startswith("|") or cells[0] in ("kernel", "---"):
            continue
        names_cell, dt_cell = cells[0], cells[1]
        if "`_fwd`" in names_cell:   # "exp log ... relu `_fwd`(x)"
            names = [w + "_fwd" for w in names_cell.split("`")[0].split()]
        else:
            names = re.findall(r"\b([a-z0-9_]+_(?:fwd|bwd)(?:_[a-z]+)?)\b", names_cell)
        if "+" in dt_cell.split()[0]:   # "A+B", "I+B": the union of the sets
            dts = tuple(d for k in dt_cell.split()[0].split("+") for d in sets[k])
        elif "c: B" in dt_cell:
            dts = A
        else:
            dts = sets[dt_cell.split()[0]]
        for n in names:
            out[n] = dts
    return out


CONTRACT = {
    "reduce": {**{k: AB for k in ("sum_fwd", "prod_fwd", "amax_fwd", "amin_fwd")}, "max_fwd": AB, "min_fwd": AB},
    "scan": {**{k: A for k in ("cumsum_fwd", "cumprod_fwd", "cumsum_bwd")}, "cummax_fwd": AB, "cummin_fwd": AB,
             "logcumsumexp_fwd": F},
    "softmax": {k: F for k in ("softmax_fwd", "log_softmax_fwd", "softmax_bwd", "log_softmax_bwd")},
    "index": {**{k: AB for k in ("gather_fwd", "scatter_fwd", "scatter_add_fwd", "index_select_fwd", "index_add_fwd",
                                 "take_fwd", "put_fwd", "scatter_reduce_fwd", "index_copy_fwd")},
              "scatter_count": ("int32",), "scatter_mean": A},
    "copy": {"copy": ALL, "triangle": AB},
    "embedding": {"embedding_fwd": F, "embedding_bwd": F, "embedding_row_factor": F, "embedding_count": ("int32",),
                  "one_hot_fwd": ("int64",)},
    "conv": {"im2col_fwd": F, "col2im_fwd": F},
    "pooling": {k: F for k in ("max_pool_fwd", "max_pool_bwd", "avg_pool_fwd", "avg_pool_bwd", "adaptive_max_pool_fwd",
                               "pool_gather_fwd", "pool_scatter_fwd", "pool_scatter_add_fwd")},
    "interpolate": {"interp_fwd": F},
    "norm": {k: F for k in ("layer_norm_fwd", "layer_norm_bwd", "layer_norm_bwd_params", "batch_norm_fwd_stats",
                            "batch_norm_fwd", "batch_norm_bwd_reduce", "batch_norm_bwd")},
    "loss": {k: F for k in ("cross_entropy_fwd", "cross_entropy_bwd", "cross_entropy_fwd_prob", "cross_entropy_bwd_prob",
                            "nll_loss_fwd", "nll_loss_bwd")},
    "optim": {k: F for k in ("sgd_step", "adam_step", "rmsprop_step", "adagrad_step")},
}


def test_elementwise_contract_parsed():
    c = _elementwise_contract()
    assert len(c) > 60
    assert c["add_fwd"] == AB and c["sub_fwd"] == A and c["exp_fwd"] == F and c["eq_fwd"] == AB and c["logical_not_fwd"] == ("bool",)
    assert c["minimum_bwd_x"] == F and c["cos_bwd"] == F and c["silu_bwd"] == F and c["where_fwd"] == A


@pytest.mark.parametrize("family", FAMILIES)
def test_every_contract_kernel_exists(family):
    contract = _elementwise_contract(family) if family in EW_FILES else CONTRACT[family]
    have = defined_kernels(family)
    missing = sorted(f"{k}_{d}" for k, dts in contract.items() for d in dts if f"{k}_{d}" not in have)
    assert not missing, f"kernels/{family}.cu lacks {missing}"


def test_every_cast_pair_exists():
    have = defined_kernels("copy")
    missing = [f"cast_{s}_{d}" for s in ALL for d in ALL if f"cast_{s}_{d}" not in have]
    assert not missing


_LAUNCHER_FILE = {"elementwise": "elementwise", "reduce": "reduce", "arg_reduce": "reduce", "scan": "scan",
                  "softmax": "softmax", "index": "index", "copy": "copy"}
_COPY_KERNELS = {"copy": "copy_{d}", "cast": "cast_{d}_float32", "copy_into": "copy_{d}", "triangle": "triangle_{d}"}


def _launchers():
    for op, fn in dispatch._tables.get("cupy", {}).items():
        m = re.fullmatch(r"cuda_(arg_reduce|elementwise|reduce|scan|softmax|index|copy|matmul)_(\w+)",
                         getattr(fn, "__name__", ""))
        if m:
            yield op, m.group(1), m.group(2), getattr(fn, "kernel_file", _LAUNCHER_FILE.get(m.group(1)))


def test_registrations_name_existing_kernels():
    found = list(_launchers())
    assert found, "no cupy registrations go through backends/cuda.py launchers"
    bad = []
    ew = {f: _elementwise_contract(f) for f in EW_FILES}
    for op, family, kernel, file in found:
        if family == "matmul":
            continue
        for d in ("float32", "float64"):
            promised = ew[file].get(kernel, F) if family == "elementwise" else F
            if d not in promised:   # e.g. logical_* are bool-only: the ops cast first
                d = promised[0]
            name = _COPY_KERNELS[kernel].format(d=d) if family == "copy" else f"{kernel}_{d}"
            if family == "copy" and kernel not in _COPY_KERNELS:
                bad.append(f"{op}: unknown copy launcher {kernel}")
            elif name not in defined_kernels(file):
                bad.append(f"{op} -> {family}:{name}")
    assert not bad, f"registrations naming missing kernels: {bad}"


# parameter structs match the CUDA layout ---------------------------------------------
_LAYOUTS = {
    "EwParams": (cuda_plan._EW.size, [("n", 0), ("ndim", 8), ("mode", 12), ("scalar_mask", 16), ("a", 24), ("b", 32),
                               ("fs", 40), ("is", 64), ("shape", 88), ("st", 152)]),
    "CopyParams": (cuda_plan._COPY.size, [("n", 0), ("ndim", 8), ("contig", 12), ("shape", 16), ("st", 80)]),
    "IdxParams": (cuda_plan._IDX.size, [("n", 0), ("ndim", 8), ("axis", 12), ("axis_size", 16), ("src_scalar", 24),
                                 ("accumulate", 28), ("fsrc", 32), ("isrc", 40), ("shape", 48), ("st", 112)]),
}


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_param_struct_layout_matches_cuda(tmp_path):
    lines = ['#include "common.cuh"', "#include <cstddef>"]
    for name, (size, fields) in _LAYOUTS.items():
        lines.append(f"static_assert(sizeof({name}) == {size}, \"{name} size\");")
        lines += [f"static_assert(offsetof({name}, {f}) == {o}, \"{name}.{f}\");" for f, o in fields]
    src = tmp_path / "layout.cu"
    src.write_text("\n".join(lines) + "\n")
    r = subprocess.run([NVCC, "-ptx", "-arch=sm_80", "-I", str(KDIR), str(src), "-o", "/dev/null"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_packed_params_roundtrip():
    p = cuda_plan.ew_params(10, 0, 0b101, 1.5, -2.0, [3.0, 0.0, 4.0], [0, 7, 0], (2, 5), [(5, 1), (0, 1), (1, 0)])
    assert p.nbytes == 344 and p.shape == (1,)
    v = cuda_plan._EW.unpack(p.tobytes())
    assert v[:7] == (10, 2, 0, 0b101, 0, 1.5, -2.0)
    assert v[7:10] == (3.0, 0.0, 4.0) and v[10:13] == (0, 7, 0)
    assert v[13:21] == (2, 5, 0, 0, 0, 0, 0, 0)
    st = np.array(v[21:]).reshape(3, 8)
    assert st[0, :2].tolist() == [5, 1] and st[1, :2].tolist() == [0, 1] and st[2, :2].tolist() == [1, 0]
    assert cuda_plan.copy_params(4, 1, (4,), [(1,), (1,)]).nbytes == 208
    assert cuda_plan.idx_params(4, 0, 4, (4,), [(1,)], src_scalar=1, fsrc=2.5).nbytes == 304
    with pytest.raises(RuntimeError, match="at most 8 dims"):
        cuda_plan.idx_params(1, 0, 1, (1,) * 9, [])


def test_kernel_source_inlines_common():
    src = cb.kernel_source("reduce")
    assert '#include "common.cuh"' not in src and "struct EwParams" in src
    from autograd_gpu.backends.kernel_files import kernel_dir
    assert kernel_dir().resolve() == KDIR.resolve()


# planning helpers, checked against NumPy ----------------------------------------------
def _offsets(shape, strides):
    """Element offset of each C-order position of ``shape`` under ``strides``."""
    idx = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), dtype=np.int64)
    return (np.asarray(strides, dtype=np.int64)[:, None] * idx).sum(0) if shape else np.zeros(1, dtype=np.int64)


@pytest.mark.parametrize("shape,out_shape", [((3, 1, 4), (5, 3, 6, 4)), ((), (2, 3)), ((1,), (7,)), ((4,), (2, 4))])
def test_broadcast_strides_matches_numpy(shape, out_shape):
    x = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    b = np.broadcast_to(x, out_shape)
    got = cuda_plan.broadcast_strides(shape, tuple(s // 4 for s in x.strides), out_shape)
    assert tuple(0 if n == 1 else s for s, n in zip(got, out_shape)) == \
        tuple(0 if n == 1 else s // 4 for s, n in zip(b.strides, out_shape))
    with pytest.raises(ValueError):
        cuda_plan.broadcast_strides((3,), (1,), (4,))


@pytest.mark.parametrize("seed", range(6))
def test_collapse_dims_preserves_addressing(seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((4, 1, 6, 5, 3))
    a = base[:, :, ::2, :, :] if seed % 2 else base
    a = a.transpose(0, 1, 2, 4, 3) if seed % 3 == 0 else a
    shape = a.shape
    b = np.broadcast_to(rng.standard_normal(shape[-1]), shape)
    sts = [tuple(s // 8 for s in a.strides), tuple(s // 8 for s in b.strides), cuda_plan.c_strides(shape)]
    cshape, csts = cuda_plan.collapse_dims(shape, sts)
    assert math.prod(cshape) == math.prod(shape) and len(cshape) <= len(shape)
    for st, cst in zip(sts, csts):
        np.testing.assert_array_equal(_offsets(cshape, cst), _offsets(shape, st))
    assert cuda_plan.collapse_dims((2, 3, 4), [cuda_plan.c_strides((2, 3, 4))]) == ((24,), [(1,)])
    assert cuda_plan.collapse_dims((1, 1), [(0, 0)]) == ((), [()])


@pytest.mark.parametrize("shape,axes,transpose", [((4, 5, 6), (1,), False), ((4, 5, 6), (0, 2), False),
                                                   ((4, 5, 6), (2,), False), ((4, 5, 6), (0,), False),
                                                   ((4, 5, 6), (0, 1, 2), False), ((4, 5, 6), (1,), True),
                                                   ((3, 1, 7), (0, 2), False), ((64, 64, 2), (1,), False),
                                                   ((2, 0, 3), (1,), False)])
def test_plan_reduce_matches_numpy(shape, axes, transpose):
    x = np.random.default_rng(0).standard_normal(shape)
    if transpose:
        x = x.transpose(2, 0, 1)
    plan = cuda_plan.plan_reduce(x.shape, tuple(s // 8 for s in x.strides), axes)
    y = np.ascontiguousarray(x.transpose(plan["perm"])) if plan["perm"] is not None else x
    if plan["perm"] is None:
        assert x.flags.c_contiguous
    got = y.reshape(plan["outer"], plan["R"], plan["inner"]).sum(1)
    assert plan["mode"] == ("rows" if plan["inner"] == 1 else "cols")
    np.testing.assert_allclose(got.reshape(-1), x.sum(axis=axes).reshape(-1))


def test_plan_split_and_launch_config():
    assert cuda_plan.plan_split(1000, 10**6, 132) == 10**6            # enough rows: no split
    chunk = cuda_plan.plan_split(1, 10**8, 132)
    assert chunk < 10**8 and -(-10**8 // chunk) <= 4 * 132
    assert cuda_plan.plan_split(1, 100, 132) == 100
    assert cuda_plan.launch_config(0) == (0, 256)
    assert cuda_plan.launch_config(1) == (1, 256)
    assert cuda_plan.launch_config(1023) == (4, 256)
    assert cuda_plan.launch_config(2**20 + 1, per_thread=4) == (1025, 256)
    assert cuda_plan.launch_config(2**33, max_blocks=1000) == (1000, 256)
    assert [cuda_plan.block_size(n) for n in (0, 1, 33, 100, 10**6)] == [32, 32, 64, 128, 256]


def test_dtypes_and_axes_helpers():
    assert cuda_plan.normalize_axes((-1, 0, 2), 3) == (0, 2)
    assert cuda_plan.normalize_axes(None, 2) == (0, 1)
    assert cuda_plan.normalize_axes(1, 3) == (1,)
    i64 = np.dtype(np.int64)
    assert cuda_reduce._reduce_dtypes("sum_fwd", np.dtype(np.int32)) == (i64, i64)
    assert cuda_reduce._reduce_dtypes("sum_fwd", np.dtype(np.float16)) == (np.dtype(np.float16), np.dtype(np.float32))
    assert cuda_reduce._reduce_dtypes("amax_fwd", np.dtype(np.int32)) == (np.dtype(np.int32),) * 2
    assert cb.dtype_name(np.bool_) == "bool" and cb.dtype_name(np.float16) == "float16"
    assert cuda_plan.scalar_slots(2.5, "f") == (2.5, 0) and cuda_plan.scalar_slots(True, "i") == (0.0, 1)
    assert cuda_plan.is_c_contiguous((2, 1, 3), (3, 99, 1)) and not cuda_plan.is_c_contiguous((2, 3), (1, 2))


# call conventions: each registration uses the launcher family whose signature the op's call sites use ----------
def _sections() -> dict:
    """{file stem: section text} of KERNELS.md ("## elementwise.cu — ..." -> "elementwise")."""
    text = (KDIR / "KERNELS.md").read_text()
    out = {}
    for part in text.split("\n## ")[1:]:
        out[part.split()[0].removesuffix(".cu")] = part
    return out


@lru_cache(maxsize=None)
def _conventions() -> dict:
    """{kernel: (launcher family, number of array/positional inputs)} from KERNELS.md.

    Elementwise inputs are the arrays of ``name(x,y)`` (``a``/``b`` are keywords); the other families
    count the positional arguments of their documented signature (``acc=...`` keywords excluded)."""
    conv = {}
    for line in "\n".join(_sections()[f] for f in EW_FILES).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3 or cells[0] in ("kernel", "---"):
            continue
        n = len(re.findall(r"\(([^)]*)\)", cells[0])[-1].split(","))
        if "`_fwd`" in cells[0]:   # "exp log ... relu `_fwd`(x)"
            names = [w + "_fwd" for w in cells[0].split("`")[0].split()]
        else:
            names = re.findall(r"\b([a-z0-9_]+_(?:fwd|bwd)(?:_[a-z]+)?)\b", cells[0])
        for k in names:
            conv[k] = ("elementwise", n)
    secs = _sections()

    def nargs(sig: str) -> int:
        return len([a for a in sig.split(",") if a.strip() and "=" not in a])
    for bullet in secs["reduce"].split("\n- ")[1:]:
        fam, sig = re.search(r"cuda\.(\w+)\(name\)\(([^)]*)\)", bullet).groups()
        for k in re.findall(r"`(\w+_fwd)`", bullet):
            conv[k] = (fam, nargs(sig))
    for k in re.findall(r"`(\w+_(?:fwd|bwd))`", secs["scan"]):
        conv[k] = ("scan", 2)
    for k, sig in re.findall(r"`(\w+_(?:fwd|bwd))\(([^)]*)\)`", secs["softmax"]):
        conv[k] = ("softmax", nargs(sig))
    for k, sig in re.findall(r"^\| (\w+_fwd) \| \(([^)]*)\) \|", secs["index"], re.M):
        conv[k] = ("index", nargs(sig))
    for k, sig in re.findall(r"`(\w+)\(([^)]*)\)`", secs["copy"]):
        conv[k] = ("copy", nargs(sig))
    conv["matmul_fwd"] = conv["matmul"] = ("matmul", 2)
    return conv


def test_conventions_parsed():
    c = _conventions()
    assert c["add_fwd"] == ("elementwise", 2) and c["exp_fwd"] == ("elementwise", 1)
    assert c["where_fwd"] == ("elementwise", 3) and c["maximum_bwd_x"] == ("elementwise", 3)
    assert c["ge_fwd"] == ("elementwise", 2) and c["silu_bwd"] == ("elementwise", 2)
    assert c["sum_fwd"] == ("reduce", 3) and c["max_fwd"] == ("arg_reduce", 3)
    assert c["cumsum_bwd"] == ("scan", 2) and c["softmax_bwd"] == ("softmax", 3)
    assert c["log_softmax_fwd"] == ("softmax", 2)
    assert c["gather_fwd"] == ("index", 3) and c["put_fwd"] == ("index", 4) and c["take_fwd"] == ("index", 2)
    assert c["cast"] == ("copy", 2) and c["copy_into"] == ("copy", 2) and c["triangle"] == ("copy", 3)
    assert set(_elementwise_contract()) <= set(c)


def _launcher_opts(fn) -> dict:
    return getattr(fn, "options", {})


def test_registrations_use_the_family_of_their_call_convention():
    """A launcher registered under op X must be X's kernel, in the family KERNELS.md gives X."""
    conv = _conventions()
    bad = []
    for op, family, kern, _ in _launchers():
        want = conv.get(kern)
        if want is None:
            bad.append(f"{op}: kernel {kern} is not in KERNELS.md")
        elif want[0] != family:
            bad.append(f"{op}: registered cuda.{family}({kern!r}), KERNELS.md says cuda.{want[0]}")
        if op != kern and (op, kern) != ("matmul_fwd", "matmul"):
            bad.append(f"{op}: registered with the launcher of {kern}")
    assert not bad, bad


def test_every_contract_op_with_a_numpy_impl_has_a_cuda_one():
    cu, nphere = dispatch._tables.get("cupy", {}), dispatch._tables.get("numpy", {})
    missing = sorted(k for k in _conventions() if k in nphere and k not in cu)
    assert not missing, f"registered for numpy only: {missing}"


def test_elementwise_output_dtype_option():
    """Comparisons and logic are registered with out="bool"; every other elementwise kernel keeps the dtype."""
    section = "\n".join(_sections()[f] for f in EW_FILES)
    bool_out = {k for f in EW_FILES for k in _elementwise_contract(f)
                for line in section.splitlines()
                if re.search(rf"(?<![a-z_]){k}\b", line) and ("out=bool" in line or "| B |" in line)}
    assert {"eq_fwd", "ge_fwd", "logical_not_fwd", "logical_xor_fwd"} <= bool_out
    bad = []
    for op, family, kern, _ in _launchers():
        if family == "elementwise":
            out = _launcher_opts(dispatch._tables["cupy"][op]).get("out")
            if (out == "bool") != (kern in bool_out):
                bad.append(f"{op}: out={out!r}")
    assert not bad, bad


def _numpy_arity(fn) -> int | None:
    """Positional inputs of a NumPy implementation (ufuncs: nin), the scalar parameters a/b excluded."""
    import inspect
    if isinstance(fn, np.ufunc):
        return fn.nin
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):   # a C function without a signature (np.where, np.matmul)
        return None
    return sum(1 for p in sig.parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("a", "b"))


def test_numpy_and_cuda_implementations_take_the_same_arguments():
    """The op calls one convention for both backends: the NumPy line must take the inputs the
    CUDA family passes (elementwise scalars ``a``/``b`` as keywords with the launcher's defaults)."""
    import inspect
    conv = _conventions()
    np_tab = dispatch._tables["numpy"]
    bad = []
    for op, family, kern, _ in _launchers():
        fn = np_tab.get(op)
        if fn is None or kern not in conv:
            continue
        n = _numpy_arity(fn)
        if n is not None and n != conv[kern][1]:
            bad.append(f"{op}: numpy takes {n} inputs, cuda.{family} passes {conv[kern][1]}")
        if family != "elementwise":
            continue
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        for i, name in enumerate(("a", "b")):
            p = params.get(name)
            if p is not None and p.default is not p.empty:
                want = cuda_elementwise._EW_DEFAULTS.get(op, (0.0, 0.0))[i]
                if p.default != want:
                    bad.append(f"{op}: numpy default {name}={p.default}, CUDA default {want}")
        if op in cuda_elementwise._EW_DEFAULTS and "a" not in params:
            bad.append(f"{op}: CUDA takes a scalar a=, numpy does not")
    assert not bad, bad


# launcher helpers that decide semantics (no CuPy needed) ------------------------------------------------
def test_broadcast_strides_drops_leading_unit_dims_like_numpy_copyto():
    dst = np.zeros((2, 3))
    np.copyto(dst, np.ones((1, 1, 3)))      # the NumPy reference accepts this
    assert cuda_plan.broadcast_strides((1, 1, 3), (3, 3, 1), (2, 3)) == (0, 1)
    assert cuda_plan.broadcast_strides((1, 1), (1, 1), ()) == ()
    with pytest.raises(ValueError):
        cuda_plan.broadcast_strides((2, 1, 3), (3, 3, 1), (2, 3))


def test_scalar_slots_follow_numpy_casts():
    assert cuda_plan.scalar_slots(0.5, "b") == (0.0, 1)          # np.bool_(0.5) is True
    assert cuda_plan.scalar_slots(0.0, "b") == (0.0, 0)
    assert cuda_plan.scalar_slots(2.7, "i") == (0.0, 2) and cuda_plan.scalar_slots(2.7, "u") == (0.0, 2)
    assert cuda_plan.scalar_slots(np.float32(1.5), "f") == (1.5, 0)


def test_narrow_ints_compute_in_a_kernel_dtype():
    defined = defined_kernels("elementwise")
    for dt, wide in cuda_plan._NARROW.items():
        assert f"add_fwd_{cb.dtype_name(wide)}" in defined and f"add_fwd_{cb.dtype_name(dt)}" not in defined
        assert f"cast_{cb.dtype_name(wide)}_{cb.dtype_name(dt)}" in defined_kernels("copy")
