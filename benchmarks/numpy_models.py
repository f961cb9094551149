"""The three training steps of ``train_models.py`` written by hand in NumPy: forward, backward and
the optimizer update, no framework. They are the CPU limit of ``mlp_train``, ``cnn_train``,
``gpt_block_train`` and ``train_memory``.

Each model takes the framework model's ``state_dict`` arrays (the same names) and its ``step(x, y)``
returns the loss before the update, so the first two losses can be checked against ours. Only
gradients the update needs are computed (none for the inputs). The optimizers follow PyTorch's
formulas: SGD with momentum (the buffer starts as the first gradient), AdamW with decoupled weight
decay on every parameter.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

try:  # exact and vectorised; math.erf per element otherwise (as autograd_gpu does without SciPy)
    from scipy.special import erf
except ImportError:  # pragma: no cover - SciPy is optional
    erf = np.vectorize(math.erf, otypes=[np.float32])


# optimizers ---------------------------------------------------------------------------------------
class SGD:
    def __init__(self, params: dict, lr: float, momentum: float):
        self.params, self.lr, self.momentum, self.bufs = params, lr, momentum, {}

    def step(self, grads: dict) -> None:
        for k, g in grads.items():
            buf = self.bufs.get(k)
            if buf is None:
                buf = self.bufs[k] = g.copy()
            else:
                buf *= self.momentum
                buf += g
            self.params[k] -= self.lr * buf


class AdamW:
    def __init__(self, params: dict, lr: float, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.wd, self.betas, self.eps = params, lr, weight_decay, betas, eps
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads: dict) -> None:
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        for k, g in grads.items():
            p, m, v = self.params[k], self.m[k], self.v[k]
            p *= 1 - self.lr * self.wd
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= step_size * m / (np.sqrt(v) / bc2_sqrt + self.eps)


# pieces -------------------------------------------------------------------------------------------
def linear(x, w, b):
    return x @ w.T + b


def linear_grads(dy, x, w, need_dx: bool = True):
    """(dw, db, dx) of y = x @ w.T + b over the leading dimensions."""
    d2, x2 = dy.reshape(-1, dy.shape[-1]), x.reshape(-1, x.shape[-1])
    return d2.T @ x2, d2.sum(0), (dy @ w if need_dx else None)


def cross_entropy(logits, labels):
    """(mean loss, dlogits)."""
    m = logits.max(1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(1, keepdims=True)
    n = logits.shape[0]
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - logits[np.arange(n), labels]))
    d = e / s
    d[np.arange(n), labels] -= 1
    return loss, d / n


def conv3x3(x, w, b):
    """3x3 convolution, padding 1, stride 1, as one GEMM over the unfolded input; (out, cols)."""
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = sliding_window_view(xp, (3, 3), axis=(2, 3)).transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * 9)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def conv3x3_grads(dy, cols, x_shape, w, need_dx: bool):
    n, c, h, wd = x_shape
    d = dy.transpose(0, 2, 3, 1).reshape(n * h * wd, -1)
    dw = (d.T @ cols).reshape(w.shape)
    if not need_dx:
        return dw, d.sum(0), None
    dcols = (d @ w.reshape(w.shape[0], -1)).reshape(n, h, wd, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, wd + 2), dtype=dy.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + wd] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dw, d.sum(0), dxp[:, :, 1:-1, 1:-1]


def maxpool2(x):
    n, c, h, w = x.shape
    xr = x.reshape(n, c, h // 2, 2, w // 2, 2)
    out = xr.max(axis=(3, 5))
    return out, xr


def maxpool2_grad(dy, xr, out):
    """Every position equal to its window's max gets the gradient (ties at zero after a ReLU are
    zeroed by the ReLU's own gradient next)."""
    mask = xr == out[:, :, :, None, :, None]
    return (mask * dy[:, :, :, None, :, None]).reshape(xr.shape[0], xr.shape[1], xr.shape[2] * 2, xr.shape[4] * 2)


def layer_norm(x, w, b, eps: float = 1e-5):
    mean = x.mean(-1, keepdims=True)
    xc = x - mean
    rstd = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    xhat = xc * rstd
    return xhat * w + b, (xhat, rstd)


def layer_norm_grads(dy, cache, w, need_dx: bool = True):
    xhat, rstd = cache
    lead = tuple(range(dy.ndim - 1))
    dw, db = (dy * xhat).sum(lead), dy.sum(lead)
    if not need_dx:
        return dw, db, None
    g = dy * w
    dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    return dw, db, dx


# models -------------------------------------------------------------------------------------------
class MLP:
    """Linear-ReLU-Linear-ReLU-Linear, cross-entropy, SGD(lr=0.01, momentum=0.9)."""

    def __init__(self, weights: dict):
        self.p = {k: v.astype(np.float32, copy=True) for k, v in weights.items()}
        self.layers = sorted({int(k.split(".")[0]) for k in self.p})
        self.opt = SGD(self.p, lr=0.01, momentum=0.9)

    def step(self, x, y) -> float:
        acts, h = [x], x
        for i, li in enumerate(self.layers):
            h = linear(h, self.p[f"{li}.weight"], self.p[f"{li}.bias"])
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        loss, d = cross_entropy(h, y)
        grads = {}
        for i in reversed(range(len(self.layers))):
            li = self.layers[i]
            if i < len(self.layers) - 1:
                d = d * (acts[i + 1] > 0)
            grads[f"{li}.weight"], grads[f"{li}.bias"], d = linear_grads(d, acts[i], self.p[f"{li}.weight"], i > 0)
        self.opt.step(grads)
        return loss


