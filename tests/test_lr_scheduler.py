"""ag.optim.lr_scheduler against torch.optim.lr_scheduler: the lr (and momentum) sequence over 30 steps,
state_dict round trips, PyTorch's warnings and errors; closed forms that run without torch."""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.optim import lr_scheduler as S

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")
STEPS = 30


def make_opt(lib, kind="SGD", lrs=(0.1, 0.05)):
    groups = [{"params": [lib.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1)


def _factor(e):
    return 0.95 ** e


def _mult(e):
    return 0.9 if e % 2 else 1.0


# name -> (optimizer kind, builder(sched module, optimizer))
CASES = {
    "StepLR": ("SGD", lambda L, o: L.StepLR(o, step_size=4, gamma=0.5)),
    "MultiStepLR": ("SGD", lambda L, o: L.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3)),
    "ConstantLR": ("SGD", lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=6)),
    "LinearLR": ("SGD", lambda L, o: L.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10)),
    "ExponentialLR": ("SGD", lambda L, o: L.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": ("SGD", lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "LambdaLR": ("SGD", lambda L, o: L.LambdaLR(o, [_factor, lambda e: 1 / (e + 1)])),
    "MultiplicativeLR": ("SGD", lambda L, o: L.MultiplicativeLR(o, _mult)),
    "OneCycleLR-cos": ("SGD", lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS + 1)),
    "OneCycleLR-linear-3": ("SGD", lambda L, o: L.OneCycleLR(o, max_lr=0.8, epochs=4, steps_per_epoch=8,
                                                              anneal_strategy="linear", three_phase=True)),
    "OneCycleLR-adam": ("Adam", lambda L, o: L.OneCycleLR(o, max_lr=0.3, total_steps=STEPS, pct_start=0.25)),
    "OneCycleLR-nomom": ("Adam", lambda L, o: L.OneCycleLR(o, max_lr=0.3, total_steps=STEPS, cycle_momentum=False)),
    "SequentialLR": ("SGD", lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5), L.ExponentialLR(o, gamma=0.9),
            L.StepLR(o, step_size=3)], milestones=[5, 15])),
    "ChainedScheduler": ("SGD", lambda L, o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.5, total_iters=4), L.ExponentialLR(o, gamma=0.9)])),
    "CosineAnnealingWarmRestarts": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2,
                                                                                      eta_min=0.01)),
    "CosineAnnealingWarmRestarts-1": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7)),
}
METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.85, 0.7] + [0.7] * 18


def run(lib, name, steps=STEPS):
    kind, build = CASES[name]
    opt = make_opt(lib, kind)
    sched = build(lib.optim.lr_scheduler, opt)
    return record(opt, sched, steps)


def record(opt, sched, steps, metrics=None):
    out = []
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        g = opt.param_groups
        out.append((list(sched.get_last_lr()), [x["lr"] for x in g],
                    [x.get("momentum", x.get("betas", (None,))[0]) for x in g]))
    return out


def assert_seq(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_allclose(np.asarray(u, dtype=float), np.asarray(v, dtype=float), rtol=1e-12, atol=1e-15)


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_sequence_matches_torch(name):
    assert_seq(run(ag, name), run(torch, name))


@needs_torch
@pytest.mark.parametrize("kwargs", [dict(patience=2), dict(mode="max", factor=0.5, patience=1, cooldown=2),
                                    dict(threshold_mode="abs", threshold=0.06, min_lr=[0.02, 0.01], patience=0)])
def test_reduce_on_plateau_matches_torch(kwargs):
    seqs = []
    for lib in (ag, torch):
        opt = make_opt(lib)
        seqs.append(record(opt, lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs), STEPS, METRICS))
    assert_seq(*seqs)


@needs_torch
def test_initial_lrs_and_group_keys_match_torch():
    for name in CASES:
        a, t = make_opt(ag, CASES[name][0]), make_opt(torch, CASES[name][0])
        sa, st = CASES[name][1](S, a), CASES[name][1](torch.optim.lr_scheduler, t)
        assert sa.get_last_lr() == pytest.approx(st.get_last_lr(), rel=1e-12), name
        assert sorted(a.param_groups[0]) == sorted(t.param_groups[0]), name
        assert sorted(sa.state_dict()) == sorted(st.state_dict()), name


@needs_torch
def test_closed_form_epoch_argument_matches_torch():
    seqs = []
    for lib in (ag, torch):
        opt = make_opt(lib)
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in (3, 5, 9, 2):
                opt.step()
                sched.step(e)
                out.append(sched.get_last_lr())
        seqs.append(out)
    np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12)


