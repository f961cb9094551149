"""The same program through autograd_gpu and PyTorch: values and gradients must agree.

Runs where PyTorch is installed (``pip install -e '.[compare]'``); skipped otherwise.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_gpu as ag

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A = RNG.uniform(0.2, 1.5, (3, 4))
B = RNG.uniform(-1.5, 1.5, (3, 4))
C = RNG.uniform(-1.0, 1.0, (4, 5))
V = RNG.uniform(-1.0, 1.0, (4,))
IDX = np.array([2, 0, 2, 1])

PROGRAMS = {
    "arith": lambda m, a, b: ((a * b - b / a) ** 2 + 3.0 - a).sum(),
    "unary": lambda m, a, b: (a.log() + a.sqrt() + b.exp() + b.tanh() + b.sigmoid() + a.rsqrt()
                              + b.sin() * b.cos() + a.log1p() + b.expm1() + a.reciprocal()).sum(),
    "activations": lambda m, a, b: (m.nn.functional.gelu(b) + m.nn.functional.silu(b)
                                    + m.nn.functional.softplus(b, beta=2.0)
                                    + m.nn.functional.leaky_relu(b, 0.1) + m.nn.functional.elu(b)
                                    + m.nn.functional.gelu(b, approximate="tanh") + m.relu(b)).sum(),
    "clamp_max_min": lambda m, a, b: (m.clamp(b, -0.5, 0.7) + m.maximum(a, b) * m.minimum(a, b)).sum(),
    "reductions": lambda m, a, b: (a.sum(1).prod() + b.mean(0).sum() + b.amax(1).sum() + a.var(1).sum()
                                   + b.std(0, keepdim=True).sum() + m.logsumexp(b, 1).sum()
                                   + b.norm() + a.max(1)[0].sum() + b.min(0).values.sum()),
    "softmax": lambda m, a, b: (m.softmax(b, 1) * a).sum() + (m.log_softmax(b, 0) * a).sum(),
    "cumsum": lambda m, a, b: (b.cumsum(1) * a).sum() + (a.cumprod(0) * b).sum(),
    "shape": lambda m, a, b: (a.reshape(4, 3).t() * b.transpose(0, 1).T).sum()
    + m.cat([a, b], 1).flip(1)[:, 1::3].sum() + m.stack([a, b]).permute(2, 0, 1).roll(1, 0)[0].sum()
    + a.unsqueeze(0).expand(2, 3, 4).sum() + b.tril().sum() + a.triu(1).sum(),
    "split_chunk": lambda m, a, b: sum((p * p).sum() for p in a.split([1, 3], 1)) + b.chunk(2, 1)[1].sum(),
    "index": lambda m, a, b: (a[:, m.tensor([1, 3])] * b[:, None, 2]).sum() + a[a > 1.0].sum()
    + a.gather(1, m.tensor([[0, 1], [2, 3], [1, 1]])).sum() + b.index_select(1, m.tensor([3, 3])).sum()
    + b.masked_fill(b > 0.5, 0.25).sum() + a.narrow(1, 1, 2).sum(),
    "scatter": lambda m, a, b: (m.zeros(3, 6, dtype=a.dtype).scatter_add(1, m.tensor([[0, 1, 0, 5]] * 3), a)
                                * 2.0).sum() + a.scatter(1, m.tensor([[1], [0], [3]]), b[:, :1]).pow(2).sum(),
    "matmul": lambda m, a, b: (a @ b.T).exp().sum() + m.einsum("ij,kj->ik", a, b).sum()
    + m.outer(a[0], b[1]).sum() + m.bmm(a[None], b.T[None]).sum() + m.dot(a[0], b[0]),
    "pad": lambda m, a, b: (m.nn.functional.pad(a, (1, 2, 0, 1)) ** 2).sum()
    + m.nn.functional.pad(b[None], (1, 1), mode="reflect").sum(),
    "where_sign": lambda m, a, b: (m.where(b > 0, a, b * 2) + b.sign() * a + a.abs() * b.abs()).sum(),
}


def _run(mod, name, dtype):
    a = mod.tensor(A, dtype=dtype, requires_grad=True)
    b = mod.tensor(B, dtype=dtype, requires_grad=True)
    out = PROGRAMS[name](mod, a, b)
    ga, gb = (mod.autograd.grad(out, (a, b), create_graph=True, allow_unused=True))
    second = sum((g * g * w).sum() for g, w in ((ga, b), (gb, a)) if g is not None)
    gg = mod.autograd.grad(second, (a, b), allow_unused=True)
    return [t.detach().numpy() if t is not None else None for t in (out, ga, gb, *gg)]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_torch(name):
    ours = _run(ag, name, ag.float64)
    ref = _run(torch, name, torch.float64)
    for i, (o, r) in enumerate(zip(ours, ref)):
        if r is None:
            assert o is None or np.allclose(o, 0), f"{name}: result {i}"
            continue
        np.testing.assert_allclose(o, r, rtol=1e-9, atol=1e-10, err_msg=f"{name}: result {i}")
