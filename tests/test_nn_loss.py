"""The losses beyond what the op table's rows express: weights, ignore_index, label smoothing,
probability targets, (N, C, d1, d2) shapes, every reduction, against PyTorch (values and float64
gradients); gradcheck/gradgradcheck of the fused nodes; PyTorch's errors and warnings; the modules
(constructor arguments, buffers, state_dict keys); CUDA against CPU."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import check_grad, compare_devices

F = ag.nn.functional
RNG = np.random.default_rng(7)
REDS = ("mean", "sum", "none")


def _rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape)


def _targets(n_classes, *shape, ignore=True):
    t = RNG.integers(0, n_classes, shape)
    if ignore and t.size > 1:
        t.flat[1] = -100
    return t


def _to(mod, v, grad):
    if isinstance(v, np.ndarray):
        return mod.tensor(v, requires_grad=grad and v.dtype.kind == "f")
    return v


def against_torch(name, args, kwargs=None, grad_args=(0,), grad_kwargs=(), rtol=1e-9, atol=1e-11):
    """F.<name> of ours vs torch's on the same float64 data: value, shape, dtype and the gradients of
    the positional args in ``grad_args`` and the keyword args in ``grad_kwargs``."""
    torch = pytest.importorskip("torch")
    kwargs = kwargs or {}
    outs = []
    for mod, fn in ((ag, getattr(F, name)), (torch, getattr(torch.nn.functional, name))):
        a = [_to(mod, v, i in grad_args) for i, v in enumerate(args)]
        k = {n: _to(mod, v, n in grad_kwargs) for n, v in kwargs.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(*a, **k)
        ins = [a[i] for i in grad_args] + [k[n] for n in grad_kwargs]
        go = mod.tensor(np.random.default_rng(3).standard_normal(tuple(out.shape)))
        grads = mod.autograd.grad(out, ins, go) if ins else ()
        outs.append((out.detach().numpy(), [g.numpy() for g in grads]))
    (o, gs), (to, tgs) = outs
    assert o.shape == to.shape and o.dtype == to.dtype
    np.testing.assert_allclose(o, to, rtol=rtol, atol=atol)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol)


# cross_entropy -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 3, 2), (5,)])
def test_cross_entropy_class_indices(reduction, weighted, smoothing, shape):
    x = _rand(*shape)
    C = shape[0] if len(shape) == 1 else shape[1]
    t = np.array(RNG.integers(0, C)) if len(shape) == 1 else _targets(C, shape[0], *shape[2:])
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kw["weight"] = RNG.uniform(0.2, 2.0, C)
    against_torch("cross_entropy", [x, t], kw)


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 2, 2), (4,)])
def test_cross_entropy_probabilities(reduction, weighted, smoothing, shape):
    x, y = _rand(*shape), RNG.uniform(0, 1, shape)
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    C = shape[0] if len(shape) == 1 else shape[1]
    if weighted:
        kw["weight"] = RNG.uniform(0.2, 2.0, C)
    against_torch("cross_entropy", [x, y], kw, grad_args=(0, 1), grad_kwargs=("weight",) if weighted else ())


def test_cross_entropy_ignore_index_and_all_ignored():
    x = _rand(4, 3)
    against_torch("cross_entropy", [x, np.array([0, 2, 2, 1])], {"ignore_index": 2})
    against_torch("cross_entropy", [x, np.array([0, 2, 2, 1])], {"ignore_index": 2, "label_smoothing": 0.1,
                                                                 "weight": RNG.uniform(0.5, 1, 3)})
    out = F.cross_entropy(ag.tensor(x), ag.tensor(np.full(4, -100)))
    assert np.isnan(out.item())
    assert np.isnan(F.nll_loss(ag.tensor(x), ag.tensor(np.full(4, -100))).item())
    assert F.nll_loss(ag.tensor(x), ag.tensor(np.full(4, -100)), reduction="sum").item() == 0.0


def test_cross_entropy_uint8_target_and_legacy_reduction():
    x = _rand(4, 3)
    t = np.array([0, 2, 1, 1], dtype=np.uint8)
    against_torch("cross_entropy", [x, t])
    with pytest.warns(UserWarning, match=r"size_average and reduce args will be deprecated, please use "
                                         r"reduction='sum' instead."):
        out = F.cross_entropy(ag.tensor(x), ag.tensor(t), size_average=False)
    np.testing.assert_allclose(out.item(), F.cross_entropy(ag.tensor(x), ag.tensor(t), reduction="sum").item())


def test_cross_entropy_is_one_node():
    x = ag.tensor(_rand(4, 3), requires_grad=True)
    out = F.cross_entropy(x, ag.tensor([0, 1, 2, 1]), label_smoothing=0.1)
    assert type(out.grad_fn).__name__ == "NllLossBackward0"
    assert [type(e[0]).__name__ for e in out.grad_fn.next_functions if e[0] is not None] == ["AccumulateGrad"]


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2, "weight": True}, {"reduction": "none"},
                                {"reduction": "sum", "ignore_index": 1}])
def test_cross_entropy_gradgradcheck(kw):
    kw = dict(kw)
    if kw.get("weight"):
        kw["weight"] = ag.tensor(RNG.uniform(0.5, 2.0, 4))
    x = ag.tensor(_rand(3, 4, 2), requires_grad=True)
    t = ag.tensor(RNG.integers(0, 4, (3, 2)))
    check_grad(lambda a: F.cross_entropy(a, t, **kw), x)


def test_cross_entropy_prob_gradgradcheck():
    x = ag.tensor(_rand(3, 4), requires_grad=True)
    y = ag.tensor(RNG.uniform(0, 1, (3, 4)), requires_grad=True)
    w = ag.tensor(RNG.uniform(0.5, 2.0, 4), requires_grad=True)
    check_grad(lambda a, b, c: F.cross_entropy(a, b, weight=c, label_smoothing=0.2), x, y, w)
    check_grad(lambda a, b: F.cross_entropy(a, b, reduction="none"), x, y)


# nll_loss -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 3, 2), (2, 3, 4), (2, 3, 2, 2, 2)])
def test_nll_loss(reduction, shape):
    x, t = _rand(*shape), _targets(shape[1], shape[0], *shape[2:])
    against_torch("nll_loss", [x, t], {"reduction": reduction, "weight": RNG.uniform(0.2, 2.0, shape[1])})
    against_torch("nll_loss", [x, np.where(t < 0, 0, t)], {"reduction": reduction, "ignore_index": 0})


def test_nll_loss_gradgradcheck():
    x = ag.tensor(_rand(4, 3), requires_grad=True)
    t = ag.tensor(np.array([0, 2, -100, 1]))
    w = ag.tensor(RNG.uniform(0.5, 2.0, 3))
    check_grad(lambda a: F.nll_loss(a, t, weight=w), x)
    check_grad(lambda a: F.nll_loss(a, t, reduction="none"), x)


# the elementwise and margin losses with what the table does not cover ---------------------------------------
@pytest.mark.parametrize("reduction", REDS)
def test_weighted_regression_losses(reduction):
    x, y, w = _rand(3, 4), _rand(3, 4), RNG.uniform(0.2, 2, (3, 4))
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        against_torch(name, [x, y], {"reduction": reduction, "weight": w}, grad_args=(0, 1))
    against_torch("smooth_l1_loss", [x, y], {"reduction": reduction, "beta": 0.5}, grad_args=(0, 1))


def test_broadcast_target_warns():
    x, y = ag.tensor(_rand(3, 4)), ag.tensor(_rand(4))
    with pytest.warns(UserWarning, match=r"Using a target size \(torch.Size\(\[4\]\)\) that is different to the input "
                                         r"size \(torch.Size\(\[3, 4\]\)\)"):
        out = F.mse_loss(x, y)
    np.testing.assert_allclose(out.item(), ((x.numpy() - y.numpy()) ** 2).mean())
    against_torch("mse_loss", [_rand(3, 4), _rand(4)], grad_args=(0, 1))


@pytest.mark.parametrize("reduction", REDS)
def test_bce_weight_and_pos_weight(reduction):
    p, y = RNG.uniform(0.05, 0.95, (3, 4)), RNG.uniform(0, 1, (3, 4))
    w = RNG.uniform(0.2, 2.0, (4,))
    against_torch("binary_cross_entropy", [p, y], {"weight": w, "reduction": reduction}, grad_args=(0, 1))
    against_torch("binary_cross_entropy_with_logits", [_rand(3, 4) * 10, y],
                  {"weight": w, "pos_weight": RNG.uniform(0.5, 3, 4), "reduction": reduction}, grad_args=(0, 1))


def test_bce_edges_match_torch():
    """log clamped at -100 forward; PyTorch's finite gradient at 0 and 1."""
    against_torch("binary_cross_entropy", [np.array([0.0, 1.0, 0.5, 1e-50]), np.array([1.0, 0.0, 0.5, 1.0])],
                  grad_args=(0,), rtol=1e-7)
    big = np.array([-800.0, 800.0, 0.0, 30.0])
    against_torch("binary_cross_entropy_with_logits", [big, np.array([1.0, 0.0, 0.5, 1.0])], grad_args=(0, 1))


