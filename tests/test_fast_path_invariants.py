"""What the per-op fast path must keep (issue 13): an elementwise op whose operands already agree
calls its kernel straight from the device's table and records its node without ``forward``
(``recording._fast_apply`` / ``record_computed``), and the engine runs a CPU graph in one loop on
the calling thread. Each test here would catch a shortcut that skipped one of PyTorch's promises:
version counters on saved tensors, anomaly mode, hooks and their order, retain_grad,
post-accumulate hooks, grad modes, requires_grad propagation, type promotion, broadcasting,
scalar and 0-d operands, NumPy's warnings switched off (and the caller's NumPy state left alone)."""
from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import dispatch
from autograd_gpu.autograd import recording
from autograd_gpu.ops.arithmetic import Add, Mul
from autograd_gpu.ops.unary import Exp
from helpers import assert_close, make


def f64(values):
    return ag.tensor(np.asarray(values, dtype=np.float64))


def _took_fast_path(monkeypatch, cls):
    """Make ``cls.forward`` fail: a call that still works took the fast path."""
    def forbidden(*a, **k):
        raise AssertionError(f"{cls.__name__}.forward ran: the fast path was not taken")
    monkeypatch.setattr(cls, "forward", staticmethod(forbidden))


# version counters ------------------------------------------------------------------------
def test_inplace_change_of_a_saved_output_raises_pytorchs_message(monkeypatch):
    x = make((3,), dtype=ag.float32)
    _took_fast_path(monkeypatch, Exp)
    y = ag.exp(x * 1.0)          # saves its output
    z = ag.exp(y)                # saves y's... output again, and reads y
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"one of the variables needed for gradient computation has been "
                                           r"modified by an inplace operation: \[autograd_gpu.FloatTensor \[3\]\], "
                                           r"which is output 0 of ExpBackward0, is at version 1; expected "
                                           r"version 0 instead. Hint: enable anomaly detection"):
        z.sum().backward()


def test_inplace_change_of_a_saved_input_raises(monkeypatch):
    x, y = make((3,)), make((3,), seed=2)
    _took_fast_path(monkeypatch, Mul)
    out = x * y                  # keeps x for y's gradient and y for x's
    monkeypatch.undo()           # mul_ below runs Mul.forward
    with ag.no_grad():
        y.mul_(2)                # a leaf changed under no_grad: still a new version
    assert y._version == 1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[autograd_gpu.DoubleTensor \[3\]\] "
                                           r"is at version 1; expected version 0 instead"):
        out.sum().backward()


def test_inplace_change_of_an_operand_nobody_saved_is_fine():
    x, y = make((3,)), make((3,), seed=2)
    out = x + y                  # add saves nothing
    with ag.no_grad():
        y.mul_(2)
    out.sum().backward()
    assert_close(x.grad, np.ones(3))
    assert_close(y.grad, np.ones(3))


def test_scalar_operand_saved_as_number_never_trips_the_version_check():
    x = make((3,))
    out = (x * 1.0) * 0.5        # keeps 0.5 for x's gradient, as a Python number
    assert out.grad_fn.saved == [None, 0.5]
    out.sum().backward()
    assert_close(x.grad, np.full(3, 0.5))


# hooks ---------------------------------------------------------------------------------
def test_tensor_hooks_fire_in_order_along_a_chain_and_replace_gradients():
    order = []
    x = make((2,))
    a = x * 2.0
    b = ag.exp(a)
    c = b * 3.0
    c.register_hook(lambda g: order.append("c") or g * 10)
    b.register_hook(lambda g: order.append("b1"))
    b.register_hook(lambda g: order.append("b2") or g + 1)
    a.register_hook(lambda g: order.append("a"))
    x.register_hook(lambda g: order.append("x"))
    c.sum().backward()
    assert order == ["c", "b1", "b2", "a", "x"]
    expect = (30.0 + 1.0) * np.exp(2.0 * x._data) * 2.0
    assert_close(x.grad, expect)


