"""Row reductions: sum, softmax and LayerNorm over the last dimension, rows 1k to 32k wide,
forward and backward, in GB/s over the bytes each must move.

A row reduction reads its rows once and writes its output (sum: one value per row; softmax and
LayerNorm: a row per row); backward reads the incoming gradient and what forward saved and writes
the input's gradient (LayerNorm's weight and bias gradients are small). The limit on the GPU is
the copy bandwidth measured in the same samples, with a target of 70% for rows of 4k and wider;
on CPU it is the same math by hand in NumPy.
"""
from __future__ import annotations

import numpy as np

from .common import Config, Impl, Row, cache_bytes, clock, n_sets, torch_device, torch_or_none

DEVICES = ("cpu", "cuda")
FRESH_PROCESS = False
EPS = 1e-5
TARGET_GPU = {"vs": "limit", "min_pct": 70}   # rows of TARGET_WIDTH and wider
TARGET_WIDTH = 4096
ELEMENTS = {"cpu": {"full": 1 << 22, "quick": 1 << 20, "tiny": 1 << 11},
            "cuda": {"full": 1 << 26, "quick": 1 << 24, "tiny": 1 << 13}}
WIDTHS = {"cpu": {"full": (1024, 4096, 32768), "quick": (1024, 32768), "tiny": (1024,)},
          "cuda": {"full": (1024, 4096, 8192, 32768), "quick": (1024, 4096, 32768), "tiny": (1024,)}}


# by hand in NumPy: forward returns what backward needs
def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    e /= e.sum(-1, keepdims=True)
    return e


def np_softmax_bwd(g, y):
    return y * (g - (g * y).sum(-1, keepdims=True))


def np_layer_norm(x, w, b):
    mean = x.mean(-1, keepdims=True)
    xc = x - mean
    rstd = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + EPS)
    return xc * rstd * w + b, mean, rstd


def np_layer_norm_bwd(g, x, mean, rstd, w):
    xhat = (x - mean) * rstd
    gx = g * w
    gx = rstd * (gx - gx.mean(-1, keepdims=True) - xhat * (gx * xhat).mean(-1, keepdims=True))
    return gx, (g * xhat).sum(0), g.sum(0)


def _bytes(op: str, n: int, rows: int, width: int) -> float:
    """What the kernels must read and write, float32."""
    return 4.0 * {"sum forward": n + rows, "softmax forward": 2 * n, "softmax backward": 3 * n,
                  "layer_norm forward": 2 * n + 2 * width, "layer_norm backward": 3 * n + 3 * width}[op]


def run(cfg: Config) -> list[Row]:
    import autograd_gpu as ag
    F = ag.nn.functional
    torch = torch_or_none(cfg.device)
    kind = "cuda" if cfg.cuda else "cpu"
    dev, n = cfg.device, cfg.pick(ELEMENTS[kind])
    tdev = torch_device(dev)
    rng = np.random.default_rng(0)
    cp = None
    if cfg.cuda:
        import cupy as cp
    rows_out = []
    for width in cfg.pick(WIDTHS[kind]):
        rows = n // width
        k = n_sets(n * 4, cache_bytes(dev), max_sets=4)
        host = [rng.standard_normal((rows, width)).astype(np.float32) for _ in range(k)]
        w_np = (1 + 0.1 * rng.standard_normal(width)).astype(np.float32)
        b_np = (0.1 * rng.standard_normal(width)).astype(np.float32)
        xs = [ag.tensor(h, device=dev, requires_grad=True) for h in host]
        w, b = ag.tensor(w_np, device=dev, requires_grad=True), ag.tensor(b_np, device=dev, requires_grad=True)
        g = ag.tensor(rng.standard_normal((rows, width)).astype(np.float32), device=dev)
        t = None
        if torch is not None:
            t = {"xs": [torch.tensor(h, device=tdev, requires_grad=True) for h in host],
                 "w": torch.tensor(w_np, device=tdev, requires_grad=True),
                 "b": torch.tensor(b_np, device=tdev, requires_grad=True),
                 "g": torch.tensor(g.cpu().numpy(), device=tdev)}
        cases = _cases(ag, F, xs, w, b, g, t, torch, None if cfg.cuda else (host, w_np, b_np, g.cpu().numpy()),
                       width)
        for op, impls in cases.items():
            cfg.note(f"{op}, width {width}")
            nbytes = _bytes(op, n, rows, width)
            if cfg.cuda:
                from .elementwise import _copy_impl
                impls["limit"] = _copy_impl(cp, n, dev)
                work = {"ours": nbytes, "torch": nbytes, "limit": 8.0 * n}
            else:
                work = {k: nbytes for k in ("ours", "torch", "limit")}
            impls["ours"].clock = clock(dev)
            if "torch" in impls:
                impls["torch"].clock = clock(dev)
            from .common import measure
            rows_out.append(Row("reductions", f"{op}, {rows} rows x {width}", dev, "GB/s", measure(impls, cfg),
                                work=work, limit=("device copy bandwidth (cudaMemcpy D2D)" if cfg.cuda
                                                  else "the same math by hand in NumPy"),
                                target=TARGET_GPU if cfg.cuda and width >= TARGET_WIDTH else None,
                                meta={"rows": rows, "width": width, "dtype": "float32"}))
        del cases, xs, t
        if cp is not None:
            cp.get_default_memory_pool().free_all_blocks()
    return rows_out


