"""Tests generated from the op table (``op_db.OP_DB``): each runs for the rows it applies to.

forward vs NumPy (values, shape, dtype; every dtype of the row; inputs left unchanged; the method
form agrees; views share memory), vs PyTorch (values, dtype and float64 gradients) where torch is
installed, nan/inf inputs, gradcheck/gradgradcheck in float64, non-contiguous inputs, broadcasting,
0-d and empty inputs, CUDA vs CPU, random ops under ``manual_seed``, and that the table covers
exactly the exported ops.
"""
from __future__ import annotations

import inspect
import warnings
import zlib

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops import registry
from helpers import TOL, assert_close, check_grad, compare_devices
from op_db import OP_DB, SAME, OpInfo, walk

F64 = ag.float64


# running a row ---------------------------------------------------------------------------------------
def params(test: str, applies=lambda op: True, dtypes=False) -> list:
    """pytest params over the rows ``applies`` accepts (and their dtypes), with the row's skip/xfail marks."""
    out = []
    for op in OP_DB:
        if not applies(op):
            continue
        for dt in (op.dtypes if dtypes else (None,)):
            marks = []
            for key in (test, f"{test}:{dt.name}" if dt else None):
                if key in op.skips:
                    marks.append(pytest.mark.skip(reason=op.skips[key]))
                if key in op.xfails:
                    marks.append(pytest.mark.xfail(reason=op.xfails[key], strict=True))
            out.append(pytest.param(op, *([dt] if dt else []), marks=marks,
                                    id=f"{op.name}-{dt.name}" if dt else op.name))
    return out


def main_dtype(op: OpInfo):
    """float64 where the row has it (gradients), else its first dtype."""
    return F64 if F64 in op.dtypes else op.dtypes[0]


def samples(op: OpInfo, dtype=F64, case: str = "main") -> list:
    out = op.sample_inputs(np.random.default_rng(zlib.crc32(op.name.encode())), dtype, case)
    assert out, f"{op.name}: no {case} samples"
    return out


def leaves(obj, leaf_type) -> list:
    found = []
    walk(obj, leaf_type, found.append)
    return found


def noncontiguous(a: np.ndarray) -> ag.Tensor:
    """A strided view with ``a``'s values (every other element along the first dim longer than 1)."""
    d = next(i for i, s in enumerate(a.shape) if s > 1)
    big = np.zeros(a.shape[:d] + (2 * a.shape[d],) + a.shape[d + 1:], a.dtype)
    sl = (slice(None),) * d + (slice(None, None, 2),)
    big[sl] = a
    t = ag.from_numpy(big)[sl].detach()
    assert not t.is_contiguous()
    return t


def to_tensors(op: OpInfo, sample, *, grad=False, device="cpu", strided=False):
    """The sample's (args, kwargs) with arrays made tensors (float ones requiring grad when ``grad``)."""
    if op.raw_args:
        return sample

    def tensor(a):
        t = noncontiguous(a) if strided and a.size > 1 else ag.tensor(a)
        t = t.to(device) if device != "cpu" else t
        return t.requires_grad_(grad and a.dtype.kind == "f")
    return walk(sample, np.ndarray, tensor)


def to_torch(torch, op: OpInfo, sample, grad=False):
    def tensor(a):
        return torch.tensor(a).requires_grad_(grad and a.dtype.kind == "f")
    args, kwargs = sample if op.raw_args else walk(sample, np.ndarray, tensor)
    return walk((args, kwargs), ag.dtype, lambda d: getattr(torch, d.name))


def torch_fn(torch, op: OpInfo):
    if op.torch == SAME:
        return op.call
    if "." in op.torch:
        fn = torch
        for part in op.torch.split("."):
            fn = getattr(fn, part)
        return fn
    for ns in ((torch.nn.functional, torch, torch.Tensor) if op.name in registry.NN_FUNCTIONAL and
               op.name not in registry.FUNCTIONS else (torch, torch.nn.functional, torch.Tensor)):
        if hasattr(ns, op.torch):
            return getattr(ns, op.torch)
    raise AssertionError(f"torch has no {op.torch}")