def test_bce_gradgradcheck():
    p = ag.tensor(RNG.uniform(0.1, 0.9, (3, 2)), requires_grad=True)
    y = ag.tensor(RNG.uniform(0.1, 0.9, (3, 2)), requires_grad=True)
    w = ag.tensor(RNG.uniform(0.5, 2, (3, 2)))
    check_grad(lambda a, b: F.binary_cross_entropy(a, b, weight=w), p, y)
    pw = ag.tensor(RNG.uniform(0.5, 2, 2))
    check_grad(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=pw), p, y)


def test_kl_div_and_others_against_torch():
    x, y = np.log(RNG.uniform(0.1, 1, (3, 4))), RNG.uniform(0.0, 1, (3, 4))
    y[0, 0] = 0.0
    for red in ("mean", "batchmean", "sum", "none"):
        against_torch("kl_div", [x, y], {"reduction": red}, grad_args=(0,))
        against_torch("kl_div", [x, x * 0.5], {"reduction": red, "log_target": True}, grad_args=(0, 1))
    against_torch("multi_margin_loss", [_rand(3, 4) * 0.2, np.array([0, 3, 1])], {"weight": RNG.uniform(0.5, 1, 4)})
    against_torch("multilabel_soft_margin_loss", [_rand(3, 4), RNG.uniform(0, 1, (3, 4))],
                  {"weight": RNG.uniform(0.5, 1, 4)}, grad_args=(0, 1))
    against_torch("gaussian_nll_loss", [_rand(3, 4), _rand(3, 4), RNG.uniform(0.5, 1, 3)], grad_args=(0, 1, 2))
    against_torch("triplet_margin_loss", [_rand(3, 4), _rand(3, 4), _rand(3, 4)], {"p": 1, "margin": 2.0},
                  grad_args=(0, 1, 2))


