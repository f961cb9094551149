"""ag.optim against torch.optim: same parameter trajectories (float64, every option), state dicts that
round-trip and load PyTorch's, param groups, zero_grad, PyTorch's errors; closed-form first steps run
without torch; the CUDA multi-tensor kernels against the CPU path."""
from __future__ import annotations

import copy
import math
import re
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.backends import cuda_optim

try:
    import torch
except ImportError:   # CI has no torch: the comparisons skip, the closed-form checks run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")

INIT = [np.array([0.5, -1.2, 2.0]), np.array([[0.3, -0.7], [1.5, 0.05]]), np.array(-0.4)]
COEF = [0.5, 1.5, 3.0]


def make_params(lib, init=INIT, dtype=None):
    if lib is ag:
        return [ag.tensor(a, dtype=dtype or ag.float64, requires_grad=True) for a in init]
    return [torch.tensor(a, dtype=dtype or torch.float64, requires_grad=True) for a in init]


def loss_fn(ps):
    """Quadratic plus sine: curvature differs per parameter and the gradient is not linear."""
    total = None
    for p, c in zip(ps, COEF):
        term = (p * p * c).sum() + p.sin().sum()
        total = term if total is None else total + term
    return total


def trajectory(lib, opt_cls, kwargs, steps=6, params=None, opt=None):
    ps = params if params is not None else make_params(lib)
    opt = opt if opt is not None else opt_cls(ps, **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(ps).backward()
        opt.step()
        out.append([p.detach().cpu().numpy().copy() for p in ps])
    return out, ps, opt


def assert_traj(a, b, rtol=1e-10, atol=1e-12):
    for sa, sb in zip(a, b):
        for x, y in zip(sa, sb):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.2, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
    ("AdamW", dict(lr=0.05, maximize=True, betas=(0.5, 0.9))),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True, eps=1e-4)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-6, maximize=True)),
]


@needs_torch
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_trajectory_matches_torch(name, kwargs):
    ours, _, _ = trajectory(ag, getattr(ag.optim, name), kwargs)
    theirs, _, _ = trajectory(torch, getattr(torch.optim, name), kwargs)
    assert_traj(ours, theirs)


@needs_torch
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_tensor_lr_matches_torch(name):
    kw = dict(momentum=0.9) if name == "SGD" else {}
    ours, _, _ = trajectory(ag, getattr(ag.optim, name), dict(lr=ag.tensor(0.02), **kw))
    theirs, _, _ = trajectory(torch, getattr(torch.optim, name), dict(lr=torch.tensor(0.02), **kw))
    assert_traj(ours, theirs)


@needs_torch
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_with_different_lrs(name):
    def build(lib):
        ps = make_params(lib)
        groups = [{"params": ps[:2], "lr": 0.03}, {"params": ps[2:], "lr": 0.2, "weight_decay": 0.1}]
        opt = getattr(lib.optim, name)(groups, lr=0.01)
        return ps, opt
    (pa, oa), (pt, ot) = build(ag), build(torch)
    assert [g["lr"] for g in oa.param_groups] == [0.03, 0.2]
    assert oa.param_groups[0]["weight_decay"] == 0 and oa.param_groups[1]["weight_decay"] == 0.1
    assert_traj(trajectory(ag, None, None, params=pa, opt=oa)[0], trajectory(torch, None, None, params=pt, opt=ot)[0])
    assert repr(oa) == repr(ot)


@needs_torch
def test_mixed_dtypes_and_missing_grads():
    """float32 and float64 params in one group (two kernel groups); a param without grad is skipped."""
    def build(lib):
        ps = [lib.tensor(INIT[0], dtype=lib.float32, requires_grad=True), make_params(lib)[1]]
        idle = lib.tensor([1.0, 2.0], requires_grad=True)
        return ps, idle, lib.optim.Adam(ps + [idle], lr=0.1)
    (pa, ia, oa), (pt, it, ot) = build(ag), build(torch)
    ta = trajectory(ag, None, None, steps=4, params=pa, opt=oa)[0]
    tt = trajectory(torch, None, None, steps=4, params=pt, opt=ot)[0]
    assert_traj(ta, tt, rtol=1e-6, atol=1e-7)
    assert ia.tolist() == [1.0, 2.0] and ia not in oa.state and len(oa.state) == 2
    assert oa.state[pa[0]]["exp_avg"].dtype == ag.float32 and oa.state[pa[0]]["step"].dtype == ag.float32


