"""Normalisation layers: LayerNorm, RMSNorm, BatchNorm1d/2d/3d, GroupNorm, InstanceNorm against
PyTorch (identical weights through state_dict): values, gradients, running-stat trajectories, eval
mode, state_dict keys and loading, errors; float64 gradcheck/gradgradcheck; float16 statistics;
CUDA vs CPU. The op-table rows (tests/op_db_norm.py) cover the functional forms' basics."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn
from autograd_gpu.autograd import gradcheck, gradgradcheck

F = nn.functional
RNG = np.random.default_rng(12)


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _pair(name, *args, **kwargs):
    """(ours, torch's) module with torch's (perturbed) weights and buffers loaded into ours."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.tensor(RNG.standard_normal(tuple(p.shape)) * 0.3))
    ours = getattr(nn, name)(*args, **kwargs).to(ag.float64)
    ours.load_state_dict({k: ag.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _step(ours, theirs, x):
    """Forward and backward of both with the same input and output gradient: (y, y_t, x, x_t)."""
    torch = pytest.importorskip("torch")
    xa, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = ours(xa), theirs(xt)
    g = _x(*yt.shape)
    ya.backward(ag.tensor(g))
    yt.backward(torch.tensor(g))
    return ya, yt, xa, xt


def _close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def _compare(ours, theirs, x, tol=1e-10):
    ya, yt, xa, xt = _step(ours, theirs, x)
    _close(ya.detach().numpy(), yt.detach().numpy(), tol)
    _close(xa.grad.numpy(), xt.grad.numpy(), tol)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad.numpy(), tp[name].grad.numpy(), tol)
    tb = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        _close(b.numpy(), tb[name].numpy(), tol)
    return ya


# modules vs torch ----------------------------------------------------------------------------------
MODULES = [
    ("LayerNorm", (5,), {}, (3, 5)), ("LayerNorm", ((3, 4),), {"eps": 1e-3}, (2, 3, 4)),
    ("LayerNorm", (4,), {"elementwise_affine": False}, (2, 3, 4)), ("LayerNorm", (4,), {"bias": False}, (3, 4)),
    ("RMSNorm", (5,), {}, (3, 5)), ("RMSNorm", ([2, 3],), {"eps": 1e-4}, (2, 2, 3)),
    ("RMSNorm", (3,), {"elementwise_affine": False}, (4, 3)),
    ("GroupNorm", (2, 6), {}, (3, 6, 4)), ("GroupNorm", (3, 3), {"affine": False}, (2, 3, 2, 2)),
    ("GroupNorm", (1, 4), {"eps": 1e-2, "bias": False}, (2, 4)),
    ("BatchNorm1d", (3,), {}, (4, 3)), ("BatchNorm1d", (3,), {"affine": False}, (2, 3, 5)),
    ("BatchNorm2d", (2,), {"momentum": 0.5, "eps": 1e-3}, (3, 2, 2, 3)),
    ("BatchNorm3d", (2,), {"track_running_stats": False}, (2, 2, 2, 1, 3)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)), ("InstanceNorm2d", (2,), {"affine": True}, (2, 2, 3, 3)),
    ("InstanceNorm1d", (3,), {"affine": True, "track_running_stats": True}, (2, 3, 4)),
    ("InstanceNorm3d", (2,), {}, (2, 2, 2, 2, 2)), ("InstanceNorm2d", (2,), {}, (2, 3, 3)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", MODULES, ids=[f"{m[0]}{m[1]}{m[2]}" for m in MODULES])
def test_module_matches_torch(name, args, kwargs, shape):
    ours, theirs = _pair(name, *args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for _ in range(3):   # train mode: several steps, so running stats follow their trajectory
        _compare(ours, theirs, _x(*shape))
    ours.eval(), theirs.eval()
    _compare(ours, theirs, _x(*shape))


@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
def test_batchnorm_running_stats_trajectory(momentum):
    ours, theirs = _pair("BatchNorm2d", 3, momentum=momentum)
    for step in range(4):
        _compare(ours, theirs, _x(2 + step, 3, 2, 2))
        assert ours.num_batches_tracked.item() == step + 1 and ours.num_batches_tracked.dtype == ag.int64
    ours.eval(), theirs.eval()
    _compare(ours, theirs, _x(2, 3, 2, 2))
    assert ours.num_batches_tracked.item() == 4


def test_functional_batch_norm_updates_running_stats_in_place():
    torch = pytest.importorskip("torch")
    rm, rv = ag.zeros(3, dtype=ag.float64), ag.ones(3, dtype=ag.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    ids = (id(rm), id(rv))
    for _ in range(3):
        x = _x(5, 3)
        y = F.batch_norm(ag.tensor(x), rm, rv, training=True, momentum=0.3)
        ty = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
        _close(y.numpy(), ty.numpy())
    _close(rm.numpy(), trm.numpy())
    _close(rv.numpy(), trv.numpy())   # unbiased variance
    assert (id(rm), id(rv)) == ids
    x = _x(4, 3)
    _close(F.batch_norm(ag.tensor(x), rm, rv).numpy(), torch.nn.functional.batch_norm(torch.tensor(x), trm, trv).numpy())


def test_load_torch_state_dict_and_keys():
    torch = pytest.importorskip("torch")
    t = torch.nn.BatchNorm1d(4)
    t(torch.randn(8, 4))
    m = nn.BatchNorm1d(4)
    assert m.load_state_dict({k: ag.tensor(v.numpy()) for k, v in t.state_dict().items()}).missing_keys == []
    _close(m.running_var.numpy(), t.running_var.numpy(), 1e-7)
    assert m.num_batches_tracked.item() == 1
    assert list(nn.BatchNorm2d(3, affine=False, track_running_stats=False).state_dict()) == []
    assert list(nn.BatchNorm1d(3, bias=False).state_dict()) == ["weight", "running_mean", "running_var",
                                                               "num_batches_tracked"]
    assert list(nn.LayerNorm(3, bias=False).state_dict()) == ["weight"]
    assert list(nn.InstanceNorm2d(3).state_dict()) == []
    assert [n for n, _ in nn.GroupNorm(2, 4).named_parameters()] == ["weight", "bias"]


def test_init_and_flags():
    bn = nn.BatchNorm1d(3)
    assert bn.weight.tolist() == [1, 1, 1] and bn.bias.tolist() == [0, 0, 0]
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    assert nn.LayerNorm([2, 3]).normalized_shape == (2, 3) and nn.RMSNorm(4).normalized_shape == (4,)
    ln = nn.LayerNorm(3, dtype=ag.float64)
    assert ln.weight.dtype == ag.float64 and ln.weight.requires_grad
    bn = nn.BatchNorm1d(2, track_running_stats=False).eval()   # no buffers: batch statistics in eval too
    y = bn(ag.tensor([[1.0, 2.0], [3.0, 6.0]]))
    _close(y.detach().numpy(), [[-1, -1], [1, 1]], 1e-4)


# gradients -----------------------------------------------------------------------------------------
def _leaf(*shape):
    return ag.tensor(_x(*shape), requires_grad=True)


GRAD_CASES = [
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (2, 3), w, b), (_leaf(2, 2, 3), _leaf(2, 3), _leaf(2, 3))),
    ("layer_norm_no_affine", lambda x: F.layer_norm(x, (4,), eps=0.1), (_leaf(3, 4),)),
    ("rms_norm", lambda x, w: F.rms_norm(x, (3,), w), (_leaf(2, 3), _leaf(3))),
    ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (_leaf(3, 2, 2), _leaf(2), _leaf(2))),
    ("batch_norm_eval", lambda x, w, b: F.batch_norm(x, ag.tensor([0.2, -0.1], dtype=ag.float64),
                                                     ag.tensor([0.5, 2.0], dtype=ag.float64), w, b, False),
     (_leaf(3, 2), _leaf(2), _leaf(2))),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), (_leaf(2, 4, 3), _leaf(4), _leaf(4))),
    ("instance_norm", lambda x, w: F.instance_norm(x, weight=w), (_leaf(2, 2, 3), _leaf(2))),
]


