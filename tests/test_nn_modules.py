"""nn: the activation modules and their functional forms (in-place forms, gradients at the kinks,
errors), softmax-family details, ``Parameter`` and ``Module`` (registration, traversal, state dict,
repr) -- against PyTorch where it is installed, else against values written out here."""
from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
import autograd_gpu.nn.functional as F
from autograd_gpu import nn
from helpers import assert_close, compare_devices

X = np.array([[-4.0, -3.0, -2.5, -1.0, -0.5, 0.0], [0.25, 1.0, 2.0, 3.0, 5.0, 6.5]])
# (ag constructor, torch constructor name, args, kwargs)
MODULES = [
    ("ReLU", (), {}), ("ReLU6", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}), ("GELU", (), {}),
    ("GELU", ("tanh",), {}), ("SiLU", (), {}), ("Softplus", (), {}), ("Softplus", (2.0, 1.0), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (), {}), ("ELU", (0.5,), {}), ("CELU", (), {}),
    ("CELU", (2.0,), {}), ("SELU", (), {}), ("Mish", (), {}), ("Hardtanh", (), {}), ("Hardtanh", (-2.0, 3.0), {}),
    ("Hardtanh", (), {"min_val": -0.5, "max_val": 0.75}), ("Hardsigmoid", (), {}), ("Hardswish", (), {}),
    ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Softmax", (1,), {}), ("Softmax", (), {"dim": 0}),
    ("LogSoftmax", (1,), {}), ("Softmin", (-1,), {}),
]
INPLACE = ["ReLU", "ReLU6", "SiLU", "LeakyReLU", "ELU", "CELU", "SELU", "Mish", "Hardtanh", "Hardsigmoid", "Hardswish"]


def _ids(rows):
    return [f"{n}{a}{k or ''}" for n, a, k in rows]


def _run(mod, make, x, **kw):
    """Output and input gradient (weights 1..n) of ``mod`` on a float64 copy of ``x``."""
    t = make(x, **kw).requires_grad_(True)
    y = mod(t)
    w = make(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)), **kw)
    (y * w).sum().backward()
    return y.detach().numpy(), t.grad.numpy()


# activation modules against torch's ---------------------------------------------------------------
@pytest.mark.parametrize("name,args,kwargs", MODULES, ids=_ids(MODULES))
def test_activation_module_matches_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    y, g = _run(ours, lambda a: ag.tensor(a, dtype=ag.float64), X)
    ty, tg = _run(theirs, lambda a: torch.tensor(a, dtype=torch.float64), X)
    assert_close(y, ty.numpy() if hasattr(ty, "numpy") else ty, 1e-12, 1e-12)
    tol = 1e-7 if name == "Hardsigmoid" else 1e-12   # torch multiplies by float(1/6) in float64
    assert_close(g, tg, tol, 1e-12)


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_module_matches_out_of_place(name):
    """inplace=True writes into its input (a non-leaf here), returns it, and backpropagates the same."""
    torch = pytest.importorskip("torch")
    results = []
    for lib, make in ((ag, lambda a: ag.tensor(a, dtype=ag.float64)), (torch, lambda a: torch.tensor(a, dtype=torch.float64))):
        for inplace in (False, True):
            mod = getattr(lib.nn, name)(inplace=inplace)
            leaf = make(X).requires_grad_(True)
            t = leaf * 1.0
            y = mod(t)
            assert (y is t) == inplace
            (y * make(np.arange(12.0).reshape(2, 6))).sum().backward()
            results.append((y.detach().numpy(), leaf.grad.numpy(), repr(mod)))
    for r in results[1:]:
        assert_close(r[0], results[0][0], 1e-12, 1e-12)
        assert_close(r[1], results[0][1], 1e-7, 1e-12)
    assert results[1][2] == results[3][2] and results[0][2] == results[2][2]   # reprs as torch's


def test_inplace_on_leaf_raises():
    x = ag.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.hardtanh(x, inplace=True)
    y = ag.tensor([-2.0, 0.5, 2.0])
    assert F.hardtanh(y, inplace=True) is y
    np.testing.assert_array_equal(y.numpy(), [-1.0, 0.5, 1.0])


