"""autograd.functional: jacobian, hessian, vjp, jvp, vhp, hvp against closed forms."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd import functional as F
from helpers import assert_close, make


def np_(t):
    return t.detach()._data


def f_exp_mul(x, y):
    return x.exp() * y             # elementwise: diagonal Jacobians


def f_cubic(x):
    return (x * x * x).sum()       # Hessian diag(6x)


def f_quad(x, y):
    return (x * x * y).sum()       # mixed second derivatives


def test_jacobian_single_input_single_output_shape_and_values():
    x = make((2, 3))
    J = F.jacobian(lambda t: t.exp(), x)
    assert isinstance(J, ag.Tensor) and J.shape == (2, 3, 2, 3) and not J.requires_grad
    ref = np.diag(np.exp(np_(x)).ravel()).reshape(2, 3, 2, 3)
    assert_close(J, ref)
    assert x.grad is None  # inputs are re-leafed: nothing accumulates


def test_jacobian_tuple_structures():
    x, y = make((3,)), make((3,), seed=2)
    J = F.jacobian(f_exp_mul, (x, y))
    assert isinstance(J, tuple) and len(J) == 2
    assert_close(J[0], np.diag(np.exp(np_(x)) * np_(y)))
    assert_close(J[1], np.diag(np.exp(np_(x))))
    J2 = F.jacobian(lambda t: (t * 2, t.exp()), x)
    assert isinstance(J2, tuple) and len(J2) == 2 and isinstance(J2[0], ag.Tensor)
    assert_close(J2[0], 2 * np.eye(3))
    J3 = F.jacobian(lambda a, b: (a * b, a + b), (x, y))
    assert isinstance(J3, tuple) and isinstance(J3[1], tuple) and J3[1][1].shape == (3, 3)
    assert_close(J3[0][1], np.diag(np_(x)))
    assert_close(J3[1][0], np.eye(3))


def test_jacobian_scalar_output_and_unused_input():
    x, y = make((4,)), make((2,), seed=3)
    J = F.jacobian(lambda a, b: (a * a).sum(), (x, y))
    assert J[0].shape == (4,) and J[1].shape == (2,)
    assert_close(J[0], 2 * np_(x))
    assert_close(J[1], np.zeros(2))
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is independent of input 1"):
        F.jacobian(lambda a, b: (a * a).sum(), (x, y), strict=True)


def test_jacobian_matmul_against_matrix():
    A = make((3, 4), requires_grad=False, seed=9)
    x = make((4,))
    J = F.jacobian(lambda t: ag.matmul(A, t), x)
    assert_close(J, np_(A))


def test_jacobian_forward_mode_matches_reverse():
    x, y = make((2, 2)), make((2, 2), seed=4)
    rev = F.jacobian(f_exp_mul, (x, y))
    fwd = F.jacobian(f_exp_mul, (x, y), strategy="forward-mode", vectorize=True)
    for a, b in zip(rev, fwd):
        assert a.shape == b.shape == (2, 2, 2, 2)
        assert_close(a, b)
    with pytest.raises(ValueError, match="Expected strategy"):
        F.jacobian(f_exp_mul, (x, y), strategy="sideways")


def test_jacobian_create_graph_is_differentiable():
    x = make((3,))
    J = F.jacobian(lambda t: t * t * t, x, create_graph=True)
    assert J.requires_grad
    (g,) = ag.autograd.grad(J.sum(), x)
    assert_close(g, 6 * np_(x))


def test_hessian_single_and_tuple():
    x = make((3,))
    H = F.hessian(f_cubic, x)
    assert H.shape == (3, 3)
    assert_close(H, np.diag(6 * np_(x)))
    x, y = make((2,)), make((2,), seed=6)
    H = F.hessian(f_quad, (x, y))
    assert isinstance(H, tuple) and isinstance(H[0], tuple)
    assert_close(H[0][0], np.diag(2 * np_(y)))
    assert_close(H[0][1], np.diag(2 * np_(x)))
    assert_close(H[1][0], np.diag(2 * np_(x)))
    assert_close(H[1][1], np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="should contain a single element"):
        F.hessian(lambda t: t * t, make((3,)))


def test_hessian_forward_mode_outer():
    x = make((3,))
    H = F.hessian(f_cubic, x, outer_jacobian_strategy="forward-mode", vectorize=True)
    assert_close(H, np.diag(6 * np_(x)))


def test_vjp_structures_and_values():
    x, y = make((3,)), make((3,), seed=2)
    v = make((3,), requires_grad=False, seed=8)
    out, g = F.vjp(f_exp_mul, (x, y), v)
    assert isinstance(out, ag.Tensor) and not out.requires_grad and isinstance(g, tuple)
    assert_close(out, np.exp(np_(x)) * np_(y))
    assert_close(g[0], np_(v) * np.exp(np_(x)) * np_(y))
    assert_close(g[1], np_(v) * np.exp(np_(x)))
    out, g = F.vjp(f_cubic, x)
    assert isinstance(g, ag.Tensor) and out.shape == ()
    assert_close(g, 3 * np_(x) ** 2)


def test_vjp_errors():
    x = make((3,))
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided function returns a "
                                           "single Tensor with a single element"):
        F.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match=r"v has invalid size: should be \(3,\) but got \(2,\)"):
        F.vjp(lambda t: t * 2, x, ag.ones(2, dtype=ag.float64))
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        F.vjp(lambda t: t * 2, [x, 3])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.vjp(lambda a, b: a * 2, (x, make((3,), seed=1)), ag.ones(3, dtype=ag.float64), strict=True)


def test_vjp_create_graph():
    x = make((3,))
    v = ag.ones(3, dtype=ag.float64)
    out, g = F.vjp(lambda t: t * t * t, x, v, create_graph=True)
    assert out.requires_grad and g.requires_grad
    (gg,) = ag.autograd.grad(g.sum(), x)
    assert_close(gg, 6 * np_(x))


def test_jvp_double_backward_trick():
    x, y = make((3,)), make((3,), seed=2)
    vx, vy = make((3,), requires_grad=False, seed=5), make((3,), requires_grad=False, seed=6)
    out, jv = F.jvp(f_exp_mul, (x, y), (vx, vy))
    assert isinstance(jv, ag.Tensor) and not jv.requires_grad
    e = np.exp(np_(x))
    assert_close(jv, e * np_(y) * np_(vx) + e * np_(vy))
    out, jv = F.jvp(lambda t: (t * 2, t.exp()), x, vx)
    assert isinstance(jv, tuple) and len(jv) == 2
    assert_close(jv[0], 2 * np_(vx))
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        F.jvp(lambda t: t * 2, x)
    s = make((1,))
    _, jv = F.jvp(lambda t: t * 3, s)
    assert_close(jv, np.array([3.0]))


def test_vhp_and_hvp():
    x, y = make((2,)), make((2,), seed=6)
    v = (make((2,), requires_grad=False, seed=7), make((2,), requires_grad=False, seed=8))
    out, r1 = F.vhp(f_quad, (x, y), v)
    out2, r2 = F.hvp(f_quad, (x, y), v)
    vx, vy = np_(v[0]), np_(v[1])
    # H = [[diag(2y), diag(2x)], [diag(2x), 0]]
    ex = 2 * np_(y) * vx + 2 * np_(x) * vy
    ey = 2 * np_(x) * vx
    for r in (r1, r2):
        assert isinstance(r, tuple)
        assert_close(r[0], ex)
        assert_close(r[1], ey)
    assert_close(out, out2)
    _, r = F.hvp(f_cubic, make((3,)), ag.ones(3, dtype=ag.float64))
    assert isinstance(r, ag.Tensor)
    with pytest.raises(RuntimeError, match="should contain a single element"):
        F.vhp(lambda t: t * t, make((3,)), ag.ones(3, dtype=ag.float64))