def invoke(op: OpInfo, fn, args, kwargs):
    """Call ``fn``; an in-place op gets a clone of its first argument and must return that clone."""
    if op.inplace_of:
        target = args[0].clone()
        out = fn(target, *args[1:], **kwargs)
        assert out is target, f"{op.name} did not return self"
        return out
    return fn(*args, **kwargs)


def host(out):
    """Outputs (ours or torch's) as NumPy: tensors, tuples of them, or plain values."""
    if hasattr(out, "detach"):
        return out.detach().cpu().numpy()
    if isinstance(out, (tuple, list)):
        return [host(o) for o in out]
    return out


def assert_matches(actual, expected, op: OpInfo, values: bool = True, what: str = "") -> None:
    """Same structure, shape and dtype; values equal (integers, bools) or close (floats)."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), f"{what}: {actual} vs {expected}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_matches(a, e, op, values, f"{what}[{i}]")
        return
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != {e.dtype}"
    if not values:
        return
    if e.dtype.kind in "biu":
        np.testing.assert_array_equal(a, e, err_msg=what)
    else:
        assert_close(a, e, *op.tol.get(e.dtype.name, TOL[e.dtype.name]))


def float_outputs(out) -> list:
    outs = out if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if hasattr(o, "requires_grad") and o.requires_grad]


def backward(mod, out, inputs, seed=0):
    """Gradients of every float output (weighted by fixed random grad_outputs) w.r.t. ``inputs``."""
    outs = float_outputs(out)
    rng = np.random.default_rng(seed)
    gos = [mod.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype) for o in outs]
    grads = mod.autograd.grad(outs, inputs, gos, allow_unused=True)
    return [np.zeros(tuple(t.shape)) if g is None else host(g) for g, t in zip(grads, inputs)]


def shaped_grads(out, inputs) -> list:
    """``backward`` of ours, checking every gradient has its input's shape."""
    grads = backward(ag, out, inputs)
    assert [g.shape for g in grads] == [tuple(t.shape) for t in inputs], "gradient shapes"
    return grads


def grad_closure(op: OpInfo, sample, strided=False):
    """(fn, inputs) for gradcheck: ``fn(*inputs)`` runs the op with those tensors in the float slots."""
    args, kwargs = to_tensors(op, sample, grad=True, strided=strided)
    inputs = [t for t in leaves((args, kwargs), ag.Tensor) if t.requires_grad]

    def fn(*ts):
        it = iter(ts)
        a, k = walk((args, kwargs), ag.Tensor, lambda t: next(it) if t.requires_grad else t)
        return invoke(op, op.op, a, k)
    return fn, inputs