# closed forms, no torch needed ------------------------------------------------------------------------
def _grads(ps):
    return [2 * c * p.detach().numpy() + np.cos(p.detach().numpy()) for p, c in zip(ps, COEF)]


def test_sgd_momentum_by_hand():
    lr, mom, damp = 0.05, 0.9, 0.2
    ps = make_params(ag)
    opt = ag.optim.SGD(ps, lr=lr, momentum=mom, dampening=damp)
    x = [a.copy().astype(np.float64) for a in INIT]
    buf = None
    for _ in range(5):
        g = [2 * c * xi + np.cos(xi) for xi, c in zip(x, COEF)]
        buf = g if buf is None else [mom * b + (1 - damp) * gi for b, gi in zip(buf, g)]
        x = [xi - lr * b for xi, b in zip(x, buf)]
        opt.zero_grad()
        loss_fn(ps).backward()
        opt.step()
    for p, xi in zip(ps, x):
        np.testing.assert_allclose(p.detach().numpy(), xi, rtol=1e-12, atol=1e-14)
    assert set(opt.state[ps[0]]) == {"momentum_buffer"}


@pytest.mark.parametrize("name,kwargs,factor", [
    ("Adam", dict(lr=0.01), 1.0), ("Adam", dict(lr=0.01, amsgrad=True), 1.0),
    ("RMSprop", dict(lr=0.01), 10.0),               # sqrt(1 - alpha) = 0.1
    ("Adagrad", dict(lr=0.01), 1.0)])
def test_first_step_is_lr_times_sign(name, kwargs, factor):
    ps = make_params(ag)
    before = [p.detach().numpy().copy() for p in ps]
    g = _grads(ps)
    opt = getattr(ag.optim, name)(ps, **kwargs)
    loss_fn(ps).backward()
    opt.step()
    for p, b, gi in zip(ps, before, g):
        np.testing.assert_allclose(p.detach().numpy(), b - factor * kwargs["lr"] * np.sign(gi), rtol=1e-6, atol=1e-8)


def test_adamw_first_step_decays_then_moves():
    ps = make_params(ag)
    before = [p.detach().numpy().copy() for p in ps]
    g = _grads(ps)
    opt = ag.optim.AdamW(ps, lr=0.01, weight_decay=0.5)
    loss_fn(ps).backward()
    v0 = ps[0]._version
    opt.step()
    assert ps[0]._version == v0 + 2   # mul_ then addcdiv_, as PyTorch's single-tensor AdamW
    for p, b, gi in zip(ps, before, g):
        np.testing.assert_allclose(p.detach().numpy(), b * (1 - 0.005) - 0.01 * np.sign(gi), rtol=1e-6, atol=1e-8)


def test_update_is_in_place_and_bumps_version():
    ps = make_params(ag)
    data = [p._data for p in ps]
    opt = ag.optim.SGD(ps, lr=0.1)
    loss_fn(ps).backward()
    versions = [p._version for p in ps]
    opt.step()
    assert all(p._data is d for p, d in zip(ps, data))
    assert [p._version for p in ps] == [v + 1 for v in versions]
    assert all(p.is_leaf and p.requires_grad and p.grad_fn is None for p in ps)


def test_step_runs_under_no_grad_and_closure_under_enable_grad():
    ps = make_params(ag)
    opt = ag.optim.Adam(ps, lr=0.1)
    seen = []

    def closure():
        seen.append(ag.is_grad_enabled())
        opt.zero_grad()
        loss = loss_fn(ps)
        loss.backward()
        return loss
    with ag.no_grad():
        loss = opt.step(closure)
    assert seen == [True] and isinstance(loss, ag.Tensor) and loss.requires_grad
    assert opt.step() is None