def test_retain_grad_and_post_accumulate_hook_on_the_fast_path():
    x = make((3,))
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad._data.copy()))
    a = x * x
    a.retain_grad()
    b = -a
    b.sum().backward()
    assert_close(a.grad, -np.ones(3))
    assert_close(x.grad, -2 * x._data)
    assert len(seen) == 1
    assert_close(seen[0], -2 * x._data)


def test_node_hooks_see_the_fast_paths_nodes():
    x = make((2,))
    y = ag.tanh(x)
    calls = []
    y.grad_fn.register_prehook(lambda grads: calls.append(("pre", y.grad_fn.name())))
    y.grad_fn.register_hook(lambda gin, gout: calls.append(("post", len(gin))))
    y.sum().backward()
    assert calls == [("pre", "TanhBackward0"), ("post", 1)]


# anomaly mode -------------------------------------------------------------------------
def _exp_of(x):
    return ag.exp(x)   # this line must appear in the node's forward traceback


def test_anomaly_mode_names_the_forward_op_and_its_traceback():
    x = f64([1000.0]).requires_grad_()
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = ag.autograd.detect_anomaly()
    with mode:
        y = _exp_of(x)           # inf
        assert y.grad_fn.anomaly_trace and "_exp_of" in y.grad_fn.anomaly_trace
        z = y * 0.0              # nan forward is data; the backward of exp gets 0 * inf = nan
        with pytest.raises(RuntimeError, match="Function 'ExpBackward0' returned nan values in its 0th output") as e:
            z.sum().backward()
    assert "return ag.exp(x)" in str(e.value)


def test_no_trace_is_recorded_when_anomaly_mode_is_off():
    x = make((2,))
    assert (x * 2.0).grad_fn.anomaly_trace is None


# grad modes and requires_grad -------------------------------------------------------------
@pytest.mark.parametrize("mode", [ag.no_grad, ag.inference_mode, lambda: ag.set_grad_enabled(False)],
                         ids=["no_grad", "inference_mode", "set_grad_enabled"])
def test_grad_modes_record_nothing(mode):
    x, y = make((3,)), make((3,), seed=2)
    with mode():
        outs = [x * y, x * 2.0, -x, ag.exp(x), ag.sigmoid(x), x + y, x - 0.5]
    for out in outs:
        assert out.grad_fn is None and not out.requires_grad and out.is_leaf


def test_requires_grad_propagates_from_either_operand():
    x, y = make((3,)), make((3,), seed=2, requires_grad=False)
    for out, need in ((x * y, (True, False)), (y * x, (False, True)), (y + x, (False, True))):
        assert out.requires_grad and out.grad_fn.needs_input_grad == need
    assert (y * 2.0).grad_fn is None and not (y * 2.0).requires_grad
    (x * y).sum().backward()
    assert y.grad is None
    assert_close(x.grad, y._data)


def test_grad_mode_is_per_thread_on_the_fast_path():
    x = make((4,))
    ready, done = threading.Event(), threading.Event()
    other = {}

    def worker():
        with ag.no_grad():
            ready.set()
            done.wait(5)
            other["out"] = x * 2.0

    t = threading.Thread(target=worker)
    t.start()
    ready.wait(5)
    mine = x * 2.0               # this thread still records while the other is in no_grad
    done.set()
    t.join()
    assert mine.grad_fn is not None and other["out"].grad_fn is None


