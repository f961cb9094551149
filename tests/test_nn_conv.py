"""Convolutions, F.unfold/F.fold and their layers: values and gradients against PyTorch over many
configurations, double backward, PyTorch's errors, state_dict/repr/init of the layers, CUDA vs CPU.
(The op table rows are in tests/op_db_conv.py.)"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import check_grad, compare_devices, make

F = ag.nn.functional


def _torch():
    return pytest.importorskip("torch")


def _pair_run(torch, fn_name: str, arrays, kwargs, module: bool = False):
    """Run ``fn_name`` of ours and torch's on the same float64 arrays; outputs and all input gradients."""
    res = []
    for mod, fns in ((ag, ag.nn.functional), (torch, torch.nn.functional)):
        ts = [None if a is None else mod.tensor(a, requires_grad=True) for a in arrays]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(fns, fn_name)(*ts, **kwargs)
        go = np.random.default_rng(1).standard_normal(tuple(out.shape))
        out.backward(mod.tensor(go))
        res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts if t is not None])
    for a, b in zip(*res):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


CONV_CASES = [
    # (n, x shape, w shape, bias, kwargs)
    (1, (2, 3, 9), (4, 3, 3), True, {}),
    (1, (2, 4, 9), (6, 2, 4), False, dict(stride=2, padding=2, dilation=2, groups=2)),
    (1, (3, 8), (2, 3, 2), True, dict(padding="same")),
    (1, (2, 3, 8), (2, 3, 4), True, dict(padding="same", dilation=3)),
    (2, (2, 3, 7, 6), (4, 3, 3, 3), True, dict(padding=1)),
    (2, (2, 4, 8, 7), (8, 1, 3, 2), True, dict(stride=(2, 3), padding=(1, 0), groups=4)),
    (2, (2, 3, 7, 6), (4, 3, 2, 2), True, dict(padding="same")),
    (2, (2, 3, 7, 6), (4, 3, 3, 3), False, dict(padding="valid", dilation=(1, 2))),
    (2, (3, 6, 6), (2, 3, 5, 5), True, dict(padding=2, stride=3)),
    (2, (2, 2, 5, 5), (3, 2, 5, 5), True, {}),
    (3, (2, 2, 5, 4, 5), (3, 2, 2, 3, 2), True, dict(stride=(1, 2, 2), padding=1)),
    (3, (2, 4, 4, 4, 4), (4, 2, 3, 3, 3), False, dict(padding="same", groups=2, dilation=(1, 1, 2))),
    (3, (2, 4, 5, 4), (2, 2, 1, 2, 3), True, dict(padding=(0, 1, 1))),
]


@pytest.mark.parametrize("n,xs,ws,bias,kw", CONV_CASES)
def test_conv_matches_torch(n, xs, ws, bias, kw):
    torch = _torch()
    _pair_run(torch, f"conv{n}d", [_rand(*xs), _rand(*ws, seed=1), _rand(ws[0], seed=2) if bias else None], kw)


CT_CASES = [
    (1, (2, 4, 5), (4, 3, 3), True, {}),
    (1, (2, 4, 5), (4, 2, 3), False, dict(stride=3, padding=1, output_padding=2, groups=2, dilation=2)),
    (1, (4, 6), (4, 2, 2), True, dict(stride=2, output_padding=1)),
    (2, (2, 3, 4, 5), (3, 2, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
    (2, (2, 4, 4, 3), (4, 1, 2, 3), True, dict(stride=(1, 2), groups=4, dilation=(2, 1))),
    (2, (2, 4, 4, 3), (4, 3, 3, 3), False, dict(dilation=3, output_padding=2, padding=2)),   # op >= stride
    (2, (3, 3, 4), (3, 2, 2, 2), True, {}),
    (3, (1, 2, 3, 3, 2), (2, 3, 2, 3, 2), True, dict(stride=2, padding=(1, 0, 0), output_padding=(1, 0, 1))),
    (3, (2, 3, 3, 2), (2, 1, 2, 2, 2), True, dict(groups=2)),
]


@pytest.mark.parametrize("n,xs,ws,bias,kw", CT_CASES)
def test_conv_transpose_matches_torch(n, xs, ws, bias, kw):
    torch = _torch()
    groups = kw.get("groups", 1)
    _pair_run(torch, f"conv_transpose{n}d", [_rand(*xs), _rand(*ws, seed=1),
                                             _rand(ws[1] * groups, seed=2) if bias else None], kw)


UNFOLD_CASES = [((2, 3, 6, 5), dict(kernel_size=2)),
                ((2, 2, 7, 6), dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))),
                ((3, 5, 5), dict(kernel_size=(2, 3), stride=2, padding=(0, 1))),
                ((1, 1, 4, 4), dict(kernel_size=4))]


