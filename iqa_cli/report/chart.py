"""A per-frame chart of a video pair as SVG (no script, no external file), inline
in ``check --html`` and a standalone document for ``iqa review`` (an image).

One panel per metric (SSIM and PSNR by default) with the values over time
(frame index when the frames have no times), the pooled mean as a dashed
line and the worst frame marked in red with its index and time. Long videos
are drawn from the minimum and maximum of each pixel column, so the worst
frame is never lost between points. PSNR of identical frames (``inf``) is
drawn at the cap the pooling uses. Styled with presentation attributes,
not a ``<style>`` element: a page whose Content-Security-Policy has no
``'unsafe-inline'`` style still shows it styled.
"""

from __future__ import annotations

import html
import math
from typing import Any, Sequence

from ..formatting import table_value
from ..metrics.registry import COLUMN_INFO, COLUMNS, HIGHER, METRICS

WIDTH, PANEL = 720, 130  # pixels
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 22, 22


#: each element class's look, as presentation attributes (a CSP's style-src does not govern them)
_LOOK = {
    "t": 'font-family="sans-serif" font-size="12" font-weight="600" fill="#1b1f23"',
    "x": 'font-family="sans-serif" font-size="11" fill="#586069"',
    "y": 'font-family="sans-serif" font-size="11" fill="#586069" text-anchor="end"',
    "w": 'font-family="sans-serif" font-size="11" fill="#b31d28"',
    "frame": 'fill="#fafbfc" stroke="#d1d5da"',
    "line": 'fill="none" stroke="#0366d6" stroke-width="1.2"',
    "dot": 'fill="#0366d6"',
    "mean": 'stroke="#586069" stroke-dasharray="4 3" stroke-width="1"',
    "worst": 'stroke="#cb2431" stroke-dasharray="2 2"',
    "wdot": 'fill="#cb2431"',
}


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _c(name: str) -> str:
    """``class="name"`` and that class's presentation attributes."""
    return f'class="{name}" {_LOOK[name]}'


def _points(xs: list[float], ys: list[float | None], width: int) -> list[list[tuple[float, float]]]:
    """Runs of (x, y) without gaps; more points than 2 per pixel column are
    thinned to each column's first, minimum, maximum and last point."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys):
        if y is None or math.isnan(y):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x, y))
    runs = [r for r in runs if r]
    if sum(len(r) for r in runs) <= 2 * width:
        return runs
    x0, x1 = xs[0], xs[-1]
    span = (x1 - x0) or 1.0
    out = []
    for run in runs:
        cols: dict[int, list[tuple[float, float]]] = {}
        for p in run:
            cols.setdefault(int((p[0] - x0) / span * (width - 1)), []).append(p)
        thin = []
        for k in sorted(cols):
            c = cols[k]
            keep = {0, len(c) - 1, min(range(len(c)), key=lambda i: c[i][1]), max(range(len(c)), key=lambda i: c[i][1])}
            thin += [c[i] for i in sorted(keep)]
        out.append(thin)
    return out


def _panel(column: str, xs: list[float], frames: list[int], values: list[Any], video: dict[str, Any], y0: int,
           x_label: str) -> str:
    """One metric's panel at height ``y0``; ``frames``: the reference index of each point."""
    info = COLUMN_INFO[column]
    cap = video.get("psnr_cap_db")
    base = COLUMNS[column]
    ys = []
    for v in values:
        v = None if v is None else float(v)
        if v is not None and base == "psnr" and cap is not None and v > cap:
            v = float(cap)  # identical frames at the cap, as pooled
        ys.append(v)
    valid = [y for y in ys if y is not None and not math.isnan(y)]
    if not valid:
        return ""
    lo, hi = min(valid), max(valid)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 * (abs(lo) * 1e-3 + 1e-6), hi + 0.5 * (abs(hi) * 1e-3 + 1e-6)
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    x0, x1 = xs[0], xs[-1]
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, PANEL - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (0.0 if x1 == x0 else (x - x0) / (x1 - x0)) * plot_w

    def sy(y: float) -> float:
        return y0 + _TOP + (hi - y) / (hi - lo) * plot_h

    unit = f" {info.sub}" if info.sub else ""
    pools = (video.get("pools") or {}).get(column, {})
    mean = pools.get("mean")
    title = f"{info.header}{unit} per frame"
    if isinstance(mean, (int, float)):
        title += f"; mean {table_value(column, mean)}"
    if isinstance(pools.get("min"), (int, float)):
        word = "min" if METRICS[base].direction == HIGHER else "max"
        title += f", {word} {table_value(column, pools['min'])}"
    out = [f'<text x="{_LEFT}" y="{y0 + 14}" {_c("t")}>{_e(title)}</text>',
           f'<rect x="{_LEFT}" y="{y0 + _TOP}" width="{plot_w}" height="{plot_h}" {_c("frame")}/>']
    for v in (hi - pad, lo + pad):
        out.append(f'<text x="{_LEFT - 4}" y="{sy(v) + 4:.1f}" {_c("y")}>{_e(table_value(column, v))}</text>')
    if isinstance(mean, (int, float)) and lo <= mean <= hi:
        out.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{sy(mean):.1f}" y2="{sy(mean):.1f}" {_c("mean")}/>')
    for run in _points(xs, ys, plot_w):
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in run)
        if len(run) == 1:
            x, y = run[0]
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="1.5" {_c("dot")}/>')
        else:
            out.append(f'<polyline points="{pts}" {_c("line")}/>')
    worst = (video.get("worst") or {}).get(column)
    if worst is not None:
        i = next((k for k, f in enumerate(frames) if f == worst.get("frame")), None)
        if i is not None and ys[i] is not None and not math.isnan(ys[i]):
            x, y = sx(xs[i]), sy(ys[i])
            t = worst.get("time")
            label = f"worst: frame {worst['frame']}" + (f" ({t:.3f} s)" if isinstance(t, (int, float)) else "")
            # the label sits on the title line, right-aligned: inside the plot it crossed the values
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0 + _TOP}" y2="{y0 + _TOP + plot_h}" {_c("worst")}/>'
                       f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" {_c("wdot")}/>'
                       f'<text x="{_LEFT + plot_w}" y="{y0 + 14}" {_c("w")} text-anchor="end">{_e(label)}</text>')
    out.append(f'<text x="{_LEFT}" y="{y0 + PANEL - 6}" {_c("x")}>{_e(_x_text(x0, x_label))}</text>'
               f'<text x="{_LEFT + plot_w}" y="{y0 + PANEL - 6}" {_c("x")} text-anchor="end">'
               f"{_e(_x_text(x1, x_label))}</text>")
    return "".join(out)