def reference(op: OpInfo, sample):
    """The row's NumPy reference on the sample (NumPy's warnings on inf/nan results silenced)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return op.ref(*sample[0], **sample[1])


def run_forward(op: OpInfo, dtype, case: str) -> None:
    """Every sample of ``case`` against the reference (or the row's check); inputs left unchanged."""
    for sample in samples(op, dtype, case):
        args, kwargs = to_tensors(op, sample)
        out = invoke(op, op.op, args, kwargs)
        got = host(out)
        if op.check:
            op.check(got, *sample[0], **sample[1])
        if op.ref is not None:
            assert_matches(got, reference(op, sample), op, op.compare_values, f"{op.name}{sample}")
        if kwargs.get("requires_grad"):
            assert out.requires_grad and out.is_leaf
        for t, a in zip(leaves((args, kwargs), ag.Tensor), leaves(sample, np.ndarray)):
            np.testing.assert_array_equal(t.numpy(), a, err_msg=f"{op.name} modified an input")
        if op.is_view and case == "main":
            first = args[0] if isinstance(args[0], np.ndarray) else args[0].numpy()
            assert np.shares_memory(host(out)[0] if isinstance(out, tuple) else out.numpy(), first), \
                f"{op.name}: output is not a view of its input"
        if args and isinstance(args[0], ag.Tensor) and op.name in registry.METHODS and op.call is None:
            as_method = invoke(op, lambda t, *a, **k: getattr(t, op.name)(*a, **k), args, kwargs)
            assert_matches(host(as_method), got, op, what=f"Tensor.{op.name}")


# 1. forward against NumPy ---------------------------------------------------------------------------
@pytest.mark.parametrize("op,dtype", params("forward", dtypes=True))
def test_forward(op, dtype):
    run_forward(op, dtype, "main")


# 2. against PyTorch ----------------------------------------------------------------------------------
@pytest.mark.parametrize("op,dtype", params("torch", lambda op: op.torch is not None, dtypes=True))
def test_matches_torch(op, dtype):
    torch = pytest.importorskip("torch")
    compare_with_torch(torch, op, dtype, "main", with_grad=op.grad > 0 and op.torch_grad and dtype is F64)


def compare_with_torch(torch, op, dtype, case, with_grad=False):
    for sample in samples(op, dtype, case):
        args, kwargs = to_tensors(op, sample, grad=with_grad)
        targs, tkwargs = to_torch(torch, op, sample, grad=with_grad)
        ours, theirs = invoke(op, op.op, args, kwargs), invoke(op, torch_fn(torch, op), targs, tkwargs)
        assert_matches(host(ours), host(theirs), op, op.compare_values, f"{op.name}{sample} vs torch")
        if with_grad and float_outputs(theirs):
            ins = [t for t in leaves((args, kwargs), ag.Tensor) if t.requires_grad]
            tins = [t for t in leaves((targs, tkwargs), torch.Tensor) if t.requires_grad]
            assert_matches(backward(ag, ours, ins), backward(torch, theirs, tins), op, what=f"{op.name} grads")


# nan and inf inputs: against NumPy, and PyTorch where installed -----------------------------------------
@pytest.mark.parametrize("op,dtype", [p for p in params("special", lambda op: "special" in op.sample_inputs,
                                                        dtypes=True) if p.values[1].is_floating_point])
def test_special_values(op, dtype):
    run_forward(op, dtype, "special")
    try:
        import torch
    except ImportError:
        return
    compare_with_torch(torch, op, dtype, "special")


# 3. gradcheck / gradgradcheck in float64 --------------------------------------------------------------
@pytest.mark.parametrize("op", params("grad", lambda op: op.grad > 0))
def test_gradcheck(op):
    checked = 0
    for sample in samples(op, main_dtype(op)):
        fn, inputs = grad_closure(op, sample)
        if inputs:
            check_grad(fn, *inputs, second_order=op.grad >= 2)
            checked += 1
    assert checked, f"{op.name}: no sample has a float input"


# 4. non-contiguous inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize("op", params("noncontig", lambda op: op.supports_noncontiguous))
def test_noncontiguous(op):
    compared = 0
    for sample in samples(op, main_dtype(op)):
        if not any(a.size > 1 for a in leaves(sample, np.ndarray)):
            continue
        results = []
        for strided in (False, True):
            fn, inputs = grad_closure(op, sample, strided=strided)
            out = fn(*inputs)
            results.append((host(out), backward(ag, out, inputs) if inputs and float_outputs(out) else []))
        (out_c, grad_c), (out_s, grad_s) = results
        assert_matches(out_s, out_c, op, what=f"{op.name}{sample} strided")
        assert_matches(grad_s, grad_c, op, what=f"{op.name}{sample} strided grads")
        compared += 1
    assert compared, f"{op.name}: no sample with an input of more than one element"


# 5. broadcasting -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", params("broadcast", lambda op: op.supports_broadcast))
def test_broadcast(op):
    for sample in samples(op, main_dtype(op), "broadcast"):
        shapes = [a.shape for a in leaves(sample, np.ndarray)]
        expected = reference(op, sample)
        assert np.shape(expected) == np.broadcast_shapes(*shapes)
        fn, inputs = grad_closure(op, sample)
        out = fn(*inputs)
        assert_matches(host(out), expected, op, what=f"{op.name}{sample}")
        if op.grad and inputs:
            shaped_grads(out, inputs)
            check_grad(fn, *inputs, second_order=False)


# 6. 0-d and empty inputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("op,case", [pytest.param(*p.values, case, marks=p.marks, id=f"{p.id}-{case}")
                                     for case in ("0d", "empty") for p in params(case, lambda op, c=case: c in
                                                                                 op.sample_inputs)])