def _cases(ag, F, xs, w, b, g, t, torch, by_hand, width) -> dict:
    """op -> {"ours": Impl, "torch": Impl, "limit": Impl (CPU: ``by_hand`` holds NumPy's inputs)};
    backward keeps the graph and computes the gradients again on every call."""
    det = [(x.detach(),) for x in xs]
    wd, bd = w.detach(), b.detach()
    sm = [(F.softmax(x, -1), x) for x in xs]
    ln = [(F.layer_norm(x, (width,), w, b), x) for x in xs]
    cases = {
        "sum forward": {"ours": Impl(lambda x: x.sum(-1), det)},
        "softmax forward": {"ours": Impl(lambda x: F.softmax(x, -1), det)},
        "softmax backward": {"ours": Impl(lambda y, x: ag.autograd.grad(y, [x], g, retain_graph=True), sm)},
        "layer_norm forward": {"ours": Impl(lambda x: F.layer_norm(x, (width,), wd, bd), det)},
        "layer_norm backward": {"ours": Impl(lambda y, x: ag.autograd.grad(y, [x, w, b], g, retain_graph=True), ln)},
    }
    if t is not None:
        TF = torch.nn.functional
        tdet = [(x.detach(),) for x in t["xs"]]
        tsm = [(TF.softmax(x, -1), x) for x in t["xs"]]
        tln = [(TF.layer_norm(x, (width,), t["w"], t["b"]), x) for x in t["xs"]]
        tw, tb, tg = t["w"], t["b"], t["g"]
        twd, tbd = tw.detach(), tb.detach()
        cases["sum forward"]["torch"] = Impl(lambda x: x.sum(-1), tdet)
        cases["softmax forward"]["torch"] = Impl(lambda x: TF.softmax(x, -1), tdet)
        cases["softmax backward"]["torch"] = Impl(lambda y, x: torch.autograd.grad(y, [x], tg, retain_graph=True), tsm)
        cases["layer_norm forward"]["torch"] = Impl(lambda x: TF.layer_norm(x, (width,), twd, tbd), tdet)
        cases["layer_norm backward"]["torch"] = Impl(
            lambda y, x: torch.autograd.grad(y, [x, tw, tb], tg, retain_graph=True), tln)
    if by_hand is not None:
        host, w_np, b_np, g_np = by_hand
        hx = [(h,) for h in host]
        hsm = [(g_np, np_softmax(h)) for h in host]
        hln = [(g_np, h, *np_layer_norm(h, w_np, b_np)[1:], w_np) for h in host]
        cases["sum forward"]["limit"] = Impl(lambda x: x.sum(-1), hx)
        cases["softmax forward"]["limit"] = Impl(np_softmax, hx)
        cases["softmax backward"]["limit"] = Impl(np_softmax_bwd, hsm)
        cases["layer_norm forward"]["limit"] = Impl(lambda x: np_layer_norm(x, w_np, b_np), hx)
        cases["layer_norm backward"]["limit"] = Impl(np_layer_norm_bwd, hln)
    return cases