@pytest.mark.parametrize("xs,kw", UNFOLD_CASES)
def test_unfold_fold_match_torch(xs, kw):
    torch = _torch()
    _pair_run(torch, "unfold", [_rand(*xs)], kw)
    cols = torch.nn.functional.unfold(torch.tensor(_rand(*xs)), **kw).numpy()
    _pair_run(torch, "fold", [_rand(*cols.shape, seed=3)], dict(output_size=xs[-2:], **kw))


def test_unfold_fold_adjoint():
    """<unfold(x), y> == <x, fold(y)>: each is the other's transpose."""
    x, y = make((2, 3, 6, 5), requires_grad=False), make((2, 3 * 6, 9), seed=5, requires_grad=False)
    kw = dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=2)
    lhs = (F.unfold(x, **kw) * y).sum().item()
    rhs = (x * F.fold(y, (6, 5), **kw)).sum().item()
    assert math.isclose(lhs, rhs, rel_tol=1e-12)


def test_unfold_fold_double_backward():
    check_grad(lambda x: F.unfold(x, (2, 3), padding=1, stride=(2, 1)), make((2, 2, 4, 4)))
    check_grad(lambda x: F.fold(x, (4, 5), 2, dilation=(1, 2)), make((2, 8, 9)))
    check_grad(lambda x: F.unfold(x, 2) ** 2, make((2, 3, 3)))   # nonlinear: the second order matters


def test_conv_gradgradcheck():
    check_grad(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2) ** 2,
               make((2, 4, 4, 3)), make((4, 2, 2, 2), seed=1), make((4,), seed=2))
    check_grad(lambda x, w: F.conv1d(x, w, padding="same", dilation=2), make((2, 3, 5)), make((2, 3, 2), seed=3))
    check_grad(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, output_padding=1),
               make((1, 2, 3, 2)), make((2, 2, 2, 2), seed=4), make((2,), seed=5))
    check_grad(lambda x, w: F.conv3d(x, w, stride=2, padding=1), make((1, 2, 3, 3, 2)), make((2, 2, 2, 2, 2), seed=6))


def test_exported_names():
    assert ag.conv2d is F.conv2d and ag.conv_transpose3d is F.conv_transpose3d
    assert not hasattr(ag, "fold") and F.unfold is not ag.Tensor.unfold


ERRORS = [
    ("conv2d", (2, 4, 5, 5), (6, 3, 3, 3), {}),
    ("conv2d", (2, 4, 5, 5), (6, 2, 3, 3), dict(groups=3)),
    ("conv2d", (2, 4, 5, 5), (5, 2, 3, 3), dict(groups=2)),
    ("conv2d", (2, 4, 5, 5), (6, 4, 7, 7), {}),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(stride=0)),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(padding=-1)),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(dilation=0)),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(groups=0)),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(stride=2, padding="same")),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(padding="foo")),
    ("conv2d", (5, 5), (6, 4, 3, 3), {}),
    ("conv2d", (2, 4, 5, 5), (4, 3, 3), {}),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(stride=(1, 1, 1))),
    ("conv2d", (2, 4, 5, 5), (6, 4, 3, 3), dict(padding=(1, 2, 3))),
    ("conv2d", (4, 5, 5), (6, 3, 3, 3), {}),
    ("conv2d", (2, 4, 5, 5), (0, 4, 3, 3), {}),
    ("conv1d", (2, 4, 5, 5), (6, 4, 3), {}),
    ("conv_transpose2d", (2, 4, 5, 5), (3, 2, 3, 3), {}),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 2, 3, 3), dict(output_padding=2)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 2, 3, 3), dict(stride=2, output_padding=2)),
    ("conv_transpose1d", (2, 4, 5), (4, 2, 3), dict(output_padding=2)),
    ("conv_transpose3d", (2, 4, 5, 5, 5), (4, 2, 3, 3, 3), dict(output_padding=2)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 2, 3, 3), dict(groups=3)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 2, 3, 3), dict(stride=0)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 2, 3, 3), dict(output_padding=-1)),
    ("conv_transpose2d", (5, 5), (4, 2, 3, 3), {}),
    ("unfold", (2, 4, 5, 5), None, dict(kernel_size=7)),
    ("unfold", (5, 5), None, dict(kernel_size=2)),
    ("unfold", (2, 3, 4, 5, 6), None, dict(kernel_size=2)),
    ("unfold", (3, 5, 5), None, dict(kernel_size=(2, 3, 4))),
    ("unfold", (2, 4, 5, 5), None, dict(kernel_size=2, stride=0)),
    ("unfold", (2, 4, 5, 5), None, dict(kernel_size=0)),
    ("unfold", (2, 4, 5, 5), None, dict(kernel_size=2, padding=-1)),
    ("unfold", (2, 4, 5, 5), None, dict(kernel_size=2, dilation=0)),
    ("fold", (2, 12, 15), None, dict(output_size=(5, 5), kernel_size=2)),
    ("fold", (2, 13, 16), None, dict(output_size=(5, 5), kernel_size=2)),
    ("fold", (2, 12, 16, 1), None, dict(output_size=(5, 5), kernel_size=2)),
    ("fold", (12,), None, dict(output_size=5, kernel_size=2)),
    ("fold", (2, 12, 16), None, dict(output_size=(5, 5, 5), kernel_size=2)),
]