def test_zero_grad():
    ps = make_params(ag)
    opt = ag.optim.SGD(ps, lr=0.1)
    loss_fn(ps).backward()
    g0 = ps[0].grad
    opt.zero_grad(set_to_none=False)
    assert ps[0].grad is g0 and not ps[0].grad.numpy().any()
    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    opt.zero_grad()   # nothing to do


def test_parameters_of_nn_modules():
    lin = ag.nn.Linear(3, 2)
    opt = ag.optim.SGD(lin.parameters(), lr=0.1, momentum=0.5)
    w = lin.weight.detach().numpy().copy()
    lin(ag.ones(4, 3)).sum().backward()
    g = lin.weight.grad.numpy().copy()
    opt.step()
    np.testing.assert_allclose(lin.weight.detach().numpy(), w - 0.1 * g, rtol=1e-6)
    assert isinstance(lin.weight, ag.nn.Parameter)


def test_fake_device_matches_cpu():
    ours = trajectory(ag, ag.optim.Adam, dict(lr=0.05, amsgrad=True))[0]
    ps = [p.to("fake:0").detach().requires_grad_() for p in make_params(ag)]
    fake = trajectory(ag, ag.optim.Adam, dict(lr=0.05, amsgrad=True), params=ps)[0]
    assert_traj(ours, fake, rtol=0, atol=0)
    assert ps[0].device == ag.device("fake:0")


# state dicts ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.05, amsgrad=True)),
                                         ("AdamW", dict(lr=0.05)), ("RMSprop", dict(centered=True, momentum=0.5)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.01))])
def test_state_dict_round_trip(name, kwargs, tmp_path):
    cls = getattr(ag.optim, name)
    _, ps, opt = trajectory(ag, cls, kwargs, steps=3)
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"] and sd["param_groups"][0]["params"] == [0, 1, 2]
    if "step" in sd["state"][0]:
        assert sd["state"][0]["step"].dtype == ag.float32 and sd["state"][0]["step"].item() == 3.0
    ag.save(sd, tmp_path / "opt")
    ps2 = [p.detach().clone().requires_grad_() for p in ps]
    opt2 = cls(ps2, lr=123.0)
    opt2.load_state_dict(ag.load(tmp_path / "opt"))
    assert opt2.param_groups[0]["lr"] == kwargs.get("lr", opt.defaults["lr"])
    a = trajectory(ag, None, None, steps=3, params=ps, opt=opt)[0]
    b = trajectory(ag, None, None, steps=3, params=ps2, opt=opt2)[0]
    assert_traj(a, b, rtol=0, atol=0)


def test_load_state_dict_casts_to_param_dtype():
    ps = make_params(ag)
    opt = ag.optim.Adam(ps)
    loss_fn(ps).backward()
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    for st in sd["state"].values():
        st["exp_avg"] = st["exp_avg"].float()
    opt.load_state_dict(sd)
    st = opt.state[ps[0]]
    assert st["exp_avg"].dtype == ag.float64 and st["step"].dtype == ag.float32


def test_load_state_dict_errors():
    ps = make_params(ag)
    opt = ag.optim.SGD(ps, lr=0.1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": sd["param_groups"] * 2})
    bad = copy.deepcopy(sd)
    bad["param_groups"][0]["params"] = [0, 1]
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that doesn't match the size "
                                         "of optimizer's group"):
        opt.load_state_dict(bad)


def _to_ag(obj):
    if isinstance(obj, torch.Tensor):
        return ag.tensor(obj.detach().numpy())
    if isinstance(obj, dict):
        return {k: _to_ag(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_ag(v) for v in obj]
    return obj


def _to_torch(obj):
    if isinstance(obj, ag.Tensor):
        return torch.tensor(obj.numpy())
    if isinstance(obj, dict):
        return {k: _to_torch(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_torch(v) for v in obj]
    return obj


@needs_torch
@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                         ("Adam", dict(lr=0.05, amsgrad=True)), ("AdamW", dict(lr=0.05)),
                                         ("RMSprop", dict(centered=True, momentum=0.5)), ("Adagrad", dict(lr=0.1))])