# gradients at the kinks, first and second order --------------------------------------------------------
KINKS = [("hardtanh", np.array([-1.0, 1.0, -0.5, 0.0]), {}), ("hardtanh", np.array([-2.0, 3.0, 0.0]), dict(min_val=-2.0, max_val=3.0)),
         ("relu6", np.array([0.0, 6.0, 3.0, -1.0]), {}), ("hardsigmoid", np.array([-3.0, 3.0, 0.0, 4.0]), {}),
         ("hardswish", np.array([-3.0, 3.0, -4.0, 0.0, 5.0]), {}), ("celu", np.array([0.0, -1.0, 1.0]), {}),
         ("celu", np.array([0.0, -1.0]), dict(alpha=0.5)), ("selu", np.array([0.0, -1.0, 1.0]), {}),
         ("elu", np.array([0.0, -1.0, 1.0]), dict(alpha=0.5)), ("leaky_relu", np.array([0.0, -1.0, 1.0]), {}),
         ("mish", np.array([0.0, -30.0, 30.0]), {}), ("logsigmoid", np.array([0.0, -40.0, 40.0]), {}),
         ("softsign", np.array([0.0, -2.0, 2.0]), {})]


@pytest.mark.parametrize("name,x,kw", KINKS, ids=[f"{n}{k or ''}" for n, _, k in KINKS])
def test_kink_gradients_match_torch(name, x, kw):
    torch = pytest.importorskip("torch")
    out = []
    for lib, fn in ((ag, getattr(F, name)), (torch, getattr(torch.nn.functional, name))):
        t = lib.tensor(x, dtype=lib.float64).requires_grad_(True)
        y = fn(t, **kw)
        (g,) = lib.autograd.grad(y.sum(), t, create_graph=True)
        gg = None
        if name != "hardsigmoid":   # torch has no double backward of hardsigmoid
            (gg,) = lib.autograd.grad((g * lib.tensor(np.arange(1.0, x.size + 1), dtype=lib.float64)).sum(), t,
                                      allow_unused=True)
        out.append([y.detach().numpy(), g.detach().numpy(), None if gg is None else gg.numpy()])
    (y, g, gg), (ty, tg, tgg) = out
    assert_close(y, ty, 1e-12, 1e-12)
    assert_close(g, tg, 1e-7 if name == "hardsigmoid" else 1e-12, 1e-12)
    if tgg is not None:
        assert_close(gg, tgg, 1e-12, 1e-12)


def test_kink_gradients_written_out():
    """The same rules without torch: hardtanh' is 0 at its bounds, hardswish' 0 at -3 and 1 at 3."""
    x = ag.tensor([-1.0, 1.0, 0.0, -3.0, 3.0], dtype=ag.float64, requires_grad=True)
    (g,) = ag.autograd.grad(F.hardtanh(x).sum(), x)
    np.testing.assert_array_equal(g.numpy(), [0, 0, 1, 0, 0])
    (g,) = ag.autograd.grad(F.hardswish(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [1 / 6, 5 / 6, 0.5, 0, 1], rtol=1e-15)
    (g,) = ag.autograd.grad(F.relu6(x * 3 + 3).sum(), x)   # inputs 0, 6, 3, -6, 12
    np.testing.assert_array_equal(g.numpy(), [0, 0, 3, 0, 0])


# dtypes and errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["hardsigmoid", "hardswish", "celu", "selu", "mish", "logsigmoid"])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_float_only_activations_raise_like_torch(name, dtype):
    torch = pytest.importorskip("torch")
    with pytest.raises(NotImplementedError) as theirs:
        getattr(torch.nn.functional, name)(torch.tensor([1, 0], dtype=getattr(torch, dtype)))
    with pytest.raises(NotImplementedError) as ours:
        getattr(F, name)(ag.tensor([1, 0], dtype=getattr(ag, dtype)))
    assert str(ours.value) == str(theirs.value)


def test_hardtanh_relu6_on_integers_and_errors():
    x = ag.tensor([-7, -1, 0, 3, 9])
    for out, want in ((F.hardtanh(x), [-1, -1, 0, 1, 1]), (F.relu6(x), [0, 0, 0, 3, 6]),
                      (F.hardtanh(x, -2.7, 4.5), [-2, -1, 0, 3, 4])):   # bounds truncated to int64
        assert out.dtype == ag.int64
        np.testing.assert_array_equal(out.numpy(), want)
    with pytest.raises(NotImplementedError, match="Bool inputs not supported for hardtanh"):
        F.relu6(ag.tensor([True]))
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(ag.ones(2), 2.0, 1.0)
    with pytest.raises(AssertionError):
        nn.Hardtanh(1.0, 1.0)
    assert F.softsign(ag.tensor([1, -3])).dtype == ag.float32
    np.testing.assert_allclose(F.softsign(ag.tensor([1, -3])).numpy(), [0.5, -0.75])


def test_nan_and_inf_follow_torch():
    torch = pytest.importorskip("torch")
    s = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, -3.0, 3.0]
    for name in ["hardtanh", "relu6", "hardsigmoid", "hardswish", "celu", "selu", "mish", "logsigmoid", "softsign"]:
        for dt in ("float32", "float64"):
            t = torch.tensor(s, dtype=getattr(torch, dt), requires_grad=True)
            a = ag.tensor(s, dtype=getattr(ag, dt), requires_grad=True)
            ty, y = getattr(torch.nn.functional, name)(t), getattr(F, name)(a)
            np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6, err_msg=name)
            if name != "softsign":   # softsign's composite gradient at inf is nan in both, by different routes
                ty.sum().backward()
                y.sum().backward()
                np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6, err_msg=f"{name} grad")


