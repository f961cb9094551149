"""In-place ops on views rebase the base's history (PyTorch's CopySlices)."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import check_grad, make


def test_mul_on_row_view_gives_base_gradient():
    x = ag.tensor([[1., 2., 3.], [4., 5., 6.]], dtype=ag.float64, requires_grad=True)
    y = x * 1.0
    y[0].mul_(2)
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[8, 16, 24], [8, 10, 12]])
    assert y.grad_fn.name() == "CopySlices"


def _view_inplace(x, w):
    y = x * 1.0
    v = y[:, 1:]
    v.mul_(w)
    v.add_(w)
    return (y * y).sum() + v.exp().sum()


def test_view_inplace_gradcheck():
    x = make((3, 4))
    w = make((3, 3), seed=2)
    check_grad(_view_inplace, x, w, second_order=False)


def test_setitem_on_view_of_non_leaf():
    x = make((2, 3))
    v = make((), seed=3)

    def f(x, v):
        y = x * 2.0
        row = y[1]
        row[2] = v * 3.0
        return (y * y).sum()
    check_grad(f, x, v, second_order=False)


def test_view_keeps_its_own_gradient_path():
    x = make((4,))
    def f(x):
        y = x * 2.0
        v = y[1:3]
        v.mul_(3.0)
        return (v * v).sum() + y.sum()
    check_grad(f, x, second_order=False)


def test_view_of_leaf_in_place_raises():
    x = ag.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0:2].mul_(2)
    np.testing.assert_array_equal(x.detach().numpy(), [1, 1, 1])


def test_saved_output_modified_through_view_is_detected():
    x = make((2, 3))
    y = x.exp()           # exp saves its output
    y[1][2] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