def test_state_dicts_move_between_torch_and_us(name, kwargs):
    _, pt, ot = trajectory(torch, getattr(torch.optim, name), kwargs, steps=3)
    _, pa, oa = trajectory(ag, getattr(ag.optim, name), kwargs, steps=3)
    sd_t, sd_a = ot.state_dict(), oa.state_dict()
    assert sd_t["param_groups"] == sd_a["param_groups"]
    for i, st in sd_t["state"].items():
        assert sorted(st) == sorted(sd_a["state"][i])
        for k, v in st.items():
            np.testing.assert_allclose(sd_a["state"][i][k].numpy(), v.numpy(), rtol=1e-10, atol=1e-12)
            assert sd_a["state"][i][k].dtype.itemsize == v.dtype.itemsize
    # torch's state into a fresh optimizer of ours, and ours into torch's: both continue like torch
    ours = [ag.tensor(p.detach().numpy(), requires_grad=True) for p in pt]
    o2 = getattr(ag.optim, name)(ours)
    o2.load_state_dict(_to_ag(sd_t))
    theirs = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in pa]
    t2 = getattr(torch.optim, name)(theirs)
    t2.load_state_dict(_to_torch(sd_a))
    ref = trajectory(torch, None, None, steps=3, params=pt, opt=ot)[0]
    assert_traj(trajectory(ag, None, None, steps=3, params=ours, opt=o2)[0], ref)
    assert_traj(trajectory(torch, None, None, steps=3, params=theirs, opt=t2)[0], ref)


# construction errors ----------------------------------------------------------------------------------
ERRORS = [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(fused=True, foreach=True), "`fused` and `foreach` cannot be `True` together."),
    ("Adam", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("AdamW", dict(lr=-2.0), "Invalid learning rate: -2.0"),
    ("RMSprop", dict(alpha=-1), "Invalid alpha value: -1"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("RMSprop", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("Adagrad", dict(eps=-1), "Invalid epsilon value: -1"),
]


@pytest.mark.parametrize("name,kwargs,msg", ERRORS)
def test_argument_validation(name, kwargs, msg):
    exc = RuntimeError if "fused" in kwargs else ValueError
    with pytest.raises(exc, match=re.escape(msg)):
        getattr(ag.optim, name)(make_params(ag), **kwargs)
    if torch is not None:
        with pytest.raises(exc, match=re.escape(msg)):
            getattr(torch.optim, name)(make_params(torch), **kwargs)


def test_tensor_lr_must_have_one_element():
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        ag.optim.SGD(make_params(ag), lr=ag.tensor([0.1, 0.2]))


def test_param_group_errors():
    a, b = make_params(ag)[:2]
    with pytest.raises(TypeError, match=re.escape("params argument given to the optimizer should be an iterable of "
                                                  "Tensors or dicts, but got autograd_gpu.DoubleTensor")):
        ag.optim.SGD(a)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        ag.optim.SGD([])
    with pytest.raises(TypeError, match="optimizer parameters need to be organized in ordered collections"):
        ag.optim.SGD([{"params": {a, b}}])
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is int"):
        ag.optim.SGD([a, 3])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        ag.optim.SGD([a * 2])
    opt = ag.optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [b, a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([b])
    opt.add_param_group({"params": b, "lr": 0.5, "momentum": 0.9})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["dampening"] == 0 and opt.param_groups[1]["momentum"] == 0.9
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ag.optim.SGD([a, a])
    assert "duplicate parameters" in str(w[0].message)


def test_named_params():
    ps = make_params(ag)
    opt = ag.optim.Adam([("w", ps[0]), ("b", ps[1])])
    assert opt.param_groups[0]["param_names"] == ["w", "b"] and opt.param_groups[0]["params"] == ps[:2]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


@needs_torch
def test_repr_matches_torch():
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        assert repr(getattr(ag.optim, name)(make_params(ag))) == repr(getattr(torch.optim, name)(make_params(torch)))


def test_differentiable_is_refused():
    with pytest.raises(RuntimeError, match="differentiable=True is not supported"):
        ag.optim.Adam(make_params(ag), differentiable=True)


# CUDA: the multi-tensor kernels ------------------------------------------------------------------------
def test_pack_table():
    table, n = cuda_optim.pack([[1, 2, 3, 4, 5], [6, 7, 0, 0, 0]], [100, 5], [0.5, 2.0], [1.0, 0.0], chunk=64)
    assert n == 3
    rec = table[:16].reshape(2, 8)
    assert rec[0, :6].tolist() == [1, 2, 3, 4, 5, 100] and rec[1, 5] == 5
    assert rec[:, 6].view(np.float64).tolist() == [0.5, 2.0]
    assert table[16:].reshape(-1, 2).tolist() == [[0, 0], [0, 64], [1, 0]]
    assert cuda_optim.pack([[1, 2, 0, 0, 0]], [0], [0.0], [0.0])[1] == 0


CUDA_CONFIGS = [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
                ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, maximize=True)),
                ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)), ("AdamW", dict(lr=0.05)),
                ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
                ("Adagrad", dict(lr=0.1, lr_decay=0.1, maximize=True))]


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CUDA_CONFIGS)
def test_cuda_matches_cpu(name, kwargs, dtype):
    rng = np.random.default_rng(0)
    # a tensor larger than one chunk, a small one, a 0-d one, a non-contiguous one
    init = [rng.standard_normal(cuda_optim.CHUNK + 1000), rng.standard_normal((3, 5)), np.array(0.3),
            rng.standard_normal((6, 4))]
    dt = getattr(ag, dtype)
    cpu = [ag.tensor(a, dtype=dt, requires_grad=True) for a in init]
    gpu = [ag.tensor(a, dtype=dt, device="cuda", requires_grad=True) for a in init]
    gpu[3] = gpu[3].detach().t().contiguous().t().requires_grad_()
    cls = getattr(ag.optim, name)
    oc, og = cls(cpu, **kwargs), cls(gpu, **kwargs)
    for _ in range(4):
        for ps, o in ((cpu, oc), (gpu, og)):
            o.zero_grad()
            sum(((p * p).sum() + p.sin().sum()) for p in ps).backward()
            o.step()
    tol = dict(float16=2e-2, float32=1e-5, float64=1e-12)[dtype]
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(b.cpu().detach().numpy().astype(np.float64),
                                   a.detach().numpy().astype(np.float64), rtol=tol, atol=tol)
    for k, v in oc.state[cpu[0]].items():
        np.testing.assert_allclose(og.state[gpu[0]][k].cpu().numpy().astype(np.float64),
                                   v.numpy().astype(np.float64), rtol=tol, atol=tol)


