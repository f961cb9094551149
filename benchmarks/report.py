"""The run's outputs: the terminal table, ``results.json``, ``report.md`` and ``ratios.png``.

Columns everywhere: ours, PyTorch and the limit in the row's unit (medians), ours/PyTorch
(time or memory; > 1 means slower or more), ours as % of the limit, and the target's verdict.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .common import Row

FILES = ("results.json", "report.md", "ratios.png")
NA = "n/a"


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf"
    a = abs(v)
    return f"{v:.0f}" if a >= 1000 else f"{v:.1f}" if a >= 100 else f"{v:.2f}" if a >= 1 else f"{v:.3g}"


def cells(row: Row) -> list[str]:
    q, p = row.ratio(), row.pct_limit()
    return [row.case, fmt(row.value("ours")), fmt(row.value("torch")), "-" if q is None else f"{q:.2f}x",
            fmt(row.value("limit")), "-" if p is None else f"{p:.0f}%", row.verdict()[1] or "-"]


HEAD = ["case", "ours", "torch", "ours/torch", "limit", "% of limit", "target"]


def by_workload(rows: list[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(r.workload, []).append(r)
    return out


def _title(name: str, rows: list[Row]) -> str:
    units = sorted({r.unit for r in rows}, key=[r.unit for r in rows].index)
    limits = sorted({r.limit for r in rows if r.limit}, key=[r.limit for r in rows].index)
    return (f"{name} on {rows[0].device} [{', '.join(units)}"
            + (f"; limit: {'; '.join(limits)}" if limits else "") + "]")


def terminal_table(rows: list[Row]) -> str:
    """Plain text, one block per workload, columns aligned."""
    blocks = []
    for name, rs in by_workload(rows).items():
        table = [HEAD] + [cells(r) for r in rs]
        widths = [max(len(line[i]) for line in table) for i in range(len(HEAD))]
        lines = [_title(name, rs)]
        if isinstance(rs[0].meta.get("nvml"), dict):
            lines.append("  " + _nvml_line(rs[0].meta["nvml"]))
        for line in table:
            lines.append("  " + "  ".join(c.ljust(w) if i in (0, 6) else c.rjust(w)
                                          for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def targets(rows: list[Row]) -> list[str]:
    """One line per row that has a target: workload, case, verdict."""
    return [f"{r.workload}: {r.case}: {r.verdict()[1]}" for r in rows if r.target]


def _md_table(rows: list[Row]) -> list[str]:
    out = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in cells(r)) + " |" for r in rows]
    return out


def _nvml_line(summary) -> str:
    if not isinstance(summary, dict):
        return f"NVML: {summary}"
    if summary.get("error"):
        return f"NVML: n/a ({summary['error']})"
    parts = []
    for k, v in summary.items():
        if isinstance(v, dict):
            scale = 2 ** 30 if k == "mem_used_bytes" else 1
            name = "mem_used_GiB" if k == "mem_used_bytes" else k
            parts.append(f"{name} {v['min'] / scale:.4g}/{v['median'] / scale:.4g}/{v['max'] / scale:.4g}")
        elif k != "samples":
            parts.append(f"{k} {v}")
    return f"NVML (min/median/max over {summary.get('samples', 0)} samples): " + ", ".join(parts)


def markdown(payload: dict, rows: list[Row], chart_note: str | None) -> str:
    env, run = payload["env"], payload["run"]
    md = [f"# Benchmarks on {env.get('device_name', NA)} ({env.get('device', NA)})", ""]
    md += [f"- {k}: {env.get(k, NA)}" for k in ("driver", "cuda", "cuda_driver", "cupy", "numpy", "torch",
                                                 "autograd_gpu", "python", "git_commit",
                                                 "git_uncommitted_changes", "host", "cpu_count", "time")]
    md += [f"- command: `{run.get('command', NA)}`", f"- size: {run.get('size')}, repeat: {run.get('repeat')}, "
           f"min_time: {run.get('min_time')} s per sample, duration: {run.get('duration_s', NA)} s", ""]
    md += ["Figures are medians of interleaved samples; ours/torch > 1 means slower (or more memory); "
           "% of limit is ours' speed (or frugality) as a percentage of the limit's.", ""]
    tl = targets(rows)
    if tl:
        md += ["## Targets", ""] + [f"- {t}" for t in tl] + [""]
    work = payload.get("workloads", {})
    for name, rs in by_workload(rows).items():
        w = work.get(name, {})
        md += [f"## {_title(name, rs)}", ""]
        if w.get("description"):
            md += [w["description"], ""]
        md += _md_table(rs) + [""]
        notes = list(w.get("notes", []))
        for r in rs:
            notes += [f"{r.case}: {n}" for n in r.meta.get("notes", [])]
        notes.append(_nvml_line(w.get("nvml", NA)))
        if w.get("duration_s") is not None:
            notes.append(f"took {w['duration_s']} s")
        md += [f"- {n}" for n in notes] + [""]
    for name, w in work.items():
        if w.get("error"):
            md += [f"## {name}: failed", "", f"- {w['error'].strip().splitlines()[-1]} (traceback in results.json)", ""]
        elif w.get("skipped"):
            md += [f"## {name}", "", f"- {w['skipped']}", ""]
    if chart_note:
        md += [f"Chart: {chart_note}", ""]
    elif (Path(run.get("out", ".")) / "ratios.png").exists():
        md += ["![ratios](ratios.png)", ""]
    return "\n".join(md)


def _finite(x):
    """JSON has no inf or NaN: they become null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def write_json(path: Path, payload: dict) -> None:
    """Atomically: a crash while writing leaves the previous version."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_finite(payload), indent=1, default=str, allow_nan=False) + "\n")
    os.replace(tmp, path)


def chart(rows: list[Row], path: Path) -> str | None:
    """A horizontal bar chart of ours/torch and of % of the limit per row; a note instead of the
    file when matplotlib is missing or there is nothing to draw."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib): no ratios.png"
    panels = []
    # a bar is coloured by the row's target only in the panel the target is about
    for vs, title, get, ref in (("torch", "ours / PyTorch (time or memory; < 1 is better; log scale)", Row.ratio, 1.0),
                                ("limit", "ours as % of the limit", Row.pct_limit, 100.0)):
        pts = [(f"{r.workload}: {r.case}", get(r), r.verdict()[0] if (r.target or {}).get("vs") == vs else "")
               for r in rows if get(r) is not None]
        pts = [p for p in pts if math.isfinite(p[1]) and p[1] > 0]
        if pts:
            panels.append((vs, title, pts, ref))
    if not panels:
        return "no ratio to draw (no PyTorch and no limit figures)"
    n = max(len(p[2]) for p in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 1.2 + 0.22 * n), squeeze=False)
    colours = {"met": "tab:green", "MISSED": "tab:red"}
    for ax, (vs, title, pts, ref) in zip(axes[0], panels):
        labels, vals, status = zip(*pts)
        ax.barh(range(len(vals)), vals, color=[colours.get(s, "tab:blue") for s in status])
        if vs == "torch":
            ax.set_xscale("log")
        ax.set_yticks(range(len(vals)), labels, fontsize=6)
        ax.invert_yaxis()
        ax.axvline(ref, color="black", linewidth=0.8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("green: target met, red: missed, blue: no target", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None