@pytest.mark.parametrize("name,fn,inputs", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck_and_gradgradcheck(name, fn, inputs):
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_one_fused_node_each():
    x = _leaf(2, 4, 3)
    assert type(F.layer_norm(x, (3,), _leaf(3), _leaf(3)).grad_fn).__name__ == "NativeLayerNormBackward0"
    assert type(F.batch_norm(x, None, None, training=True).grad_fn).__name__ == "NativeBatchNormBackward0"
    assert type(F.group_norm(x, 2).grad_fn).__name__ == "NativeGroupNormBackward0"


def test_float16_statistics_in_float32():
    x = _x(4, 64, dtype=np.float16) * 3 + 100   # a large mean: float16 statistics would lose it
    t = ag.tensor(x, requires_grad=True)
    y = F.layer_norm(t, (64,))
    assert y.dtype == ag.float16
    assert y.grad_fn.stats[0].dtype == np.float32 and y.grad_fn.stats[1].dtype == np.float32
    ref = F.layer_norm(ag.tensor(x.astype(np.float32)), (64,)).numpy()
    np.testing.assert_allclose(y.detach().numpy().astype(np.float32), ref, atol=5e-3)
    y.sum().backward()
    assert t.grad.dtype == ag.float16
    b = F.batch_norm(ag.tensor(x.reshape(8, 4, 8)), None, None, training=True)
    ref = F.batch_norm(ag.tensor(x.reshape(8, 4, 8).astype(np.float32)), None, None, training=True).numpy()
    np.testing.assert_allclose(b.numpy().astype(np.float32), ref, atol=5e-3)


# errors --------------------------------------------------------------------------------------------
def _errors(lib):
    Fn, mod = lib.nn.functional, lib.nn
    x3 = lib.ones(2, 3, 4)
    return [
        lambda: Fn.layer_norm(x3, (5,)),
        lambda: Fn.layer_norm(x3, (4,), lib.ones(5)),
        lambda: Fn.layer_norm(x3, (4,), None, lib.ones(5)),
        lambda: Fn.layer_norm(x3, (2, 3, 4, 5)),
        lambda: Fn.rms_norm(x3, (5,)),
        lambda: mod.BatchNorm1d(3)(lib.ones(2, 3, 4, 5)),
        lambda: mod.BatchNorm2d(3)(lib.ones(2, 3, 4)),
        lambda: mod.BatchNorm3d(3)(lib.ones(2, 3, 4)),
        lambda: mod.BatchNorm1d(3)(lib.ones(1, 3)),
        lambda: mod.BatchNorm1d(3)(lib.ones(2, 4)),
        lambda: Fn.batch_norm(lib.ones(2, 4), lib.zeros(3), lib.ones(3), training=True),
        lambda: Fn.batch_norm(lib.ones(2, 3, 4), lib.zeros(3), lib.ones(3), weight=lib.ones(4)),
        lambda: Fn.batch_norm(lib.ones(1, 4), None, None, training=False),
        lambda: Fn.group_norm(lib.ones(2, 6, 4), 4),
        lambda: mod.GroupNorm(4, 6),
        lambda: Fn.group_norm(lib.ones(2, 6, 4), 3, lib.ones(5)),
        lambda: mod.InstanceNorm1d(3, affine=True)(lib.ones(3, 4, 5)),
        lambda: mod.InstanceNorm1d(3)(lib.ones(2, 3, 4, 5)),
        lambda: Fn.instance_norm(lib.ones(2, 3, 1)),
        lambda: mod.LayerNorm(4)(lib.ones(2, 3)),
        lambda: Fn.layer_norm(x3, (3, 4), lib.ones(4)),
        lambda: Fn.layer_norm(lib.ones(2, 3, dtype=lib.int64), (3,)),
        lambda: Fn.batch_norm(lib.ones(2, 3, dtype=lib.int64), None, None, training=True),
        lambda: Fn.group_norm(lib.ones(2, 4, dtype=lib.int64), 2),
        lambda: Fn.group_norm(lib.ones(3), 1),
        lambda: Fn.batch_norm(lib.ones(3), None, None, training=True),
        lambda: Fn.batch_norm(lib.ones(3), lib.zeros(3), lib.ones(3)),
        lambda: Fn.batch_norm(lib.ones(2, 3), lib.zeros(3), None),
        lambda: Fn.instance_norm(lib.ones(3, 4)),
        lambda: Fn.layer_norm(lib.ones(3, 4), (4,), lib.ones(4, dtype=lib.float64)),
        lambda: Fn.batch_norm(lib.ones(2, 3), lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)),
        lambda: Fn.group_norm(lib.ones(2, 4), 2, lib.ones(4, dtype=lib.float64)),
    ]