@pytest.mark.cuda
def test_cuda_one_launch_per_dtype_group(monkeypatch):
    from autograd_gpu.backends import cupy_backend
    calls = []
    real = cupy_backend.get_kernel

    def spy(family, name, dev):
        fn = real(family, name, dev)
        if family == "optim":
            calls.append(name)
        return fn
    monkeypatch.setattr(cuda_optim, "get_kernel", spy)
    ps = [ag.randn(1000, device="cuda", requires_grad=True) for _ in range(7)]
    ps += [ag.randn(10, device="cuda", dtype=ag.float64, requires_grad=True)]
    opt = ag.optim.Adam(ps)
    sum((p * p).sum() for p in ps[:7]).backward()
    (ps[7] * ps[7]).sum().backward()
    opt.step()
    assert sorted(calls) == ["adam_step_float32", "adam_step_float64"]
    assert math.isfinite(ps[0].sum().item())


def test_old_checkpoint_with_number_step():
    ps = make_params(ag)
    opt = ag.optim.Adam(ps, lr=0.05)
    trajectory(ag, None, None, steps=2, params=ps, opt=opt)
    sd = copy.deepcopy(opt.state_dict())
    for st in sd["state"].values():
        st["step"] = 2
    ps2 = [p.detach().clone().requires_grad_() for p in ps]
    opt2 = ag.optim.Adam(ps2)
    opt2.load_state_dict(sd)
    assert opt2.state[ps2[0]]["step"].dtype == ag.float32
    assert_traj(trajectory(ag, None, None, steps=2, params=ps2, opt=opt2)[0],
                trajectory(ag, None, None, steps=2, params=ps, opt=opt)[0], rtol=0, atol=0)