class CNN:
    """conv-relu-pool-conv-relu-pool-flatten-linear (``train_models._cnn``), cross-entropy, SGD."""

    def __init__(self, weights: dict):
        self.p = {k: v.astype(np.float32, copy=True) for k, v in weights.items()}
        self.opt = SGD(self.p, lr=0.01, momentum=0.9)

    def step(self, x, y) -> float:
        p = self.p
        z1, cols1 = conv3x3(x, p["0.weight"], p["0.bias"])
        a1 = np.maximum(z1, 0)
        h1, r1 = maxpool2(a1)
        z2, cols2 = conv3x3(h1, p["3.weight"], p["3.bias"])
        a2 = np.maximum(z2, 0)
        h2, r2 = maxpool2(a2)
        flat = h2.reshape(h2.shape[0], -1)
        loss, d = cross_entropy(linear(flat, p["7.weight"], p["7.bias"]), y)
        g = {}
        g["7.weight"], g["7.bias"], d = linear_grads(d, flat, p["7.weight"])
        d = maxpool2_grad(d.reshape(h2.shape), r2, h2) * (z2 > 0)
        g["3.weight"], g["3.bias"], d = conv3x3_grads(d, cols2, h1.shape, p["3.weight"], True)
        d = maxpool2_grad(d, r1, h1) * (z1 > 0)
        g["0.weight"], g["0.bias"], _ = conv3x3_grads(d, cols1, x.shape, p["0.weight"], False)
        self.opt.step(g)
        return loss


class GPTBlock:
    """Pre-LayerNorm block (``train_models._gpt_block``): causal attention and a GELU MLP with
    residuals, mse_loss, AdamW(lr=1e-3, weight_decay=0.1)."""

    def __init__(self, weights: dict, heads: int):
        self.p = {k: v.astype(np.float32, copy=True) for k, v in weights.items()}
        self.heads = heads
        self.opt = AdamW(self.p, lr=1e-3, weight_decay=0.1)

    def step(self, x, y) -> float:
        p, H = self.p, self.heads
        B, T, C = x.shape
        D = C // H
        scale = 1.0 / math.sqrt(D)
        h1, c1 = layer_norm(x, p["ln1.weight"], p["ln1.bias"])
        qkv = linear(h1, p["qkv.weight"], p["qkv.bias"]).reshape(B, T, 3, H, D).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        s = (q @ k.transpose(0, 1, 3, 2)) * scale
        s[..., np.triu(np.ones((T, T), dtype=bool), 1)] = -np.inf
        e = np.exp(s - s.max(-1, keepdims=True))
        att = e / e.sum(-1, keepdims=True)
        a = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x1 = x + linear(a, p["proj.weight"], p["proj.bias"])
        h2, c2 = layer_norm(x1, p["ln2.weight"], p["ln2.bias"])
        f = linear(h2, p["fc.weight"], p["fc.bias"])
        cdf = 0.5 * (1 + erf(f * np.float32(1 / math.sqrt(2))))
        gl = f * cdf
        out = x1 + linear(gl, p["out.weight"], p["out.bias"])
        diff = out - y
        loss = float(np.mean(diff * diff))
        g = {}
        dout = diff * np.float32(2 / diff.size)
        g["out.weight"], g["out.bias"], dgl = linear_grads(dout, gl, p["out.weight"])
        df = dgl * (cdf + f * np.exp(-0.5 * f * f) * np.float32(1 / math.sqrt(2 * math.pi)))
        g["fc.weight"], g["fc.bias"], dh2 = linear_grads(df, h2, p["fc.weight"])
        g["ln2.weight"], g["ln2.bias"], dx1 = layer_norm_grads(dh2, c2, p["ln2.weight"])
        dx1 += dout
        g["proj.weight"], g["proj.bias"], da = linear_grads(dx1, a, p["proj.weight"])
        da = da.reshape(B, T, H, D).transpose(0, 2, 1, 3)
        datt = da @ v.transpose(0, 1, 3, 2)
        dv = att.transpose(0, 1, 3, 2) @ da
        ds = att * (datt - (datt * att).sum(-1, keepdims=True)) * scale
        dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(B, T, 3 * C)
        g["qkv.weight"], g["qkv.bias"], dh1 = linear_grads(dqkv, h1, p["qkv.weight"])
        g["ln1.weight"], g["ln1.bias"], _ = layer_norm_grads(dh1, c1, p["ln1.weight"], need_dx=False)
        self.opt.step(g)
        return loss


def build(name: str, weights: dict, **model_args):
    """The hand-written model ``name`` ("mlp", "cnn", "gpt_block") from ``weights``."""
    return {"mlp": MLP, "cnn": CNN, "gpt_block": GPTBlock}[name](weights, **model_args)