def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in zip(_errors(ag), _errors(torch)):
        with pytest.raises(Exception) as te:
            theirs()
        with pytest.raises(type(te.value)) as oe:
            ours()
        assert str(oe.value) == str(te.value)


def test_errors_without_torch():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(ag.ones(2, 3, 4, 5))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(ag.ones(1, 3))
    nn.BatchNorm1d(3).eval()(ag.ones(1, 3))   # eval: one value per channel is fine


@pytest.mark.filterwarnings("ignore:Mismatch dtype")
def test_mixed_dtypes_as_torch():
    torch = pytest.importorskip("torch")
    x = _x(4, 3, 2)
    cases = [(lambda L, t, f: L.nn.functional.rms_norm(t, (2,), L.ones(2, dtype=L.float64) * 1.5), np.float32),
             (lambda L, t, f: L.nn.functional.batch_norm(t, L.zeros(3), L.ones(3), L.ones(3) * 2, L.ones(3),
                                                         training=True), np.float16),
             (lambda L, t, f: L.nn.functional.group_norm(t, 3, L.ones(3) * 2, L.ones(3)), np.float16),
             (lambda L, t, f: L.nn.functional.layer_norm(t, (2,), L.ones(2) * 2, L.ones(2)), np.float16)]
    for fn, dt in cases:
        ours = fn(ag, ag.tensor(x.astype(dt)), dt)
        try:
            theirs = fn(torch, torch.tensor(x.astype(dt)), dt)
        except RuntimeError:   # torch's CPU lacks this mixed kernel; ours computes it
            theirs = None
        if theirs is not None:
            assert ours.numpy().dtype == theirs.numpy().dtype
            np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64),
                                       atol=2e-2)
        assert ours.numpy().dtype == dt