def test_zero_dim_and_empty(op, case):
    for dtype in op.dtypes:
        run_forward(op, dtype, case)
    for sample in samples(op, main_dtype(op), case) if op.grad else ():
        fn, inputs = grad_closure(op, sample)
        out = fn(*inputs)
        if not (inputs and float_outputs(out)):
            continue
        if case == "0d":
            check_grad(fn, *inputs, second_order=False)
            continue
        grads = shaped_grads(out, inputs)
        if all(o.numel() == 0 for o in float_outputs(out)):
            assert not any(g.any() for g in grads), f"{op.name}: nonzero gradient from an empty output"


# 7. CUDA against CPU -----------------------------------------------------------------------------------
def _runs_on_cuda(op: OpInfo) -> bool:
    """Ops on tensors; creation ops through their device= argument."""
    try:
        return not op.is_creation or "device" in inspect.signature(op.op).parameters
    except AttributeError:   # not exported (any more): test_table_covers_exported_ops says so
        return False


@pytest.mark.cuda
@pytest.mark.parametrize("op,dtype", [p for p in params("cuda", _runs_on_cuda, dtypes=True)
                                      if p.values[1].is_floating_point or p.values[1] is p.values[0].dtypes[0]])
def test_cuda_matches_cpu(op, dtype):
    for sample in samples(op, dtype):
        if op.is_creation:
            args, kwargs = to_tensors(op, sample)
            cpu = host(op.op(*args, **kwargs))
            dev = op.op(*args, **kwargs, device="cuda")
            assert all(t.device.type == "cuda" for t in leaves(dev, ag.Tensor))
            assert_matches(host(dev), cpu, op, op.compare_values, f"{op.name}{sample} cuda")
            continue

        def fn(*ts):
            it = iter(ts)
            a, k = walk(sample, np.ndarray, lambda _: next(it))
            return invoke(op, op.op, a, k)
        compare_devices(fn, *leaves(sample, np.ndarray), dtype=dtype if dtype.is_floating_point else ag.float32,
                        grad=op.grad > 0)


# random ops: reproducible under manual_seed ------------------------------------------------------------
@pytest.mark.parametrize("op", params("random", lambda op: op.is_random))
def test_random_reproducible(op):
    args, kwargs = samples(op, op.dtypes[0])[0]   # the first sample is big enough to differ between seeds
    draws = []
    for seed in (11, 11, 12):
        ag.manual_seed(seed)
        draws.append(host(op.op(*args, **kwargs)))
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2]), f"{op.name}: seeds 11 and 12 gave the same numbers"
    assert ag.initial_seed() == 12


# 8. the table covers exactly the exported ops -------------------------------------------------------------
def test_table_covers_exported_ops():
    names = [op.name for op in OP_DB]
    exported = set(registry.exported())
    missing = sorted(exported - set(names))
    unknown = sorted(set(names) - exported)
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not missing, f"exported ops without a row in tests/op_db.py: {missing}"
    assert not unknown, f"rows in tests/op_db.py for ops that are not exported: {unknown}"
    assert not twice, f"ops with more than one row: {twice}"
