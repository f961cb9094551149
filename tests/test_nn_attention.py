"""F.scaled_dot_product_attention and nn.MultiheadAttention / F.multi_head_attention_forward against
PyTorch (masks of every kind, causal, scale, GQA, fully masked rows, batch_first, need_weights,
average_attn_weights, kdim/vdim, add_bias_kv, add_zero_attn, unbatched, gradients), gradcheck and
gradgradcheck of SDPA, PyTorch's errors, and dropout inside attention."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag
import autograd_gpu.nn.functional as F
from autograd_gpu import nn
from helpers import check_grad, compare_devices

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """torch's backward of these tiny graphs is ~100x slower with 2 intra-op threads on this host."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _sdpa_both(arrays, **kw):
    """Output and input gradients of SDPA in torch and ours on the same float64 data."""
    torch = pytest.importorskip("torch")
    res = []
    for lib, fn in ((torch, torch.nn.functional.scaled_dot_product_attention), (ag, F.scaled_dot_product_attention)):
        ts = [lib.tensor(a, requires_grad=True) for a in arrays[:3]]
        mask = None if len(arrays) < 4 else lib.tensor(arrays[3])
        out = fn(*ts, attn_mask=mask, **kw)
        (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)))).sum().backward()
        res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    return res


Q, K, V = (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)
SDPA_CASES = [
    ((Q, K, V), {}, None), ((Q, K, V), {"is_causal": True}, None), ((Q, K, V), {"scale": 0.3}, None),
    (((4, 5), (6, 5), (6, 7)), {}, None), (((4, 5), (4, 5), (4, 3)), {"is_causal": True}, None),
    (((2, 6, 5), (2, 4, 5), (2, 4, 3)), {"is_causal": True}, None),    # L > S: top-left aligned tril
    ((Q, K, V), {}, "bool"), ((Q, K, V), {}, "float"), ((Q, K, V), {}, "bool_full_rows"),
    ((Q, K, V), {}, "float_full_rows"), ((Q, K, V), {}, "bool_bcast"),
    (((2, 4, 4, 5), (2, 2, 6, 5), (2, 2, 6, 7)), {"enable_gqa": True}, None),
    (((1, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)), {}, None),                 # batch dims broadcast
]


def _mask(kind, L=4, S=6):
    if kind is None:
        return []
    m = RNG.random((L, S)) < 0.6
    if kind == "bool_bcast":
        return [RNG.random((2, 1, L, S)) < 0.6]
    if "full_rows" in kind:
        m[1] = False
    if kind.startswith("float"):
        return [np.where(m, RNG.standard_normal((L, S)), -np.inf)]
    return [m]


@pytest.mark.parametrize("shapes,kw,mask", SDPA_CASES)
def test_sdpa_matches_torch(shapes, kw, mask):
    arrays = [RNG.standard_normal(s) for s in shapes] + _mask(mask, shapes[0][-2], shapes[1][-2])
    theirs, ours = _sdpa_both(arrays, **kw)
    for t, a in zip(theirs, ours):
        assert a.shape == t.shape
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw,mask", [({}, None), ({"is_causal": True}, None), ({"scale": 0.7}, "float"),
                                     ({}, "bool_full_rows")])
def test_sdpa_gradcheck(kw, mask):
    q, k, v = (ag.tensor(RNG.standard_normal(s), requires_grad=True) for s in ((1, 2, 3, 2), (1, 2, 4, 2), (1, 2, 4, 3)))
    m = [ag.tensor(a) for a in _mask(mask, 3, 4)]
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, *m, **kw), q, k, v)


def test_sdpa_float_mask_gradient():
    q, k, v = (ag.tensor(RNG.standard_normal(s), requires_grad=True) for s in ((3, 2), (4, 2), (4, 3)))
    m = ag.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    check_grad(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m), q, k, v, m)


def test_sdpa_errors_as_torch():
    q, k, v = ag.randn(1, 2, 3, 4), ag.randn(1, 2, 5, 4), ag.randn(1, 2, 5, 6)
    cases = [((q, k, v.double()), {}, "Expected query, key, and value to have the same dtype, but got query.dtype: "
              "float key.dtype: float and value.dtype: double instead."),
             ((q, k, v), {"attn_mask": ag.zeros(3, 5, dtype=ag.bool), "is_causal": True},
              "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"),
             ((q, k, v), {"attn_mask": ag.zeros(3, 5, dtype=ag.int64)},
              "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: "
              "long int and  query.dtype: float instead."),
             ((q, k, v), {"attn_mask": ag.zeros(3, 5, dtype=ag.float64)},
              "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: "
              "double and  query.dtype: float instead."),
             ((q, ag.randn(1, 3, 5, 4), ag.randn(1, 3, 5, 6)), {"enable_gqa": True},
              "Number of heads in key and value must divide the number of heads in query"),
             ((q[0, 0, 0], k[0, 0, 0], v[0, 0, 0]), {}, "Expected query, key, and value to all be  at least 2 "
              "dimensional, but got query.dim: 1 key.dim: 1 and value.dim: 1 instead.")]
    for args, kw, msg in cases:
        with pytest.raises(RuntimeError) as info:
            F.scaled_dot_product_attention(*args, **kw)
        assert str(info.value).startswith(msg)
    # a float32 mask is accepted with a float64 query (PyTorch's rule) and cast to it
    out = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), ag.zeros(3, 5))
    assert out.dtype == ag.float64