# CUDA against CPU ----------------------------------------------------------------------------------
def _cuda_vs_cpu(fn, arrays, dtype, tol):
    outs = []
    for dev in ("cpu", "cuda"):
        ts = [ag.tensor(a, dtype=dtype, device=dev, requires_grad=True) for a in arrays]
        y = fn(*ts)
        y.backward(ag.ones_like(y))
        outs.append([y.detach().cpu().numpy().astype(np.float64)] +
                    [t.grad.cpu().numpy().astype(np.float64) for t in ts])
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


CUDA_CASES = [
    ("layer_norm", lambda x, w, b: F.layer_norm(x * x, (300,), w, b), ((7, 300), (300,), (300,))),
    ("layer_norm_small", lambda x, w, b: F.layer_norm(x * x, (2, 3), w, b), ((5, 2, 3), (2, 3), (2, 3))),
    ("rms_norm", lambda x, w: F.rms_norm(x * x, (33,), w), ((4, 33), (33,))),
    ("batch_norm", lambda x, w, b: F.batch_norm(x * x, None, None, w, b, True), ((6, 5, 7, 3), (5,), (5,))),
    ("batch_norm_eval", lambda x, w, b: F.batch_norm(x * x, ag.zeros(5, device=x.device, dtype=x.dtype) + 0.1,
                                                     ag.ones(5, device=x.device, dtype=x.dtype) * 2, w, b),
     ((4, 5, 3), (5,), (5,))),
    ("group_norm", lambda x, w, b: F.group_norm(x * x, 3, w, b), ((2, 6, 5), (6,), (6,))),
]


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64, ag.float16], ids=["f32", "f64", "f16"])
@pytest.mark.parametrize("name,fn,shapes", CUDA_CASES, ids=[c[0] for c in CUDA_CASES])
def test_cuda_matches_cpu(name, fn, shapes, dtype):
    tol = {ag.float16: 3e-2, ag.float32: 1e-4, ag.float64: 1e-10}[dtype]
    _cuda_vs_cpu(fn, [_x(*s) for s in shapes], dtype, tol)


@pytest.mark.cuda
def test_cuda_batchnorm_module_running_stats():
    cpu, gpu = nn.BatchNorm2d(3), nn.BatchNorm2d(3).cuda()
    for _ in range(3):
        x = _x(4, 3, 2, 2, dtype=np.float32)
        cpu(ag.tensor(x)), gpu(ag.tensor(x, device="cuda"))
    for a, b in zip(cpu.buffers(), gpu.buffers()):
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
