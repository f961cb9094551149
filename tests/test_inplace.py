"""In-place ops: values, identity, version counter, gradients through in-place chains,
the leaf rule, no_grad, validation before mutation, broadcasting, devices, CUDA."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from tests.helpers import assert_close, check_grad, compare_devices, make


def _np(t):
    return t.detach().numpy()


X = np.array([[-1.5, -0.25, 0.5], [0.75, 1.25, 2.0]])
Y = np.array([0.5, -2.0, 4.0])

# (name, call on the tensor, NumPy reference of the new value)
VALUES = [
    ("add_", lambda t: t.add_(ag.tensor(Y)), X + Y),
    ("add_alpha", lambda t: t.add_(ag.tensor(Y), alpha=2), X + 2 * Y),
    ("add_scalar", lambda t: t.add_(3), X + 3),
    ("sub_", lambda t: t.sub_(ag.tensor(Y)), X - Y),
    ("sub_alpha", lambda t: t.sub_(ag.tensor(Y), alpha=0.5), X - 0.5 * Y),
    ("mul_", lambda t: t.mul_(ag.tensor(Y)), X * Y),
    ("mul_scalar", lambda t: t.mul_(-2), X * -2),
    ("div_", lambda t: t.div_(ag.tensor(Y)), X / Y),
    ("div_scalar", lambda t: t.div_(4), X / 4),
    ("neg_", lambda t: t.neg_(), -X),
    ("exp_", lambda t: t.exp_(), np.exp(X)),
    ("clamp_", lambda t: t.clamp_(-0.5, 1.0), np.clip(X, -0.5, 1.0)),
    ("clamp_min", lambda t: t.clamp_(min=0.0), np.maximum(X, 0.0)),
    ("clamp_max", lambda t: t.clamp_(max=0.6), np.minimum(X, 0.6)),
    ("clamp_tensor", lambda t: t.clamp_(min=ag.tensor(Y) - 1), np.maximum(X, Y - 1)),
    ("fill_", lambda t: t.fill_(2.5), np.full_like(X, 2.5)),
    ("fill_tensor", lambda t: t.fill_(ag.tensor(7.0, dtype=ag.float64).reshape(())), np.full_like(X, 7.0)),
    ("zero_", lambda t: t.zero_(), np.zeros_like(X)),
    ("copy_", lambda t: t.copy_(ag.tensor(X[::-1].copy())), X[::-1]),
    ("copy_broadcast", lambda t: t.copy_(ag.tensor(Y)), np.broadcast_to(Y, X.shape)),
    ("copy_cast", lambda t: t.copy_(ag.tensor([[1, 2, 3], [4, 5, 6]])), np.arange(1.0, 7.0).reshape(2, 3)),
    ("iadd", lambda t: t.__iadd__(ag.tensor(Y)), X + Y),
    ("isub", lambda t: t.__isub__(1.0), X - 1),
    ("imul", lambda t: t.__imul__(ag.tensor(Y)), X * Y),
    ("itruediv", lambda t: t.__itruediv__(2.0), X / 2),
]


@pytest.mark.parametrize("name,op,ref", VALUES, ids=[v[0] for v in VALUES])
@pytest.mark.parametrize("noncontig", [False, True])
def test_values_identity_version(name, op, ref, noncontig):
    t = ag.tensor(X, dtype=ag.float64)
    if noncontig:   # a strided view must be written through, not replaced
        big = ag.zeros(2, 6, dtype=ag.float64)
        big._data[:, ::2] = X
        t = ag.Tensor._make(big._data[:, ::2], big.device)
    data = t._data
    v0 = t._version
    out = op(t)
    assert out is t and t._data is data
    assert t._version == v0 + 1
    assert t.shape == X.shape and t.dtype is ag.float64
    assert_close(t, np.asarray(ref, dtype=np.float64), rtol=1e-12)
    if noncontig:
        assert_close(ag.Tensor._make(big._data[:, ::2], big.device), np.asarray(ref, dtype=np.float64))
        assert not big._data[:, 1::2].any()


# gradients through in-place ops on non-leaves --------------------------------------
def _chain_inplace(x, y):
    z = x * 2
    z.add_(y)
    z.mul_(y)
    z.sub_(x, alpha=2)
    z.div_(y + 3)
    z.neg_()
    z.clamp_(-0.3, 0.3)
    z.exp_()
    return z


def _chain_outofplace(x, y):
    z = x * 2
    z = z + y
    z = z * y
    z = z - 2 * x
    z = z / (y + 3)
    z = -z
    z = z.clamp(-0.3, 0.3)
    return z.exp()


def test_inplace_chain_matches_out_of_place():
    x, y = make((2, 3)), make((3,), seed=3, low=0.2, high=1.5)
    a = _chain_inplace(x, y)
    b = _chain_outofplace(x, y)
    assert a.grad_fn.name() == "ExpBackward0"
    assert_close(a, b)
    ga = ag.autograd.grad(a.sum(), (x, y))
    gb = ag.autograd.grad(b.sum(), (x, y))
    for p, q in zip(ga, gb):
        assert_close(p, q)
    check_grad(_chain_inplace, x, y)


@pytest.mark.parametrize("fn", [
    lambda x, y: (x * 1).add_(y, alpha=-1.5),
    lambda x, y: (x * 1).sub_(y),
    lambda x, y: (x * 1).mul_(y),
    lambda x, y: (x * 1).div_(y),
    lambda x, y: (x * 1).copy_(y),
    lambda x, y: (x * 1).clamp_(min=y),
    lambda x, y: (x * 1).clamp_(max=y),
    lambda x, y: (x + 0).fill_(y.sum()),
    lambda x, y: (x * y).neg_(),
    lambda x, y: (x * y).exp_(),
    lambda x, y: (x * y).zero_() + y,
], ids=["add_", "sub_", "mul_", "div_", "copy_", "clamp_min", "clamp_max", "fill_", "neg_", "exp_", "zero_"])
def test_gradcheck_each_op(fn):
    x = make((2, 3), avoid=[0.5, -0.5], margin=0.1)
    y = make((3,), seed=5, low=0.3, high=1.2)
    check_grad(fn, x, y)


def test_inplace_on_self_alias():
    # x.mul_(x): the other operand is read before the write (PyTorch saves the original self)
    check_grad(lambda x: (x * 1).mul_((x * 1)), make((4,)))

    def square(x):
        z = x * 1
        return z.mul_(z)
    x = make((4,))
    check_grad(square, x)
    (g,) = ag.autograd.grad(square(x).sum(), x)
    assert_close(g, 2 * _np(x))

    def self_div(x):
        z = x + 2
        return z.div_(z)     # == 1 everywhere: zero gradient
    x = make((3,))
    (g,) = ag.autograd.grad(self_div(x).sum(), x)
    assert_close(g, np.zeros(3), atol=1e-12)


def test_saved_tensor_modified_raises():
    x = make((3,))
    y = x * 1
    z = y.exp()      # saves its output
    z.add_(1)        # changes what ExpBackward0 saved
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    y2 = x * 1
    w = y2.sin()     # saves its input y2
    y2.mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        w.sum().backward()


def test_grad_fn_rebased_and_version_with_grad():
    x = make((3,))
    y = x * 2
    old = y.grad_fn
    out = y.add_(1)
    assert out is y and y.grad_fn is not old and y.grad_fn.name() == "AddBackward0"
    assert y._version == 1 and not y.is_leaf
    y.mul_(2)
    assert y._version == 2


def test_inplace_makes_non_requiring_tensor_require_grad():
    w = make((3,))
    buf = ag.zeros(3, dtype=ag.float64)
    buf.add_(w)
    assert buf.requires_grad and buf.grad_fn.name() == "AddBackward0"
    (buf * buf).sum().backward()
    assert_close(w.grad, 2 * _np(w))


def test_copy_gradient_broadcast_dtype_and_device():
    src = make((3,), dtype=ag.float32)
    dst = ag.zeros(2, 3, dtype=ag.float64)
    dst.copy_(src)
    assert dst.dtype is ag.float64 and dst.grad_fn.name() == "CopyBackwards"
    (dst * ag.tensor([[1.0], [2.0]], dtype=ag.float64)).sum().backward()
    assert src.grad.dtype is ag.float32 and src.grad.shape == (3,)
    assert_close(src.grad, np.full(3, 3.0, dtype=np.float32))

    src = make((3,))                                     # CPU source, device destination
    dst = ag.zeros(3, dtype=ag.float64, device="fake:1")
    dst.copy_(src)
    assert dst.device == ag.device("fake:1")
    assert_close(dst.cpu(), _np(src))
    (dst * 3).sum().backward()
    assert src.grad.device == ag.device("cpu")
    assert_close(src.grad, np.full(3, 3.0))


# the leaf rule and no_grad ----------------------------------------------------------
LEAF_OPS = [lambda t: t.add_(1), lambda t: t.sub_(1), lambda t: t.mul_(2), lambda t: t.div_(2),
            lambda t: t.neg_(), lambda t: t.exp_(), lambda t: t.clamp_(0, 1), lambda t: t.fill_(1),
            lambda t: t.zero_(), lambda t: t.copy_(ag.ones(3, dtype=ag.float64))]


@pytest.mark.parametrize("op", LEAF_OPS)
def test_leaf_requiring_grad_raises_unchanged(op):
    x = make((3,))
    before = _np(x).copy()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "
                                           "operation."):
        op(x)
    assert_close(x, before) and x._version == 0
    assert x.is_leaf and x.requires_grad


@pytest.mark.parametrize("op", LEAF_OPS)
def test_leaf_allowed_under_no_grad(op):
    x = make((3,))
    with ag.no_grad():
        out = op(x)
    assert out is x and x._version == 1
    assert x.is_leaf and x.requires_grad and x.grad_fn is None


def test_optimizer_style_update():
    p = make((3,))
    (p * p).sum().backward()
    before = _np(p).copy()
    with ag.no_grad():
        p.add_(p.grad, alpha=-0.1)
    assert_close(p, before - 0.2 * before)
    assert p.is_leaf and p.requires_grad
    p.grad.zero_()
    assert not p.grad._data.any()


# validation happens before mutation ------------------------------------------------
ERRORS = [
    (lambda: ag.zeros(3, dtype=ag.int64), lambda t: t.add_(1.5), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    (lambda: ag.zeros(3, dtype=ag.int64), lambda t: t.add_(ag.ones(3, dtype=ag.float64)), RuntimeError,
     "result type Double can't be cast to the desired output type Long"),
    (lambda: ag.zeros(3, dtype=ag.int64), lambda t: t.div_(2), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    (lambda: ag.zeros(3, dtype=ag.int32), lambda t: t.mul_(ag.ones(3, dtype=ag.float64)), RuntimeError,
     "result type Double can't be cast to the desired output type Int"),
    (lambda: ag.zeros(3, dtype=ag.bool), lambda t: t.add_(1), RuntimeError,
     "result type Long can't be cast to the desired output type Bool"),
    (lambda: ag.zeros(3, dtype=ag.int64), lambda t: t.clamp_(0.5), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    (lambda: ag.zeros(3), lambda t: t.add_(ag.ones(2, 3)), RuntimeError,
     "output with shape [3] doesn't match the broadcast shape [2, 3]"),
    (lambda: ag.zeros(3), lambda t: t.copy_(ag.ones(2, 3)), RuntimeError,
     "output with shape [3] doesn't match the broadcast shape [2, 3]"),
    (lambda: ag.zeros(1, 3), lambda t: t.mul_(ag.ones(2, 1)), RuntimeError,
     "output with shape [1, 3] doesn't match the broadcast shape [2, 3]"),
    (lambda: ag.zeros(3), lambda t: t.add_(ag.ones(4)), RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0"),
    (lambda: ag.zeros(3), lambda t: t.add_(ag.ones(3, device="fake:0")), RuntimeError,
     "Expected all tensors to be on the same device"),
    (lambda: ag.zeros(3), lambda t: t.clamp_(), RuntimeError, "At least one of 'min' or 'max' must not be None"),
    (lambda: ag.zeros(3), lambda t: t.fill_(ag.ones(2)), RuntimeError,
     "fill_ only supports 0-dimension value tensor but got tensor with 1 dimensions."),
    (lambda: ag.zeros(3), lambda t: t.add_("a"), TypeError, "Tensor or a real number"),
    (lambda: ag.zeros(3), lambda t: t.copy_(1.0), TypeError, "must be Tensor"),
    (lambda: ag.zeros(3, dtype=ag.bool), lambda t: t.neg_(), RuntimeError, "on a bool tensor is not supported"),
    (lambda: ag.zeros(1).expand(3), lambda t: t.add_(1), RuntimeError,
     "more than one element of the written-to tensor refers to a single memory location"),
]


@pytest.mark.parametrize("make_t,op,exc,msg", ERRORS)
def test_errors_leave_tensor_unchanged(make_t, op, exc, msg):
    t = make_t()
    before, version = t._host().copy(), t._version
    with pytest.raises(exc) as info:
        op(t)
    assert msg in str(info.value)
    np.testing.assert_array_equal(t._host(), before)
    assert t._version == version


def test_allowed_casts_and_broadcasts():
    t = ag.zeros(2, 3)                             # float32 += float64 tensor: computed, cast back
    t.add_(ag.tensor([1.0, 2.0, 3.0], dtype=ag.float64))
    assert t.dtype is ag.float32 and t.tolist() == [[1.0, 2.0, 3.0]] * 2
    i = ag.tensor([1, 2, 3])
    i.mul_(2).add_(ag.tensor([1, 1, 1], dtype=ag.int32))
    assert i.dtype is ag.int64 and i.tolist() == [3, 5, 7]
    i.copy_(ag.tensor([1.7, -2.2, 3.9]))           # copy_ casts (truncates) like PyTorch
    assert i.tolist() == [1, -2, 3]
    b = ag.zeros(3, dtype=ag.bool)
    b.fill_(1)
    assert b.tolist() == [True] * 3
    f = ag.zeros(2, 3)
    f.add_(ag.tensor(2.0))                         # 0-dim tensor broadcasts
    f.mul_(ag.tensor(1.5, dtype=ag.float64).reshape(()))
    assert f.tolist() == [[3.0] * 3] * 2


def test_in_place_on_view_writes_base():
    base = ag.zeros(2, 3)
    with ag.no_grad():
        base[0].add_(5)
    assert base.tolist()[0] == [5.0, 5.0, 5.0] and base.tolist()[1] == [0.0] * 3


def test_in_place_on_view_needing_grad_rebases_the_base():
    x = make((2, 3))
    y = x * 1
    v = y[0]
    v.add_(1)
    expected = _np(x).copy()
    expected[0] += 1
    assert_close(y, expected)
    assert y.grad_fn.name() == "CopySlices"
    (y * y).sum().backward()
    assert_close(x.grad, 2 * expected)


def test_data_updates_do_not_bump_version():
    x = make((3,))
    x.data.add_(1)
    assert x._version == 0


# CUDA against CPU -----------------------------------------------------------------
_RNG = np.random.default_rng(0)
CUDA_OPS = [
    lambda x, y: (x * 1).add_(y, alpha=0.5),
    lambda x, y: (x * 1).sub_(y),
    lambda x, y: (x * 1).mul_(y),
    lambda x, y: (x * 1).div_(y.abs() + 1),
    lambda x, y: (x * 1).clamp_(-0.5, 0.5),
    lambda x, y: (x * 1).copy_(y),
    lambda x, y: (x * y).neg_(),
    lambda x, y: (x * y).exp_(),
    lambda x, y: (x * 1).fill_(y.sum()),
    lambda x, y: (x * y).zero_() + y,
    _chain_outofplace,
]


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64, ag.float16])
@pytest.mark.parametrize("fn", CUDA_OPS)
def test_inplace_cuda(fn, dtype):
    compare_devices(fn, _RNG.standard_normal((4, 3)), _RNG.standard_normal((3,)), dtype=dtype)


@pytest.mark.cuda
def test_inplace_chain_cuda():
    compare_devices(_chain_inplace, _RNG.standard_normal((4, 3)), _RNG.uniform(0.2, 1.5, (3,)),
                    dtype=ag.float64)


@pytest.mark.cuda
def test_copy_between_cpu_and_cuda_and_noncontiguous_cuda():
    src = make((2, 3))
    dst = ag.zeros(3, 2, dtype=ag.float32, device="cuda").mT    # strided destination
    dst.copy_(src)
    assert_close(dst.cpu().double(), _np(src), rtol=1e-6)
    with ag.no_grad():
        dst.add_(1).mul_(ag.tensor(2.0))                          # 0-dim CPU tensor operand
    assert_close(dst.cpu().double(), (_np(src) + 1) * 2, rtol=1e-6)
    i = ag.zeros(3, dtype=ag.int64, device="cuda")
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(0.5)
    assert i.cpu().tolist() == [0, 0, 0]