# promotion, broadcasting, scalars, 0-d ---------------------------------------------------
def test_int_and_float_operands_promote_like_pytorch():
    i = ag.tensor([1, 2])
    assert (i * 2.5).dtype == ag.float32 and (i * 2.5).tolist() == [2.5, 5.0]
    assert (i + 1).dtype == ag.int64
    x = ag.ones(2, requires_grad=True)
    out = x + i
    assert out.dtype == ag.float32 and out.requires_grad
    d = ag.ones(2, dtype=ag.float64, requires_grad=True)
    mixed = x * d                # float32 * float64 -> float64; each gradient in its input's dtype
    assert mixed.dtype == ag.float64
    mixed.sum().backward()
    assert x.grad.dtype == ag.float32 and d.grad.dtype == ag.float64
    assert_close(x.grad, np.ones(2))


def test_broadcast_operands_reduce_their_gradients():
    a, b = make((3, 1)), make((1, 4), seed=2)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4)
    assert_close(a.grad, np.broadcast_to(b._data, (3, 4)).sum(1, keepdims=True))
    assert_close(b.grad, np.broadcast_to(a._data, (3, 4)).sum(0, keepdims=True))


@pytest.mark.parametrize("op, grad", [
    (lambda x: x * 2, 2.0), (lambda x: 2.5 * x, 2.5), (lambda x: x - 0.5, 1.0), (lambda x: 0.5 - x, -1.0),
    (lambda x: x * np.float64(3.0), 3.0), (lambda x: x + 1, 1.0)],
    ids=["int", "reflected", "sub", "rsub", "numpy_scalar", "add_int"])
def test_scalar_operands_keep_the_tensors_dtype_and_gradient(op, grad):
    for dtype in (ag.float16, ag.float32, ag.float64):
        x = ag.ones(3, dtype=dtype, requires_grad=True)
        out = op(x)
        assert out.dtype == dtype
        out.sum().backward()
        assert x.grad.dtype == dtype
        assert_close(x.grad, np.full(3, grad))


def test_bool_scalar_takes_forwards_checks():
    x = ag.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
        x - True


def test_zero_dim_tensors_stay_tensors_with_zero_dim_gradients():
    x = ag.tensor(0.5, requires_grad=True)
    y = ag.tensor(2.0, requires_grad=True)
    out = ag.exp(x) * y + x * 3.0
    assert out.shape == () and type(out._data) is np.ndarray
    out.backward()
    assert x.grad.shape == () and y.grad.shape == ()
    assert_close(x.grad, np.exp(0.5) * 2.0 + 3.0)
    assert_close(y.grad, np.exp(0.5))


def test_a_tensor_subclass_operand_gives_the_same_result_and_gradient():
    w = ag.nn.Parameter(ag.ones(3, dtype=ag.float64))
    x = make((3,))
    out = w * x
    assert type(out) is ag.Tensor
    out.sum().backward()
    assert_close(w.grad, x._data)
    assert_close(x.grad, np.ones(3))


def test_add_with_alpha_takes_the_full_path_with_its_gradient():
    x, y = make((3,)), make((3,), seed=2)
    ag.add(x, y, alpha=2).sum().backward()          # keyword
    assert_close(y.grad, np.full(3, 2.0))
    x.grad = y.grad = None
    Add.apply(x, y, 3).sum().backward()             # positional: a third (non-tensor) input
    assert_close(x.grad, np.ones(3))
    assert_close(y.grad, np.full(3, 3.0))