# closed forms without torch ---------------------------------------------------------------------------
def test_step_lr_closed_form():
    seq = [r[0] for r in run(ag, "StepLR")]
    for e, lrs in enumerate(seq, 1):
        assert lrs == pytest.approx([0.1 * 0.5 ** (e // 4), 0.05 * 0.5 ** (e // 4)], rel=1e-12)


def test_cosine_and_linear_closed_forms():
    seq = [r[0][0] for r in run(ag, "CosineAnnealingLR", 10)]
    for e, lr in enumerate(seq, 1):
        assert lr == pytest.approx(0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2, rel=1e-10)
    seq = [r[0][0] for r in run(ag, "LinearLR", 15)]
    for e, lr in enumerate(seq, 1):
        assert lr == pytest.approx(0.1 * (0.2 + 0.7 * min(e, 10) / 10), rel=1e-10)


def test_onecycle_endpoints():
    opt = make_opt(ag)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5)
    assert sched.get_last_lr()[0] == pytest.approx(1.0 / 25) and opt.param_groups[0]["momentum"] == 0.95
    lrs = [r[0][0] for r in record(opt, sched, 9)]
    assert lrs[3] == pytest.approx(1.0) and lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of total steps is 10"):
        sched.step()
        sched.step()


def test_lambda_lr_sets_initial_lr():
    opt = make_opt(ag)
    sched = S.LambdaLR(opt, lambda e: 1.0 / (e + 1))
    assert opt.param_groups[1]["initial_lr"] == 0.05 and sched.base_lrs == [0.1, 0.05]
    assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.05]
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.025] and sched.last_epoch == 1


# state dicts ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("LambdaLR")] + ["LambdaLR"])
def test_state_dict_round_trip(name):
    kind, build = CASES[name]
    opt = make_opt(ag, kind)
    sched = build(S, opt)
    record(opt, sched, 12)
    osd, ssd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    assert "optimizer" not in ssd
    rest = record(opt, sched, 10)
    opt2 = make_opt(ag, kind)
    sched2 = build(S, opt2)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(ssd)
    assert_seq(record(opt2, sched2, 10), rest)


def test_plateau_state_dict_round_trip():
    opt = make_opt(ag)
    sched = S.ReduceLROnPlateau(opt, patience=1)
    record(opt, sched, 8, METRICS)
    osd, ssd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    rest = record(opt, sched, 10, METRICS[8:])
    opt2 = make_opt(ag)
    sched2 = S.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(ssd)
    assert_seq(record(opt2, sched2, 10, METRICS[8:]), rest)


def test_lambda_state_dict_saves_callable_objects():
    class Decay:
        def __init__(self, k):
            self.k = k

        def __call__(self, e):
            return self.k ** e
    opt = make_opt(ag)
    sched = S.LambdaLR(opt, [Decay(0.5), _factor])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"k": 0.5}, None]
    sched2 = S.LambdaLR(make_opt(ag), [Decay(0.9), _factor])
    sched2.load_state_dict(sd)
    assert sched2.lr_lambdas[0].k == 0.5


# warnings and errors ----------------------------------------------------------------------------------
def test_warns_when_scheduler_steps_before_optimizer():
    opt = make_opt(ag)
    sched = S.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        sched.step()
    opt = make_opt(ag)
    sched = S.StepLR(opt, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        sched.step(5)
    assert sched.last_epoch == 5 and sched.get_last_lr()[0] == pytest.approx(0.1 * 0.1 ** 2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_errors():
    opt = make_opt(ag)
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        S.StepLR(3, 2)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
        S.StepLR(opt, 2, last_epoch=3)
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between 0 and 1."):
        S.ConstantLR(opt, factor=2)
    with pytest.raises(ValueError, match="Starting multiplicative factor expected to be greater than 0"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(opt, [_factor])
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        S.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown!"):
        S.ReduceLROnPlateau(opt, mode="foo")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(ag.optim.Adagrad([ag.zeros(1, requires_grad=True)]), max_lr=1.0, total_steps=5)
    plateau = S.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="SequentialLR does not support `ReduceLROnPlateau`"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), plateau], milestones=[3])
    with pytest.raises(ValueError, match="Sequential Schedulers expects number of schedulers provided to be one more"):
        S.SequentialLR(opt, [S.StepLR(opt, 2)], milestones=[3])


def test_tensor_lr_is_filled_in_place():
    p = ag.zeros(2, requires_grad=True)
    lr = ag.tensor(0.1)
    opt = ag.optim.Adam([p], lr=lr)
    sched = S.ExponentialLR(opt, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.05)
    assert isinstance(opt.param_groups[0]["initial_lr"], ag.Tensor) and opt.param_groups[0]["initial_lr"] is not lr
