"""The public autograd API: backward/grad and their options, grad modes, detach/retain_grad,
gradcheck, and PyTorch's error messages."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import assert_close


def leaf(values, dtype=ag.float64):
    return ag.tensor(values, dtype=dtype, requires_grad=True)


# worked examples --------------------------------------------------------------------------
def test_scalar_example():
    x = ag.tensor(1.0, requires_grad=True)
    y = ag.tensor(2.0, requires_grad=True)
    z = x * x + y
    p = 2 * z + x
    p.backward()
    assert x.grad.item() == 5.0 and y.grad.item() == 2.0


@pytest.mark.parametrize("gradient", [[1.0, 1.0], ag.tensor([1.0, 1.0])])
def test_vector_example_with_gradient(gradient):
    a = ag.tensor([2.0, 3.0], requires_grad=True)
    b = ag.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a * a * a - b * b
    Q.backward(gradient=gradient)
    assert_close(a.grad, 9 * np.array([2.0, 3.0]) ** 2)
    assert_close(b.grad, -2 * np.array([6.0, 4.0]))
    assert a.grad.dtype is ag.float32 and a.grad.shape == (2,)


def test_second_derivative_with_create_graph():
    x = leaf([0.5, 2.0])
    (g,) = ag.autograd.grad(x * x * x, x, ag.ones(2, dtype=ag.float64), create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    assert_close(g, 3 * np.array([0.5, 2.0]) ** 2)
    (gg,) = ag.autograd.grad(g, x, ag.ones(2, dtype=ag.float64))
    assert_close(gg, 6 * np.array([0.5, 2.0]))


def test_backward_create_graph_makes_grad_differentiable():
    x = leaf([2.0])
    with pytest.warns(UserWarning, match="reference cycle"):
        (x * x * x).backward(create_graph=True)
    assert x.grad.requires_grad
    assert_close(x.grad, [12.0])
    (gg,) = ag.autograd.grad(x.grad, x)
    assert_close(gg, [12.0])


# backward options -------------------------------------------------------------------------
def test_backward_inputs_only_fills_those():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * w).backward(ag.ones(2, dtype=ag.float64), inputs=[x])
    assert w.grad is None
    assert_close(x.grad, [3.0, 4.0])
    (x * w).backward(ag.ones(2, dtype=ag.float64), inputs=w)
    assert_close(w.grad, [1.0, 2.0])
    assert_close(x.grad, [3.0, 4.0])


def test_autograd_backward_several_roots():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 2, x * x
    ag.autograd.backward([y1, y2], [ag.ones(2, dtype=ag.float64), ag.full((2,), 0.5, dtype=ag.float64)])
    assert_close(x.grad, 2 + 0.5 * 2 * np.array([1.0, 2.0]))


def test_gradient_of_other_dtype_is_cast_to_the_output():
    x = leaf([1.0, 2.0], dtype=ag.float32)
    (x * 3).backward(ag.ones(2, dtype=ag.float64))
    assert x.grad.dtype is ag.float32
    assert_close(x.grad, [3.0, 3.0])


def test_backward_does_not_alias_the_given_gradient():
    x = leaf([1.0, 2.0])
    g = ag.ones(2, dtype=ag.float64)
    x.backward(g)
    g._data[0] = 7.0
    assert_close(x.grad, [1.0, 1.0])


@pytest.mark.parametrize("case", ["through add", "through a view", "retained"])
def test_no_grad_aliases_the_given_gradient(case):
    """The caller's gradient is not copied up front (grad() of a large output would pay a full
    copy); a leaf's .grad that would hold its storage gets a copy, and a retained grad is always
    a copy, as in PyTorch."""
    x = leaf([1.0, 2.0])
    g = ag.ones(2, dtype=ag.float64)
    if case == "retained":
        y = x * 1
        y.retain_grad()
        y.backward(g)
        held = y.grad
    else:
        ((x + 0) if case == "through add" else x.view(2)).backward(g)
        held = x.grad
    g._data[0] = 7.0
    assert_close(held, [1.0, 1.0])


def test_grad_does_not_touch_dot_grad():
    x, w = leaf([1.0]), leaf([2.0])
    gx, gw = ag.autograd.grad(x * w, [x, w])
    assert x.grad is None and w.grad is None
    assert_close(gx, [2.0])
    assert_close(gw, [1.0])


def test_grad_allow_unused_and_materialize_grads():
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    y = x * x
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors appears to not have been used "
                                           "in the graph. Set allow_unused=True"):
        ag.autograd.grad(y, [x, unused], ag.ones(2, dtype=ag.float64), retain_graph=True)
    gx, gu = ag.autograd.grad(y, [x, unused], ag.ones(2, dtype=ag.float64), retain_graph=True,
                              allow_unused=True)
    assert gu is None
    assert_close(gx, [2.0, 4.0])
    gx, gu = ag.autograd.grad(y, [x, unused], ag.ones(2, dtype=ag.float64), materialize_grads=True)
    assert gu.shape == (1,) and gu.dtype is ag.float64
    assert_close(gu, [0.0])


def test_grad_of_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    (gh,) = ag.autograd.grad(h * h, h, ag.ones(2, dtype=ag.float64))
    assert_close(gh, [6.0, 12.0])


# errors -----------------------------------------------------------------------------------
def test_non_scalar_backward_needs_a_gradient():
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (leaf([1.0, 2.0]) * 2).backward()


def test_backward_without_graph():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a "
                                           "grad_fn"):
        ag.tensor([1.0]).backward()


def test_gradient_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \[3\]"):
        (leaf([1.0, 2.0]) * 2).backward(ag.ones(3, dtype=ag.float64))


def test_grad_input_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.autograd.grad(leaf([1.0]) * 2, ag.tensor([1.0]))


@pytest.mark.parametrize("make", [
    lambda: ag.tensor([1, 2], requires_grad=True),
    lambda: ag.tensor([1, 2]).requires_grad_(),
    lambda: ag.zeros(2, dtype=ag.int64, requires_grad=True),
])
def test_integer_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype can require "
                                           "gradients"):
        make()


def test_requires_grad_of_a_non_leaf_cannot_be_cleared():
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


# grad modes -------------------------------------------------------------------------------
def test_no_grad_and_enable_grad_as_context_managers():
    x = leaf([1.0])
    with ag.no_grad():
        assert not ag.is_grad_enabled()
        y = x * 2
        with ag.enable_grad():
            z = x * 2
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad


def test_grad_modes_as_decorators():
    @ag.no_grad()
    def f():
        return ag.is_grad_enabled()

    @ag.no_grad
    def g():
        return ag.is_grad_enabled()

    @ag.enable_grad()
    def h():
        return ag.is_grad_enabled()

    @ag.set_grad_enabled(False)
    def k():
        return ag.is_grad_enabled()

    @ag.inference_mode()
    def m():
        return ag.is_grad_enabled()

    @ag.inference_mode
    def n():
        return ag.is_grad_enabled()

    assert ag.is_grad_enabled()  # defining set_grad_enabled(False) as a decorator changed nothing
    assert (f(), g(), k(), m(), n()) == (False,) * 5
    with ag.no_grad():
        assert h() is True
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()


def test_set_grad_enabled_as_function_and_context_manager():
    with ag.set_grad_enabled(False):
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    ag.set_grad_enabled(False)
    assert not ag.is_grad_enabled()
    ag.set_grad_enabled(True)
    assert ag.is_grad_enabled()


def test_inference_mode():
    x = leaf([1.0])
    with ag.inference_mode():
        assert not ag.is_grad_enabled()
        assert not (x * 2).requires_grad
        with ag.inference_mode(False):  # leaves grad mode alone, as in PyTorch
            assert not ag.is_grad_enabled()
    with ag.inference_mode(False):
        assert ag.is_grad_enabled()
    assert ag.is_grad_enabled()


def test_grad_mode_is_thread_local():
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def other():
        with ag.no_grad():
            entered.set()
            checked.wait(5)
            seen["other"] = ag.is_grad_enabled()

    t = threading.Thread(target=other)
    t.start()
    entered.wait(5)
    seen["main"] = ag.is_grad_enabled()
    seen["main_graph"] = (leaf([1.0]) * 2).requires_grad
    checked.set()
    t.join()
    assert seen == {"main": True, "main_graph": True, "other": False}
    with ag.no_grad():  # a thread started inside no_grad starts with grad enabled
        t2 = threading.Thread(target=lambda: seen.update(fresh2=ag.is_grad_enabled()))
        t2.start()
        t2.join()
    assert seen["fresh2"] is True


# detach, requires_grad_, retain_grad ------------------------------------------------------
def test_detach_shares_data_and_leaves_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d._host(), y._host())
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf
    assert not x.data.requires_grad and np.shares_memory(x.data._host(), x._host())


def test_requires_grad_():
    t = ag.tensor([1.0])
    assert t.requires_grad_() is t and t.requires_grad and t.is_leaf
    t.requires_grad_(False)
    assert not t.requires_grad
    t.requires_grad = True
    (t * 3).backward(ag.ones(1))
    assert_close(t.grad, [3.0])


def test_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 3
    assert not h.retains_grad
    h.retain_grad()
    assert h.retains_grad
    (h * h).backward(ag.ones(2, dtype=ag.float64))
    assert_close(h.grad, [6.0, 12.0])
    assert_close(x.grad, [18.0, 36.0])
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        ag.tensor([1.0]).retain_grad()


# gradcheck --------------------------------------------------------------------------------
class WrongCube(ag.autograd.Function):
    """x**3 with a deliberately wrong backward (2x² instead of 3x²)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x * x


def test_gradcheck_passes_a_correct_backward():
    x = leaf([0.5, -1.5, 2.0])
    assert ag.autograd.gradcheck(lambda t: t * t * t, (x,))
    assert ag.autograd.gradgradcheck(lambda t: t * t * t, (x,))


def test_gradcheck_detects_a_wrong_backward():
    x = leaf([0.5, -1.5, 2.0])
    with pytest.raises(ag.autograd.GradcheckError,
                       match="Jacobian mismatch for output 0 with respect to input 0") as info:
        ag.autograd.gradcheck(WrongCube.apply, (x,))
    assert isinstance(info.value, RuntimeError)
    assert "numerical" in str(info.value) and "analytical" in str(info.value)
    assert ag.autograd.gradcheck(WrongCube.apply, (x,), raise_exception=False) is False
