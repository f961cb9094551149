"""The layout ops beyond their op-table rows: view semantics (storage and version shared, writes
seen both ways, in-place through a view with autograd), copies that must not alias, PyTorch's
errors and warning, the index form of repeat_interleave, and the CUDA paths against CPU.

Expected messages are written out (checked against PyTorch 2.14); ``test_errors_are_torchs``
re-checks them against the installed torch.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops import layout

IDX = "Dimension out of range (expected to be in range of [{}], but got {})"

# (call on a module: ag or torch, exception type name, message)
ERRORS = [
    (lambda m: m.diagonal(m.zeros(2, 3), 0, 0, 0), "RuntimeError", "diagonal dimensions cannot be identical 0, 0"),
    (lambda m: m.diagonal(m.zeros(2, 3), 0, 1, -1), "RuntimeError", "diagonal dimensions cannot be identical 1, -1"),
    (lambda m: m.diagonal(m.zeros(2, 3), 0, 0, 2), "IndexError", IDX.format("-2, 1", 2)),
    (lambda m: m.diagonal(m.zeros(3)), "IndexError", IDX.format("-1, 0", 1)),
    (lambda m: m.diagonal(m.tensor(1.0)), "IndexError", IDX.format("-1, 0", 1)),
    (lambda m: m.diagonal(m.zeros(2, 2), 1.5), "TypeError",
     "diagonal(): argument 'offset' (position 2) must be int, not float"),
    (lambda m: m.diag(m.tensor(1.0)), "RuntimeError", "diag(): Supports 1D or 2D tensors. Got 0D"),
    (lambda m: m.diag(m.zeros(2, 2, 2)), "RuntimeError", "diag(): Supports 1D or 2D tensors. Got 3D"),
    (lambda m: m.diag(m.zeros(2, 2), 1.5), "TypeError",
     "diag(): argument 'diagonal' (position 2) must be int, not float"),
    (lambda m: m.zeros(2, 3, 4).unfold(2, 5, 1), "RuntimeError",
     "maximum size for tensor at dimension 2 is 4 but size is 5"),
    (lambda m: m.zeros(2, 3, 4).unfold(2, 2, 0), "RuntimeError", "step is 0 but must be > 0"),
    (lambda m: m.zeros(2, 3, 4).unfold(2, 2, -1), "RuntimeError", "step is -1 but must be > 0"),
    (lambda m: m.zeros(2, 3, 4).unfold(2, -1, 1), "RuntimeError", "size is -1 but must be >= 0"),
    (lambda m: m.zeros(2, 3, 4).unfold(3, 1, 1), "IndexError", IDX.format("-3, 2", 3)),
    (lambda m: m.zeros(0, 3).unfold(0, 1, 1), "RuntimeError",
     "maximum size for tensor at dimension 0 is 0 but size is 1"),
    (lambda m: m.tensor(5.0).unfold(0, 2, 1), "RuntimeError",
     "maximum size for tensor at dimension 0 is 1 but size is 2"),
    (lambda m: m.tensor(5.0).unfold(1, 1, 1), "IndexError", IDX.format("-1, 0", 1)),
    (lambda m: m.zeros(4).unfold(0, 2.0, 1), "TypeError", "unfold(): argument 'size' (position 2) must be int, not float"),
    (lambda m: m.tile(m.zeros(3), (-1,)), "RuntimeError", "Trying to create tensor with negative dimension -3: [-3]"),
    (lambda m: m.tile(m.zeros(3), (2, -1)), "RuntimeError",
     "Trying to create tensor with negative dimension -3: [2, -3]"),
    (lambda m: m.tile(m.zeros(3), 2), "TypeError",
     "tile(): argument 'dims' (position 2) must be tuple of ints, not int"),
    (lambda m: m.zeros(3).tile(2.5), "TypeError", "tile(): argument 'dims' (position 1) must be tuple of ints, not float"),
    (lambda m: m.tile(m.zeros(3), (2, 2.5)), "TypeError",
     "tile(): argument 'dims' failed to unpack the object at pos 2 with error \"type must be tuple of ints,but got "
     "float\""),
    (lambda m: m.zeros(3).tile(2, 2.5), "TypeError",
     "tile(): argument 'dims' failed to unpack the object at pos 2 with error \"type must be tuple of ints,but got "
     "float\""),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), -1), "RuntimeError", "Repeats must be non-negative"),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), -1, dim=5), "IndexError", IDX.format("-2, 1", 5)),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), 2, dim=1, output_size=5), "RuntimeError",
     "repeat_interleave: Invalid output_size, expected 4 but got 5"),
    (lambda m: m.repeat_interleave(m.tensor(5.0), 3, dim=0), "IndexError", IDX.format("-1, 0", 1)),
    (lambda m: m.repeat_interleave(m.tensor(5.0), 3, dim=0, output_size=7), "IndexError", IDX.format("-1, 0", 1)),
    (lambda m: m.repeat_interleave(m.tensor(5.0), m.tensor([3]), dim=0), "IndexError",
     "Dimension specified as 0 but tensor has no dimensions"),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), m.tensor([1, -2]), dim=0), "RuntimeError",
     "repeats can not be negative"),
    (lambda m: m.repeat_interleave(m.zeros(2, 3), m.tensor([1, 2]), dim=1), "RuntimeError",
     "repeats must have the same size as input along dim, but got repeats.size(0) = 2 and input.size(1) = 3"),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), m.tensor([[1, 2]]), dim=0), "RuntimeError",
     "repeats must be 0-dim or 1-dim tensor"),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), m.tensor([1.0, 2.0]), dim=0), "NotImplementedError",
     "\"repeat_interleave_cpu\" not implemented for 'Float'"),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), m.tensor([1, 2]), dim=0, output_size=5), "RuntimeError",
     "allocated size does not match required size"),
    (lambda m: m.repeat_interleave(m.zeros(2, 2), m.tensor([1, 2]), dim=2), "IndexError", IDX.format("-2, 1", 2)),
    (lambda m: m.repeat_interleave(m.tensor([[1, 2]])), "RuntimeError",
     "repeat_interleave only accept 1D vector as repeat"),
    (lambda m: m.repeat_interleave(m.tensor(3)), "RuntimeError", "repeat_interleave only accept 1D vector as repeat"),
    (lambda m: m.repeat_interleave(m.tensor([1, -2])), "RuntimeError", "repeats can not be negative"),
    (lambda m: m.repeat_interleave(m.tensor([True, False])), "NotImplementedError",
     "\"repeat_interleave_cpu\" not implemented for 'Bool'"),
    (lambda m: m.repeat_interleave(m.tensor([1, 2]), output_size=4), "RuntimeError",
     "allocated size does not match required size"),
    (lambda m: m.meshgrid(indexing="ij"), "RuntimeError", "meshgrid expects a non-empty TensorList"),
    (lambda m: m.meshgrid([], indexing="ij"), "RuntimeError", "meshgrid expects a non-empty TensorList"),
    (lambda m: m.meshgrid(m.zeros(2), m.zeros(2, dtype=m.float64), indexing="ij"), "RuntimeError",
     "meshgrid expects all tensors to have the same dtype"),
    (lambda m: m.meshgrid(m.zeros(2), m.zeros(2), indexing="foo"), "RuntimeError",
     'torch.meshgrid: indexing must be one of "xy" or "ij", but received: foo'),
    (lambda m: m.meshgrid(m.zeros(2, 2), m.zeros(2, dtype=m.float64), indexing="ij"), "RuntimeError",
     "meshgrid expects all tensors to have the same dtype"),
    (lambda m: m.meshgrid(m.zeros(2), [1, 2], indexing="ij"), "TypeError",
     "expected Tensor as element 1 in argument 0, but got list"),
]


def _raised(call, module):
    with pytest.raises(Exception) as info:
        call(module)
    return type(info.value).__name__, str(info.value)


@pytest.mark.parametrize("call,kind,message", ERRORS)
def test_errors(call, kind, message):
    assert _raised(call, ag) == (kind, message)


@pytest.mark.parametrize("call,kind,message", ERRORS)
def test_errors_are_torchs(call, kind, message):
    torch = pytest.importorskip("torch")
    assert _raised(call, torch) == (kind, message)


def test_meshgrid_ndim_error_names_the_tensor():
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor in the tensor list but got"):
        ag.meshgrid(ag.zeros(2), ag.zeros(2, 2), indexing="xy")


# views ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make_view", [lambda b: b.diagonal(1), lambda b: b.diagonal(-1, 1, 0),
                                       lambda b: b.unfold(1, 2, 2), lambda b: b.t().diagonal()])
def test_views_write_through_both_ways(make_view):
    base = ag.arange(12.0).reshape(3, 4)
    v = make_view(base)
    assert np.shares_memory(v.numpy(), base.numpy())
    before = base.numpy().copy()
    v.mul_(-1)
    assert base._version == v._version == 1
    changed = base.numpy() != before
    assert changed.sum() == v.numel() - (v.numpy() == 0).sum()   # every element of the view, nothing else
    base.add_(100)
    np.testing.assert_array_equal(make_view(base).numpy(), v.numpy())


def test_diagonal_view_values_and_strides():
    x = ag.arange(24.0).reshape(2, 3, 4)
    d = ag.diagonal(x, 1, 0, 2)
    assert d.shape == (3, 2) and d.stride() == (4, 13)
    np.testing.assert_array_equal(d.numpy(), [[1, 14], [5, 18], [9, 22]])
    assert ag.diagonal(x, 5, 1, 2).shape == (2, 0)
    assert ag.diagonal(x, dim1=1, dim2=0).shape == (4, 2)


def test_unfold_view_values_and_strides():
    x = ag.arange(24.0).reshape(2, 3, 4)
    u = x.unfold(2, 2, 1)
    assert u.shape == (2, 3, 3, 2) and u.stride() == (12, 4, 1, 1)
    np.testing.assert_array_equal(u[1, 2].numpy(), [[20, 21], [21, 22], [22, 23]])
    assert x.unfold(1, 3, 5).shape == (2, 1, 4, 3)
    assert ag.zeros(0, 3).unfold(0, 0, 1).shape == (1, 3, 0)
    assert ag.tensor(5.0).unfold(0, 0, 1).shape == (0,)
    assert not hasattr(ag, "unfold")   # a Tensor method only, as in PyTorch


def test_inplace_through_views_gradients_match_torch():
    torch = pytest.importorskip("torch")
    out = []
    for m in (ag, torch):
        b = m.arange(9.0, dtype=m.float64).reshape(3, 3).requires_grad_()
        c = b * 1
        c.diagonal(1).mul_(m.tensor([2.0, 3.0], dtype=m.float64))
        u = c.reshape(-1).unfold(0, 3, 2)
        u[1].mul_(m.tensor([1.5, -2.0, 0.5], dtype=m.float64))
        (c * c).sum().backward()
        out.append((c.detach().numpy().copy(), b.grad.numpy().copy()))
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-12)


def test_unfold_overlapping_windows_gradient():
    x = ag.arange(7.0, dtype=ag.float64).requires_grad_()
    x.unfold(0, 3, 1).sum().backward()   # each element counted by the windows covering it
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3, 3, 3, 2, 1])
    x.grad = None
    x.unfold(0, 2, 3).sum().backward()   # windows [0,1], [3,4]; 2, 5, 6 untouched
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 0, 1, 1, 0, 0])


def test_gradients_of_diag_do_not_alias_other_leaves():
    a = ag.ones(1, 1, requires_grad=True)
    v = ag.ones(1, requires_grad=True)
    (a + ag.diag(v)).backward(ag.ones(1, 1) * 5)
    a.grad.mul_(0)
    assert v.grad.tolist() == [5.0]


# copies --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [lambda x: ag.diag(x), lambda x: ag.tile(x, (1, 1)), lambda x: x.tile(1),
                                lambda x: ag.repeat_interleave(x, 1, dim=0),
                                lambda x: ag.repeat_interleave(x, ag.tensor([1, 1, 1]), dim=0)])
def test_copies_do_not_alias(fn):
    x = ag.arange(9.0).reshape(3, 3)
    y = fn(x)
    assert not np.shares_memory(y.numpy(), x.numpy())
    y.add_(1)
    np.testing.assert_array_equal(x.numpy(), np.arange(9.0).reshape(3, 3))


def test_diag_values():
    np.testing.assert_array_equal(ag.diag(ag.tensor([1, 2, 3]), 1).numpy(),
                                  [[0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 3], [0, 0, 0, 0]])
    assert ag.diag(ag.tensor([1, 2])).dtype == ag.int64
    np.testing.assert_array_equal(ag.diag(ag.arange(12.0).reshape(3, 4), -1).numpy(), [4, 9])
    assert ag.diag(ag.zeros(0), 2).shape == (2, 2)


def test_tile_method_and_function_forms():
    v = ag.tensor([1, 2, 3])
    np.testing.assert_array_equal(ag.tile(v, (2,)).numpy(), [1, 2, 3, 1, 2, 3])
    assert v.tile(2, 2).shape == (2, 6) and v.tile([2]).shape == (6,) and v.tile((2,)).shape == (6,)
    assert ag.tile(ag.ones(2, 3), (2,)).shape == (2, 6)
    assert ag.tile(ag.tensor(1.0), ()).shape == ()


def test_repeat_interleave_index_form():
    r = ag.tensor([1, 0, 3])
    out = ag.repeat_interleave(r)
    assert out.dtype == ag.int64 and out.tolist() == [0, 2, 2, 2]
    assert ag.repeat_interleave(repeats=r).tolist() == [0, 2, 2, 2]
    r32 = ag.tensor([2, 1], dtype=ag.int32)
    assert ag.repeat_interleave(r32).dtype == ag.int32
    assert ag.repeat_interleave(ag.tensor([1, 2], dtype=ag.uint8)).dtype == ag.uint8
    assert ag.repeat_interleave(ag.tensor([1, 2]), output_size=3).tolist() == [0, 1, 1]
    assert ag.repeat_interleave(ag.zeros(0, dtype=ag.int64)).shape == (0,)
    with pytest.raises(TypeError):
        ag.tensor([1, 2]).repeat_interleave()   # the method needs repeats, as in PyTorch


def test_repeat_interleave_values_and_gradient():
    x = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = ag.repeat_interleave(x, ag.tensor([1, 2]), dim=0)
    np.testing.assert_array_equal(y.detach().numpy(), [[1, 2], [3, 4], [3, 4]])
    y.backward(ag.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [5, 5]])
    np.testing.assert_array_equal(ag.repeat_interleave(x.detach(), 2).numpy(), [1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(ag.repeat_interleave(x.detach(), ag.tensor(2), dim=1).numpy(),
                                  [[1, 1, 2, 2], [3, 3, 4, 4]])
    assert ag.repeat_interleave(ag.tensor(5.0), 3).shape == (3,)


def test_meshgrid_views_and_indexing():
    a, b = ag.tensor([1.0, 2.0, 3.0]), ag.tensor([4.0, 5.0])
    x, y = ag.meshgrid(a, b, indexing="xy")
    assert x.shape == y.shape == (2, 3) and x.stride() == (0, 1) and y.stride() == (1, 0)
    np.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(y.numpy(), [[4, 4, 4], [5, 5, 5]])
    assert np.shares_memory(x.numpy(), a.numpy())
    i, j = ag.meshgrid([a, b], indexing="ij")
    assert i.shape == (3, 2) and j.stride() == (0, 1)
    assert [t.shape for t in ag.meshgrid(ag.tensor(2.0), ag.tensor(3.0), indexing="xy")] == [(1, 1), (1, 1)]
    assert [t.shape for t in ag.meshgrid(a, b, a, indexing="xy")] == [(2, 3, 3)] * 3


def test_meshgrid_warns_once_without_indexing(monkeypatch):
    monkeypatch.setattr(layout, "_warned_indexing", False)
    a = ag.tensor([1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ag.meshgrid(a, a, indexing="ij")
        assert not caught
        out = ag.meshgrid(a, ag.tensor([3.0]))
        ag.meshgrid(a, a)
    assert [str(w.message) for w in caught] == [
        "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."]
    assert caught[0].category is UserWarning
    assert [t.shape for t in out] == [(2, 1), (2, 1)]   # "ij"


# CUDA against CPU ----------------------------------------------------------------------------------
@pytest.mark.cuda
def test_cuda_views_write_through():
    for dev in ("cpu", "cuda"):
        base = ag.arange(12.0, device=dev).reshape(3, 4)
        base.diagonal(1).mul_(-1)
        base.unfold(1, 2, 2)[2].add_(100)
        if dev == "cpu":
            expected = base.numpy().copy()
        else:
            np.testing.assert_array_equal(base.cpu().numpy(), expected)


@pytest.mark.cuda
@pytest.mark.parametrize("fn", [lambda x: x.unfold(1, 3, 1), lambda x: x.unfold(0, 2, 3), lambda x: x.diagonal(-1),
                                lambda x: ag.diag(x[0]), lambda x: ag.repeat_interleave(x, ag.tensor([0, 2, 1, 3]), 0),
                                lambda x: ag.repeat_interleave(x, 2), lambda x: ag.tile(x, (2, 1, 2))])
def test_cuda_matches_cpu_with_double_backward(fn):
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((4, 5))
    results = []
    for dev in ("cpu", "cuda"):
        x = ag.tensor(x0, device=dev).requires_grad_()
        y = fn(x)
        g = ag.tensor(rng.standard_normal(y.shape) if dev == "cpu" else results[0][3], device=dev)
        (gx,) = ag.autograd.grad(y, x, g, create_graph=True)
        (ggx,) = ag.autograd.grad((gx * gx).sum(), x)
        results.append((y.detach().cpu().numpy(), gx.detach().cpu().numpy(), ggx.cpu().numpy(), g.cpu().numpy()))
    for c, d in zip(results[0][:3], results[1][:3]):
        np.testing.assert_allclose(d, c, rtol=1e-12)


@pytest.mark.cuda
def test_cuda_repeat_interleave_index_form_and_meshgrid():
    r = ag.tensor([2, 0, 1], device="cuda")
    out = ag.repeat_interleave(r)
    assert out.device.type == "cuda" and out.cpu().tolist() == [0, 0, 2]
    a = ag.tensor([1.0, 2.0], device="cuda")
    x, y = ag.meshgrid(a, ag.tensor([3.0], device="cuda"), indexing="xy")
    assert x.device.type == "cuda" and x.cpu().tolist() == [[1.0, 2.0]] and y.cpu().tolist() == [[3.0, 3.0]]


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: ag.movedim(ag.zeros(2, 3, 4), (0, 0), (1, 2)), RuntimeError, r"movedim: repeated dim in `source` \(\[0, 0\]\)"),
    (lambda: ag.movedim(ag.zeros(2, 3, 4), (0, 1), (2, 2)), RuntimeError,
     r"movedim: repeated dim in `destination` \(\[2, 2\]\)"),
    (lambda: ag.broadcast_to(ag.zeros(3), (-1, 3)), RuntimeError,
     r"The expanded size of the tensor \(-1\) isn't allowed in a leading, non-existing dimension 0"),
    (lambda: ag.broadcast_to(ag.zeros(3), 3), TypeError, r"argument 'size' \(position 2\) must be tuple of ints, not int"),
    (lambda: ag.unflatten(ag.zeros(6), 0, (-1, -1)), RuntimeError, "only one dimension can be inferred"),
    (lambda: ag.broadcast_to(ag.zeros(2, 3, 4), (3, 4)), RuntimeError,
     r"expand\(torch.FloatTensor\{\[2, 3, 4\]\}, size=\[3, 4\]\): the number of sizes provided \(2\)"),
])
def test_existing_shape_ops_raise_pytorchs_errors(call, exc, msg):
    """Found by comparing with torch 2.14 while adding the layout ops (messages as torch writes them)."""
    with pytest.raises(exc, match=msg):
        call()