# softmax family and normalize ------------------------------------------------------------------------
def test_softmax_over_empty_dim_and_methods():
    for fn in (ag.softmax, ag.log_softmax, F.softmin):
        out = fn(ag.zeros(0, 3), 0)
        assert tuple(out.shape) == (0, 3)
    x = ag.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    want = np.exp(x.numpy()) / np.exp(x.numpy()).sum(1, keepdims=True)
    assert_close(x.softmax(1).numpy(), want, 1e-6, 1e-7)
    y = x.log_softmax(dim=-1, dtype=ag.float64)
    assert y.dtype == ag.float64
    assert_close(y.numpy(), np.log(want), 1e-6, 1e-7)
    assert x.softmax(0, ag.float64).dtype == ag.float64
    with pytest.raises(TypeError, match='missing 1 required positional arguments: "dim"'):
        x.softmax()
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        ag.tensor([1, 2]).softmax(0)


def test_implicit_dim_warns_like_torch():
    for fn, ndim, dim in ((F.softmax, 2, 1), (F.log_softmax, 3, 0), (F.softmin, 1, 0), (F.softmax, 4, 1)):
        shape = (2,) + (3,) * (ndim - 1)
        x = ag.tensor(np.sin(np.arange(float(np.prod(shape)))).reshape(shape))
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {fn.__name__.lstrip('_nn_')}"):
            out = fn(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_close(out.numpy(), fn(x, dim).numpy(), 0, 0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        nn.Softmax()(ag.ones(2, 3))


def test_softmin_dtype_negates_first():
    out = F.softmin(ag.tensor([1, 2]), 0, dtype=ag.float64)
    assert out.dtype == ag.float64
    np.testing.assert_allclose(out.numpy(), [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))], rtol=1e-15)
    with pytest.raises(NotImplementedError):
        F.softmin(ag.tensor([1, 2]), 0)


def test_normalize_zero_rows_and_gradient():
    x = ag.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=ag.float64, requires_grad=True)
    y = F.normalize(x)
    np.testing.assert_allclose(y.detach().numpy(), [[0.6, 0.8], [0.0, 0.0]])
    (y * ag.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=ag.float64)).sum().backward()
    # d/dx (x/|x|) w = (w - y (y.w)) / |x|; the zero row divides by eps: w / eps
    np.testing.assert_allclose(x.grad.numpy()[0], (np.array([1.0, 2.0]) - np.array([0.6, 0.8]) * 2.2) / 5)
    np.testing.assert_allclose(x.grad.numpy()[1], [3e12, 4e12])
    torch = pytest.importorskip("torch")
    t = torch.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    (torch.nn.functional.normalize(t) * torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)).sum().backward()
    assert_close(x.grad.numpy(), t.grad.numpy(), 1e-12, 1e-12)


# Parameter ------------------------------------------------------------------------------------------
def test_parameter():
    p = nn.Parameter(ag.tensor([1.0, 2.0]))
    assert isinstance(p, ag.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert type(p * 2) is ag.Tensor
    (p * 3).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 3.0])
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q is not p and q.requires_grad
    np.testing.assert_array_equal(q.grad.numpy(), [3.0, 3.0])
    r = pickle.loads(pickle.dumps(nn.Parameter(ag.ones(2), requires_grad=False)))
    assert type(r) is nn.Parameter and not r.requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    base = ag.ones(2)
    shared = nn.Parameter(base)
    base.add_(1.0)
    np.testing.assert_array_equal(shared.detach().numpy(), [2.0, 2.0])   # same storage
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        nn.Parameter(ag.tensor([1, 2]))


