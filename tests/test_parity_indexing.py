"""PyTorch parity of indexing, views, padding, shape edge cases and Tensor attributes.

The indexing tests generate every mix of int / slice / None / Ellipsis / bool / mask / index tensor
up to a length and compare reads, writes and both gradients with PyTorch (skipped without it);
the rule itself (ints are basic: selected away first) is also checked without PyTorch.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops.padding import pad
from helpers import check_grad

SHAPE = (2, 3, 4, 5)
A = np.arange(120.0).reshape(SHAPE)

# index tokens: (name, value); values are turned into ag / torch objects by _conv
POOL = [
    ("i1", 1), ("in1", -1), ("s:", slice(None)), ("s1:", slice(1, None)), ("s::2", slice(None, None, 2)),
    ("None", None), ("...", Ellipsis), ("idx", [0, -1]), ("idx2", [[1], [0]]), ("mask3", [True, False, True]),
    ("True", True), ("False", False), ("t0", "t0"), ("list", "list"),
]
SMALL = [p for p in POOL if p[0] in ("i1", "in1", "s1:", "None", "...", "idx", "mask3", "True")]


def _conv(tok, lib):
    name, v = tok
    if name in ("idx", "idx2", "mask3"):
        return ag.tensor(np.array(v)) if lib == "ag" else __import__("torch").tensor(v)
    if name == "t0":
        return ag.tensor(np.array(1)) if lib == "ag" else __import__("torch").tensor(1)
    if name == "list":
        return [1, 0]
    return v


def _index(toks, lib):
    return tuple(_conv(t, lib) for t in toks)


def _combos():
    out = [(t,) for t in POOL]
    out += list(itertools.product(POOL, repeat=2))
    out += list(itertools.product(SMALL, repeat=3))
    out += list(itertools.product([p for p in SMALL if p[0] != "..."], repeat=4))
    return [c for c in out if sum(t[0] == "..." for t in c) <= 1]


COMBOS = _combos()
IDS = [",".join(t[0] for t in c) for c in COMBOS]


def _torch_or_exc(fn):
    try:
        return fn(), None
    except Exception as e:   # noqa: BLE001 - the exception type is what we compare
        return None, e


def _exc_matches(ours_fn, theirs_exc):
    with pytest.raises(Exception) as e:
        ours_fn()
    torch_type = type(theirs_exc)
    assert isinstance(e.value, torch_type) or type(e.value).__name__ == torch_type.__name__, \
        f"ours raised {type(e.value).__name__}: {e.value}; torch raised {torch_type.__name__}: {theirs_exc}"


# 1. the rule, written out (runs without PyTorch) -------------------------------------------------
def test_int_is_basic_index_issue_example():
    t = ag.tensor(A)
    i = ag.tensor([0, 1])
    j = ag.tensor([1, 2])
    r = t[:, i, :, 0]
    assert r.shape == (2, 2, 4)
    np.testing.assert_array_equal(r.numpy(), A[..., 0][:, [0, 1], :])
    r = t[0, :, i, j]
    assert r.shape == (3, 2)
    np.testing.assert_array_equal(r.numpy(), A[0][:, [0, 1], [1, 2]])
    r = t[:, i, -1, j]                         # int between index tensors: they stay adjacent
    np.testing.assert_array_equal(r.numpy(), A[:, :, -1][:, [0, 1], [1, 2]])
    r = t[i, :, 2, j]                          # separated by a slice: the index dim goes first
    np.testing.assert_array_equal(r.numpy(), A[:, :, 2][[0, 1], :, [1, 2]])
    assert r.shape == (2, 3)


def test_int_is_basic_index_write_and_grads():
    x = ag.tensor(A.copy())
    i = ag.tensor([0, 1])
    v = ag.tensor(np.arange(16.0).reshape(2, 2, 4) + 1000)
    x[:, i, :, 0] = v
    ref = A.copy()
    ref[..., 0][:, [0, 1], :] = v.numpy()
    np.testing.assert_array_equal(x.numpy(), ref)
    # backward of the read puts g where it came from
    x = ag.tensor(A.copy(), requires_grad=True)
    g = np.arange(16.0).reshape(2, 2, 4)
    x[:, i, :, 0].backward(ag.tensor(g))
    ref = np.zeros(SHAPE)
    ref[..., 0][:, [0, 1], :] = g
    np.testing.assert_array_equal(x.grad.numpy(), ref)
    check_grad(lambda a: a[:, i, :, 0], ag.tensor(A / 100, requires_grad=True))
    check_grad(lambda a: a[0, :, i, ag.tensor([1, 1])], ag.tensor(A / 100, requires_grad=True))  # duplicates


def test_setitem_int_basic_grads():
    i = ag.tensor([0, 1])

    def f(a, v):
        b = a * 1
        b[1, :, i, 3] = v
        return b
    check_grad(f, ag.tensor(A / 100, requires_grad=True), ag.tensor(np.ones((3, 2)) / 7, requires_grad=True))


# 2. every combination against PyTorch ---------------------------------------------------------------
@pytest.mark.parametrize("toks", COMBOS, ids=IDS)
def test_getitem_matches_torch(toks):
    torch = pytest.importorskip("torch")
    T = torch.tensor(A, requires_grad=True)
    ref, exc = _torch_or_exc(lambda: T[_index(toks, "torch")])
    x = ag.tensor(A, requires_grad=True)
    if exc is not None:
        _exc_matches(lambda: x[_index(toks, "ag")], exc)
        return
    out = x[_index(toks, "ag")]
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    g = np.random.default_rng(0).standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(g))
    out.backward(ag.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), T.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("toks", COMBOS, ids=IDS)
def test_setitem_matches_torch(toks):
    torch = pytest.importorskip("torch")
    region, exc = _torch_or_exc(lambda: torch.tensor(A)[_index(toks, "torch")])
    if exc is not None:
        x = ag.tensor(A.copy())
        _exc_matches(lambda: x.__setitem__(_index(toks, "ag"), 1.0), exc)
        return
    vals = np.arange(float(region.numel())).reshape(tuple(region.shape)) + 1000
    Xl = torch.tensor(A, requires_grad=True)
    Vl = torch.tensor(vals, requires_grad=True)
    X = Xl * 1
    X[_index(toks, "torch")] = Vl
    xl = ag.tensor(A, requires_grad=True)
    vl = ag.tensor(vals, requires_grad=True)
    x = xl * 1
    x[_index(toks, "ag")] = vl
    np.testing.assert_array_equal(x.detach().numpy(), X.detach().numpy())
    w = np.random.default_rng(1).standard_normal(SHAPE)
    (X * torch.tensor(w)).sum().backward()
    (x * ag.tensor(w)).sum().backward()
    np.testing.assert_allclose(xl.grad.numpy(), Xl.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vl.grad.numpy(), Vl.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_getitem_uint8_is_a_mask():
    torch = pytest.importorskip("torch")
    m = [1, 0, 1]
    with pytest.warns(UserWarning):
        ours = ag.tensor(A)[:, ag.tensor(np.array(m, dtype=np.uint8))]
    with warnings.catch_warnings():   # PyTorch warns once per process
        warnings.simplefilter("ignore")
        ref = torch.tensor(A)[:, torch.tensor(m, dtype=torch.uint8)]
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    for v in (0, 2):   # a 0-d byte tensor is a mask too, not an int
        with pytest.warns(UserWarning):
            ours = ag.tensor(A)[ag.tensor(np.array(v, dtype=np.uint8))]
        with warnings.catch_warnings():   # PyTorch warns once per process
            warnings.simplefilter("ignore")
            ref = torch.tensor(A)[torch.tensor(v, dtype=torch.uint8)]
        assert ours.shape == tuple(ref.shape)
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())


@pytest.mark.cuda
@pytest.mark.parametrize("toks", [c for c in COMBOS if len(c) <= 2][::7])
def test_getitem_setitem_cuda_matches_cpu(toks):
    try:
        ref = ag.tensor(A)[_index(toks, "ag")]
    except Exception:   # noqa: BLE001 - invalid combos are covered on CPU
        return
    x = ag.tensor(A, device="cuda", requires_grad=True)
    out = x[_index(toks, "ag")]
    np.testing.assert_array_equal(out.detach().cpu().numpy(), ref.numpy())
    out.sum().backward()
    xc = ag.tensor(A, requires_grad=True)
    xc[_index(toks, "ag")].sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), xc.grad.numpy())
    y, yc = ag.tensor(A, device="cuda"), ag.tensor(A)
    y[_index(toks, "ag")] = -1.0
    yc[_index(toks, "ag")] = -1.0
    np.testing.assert_array_equal(y.cpu().numpy(), yc.numpy())


# F.pad ------------------------------------------------------------------------------------------------
def _pad_cases():
    out = []
    for mode in ("constant", "reflect", "replicate", "circular"):
        for lo, hi in itertools.product(range(-5, 6), repeat=2):
            out += [(mode, (2, 4), (lo, hi)), (mode, (1, 2, 4), (lo, hi)), (mode, (1, 2, 3, 4), (lo, hi, hi, lo)),
                    (mode, (1, 2, 3, 4), (0, 0, lo, hi))]
        out += [(mode, (1, 1, 2, 2, 3), (1, -1, 0, 1, -1, 1)), (mode, (2, 2, 3), (2, 1, 0, 0)),
                (mode, (4,), (1, 1)), (mode, (0, 2, 4), (1, 1)), (mode, (2, 0, 4), (1, 1)), (mode, (2, 2, 0), (0, 0))]
    return out


def _circular_overcrop(mode, shape, p):
    """Circular crops past the whole input: PyTorch's slices wrap there and it raises internal copy
    errors or returns an empty tensor; we give the empty result when the output is empty, else raise."""
    return mode == "circular" and any(max(-p[2 * i], 0) + max(-p[2 * i + 1], 0) > shape[-1 - i]
                                      for i in range(len(p) // 2))


def _circular_overlap(mode, shape, p):
    """Circular pads wider than the cropped input: PyTorch raises or reads uninitialised memory
    depending on the layout; we always raise."""
    if mode != "circular":
        return False
    for i in range(len(p) // 2):
        lo, hi, n = p[2 * i], p[2 * i + 1], shape[-1 - i]
        m = n - max(-lo, 0) - max(-hi, 0)
        if lo > m or hi > m:
            return True
    return False


# messages of PyTorch's internal steps where its own checks miss a case (reflect asks only one
# output dim to be >= 1; circular crops past the input): the type is compared, not the message
_TORCH_BUGS = ("numel: integer multiplication overflow", "doesn't match the broadcast shape",
               "must match the size of tensor")


@pytest.mark.parametrize("mode,shape,p", _pad_cases())
def test_pad_matches_torch(mode, shape, p):
    torch = pytest.importorskip("torch")
    a = np.arange(float(np.prod(shape))).reshape(shape) / 10
    T = torch.tensor(a, requires_grad=True)
    ref, exc = _torch_or_exc(lambda: torch.nn.functional.pad(T, p, mode=mode))
    x = ag.tensor(a, requires_grad=True)
    if _circular_overcrop(mode, shape, p):
        try:
            assert 0 in pad(x, p, mode=mode).shape
        except RuntimeError:
            pass
        return
    if exc is None and 0 not in ref.shape and _circular_overlap(mode, shape, p):
        with pytest.raises(RuntimeError, match="single memory location"):
            pad(x, p, mode=mode)
        return
    if exc is not None:
        with pytest.raises(type(exc)) as e:
            pad(x, p, mode=mode)
        if not any(b in str(exc) for b in _TORCH_BUGS) and "single memory location" not in str(exc):
            assert str(e.value) == str(exc)
        return
    out = pad(x, p, mode=mode)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    g = np.random.default_rng(2).standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(g))
    out.backward(ag.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), T.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_pad_circular_negative_crops_then_wraps():
    x = ag.arange(4.0).reshape(1, 1, 4)
    np.testing.assert_array_equal(pad(x, (1, -1), mode="circular").numpy().ravel(), [2, 0, 1, 2])
    np.testing.assert_array_equal(pad(x, (-1, 2), mode="circular").numpy().ravel(), [1, 2, 3, 1, 2])
    np.testing.assert_array_equal(pad(x, (-1, -1), mode="circular").numpy().ravel(), [1, 2])
    np.testing.assert_array_equal(pad(x, (4, 0), mode="circular").numpy().ravel(), [0, 1, 2, 3] * 2)
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        pad(x, (5, 0), mode="circular")
    with pytest.raises(RuntimeError, match="single memory location"):
        pad(x, (3, -2), mode="circular")


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("p", [(1, -1), (-1, 2, 2, -1), (0, 0, 1, 1), (2, 1, -1, 0), (1, 0, -1, 1, 0, 1)])
def test_pad_gradcheck(mode, p):
    shape = {2: (2, 3, 4), 4: (1, 2, 3, 4), 6: (1, 2, 3, 4)}[len(p)]
    a = ag.tensor(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape), requires_grad=True)
    check_grad(lambda a: pad(a, p, mode=mode), a)


def test_pad_errors():
    x = ag.zeros(1, 1, 4)
    with pytest.raises(TypeError, match="must be tuple of ints, but found element of type float at pos 0"):
        pad(x, (1.5, 1))
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D input tensor"):
        pad(ag.zeros(4), (1, 1), mode="reflect")
    with pytest.raises(RuntimeError, match="Argument #4: Padding size should be less than"):
        pad(x, (4, 0), mode="reflect")
    with pytest.raises(RuntimeError, match=r"input \(W: 4\) is too small. Calculated output W: 0"):
        pad(x, (-4, 0), mode="replicate")
    with pytest.raises(RuntimeError, match="doesn't take in value argument"):
        pad(x, (1, 1), mode="reflect", value=1.0)
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        pad(x, (1, 1), mode="foo")


# narrow / select / roll range checks -------------------------------------------------------------
def test_narrow_start_equal_to_size_does_not_wrap():
    x = ag.arange(4.0)
    with pytest.raises(RuntimeError, match=r"start \(4\) \+ length \(4\) exceeds dimension size \(4\)\."):
        x.narrow(0, 4, 4)
    assert x.narrow(0, 4, 0).shape == (0,)
    np.testing.assert_array_equal(x.narrow(0, -4, 2).numpy(), [0, 1])
    np.testing.assert_array_equal(x.narrow(0, ag.tensor(1), 2).numpy(), [1, 2])
    with pytest.raises(RuntimeError, match=r"narrow\(\): length must be non-negative\."):
        x.narrow(0, 1, -1)
    with pytest.raises(IndexError, match=r"start out of range \(expected to be in range of \[-4, 4\], but got 5\)"):
        x.narrow(0, 5, 0)
    with pytest.raises(TypeError):
        x.narrow(0, 1.0, 2)


SHAPE_CALLS = [
    ("narrow_end", lambda L, x: x.narrow(0, 4, 4)), ("narrow_empty_end", lambda L, x: x.narrow(0, 4, 0)),
    ("narrow_neg", lambda L, x: x.narrow(0, -4, 2)), ("narrow_too_neg", lambda L, x: x.narrow(0, -5, 0)),
    ("narrow_len_neg", lambda L, x: x.narrow(0, 1, -1)), ("narrow_0d", lambda L, x: L.tensor(1.0).narrow(0, 0, 1)),
    ("narrow_empty", lambda L, x: L.zeros(0).narrow(0, 0, 0)),
    ("narrow_empty_bad", lambda L, x: L.zeros(0).narrow(0, 1, 0)),
    ("select_end", lambda L, x: x.select(0, 4)), ("select_neg", lambda L, x: x.select(0, -4)),
    ("select_too_neg", lambda L, x: x.select(0, -5)), ("select_0d", lambda L, x: L.tensor(1.0).select(0, 0)),
    ("select_empty", lambda L, x: L.zeros(0, 2).select(0, 0)), ("select_float", lambda L, x: x.select(0, 1.0)),
    ("roll_big", lambda L, x: x.roll(5, 0)), ("roll_neg_big", lambda L, x: x.roll(-9, 0)),
    ("roll_same_dim", lambda L, x: x.roll((1, 2), (0, 0))), ("roll_no_shifts", lambda L, x: x.roll([], [])),
    ("roll_misaligned", lambda L, x: x.roll((1, 2))), ("roll_0d_dim", lambda L, x: L.tensor(1.0).roll(1, 0)),
    ("roll_0d", lambda L, x: L.tensor(1.0).roll(1)), ("roll_empty", lambda L, x: L.zeros(0, 2).roll(1, 0)),
    ("chunk_0d", lambda L, x: L.tensor(1.0).chunk(2)), ("split_0d", lambda L, x: L.tensor(1.0).split(1)),
    ("split_list_0d", lambda L, x: L.tensor(1.0).split([1])), ("unbind_0d", lambda L, x: L.tensor(1.0).unbind(0)),
    ("transpose_0d", lambda L, x: L.tensor(1.0).transpose(0, -1)),
    ("transpose_0d_bad", lambda L, x: L.tensor(1.0).transpose(0, 1)),
    ("swapaxes_0d", lambda L, x: L.tensor(1.0).swapaxes(0, 0)),
    ("swapdims_0d", lambda L, x: L.tensor(1.0).swapdims(-1, 0)),
    ("flatten_0d", lambda L, x: L.tensor(1.0).flatten()), ("flatten_0d_bad", lambda L, x: L.tensor(1.0).flatten(0, 1)),
    ("flatten_0d_m1", lambda L, x: L.tensor(1.0).flatten(-1, -1)),
    ("movedim_0d", lambda L, x: L.tensor(1.0).movedim(0, 0)),
    ("permute_none", lambda L, x: L.tensor(1.0).permute()),
    ("unsqueeze_0d_bad", lambda L, x: L.tensor(1.0).unsqueeze(1)),
    ("chunk_empty", lambda L, x: L.zeros(0, 3).chunk(2)), ("chunk_empty3", lambda L, x: L.zeros(0, 3).chunk(3)),
    ("chunk_empty1", lambda L, x: L.zeros(0, 3).chunk(1)), ("chunk_empty_dim1", lambda L, x: L.zeros(3, 0).chunk(2, 1)),
    ("split_empty", lambda L, x: L.zeros(0, 3).split(2)), ("split_empty0", lambda L, x: L.zeros(0, 3).split(0)),
    ("split_empty_list", lambda L, x: L.zeros(0, 3).split([0, 0])),
    ("unbind_empty", lambda L, x: L.zeros(0, 3).unbind(0)),
    ("split0_nonempty", lambda L, x: L.zeros(2, 3).split(0)), ("split_neg", lambda L, x: x.split(-1)),
    ("split_sizes_neg", lambda L, x: x.split([5, -1])), ("split_sizes_sum", lambda L, x: x.split([1, 2])),
    ("chunk_0", lambda L, x: x.chunk(0)), ("chunk_5_3", lambda L, x: L.zeros(5).chunk(3)),
    ("chunk_6_4", lambda L, x: L.zeros(6).chunk(4)), ("chunk_2_5", lambda L, x: L.zeros(2).chunk(5)),
    ("cat_empty", lambda L, x: L.cat([])), ("cat_empty_tuple", lambda L, x: L.cat(())),
    ("stack_empty", lambda L, x: L.stack([])),
    ("cat_tensor", lambda L, x: L.cat(x)), ("stack_tensor", lambda L, x: L.stack(x)),
    ("cat_0d", lambda L, x: L.cat([L.tensor(1.0), L.tensor(2.0)])),
    ("stack_0d", lambda L, x: L.stack([L.tensor(1.0)] * 2)),
]


def _run(fn):
    try:
        r = fn()
    except Exception as e:   # noqa: BLE001 - compared with PyTorch's
        return type(e).__name__, str(e).split("\nException raised from")[0]
    rs = r if isinstance(r, (tuple, list)) else [r]
    return "ok", [(tuple(t.shape), np.asarray(t.tolist()).ravel().tolist()) for t in rs]


@pytest.mark.parametrize("name,call", SHAPE_CALLS, ids=[c[0] for c in SHAPE_CALLS])
def test_shape_edge_cases_match_torch(name, call):
    torch = pytest.importorskip("torch")
    ref = _run(lambda: call(torch, torch.arange(4.0)))
    ours = _run(lambda: call(ag, ag.arange(4.0)))
    if ref[0] == "TypeError":   # PyTorch's argument-parser wording is its own; the type is what code catches
        assert ours[0] == "TypeError"
    else:
        assert ours == ref


def test_zero_d_transpose_is_a_view_with_grad():
    s = ag.tensor(2.0, requires_grad=True)
    r = s.transpose(0, -1)
    assert r.shape == () and r._base is s
    r.backward()
    assert s.grad.item() == 1.0


def test_split_chunk_empty_dim_pieces():
    pieces = ag.zeros(0, 3).chunk(2)
    assert [p.shape for p in pieces] == [(0, 3), (0, 3)]
    assert [p.shape for p in ag.zeros(0, 3).split(2)] == [(0, 3)]
    with pytest.raises(ValueError, match=r"torch.cat\(\): expected a non-empty list of Tensors"):
        ag.cat([])


@pytest.mark.parametrize("split, node, edge", [(lambda x: x.chunk(3, 1), "SplitBackward0", 2),
                                               (lambda x: x.split([1, 4, 1], 1), "SplitWithSizesBackward0", 1),
                                               (lambda x: x.unbind(1), "UnbindBackward0", 1)])
def test_split_pieces_are_views_of_one_node_and_gradients_join(split, node, edge):
    """One node for all pieces, as in PyTorch: pieces without a gradient contribute zeros, and an
    in-place op on one piece changes the base and routes its gradient through it. ``edge``: the
    width of the first and last piece."""
    x = ag.tensor(np.arange(24.0).reshape(4, 6) / 7, requires_grad=True)
    pieces = split(x)
    assert {p.grad_fn.name() for p in pieces} == {node} and len({id(p.grad_fn) for p in pieces}) == 1
    assert all(p._base is x for p in pieces)
    (pieces[0].sum() * 2 + pieces[-1].pow(2).sum()).backward()
    want = np.zeros((4, 6))
    want[:, :edge] = 2
    want[:, 6 - edge:] = 2 * x.detach().numpy()[:, 6 - edge:]
    np.testing.assert_allclose(x.grad.numpy(), want)
    check_grad(lambda t: tuple(p * (i + 1) for i, p in enumerate(split(t))),
               ag.tensor(np.random.default_rng(0).normal(size=(4, 6)), requires_grad=True))
    y = x * 1
    split(y)[0].mul_(3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:, [0, -1]], want[:, [0, -1]] + [3, 1])


# writes through expanded views; in-place on empty tensors --------------------------------------------
OVERLAP_MSG = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
               "location. Please clone() the tensor before performing the operation.")


def test_inplace_on_expanded_views():
    for op in (lambda y: y.add_(1), lambda y: y.mul_(2), lambda y: y.copy_(ag.ones(2, 3)),
               lambda y: y.__setitem__(Ellipsis, 1.0), lambda y: y.__setitem__((slice(None), 0), 1.0)):
        with pytest.raises(RuntimeError) as e:
            op(ag.zeros(3).expand(2, 3))
        assert str(e.value) == OVERLAP_MSG
    x = ag.zeros(3)
    x.expand(2, 3).fill_(2.0)                  # PyTorch allows fill_/zero_ on overlapping memory
    np.testing.assert_array_equal(x.numpy(), [2, 2, 2])
    x = ag.zeros(3)
    x.expand(1, 3).add_(1)                     # a new unit dim: no two elements share memory
    np.testing.assert_array_equal(x.numpy(), [1, 1, 1])
    x = ag.zeros(3)
    x.expand(2, 3)[0].add_(1)                  # one row of the expanded view
    np.testing.assert_array_equal(x.numpy(), [1, 1, 1])
    x = ag.zeros(3)
    x.expand(2, 3)[1] = ag.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.numpy(), [1, 2, 3])
    x = ag.zeros(3)
    with pytest.warns(UserWarning, match="Use of index_put_ on expanded tensors is deprecated"):
        x.expand(2, 3)[ag.tensor([0])] = 5.0
    np.testing.assert_array_equal(x.numpy(), [5, 5, 5])


@pytest.mark.parametrize("op", [lambda y: y.add_(1), lambda y: y.fill_(1), lambda y: y.zero_(), lambda y: y.exp_(),
                                lambda y: y.copy_(ag.zeros(y.shape[-1])), lambda y: y.__setitem__(Ellipsis, 2.0)])
def test_inplace_on_empty_is_a_noop(op):
    for y in (ag.zeros(0, 3), ag.zeros(1, 3).expand(0, 3), ag.zeros(1, 1).expand(2, 0)):
        shape = y.shape
        op(y)
        assert y.shape == shape


# Tensor attributes: .grad, conversions, view(dtype) ------------------------------------------------
def test_grad_assignment_is_validated():
    x = ag.zeros(3, requires_grad=True)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got grad of type list"):
        x.grad = [1, 2, 3]
    with pytest.raises(RuntimeError, match=r"attempting to assign a gradient of size '\[4\]' to a tensor of size "
                                           r"'\[3\]'. Please ensure that the gradient and the tensor are the "
                                           "same size"):
        x.grad = ag.zeros(4)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype 'double' to a tensor with "
                                           "grad_dtype 'Float'"):
        x.grad = ag.zeros(3, dtype=ag.float64)
    with pytest.raises(RuntimeError, match="with device type 'fake' to a tensor with device type 'cpu'"):
        x.grad = ag.zeros(3, device="fake:0")
    y = ag.zeros(3, device="fake:0", requires_grad=True)
    with pytest.raises(RuntimeError, match="located on device with index '1' to a tensor located on device with "
                                           "index '0'"):
        y.grad = ag.zeros(3, device="fake:1")
    assert x.grad is None
    g = ag.ones(3)
    x.grad = g
    assert x.grad is g
    del x.grad
    assert x.grad is None
    (x * 2).sum().backward()                   # the engine's writes still land
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])


def test_grad_messages_match_torch():
    torch = pytest.importorskip("torch")
    for bad in ([1, 2], 3.0, ("zeros", (4,)), ("zeros", (3, 1)), ("zeros", ()), ("int64", (3,)), ("float16", (3,)),
                ("int8", (3,)), ("uint8", (3,)), ("int16", (3,)), ("int32", (3,)), ("bool", (3,))):
        def make(L):
            if not isinstance(bad, tuple):
                return bad
            kind, shape = bad
            return L.zeros(shape) if kind == "zeros" else L.zeros(shape, dtype=getattr(L, kind))
        X = torch.zeros(3, requires_grad=True)
        x = ag.zeros(3, requires_grad=True)
        with pytest.raises(Exception) as te:
            X.grad = make(torch)
        with pytest.raises(type(te.value)) as oe:
            x.grad = make(ag)
        assert str(oe.value) == str(te.value)


def test_scalar_conversions():
    x = ag.zeros(3)
    for f in (float, int, complex):
        with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
            f(x)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(ag.zeros(0))
    assert float(ag.tensor([1.5])) == 1.5 and int(ag.tensor([[2.7]])) == 2 and bool(ag.tensor([3]))


def test_type_and_integer_conversions():
    x = ag.tensor([1.5, -2.0])
    assert x.type() == "torch.FloatTensor"
    assert ag.zeros(2, dtype=ag.int16).type() == "torch.ShortTensor"
    assert ag.tensor([True]).type() == "torch.BoolTensor"
    assert x.type(ag.float32) is x
    assert x.type(ag.int64).dtype == ag.int64
    assert x.type("torch.DoubleTensor").dtype == ag.float64
    assert x.type("torch.IntTensor").dtype == ag.int32
    with pytest.raises(ValueError, match="invalid type: 'foo'"):
        x.type("foo")
    assert x.short().dtype == ag.int16 and x.char().dtype == ag.int8 and ag.tensor([3.0]).byte().dtype == ag.uint8
    np.testing.assert_array_equal(x.short().numpy(), [1, -2])
    np.testing.assert_array_equal(x.char().numpy(), [1, -2])


VIEW_INPUTS = [
    lambda L: L.arange(12, dtype=L.float32).reshape(3, 4), lambda L: L.arange(12, dtype=L.float32).reshape(3, 4)[:, :3],
    lambda L: L.arange(12, dtype=L.float32).reshape(3, 4)[:, 1:3],
    lambda L: L.arange(12, dtype=L.float32).reshape(3, 4)[:, ::2],
    lambda L: L.arange(12, dtype=L.float32).reshape(3, 4).t(),
    lambda L: L.tensor(1.0), lambda L: L.zeros(3, 9)[:, :8:2],
    lambda L: L.zeros(3, 9)[:, :8], lambda L: L.zeros(9)[1:9:2],
    lambda L: L.zeros(9)[1:9], lambda L: L.zeros(2, 4)[:, 1:],
    lambda L: L.zeros(1, 4).expand(3, 4), lambda L: L.zeros(1, 1).expand(3, 4), lambda L: L.zeros(2, 3).expand(2, 2, 3),
    lambda L: L.zeros(4, 3).t()[:, :1], lambda L: L.tensor([1.0, -2.0, 0.5, 3.25]), lambda L: L.tensor([-1, 7, 300, 0]),
]


@pytest.mark.parametrize("i", range(len(VIEW_INPUTS)))
@pytest.mark.parametrize("dt", ["int32", "float64", "int16", "uint8", "float16", "bool", "int64", "int8"])
def test_view_dtype_matches_torch(i, dt):
    torch = pytest.importorskip("torch")
    ref = _run(lambda: [VIEW_INPUTS[i](torch).view(getattr(torch, dt))])
    ours = _run(lambda: [VIEW_INPUTS[i](ag).view(getattr(ag, dt))])
    if ref[0] == "ok" and ours[0] == "ok":
        assert [s for s, _ in ours[1]] == [s for s, _ in ref[1]]
        np.testing.assert_array_equal(np.array(ours[1][0][1]), np.array(ref[1][0][1]))
    else:
        assert ours == ref


def test_view_dtype_shares_storage_and_no_grad():
    x = ag.tensor([1.0, -2.0], requires_grad=True)
    v = x.detach().view(ag.int32)
    np.testing.assert_array_equal(v.numpy(), [1065353216, -1073741824])
    assert not x.view(ag.float32).requires_grad
    y = ag.zeros(2, 2)
    w = y.view(ag.int32)
    w[0, 0] = 1065353216
    assert y[0, 0].item() == 1.0 and y._version == w._version == 1


@pytest.mark.cuda
def test_view_dtype_and_expanded_writes_cuda():
    x = ag.tensor([1.0, -2.0, 0.5, 3.25], device="cuda")
    ref = ag.tensor([1.0, -2.0, 0.5, 3.25]).view(ag.int16)
    np.testing.assert_array_equal(x.view(ag.int16).cpu().numpy(), ref.numpy())
    y = ag.zeros(3, device="cuda")
    y.expand(2, 3)[1] = ag.tensor([1.0, 2.0, 3.0], device="cuda")
    np.testing.assert_array_equal(y.cpu().numpy(), [1, 2, 3])
    with pytest.raises(RuntimeError):
        ag.zeros(3, device="cuda").expand(2, 3).add_(1)
    p = pad(ag.arange(8.0, device="cuda").reshape(1, 2, 4), (1, -1), mode="circular")
    np.testing.assert_array_equal(p.cpu().numpy(), pad(ag.arange(8.0).reshape(1, 2, 4),
    (1, -1), mode="circular").numpy())