# NumPy's warnings and state --------------------------------------------------------------
def test_fast_path_never_warns_and_leaves_numpys_error_state_alone():
    before = np.geterr()
    x = ag.tensor([1000.0, -1.0, 0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ag.exp(x) * 1e38                         # overflow
        z = ag.ones(2, dtype=ag.float16) * 1e5      # float16 overflow of the scalar itself
        (y * 0.0).sum().backward()                   # 0 * inf in backward
    assert np.isinf(z._data).all() and not np.isfinite(y._data[0])
    assert np.geterr() == before
    with np.errstate(over="raise"):                 # the caller's own setting survives an op
        ag.exp(x * 1.0)
        assert np.geterr()["over"] == "raise"
        with pytest.raises(FloatingPointError):
            np.exp(np.float32(1000.0))


def test_a_kernel_registered_later_is_the_one_called():
    calls = []
    old = dispatch.lookup("exp_fwd", "numpy")

    def spy(a):
        calls.append(a.shape)
        return np.exp(a)
    x = make((2,))
    ag.exp(x)                                        # the old kernel is the one the fast path last saw
    dispatch.register("exp_fwd", "numpy", spy)
    try:
        ag.exp(x).sum().backward()
    finally:
        dispatch.register("exp_fwd", "numpy", old)
    assert calls == [(2,)]
    ag.exp(x)
    assert calls == [(2,)]


# saved tensors, double backward, the engine -------------------------------------------------
def test_saved_tensors_hooks_see_the_fast_paths_saves():
    packed = []
    x = make((3,))
    with ag.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or len(packed) - 1,
                                               lambda i: packed[i]):
        y = ag.exp(x)
        z = y * x
    assert len(packed) == 3                         # exp's output; mul's two inputs
    z.sum().backward()
    assert_close(x.grad, np.exp(x._data) * x._data + np.exp(x._data))


def test_double_backward_through_fast_path_ops():
    x = make((3,))
    y = ag.exp(x) * x                               # y' = e^x (x + 1), y'' = e^x (x + 2)
    (g,) = ag.autograd.grad(y.sum(), x, create_graph=True)
    assert_close(g, np.exp(x._data) * (x._data + 1))
    g.sum().backward()
    assert_close(x.grad, np.exp(x._data) * (x._data + 2))


def test_a_leaf_used_by_many_ops_accumulates_every_gradient():
    x, y = make((4,)), make((4,), seed=2)
    s = x * 0.0
    for _ in range(50):
        s = s + x * y
    s.sum().backward()
    assert_close(y.grad, 50 * x._data)
    assert_close(x.grad, 50 * y._data)


def test_backward_twice_raises_and_retain_graph_keeps_the_saves():
    x = make((3,))
    y = ag.sigmoid(x) * 2.0
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    s = 1 / (1 + np.exp(-x._data))
    assert_close(x.grad, 2 * 2.0 * s * (1 - s))
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()


def test_nodes_get_the_out_meta_of_their_own_output():
    outs = [ag.ones(3, requires_grad=True) * 2.0, ag.ones(3, dtype=ag.float64, requires_grad=True) * 2.0,
            ag.ones((2, 3), requires_grad=True) * 2.0, ag.ones(3, requires_grad=True) * 2.0]
    for out in outs:
        ((shape, dtype, device),) = out.grad_fn.out_meta
        assert shape == out.shape and dtype == out._data.dtype and device is out.device
    assert outs[0].grad_fn.out_meta is outs[3].grad_fn.out_meta
    assert outs[0].grad_fn.out_meta is not outs[1].grad_fn.out_meta


def test_fast_path_records_the_same_edges_as_the_full_path():
    x, y = make((3,)), make((3,), seed=2, requires_grad=False)
    a = x * 1.0
    fast = a * y
    slow = recording._apply(Mul, (a, y), {})
    assert type(fast.grad_fn) is type(slow.grad_fn)
    assert fast.grad_fn.needs_input_grad == slow.grad_fn.needs_input_grad == (True, False)
    assert list(fast.grad_fn.next_edges) == list(slow.grad_fn.next_edges) == [(a.grad_fn, 0), None]


def test_engine_loop_runs_on_the_calling_thread_for_a_cpu_graph():
    x = make((3,))
    threads = []
    y = ag.exp(x) * 2.0
    y.register_hook(lambda g: threads.append(threading.get_ident()))
    y.sum().backward()
    assert threads == [threading.get_ident()]


def test_nan_in_a_gradient_is_data_without_anomaly_mode():
    x = ag.tensor([math.inf], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (ag.exp(-x) * 0.0).sum().backward()          # 0 * e^-inf fine; the chain has no nan check
    assert x.grad is not None
