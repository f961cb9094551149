"""``repr`` of a tensor, laid out as PyTorch lays it out (``torch/_tensor_str.py``'s rules), and
``set_printoptions``: values right-aligned to one width, whole-number floats as ``1.``, ``precision``
decimals or scientific notation by the range of the values, more than ``threshold`` elements
summarised to ``edgeitems`` at each edge of every dimension, lines wrapped at ``linewidth``
columns; then device, size and dtype where they are not the defaults, and grad_fn.
"""
from __future__ import annotations

import math

import numpy as np

from .dtypes import get_default_dtype



class _PrintOptions:
    precision = 4
    threshold: float = 1000    # more elements than this: summarised
    edgeitems = 3
    linewidth = 80
    sci_mode: bool | None = None   # None: chosen by the values' range


PRINT_OPTS = _PrintOptions()
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """PyTorch's ``torch.set_printoptions``: a ``profile`` ("default", "short", "full") first, then
    the options given; ``sci_mode`` is always set (None: by the values' range)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"unknown print profile {profile!r}: expected 'default', 'short' or 'full'")
        o = PRINT_OPTS
        o.precision, o.threshold, o.edgeitems, o.linewidth = _PROFILES[profile]
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode


def tensor_repr(t) -> str:
    arr = t._host()
    prefix = "tensor("
    indent = len(prefix)
    summarize = arr.size > PRINT_OPTS.threshold
    fmt = _Formatter(_summarized(arr) if summarize else arr)
    body = "[]" if arr.size == 0 else _str(arr, indent, summarize, fmt)
    suffixes = []
    if t._device.type != "cpu":
        suffixes.append(f"device='{t._device}'")
    default = get_default_dtype().name   # PyTorch hides the current default, not float32 as such
    if arr.size == 0:   # no values show the shape or the dtype: both are spelled out
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if t.dtype.name != default:
            suffixes.append(f"dtype={t.dtype!r}")
    elif t.dtype.name not in (default, "int64", "bool"):
        suffixes.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)


class _Formatter:
    """One width and one notation for every element (PyTorch's ``_Formatter``)."""

    def __init__(self, arr: np.ndarray):
        self.floating = arr.dtype.kind == "f"
        self.int_mode = self.sci_mode = False
        self.width = 1
        values = arr.reshape(-1)
        if not self.floating:
            self.width = max((len(str(v)) for v in values.tolist()), default=1)
            return
        finite = values[np.isfinite(values) & (values != 0)].astype(np.float64)   # signed: they set the width
        nonzero = np.abs(finite)
        if not nonzero.size:
            self.int_mode = True   # only zeros, nan and inf: printed as ``0.``, ``nan``, ``inf``
            return
        lo, hi = float(nonzero.min()), float(nonzero.max())
        self.int_mode = bool(np.all(nonzero == np.ceil(nonzero)))
        self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4 if PRINT_OPTS.sci_mode is None \
            else PRINT_OPTS.sci_mode
        shown = finite.tolist()
        p = PRINT_OPTS.precision
        if self.sci_mode:
            self.width = max(len(f"{v:.{p}e}") for v in shown)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in shown)
        else:
            self.width = max(len(f"{v:.{p}f}") for v in shown)

    def format(self, value) -> str:
        if not self.floating:
            s = str(value)
        elif self.sci_mode:
            s = f"{value:{self.width}.{PRINT_OPTS.precision}e}"
        elif self.int_mode:
            s = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            s = f"{value:.{PRINT_OPTS.precision}f}"
        return s.rjust(self.width)


def _summarized(arr: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows: the edges of every dimension (for the width)."""
    if arr.ndim == 0:
        return arr
    keep = [i for i in _edges(len(arr), True) if i is not None]
    return arr[keep] if arr.ndim == 1 else np.stack([_summarized(arr[i]) for i in keep])


def _edges(n: int, summarize: bool):
    """Indices shown along a dimension of length ``n``, None where ``...`` goes."""
    if summarize and n > 2 * PRINT_OPTS.edgeitems:
        return list(range(PRINT_OPTS.edgeitems)) + [None] + list(range(n - PRINT_OPTS.edgeitems, n))
    return list(range(n))


def _str(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        per_line = max(1, (PRINT_OPTS.linewidth - indent) // (fmt.width + 2))
        data = [" ..." if i is None else fmt.format(arr[i].item()) for i in _edges(len(arr), summarize)]
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    slices = ["..." if i is None else _str(arr[i], indent + 1, summarize, fmt) for i in _edges(len(arr), summarize)]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _add_suffixes(text: str, suffixes: list, indent: int) -> str:
    """``, suffix`` after the values; one that would pass the line width starts a new line."""
    parts = [text]
    last = len(text) - text.rfind("\n") + 1   # PyTorch's count, off by two without a newline
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            parts.append(", " + s)
            last += len(s) + 2
    return "".join(parts) + ")"
