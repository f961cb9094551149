"""Custom autograd.Function: both styles, ctx API, error messages, and the CuPy example."""
from __future__ import annotations

import gc
import importlib.util
import pathlib
import weakref

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd import Function, once_differentiable
from helpers import assert_close, check_grad, make

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * x * 3


class CubeNew(Function):
    """New style: forward without ctx, state saved in setup_context."""

    @staticmethod
    def forward(x, scale=2.0):
        return x * x * x * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, scale = inputs
        ctx.scale = scale
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * x * (3 * ctx.scale), None


class ScaleBy(Function):
    """Non-tensor argument in the middle; returns None for it."""

    @staticmethod
    def forward(ctx, x, k, y):
        ctx.k = k
        ctx.needs = ctx.needs_input_grad
        return x * k + y

    @staticmethod
    def backward(ctx, g):
        return (g * ctx.k if ctx.needs_input_grad[0] else None, None,
                g if ctx.needs_input_grad[2] else None)


class TwoOut(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y, x + y

    @staticmethod
    def backward(ctx, ga, gb):
        x, y = ctx.saved_tensors
        return ga * y + gb, ga * x + gb


def test_old_style_forward_backward_and_double_backward():
    x = make((3, 4))
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    assert_close(y, x.detach()._data ** 3)
    check_grad(Cube.apply, x)


def test_new_style_setup_context_with_default_argument():
    x = make((5,))
    y = CubeNew.apply(x)
    assert_close(y, 2 * x.detach()._data ** 3)
    check_grad(lambda t: CubeNew.apply(t, 0.5), x)
    (g,) = ag.autograd.grad(CubeNew.apply(x, scale=3.0), x, ag.ones(5, dtype=ag.float64))
    assert_close(g, 9 * x.detach()._data ** 2)


def test_non_tensor_args_and_needs_input_grad():
    x, y = make((3,)), make((3,), requires_grad=False, seed=2)
    out = ScaleBy.apply(x, 2.5, y)
    assert out.grad_fn.needs == (True, False, False)
    out.backward(ag.ones(3, dtype=ag.float64))
    assert_close(x.grad, np.full(3, 2.5))
    assert y.grad is None
    check_grad(lambda a, b: ScaleBy.apply(a, -1.5, b), make((2, 3)), make((2, 3), seed=3))


class WeightedSum(Function):
    """Any number of inputs: exercises needs_input_grad past the small-arity table."""

    @staticmethod
    def forward(ctx, *xs):
        ctx.needs = ctx.needs_input_grad
        out = xs[0] * 1.0
        for i, x in enumerate(xs[1:], 2):
            out = out + x * float(i)
        return out

    @staticmethod
    def backward(ctx, g):
        return tuple(g * float(i) if n else None for i, n in enumerate(ctx.needs_input_grad, 1))


@pytest.mark.parametrize("n", [1, 3, 4, 5, 7])
def test_needs_input_grad_for_any_arity(n):
    xs = [make((2,), seed=i, requires_grad=i % 2 == 0) for i in range(n)]
    if n > 1:
        xs[1] = 3.0                      # a non-tensor argument
    out = WeightedSum.apply(*xs)
    expect = tuple(isinstance(x, ag.Tensor) and x.requires_grad for x in xs)
    assert out.grad_fn.needs == expect
    out.sum().backward()
    for i, x in enumerate(xs, 1):
        if isinstance(x, ag.Tensor) and x.requires_grad:
            assert_close(x.grad, np.full(2, float(i)))


def test_out_meta_shared_by_geometry_and_bounded():
    from autograd_gpu.autograd import recording as F
    x = make((3, 2))
    a, b = (x * 2.0).grad_fn, ag.exp(x).grad_fn
    assert a.out_meta is b.out_meta and a.out_meta == (((3, 2), np.dtype(np.float64), ag.device("cpu")),)
    for k in range(1, 4200):             # more geometries than the cache keeps
        ag.ones(k, dtype=ag.float64, requires_grad=True) * 2.0
    assert len(F._SINGLE_META) <= 4096
    assert (ag.ones(5, requires_grad=True) * 2.0).grad_fn.out_meta[0][0] == (5,)


def test_multiple_outputs_and_grad_of_one():
    x, y = make((4,)), make((4,), seed=5)
    a, b = TwoOut.apply(x, y)
    assert a.grad_fn is b.grad_fn and a._output_nr == 0 and b._output_nr == 1
    gx, gy = ag.autograd.grad(a, (x, y), ag.ones(4, dtype=ag.float64))  # b's gradient materialised as zeros
    assert_close(gx, y.detach()._data)
    assert_close(gy, x.detach()._data)
    check_grad(TwoOut.apply, x, y)


def test_wrong_number_of_gradients_names_the_function():
    class MyFn(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    out = MyFn.apply(make((3,)), make((3,), seed=1))
    with pytest.raises(RuntimeError, match=r"function MyFnBackward returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        out.backward(ag.ones(3, dtype=ag.float64))


def test_extra_none_gradients_are_ignored():
    class Extra(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    x = make((2,))
    Extra.apply(x).backward(ag.ones(2, dtype=ag.float64))
    assert_close(x.grad, np.ones(2))


def test_wrong_gradient_shape_names_the_function():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return ag.ones(7, dtype=ag.float64)

    out = BadShape.apply(make((3,)))
    with pytest.raises(RuntimeError, match=r"Function BadShapeBackward returned an invalid gradient at index 0 "
                                           r"- got \[7\] but expected shape compatible with \[3\]"):
        out.backward(ag.ones(3, dtype=ag.float64))


def test_mark_non_differentiable():
    class WithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x * 0
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            assert g_idx is not None  # materialised as zeros
            assert not np.any(g_idx._data)
            return g * 2

    x = make((3,))
    y, idx = WithIndex.apply(x)
    assert y.requires_grad and not idx.requires_grad and idx.grad_fn is None
    y.backward(ag.ones(3, dtype=ag.float64))
    assert_close(x.grad, np.full(3, 2.0))


def test_set_materialize_grads_false_keeps_none():
    seen = []

    class NoMat(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x.clone(), x.clone()

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga is None, gb is None))
            return ga if gb is None else ga + gb

    x = make((3,))
    a, b = NoMat.apply(x)
    a.backward(ag.ones(3, dtype=ag.float64))
    assert seen == [(False, True)]
    assert_close(x.grad, np.ones(3))


def test_mark_dirty_in_place_custom_op():
    class AddOneInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x._data += 1
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = make((3,))
    y = x * 2
    v0 = y._version
    z = AddOneInPlace.apply(y)
    assert z is y and y._version == v0 + 1 and y.grad_fn.name() == "AddOneInPlaceBackward"
    (z * z).backward(ag.ones(3, dtype=ag.float64))
    assert_close(x.grad, 4 * (2 * x.detach()._data + 1))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        AddOneInPlace.apply(make((2,)))


def test_marked_outputs_are_freed_without_the_cycle_collector():
    """The node does not keep what forward marked dirty or non-differentiable: a dirty output whose
    grad_fn is the node would otherwise form a cycle that only ``gc`` frees (GPU memory held
    until then), and a non-differentiable one would live as long as the graph."""
    class Marks(Function):
        @staticmethod
        def forward(ctx, x):
            x._data += 1
            ctx.mark_dirty(x)
            idx = x.detach() * 0
            ctx.mark_non_differentiable(idx)
            return x, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g

    gc.disable()
    try:
        leaf = make((3,))
        y, idx = Marks.apply(leaf * 2)
        node = y.grad_fn
        refs = weakref.ref(y), weakref.ref(idx)
        del y, idx
        assert [r() for r in refs] == [None, None] and node.dirty is None and node.non_differentiable is None
    finally:
        gc.enable()


def test_mark_dirty_invalidates_saved_tensor():
    class Bump(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = make((3,), dtype=ag.float32)
    y = x.exp()          # ExpBackward0 saves its output
    Bump.apply(y)
    with pytest.raises(RuntimeError, match=r"\[autograd_gpu.FloatTensor \[3\]\], which is output 0 of "
                                           r"ExpBackward0, is at version 1; expected version 0 instead"):
        y.backward(ag.ones(3))


def test_once_differentiable():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not ag.is_grad_enabled()
            return g * x * 2

    x = make((3,))
    (g,) = ag.autograd.grad(Sq.apply(x), x, ag.ones(3, dtype=ag.float64))
    assert_close(g, 2 * x.detach()._data)
    v = ag.ones(3, dtype=ag.float64, requires_grad=True)  # as in PyTorch: only grads' requires_grad counts
    (g,) = ag.autograd.grad(Sq.apply(x), x, v, create_graph=True)
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        g.backward(ag.ones(3, dtype=ag.float64))


def test_returning_input_unchanged_gives_new_tensor():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = make((2,))
    y = Ident.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None and y._version == x._version
    y.backward(ag.ones(2, dtype=ag.float64))
    assert_close(x.grad, np.full(2, 3.0))


def test_no_graph_when_no_input_requires_grad_or_no_grad():
    x = make((3,), requires_grad=False)
    assert Cube.apply(x).grad_fn is None
    with ag.no_grad():
        assert Cube.apply(make((3,))).grad_fn is None


def test_forward_runs_without_grad_and_ctx_attributes_survive():
    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mode = ag.is_grad_enabled()
            ctx.payload = {"k": 1}
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            assert ctx.payload == {"k": 1}
            return g

    y = Probe.apply(make((2,)))
    assert y.grad_fn.mode is False
    y.backward(ag.ones(2, dtype=ag.float64))


def test_save_for_backward_rejects_non_tensors_and_legacy_call():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="save_for_backward can only save variables, but argument 1 is of type int"):
        Bad.apply(make((2,)))
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward method"):
        Cube()(make((2,)))


def test_saving_an_intermediate_tensor():
    class Inter(Function):
        @staticmethod
        def forward(ctx, x):
            e = x.exp()
            ctx.save_for_backward(e)
            return e * 1.0

        @staticmethod
        def backward(ctx, g):
            (e,) = ctx.saved_tensors
            return g * e

    check_grad(Inter.apply, make((3,)), second_order=False)


# the user-written CuPy example ----------------------------------------------------------------
def _example():
    spec = importlib.util.spec_from_file_location("custom_cupy_function", ROOT / "examples" / "custom_cupy_function.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_cupy_example_on_cpu(dtype):
    mod = _example()
    x = make((4, 5), dtype=dtype, noncontig=True)
    y = mod.fused_silu(x)
    xs = x.detach()._data.astype(np.float64)
    ref = xs / (1 + np.exp(-xs))
    assert y.dtype is dtype and y.shape == (4, 5) and y.grad_fn.name() == "FusedSiLUBackward"
    assert_close(y.double(), ref, rtol=1e-6 if dtype is ag.float32 else 1e-12, atol=1e-7)
    y.backward(ag.ones(4, 5, dtype=dtype))
    s = 1 / (1 + np.exp(-xs))
    assert_close(x.grad.double(), s * (1 + xs * (1 - s)), rtol=1e-5 if dtype is ag.float32 else 1e-12, atol=1e-7)
    if dtype is ag.float64:
        check_grad(mod.fused_silu, make((3, 2)), second_order=False)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_cupy_example_on_cuda(dtype):
    from helpers import compare_devices
    mod = _example()
    arr = np.linspace(-3, 3, 24).reshape(4, 6)
    compare_devices(mod.fused_silu, arr, dtype=dtype)


# what a backward returns ------------------------------------------------------------------
_BAD_RETURNS = {
    "list": lambda g: [g, g],
    "number": lambda g: 1.0,
    "float_for_input_1": lambda g: (g, 2.0),
    "int_for_input_1": lambda g: (g, 3),
    "str_for_input_1": lambda g: (g, "a"),
    "three": lambda g: (g, g, g),
    "one": lambda g: g,
    "nested_for_input_0": lambda g: ((g,), g),
    "ndarray_for_input_1": lambda g: (g, g.detach().numpy()),
    "none_alone": lambda g: None,
    "wrong_shape": lambda g: (g, g.sum()),
}


def _two_input_fn(lib, ret):
    class MyFn(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return ret(g)
    return MyFn


def _backward_error(lib, ret) -> tuple:
    x = lib.ones(3, requires_grad=True)
    y = lib.ones(3, requires_grad=True)
    try:
        _two_input_fn(lib, ret).apply(x, y).sum().backward()
    except Exception as e:   # noqa: BLE001 - the error is what we compare
        return type(e), str(e).split("\n")[0]
    return None, (x.grad.tolist(), y.grad.tolist())


@pytest.mark.parametrize("case", sorted(_BAD_RETURNS))
def test_a_backward_returning_the_wrong_things_raises_pytorchs_error(case):
    typ, msg = _backward_error(ag, _BAD_RETURNS[case])
    assert typ is RuntimeError
    if "_for_input_" in case:
        got = {"float": "float", "int": "int", "str": "str", "nested": "tuple", "ndarray": "numpy.ndarray"}
        what, _, idx = case.partition("_for_input_")
        assert msg == (f"expected Variable or None (got {got[what]}): function MyFnBackward returned it as the "
                       f"gradient of input {idx}")
    elif case == "wrong_shape":
        assert msg == ("Function MyFnBackward returned an invalid gradient at index 1 - got [] but expected shape "
                       "compatible with [3]")
    else:
        n = 3 if case == "three" else 1
        assert msg == f"function MyFnBackward returned an incorrect number of gradients (expected 2, got {n})"


@pytest.mark.parametrize("case", sorted(_BAD_RETURNS))
def test_backward_return_errors_match_torch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _backward_error(ag, _BAD_RETURNS[case]), _backward_error(torch, _BAD_RETURNS[case])
    assert ours[0] is theirs[0]
    assert ours[1].startswith(theirs[1]), (ours, theirs)


def test_a_backward_may_return_trailing_nones():
    x = ag.ones(3, requires_grad=True)
    y = ag.ones(3, requires_grad=True)
    _two_input_fn(ag, lambda g: (g * 2, g, None)).apply(x, y).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and y.grad.tolist() == [1.0, 1.0, 1.0]
