"""PyTorch's errors for bad creation calls and failed allocations, and integer arange/linspace.

Each bad call is run through both libraries where PyTorch is installed (same exception type,
same first line); the expected messages are also written out, so the tests fail without it.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import dispatch

# call (with X standing for the library) -> (exception type, message)
BAD_CALLS = {
    "eye(-1)": (RuntimeError, "n must be greater or equal to 0, got -1"),
    "eye(3, -1)": (RuntimeError, "m must be greater or equal to 0, got -1"),
    "eye(2.5)": (TypeError, "eye(): argument 'n' (position 1) must be int, not float"),
    "randint(5, 2, (3,))": (RuntimeError, "random_ expects 'from' to be less than 'to', but got from=5 >= to=2"),
    "randint(0, (3,))": (RuntimeError, "random_ expects 'from' to be less than 'to', but got from=0 >= to=0"),
    "randint(2.5, (3,))": (TypeError, "randint(): argument 'high' (position 1) must be int, not float"),
    "randint(0, 300, (3,), dtype=X.uint8)": (RuntimeError, "to - 1 is out of bounds for unsigned char"),
    "randint(-1, 5, (3,), dtype=X.uint8)": (RuntimeError, "from is out of bounds for unsigned char"),
    "randperm(-1)": (RuntimeError, "Trying to create tensor with negative dimension -1: [-1]"),
    "randperm(2.5)": (TypeError, "randperm(): argument 'n' (position 1) must be int, not float"),
    "ones(2.5)": (TypeError, "ones(): argument 'size' (position 1) must be tuple of ints, not float"),
    "ones(2, -1)": (RuntimeError, "Trying to create tensor with negative dimension -1: [2, -1]"),
    "zeros((2, -1))": (RuntimeError, "zeros: Dimension size must be non-negative."),
    "zeros([2.0])": (TypeError, "zeros(): argument 'size' (position 1) must be tuple of ints, but found element "
                                "of type float at pos 0"),
    "zeros(True)": (TypeError, "zeros(): argument 'size' (position 1) must be tuple of ints, not bool"),
    "empty(-3)": (RuntimeError, "Trying to create tensor with negative dimension -3: [-3]"),
    "rand(2, -1)": (RuntimeError, "Trying to create tensor with negative dimension -1: [2, -1]"),
    "rand(3, dtype=X.int64)": (NotImplementedError, "\"check_uniform_bounds\" not implemented for 'Long'"),
    "full(3, 1.0)": (TypeError, "full(): argument 'size' (position 1) must be tuple of ints, not int"),
    "full((2,), 'a')": (TypeError, "full(): argument 'fill_value' (position 2) must be Number, not str"),
    "full((2,), None)": (TypeError, "full(): argument 'fill_value' (position 2) must be Number, not NoneType"),
    "full((1,), 300, dtype=X.uint8)": (RuntimeError, "value cannot be converted to type uint8_t without overflow"),
    "full((1,), 128.0, dtype=X.int8)": (RuntimeError, "value cannot be converted to type int8_t without overflow"),
    "full((1,), -0.5, dtype=X.uint8)": (RuntimeError, "value cannot be converted to type uint8_t without overflow"),
    "full((1,), 1e300, dtype=X.float32)": (RuntimeError, "value cannot be converted to type float without overflow"),
    "full((1,), float('nan'), dtype=X.int64)": (RuntimeError,
                                                "value cannot be converted to type int64_t without overflow"),
    "full((1,), 2**31, dtype=X.int32)": (RuntimeError, "value cannot be converted to type int without overflow"),
    "tensor(None)": (RuntimeError, "Could not infer dtype of NoneType"),
    "tensor([1, None])": (RuntimeError, "Could not infer dtype of NoneType"),
    "tensor(object())": (RuntimeError, "Could not infer dtype of object"),
    "tensor('a')": (TypeError, "new(): invalid data type 'str'"),
    "tensor([[1, 2], [3]])": (ValueError, "expected sequence of length 2 at dim 1 (got 1)"),
    "linspace(0, 1, 5, dtype=X.bool)": (NotImplementedError, "\"linspace_cpu\" not implemented for 'Bool'"),
    "linspace(0, 1, -1)": (RuntimeError, "number of steps must be non-negative"),
    "arange(3, dtype=X.bool)": (NotImplementedError, "\"arange_cpu\" not implemented for 'Bool'"),
    "arange(0, 5, 0)": (RuntimeError, "step must be nonzero"),
    "arange(5, 0, 1)": (RuntimeError, "upper bound and lower bound inconsistent with step sign"),
    "arange(float('nan'))": (RuntimeError, "unsupported range: 0 -> nan"),
    "arange(0, float('inf'))": (RuntimeError, "unsupported range: 0 -> inf"),
}


def _outcome(lib, call: str):
    try:
        r = eval("X." + call, {"X": lib})   # noqa: S307 - our own table of calls
    except Exception as e:   # noqa: BLE001 - the error is the result
        return type(e), str(e).split("\n")[0]
    return "ok", r.tolist(), str(r.dtype).rsplit(".", 1)[-1]


@pytest.mark.parametrize("call", list(BAD_CALLS))
def test_bad_creation_calls_raise_pytorchs_error(call):
    assert _outcome(ag, call) == BAD_CALLS[call]


@pytest.mark.parametrize("call", list(BAD_CALLS))
def test_bad_creation_calls_match_torch(call):
    torch = pytest.importorskip("torch")
    assert _outcome(ag, call) == _outcome(torch, call)


# values PyTorch computes differently from NumPy's cast --------------------------------------
VALUES = {
    "arange(0, 5, 1.5, dtype=X.int64)": [0, 1, 2, 3],          # NumPy then cast: [0, 1, 3, 4]
    "arange(0.5, 5, 1.5, dtype=X.int32)": [0, 1, 2],
    "arange(5.5, 0, -1.5, dtype=X.int64)": [5, 4, 3, 2],
    "arange(0, -5, -1.5, dtype=X.int16)": [0, -1, -2, -3],
    "arange(-3.7, 4, 0.9, dtype=X.int64)": [-3] * 9,           # the step truncates to 0
    "arange(1.9, -2.3, -0.7, dtype=X.int64)": [1] * 6,
    "arange(0.9, 5, 2, dtype=X.uint8)": [0, 2, 4],
    "arange(-5, 7, 3)": [-5, -2, 1, 4],
    "arange(7, -5, -3)": [7, 4, 1, -2],
    "arange(3, 3)": [],
    "linspace(0.5, 9.7, 5, dtype=X.int32)": [0, 2, 4, 6, 9],   # NumPy then cast: [0, 2, 5, 7, 9]
    "linspace(-1, 10, 7, dtype=X.int64)": [-1, 0, 2, 4, 6, 8, 10],
    "linspace(10, 0, 4, dtype=X.int64)": [10, 6, 3, 0],
    "linspace(-7.9, 3.2, 9, dtype=X.int16)": [-7, -5, -4, -3, -2, 0, 0, 1, 3],
    "full((1,), -1, dtype=X.uint8)": [255],
    "full((1,), 255.9, dtype=X.uint8)": [255],
    "full((1,), 1e300, dtype=X.float16)": [float("inf")],
    "full((2,), True)": [True, True],
    "full((2,), 3)": [3, 3],
}


@pytest.mark.parametrize("call", list(VALUES))
def test_creation_values(call):
    out = _outcome(ag, call)
    assert out[0] == "ok" and out[1] == VALUES[call], out


@pytest.mark.parametrize("call", list(VALUES))
def test_creation_values_match_torch(call):
    torch = pytest.importorskip("torch")
    assert _outcome(ag, call) == _outcome(torch, call)


# allocations too large for memory ----------------------------------------------------------
HUGE = 2 ** 45   # 128 TiB of float32: more than any address space here

OOM_CALLS = ["zeros(HUGE)", "ones(HUGE)", "empty(HUGE)", "full((HUGE,), 1.0)", "rand(HUGE)", "randn(HUGE)",
             "randint(3, (HUGE,))", "randperm(HUGE)", "eye(2 ** 24)", "linspace(0, 1, HUGE)", "arange(HUGE)"]


@pytest.mark.parametrize("call", OOM_CALLS)
def test_huge_allocations_raise_runtime_error_naming_the_size(call):
    with pytest.raises(RuntimeError, match=r"DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                                           r"\d+ bytes\. Error code 12 \(Cannot allocate memory\)") as info:
        eval("ag." + call, {"ag": ag, "HUGE": HUGE})   # noqa: S307
    assert not isinstance(info.value, (MemoryError, ValueError))


def test_the_reported_size_is_the_requested_one():
    with pytest.raises(RuntimeError, match=f"you tried to allocate {HUGE * 8} bytes"):
        ag.zeros(HUGE, dtype=ag.float64)


@pytest.mark.parametrize("call", ["zeros(2**62)", "empty(2**40, 2**30)", "ones(2**61, dtype=X.float64)"])
def test_sizes_whose_byte_count_overflows(call):
    with pytest.raises(RuntimeError, match=r"Storage size calculation overflowed with sizes=\[\d+"):
        eval("X." + call, {"X": ag})   # noqa: S307


def test_ops_whose_result_does_not_fit_raise_runtime_error():
    """At the kernel boundary: an op on a broadcast view whose output is too big for memory."""
    x = ag.ones(1).expand(HUGE)
    for f in (lambda: x + 1, lambda: ag.exp(x), lambda: x * x, lambda: x.clone(), lambda: x.to(ag.float64)):
        with pytest.raises(RuntimeError, match="can't allocate memory: you tried to allocate"):
            f()


class HugeBackward(ag.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return (g.expand(HUGE) + 1)[:1]   # an intermediate too big for memory


def test_backward_running_out_of_memory_raises_runtime_error():
    x = ag.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="can't allocate memory") as info:
        HugeBackward.apply(x).sum().backward()
    assert not isinstance(info.value, MemoryError)


def test_allocation_error_translation():
    """The conversions themselves: NumPy's MemoryError and too-big ValueError, CuPy's OutOfMemoryError."""
    class OutOfMemoryError(MemoryError):   # stands in for cupy.cuda.memory.OutOfMemoryError
        pass
    OutOfMemoryError.__module__ = "cupy.cuda.memory"
    e = dispatch.allocation_error(OutOfMemoryError("Out of memory allocating 21,474,836,480 bytes "
                                                   "(allocated so far: 0 bytes)."))
    assert isinstance(e, dispatch.OutOfMemoryError) and isinstance(e, RuntimeError)
    assert str(e).startswith("CUDA out of memory. Tried to allocate 20.00 GiB.")
    e = dispatch.allocation_error(MemoryError(), nbytes=10)
    assert type(e) is RuntimeError and "you tried to allocate 10 bytes" in str(e)
    too_big = ValueError("array is too big; `arr.size * arr.dtype.itemsize` is larger than the maximum possible size.")
    assert str(dispatch.allocation_error(too_big, sizes=(2 ** 62,))) == \
        "Storage size calculation overflowed with sizes=[4611686018427387904]"
    other = ValueError("something else")
    assert dispatch.allocation_error(other) is other
    assert [dispatch.format_size(n) for n in (512, 2048, 3 << 20, 5 << 30)] == \
        ["512 bytes", "2.00 KiB", "3.00 MiB", "5.00 GiB"]


def test_normal_creation_is_unchanged():
    assert ag.zeros(2, 3).shape == (2, 3) and ag.zeros((2, 3)).shape == (2, 3) and ag.zeros([]).shape == ()
    assert ag.zeros(np.int64(3)).tolist() == [0.0, 0.0, 0.0]
    assert ag.full((2,), 2.5).dtype is ag.float32 and ag.full((2,), 7).dtype is ag.int64
    assert ag.full((1,), np.float32(2.5)).dtype is ag.float32
    assert ag.eye(2, 0).shape == (2, 0) and ag.randperm(0).shape == (0,)
    assert ag.randint(0, 5, (3,), dtype=ag.float32).dtype is ag.float32