def test_sdpa_dropout():
    q, k, v = ag.randn(2, 3, 4), ag.randn(2, 5, 4), ag.ones(2, 5, 6)
    ag.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
    assert a.shape == b.shape and not np.allclose(a.numpy(), b.numpy())
    # with v = 1 each output is (sum of kept weights) / (1 - p): 0 and 2 bound it
    assert float(a.min()) >= 0 and float(a.max()) <= 2 + 1e-5


# multi-head attention ----------------------------------------------------------------------------
def _mha_pair(**kw):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, dtype=torch.float64, **kw)
    ours = nn.MultiheadAttention(8, 2, dtype=ag.float64, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: ag.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return torch, theirs, ours


MHA_CONFIGS = [{}, {"batch_first": True}, {"kdim": 3, "vdim": 5}, {"add_bias_kv": True}, {"add_zero_attn": True},
               {"bias": False}, {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True}]
MASKS = [{}, {"key_padding_mask": "bool"}, {"attn_mask": "bool"}, {"attn_mask": "float", "key_padding_mask": "float"},
         {"attn_mask": "bool3d"}, {"need_weights": False, "attn_mask": "bool", "key_padding_mask": "bool"},
         {"average_attn_weights": False, "attn_mask": "float"}, {"need_weights": False}]


def _mask_arrays(spec, N, L, S):
    out = {}
    for name, kind in spec.items():
        if not isinstance(kind, str):
            out[name] = kind
            continue
        shape = (N, S) if name == "key_padding_mask" else (N * 2, L, S) if kind == "bool3d" else (L, S)
        m = RNG.random(shape) < 0.3
        out[name] = m if kind.startswith("bool") else np.where(m, -1.5, 0.25)
    return out


@pytest.mark.parametrize("cfg", MHA_CONFIGS, ids=str)
@pytest.mark.parametrize("self_attn", [True, False])
@pytest.mark.parametrize("spec", MASKS, ids=str)
def test_mha_matches_torch(cfg, self_attn, spec):
    if self_attn and "kdim" in cfg:
        pytest.skip("kdim/vdim differ from embed_dim: not self-attention")
    torch, theirs, ours = _mha_pair(**cfg)
    bf = cfg.get("batch_first", False)
    N, L, S = 3, 4, 4 if self_attn else 5
    sh = (lambda n, e: (N, n, e)) if bf else (lambda n, e: (n, N, e))
    q = RNG.standard_normal(sh(L, 8))
    k, v = (q, q) if self_attn else (RNG.standard_normal(sh(S, cfg.get("kdim", 8))),
                                     RNG.standard_normal(sh(S, cfg.get("vdim", 8))))
    masks = _mask_arrays(spec, N, L, S)
    res = []
    for lib, mod in ((torch, theirs), (ag, ours)):
        qt = lib.tensor(q, requires_grad=True)
        args = [qt] * 3 if self_attn else [qt, lib.tensor(k, requires_grad=True), lib.tensor(v, requires_grad=True)]
        kw = {n: lib.tensor(m) if isinstance(m, np.ndarray) else m for n, m in masks.items()}
        out, w = mod(*args, **kw)
        out.sum().backward()
        res.append([out.detach().numpy(), None if w is None else w.detach().numpy()] +
                   [p.grad.numpy() for p in mod.parameters()] + [a.grad.numpy() for a in args[:1 if self_attn else 3]])
    for t, a in zip(*res):
        if t is None:
            assert a is None
            continue
        assert a.shape == t.shape
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_and_causal(need_weights):
    torch, theirs, ours = _mha_pair()
    x = RNG.standard_normal((4, 8))
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    kpm = np.array([False, False, True, False])
    for kw in ({}, {"attn_mask": causal, "is_causal": True}, {"key_padding_mask": kpm},
               {"attn_mask": RNG.random((2, 4, 4)) < 0.3}):
        res = []
        for lib, mod in ((torch, theirs), (ag, ours)):
            t = lib.tensor(x)
            args = {n: lib.tensor(m) if isinstance(m, np.ndarray) else m for n, m in kw.items()}
            out, w = mod(t, t, t, need_weights=need_weights, **args)
            res.append((out.detach().numpy(), None if w is None else w.detach().numpy()))
        np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-10, atol=1e-12)
        if need_weights:
            np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-10, atol=1e-12)