@pytest.mark.parametrize("fn,xs,ws,kw", ERRORS)
def test_errors_match_torch(fn, xs, ws, kw):
    torch = _torch()
    got = []
    for mod in (torch, ag):
        args = [mod.zeros(xs)] + ([] if ws is None else [mod.zeros(ws)])
        with pytest.raises(Exception) as info:
            getattr(mod.nn.functional, fn)(*args, **kw)
        got.append((type(info.value), str(info.value).split("\n")[0]))
    assert got[1] == got[0]


def test_dtype_errors_match_torch():
    torch = _torch()
    for xd, wd, bd in (("float64", "float32", None), ("float32", "float64", None), ("float32", "float32", "float64")):
        got = []
        for mod in (torch, ag):
            args = [mod.zeros(2, 3, 4, 4, dtype=getattr(mod, xd)), mod.zeros(2, 3, 3, 3, dtype=getattr(mod, wd))]
            args.append(None if bd is None else mod.zeros(2, dtype=getattr(mod, bd)))
            with pytest.raises(RuntimeError) as info:
                mod.nn.functional.conv2d(*args)
            got.append(str(info.value))
        assert got[1] == got[0]


# layers ---------------------------------------------------------------------------------------------
LAYERS = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1)),
    ("Conv1d", (4, 6, 2), dict(padding="same", padding_mode="reflect", bias=False)),
    ("Conv2d", (4, 6, 3), dict(groups=2, dilation=2, padding=2, padding_mode="circular")),
    ("Conv2d", (3, 4, (3, 2)), dict(padding=(1, 2), padding_mode="replicate")),
    ("Conv2d", (3, 4, 3), dict(padding="valid")),
    ("Conv3d", (2, 4, (1, 2, 3)), dict(stride=(1, 2, 1), padding=1, padding_mode="reflect")),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=2, output_padding=1, bias=False)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)),
    ("ConvTranspose3d", (2, 4, 2), dict(stride=(1, 2, 2), dilation=(2, 1, 1))),
]


