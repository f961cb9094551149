"""nn core: module hooks, containers, Flatten/Unflatten, nn.init, nn.utils (clip_grad, vector
conversion), Linear/Bilinear/Embedding against PyTorch with identical weights, and loading a torch
state_dict into our modules. The PyTorch parts skip where torch is not installed."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import autograd_gpu as ag
import autograd_gpu.nn.functional as F
from autograd_gpu import nn
from helpers import assert_close


def _torch():
    return pytest.importorskip("torch")


def _arr(shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def _load_from_torch(ours, theirs):
    ours.load_state_dict({k: ag.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


# hooks ---------------------------------------------------------------------------------------------
def test_forward_hooks_order_prepend_kwargs_and_removal():
    lin = nn.Linear(3, 2)
    log = []
    h1 = lin.register_forward_pre_hook(lambda m, a: log.append("pre1"))
    lin.register_forward_pre_hook(lambda m, a: log.append("pre0"), prepend=True)
    lin.register_forward_pre_hook(lambda m, a, k: log.append(("prekw", k)), with_kwargs=True)
    h2 = lin.register_forward_hook(lambda m, a, o: log.append("fwd1"))
    lin.register_forward_hook(lambda m, a, k, o: log.append(("fwdkw", tuple(o.shape))), with_kwargs=True)
    lin.register_forward_hook(lambda m, a, o: log.append("fwd0"), prepend=True)
    lin(ag.ones(4, 3))
    assert log == ["pre0", "pre1", ("prekw", {}), "fwd0", "fwd1", ("fwdkw", (4, 2))]
    h1.remove()
    h2.remove()
    h2.remove()   # a second remove is a no-op
    log.clear()
    lin(ag.ones(1, 3))
    assert log == ["pre0", ("prekw", {}), "fwd0", ("fwdkw", (1, 2))]
    with lin.register_forward_hook(lambda m, a, o: log.append("ctx")):
        lin(ag.ones(1, 3))
    assert log[-1] == "ctx"
    log.clear()
    lin(ag.ones(1, 3))
    assert "ctx" not in log


def test_forward_hooks_replace_args_and_output():
    lin = nn.Identity()
    lin.register_forward_pre_hook(lambda m, a: a[0] * 2)                 # non-tuple: wrapped
    lin.register_forward_hook(lambda m, a, o: o + 1)
    assert lin(ag.tensor([1.0])).tolist() == [3.0]

    class Scale(nn.Module):
        def forward(self, x, *, k=1.0):
            return x * k
    m = Scale()
    m.register_forward_pre_hook(lambda mod, a, k: (a, {"k": 5.0}), with_kwargs=True)
    assert m(ag.tensor([2.0])).tolist() == [10.0]
    m2 = Scale()
    m2.register_forward_pre_hook(lambda mod, a, k: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of \(new_args, new_kwargs\)"):
        m2(ag.tensor([1.0]))


def test_always_call_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    m = Boom()
    log = []
    m.register_forward_hook(lambda mod, a, o: log.append(("always", o)), always_call=True)
    m.register_forward_hook(lambda mod, a, o: log.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(ag.ones(1))
    assert log == [("always", None)]


def _hooked_run(lib, returns_scaled: bool):
    """A Linear -> Tanh model with full backward (pre-)hooks on the Linear; what the hooks saw and the grads."""
    nn_ = lib.nn
    lin = nn_.Linear(3, 2).double()
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(_arr((2, 3), 1), dtype=lib.float64))
        lin.bias.copy_(lib.tensor(_arr((2,), 2), dtype=lib.float64))
    seen = []

    def bw(m, gi, go):
        seen.append(("bw", [None if g is None else g.detach().numpy().copy() for g in gi],
                     [g.detach().numpy().copy() for g in go]))
        return (gi[0] * 3,) if returns_scaled else None

    def pre(m, go):
        seen.append("pre")
        return (go[0] * 2,) if returns_scaled else None
    lin.register_full_backward_hook(bw)
    lin.register_full_backward_pre_hook(pre)
    x = lib.tensor(_arr((4, 3), 3), dtype=lib.float64, requires_grad=True)
    (lin(x).tanh() ** 2).sum().backward()
    return seen, x.grad.numpy(), lin.weight.grad.numpy()


@pytest.mark.parametrize("scaled", [False, True])
def test_full_backward_hooks_match_torch(scaled):
    torch = _torch()
    ours, theirs = _hooked_run(ag, scaled), _hooked_run(torch, scaled)
    assert [s if isinstance(s, str) else s[0] for s in ours[0]] == ["pre", "bw"]
    for a, b in zip(ours[0][1][1] + ours[0][1][2], theirs[0][1][1] + theirs[0][1][2]):
        assert_close(a, b, 1e-12, 1e-12)
    assert_close(ours[1], theirs[1], 1e-12, 1e-12)
    assert_close(ours[2], theirs[2], 1e-12, 1e-12)


def test_backward_hook_with_non_tensor_and_no_grad_inputs():
    class Two(nn.Module):
        def forward(self, a, scale, b):
            return a * scale + b * b, a.sum()
    m = Two()
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    a = ag.tensor([1.0, 2.0], requires_grad=True)
    b = ag.tensor([3.0, 4.0])
    y, s = m(a, 2.0, b)
    (y.sum() + s).backward()
    gi, go = seen[0]
    assert len(gi) == 3 and gi[1] is None and gi[0].tolist() == [3.0, 3.0]
    assert gi[2] is None or gi[2].tolist() == [0.0, 0.0]   # torch materialises zeros there
    assert len(go) == 2 and go[0].tolist() == [1.0, 1.0]
    # no input requires grad: the hook runs with grad_input all None, from the outputs' node
    seen.clear()
    lin = nn.Linear(2, 1)
    lin.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    lin(ag.ones(3, 2)).sum().backward()
    assert seen and seen[0][0] == (None,) and tuple(seen[0][1][0].shape) == (3, 1)
    lin2 = nn.Linear(2, 1)
    lin2.register_full_backward_hook(lambda mod, gi, go: (ag.ones(3, 2),))
    with pytest.raises(RuntimeError, match="no input requires gradient should always return None"):
        lin2(ag.ones(3, 2)).sum().backward()


def test_backward_hook_wrong_length_raises():
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = ag.ones(1, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of grad_input, got 2, but "
                                           "expected 1"):
        lin(x).sum().backward()
    lin2 = nn.Linear(2, 2)
    lin2.register_full_backward_pre_hook(lambda m, go: ())
    with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of grad_output, got 0"):
        lin2(ag.ones(1, 2, requires_grad=True)).sum().backward()


def test_hook_handle_removal_of_backward_hook():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    x = ag.ones(1, 2, requires_grad=True)
    lin(x).sum().backward()
    h.remove()
    lin(x).sum().backward()
    assert calls == [1]


# containers ---------------------------------------------------------------------------------------
def test_module_list_operations_and_repr():
    torch = pytest.importorskip("torch")
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    tl = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)])
    for lib, m in ((nn, ml), (torch.nn, tl)):
        m.append(lib.ReLU())
        m.extend([lib.Tanh()])
        m.insert(1, lib.Linear(2, 3))
        m += [lib.Sigmoid()]
    assert repr(ml) == repr(tl)
    assert len(ml) == 6 and isinstance(ml[-1], nn.Sigmoid) and isinstance(ml[1], nn.Linear)
    assert [type(m).__name__ for m in ml[1:3]] == ["Linear", "Linear"] and isinstance(ml[1:3], nn.ModuleList)
    del ml[0]
    del tl[0]
    assert list(dict(ml.named_children())) == ["0", "1", "2", "3", "4"] and repr(ml) == repr(tl)
    ml[0] = nn.Identity()
    assert isinstance(ml[0], nn.Identity)
    both = ml + nn.ModuleList([nn.ReLU()])
    assert len(both) == 6 and isinstance(both, nn.ModuleList)
    with pytest.raises(IndexError, match="index 9 is out of range"):
        ml[9]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable, but got Linear"):
        ml.extend(nn.Linear(1, 1))
    assert repr(nn.ModuleList()) == "ModuleList()"
    assert sum(1 for _ in nn.ModuleList([nn.Linear(2, 2)] * 3).parameters()) == 2   # shared once


def test_module_dict_and_parameter_containers():
    torch = _torch()
    md = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Linear(1, 1)})
    td = torch.nn.ModuleDict({"a": torch.nn.ReLU(), "b": torch.nn.Linear(1, 1)})
    assert repr(md) == repr(td) and list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    md.update([("c", nn.Tanh())])
    assert list(md) == ["a", "b", "c"] and isinstance(md.pop("a"), nn.ReLU) and list(md) == ["b", "c"]
    assert [k for k, _ in md.named_parameters()] == ["b.weight", "b.bias"]
    pl = nn.ParameterList([ag.ones(3), nn.Parameter(ag.zeros(2, 2))])
    assert isinstance(pl[0], nn.Parameter) and len(pl) == 2
    pl.append(ag.ones(1))
    assert [k for k, _ in pl.named_parameters()] == ["0", "1", "2"]
    tpl = torch.nn.ParameterList([torch.ones(3), torch.zeros(2, 2), torch.ones(1)])
    assert repr(pl) == repr(tpl).replace("torch.", "autograd_gpu.")
    pd = nn.ParameterDict({"w": ag.ones(3), "a": ag.ones(2)})
    tpd = torch.nn.ParameterDict({"w": torch.ones(3), "a": torch.ones(2)})
    assert list(pd.keys()) == list(tpd.keys()) == ["a", "w"]   # a plain dict is sorted, as torch
    assert repr(pd) == repr(tpd).replace("torch.", "autograd_gpu.")
    assert isinstance(pd["a"], nn.Parameter) and [k for k, _ in pd.named_parameters()] == ["a", "w"]
    del pd["a"]
    assert list(pd) == ["w"] and "a" not in pd


def test_sequential_extras():
    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    s2 = s + nn.Sequential(nn.Tanh())
    assert len(s2) == 3 and isinstance(s2[2], nn.Tanh)
    s.insert(0, nn.Identity())
    assert isinstance(s[0], nn.Identity) and list(dict(s.named_children())) == ["0", "1", "2"]
    assert isinstance(s.pop(0), nn.Identity) and len(s) == 2


def test_flatten_unflatten():
    torch = _torch()
    x = _arr((2, 3, 4, 5))
    for ours, theirs in ((nn.Flatten(), torch.nn.Flatten()), (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                         (nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1))),
                         (nn.Unflatten(-1, [5, -1]), torch.nn.Unflatten(-1, [5, -1]))):
        assert repr(ours) == repr(theirs)
        assert ours(ag.tensor(x)).shape == tuple(theirs(torch.tensor(x)).shape)
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints, but found element of type float "
                                        "at pos 0"):
        nn.Unflatten(1, (2.0, 3))
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, but found type int"):
        nn.Unflatten(1, 6)


# init -----------------------------------------------------------------------------------------------
def test_calculate_gain_matches_torch():
    torch = _torch()
    for name in ("linear", "conv2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        nn.init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        nn.init.calculate_gain("gelu")


def test_init_distributions():
    ag.manual_seed(0)
    w = ag.empty(200, 300)
    for fn, args, mean, std in [(nn.init.uniform_, (-2.0, 4.0), 1.0, 6 / math.sqrt(12)),
                                (nn.init.normal_, (0.5, 2.0), 0.5, 2.0),
                                (nn.init.xavier_uniform_, (), 0.0, math.sqrt(2 / 500)),
                                (nn.init.xavier_normal_, (2.0,), 0.0, 2 * math.sqrt(2 / 500)),
                                (nn.init.kaiming_uniform_, (), 0.0, math.sqrt(2 / 1.0001) / math.sqrt(300)),
                                (nn.init.kaiming_normal_, (0, "fan_out", "relu"), 0.0, math.sqrt(2 / 200))]:
        assert fn(w, *args) is w
        a = w.numpy()
        assert abs(a.mean() - mean) < 0.05 * max(std, 1) and abs(a.std() / std - 1) < 0.03, fn.__name__
    bound = math.sqrt(6 / 500)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= bound
    t = nn.init.trunc_normal_(ag.empty(10000), 0.0, 1.0, -0.5, 1.0)
    a = t.numpy()
    assert a.min() >= -0.5 and a.max() <= 1.0 and abs(a.mean() - 0.2) < 0.03   # mean of N(0,1) on [-0.5, 1]
    assert nn.init.constant_(ag.empty(3), 2.5).tolist() == [2.5] * 3
    assert nn.init.ones_(ag.empty(2)).tolist() == [1.0, 1.0] and nn.init.zeros_(ag.ones(2)).tolist() == [0.0, 0.0]


def test_init_generator_and_no_grad():
    p = nn.Parameter(ag.empty(4, 4))
    nn.init.normal_(p)   # a leaf requiring grad: filled under no_grad
    assert p.is_leaf and p.grad_fn is None
    if hasattr(ag, "Generator"):
        g1, g2 = ag.Generator().manual_seed(3), ag.Generator().manual_seed(3)
        a = nn.init.kaiming_uniform_(ag.empty(5, 5), generator=g1).numpy()
        b = nn.init.kaiming_uniform_(ag.empty(5, 5), generator=g2).numpy()
        np.testing.assert_array_equal(a, b)


def test_init_structured_match_torch():
    torch = _torch()
    for shape in ((3, 5), (5, 3)):
        assert_close(nn.init.eye_(ag.empty(*shape)).numpy(), torch.nn.init.eye_(torch.empty(*shape)).numpy())
    for shape, groups in (((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 1, 3, 3), 1)):
        assert_close(nn.init.dirac_(ag.empty(*shape), groups).numpy(),
                     torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    for shape in ((4, 6), (6, 4), (3, 2, 2)):
        q = nn.init.orthogonal_(ag.empty(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        small = q @ q.T if shape[0] <= q.shape[1] else q.T @ q
        assert_close(small, 4 * np.eye(small.shape[0]), 1e-5, 1e-5)


def test_init_errors_and_fans():
    torch = _torch()
    for fn, args, exc in [(nn.init.xavier_uniform_, (ag.empty(3),), "Fan in and fan out can not be computed"),
                          (nn.init.kaiming_normal_, (ag.empty(2, 3), 0, "fan_avg"), "Mode fan_avg not supported"),
                          (nn.init.eye_, (ag.empty(2, 2, 2),), "Only tensors with 2 dimensions are supported"),
                          (nn.init.dirac_, (ag.empty(2, 2),), "Only tensors with 3, 4, or 5 dimensions"),
                          (nn.init.dirac_, (ag.empty(3, 2, 2), 2), "dim 0 must be divisible by groups"),
                          (nn.init.orthogonal_, (ag.empty(3),), "Only tensors with 2 or more dimensions")]:
        with pytest.raises(ValueError, match=exc):
            fn(*args)
    for shape in ((4, 3), (4, 3, 2, 5), (6, 2, 3)):
        assert nn.init._calculate_fan_in_and_fan_out(ag.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(ag.empty(0, 3))


# nn.utils --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = _torch()
    shapes = [(3, 4), (5,), (2, 2, 2)]
    grads = [_arr(s, i, -2, 2) for i, s in enumerate(shapes)]
    ours = [nn.Parameter(ag.zeros(*s, dtype=ag.float64)) for s in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(*s, dtype=torch.float64)) for s in shapes]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = ag.tensor(g), torch.tensor(g)
    ours.append(nn.Parameter(ag.zeros(2)))   # no grad: skipped
    n1 = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(n1, ag.Tensor) and n1.ndim == 0
    assert_close(n1.numpy(), n2.numpy(), 1e-12, 1e-12)
    for p, q in zip(ours, theirs):
        assert_close(p.grad.numpy(), q.grad.numpy(), 1e-12, 1e-12)


def test_clip_grad_edge_cases():
    p = nn.Parameter(ag.ones(3))
    p.grad = ag.tensor([1.0, float("inf"), 0.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([nn.Parameter(ag.ones(2))], 1.0).item() == 0.0
    q = nn.Parameter(ag.ones(4))
    q.grad = ag.tensor([-3.0, -0.5, 0.5, 3.0])
    assert nn.utils.clip_grad_value_(q, 1.0) is None and q.grad.tolist() == [-1.0, -0.5, 0.5, 1.0]
    nn.utils.clip_grad_value_([q], 0.25, foreach=True)
    assert q.grad.tolist() == [-0.25, -0.25, 0.25, 0.25]


def test_parameters_vector_roundtrip():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (11,)
    expect = np.concatenate([p.detach().numpy().reshape(-1) for p in m.parameters()])
    assert_close(v.detach().numpy(), expect)
    nn.utils.vector_to_parameters(ag.arange(11.0), m.parameters())
    assert m[0].weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and m[1].bias.tolist() == [10.0]
    assert isinstance(m[0].weight, nn.Parameter)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], m.parameters())


# Linear / Bilinear / Embedding against torch -----------------------------------------------------------
def test_linear_init_bounds_and_bilinear_module():
    torch = _torch()
    ag.manual_seed(0)
    lin = nn.Linear(50, 40)
    w = np.abs(lin.weight.detach().numpy())
    assert w.max() <= 1 / math.sqrt(50) and w.max() > 0.12
    ours, theirs = nn.Bilinear(3, 4, 2).double(), torch.nn.Bilinear(3, 4, 2).double()
    assert repr(ours) == repr(theirs)
    _load_from_torch(ours, theirs)
    x1, x2 = _arr((5, 3), 1), _arr((5, 4), 2)
    a1, a2 = ag.tensor(x1, requires_grad=True), ag.tensor(x2, requires_grad=True)
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    y, ty = ours(a1, a2), theirs(t1, t2)
    assert_close(y.detach().numpy(), ty.detach().numpy(), 1e-12, 1e-12)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    for a, b in ((a1.grad, t1.grad), (a2.grad, t2.grad), (ours.weight.grad, theirs.weight.grad),
                 (ours.bias.grad, theirs.bias.grad)):
        assert_close(a.numpy(), b.numpy(), 1e-12, 1e-12)
    with pytest.raises(RuntimeError, match=r"bilinear\(\): input1 size does not match weight size: got 4 but "
                                           "expected 3"):
        F.bilinear(ag.ones(2, 4), ag.ones(2, 4), ag.ones(2, 3, 4))


def _embedding_pair(torch, **kw):
    w = _arr((7, 4), 5, -2, 2)
    ours = nn.Embedding(7, 4, **kw).double()
    theirs = torch.nn.Embedding(7, 4, **kw).double()
    with ag.no_grad():
        ours.weight.copy_(ag.tensor(w))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
    return ours, theirs


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                {"padding_idx": 0, "scale_grad_by_freq": True}, {"max_norm": 1.5},
                                {"max_norm": 2.0, "norm_type": 1.0, "padding_idx": 3}])
def test_embedding_matches_torch(kw):
    torch = _torch()
    ours, theirs = _embedding_pair(torch, **kw)
    assert repr(ours) == repr(theirs)
    idx = np.array([[0, 2, 2, 6], [3, 2, 0, 1], [6, 6, 6, 5]])
    go = _arr((3, 4, 4), 9)
    y = ours(ag.tensor(idx))
    ty = theirs(torch.tensor(idx))
    assert_close(y.detach().numpy(), ty.detach().numpy(), 1e-12, 1e-12)
    assert_close(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), 1e-12, 1e-12)   # max_norm renorm
    y.backward(ag.tensor(go))
    ty.backward(torch.tensor(go))
    assert_close(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), 1e-12, 1e-12)


def test_embedding_init_errors_and_from_pretrained():
    torch = _torch()
    ag.manual_seed(0)
    e = nn.Embedding(1000, 20, padding_idx=3)
    w = e.weight.detach().numpy()
    assert (w[3] == 0).all() and abs(w.std() - 1) < 0.05 and abs(w.mean()) < 0.05
    assert e(ag.tensor([1, 2], dtype=ag.int32)).shape == (2, 20)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.Embedding(3, 2, sparse=True)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        F.embedding(ag.tensor([0]), ag.ones(3, 2), sparse=True)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(ag.tensor([3]), ag.ones(3, 2))
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices' to have one of the following "
                                           "scalar types: Long, Int; but got autograd_gpu.FloatTensor instead"):
        F.embedding(ag.tensor([1.0]), ag.ones(3, 2))
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        F.embedding(ag.tensor([1]), ag.ones(3))
    pre = ag.tensor(_arr((3, 2)))
    fp = nn.Embedding.from_pretrained(pre)
    assert not fp.weight.requires_grad and fp.weight.shape == (3, 2)
    assert nn.Embedding.from_pretrained(pre, freeze=False, padding_idx=1).weight.requires_grad
    assert repr(fp) == repr(torch.nn.Embedding.from_pretrained(torch.tensor(_arr((3, 2)))))
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dimensional"):
        nn.Embedding.from_pretrained(ag.ones(3))


def test_embedding_double_backward_and_cpu_backward_path():
    w = ag.tensor(_arr((5, 3)), requires_grad=True)
    idx = ag.tensor([[0, 2, 2], [4, 1, 0]])
    assert ag.autograd.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    # padding_idx: the second derivative flows through the lookup of the masked gradient
    (g,) = ag.autograd.grad((F.embedding(idx, w, padding_idx=2) ** 2).sum(), w, create_graph=True)
    assert (g.detach().numpy()[2] == 0).all()
    g.sum().backward()
    expect = np.zeros((5, 3))
    for i in idx.numpy().reshape(-1):
        if i != 2:
            expect[i] += 2
    assert_close(w.grad.numpy(), expect)


def test_one_hot_errors():
    torch = _torch()
    x = np.array([[0, 3], [1, 1]])
    np.testing.assert_array_equal(F.one_hot(ag.tensor(x)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(x)).numpy())
    assert F.one_hot(ag.tensor(x), 6).shape == (2, 2, 6) and F.one_hot(ag.tensor(x)).dtype == ag.int64
    for args, msg in [((ag.tensor([-1]),), "Class values must be non-negative."),
                      ((ag.tensor([3]), 2), "Class values must be smaller than num_classes."),
                      ((ag.tensor([], dtype=ag.int64),), "Can not infer total number of classes from empty tensor."),
                      ((ag.tensor([1.0]),), "one_hot is only applicable to index tensor of type LongTensor."),
                      ((ag.tensor([1], dtype=ag.int32),), "one_hot is only applicable to index tensor")]:
        with pytest.raises(RuntimeError, match=msg):
            F.one_hot(*args)


# torch state_dicts load 1:1 ------------------------------------------------------------------------
def test_load_torch_state_dicts():
    torch = _torch()
    pairs = [
        (nn.Linear(4, 3), torch.nn.Linear(4, 3)),
        (nn.Embedding(6, 4, padding_idx=0), torch.nn.Embedding(6, 4, padding_idx=0)),
        (nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)),
         torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))),
        (nn.Sequential(OrderedDict(a=nn.Flatten(), b=nn.Linear(4, 2))),
         torch.nn.Sequential(OrderedDict(a=torch.nn.Flatten(), b=torch.nn.Linear(4, 2)))),
        (nn.ModuleList([nn.Linear(4, 4), nn.Bilinear(4, 4, 2)]),
         torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Bilinear(4, 4, 2)])),
    ]
    for ours, theirs in pairs:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [tuple(v.shape) for v in ours.state_dict().values()] == \
            [tuple(v.shape) for v in theirs.state_dict().values()]
        _load_from_torch(ours, theirs)
    x = _arr((2, 4)).astype(np.float32)
    for (ours, theirs) in pairs[:4]:
        inp = np.array([[1, 5], [0, 2]]) if isinstance(ours, nn.Embedding) else x
        assert_close(ours(ag.tensor(inp)).detach().numpy(), theirs(torch.tensor(inp)).detach().numpy(), 1e-5, 1e-6)


# CUDA against CPU ---------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float16, ag.float32, ag.float64])
@pytest.mark.parametrize("kw", [{}, {"padding_idx": 1, "scale_grad_by_freq": True}])
def test_embedding_cuda_matches_cpu(dtype, kw):
    w = _arr((9, 5), 1)
    idx = np.random.default_rng(0).integers(0, 9, (4, 7))
    go = _arr((4, 7, 5), 2)
    res = []
    for dev in ("cpu", "cuda"):
        dt = ag.float32 if dev == "cpu" and dtype is ag.float16 else dtype
        wt = ag.tensor(w, dtype=dt, device=dev, requires_grad=True)
        y = F.embedding(ag.tensor(idx, device=dev), wt, **kw)
        y.backward(ag.tensor(go, dtype=dt, device=dev))
        res.append((y.detach().cpu().float().numpy(), wt.grad.cpu().float().numpy()))
    tol = 1e-2 if dtype is ag.float16 else 1e-6
    for a, b in zip(*res):
        assert_close(a, b, tol, tol)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(ag.tensor([9], device="cuda"), ag.ones(9, 2, device="cuda"))
    oh = F.one_hot(ag.tensor(idx, device="cuda"), 10)
    np.testing.assert_array_equal(oh.cpu().numpy(), np.eye(10, dtype=np.int64)[idx])


@pytest.mark.cuda
def test_clip_grad_norm_cuda():
    grads = [_arr((30, 20), 1), _arr((7,), 2)]
    out = []
    for dev in ("cpu", "cuda"):
        ps = [nn.Parameter(ag.zeros(*g.shape, device=dev)) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = ag.tensor(g, dtype=ag.float32, device=dev)
        n = nn.utils.clip_grad_norm_(ps, 1.0)
        out.append((n.cpu().numpy(), [p.grad.cpu().numpy() for p in ps]))
    assert_close(out[0][0], out[1][0], 1e-5, 1e-6)
    for a, b in zip(out[0][1], out[1][1]):
        assert_close(a, b, 1e-5, 1e-6)