def test_mha_functional_matches_torch():
    torch, theirs, _ = _mha_pair()
    ws = {n: p.detach().numpy() for n, p in theirs.named_parameters()}
    q, k = RNG.standard_normal((4, 2, 8)), RNG.standard_normal((5, 2, 8))
    res = []
    for lib, fn in ((torch, torch.nn.functional.multi_head_attention_forward), (ag, F.multi_head_attention_forward)):
        p = {n: lib.tensor(w) for n, w in ws.items()}
        out, w = fn(lib.tensor(q), lib.tensor(k), lib.tensor(k), 8, 2, p["in_proj_weight"], p["in_proj_bias"], None,
                    None, False, 0.0, p["out_proj.weight"], p["out_proj.bias"], training=False)
        res.append((out.numpy(), w.numpy()))
    for t, a in zip(*res):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12)


def test_mha_init_and_params():
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias", "bias_k", "bias_v",
                                                    "out_proj.weight", "out_proj.bias"]
    assert not m.in_proj_bias.detach().numpy().any() and not m.out_proj.bias.detach().numpy().any()
    bound = np.sqrt(6 / (8 + 24))     # xavier_uniform_ on (24, 8)
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > bound / 2
    m2 = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert [n for n, _ in m2.named_parameters()] == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                     "out_proj.weight"]
    assert m2.k_proj_weight.shape == (8, 3) and m2.in_proj_weight is None and m2.out_proj.bias is None
    assert m.head_dim == 4 and m.bias_k.shape == (1, 1, 8)


def test_mha_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(7, 2)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 2)
    m = nn.MultiheadAttention(8, 2)
    x = ag.randn(4, 2, 8)
    cases = [((ag.randn(4, 2, 2, 8), x, x), {}, AssertionError, "query should be unbatched 2D or batched 3D tensor"),
             ((x, x, x), {"attn_mask": ag.zeros(3, 4, dtype=ag.bool)}, RuntimeError,
              "The shape of the 2D attn_mask is"),
             ((x, x, x), {"key_padding_mask": ag.zeros(2, 5, dtype=ag.bool)}, AssertionError,
              "Expected key_padded_mask.shape[1] to be 4, but got 5"),
             ((x, x, x), {"attn_mask": ag.zeros(4, 4, dtype=ag.int64)}, AssertionError,
              "only bool and floating types of attn_mask are supported"),
             ((x, x, x), {"is_causal": True}, RuntimeError, "Need attn_mask if specifying the is_causal hint"),
             ((x, ag.randn(4, 2, 8), ag.randn(5, 2, 8)), {}, AssertionError, "key shape")]
    for args, kw, exc, msg in cases:
        with pytest.raises(exc) as info:
            m(*args, **kw)
        assert msg in str(info.value)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        m(x, x, x, key_padding_mask=ag.zeros(2, 4, dtype=ag.bool), attn_mask=ag.zeros(4, 4))


def test_mha_dropout_train_vs_eval():
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = ag.randn(4, 2, 8)
    m.eval()
    a, b = m(x, x, x)[0], m(x, x, x)[0]
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c, w = m(x, x, x)
    assert not np.allclose(c.detach().numpy(), a.detach().numpy()) and w.shape == (2, 4, 4)


@pytest.mark.cuda
def test_sdpa_cuda_matches_cpu():
    m = (RNG.random((4, 6)) < 0.6)
    m[1] = False
    compare_devices(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
                    *(RNG.standard_normal(s).astype(np.float32) for s in (Q, K, V)), m)


# transformer encoder ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "activation": "gelu", "batch_first": True},
                                {"bias": False}], ids=str)
@pytest.mark.parametrize("mask", [None, "causal", "kpm"])
def test_transformer_encoder_matches_torch(kw, mask):
    torch = pytest.importorskip("torch")
    from autograd_gpu.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=16, dropout=0.0, dtype=torch.float64, **kw), 2, norm=torch.nn.LayerNorm(
        8, dtype=torch.float64), enable_nested_tensor=False)
    ours = TransformerEncoder(TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, dtype=ag.float64, **kw),
                              2, norm=nn.LayerNorm(8, dtype=ag.float64), enable_nested_tensor=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: ag.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = RNG.standard_normal((3, 4, 8))
    kpm = np.array([[False] * 4, [False, False, False, True], [False, True, False, True]])   # (N=3, S=4)
    if not kw.get("batch_first"):
        kpm = np.array([[False] * 3, [False, False, True], [False, True, False], [True, False, False]])   # (4, 3)
    res = []
    for lib, mod in ((torch, theirs), (ag, ours)):
        args = {}
        n = 4 if kw.get("batch_first") else 3
        if mask == "causal":
            args = {"mask": lib.tensor(np.triu(np.full((n, n), -np.inf), 1)), "is_causal": True}
        elif mask == "kpm":
            args = {"src_key_padding_mask": lib.tensor(kpm)}
        xs = lib.tensor(x, requires_grad=True)
        out = mod(xs, **args)
        out.pow(2).sum().backward()
        res.append([out.detach().numpy(), xs.grad.numpy()] + [p.grad.numpy() for p in mod.parameters()])
    for t, a in zip(*res):
        np.testing.assert_allclose(a, t, rtol=1e-8, atol=1e-10)
