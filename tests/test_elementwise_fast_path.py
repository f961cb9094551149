"""The fast path of ``Function.apply`` calls a declared op's ``kernel`` directly and, when an input needs a
gradient, records the node from the class's ``saves``: it must give exactly what the op's own
forward (and the full recording path) gives, and must step aside whenever the operands need
promotion, broadcasting or a device check."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd.recording import _apply
from autograd_gpu.dispatch import constant
from autograd_gpu.ops.declare import Pointwise, zero_grads


def _function_apply(cls, *args):
    return _apply(cls, args, {})   # Function.apply's general path: forward with a ctx


def _subclasses(cls) -> list:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


# ops whose forward takes exactly the kernel's operands, all tensors (PowScalarBackward's third
# operand is a Python-number exponent, a kernel parameter)
ALL_OPS = sorted((c for c in set(_subclasses(Pointwise)) if c.kernel and c.arity == c._operand_count
                  and c.__name__ != "PowScalarBackward"), key=lambda c: c.__name__)
OPS = [c for c in ALL_OPS if c._fast_arity]   # the fast path's ops


def _inputs(cls, dtype, scalar_last: bool) -> list:
    rng = np.random.default_rng(len(cls.__name__))
    n = cls._operand_count
    args = [ag.tensor(rng.uniform(0.5, 2.0, (3, 4)), dtype=dtype) for _ in range(n)]
    if scalar_last and n > 1:
        args[-1] = 1.5
    return args


def test_every_fast_op_is_found():
    names = {c.__name__ for c in OPS}
    assert {"Mul", "Add", "Sub", "Neg", "Exp", "Tanh", "TanhBackward", "Sigmoid", "SigmoidBackward"} <= names
    assert {"MaximumBackwardX", "DivBackwardY", "PowBackwardX"} <= {c.__name__ for c in ALL_OPS} - names


@pytest.mark.parametrize("dtype", [ag.float32, ag.float64], ids=str)
@pytest.mark.parametrize("scalar_last", [False, True], ids=["tensors", "scalar"])
@pytest.mark.parametrize("cls", OPS, ids=lambda c: c.__name__)
def test_fast_path_equals_forward(cls, dtype, scalar_last, monkeypatch):
    args = _inputs(cls, dtype, scalar_last)
    with ag.no_grad():
        slow = _function_apply(cls, *args)       # Function.apply: forward with a throwaway ctx

        def forbidden(*a, **k):
            raise AssertionError(f"{cls.__name__}.forward ran: the fast path was not taken")
        monkeypatch.setattr(cls, "forward", staticmethod(forbidden))
        fast = cls.apply(*args)
    assert fast.dtype == slow.dtype == dtype
    assert fast.shape == slow.shape
    assert fast.grad_fn is None and not fast.requires_grad
    np.testing.assert_array_equal(fast.numpy(), slow.numpy())


@pytest.mark.parametrize("scalar_last", [False, True], ids=["tensors", "scalar"])
@pytest.mark.parametrize("cls", OPS, ids=lambda c: c.__name__)
def test_recorded_fast_path_equals_full_path(cls, scalar_last, monkeypatch):
    """Same output, same node, same first and second derivatives as forward + full recording."""
    if cls.__name__ == "PowScalar" and not scalar_last:
        pytest.skip("pow() gives PowScalar a Python-number exponent only")
    if cls.backward is zero_grads:
        pytest.skip("piecewise constant: zero gradient, nothing to differentiate twice")
    def run(fast: bool):
        args = _inputs(cls, ag.float64, scalar_last)
        for a in args:
            if isinstance(a, ag.Tensor):
                a.requires_grad_()
        inputs = [a for a in args if isinstance(a, ag.Tensor)]
        if fast:
            with monkeypatch.context() as m:
                def forbidden(*a, **k):
                    raise AssertionError(f"{cls.__name__}.forward ran: the fast path was not taken")
                m.setattr(cls, "forward", staticmethod(forbidden))
                out = cls.apply(*args)
        else:
            out = _function_apply(cls, *args)   # Function.apply: forward with the node as ctx
        first = ag.autograd.grad((out * out).sum(), inputs, create_graph=True, allow_unused=True)
        used = [g for g in first if g is not None]
        second = ag.autograd.grad(sum(g.sum() for g in used), inputs, allow_unused=True) if used else []
        return out, first, second

    fast, slow = run(True), run(False)
    assert type(fast[0].grad_fn) is type(slow[0].grad_fn) is cls._backward_cls
    np.testing.assert_array_equal(fast[0].detach().numpy(), slow[0].detach().numpy())
    for part in (1, 2):
        assert [g is None for g in fast[part]] == [g is None for g in slow[part]]
        for f, s in zip(fast[part], slow[part]):
            if f is not None:
                np.testing.assert_allclose(f.detach().numpy(), s.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert any(g is not None for g in fast[1])


@pytest.mark.parametrize("cls", [c for c in ALL_OPS if c not in OPS], ids=lambda c: c.__name__)
def test_three_operand_ops_take_the_full_path(cls, monkeypatch):
    args = _inputs(cls, ag.float64, scalar_last=False)
    expected = cls.apply(*args)
    ran = []
    forward = cls.forward

    def spy(*a, **k):
        ran.append(True)
        return forward(*a, **k)
    monkeypatch.setattr(cls, "forward", spy if isinstance(cls.__dict__.get("forward"), classmethod)
                        else staticmethod(spy))
    np.testing.assert_array_equal(cls.apply(*args).numpy(), expected.numpy())
    assert ran


def test_mul_saves_each_operand_only_for_the_others_gradient():
    x = ag.tensor([0.5, 1.0], requires_grad=True)
    y = ag.tensor([2.0, 3.0])
    node = (x * y).grad_fn
    assert node.saved[0] is None             # x is needed only for y's gradient: not kept
    assert node.saved[1].tensor is y
    assert (x * 2.5).grad_fn.saved_tensors == (None, 2.5)   # a Python number is kept as it is


def test_recording_through_the_fast_path():
    x = ag.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = ag.tanh(x) * x
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    expect = (1 - np.tanh(x.detach().numpy()) ** 2) * x.detach().numpy() + np.tanh(x.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-6)


def test_second_operand_requiring_grad_records():
    a = ag.tensor([1.0, 2.0])
    b = ag.tensor([3.0, 4.0], requires_grad=True)
    out = a * b
    assert out.grad_fn is not None
    out.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("pair", ["broadcast", "promote", "int", "bool_scalar"])
def test_operands_needing_checks_take_the_full_path(pair):
    f32 = ag.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=ag.float32)
    if pair == "broadcast":
        out = f32 * ag.tensor([10.0, 20.0], dtype=ag.float32)
        np.testing.assert_array_equal(out.numpy(), [[10, 40], [30, 80]])
    elif pair == "promote":
        out = f32 * ag.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=ag.float64)
        assert out.dtype == ag.float64
    elif pair == "int":
        out = ag.tensor([1, 2]) * ag.tensor([3, 4])
        assert out.dtype == ag.int64 and out.tolist() == [3, 8]
    else:
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor"):
            f32 - True


def test_shape_mismatch_still_raises():
    with pytest.raises(RuntimeError, match="The size of tensor a \\(3\\) must match the size of tensor b \\(2\\)"):
        ag.ones(3) * ag.ones(2)


def test_mixed_devices_still_raise():
    a = ag.ones(3, device="fake:0")
    b = ag.ones(3, device="fake:1")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a * b


def test_python_numbers_become_cached_constants_that_keep_the_sign_of_zero():
    x = ag.tensor([1.0, -2.0], dtype=ag.float32)
    a = x._data
    for v in (0.0, -0.0, 0, 0.5, -0.5, 0.0, -0.0, float("nan"), float("inf")):
        out = (x * v).numpy()
        ref = a * v
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))
    c = constant(0.5, np.dtype(np.float32))
    assert c is constant(0.5, np.dtype(np.float32)) and not c.flags.writeable