# Module: registration, traversal, state dict, repr -- the same tree built in both libraries ------------------
def build(lib, tensor):
    class Block(lib.nn.Module):
        def __init__(self, k):
            super().__init__()
            self.weight = lib.nn.Parameter(tensor([[1.0, -2.0], [0.5, k]]))
            self.register_parameter("bias", None)
            self.register_buffer("running", tensor([0.1, -0.2]))
            self.register_buffer("scratch", tensor([1.0]), persistent=False)
            self.act = lib.nn.Softmax(dim=1)

        def forward(self, x):
            return self.act(x @ self.weight) + self.running

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = Block(3.0)
            self.second = Block(-1.0)
            self.again = self.first   # a shared submodule
            self.scale = lib.nn.Parameter(tensor([2.0]))
            self.tail = lib.nn.Sequential(lib.nn.Hardtanh(-0.5, 0.5), lib.nn.LeakyReLU(0.2, inplace=True))
            self.plain = tensor([5.0])   # a plain tensor attribute: not registered

        def forward(self, x):
            return self.tail(self.second(self.first(x)) * self.scale)
    return Net()


def _names(pairs):
    return [n for n, _ in pairs]


def test_module_tree_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = build(ag, lambda v: ag.tensor(v, dtype=ag.float64)), build(torch, lambda v: torch.tensor(v, dtype=torch.float64))
    assert repr(ours) == repr(theirs)
    for call in (lambda m: _names(m.named_parameters()), lambda m: _names(m.named_parameters(remove_duplicate=False)),
                 lambda m: _names(m.named_parameters("net", recurse=False)), lambda m: _names(m.named_buffers()),
                 lambda m: _names(m.named_buffers(remove_duplicate=False)), lambda m: _names(m.named_children()),
                 lambda m: _names(m.named_modules()), lambda m: _names(m.named_modules(prefix="root")),
                 lambda m: _names(m.named_modules(remove_duplicate=False)), lambda m: list(m.state_dict()),
                 lambda m: list(m.first.state_dict(prefix="p.")), lambda m: len(list(m.parameters())),
                 lambda m: len(list(m.modules())), lambda m: len(list(m.children())),
                 lambda m: [type(c).__name__ for c in m.modules()], lambda m: sorted(m.state_dict(keep_vars=True))):
        assert call(ours) == call(theirs)
    sd = ours.state_dict()
    assert sd["first.weight"].grad_fn is None and not sd["first.weight"].requires_grad
    assert ours.state_dict(keep_vars=True)["first.weight"] is ours.first.weight
    assert sd["again.weight"] is not None and "first.scratch" not in sd

    # the same values in both: forward and gradients agree
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    y, ty = ours(ag.tensor(x, dtype=ag.float64)), theirs(torch.tensor(x, dtype=torch.float64))
    assert_close(y.detach().numpy(), ty.detach().numpy(), 1e-12, 1e-12)
    y.sum().backward()
    ty.sum().backward()
    for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == tn
        assert_close(p.grad.numpy(), tp.grad.numpy(), 1e-12, 1e-12)

    # train / eval reach every module
    for m in (ours, theirs):
        m.eval()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()] == [False] * 8
    ours.train()
    assert all(m.training for m in ours.modules())


