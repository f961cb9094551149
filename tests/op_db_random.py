"""Op table rows: random sampling (``Generator``, seeding, multinomial, bernoulli, normal, poisson, the
``*_like`` and in-place samplers) and dropout.

Samplers are ``random_op``-style rows: a reference giving only shape and dtype, a ``check`` of the
values' range, and reproducibility under ``manual_seed`` (test_random). Their CUDA numbers differ
from the CPU ones by design, so the CUDA-vs-CPU value test is skipped (the test files check CUDA's
statistics). Dropout rows seed inside the call, so every finite-difference evaluation of gradcheck
sees the same mask; their check is that each element is 0 or the input scaled by ``1 / (1 - p)``."""
from __future__ import annotations

import numpy as np

import autograd_gpu as ag
from op_db import F64, FLOAT, Arr, Domain, OpInfo, S, cases, creation

F = ag.nn.functional
RAND_CUDA = {"cuda": "random numbers: CUDA's Philox stream differs from the CPU one (statistics in test_sampling)"}
PROBS = Arr((3, 5), Domain(0.1, 1.0))


def _t(a):
    return ag.tensor(a) if isinstance(a, np.ndarray) else a


def _sampler(name, ref, main, check, dtypes=FLOAT, method=False, torch="", **kw) -> OpInfo:
    """A row for a sampler of tensors: ``call`` converts NumPy inputs (test_random passes the raw samples)."""
    fn = (lambda x, *a, **k: getattr(_t(x), name)(*a, **k)) if method else \
        (lambda *a, **k: getattr(ag, name)(*[_t(v) for v in a], **k))
    return OpInfo(name, ref, cases(main), dtypes=dtypes, grad=0, call=fn, check=check, is_random=True,
                  compare_values=False, torch=torch, skips=dict(RAND_CUDA), **kw)


def _same(a, *args, dtype=None, **kwargs):
    return np.empty(a.shape, np.dtype(dtype.name) if dtype is not None else a.dtype)


def _in(lo, hi, integral=False):
    def check(out, *args, **kwargs):
        out = np.asarray(out)
        assert np.isfinite(out).all() and (out >= lo).all() and (out <= hi).all(), (out.min(), out.max())
        if integral:
            assert (out == np.round(out)).all()
    return check


def _multinomial_ref(p, n, replacement=False, **_):
    return np.empty(p.shape[:-1] + (n,), np.int64)


def _check_multinomial(out, p, n, replacement=False, **_):
    out = np.asarray(out)
    assert ((out >= 0) & (out < p.shape[-1])).all()
    if not replacement:
        rows = out.reshape(-1, n)
        assert all(len(set(r)) == n for r in rows.tolist()), "multinomial without replacement repeated a category"


def _check_normal(out, mean, std=1.0, size=None, **_):
    assert np.isfinite(out).all()


def _normal_ref(mean, std=1.0, size=None, **_):
    if size is not None:
        return np.empty(size, np.float32)
    shape = np.broadcast_shapes(np.shape(mean), np.shape(std))
    return np.empty(shape, (mean if isinstance(mean, np.ndarray) else std).dtype)


def _seeded(fn, **fixed):
    def call(x, *args, **kwargs):
        ag.manual_seed(0)
        return fn(x, *args, **{**fixed, **kwargs})
    return call


def _check_dropout(out, x, p=0.5, *args, **kwargs):
    out = np.asarray(out)
    scaled = x / (1 - p)
    assert np.all(np.isclose(out, 0) | np.isclose(out, scaled)), "dropout: elements neither 0 nor x / (1 - p)"


def _check_alpha(out, x, p=0.5, *args, **kwargs):
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    out = np.asarray(out)
    assert np.all(np.isclose(out, a * x + alpha * a * p) | np.isclose(out, alpha * a * (p - 1)))


def _dropout_row(name, fn, shapes, check, **fixed) -> OpInfo:
    return OpInfo(name, _same, cases([S(Arr(s), p) for s in shapes for p in (0.3, 0.5)]), dtypes=FLOAT,
                  call=_seeded(fn, **fixed), check=check, torch=None, grad=2, compare_values=False,
                  skips={"cuda": "dropout masks come from different Philox streams on CPU and CUDA "
                                 "(test_dropout checks CUDA's masks)"})


def _gen_draw(seed):
    g = ag.Generator().manual_seed(seed)
    return [ag.rand(4, generator=g).numpy(), g.initial_seed()]


def _check_gen(out, seed):
    np.testing.assert_array_equal(out[0], ag.rand(4, generator=ag.Generator().manual_seed(seed)).numpy())
    assert out[1] == seed