@pytest.mark.parametrize("name,args,kw", LAYERS)
def test_layers_match_torch(name, args, kw):
    torch = _torch()
    theirs = getattr(torch.nn, name)(*args, **kw).double()
    ours = getattr(ag.nn, name)(*args, **kw, dtype=ag.float64)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict({k: ag.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    n = int(name[-2])
    for shape in ((2, args[0]) + (6,) * n, (args[0],) + (5,) * n):   # batched and unbatched
        x = _rand(*shape)
        xa, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yt = ours(xa), theirs(xt)
        np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        g = _rand(*yt.shape, seed=9)
        ya.backward(ag.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-9, err_msg=k)
        ours.zero_grad()
        theirs.zero_grad()


def test_layer_init_and_shapes():
    ag.manual_seed(0)
    c = ag.nn.Conv2d(6, 8, (3, 2), groups=2)
    assert tuple(c.weight.shape) == (8, 3, 3, 2) and tuple(c.bias.shape) == (8,)
    bound = 1 / math.sqrt(3 * 3 * 2)
    for p in (c.weight, c.bias):
        v = p.detach().numpy()
        assert v.min() >= -bound and v.max() <= bound and v.max() - v.min() > bound
    t = ag.nn.ConvTranspose2d(6, 8, 3, groups=2)
    assert tuple(t.weight.shape) == (6, 4, 3, 3)
    bound = 1 / math.sqrt(4 * 9)   # fan_in from weight dim 1, as PyTorch
    assert np.abs(t.weight.detach().numpy()).max() <= bound and np.abs(t.bias.detach().numpy()).max() <= bound
    assert ag.nn.Conv1d(2, 3, 2, bias=False).bias is None


def test_layer_constructor_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        ag.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        ag.nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        ag.nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        ag.nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        ag.nn.Conv1d(4, 4, 3, padding="full")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        ag.nn.Conv1d(4, 4, 3, padding_mode="wrap")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        ag.nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")


def test_conv_transpose_output_size():
    torch = _torch()
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    ours = ag.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=ag.float64)
    ours.load_state_dict({k: ag.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = _rand(1, 3, 4, 5)
    for size in ((7, 9), (8, 10), (1, 2, 8, 9)):
        np.testing.assert_allclose(ours(ag.tensor(x), output_size=size).detach().numpy(),
                                   theirs(torch.tensor(x), output_size=size).detach().numpy(), rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match=r"requested an output size of \[10, 9\], but valid sizes range from "
                                         r"\[7, 9\] to \[8, 10\]"):
        ours(ag.tensor(x), output_size=(10, 9))
    with pytest.raises(ValueError, match="ConvTranspose2D: for 4D input, output_size must have 2 or 4 elements"):
        ours(ag.tensor(x), output_size=(10, 9, 9))


def test_fold_layers():
    torch = _torch()
    for ours, theirs in ((ag.nn.Unfold((2, 3), padding=1), torch.nn.Unfold((2, 3), padding=1)),
                         (ag.nn.Fold((4, 5), 2, stride=(1, 2)), torch.nn.Fold((4, 5), 2, stride=(1, 2)))):
        assert repr(ours) == repr(theirs)
    x = _rand(2, 3, 4, 5)
    np.testing.assert_allclose(ag.nn.Unfold(2)(ag.tensor(x)).numpy(), torch.nn.Unfold(2)(torch.tensor(x)).numpy())
    y = _rand(2, 12, 6)
    np.testing.assert_allclose(ag.nn.Fold((3, 4), 2)(ag.tensor(y)).numpy(),
                               torch.nn.Fold((3, 4), 2)(torch.tensor(y)).numpy())


def test_small_cnn_trains():
    """Two 3x3 convs + pooling-free head: a few SGD steps lower the loss (the benchmark's shape, tiny)."""
    ag.manual_seed(0)
    net = ag.nn.Sequential(ag.nn.Conv2d(1, 4, 3, padding=1), ag.nn.ReLU(), ag.nn.Conv2d(4, 8, 3, stride=2),
                           ag.nn.ReLU(), ag.nn.Flatten(), ag.nn.Linear(8 * 3 * 3, 3))
    x = ag.randn(6, 1, 8, 8)
    target = ag.tensor([0, 1, 2, 0, 1, 2])
    losses = []
    for _ in range(5):
        loss = F.cross_entropy(net(x), target)
        net.zero_grad()
        loss.backward()
        with ag.no_grad():
            for p in net.parameters():
                p -= 0.2 * p.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# CUDA ----------------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64, ag.float16])
def test_cuda_matches_cpu(dtype):
    rng = np.random.default_rng(0)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)   # noqa: E731
    compare_devices(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2),
                    r(2, 4, 7, 6), r(6, 2, 3, 2), r(6), dtype=dtype)
    compare_devices(lambda x, w: F.conv1d(x, w, padding="same", dilation=2), r(2, 3, 9), r(4, 3, 2), dtype=dtype)
    compare_devices(lambda x, w, b: F.conv3d(x, w, b, stride=2), r(1, 2, 5, 4, 5), r(3, 2, 2, 3, 2), r(3), dtype=dtype)
    compare_devices(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                    r(2, 3, 4, 5), r(3, 2, 3, 3), r(2), dtype=dtype)
    compare_devices(lambda x, w: F.conv_transpose1d(x, w, dilation=3, output_padding=2), r(2, 4, 5), r(4, 3, 3),
                    dtype=dtype)
    compare_devices(lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2), r(2, 3, 6, 7), dtype=dtype)
    compare_devices(lambda x: F.fold(x, (5, 6), 2, stride=(1, 2)), r(2, 12, 12), dtype=dtype)


# the CUDA launcher's parameter struct, checked without a GPU -------------------------------------------
def test_geom_params_packing():
    from autograd_gpu.backends import cuda_conv
    g = cuda_conv.geom_params(2, 3, (7, 6), (3, 2), (4, 5), (2, 1), (1, 0), (1, 2), False)
    v = cuda_conv._GEOM.unpack(g.tobytes())
    assert g.nbytes == 168 and g.shape == (1,)
    assert v == (2, 3, 1, 7, 6, 1, 3, 2, 1, 4, 5, 1, 2, 1, 0, 1, 0, 1, 1, 2, 0)


def test_geom_struct_layout_matches_cuda(tmp_path):
    import shutil
    import subprocess
    from pathlib import Path
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not on PATH")
    kdir = Path(__file__).resolve().parent.parent / "kernels"
    src = tmp_path / "geom.cu"
    src.write_text('#include "conv.cu"\n#include <cstddef>\nstatic_assert(sizeof(ConvGeom) == 168, "size");\n'
                   'static_assert(offsetof(ConvGeom, in) == 16 && offsetof(ConvGeom, dil) == 136 && '
                   'offsetof(ConvGeom, batch_first) == 160, "offsets");\n')
    r = subprocess.run([nvcc, "-ptx", "-arch=sm_80", "-I", str(kdir), str(src), "-o", "/dev/null"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