def _name(column: str) -> str:
    """``"SSIM"``, ``"SSIM min"``, ``"PSNR dB"``: the header and its second line."""
    info = COLUMN_INFO[column]
    return f"{info.header} {info.sub}" if info.sub else info.header


def _x_text(x: float, label: str) -> str:
    return f"{x:.3f} s" if label == "time" else f"frame {int(x)}"


def chart_columns(series: dict[str, Any], wanted: Sequence[str] = ("ssim", "psnr")) -> list[str]:
    """The columns charted: ``wanted`` that the series holds, else its first one or two."""
    held = list(series.get("values", {}))
    chosen = [c for c in wanted if c in held]
    return chosen or held[:2]


def report_columns(video: dict[str, Any] | None) -> tuple[str, ...]:
    """The columns a report charts: the gated column whose worst frame is
    pictured (``video["pictured"]["column"]``) first, then SSIM and PSNR."""
    pictured = ((video or {}).get("pictured") or {}).get("column")
    return tuple(dict.fromkeys(c for c in (pictured, "ssim", "psnr") if c))


def has_chart(series: dict[str, Any] | None, columns: Sequence[str] = ("ssim", "psnr")) -> bool:
    """Whether :func:`frame_chart` draws anything: a value in one of its columns."""
    if not series or not series.get("frame"):
        return False
    return any(v is not None and not math.isnan(float(v))
               for c in chart_columns(series, columns) for v in series["values"][c])


def frame_chart(series: dict[str, Any] | None, video: dict[str, Any] | None, *,
                columns: Sequence[str] = ("ssim", "psnr")) -> str:
    """The inline ``<svg>`` of ``series`` (:func:`~iqa_cli.results.frame_series`),
    one panel per column; ``""`` when there is nothing to draw."""
    if not series or not series.get("frame"):
        return ""
    video = video or {}
    frames = list(series["frame"])
    times = list(series.get("time") or [])
    timed = bool(times) and all(isinstance(t, (int, float)) for t in times)
    xs = [float(t) for t in times] if timed else [float(f) for f in frames]
    cols = chart_columns(series, columns)
    panels = []
    for c in cols:
        p = _panel(c, xs, frames, series["values"][c], video, len(panels) * PANEL, "time" if timed else "frame")
        if p:
            panels.append(p)
    if not panels:
        return ""
    height = PANEL * len(panels)
    label = "per-frame " + " and ".join(_name(c) for c in cols)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(label)}" class="chart" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"><title>{_e(label)}</title>'
            f"{''.join(panels)}</svg>")


def chart_document(series: dict[str, Any] | None, video: dict[str, Any] | None, *,
                   columns: Sequence[str] = ("ssim", "psnr")) -> bytes | None:
    """:func:`frame_chart` as a standalone SVG file (UTF-8 bytes, served as
    ``image/svg+xml``); None when there is nothing to draw."""
    svg = frame_chart(series, video, columns=columns)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n").encode("utf-8") if svg else None