# errors and warnings: PyTorch's types and messages -------------------------------------------------------------
def _t(a):
    return ag.tensor(np.asarray(a))


ERRORS = [
    (lambda: F.cross_entropy(_t(_rand(3, 4)), _t([0, 1, 5])), IndexError, "Target 5 is out of bounds."),
    (lambda: F.nll_loss(_t(_rand(3, 4)), _t([0, -5, 1])), IndexError, "Target -5 is out of bounds."),
    (lambda: F.cross_entropy(_t(_rand(3, 4)), _t([0, 1])), ValueError,
     "Expected input batch_size (3) to match target batch_size (2)."),
    (lambda: F.cross_entropy(_t(_rand(3, 4)), _t([0, 1, 1]), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
    (lambda: F.cross_entropy(_t(_rand(3, 4)), _t([0, 1, 1]), label_smoothing=1.5), RuntimeError,
     "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    (lambda: F.cross_entropy(_t(_rand(3, 4)), _t([0, 1, 1]), weight=_t(np.ones(3))), RuntimeError,
     "weight tensor should be defined either for all 4 classes or no classes but got weight tensor of shape: [3]"),
    (lambda: F.cross_entropy(_t(_rand(3, 4)), _t([0.0, 1.0, 1.0])), RuntimeError,
     "expected target dtype to be Long or Byte, but got Double"),
    (lambda: F.cross_entropy(_t(_rand(3, 4)), _t(_rand(3, 5))), RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    (lambda: F.nll_loss(_t(_rand(2, 3, 4, 5)), _t(np.zeros((2, 4, 6), np.int64))), RuntimeError,
     "size mismatch (got input: [2, 3, 4, 5] , target: [2, 4, 6]"),
    (lambda: F.nll_loss(_t(_rand(2, 3, 4)), _t(np.zeros((2, 5), np.int64))), RuntimeError,
     "Expected target size [2, 4], got [2, 5]"),
    (lambda: F.nll_loss(_t(_rand(2, 3, 4, 5)), _t(np.zeros((2, 4, 5), np.int64)), weight=_t(np.ones(2))),
     RuntimeError, "weight tensor should be defined either for all or no classes"),
    (lambda: F.nll_loss(_t(1.0), _t(1)), ValueError, "Expected 1 or more dimensions (got 0)"),
    (lambda: F.nll_loss(_t([[1, 2]]), _t([1])), NotImplementedError, "\"nll_loss_out_frame\" not implemented for 'Long'"),
    (lambda: F.nll_loss(_t(_rand(2, 3)), _t([1, 1]), weight=ag.ones(3, requires_grad=True)), RuntimeError,
     "The function 'nll_loss_forward' is not differentiable with respect to argument 'weight'. This input cannot "
     "have requires_grad True."),
    (lambda: F.nll_loss(_t(_rand(2, 3)), _t([1, 1]), weight=ag.ones(3)), RuntimeError,
     "expected scalar type Double but found Float"),
    (lambda: F.mse_loss(_t(_rand(3, 4)), _t(_rand(5))), RuntimeError,
     "The size of tensor a (4) must match the size of tensor b (5) at non-singleton dimension 1"),
    (lambda: F.mse_loss(_t([1, 2]), _t([1, 2])), NotImplementedError, "\"mse_cpu\" not implemented for 'Long'"),
    (lambda: F.l1_loss(_t(_rand(3)), _t(_rand(3)), reduction="x"), ValueError, "x is not a valid value for reduction"),
    (lambda: F.smooth_l1_loss(_t(_rand(3)), _t(_rand(3)), beta=-1), RuntimeError,
     "smooth_l1_loss does not support negative values for beta."),
    (lambda: F.huber_loss(_t(_rand(3)), _t(_rand(3)), delta=0), RuntimeError,
     "huber_loss does not support non-positive values for delta."),
    (lambda: F.mse_loss(_t(_rand(3)), _t(_rand(3)), weight=_t(_rand(2))), ValueError,
     "Weights and input must have the same size."),
    (lambda: F.binary_cross_entropy(_t([0.5, 1.5]), _t([0.5, 0.5])), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda: F.binary_cross_entropy(_t([0.5, 0.5]), _t([0.5, -0.5])), RuntimeError,
     "all elements of target should be between 0 and 1"),
    (lambda: F.binary_cross_entropy(_t([[0.5, 0.5]]), _t([0.5, 0.5])), ValueError,
     "Using a target size (torch.Size([2])) that is different to the input size (torch.Size([1, 2])) is deprecated. "
     "Please ensure they have the same size."),
    (lambda: F.binary_cross_entropy_with_logits(_t([[0.5, 0.5]]), _t([0.5, 0.5])), ValueError,
     "Target size (torch.Size([2])) must be the same as input size (torch.Size([1, 2]))"),
    (lambda: F.soft_margin_loss(_t([0.5]), ag.ones(1, dtype=ag.float64, requires_grad=True)), RuntimeError,
     "The function 'soft_margin_loss' is not differentiable with respect to argument 'target'. This input cannot "
     "have requires_grad True."),
    (lambda: F.triplet_margin_loss(_t(_rand(2, 3)), _t(_rand(2, 3)), _t(_rand(2, 3)), margin=0), ValueError,
     "margin must be greater than 0, got 0"),
    (lambda: F.multi_margin_loss(_t(_rand(2, 3)), _t([0, 1]), p=3), ValueError, "only p == 1 and p == 2 supported"),
    (lambda: F.margin_ranking_loss(_t(_rand(2)), _t(_rand(2)), _t(_rand(1, 2))), RuntimeError,
     "margin_ranking_loss : All input tensors should have same dimension but got sizes: input1: torch.Size([2]), "
     "input2: torch.Size([2]), target: torch.Size([1, 2]) "),
    (lambda: F.gaussian_nll_loss(_t(_rand(2, 3)), _t(_rand(2, 3)), _t(np.ones(4))), ValueError,
     "var is of incorrect size"),
    (lambda: F.gaussian_nll_loss(_t(_rand(2, 3)), _t(_rand(2, 3)), -1.0), ValueError,
     "var has negative entry/entries"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS, ids=[f"{i}" for i in range(len(ERRORS))])
def test_errors(fn, exc, msg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc) as info:
            fn()
    assert str(info.value) == msg


def test_kl_div_mean_warns():
    x = ag.tensor(_rand(2, 3))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, x.exp())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, x.exp(), reduction="batchmean")


# modules ------------------------------------------------------------------------------------------------------
def test_modules_match_functional_and_buffers():
    nn = ag.nn
    x, t = ag.tensor(_rand(4, 3)), ag.tensor(np.array([0, 2, 1, 1]))
    w = ag.tensor(RNG.uniform(0.5, 1, 3))
    m = nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1)
    assert list(m.state_dict()) == ["weight"] and m.reduction == "mean"
    np.testing.assert_allclose(m(x, t).item(), F.cross_entropy(x, t, w, ignore_index=1, label_smoothing=0.1).item())
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(weight=w, pos_weight=w).state_dict()) == ["weight", "pos_weight"]
    assert list(nn.NLLLoss(w).state_dict()) == ["weight"] and list(nn.BCELoss(w).state_dict()) == ["weight"]
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.MSELoss(reduce=False).reduction == "none"
    p = ag.tensor(RNG.uniform(0.1, 0.9, (4, 3)))
    pairs = [(nn.MSELoss(), F.mse_loss), (nn.L1Loss(reduction="sum"), lambda a, b: F.l1_loss(a, b, reduction="sum")),
             (nn.SmoothL1Loss(beta=0.5), lambda a, b: F.smooth_l1_loss(a, b, beta=0.5)),
             (nn.HuberLoss(delta=0.3), lambda a, b: F.huber_loss(a, b, delta=0.3)),
             (nn.BCELoss(), F.binary_cross_entropy), (nn.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits),
             (nn.KLDivLoss(reduction="batchmean"), lambda a, b: F.kl_div(a, b, reduction="batchmean")),
             (nn.SoftMarginLoss(), F.soft_margin_loss), (nn.PoissonNLLLoss(), F.poisson_nll_loss),
             (nn.MultiLabelSoftMarginLoss(), F.multilabel_soft_margin_loss)]
    for mod, fn in pairs:
        np.testing.assert_allclose(mod(p, p * 0.5).item(), fn(p, p * 0.5).item())


