"""nn.RNN / LSTM / GRU and their cells: outputs, final states and every parameter gradient against
PyTorch with identical state_dicts (multi-layer, bidirectional, batch_first, initial states,
unbatched, proj_size), gradcheck of the cells and a small layer, parameter names/shapes/init,
PyTorch's errors and warnings, dropout between layers, and the PackedSequence refusal."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn
from helpers import check_grad, compare_devices

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """torch's backward of these tiny graphs is ~100x slower with 2 intra-op threads on this host."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _load(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: ag.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _sum_states(h):
    return sum((t ** 3).sum() for t in h) if isinstance(h, tuple) else (h ** 3).sum()


LAYERS = [("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2}), ("RNN", {"bias": False}),
          ("LSTM", {}), ("LSTM", {"num_layers": 2, "bidirectional": True}), ("LSTM", {"proj_size": 2}),
          ("LSTM", {"batch_first": True, "bidirectional": True, "proj_size": 3}),
          ("GRU", {}), ("GRU", {"num_layers": 3, "batch_first": True}), ("GRU", {"bidirectional": True, "bias": False})]


@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("initial", [False, True])
@pytest.mark.parametrize("cls,kw", LAYERS, ids=[f"{c}{k}" for c, k in LAYERS])
def test_layer_matches_torch(cls, kw, initial, unbatched):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(3, 4, dtype=torch.float64, **kw)
    ours = getattr(nn, cls)(3, 4, dtype=ag.float64, **kw)
    _load(ours, theirs)
    d = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    x = RNG.standard_normal((5, 3) if unbatched else (2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
    hsize = kw.get("proj_size") or 4
    h0 = RNG.standard_normal((d, hsize) if unbatched else (d, 2, hsize))
    c0 = RNG.standard_normal((d, 4) if unbatched else (d, 2, 4))
    results = []
    for lib in (torch, ag):
        xs = lib.tensor(x, requires_grad=True)
        args = [xs]
        if initial:
            h = lib.tensor(h0, requires_grad=True)
            args.append((h, lib.tensor(c0, requires_grad=True)) if cls == "LSTM" else h)
        mod = theirs if lib is torch else ours
        out, hn = mod(*args)
        ((out ** 2).sum() + _sum_states(hn)).backward()
        states = hn if isinstance(hn, tuple) else (hn,)
        grads = [p.grad for p in mod.parameters()] + [xs.grad]
        results.append([t.detach().numpy() for t in (out, *states, *grads)])
    for t, a in zip(*results):
        assert a.shape == t.shape
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cell_matches_torch(cls, unbatched):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, cls)(3, 4, dtype=torch.float64)
    ours = getattr(nn, cls)(3, 4, dtype=ag.float64)
    _load(ours, theirs)
    x, h = RNG.standard_normal((3,) if unbatched else (2, 3)), RNG.standard_normal((4,) if unbatched else (2, 4))
    res = []
    for lib, mod in ((torch, theirs), (ag, ours)):
        xs = lib.tensor(x, requires_grad=True)
        hx = (lib.tensor(h), lib.tensor(h * 0.5)) if cls == "LSTMCell" else lib.tensor(h)
        outs = []
        for state in (None, hx):
            o = mod(xs, state)
            outs += list(o) if isinstance(o, tuple) else [o]
        sum((o ** 2).sum() for o in outs).backward()
        res.append([t.detach().numpy() for t in outs + [p.grad for p in mod.parameters()] + [xs.grad]])
    for t, a in zip(*res):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12)


def test_rnn_relu_cell_and_no_bias():
    cell = nn.RNNCell(3, 2, bias=False, nonlinearity="relu")
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    assert repr(cell) == "RNNCell(3, 2, bias=False, nonlinearity=relu)"
    out = cell(ag.tensor(RNG.standard_normal((4, 3)), dtype=ag.float32))
    assert out.shape == (4, 2) and float(out.min()) >= 0


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_gradcheck(cls):
    cell = getattr(nn, cls)(2, 2, dtype=ag.float64)
    params = list(cell.parameters())
    x = ag.tensor(RNG.standard_normal((1, 2)), requires_grad=True)
    h = ag.tensor(RNG.standard_normal((1, 2)), requires_grad=True)

    # the cell's step with its parameters as gradcheck inputs
    from autograd_gpu.nn.modules import rnn as R
    step = {"RNNCell": R._STEPS["RNN_TANH"], "LSTMCell": R._lstm_step, "GRUCell": R._gru_step}[cls]

    def functional(x, h, w_ih, w_hh, b_ih, b_hh):
        c = h * 0.5 if cls == "LSTMCell" else None
        new_h, new_c = step(ag.nn.functional.linear(x, w_ih, b_ih), h, c, w_hh, b_hh, None)
        return new_h if new_c is None else new_h + new_c
    ps = [ag.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    check_grad(functional, x, h, *ps)


def test_layer_gradcheck_through_time():
    lstm = nn.LSTM(2, 2, num_layers=1, bidirectional=True, dtype=ag.float64)
    x = ag.tensor(RNG.standard_normal((3, 1, 2)), requires_grad=True)
    h = ag.tensor(RNG.standard_normal((2, 1, 2)), requires_grad=True)
    c = ag.tensor(RNG.standard_normal((2, 1, 2)), requires_grad=True)
    check_grad(lambda x, h, c: lstm(x, (h, c))[0], x, h, c, second_order=False)


def test_parameters_names_shapes_init():
    m = nn.LSTM(3, 8, num_layers=2, bidirectional=True, proj_size=2)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert names[5] == "weight_ih_l0_reverse" and len(names) == 20
    assert m.weight_ih_l1.shape == (32, 4) and m.weight_hh_l0.shape == (32, 2) and m.weight_hr_l1_reverse.shape == (2, 8)
    assert len(m.all_weights) == 4 and m.all_weights[1][0] is m.weight_ih_l0_reverse
    bound = 1 / np.sqrt(8)
    for p in m.parameters():
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound and np.abs(v).max() > bound / 2
    assert nn.GRU(3, 5).weight_ih_l0.shape == (15, 3) and nn.RNN(3, 5).weight_hh_l0.shape == (5, 5)
    assert repr(nn.LSTM(3, 4, 2, proj_size=2, dropout=0.3, bidirectional=True)) == \
        "LSTM(3, 4, proj_size=2, num_layers=2, dropout=0.3, bidirectional=True)"
    assert repr(nn.GRU(3, 4, batch_first=True, bias=False)) == "GRU(3, 4, bias=False, batch_first=True)"


def test_constructor_errors_and_warning():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1, but got dropout=0.5"):
        nn.GRU(3, 4, dropout=0.5)
    for kw, exc, msg in [({"dropout": 2}, ValueError, "dropout should be a number in range"),
                         ({"hidden_size": 0}, ValueError, "hidden_size must be greater than zero"),
                         ({"hidden_size": 4.0}, TypeError, "hidden_size should be of type int, got: float"),
                         ({"num_layers": 0}, ValueError, "num_layers must be greater than zero"),
                         ({"proj_size": 5}, ValueError, "proj_size has to be smaller than hidden_size")]:
        with pytest.raises(exc, match=msg):
            nn.LSTM(**{"input_size": 3, "hidden_size": 4, **kw})
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'."):
        nn.RNN(3, 4, nonlinearity="gelu")


def test_forward_errors_as_torch():
    lstm, gru, rnn = nn.LSTM(3, 4), nn.GRU(3, 4), nn.RNN(3, 4)
    r = ag.randn
    cases = [(lstm, (r(2, 2, 2, 3),), ValueError, "LSTM: Expected input to be 2D or 3D, got 4D instead"),
             (rnn, (r(2, 2, 2, 3),), ValueError, "RNN: Expected input to be 2D or 3D, got 4D tensor instead"),
             (lstm, (r(5, 2, 5),), RuntimeError, "input.size(-1) must be equal to input_size. Expected 3, got 5"),
             (lstm, (r(5, 2, 3), (r(1, 3, 4), r(1, 2, 4))), RuntimeError,
              "Expected hidden[0] size (1, 2, 4), got [1, 3, 4]"),
             (lstm, (r(5, 2, 3), (r(1, 2, 4), r(2, 2, 4))), RuntimeError,
              "Expected hidden[1] size (1, 2, 4), got [2, 2, 4]"),
             (lstm, (r(5, 3), (r(1, 2, 4), r(1, 2, 4))), RuntimeError,
              "For unbatched 2-D input, hx and cx should also be 2-D but got (3-D, 3-D) tensors"),
             (gru, (r(5, 2, 3), r(2, 2, 4)), RuntimeError, "Expected hidden size (1, 2, 4), got [2, 2, 4]"),
             (gru, (r(5, 2, 3), r(2, 4)), RuntimeError,
              "For batched 3-D input, hx should also be 3-D but got 2-D tensor"),
             (gru, (r(5, 2, 3, dtype=ag.float64),), ValueError, "RNN input dtype"),
             (nn.GRUCell(3, 4), (r(2, 2, 3),), ValueError, "GRUCell: Expected input to be 1D or 2D, got 3D instead"),
             (nn.GRUCell(3, 4), (r(2, 5),), RuntimeError, "input has inconsistent input_size: got 5 expected 3"),
             (nn.LSTMCell(3, 4), (r(2, 3), (r(3, 4), r(3, 4))), RuntimeError,
              "Input batch size 2 doesn't match hidden0 batch size 3"),
             (nn.LSTMCell(3, 4), (r(2, 3), (r(2, 4), r(2, 5))), RuntimeError,
              "hidden1 has inconsistent hidden_size: got 5, expected 4")]
    for mod, args, exc, msg in cases:
        with pytest.raises(exc) as info:
            mod(*args)
        assert msg in str(info.value)


def test_packed_sequence_is_refused():
    class PackedSequence(tuple):
        pass
    with pytest.raises(NotImplementedError, match="PackedSequence"):
        nn.LSTM(3, 4)(PackedSequence((ag.randn(5, 3), ag.tensor([2, 2, 1]))))


def test_dropout_between_layers():
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = ag.randn(5, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.eval()
        a, b = m(x)[0], m(x)[0]
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())   # eval: no dropout
        m.train()
        ag.manual_seed(1)
        c = m(x)[0]
        ag.manual_seed(2)
        d = m(x)[0]
    assert not np.array_equal(c.detach().numpy(), d.detach().numpy())


def test_empty_sequence_and_float32():
    m = nn.LSTM(3, 4)
    out, (h, c) = m(ag.randn(0, 2, 3))
    assert out.shape == (0, 2, 4) and h.shape == (1, 2, 4)
    out, h = nn.GRU(3, 4, batch_first=True)(ag.randn(2, 5, 3))
    assert out.dtype == ag.float32 and out.shape == (2, 5, 4) and h.shape == (1, 2, 4)


@pytest.mark.cuda
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_layer_cuda_matches_cpu(cls):
    mod = getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True)
    sd = {k: v.detach().numpy() for k, v in mod.state_dict().items()}

    def fn(x):
        m = getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True).to(x.device)
        m.load_state_dict({k: ag.tensor(v, device=x.device) for k, v in sd.items()})
        return m(x)[0]
    compare_devices(fn, RNG.standard_normal((5, 2, 3)).astype(np.float32))
