"""Random sampling: generators and seeding, distributions, multinomial, in-place samplers, errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_gpu as ag

ROOT = Path(__file__).resolve().parent.parent

TORCH_DEFAULT_SEED = 67280421310721


# generators and seeding ----------------------------------------------------------------------------------
def test_generator_api():
    g = ag.Generator()
    assert g.initial_seed() == TORCH_DEFAULT_SEED and str(g.device) == "cpu"
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert ag.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1
    s = g.seed()
    assert g.initial_seed() == s


def test_same_seed_same_numbers_for_every_sampler():
    def draws(g):
        x = ag.zeros(6)
        return [ag.rand(5, generator=g), ag.randn(5, generator=g), ag.randint(0, 100, (5,), generator=g),
                ag.randperm(7, generator=g), ag.multinomial(ag.ones(6), 3, generator=g),
                ag.bernoulli(ag.full((6,), 0.5), generator=g), ag.normal(0.0, 1.0, (4,), generator=g),
                ag.poisson(ag.full((4,), 3.0), generator=g), ag.rand_like(x, generator=g),
                x.clone().uniform_(generator=g), x.clone().normal_(generator=g), x.clone().exponential_(generator=g)]
    a = [t.numpy() for t in draws(ag.Generator().manual_seed(3))]
    b = [t.numpy() for t in draws(ag.Generator().manual_seed(3))]
    c = [t.numpy() for t in draws(ag.Generator().manual_seed(4))]
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
    assert sum(not np.array_equal(x, z) for x, z in zip(a, c)) >= len(a) - 2


def test_first_manual_seed_in_a_fresh_process_takes_effect():
    """The CPU backend comes up lazily, after the first ``manual_seed``: that seed must still apply
    (it was silently ignored, so the first seeded run of a script was not reproducible)."""
    code = ("import autograd_gpu as ag\n"
            "ag.manual_seed(0); a = ag.randn(5).tolist()\n"
            "ag.manual_seed(0); b = ag.randn(5).tolist()\n"
            "print(a == b, ag.initial_seed(), a)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split(" ", 2) for _ in range(2)]
    assert runs[0][:2] == ["True", "0"]
    assert runs[0][2] == runs[1][2]          # and the same numbers in every process


def test_generator_is_independent_of_the_global_one():
    g = ag.Generator().manual_seed(1)
    ag.manual_seed(0)
    first = ag.rand(4, generator=g).numpy()
    g_state = g.get_state()
    global_next = ag.rand(4).numpy()
    ag.rand(100)                                     # global draws do not move g
    g2 = ag.Generator().manual_seed(1)
    np.testing.assert_array_equal(ag.rand(4, generator=g2).numpy(), first)
    ag.manual_seed(0)
    ag.rand(4, generator=g)                          # g's draws do not move the global one
    np.testing.assert_array_equal(ag.rand(4).numpy(), global_next)
    g.set_state(g_state)
    np.testing.assert_array_equal(ag.rand(4, generator=g).numpy(), ag.rand(4, generator=g2).numpy())


def test_state_round_trips_and_errors():
    g = ag.Generator().manual_seed(9)
    state = g.get_state()
    assert state.dtype == ag.uint8 and state.device.type == "cpu"
    a = ag.randn(5, generator=g).numpy()
    assert g.set_state(state) is g
    np.testing.assert_array_equal(ag.randn(5, generator=g).numpy(), a)
    assert g.initial_seed() == 9
    with pytest.raises(TypeError, match="^RNG state must be a torch.ByteTensor$"):
        g.set_state(ag.zeros(3))
    with pytest.raises(RuntimeError):
        g.set_state(ag.zeros(3, dtype=ag.uint8))


def test_global_seed_and_rng_state():
    s = ag.seed()
    assert ag.initial_seed() == s
    state = ag.get_rng_state()
    a = ag.rand(3).numpy()
    ag.set_rng_state(state)
    np.testing.assert_array_equal(ag.rand(3).numpy(), a)
    ag.manual_seed(2)
    b = ag.randn(3).numpy()
    ag.manual_seed(2)
    np.testing.assert_array_equal(ag.randn(3).numpy(), b)


def test_generator_type_errors():
    with pytest.raises(TypeError):
        ag.rand(3, generator=1)


# distributions ----------------------------------------------------------------------------------------------
def _moments(t):
    a = t.numpy().astype(np.float64)
    return a.mean(), a.var()


@pytest.mark.parametrize("make,mean,var,tol", [
    (lambda g: ag.rand(20000, generator=g), 0.5, 1 / 12, 0.02),
    (lambda g: ag.randn(20000, generator=g), 0.0, 1.0, 0.05),
    (lambda g: ag.normal(2.0, 3.0, (20000,), generator=g), 2.0, 9.0, 0.1),
    (lambda g: ag.normal(ag.full((20000,), -1.0), 0.5, generator=g), -1.0, 0.25, 0.05),
    (lambda g: ag.zeros(20000).uniform_(-2, 4, generator=g), 1.0, 3.0, 0.05),
    (lambda g: ag.zeros(20000).normal_(1, 2, generator=g), 1.0, 4.0, 0.05),
    (lambda g: ag.zeros(20000).exponential_(2.0, generator=g), 0.5, 0.25, 0.05),
    (lambda g: ag.zeros(20000).geometric_(0.25, generator=g), 4.0, 12.0, 0.05),
    (lambda g: ag.zeros(20000, dtype=ag.float64).log_normal_(0.0, 0.5, generator=g), np.exp(0.125),
     (np.exp(0.25) - 1) * np.exp(0.25), 0.05),
    (lambda g: ag.zeros(20000).bernoulli_(0.3, generator=g), 0.3, 0.21, 0.05),
    (lambda g: ag.bernoulli(ag.full((20000,), 0.7), generator=g), 0.7, 0.21, 0.05),
    (lambda g: ag.poisson(ag.full((20000,), 4.0), generator=g), 4.0, 4.0, 0.05),
    (lambda g: ag.zeros(20000).random_(0, 10, generator=g), 4.5, 8.25, 0.05),
    (lambda g: ag.randint_like(ag.zeros(20000), 3, 7, generator=g), 4.5, 1.25, 0.05),
])
def test_moments(make, mean, var, tol):
    m, v = _moments(make(ag.Generator().manual_seed(0)))
    assert abs(m - mean) <= tol * max(1.0, abs(mean)) and abs(v - var) <= 2 * tol * max(1.0, var), (m, v)


def test_cauchy_median_and_ranges():
    g = ag.Generator().manual_seed(0)
    c = ag.zeros(20000).cauchy_(1.0, 2.0, generator=g).numpy()
    assert abs(np.median(c) - 1.0) < 0.1 and abs(np.percentile(c, 75) - 3.0) < 0.2
    r = ag.zeros(1000, dtype=ag.int64).random_(generator=g).numpy()
    assert (r >= 0).all() and r.max() > 2 ** 60
    assert ag.zeros(100, dtype=ag.float32).random_(generator=g).numpy().max() <= 2 ** 24
    assert set(np.unique(ag.zeros(200).random_(3, generator=g).numpy())) == {0, 1, 2}


def test_normal_gradients():
    mean = ag.zeros(5, dtype=ag.float64, requires_grad=True)
    std = ag.full((5,), 2.0, dtype=ag.float64, requires_grad=True)
    out = ag.normal(mean, std)
    out.sum().backward()
    np.testing.assert_allclose(mean.grad.numpy(), 1.0)
    np.testing.assert_allclose(std.grad.numpy(), out.detach().numpy() / 2.0)
    assert ag.normal(ag.zeros(2, 3), ag.ones(3)).shape == (2, 3)
    assert ag.normal(0.0, 1.0, (2,), dtype=ag.float64).dtype == ag.float64


# multinomial -----------------------------------------------------------------------------------------------------
def test_multinomial_with_replacement_frequencies():
    p = np.array([0.1, 0.0, 0.2, 0.7])
    out = ag.multinomial(ag.tensor(np.stack([p, p[::-1]])), 20000, True, generator=ag.Generator().manual_seed(0))
    assert out.shape == (2, 20000) and out.dtype == ag.int64
    for row, probs in zip(out.numpy(), (p, p[::-1])):
        np.testing.assert_allclose(np.bincount(row, minlength=4) / 20000, probs, atol=0.015)


def test_multinomial_without_replacement():
    g = ag.Generator().manual_seed(1)
    probs = ag.tensor([[1.0, 2.0, 0.0, 4.0, 1.0]] * 300)
    out = ag.multinomial(probs, 4, generator=g).numpy()
    assert all(len(set(r)) == 4 for r in out.tolist())
    assert (out != 2).all(), "a zero-probability category drawn while others remained"
    first = np.bincount(out[:, 0], minlength=5) / 300
    np.testing.assert_allclose(first, [0.125, 0.25, 0, 0.5, 0.125], atol=0.08)
    assert sorted(ag.multinomial(ag.tensor([0.0, 0.0, 1.0]), 2).tolist())[-1] == 2
    assert ag.tensor([0.2, 0.8]).multinomial(1).shape == (1,)


def test_multinomial_errors():
    cases = [((ag.ones(2, 2, 2), 1), "prob_dist must be 1 or 2 dim"),
             ((ag.ones(3, dtype=ag.int64), 1), "multinomial only supports floating-point dtypes for input, got: Long"),
             ((ag.ones(3), 4), "cannot sample n_sample > prob_dist.size(-1) samples without replacement"),
             ((ag.ones(3), 0), "cannot sample n_sample <= 0 samples"),
             ((ag.tensor([1.0, -1.0]), 1), "probability tensor contains either `inf`, `nan` or element < 0"),
             ((ag.tensor([1.0, float("nan")]), 1), "probability tensor contains either `inf`, `nan` or element < 0"),
             ((ag.tensor([1.0, float("inf")]), 1), "probability tensor contains either `inf`, `nan` or element < 0"),
             ((ag.tensor([[0.0, 0.0], [1.0, 1.0]]), 1), "invalid multinomial distribution (sum of probabilities <= 0)")]
    for args, msg in cases:
        with pytest.raises(RuntimeError) as e:
            ag.multinomial(*args)
        assert str(e.value) == msg


# in-place samplers ----------------------------------------------------------------------------------------------
def test_inplace_samplers_bump_version_and_follow_the_leaf_rule():
    for name, args in (("uniform_", ()), ("normal_", ()), ("bernoulli_", (0.5,)), ("random_", (0, 5)),
                       ("exponential_", ()), ("geometric_", (0.5,)), ("log_normal_", ()), ("cauchy_", ())):
        x = ag.zeros(4)
        v = x._version
        assert getattr(x, name)(*args) is x and x._version > v
        leaf = ag.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            getattr(leaf, name)(*args)
        with ag.no_grad():
            getattr(leaf, name)(*args)
    base = ag.ones(3, requires_grad=True)
    y = base * 2
    y.uniform_()
    y.sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), 0)


def test_sampler_errors_match_torch_messages():
    cases = [(lambda m: m.zeros(3).uniform_(2, 1), RuntimeError,
              "uniform_ expects to return a [from, to) range, but found from=2 > to=1"),
             (lambda m: m.zeros(3).normal_(0, -1), RuntimeError, "normal expects std >= 0.0, but found std -1"),
             (lambda m: m.zeros(3).exponential_(0), RuntimeError, "exponential_ expects lambda > 0.0, but found lambda=0"),
             (lambda m: m.zeros(3).geometric_(1.5), RuntimeError, "geometric_ expects p to be in (0, 1), but got p=1.5"),
             (lambda m: m.zeros(3).log_normal_(1, -1), RuntimeError,
              "log_normal_ expects std > 0.0, but found std=-1"),
             (lambda m: m.zeros(3).cauchy_(0, -1), RuntimeError, "cauchy_ expects sigma > 0.0, but found sigma=-1"),
             (lambda m: m.zeros(3).random_(5, 2), RuntimeError,
              "random_ expects 'from' to be less than 'to', but got from=5 >= to=2"),
             (lambda m: m.zeros(3).bernoulli_(1.5), RuntimeError, "bernoulli_ expects p to be in [0, 1], but got p=1.5"),
             (lambda m: m.bernoulli(m.zeros(3), 1.5), RuntimeError, "bernoulli_ expects p to be in [0, 1], but got p=1.5"),
             (lambda m: m.normal(m.zeros(3), -1.0), RuntimeError, "normal expects std >= 0.0, but found std -1"),
             (lambda m: m.normal(m.zeros(3), m.tensor([1.0, -1.0, 1.0])), RuntimeError,
              "normal expects all elements of std >= 0.0"),
             (lambda m: m.poisson(m.tensor([-1.0])), RuntimeError,
              "invalid Poisson rate, expected rate to be non-negative"),
             (lambda m: m.zeros(3, dtype=m.int64).uniform_(), NotImplementedError,
              "\"check_uniform_bounds\" not implemented for 'Long'"),
             (lambda m: m.rand_like(m.zeros(3, dtype=m.int64)), NotImplementedError,
              "\"check_uniform_bounds\" not implemented for 'Long'")]
    try:
        import torch
    except ImportError:
        torch = None
    for case, exc, msg in cases:
        with pytest.raises(exc) as e:
            case(ag)
        assert str(e.value) == msg
        if torch is not None:
            with pytest.raises(exc) as e:
                case(torch)
            assert str(e.value) == msg


# CUDA ---------------------------------------------------------------------------------------------------------------
@pytest.mark.cuda
def test_cuda_generator_and_samplers():
    g = ag.Generator("cuda").manual_seed(3)
    state = g.get_state()
    assert state.numel() == 16
    a = ag.rand(1000, device="cuda", generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(ag.rand(1000, device="cuda", generator=g).cpu().numpy(), a.cpu().numpy())
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        ag.rand(3, device="cuda", generator=ag.Generator())
    ag.manual_seed(0)
    u, n = ag.rand(20000, device="cuda").cpu().numpy(), ag.randn(20000, device="cuda", dtype=ag.float64).cpu().numpy()
    assert abs(u.mean() - 0.5) < 0.02 and (u < 1).all() and (u >= 0).all()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    p = ag.tensor([[0.1, 0.0, 0.9]] * 2, device="cuda")
    out = ag.multinomial(p, 5000, True).cpu().numpy()
    np.testing.assert_allclose(np.bincount(out.ravel(), minlength=3) / 10000, [0.1, 0, 0.9], atol=0.02)
    assert ag.multinomial(p, 2).cpu().numpy()[:, 0].tolist().count(1) == 0
    x = ag.zeros(10000, device="cuda")
    assert abs(x.exponential_(2.0).cpu().numpy().mean() - 0.5) < 0.03
    assert abs(ag.poisson(ag.full((10000,), 3.0, device="cuda")).cpu().numpy().mean() - 3) < 0.1
    assert sorted(ag.randperm(50, device="cuda").cpu().numpy().tolist()) == list(range(50))