def test_module_registration_rules_and_errors():
    net = build(ag, lambda v: ag.tensor(v))
    with pytest.raises(AttributeError, match="^'Net' object has no attribute 'missing'$"):
        net.missing
    with pytest.raises(TypeError, match=r"cannot assign 'autograd_gpu.FloatTensor' as parameter 'scale' "
                                        r"\(autograd_gpu.nn.Parameter or None expected\)"):
        net.scale = ag.ones(1)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'first'"):
        net.first = 3
    with pytest.raises(KeyError, match="attribute 'scale' already exists"):
        net.register_buffer("scale", ag.ones(1))
    with pytest.raises(KeyError, match="contain"):
        net.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="cannot assign 'autograd_gpu.FloatTensor' object to parameter 'w'"):
        net.register_parameter("w", ag.ones(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        net.add_module("x", 3)
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(1)
    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(ag.ones(1))
        Bad()
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        nn.Sigmoid(foo=1)

    # reassigning moves a name between tables; None keeps the slot; del removes it
    net.scale = None
    assert "scale" in net._parameters and net.scale is None and "scale" not in dict(net.named_parameters())
    net.first = nn.ReLU()
    assert isinstance(net.first, nn.ReLU) and "first.weight" not in net.state_dict()
    del net.second
    assert "second" not in dict(net.named_children())
    net.plain = nn.Parameter(ag.ones(3))
    assert "plain" in dict(net.named_parameters())
    assert net.get_submodule("tail.0") is net.tail[0] and net.get_parameter("again.weight") is net.again.weight
    assert "scale" in dir(net)


def test_state_dict_roundtrip_and_load_errors():
    a, b = build(ag, lambda v: ag.tensor(v)), build(ag, lambda v: ag.tensor(v) * 0)
    w = b.first.weight
    res = b.load_state_dict(a.state_dict())
    assert repr(res) == "<All keys matched successfully>" and res.missing_keys == [] == res.unexpected_keys
    assert b.first.weight is w   # copied in place: optimizers keep their parameters
    np.testing.assert_array_equal(b.first.weight.detach().numpy(), a.first.weight.detach().numpy())
    np.testing.assert_array_equal(b.second.running.numpy(), a.second.running.numpy())
    sd = a.state_dict()
    sd["extra.key"] = ag.ones(1)
    del sd["scale"]
    with pytest.raises(RuntimeError) as err:
        b.load_state_dict(sd)
    assert str(err.value) == ('Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "scale". '
                              '\n\tUnexpected key(s) in state_dict: "extra.key". ')
    res = b.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["scale"] and res.unexpected_keys == ["extra.key"]   # reported, not raised
    sd = a.state_dict()
    sd["first.weight"] = ag.ones(3)
    with pytest.raises(RuntimeError, match="size mismatch for first.weight"):
        b.load_state_dict(sd)


def test_state_dict_errors_match_torch():
    torch = pytest.importorskip("torch")
    msgs = []
    for lib in (ag, torch):
        net = build(lib, lambda v, lib=lib: lib.tensor(v))
        sd = net.state_dict()
        sd["extra.key"] = lib.ones(1)
        sd["first.bogus"] = lib.ones(1)
        del sd["scale"], sd["second.running"]
        with pytest.raises(RuntimeError) as err:
            net.load_state_dict(sd)
        msgs.append(str(err.value))
        res = net.load_state_dict(sd, strict=False)
        msgs.append((res.missing_keys, res.unexpected_keys))
    assert msgs[0] == msgs[2] and msgs[1] == msgs[3]


def test_zero_grad_requires_grad_apply_and_to():
    net = build(ag, lambda v: ag.tensor(v))
    net(ag.ones(2, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Softmax", "Block", "Softmax", "Block", "Hardtanh", "LeakyReLU", "Sequential", "Net"]
    w = net.first.weight
    assert net.to(ag.float64) is net and net.first.weight is w   # parameters keep their identity
    assert w.dtype == ag.float64 and net.first.running.dtype == ag.float64
    assert net.float().first.weight.dtype == ag.float32
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(ag.int64)


def test_sequential():
    seq = nn.Sequential(nn.Hardtanh(), nn.ReLU6(), nn.Softmax(dim=0))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU6) and isinstance(seq[-1], nn.Softmax)
    assert [type(m).__name__ for m in seq[:2]] == ["Hardtanh", "ReLU6"]
    assert repr(seq) == ("Sequential(\n  (0): Hardtanh(min_val=-1.0, max_val=1.0)\n  (1): ReLU6()\n"
                         "  (2): Softmax(dim=0)\n)")
    out = seq(ag.tensor([-2.0, 0.5, 3.0]))
    e = np.exp([0.0, 0.5, 1.0])
    np.testing.assert_allclose(out.numpy(), e / e.sum(), rtol=1e-6)
    seq.append(nn.Tanh())
    del seq[0]
    assert _names(seq.named_children()) == ["0", "1", "2"] and isinstance(seq[2], nn.Tanh)
    with pytest.raises(IndexError):
        seq[3]


# CUDA against CPU --------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("name,args,kwargs", MODULES, ids=_ids(MODULES))
def test_activation_module_cuda_matches_cpu(name, args, kwargs):
    mod = getattr(nn, name)(*args, **kwargs)
    compare_devices(mod, X, dtype=ag.float32)
    compare_devices(mod, X, dtype=ag.float64)


@pytest.mark.cuda
@pytest.mark.parametrize("name,x,kw", KINKS, ids=[f"{n}{k or ''}" for n, _, k in KINKS])
def test_kinks_cuda_match_cpu(name, x, kw):
    compare_devices(lambda t: getattr(F, name)(t, **kw), x, dtype=ag.float64)


@pytest.mark.cuda
def test_integer_hardtanh_cuda():
    x = ag.tensor([-7, -1, 0, 3, 9], dtype=ag.int32)
    np.testing.assert_array_equal(F.hardtanh(x.cuda(), -2.7, 4.5).cpu().numpy(), [-2, -1, 0, 3, 4])
