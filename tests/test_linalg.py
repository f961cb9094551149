"""matmul (every shape case), mm, bmm, dot, outer, einsum: forward against NumPy,
gradcheck + gradgradcheck in float64, PyTorch's error messages, CUDA against CPU."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from tests.helpers import assert_close, check_grad, compare_devices, make


def _np(t: ag.Tensor) -> np.ndarray:
    return t.detach().numpy()


# matmul: every case of PyTorch's dispatch -----------------------------------------
MATMUL_CASES = [
    # (shape a, shape b, node name)
    ((3,), (3,), "DotBackward0"),                    # 1-D . 1-D -> 0-dim
    ((2, 3), (3, 4), "MmBackward0"),                 # 2-D . 2-D
    ((2, 3), (3,), "MvBackward0"),                   # matrix . vector
    ((3,), (3, 4), "MatmulBackward0"),               # vector . matrix (promote, squeeze)
    ((5, 2, 3), (3, 4), "MatmulBackward0"),          # batched . matrix (folded into one GEMM)
    ((5, 2, 3), (3,), "MatmulBackward0"),            # batched . vector
    ((3,), (5, 3, 4), "MatmulBackward0"),            # vector . batched
    ((2, 3), (5, 3, 4), "MatmulBackward0"),          # matrix . batched
    ((5, 2, 3), (5, 3, 4), "MatmulBackward0"),       # same batch
    ((1, 2, 3), (5, 3, 4), "MatmulBackward0"),       # batch broadcast 1 -> 5
    ((4, 1, 2, 3), (5, 3, 2), "MatmulBackward0"),    # batch broadcast on both sides
]


@pytest.mark.parametrize("sa,sb,node", MATMUL_CASES)
@pytest.mark.parametrize("noncontig", [False, True])
def test_matmul(sa, sb, node, noncontig):
    a, b = make(sa, noncontig=noncontig), make(sb, seed=1, noncontig=noncontig)
    out = ag.matmul(a, b)
    ref = np.matmul(_np(a), _np(b))
    assert out.shape == np.shape(ref) and out.dtype is ag.float64
    assert_close(out, np.asarray(ref), rtol=1e-12)
    assert out.grad_fn.name() == node
    check_grad(ag.matmul, a, b)


@pytest.mark.parametrize("sa,sb", [((1, 2, 3), (5, 3, 4)), ((4, 1, 2, 3), (5, 3, 2)), ((5, 2, 3), (3,)),
                                   ((3,), (5, 3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4))])
def test_matmul_grad_shapes_follow_inputs(sa, sb):
    a, b = make(sa), make(sb, seed=1)
    (a @ b).sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    # reference: the gradient of sum(a @ b) summed over broadcast batch dims
    g = np.ones(np.matmul(_np(a), _np(b)).shape)
    an, bn = _np(a), _np(b)
    a2 = an if an.ndim > 1 else an[None]
    b2 = bn if bn.ndim > 1 else bn[:, None]
    g2 = g.reshape(np.matmul(a2, b2).shape)
    ga, gb = np.matmul(g2, np.swapaxes(b2, -1, -2)), np.matmul(np.swapaxes(a2, -1, -2), g2)
    ga = ga.sum(axis=tuple(range(ga.ndim - a2.ndim))).sum(axis=tuple(i for i in range(a2.ndim - 2)
                                                                      if a2.shape[i] == 1), keepdims=True)
    gb = gb.sum(axis=tuple(range(gb.ndim - b2.ndim))).sum(axis=tuple(i for i in range(b2.ndim - 2)
                                                                      if b2.shape[i] == 1), keepdims=True)
    assert_close(a.grad, ga.reshape(sa), rtol=1e-12)
    assert_close(b.grad, gb.reshape(sb), rtol=1e-12)


def test_matmul_operator_method_and_integers():
    a, b = make((2, 3)), make((3, 2), seed=1)
    assert_close(a @ b, a.matmul(b))
    x = ag.tensor([[1, 2], [3, 4]])
    y = x @ x
    assert y.dtype is ag.int64 and y.tolist() == [[7, 10], [15, 22]]
    assert (ag.tensor([1, 2, 3]) @ ag.tensor([4, 5, 6])).item() == 32


def test_matmul_float32_stays_float32():
    a, b = make((4, 3), dtype=ag.float32), make((3, 2), dtype=ag.float32, seed=1)
    out = ag.matmul(a, b)
    assert out.dtype is ag.float32
    out.sum().backward()
    assert a.grad.dtype is ag.float32 and b.grad.dtype is ag.float32


# mm, bmm, dot, outer -------------------------------------------------------------
@pytest.mark.parametrize("fn,sa,sb,ref", [
    (ag.mm, (2, 3), (3, 4), np.matmul),
    (ag.bmm, (4, 2, 3), (4, 3, 5), np.matmul),
    (ag.dot, (5,), (5,), np.dot),
    (ag.outer, (3,), (4,), np.outer),
])
@pytest.mark.parametrize("noncontig", [False, True])
def test_products(fn, sa, sb, ref, noncontig):
    a, b = make(sa, noncontig=noncontig), make(sb, seed=1, noncontig=noncontig)
    out = fn(a, b)
    expected = np.asarray(ref(_np(a), _np(b)))
    assert out.shape == expected.shape and out.dtype is ag.float64
    assert_close(out, expected, rtol=1e-12)
    assert_close(getattr(a, fn.__name__)(b), expected, rtol=1e-12)    # method form
    check_grad(fn, a, b)


def test_outer_promotes_like_pytorch():
    out = ag.outer(ag.tensor([1, 2]), ag.tensor([0.5, 1.5], dtype=ag.float64))
    assert out.dtype is ag.float64 and out.tolist() == [[0.5, 1.5], [1.0, 3.0]]


def test_double_backward_values():
    # d/da sum((a @ b)^2) = 2 (a b) b^T; its gradient wrt b checks the backward's own graph
    a, b = make((2, 3)), make((3, 2), seed=1)
    (ga,) = ag.autograd.grad(((a @ b) ** 2).sum(), a, create_graph=True)
    assert_close(ga, 2 * (_np(a) @ _np(b)) @ _np(b).T, rtol=1e-12)
    assert ga.requires_grad


# einsum ---------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),                  # matmul
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),         # bmm
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),  # attention scores
    ("bhqk,bhkd->bhqd", [(2, 2, 3, 5), (2, 2, 5, 4)]),  # attention values
    ("i,j->ij", [(3,), (4,)]),                        # outer
    ("i,i->", [(3,), (3,)]),                          # dot
    ("ij,j->i", [(2, 3), (3,)]),                      # mv
    ("ij->ji", [(2, 3)]),                             # transpose
    ("ji", [(2, 3)]),                                 # implicit output: transpose
    ("ij->i", [(2, 3)]),                              # row sums
    ("ij->", [(2, 3)]),                               # total sum
    ("ii->i", [(3, 3)]),                              # diagonal
    ("ii", [(3, 3)]),                                 # trace
    ("iij->ij", [(3, 3, 2)]),                         # diagonal with a free dim
    ("ij,ij->ij", [(2, 3), (2, 3)]),                  # Hadamard
    ("ij,ij->", [(2, 3), (2, 3)]),                    # Frobenius inner product
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),       # chain of three
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),      # ellipsis broadcasting
    ("bij,bkj->bik", [(1, 2, 3), (4, 5, 3)]),         # size-1 batch broadcast
    ("Ab,bc->Ac", [(2, 3), (3, 2)]),                  # upper-case labels
    ("i j , j k -> i k", [(2, 3), (3, 4)]),           # blanks are ignored
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum(eq, shapes):
    ts = [make(s, seed=i, noncontig=(i == 0)) for i, s in enumerate(shapes)]
    out = ag.einsum(eq, *ts)
    ref = np.einsum(eq.replace(" ", ""), *[_np(t) for t in ts])
    assert out.shape == ref.shape and out.dtype is ag.float64
    assert_close(out, ref, rtol=1e-12)
    check_grad(lambda *xs: ag.einsum(eq, *xs), *ts)


def test_einsum_operands_as_list():
    a, b = make((2, 3)), make((3, 4), seed=1)
    assert_close(ag.einsum("ij,jk", [a, b]), _np(a) @ _np(b), rtol=1e-12)


# errors ---------------------------------------------------------------------------
def _t(*shape, dtype=ag.float32):
    return ag.zeros(shape, dtype=dtype)   # ag.zeros() with no size raises, as torch


ERRORS = [
    (lambda: ag.mm(_t(2, 3), _t(4, 5)), RuntimeError, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    (lambda: ag.matmul(_t(2, 3), _t(4, 5)), RuntimeError, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    (lambda: ag.matmul(_t(3), _t(4, 5)), RuntimeError, "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)"),
    (lambda: ag.matmul(_t(2, 2, 4), _t(5, 6)), RuntimeError, "cannot be multiplied (4x4 and 5x6)"),
    (lambda: ag.matmul(_t(2, 3), _t(4)), RuntimeError, "size mismatch, got input (2), mat (2x3), vec (4)"),
    (lambda: ag.matmul(_t(2, 3), _t(3, 4, dtype=ag.float64)), RuntimeError,
     "expected mat1 and mat2 to have the same dtype, but got: float != double"),
    (lambda: ag.mm(_t(2, 3, dtype=ag.float64), _t(3, 4)), RuntimeError,
     "expected mat1 and mat2 to have the same dtype, but got: double != float"),
    (lambda: ag.matmul(_t(), _t(3)), RuntimeError,
     "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    (lambda: ag.matmul(_t(2, 3, 4), _t(3, 4, 5)), RuntimeError,
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"),
    (lambda: ag.matmul(_t(2, 3, 4), _t(2, 5, 6)), RuntimeError,
     "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 5]."),
    (lambda: ag.mm(_t(3), _t(3, 3)), RuntimeError, "self must be a matrix"),
    (lambda: ag.mm(_t(3, 3), _t(3)), RuntimeError, "mat2 must be a matrix"),
    (lambda: ag.bmm(_t(2, 3), _t(2, 3, 4)), RuntimeError, "batch1 must be a 3D tensor"),
    (lambda: ag.bmm(_t(2, 3, 4), _t(3, 4)), RuntimeError, "batch2 must be a 3D tensor"),
    (lambda: ag.bmm(_t(2, 5, 3), _t(2, 4, 6)), RuntimeError,
     "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4]."),
    (lambda: ag.bmm(_t(2, 5, 3), _t(3, 3, 6)), RuntimeError,
     "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [3, 3]."),
    (lambda: ag.dot(_t(2, 2), _t(2, 2)), RuntimeError, "1D tensors expected, but got 2D and 2D tensors"),
    (lambda: ag.dot(_t(3), _t(4)), RuntimeError,
     "inconsistent tensor size, expected tensor [3] and src [4] to have the same number of elements, "
     "but got 3 and 4 elements respectively"),
    (lambda: ag.dot(_t(3), _t(3, dtype=ag.float64)), RuntimeError, "expected both vectors to have same dtype"),
    (lambda: ag.outer(_t(2, 2), _t(2)), RuntimeError, "outer: Expected 1-D argument self, but got 2-D"),
    (lambda: ag.matmul(_t(2, 2), 3), TypeError, "must be Tensor"),
    (lambda: ag.einsum("ij,jk->ik", _t(2, 3)), RuntimeError,
     "the number of operands specified in the equation (2) does not match the number of operands provided (1)"),
    (lambda: ag.einsum("ij->ij", _t(2, 3, 4)), RuntimeError,
     "einsum(): the number of subscripts in the equation (2) does not match the number of dimensions (3) "
     "for operand 0 and no ellipsis was given"),
    (lambda: ag.einsum("ij,jk->ik", _t(2, 3), _t(4, 5)), RuntimeError,
     "einsum(): subscript j has size 4 for operand 1 which does not broadcast with previously seen size 3"),
    (lambda: ag.einsum("ij->k", _t(2, 3)), RuntimeError, "output subscript k does not appear"),
    (lambda: ag.einsum("ij->ii", _t(2, 3)), RuntimeError, "appears more than once"),
    (lambda: ag.einsum("i1->i", _t(2, 3)), RuntimeError, "expected subscripts to be in range [A-Za-z]"),
    (lambda: ag.einsum("ii->i", _t(2, 3)), RuntimeError, "subscript i is repeated for operand 0"),
    (lambda: ag.einsum("ij->i"), RuntimeError, "must provide at least one operand"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with pytest.raises(exc) as info:
        fn()
    assert msg in str(info.value)


def test_mixed_devices_raise():
    a = ag.zeros(2, 2, device="fake:0")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        ag.matmul(a, ag.zeros(2, 2))


def test_fake_device_runs_numpy_path():
    a = make((3, 2, 4), device="fake:0")
    b = make((4, 5), seed=1, device="fake:0")
    out = a @ b
    assert out.device == ag.device("fake:0")
    out.sum().backward()
    assert a.grad.device == ag.device("fake:0") and b.grad.shape == (4, 5)


# CUDA against CPU -----------------------------------------------------------------
_RNG = np.random.default_rng(0)


def _arr(*shape):
    return _RNG.standard_normal(shape)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64, ag.float16])
@pytest.mark.parametrize("sa,sb,node", MATMUL_CASES)
def test_matmul_cuda(sa, sb, node, dtype):
    compare_devices(ag.matmul, _arr(*sa), _arr(*sb), dtype=dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
@pytest.mark.parametrize("fn,sa,sb", [(ag.mm, (4, 3), (3, 5)), (ag.bmm, (2, 4, 3), (2, 3, 5)),
                                      (ag.dot, (7,), (7,)), (ag.outer, (3,), (4,))])
def test_products_cuda(fn, sa, sb, dtype):
    compare_devices(fn, _arr(*sa), _arr(*sb), dtype=dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum_cuda(eq, shapes, dtype):
    compare_devices(lambda *xs: ag.einsum(eq, *xs), *[_arr(*s) for s in shapes], dtype=dtype)


@pytest.mark.cuda
def test_matmul_noncontiguous_cuda():
    compare_devices(lambda a, b: a.mT @ b.mT, _arr(3, 4, 2), _arr(3, 5, 4), dtype=ag.float32)
