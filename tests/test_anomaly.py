"""Anomaly mode: forward tracebacks on nodes, NaN checks in backward, and no cost when off."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd import Function, anomaly
from helpers import make


class NanGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * math.nan


def create_nan_node(x):
    return NanGrad.apply(x)   # this line must appear in the recorded forward traceback


def test_off_by_default_and_no_trace_recorded():
    assert not ag.autograd.is_anomaly_enabled()
    y = make((2,)).exp()
    assert y.grad_fn.anomaly_trace is None
    y = create_nan_node(make((2,)))
    y.backward(ag.ones(2, dtype=ag.float64))   # NaN goes through silently when off, as in PyTorch


def test_nan_in_backward_names_node_and_forward_traceback():
    ag.autograd.set_detect_anomaly(True)
    x = make((3,))
    y = create_nan_node(x) * 2
    assert "create_nan_node" in y.grad_fn.next_functions[0][0].anomaly_trace
    with pytest.raises(RuntimeError) as e:
        y.backward(ag.ones(3, dtype=ag.float64))
    msg = str(e.value)
    assert "Function 'NanGradBackward' returned nan values in its 0th output." in msg
    assert "create_nan_node" in msg and "test_anomaly.py" in msg


def test_div_backward_nan_message():
    if not hasattr(ag, "div"):
        pytest.skip("div not available yet")
    x = ag.tensor([0.0, 1.0], dtype=ag.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ag.autograd.detect_anomaly():
            y = ag.div(x, x)
            with pytest.raises(RuntimeError, match=r"Function 'DivBackward0' returned nan values in its "
                                                   r"(0th|1th) output\.") as e:
                y.backward(ag.ones(2, dtype=ag.float64))
    assert "y = ag.div(x, x)" in str(e.value)  # the forward traceback names the line that made the node


def test_detect_anomaly_context_manager_decorator_and_warning():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        ctx = ag.autograd.detect_anomaly()
    with ctx:
        assert ag.autograd.is_anomaly_enabled()
    assert not ag.autograd.is_anomaly_enabled()

    with pytest.warns(UserWarning):
        @ag.autograd.detect_anomaly()
        def f():
            return ag.autograd.is_anomaly_enabled(), make((2,)).exp().grad_fn.anomaly_trace

    on, trace = f()
    assert on and "def f" not in trace and " in f\n" in trace
    assert not ag.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_as_setter_and_context_manager():
    ag.autograd.set_detect_anomaly(True)
    assert ag.autograd.is_anomaly_enabled()
    with ag.autograd.set_detect_anomaly(False):
        assert not ag.autograd.is_anomaly_enabled()
    assert ag.autograd.is_anomaly_enabled()
    ag.autograd.set_detect_anomaly(False)
    assert not ag.autograd.is_anomaly_enabled()


def test_check_nan_false_still_records_traces():
    with ag.autograd.set_detect_anomaly(True, check_nan=False):
        assert anomaly.is_anomaly_check_nan_enabled() is False
        y = create_nan_node(make((2,)))
        assert "create_nan_node" in y.grad_fn.anomaly_trace
    assert anomaly.is_anomaly_check_nan_enabled() is True


def test_inplace_hint_changes_under_anomaly_mode():
    class Bump(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    ag.autograd.set_detect_anomaly(True)
    y = make((2,)).exp()
    Bump.apply(y)
    with pytest.raises(RuntimeError, match="Hint: the backtrace further above shows the operation"):
        y.backward(ag.ones(2, dtype=ag.float64))


def test_finite_gradients_pass_under_anomaly_mode():
    ag.autograd.set_detect_anomaly(True)
    x = make((3,))
    (x.exp() * x).backward(ag.ones(3, dtype=ag.float64))
    assert np.isfinite(x.grad._data).all()
