"""Pooling and upsampling beyond the op table: many configurations against PyTorch (values, indices,
gradients), the modules (constructor attributes, extra_repr, state), errors and messages vs PyTorch,
and CUDA vs CPU for the kernels of pooling.cu / interpolate.cu."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
from helpers import check_grad, compare_devices

F = ag.nn.functional
try:
    import torch
    TF = torch.nn.functional
except ImportError:   # CI: the torch comparisons skip
    torch = TF = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")
RNG = np.random.default_rng(0)


def _both(shape):
    x = RNG.standard_normal(shape)
    return ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _same(a, b, what=""):
    if isinstance(a, tuple):
        for u, v in zip(a, b):
            _same(u, v, what)
        return
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=what)


def _grads(ours, theirs, xa, xt):
    oa = ours[0] if isinstance(ours, tuple) else ours
    ot = theirs[0] if isinstance(theirs, tuple) else theirs
    g = RNG.standard_normal(tuple(ot.shape))
    oa.backward(ag.tensor(g))
    ot.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


POOL_CFGS = [dict(kernel_size=k, stride=s, padding=p, ceil_mode=c)
             for k, s, p, c in ((2, None, 0, False), (2, 1, 1, True), (3, 2, 1, True), (3, 2, 0, True),
                                (3, None, 1, False), ((3, 2, 3), (1, 2, 2), (1, 0, 1), True))]


@needs_torch
@pytest.mark.parametrize("n,shape", [(1, (2, 3, 9)), (1, (3, 8)), (2, (2, 2, 7, 6)), (2, (2, 7, 6)), (3, (1, 2, 5, 6, 5))])
@pytest.mark.parametrize("cfg", POOL_CFGS)
def test_max_and_avg_pool_vs_torch(n, shape, cfg):
    if isinstance(cfg["kernel_size"], tuple) and n != 3:
        return
    for dil in (1, 2):
        xa, xt = _both(shape)
        try:
            want = getattr(TF, f"max_pool{n}d")(xt, dilation=dil, return_indices=True, **cfg)
        except RuntimeError:
            continue
        got = getattr(F, f"max_pool{n}d")(xa, dilation=dil, return_indices=True, **cfg)
        _same(got[0], want[0])
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        _grads(got, want, xa, xt)
    for cip, div in ((True, None), (False, None), (True, 3)):
        xa, xt = _both(shape)
        kw = dict(cfg, count_include_pad=cip)
        if n > 1:
            kw["divisor_override"] = div
        elif div:
            continue
        want = getattr(TF, f"avg_pool{n}d")(xt, **kw)
        got = getattr(F, f"avg_pool{n}d")(xa, **kw)
        _same(got, want, str(kw))
        _grads(got, want, xa, xt)


@needs_torch
@pytest.mark.parametrize("n,shape,out", [(1, (2, 3, 10), 4), (1, (3, 5), 8), (2, (2, 2, 7, 5), (3, 4)), (2, (2, 9, 4), (4, 6)),
                                         (3, (1, 2, 5, 4, 6), (2, 3, 4))])
def test_adaptive_vs_torch(n, shape, out):
    xa, xt = _both(shape)
    got, want = getattr(F, f"adaptive_avg_pool{n}d")(xa, out), getattr(TF, f"adaptive_avg_pool{n}d")(xt, out)
    _same(got, want)
    _grads(got, want, xa, xt)
    if n < 3:
        xa, xt = _both(shape)
        got, want = getattr(F, f"adaptive_max_pool{n}d")(xa, out, True), getattr(TF, f"adaptive_max_pool{n}d")(xt, out, True)
        _same(got[0], want[0])
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        _grads(got, want, xa, xt)


@needs_torch
@pytest.mark.parametrize("n,shape", [(1, (2, 3, 8)), (2, (2, 2, 6, 7)), (2, (2, 5, 4)), (3, (1, 2, 4, 4, 6))])
def test_unpool_roundtrip_vs_torch(n, shape):
    xa, xt = _both(shape)
    v, i = getattr(F, f"max_pool{n}d")(xa, 2, return_indices=True)
    tv, ti = getattr(TF, f"max_pool{n}d")(xt, 2, return_indices=True)
    size = shape[-n:]
    got = getattr(F, f"max_unpool{n}d")(v, i, 2, output_size=size)
    want = getattr(TF, f"max_unpool{n}d")(tv, ti, 2, output_size=size)
    _same(got, want)
    _grads(got, want, xa, xt)


INTERP = [("nearest", None), ("nearest-exact", None), ("area", None)] + \
    [(m, ac) for m in ("linear", "bilinear", "bicubic", "trilinear") for ac in (False, True)]


@needs_torch
@pytest.mark.parametrize("mode,ac", INTERP)
@pytest.mark.parametrize("how", [dict(scale_factor=2), dict(scale_factor=0.6), dict(scale_factor=1.37),
                                 dict(scale_factor=1.37, recompute_scale_factor=True), "size_up", "size_down"])
def test_interpolate_vs_torch(mode, ac, how):
    dims = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode)
    for n in ([dims] if dims else [1, 2, 3]):
        shape = (2, 2) + (5, 4, 6)[:n]
        kw = dict(how) if isinstance(how, dict) else {"size": tuple((9, 7, 11) if how == "size_up" else (3, 2, 4))[:n]}
        xa, xt = _both(shape)
        want = TF.interpolate(xt, mode=mode, align_corners=ac, **kw)
        got = F.interpolate(xa, mode=mode, align_corners=ac, **kw)
        _same(got, want, f"{mode} {kw}")
        _grads(got, want, xa, xt)


@needs_torch
def test_max_pool_nan_and_inf_windows_vs_torch():
    x = RNG.standard_normal((1, 2, 6, 7))
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = np.nan
    x[0, 1, :3, :3] = -np.inf
    for kw in (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, dilation=2, padding=1, ceil_mode=True)):
        got = F.max_pool2d(ag.tensor(x), return_indices=True, **kw)
        want = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        got = F.adaptive_max_pool2d(ag.tensor(x), (3, 4), True)
        want = TF.adaptive_max_pool2d(torch.tensor(x), (3, 4), True)
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())


def test_gradgradcheck_small():
    x = ag.tensor(RNG.standard_normal((1, 2, 4, 5)), requires_grad=True)
    check_grad(lambda t: F.interpolate(t, scale_factor=1.5, mode="bicubic"), x)
    check_grad(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), x)
    check_grad(lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False), x)
    check_grad(lambda t: F.adaptive_max_pool2d(t, 3), x)
    check_grad(lambda t: F.interpolate(t, size=(7, 3), mode="nearest"), x)


def _err(fn_ours, fn_torch):
    with pytest.raises(Exception) as e_t:
        fn_torch()
    with pytest.raises(type(e_t.value)) as e_o:
        fn_ours()
    assert str(e_o.value) == str(e_t.value)


@needs_torch
@pytest.mark.parametrize("call", [
    ("max_pool2d", (1, 1, 5, 5), (2,), dict(padding=2)), ("avg_pool2d", (1, 1, 5, 5), (2,), dict(padding=2)),
    ("max_pool2d", (1, 2, 5, 5), (7,), {}), ("avg_pool3d", (1, 1, 3, 3, 3), (5,), {}),
    ("max_pool1d", (5,), (2,), {}), ("max_pool1d", (1, 1, 3), (5,), {}), ("max_pool1d", (1, 1, 4), (2,), dict(padding=2)),
    ("max_pool2d", (5, 5), (2,), {}), ("avg_pool1d", (3,), (2,), {}), ("max_pool2d", (1, 1, 4, 4), (2,), dict(stride=0)),
    ("max_pool2d", (1, 1, 4, 4), (2,), dict(stride=-1)), ("avg_pool2d", (1, 1, 4, 4), (2,), dict(divisor_override=0)),
    ("adaptive_avg_pool1d", (3,), (2,), {}), ("adaptive_max_pool2d", (3, 3), (2,), {}),
    ("adaptive_avg_pool2d", (1, 1, 4, 4), ((2, 2, 2),), {}), ("adaptive_avg_pool2d", (1, 1, 4, 4), ((2, -1),), {}),
    ("interpolate", (1, 1, 4, 4), (), dict(size=3, mode="bogus")),
    ("interpolate", (1, 1, 4, 4), (), dict(size=3, align_corners=True)),
    ("interpolate", (1, 1, 4, 4), (), dict(size=3, scale_factor=2.0)), ("interpolate", (1, 1, 4, 4), (), {}),
    ("interpolate", (1, 1, 4, 4), (), dict(size=(3, 3, 3))), ("interpolate", (1, 1, 4, 4), (), dict(size=3, mode="linear")),
    ("interpolate", (1, 1, 4, 4), (), dict(scale_factor=(2.0, 2.0, 2.0))),
    ("interpolate", (1, 1, 4, 4), (), dict(size=3, antialias=True)),
    ("interpolate", (1, 1, 4, 4), (), dict(size=3, recompute_scale_factor=True)),
])
def test_errors_match_torch(call):
    name, shape, args, kw = call
    x = RNG.standard_normal(shape)
    _err(lambda: getattr(F, name)(ag.tensor(x), *args, **kw), lambda: getattr(TF, name)(torch.tensor(x), *args, **kw))


@needs_torch
def test_unpool_errors_match_torch():
    x, i = torch.randn(1, 2, 2, 2), torch.full((1, 2, 2, 2), 200)
    _err(lambda: F.max_unpool2d(ag.tensor(x.numpy()), ag.tensor(i.numpy()), 2),
         lambda: TF.max_unpool2d(x, i, 2))
    _err(lambda: F.max_unpool2d(ag.tensor(x.numpy()), ag.tensor(i.numpy()), 2, output_size=(9, 9)),
         lambda: TF.max_unpool2d(x, i, 2, output_size=(9, 9)))
    _err(lambda: F.max_unpool2d(ag.tensor(x.numpy()), ag.tensor(i.numpy()[..., :1]), 2),
         lambda: TF.max_unpool2d(x, i[..., :1], 2))
    for dt in (torch.int32, torch.uint8):   # indices must be int64 (the CUDA kernel reads them so)
        _err(lambda: F.max_unpool2d(ag.tensor(x.numpy()), ag.tensor(i.to(dt).numpy()), 2),
             lambda: TF.max_unpool2d(x, i.to(dt), 2))


def test_antialias_not_implemented():
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(ag.randn(1, 1, 4, 4), size=3, mode="bilinear", antialias=True)


MODULES = [("MaxPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True)), ("MaxPool2d", (2,), {}),
           ("MaxPool3d", ((2, 1, 2),), dict(dilation=1)), ("AvgPool1d", (3,), dict(padding=1)),
           ("AvgPool2d", (3, 2, 1), dict(count_include_pad=False)), ("AvgPool3d", (2,), dict(divisor_override=3)),
           ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveAvgPool2d", ((2, None),), {}), ("AdaptiveAvgPool3d", (2,), {}),
           ("AdaptiveMaxPool1d", (3,), {}), ("AdaptiveMaxPool2d", ((2, 3),), {}), ("MaxUnpool2d", (2,), {}),
           ("Upsample", (), dict(scale_factor=2, mode="bilinear")), ("Upsample", (), dict(size=(3, 5))),
           ("UpsamplingNearest2d", (), dict(scale_factor=2)), ("UpsamplingBilinear2d", (), dict(size=5))]


@needs_torch
@pytest.mark.parametrize("name,args,kw", MODULES)
def test_modules_match_torch(name, args, kw):
    ours, theirs = getattr(ag.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    n = int(name[-2]) if name[-2].isdigit() else 2
    shape = (2, 2) + (6, 5, 4)[:n]
    xa, xt = _both(shape)
    if name.startswith("MaxUnpool"):
        v, i = TF.max_pool2d(xt[..., :4], 2, return_indices=True)
        got = ours(ag.tensor(v.detach().numpy()), ag.tensor(i.numpy()))
        _same(got, theirs(v, i))
        return
    got, want = ours(xa), theirs(xt)
    _same(got, want)
    _grads(got, want, xa, xt)


def test_unbatched_and_top_level():
    x = ag.randn(3, 8)
    assert F.max_pool1d(x, 2).shape == (3, 4) and ag.max_pool1d(x, 2).shape == (3, 4)
    assert ag.avg_pool1d(x, 2).shape == (3, 4) and ag.adaptive_avg_pool1d(x, 3).shape == (3, 3)
    v, i = ag.max_pool1d_with_indices(x, 2)
    assert i.dtype == ag.int64
    assert F.max_pool2d(ag.randn(2, 6, 6), 2, return_indices=True)[1].shape == (2, 3, 3)


@pytest.mark.cuda
@pytest.mark.parametrize("fn", [
    lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), lambda t: F.max_pool3d(t[:, None], 2, 1, 1, dilation=2),
    lambda t: F.max_pool1d(t.flatten(2), 4, 3, 2), lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False),
    lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, divisor_override=2), lambda t: F.adaptive_avg_pool2d(t, (3, 4)),
    lambda t: F.adaptive_max_pool2d(t, (3, 4)),
    lambda t: F.max_unpool2d(*F.max_pool2d(t, 2, return_indices=True), 2),
    lambda t: F.interpolate(t, scale_factor=1.7, mode="bicubic"), lambda t: F.interpolate(t, (9, 4), mode="bilinear",
                                                                                          align_corners=True),
    lambda t: F.interpolate(t, (3, 11)), lambda t: F.interpolate(t, (3, 4), mode="area")])
def test_cuda_matches_cpu(fn):
    compare_devices(fn, RNG.standard_normal((2, 3, 7, 6)))