def _seed_call(_):
    return ag.seed()


def _check_seed(out, _):
    assert ag.initial_seed() == out


def _state_roundtrip(n):
    state = ag.get_rng_state()
    a = ag.rand(n).numpy()
    ag.set_rng_state(state)
    return [a, ag.rand(n).numpy(), state.numpy()]


def _check_roundtrip(out, n):
    np.testing.assert_array_equal(out[0], out[1])
    assert out[2].dtype == np.uint8


ROWS = [
    creation("Generator", None, [S(0), S(5)], call=_gen_draw, check=_check_gen, torch=None),
    creation("seed", None, [S(0)], call=_seed_call, check=_check_seed, torch=None),
    creation("get_rng_state", None, [S(3)], call=_state_roundtrip, check=_check_roundtrip, torch=None),
    creation("set_rng_state", None, [S(4)], call=_state_roundtrip, check=_check_roundtrip, torch=None),
    _sampler("multinomial", _multinomial_ref, [S(PROBS, 4), S(PROBS, 6, True), S(Arr((5,), Domain(0.1, 1.0)), 5),
                                               S(PROBS, 2, replacement=False)], _check_multinomial),
    _sampler("bernoulli", _same, [S(Arr((40, 50), Domain(0.0, 1.0))), S(Arr((3,)), 0.3)], _in(0, 1, True)),
    _sampler("normal", _normal_ref, [S(Arr((40, 50)), 2.0), S(Arr((3,)), Arr((3,), Domain(0.1, 2.0))),
                                     S(0.5, Arr((2, 3), Domain(0.1, 2.0))), S(0.0, 1.0, (2, 3))], _check_normal),
    _sampler("poisson", _same, [S(Arr((40, 50), Domain(0.5, 5.0)))], _in(0, 1e9, True)),
    _sampler("rand_like", _same, [S(Arr((40, 50))), S(Arr((2, 3)), dtype=F64)], _in(0, 1)),
    _sampler("randn_like", _same, [S(Arr((40, 50))), S(Arr((2, 3)))], _check_normal),
    _sampler("randint_like", _same, [S(Arr((40, 50)), 7), S(Arr((2, 3)), 2, 5)], _in(0, 7, True)),
    _sampler("uniform_", _same, [S(Arr((40, 50))), S(Arr((2, 3)), -2.0, 3.0)], _in(-2, 3), method=True,
             inplace_of="uniform"),
    _sampler("normal_", _same, [S(Arr((40, 50))), S(Arr((2, 3)), 1.0, 0.5)], _check_normal, method=True,
             inplace_of="normal"),
    _sampler("bernoulli_", _same, [S(Arr((40, 50))), S(Arr((2, 3)), 0.2)], _in(0, 1, True), method=True,
             inplace_of="bernoulli"),
    _sampler("random_", _same, [S(Arr((40, 50)), 0, 10), S(Arr((2, 3)), 4)], _in(0, 9, True), method=True,
             inplace_of="random"),
    _sampler("exponential_", _same, [S(Arr((40, 50))), S(Arr((2, 3)), 2.0)], _in(0, np.inf), method=True,
             inplace_of="exponential"),
    _sampler("geometric_", _same, [S(Arr((40, 50)), 0.3), S(Arr((2, 3)), 0.9)], _in(1, np.inf, True), method=True,
             inplace_of="geometric"),
    _sampler("log_normal_", _same, [S(Arr((40, 50))), S(Arr((2, 3)), 0.0, 0.5)], _in(0, np.inf), method=True,
             inplace_of="log_normal"),
    _sampler("cauchy_", _same, [S(Arr((40, 50))), S(Arr((2, 3)), 1.0, 0.5)], _in(-np.inf, np.inf), method=True,
             inplace_of="cauchy"),
    _dropout_row("dropout", F.dropout, [(4, 5), (2, 3, 4)], _check_dropout),
    _dropout_row("dropout1d", F.dropout1d, [(2, 3, 4), (3, 4)], _check_dropout),
    _dropout_row("dropout2d", F.dropout2d, [(2, 3, 2, 2), (3, 2, 2, 2)], _check_dropout),
    _dropout_row("dropout3d", F.dropout3d, [(2, 2, 2, 2, 2), (3, 2, 2, 2)], _check_dropout),
    _dropout_row("alpha_dropout", F.alpha_dropout, [(4, 5), (2, 3, 4)], _check_alpha, training=True),
    _dropout_row("feature_alpha_dropout", F.feature_alpha_dropout, [(2, 3, 4), (2, 3, 2, 2)], _check_alpha,
                 training=True),
]