def test_module_state_dicts_match_torch():
    torch = pytest.importorskip("torch")
    w = np.ones(3)
    for name, kw in (("CrossEntropyLoss", {"weight": w}), ("NLLLoss", {"weight": w}), ("BCELoss", {"weight": w}),
                     ("BCEWithLogitsLoss", {"weight": w, "pos_weight": w}), ("MultiMarginLoss", {"weight": w}),
                     ("MultiLabelSoftMarginLoss", {"weight": w}), ("MSELoss", {}), ("HuberLoss", {}),
                     ("TripletMarginLoss", {}), ("GaussianNLLLoss", {}), ("CosineEmbeddingLoss", {})):
        ours = getattr(ag.nn, name)(**{k: ag.tensor(v) for k, v in kw.items()})
        theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kw.items()})
        assert list(ours.state_dict()) == list(theirs.state_dict()), name
        ours.load_state_dict({k: ag.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
        for attr in ("reduction", "ignore_index", "label_smoothing", "margin", "p", "eps", "swap", "delta",
                     "full", "log_input", "log_target", "beta"):
            assert getattr(ours, attr, None) == getattr(theirs, attr, None), (name, attr)


# CUDA ----------------------------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2}, {"reduction": "none"}, {"reduction": "sum"}])
def test_cross_entropy_cuda_matches_cpu(kw):
    t = _targets(5, 8)
    compare_devices(lambda x: F.cross_entropy(x, ag.tensor(t, device=x.device), **kw), _rand(8, 5))
    t4 = _targets(3, 2, 4, 4)
    compare_devices(lambda x: F.cross_entropy(x, ag.tensor(t4, device=x.device), **kw), _rand(2, 3, 4, 4))
    compare_devices(lambda x, y: F.cross_entropy(x, y, **kw), _rand(6, 300), RNG.uniform(0, 1, (6, 300)))
    compare_devices(lambda x: F.nll_loss(x, ag.tensor(t, device=x.device), **kw), _rand(8, 5))


@pytest.mark.cuda
def test_cross_entropy_cuda_weight_and_bounds():
    w = RNG.uniform(0.5, 2, 5)
    t = _targets(5, 7)
    compare_devices(lambda x: F.cross_entropy(x, ag.tensor(t, device=x.device), ag.tensor(w, dtype=x.dtype,
                                              device=x.device), label_smoothing=0.1), _rand(7, 5))
    with pytest.raises(IndexError, match="Target 9 is out of bounds."):
        F.cross_entropy(ag.tensor(_rand(2, 5), device="cuda"), ag.tensor([0, 9], device="cuda"))
