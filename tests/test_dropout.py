"""Dropout: masks from (seed, offset) regenerated in backward, PyTorch's semantics and errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn
from helpers import check_grad

F = nn.functional
ALPHA = 1.7580993408473766


def _x(*shape, seed=0, dtype=ag.float64, grad=True):
    return ag.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=dtype).requires_grad_(grad)


# the mask ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_mask_statistics_and_scaling(p):
    ag.manual_seed(1)
    x = ag.ones(200, 100)
    y = F.dropout(x, p).numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.02
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)


def test_gradient_is_the_same_mask_and_nothing_is_saved():
    x = _x(30, 40)
    y = F.dropout(x, 0.4)
    node = y.grad_fn
    assert node.name() == "NativeDropoutBackward0"
    assert node.saved_tensors == ()
    group, p, scale, seed, offset = node.key   # only the key: no mask array anywhere on the node
    assert (group, p) == (1, 0.4) and isinstance(seed, int) and isinstance(offset, int)
    assert not any(isinstance(v, (np.ndarray, ag.Tensor)) for v in vars(node).values())
    g = ag.tensor(np.random.default_rng(2).standard_normal((30, 40)))
    y.backward(g)
    mask = (y.detach().numpy() != 0) / 0.6
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() * mask, rtol=1e-12)


def test_manual_seed_reproduces_masks():
    x = ag.ones(50)
    ag.manual_seed(7)
    a, b = F.dropout(x).numpy(), F.dropout(x).numpy()
    ag.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x).numpy(), a)
    assert not np.array_equal(a, b), "two calls drew the same mask"


def test_gradcheck_and_gradgradcheck_with_a_fixed_seed():
    x = _x(3, 4, 2)

    def fn(t, f=F.dropout, **kw):
        ag.manual_seed(3)
        return f(t, 0.4, **kw)
    check_grad(fn, x)
    check_grad(lambda t: fn(t, F.dropout2d), _x(2, 3, 2, 2))
    check_grad(lambda t: fn(t, F.alpha_dropout, training=True), x)


def test_second_order_is_masked_too():
    x = _x(5, 6)
    y = F.dropout(x, 0.5)
    (g,) = ag.autograd.grad(y.sum(), x, create_graph=True)
    (gg,) = ag.autograd.grad((g * x).sum(), x)
    np.testing.assert_allclose(gg.numpy(), g.detach().numpy())


# identity, zeros, in place --------------------------------------------------------------------------------
def test_identity_cases_return_the_input():
    x = _x(3, 4)
    for out in (F.dropout(x, 0.0), F.dropout(x, 0.5, training=False), F.alpha_dropout(x, 0.5),
                F.feature_alpha_dropout(x, 0.5), F.dropout1d(x, 0.0), F.dropout(ag.ones(0) * x.sum(), 0.5)):
        assert out is x or out.numel() == 0


def test_p_one_gives_zeros_with_a_gradient():
    x = _x(3, 4)
    y = F.dropout(x, 1.0)
    assert not y.detach().numpy().any() and y.grad_fn is not None
    y.sum().backward()
    assert not x.grad.numpy().any()


def test_inplace():
    base = _x(4, 5)
    x = base * 1
    v = x._version
    ag.manual_seed(0)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x and x._version > v
    out.sum().backward()
    mask = (x.detach().numpy() != 0) * 2.0
    np.testing.assert_allclose(base.grad.numpy(), mask)
    leaf = _x(3)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        F.dropout(leaf, 0.5, inplace=True)


# channel-wise variants ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,shape,channel_dims", [
    (F.dropout1d, (4, 6, 5), 2), (F.dropout1d, (6, 5), 1), (F.dropout2d, (4, 6, 3, 3), 2),
    (F.dropout3d, (4, 6, 2, 2, 2), 2), (F.dropout3d, (6, 2, 2, 2), 1)])
def test_whole_channels_are_dropped(fn, shape, channel_dims):
    ag.manual_seed(2)
    y = fn(ag.ones(*shape), 0.5).numpy()
    per_channel = y.reshape(math.prod(shape[:channel_dims]), -1)
    assert (per_channel.min(1) == per_channel.max(1)).all()
    assert set(np.unique(per_channel)) == {0.0, 2.0}


def test_alpha_dropout_keeps_mean_and_variance():
    ag.manual_seed(4)
    x = ag.randn(400, 250, dtype=ag.float64)
    for y in (F.alpha_dropout(x, 0.2, True), F.feature_alpha_dropout(x.reshape(400, 250, 1), 0.2, True)):
        y = y.numpy()
        assert abs(y.mean()) < 0.05 and abs(y.std() - 1) < 0.05
    p = 0.3
    a = 1 / math.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    y = F.alpha_dropout(ag.zeros(1000), p, True).numpy()
    np.testing.assert_allclose(np.unique(y), sorted([ALPHA * a * (p - 1), ALPHA * a * p]), rtol=1e-6)


# errors and warnings (PyTorch's) -------------------------------------------------------------------------------
def test_errors():
    x = ag.ones(3)
    for f in (F.dropout, F.alpha_dropout, F.feature_alpha_dropout, F.dropout1d, F.dropout2d, F.dropout3d):
        with pytest.raises(ValueError, match=r"^dropout probability has to be between 0 and 1, but got 1.5$"):
            f(x, 1.5)
    with pytest.raises(ValueError, match="but got -0.1$"):
        nn.Dropout(-0.1)
    with pytest.raises(RuntimeError, match=r"^dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(ag.ones(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="^Feature dropout requires at least 2 dimensions in the input$"), \
            pytest.warns(UserWarning, match="Received a 1-D input to dropout2d"):
        F.dropout2d(x)
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired output type Long$"):
        F.dropout(ag.ones(3, dtype=ag.int64))


def test_warnings():
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d and assuming"):
        F.dropout2d(ag.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d, which is deprecated"):
        F.dropout2d(ag.ones(2, 3, 4, 5, 6))
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d, which is deprecated"):
        F.dropout3d(ag.ones(2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(ag.ones(2, 3, 4, 5))
        F.dropout3d(ag.ones(2, 3, 4, 5))


@pytest.mark.filterwarnings("ignore:dropout2d")
def test_messages_match_torch():
    torch = pytest.importorskip("torch")
    cases = [(lambda m: m.nn.functional.dropout(m.ones(3), 1.5)),
             (lambda m: m.nn.functional.dropout1d(m.ones(3), 0.5)),
             (lambda m: m.nn.functional.dropout2d(m.ones(3), 0.5)),
             (lambda m: m.nn.functional.dropout(m.ones(3, dtype=m.int64), 0.5))]
    for case in cases:
        with pytest.raises(Exception) as theirs:
            case(torch)
        with pytest.raises(type(theirs.value)) as ours:
            case(ag)
        assert str(ours.value) == str(theirs.value)


# modules --------------------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:dropout[23]d")
def test_modules():
    for cls in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout):
        assert repr(cls()) == f"{cls.__name__}(p=0.5, inplace=False)"
    assert repr(nn.Dropout(0.1, inplace=True)) == "Dropout(p=0.1, inplace=True)"
    m = nn.Dropout(0.5)
    x = ag.ones(4, 6, 3)
    assert (m(x).numpy() == 0).any()
    m.eval()
    assert m(x) is x
    for cls, shape in ((nn.Dropout1d, (2, 3, 4)), (nn.Dropout2d, (2, 3, 2, 2)), (nn.Dropout3d, (2, 3, 2, 2, 2)),
                       (nn.AlphaDropout, (5,)), (nn.FeatureAlphaDropout, (2, 3, 4))):
        m = cls(0.5)
        assert m(ag.ones(*shape)).shape == shape
        assert m.eval()(x) is x


def test_torch_statistics_agree():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ag.manual_seed(0)
    theirs = torch.nn.functional.dropout(torch.ones(100, 100), 0.3).numpy()
    ours = F.dropout(ag.ones(100, 100), 0.3).numpy()
    assert abs((theirs == 0).mean() - (ours == 0).mean()) < 0.03
    assert set(np.unique(theirs)) == set(np.unique(ours))


# CUDA: the Philox kernels ---------------------------------------------------------------------------------------
def _philox_ref(seed: int, ctr: np.ndarray) -> np.ndarray:
    """Philox4x32-10 in NumPy (uint64 arithmetic): the reference for kernels/random.cu."""
    m0, m1, w0, w1, mask = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85, 0xFFFFFFFF
    c = [ctr & mask, ctr >> 32, np.zeros_like(ctr), np.zeros_like(ctr)]
    k0, k1 = seed & mask, (seed >> 32) & mask
    for _ in range(10):
        p0, p1 = c[0] * m0, c[2] * m1
        c = [((p1 >> 32) ^ c[1] ^ k0) & mask, p1 & mask, ((p0 >> 32) ^ c[3] ^ k1) & mask, p0 & mask]
        k0, k1 = (k0 + w0) & mask, (k1 + w1) & mask
    return np.stack(c, -1)


def test_philox_reference_known_answer():
    # Random123's known-answer vectors for philox4x32-10
    np.testing.assert_array_equal(_philox_ref(0, np.array([0], np.uint64))[0],
                                  [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8])


@pytest.mark.cuda
def test_cuda_dropout_matches_the_philox_reference():
    from autograd_gpu.backends import cuda_random
    x = ag.ones(1000, 3, device="cuda")
    ag.manual_seed(5)
    y = F.dropout(x.requires_grad_(), 0.3)
    group, p, scale, seed, offset = y.grad_fn.key
    u = (_philox_ref(seed, np.arange(offset, offset + 3000, dtype=np.uint64))[:, 0] >> 8) / 16777216.0
    np.testing.assert_allclose(y.detach().cpu().numpy().ravel(), np.where(u >= 0.3, 1 / 0.7, 0.0), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), y.detach().cpu().numpy(), rtol=1e-6)
    assert cuda_random.uniform(0, (4,), np.float32, seed, offset).get().tolist() == \
        [float(v) for v in ((_philox_ref(seed, np.arange(offset, offset + 4, dtype=np.uint64))[:, 0] >> 8)
                            / 16777216.0).astype(np.float32)]


@pytest.mark.cuda
def test_cuda_channel_dropout_and_seeding():
    ag.manual_seed(9)
    a = F.dropout2d(ag.ones(8, 16, 3, 3, device="cuda"), 0.5).cpu().numpy()
    ag.manual_seed(9)
    b = F.dropout2d(ag.ones(8, 16, 3, 3, device="cuda"), 0.5).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    per = a.reshape(128, 9)
    assert (per.min(1) == per.max(1)).all() and 0.3 < (per[:, 0] == 0).mean() < 0.7
