"""``iqa check --html DIR``: one self-contained ``DIR/index.html``.

No network and no external files: every image is a base64 PNG data URI.
Failing pairs (and missing / new-in-CI ones) come first, sorted by severity
(worst relative margin first); each shows the gate table (value, threshold,
margin), where the change is, and four images side by side: baseline,
output, SSIM heatmap (1 - SSIM, black = unchanged, red/yellow/white = worse)
and the difference mask (changed pixels in red over a faded baseline).
Images are downscaled to at most 768 px per side (the mask by max-pooling,
so a one-pixel change stays visible). A pair of videos (or other frame
sequences) also shows its SSIM and PSNR over the frames as an inline SVG
chart (:mod:`.chart`) with the worst frame marked, and its four images are
of that frame (the scorer's arrays of it: nothing is decoded again).
Passing pairs are listed in a collapsed ``<details>``. Written atomically.
"""

from __future__ import annotations

import html
import os
from typing import Any

from ..atomic import atomic_write
from ..formatting import metric_value, short
from .chart import frame_chart, report_columns

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#1b1f23;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em} .verdict{font-weight:600;margin:.3em 0 1em}
.verdict.fail{color:#b31d28} .verdict.pass{color:#22863a}
.pair{border:1px solid #d1d5da;border-radius:6px;margin:0 0 1.2em;padding:.8em}
.pair h2{font-size:1.05em;margin:0 0 .4em;word-break:break-all}
.badge{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-size:.85em;margin-right:.5em}
.FAIL,.MISSING{background:#cb2431} .NEW{background:#b08800} .PASS{background:#28a745} .ERROR{background:#6f42c1}
table{border-collapse:collapse;margin:.3em 0} td,th{border:1px solid #e1e4e8;padding:2px 8px;text-align:right}
th{background:#f6f8fa} td.l,th.l{text-align:left} tr.bad td{color:#b31d28;font-weight:600}
.imgs{display:flex;flex-wrap:wrap;gap:8px;margin-top:.5em}
figure{margin:0;max-width:24%;min-width:200px;flex:1} figure img{width:100%;image-rendering:pixelated;
border:1px solid #d1d5da;background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}
figcaption{font-size:.85em;color:#586069} .note{color:#586069} details{margin-top:1em}
.chart{margin-top:.5em;overflow-x:auto} .chart svg{max-width:100%;height:auto}
"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _gate_table(row: Any) -> str:
    if not row.gates:
        return ""
    out = ['<table><tr><th class="l">gate</th><th>value</th><th>threshold</th><th>margin</th>'
           '<th class="l">result</th></tr>']
    for g in row.gates:
        m = metric_value(g.gate.metric, g.margin, signed=True)
        out.append(f'<tr class="{"" if g.passed else "bad"}"><td class="l">{_e(g.gate.canonical())}</td>'
                   f"<td>{_e(metric_value(g.gate.metric, g.value))}</td><td>{_e(g.gate.op + short(g.gate.threshold))}</td>"
                   f'<td>{_e(m)}</td><td class="l">{"pass" if g.passed else "FAIL"}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _pair_block(row: Any) -> str:
    from .images import data_uri

    parts = [f'<section class="pair" id="{_e(row.key)}"><h2><span class="badge {_e(row.status)}">'
             f"{_e(row.status)}</span>{_e(row.key)}</h2>"]
    if row.reason:
        parts.append(f'<div class="note">{_e(row.reason)}</div>')
    if row.action:
        parts.append(f'<div class="note">baseline {_e(row.action)}</div>')
    parts.append(_gate_table(row))
    if row.where:
        parts.append(f'<div class="note">where: {_e(row.where)}</div>')
    video = getattr(row, "video", None)
    if row.width:
        frames = f"{video['frames']} frames, " if video else ""
        parts.append(f'<div class="note">{frames}{row.width}x{row.height} px; baseline {_e(row.baseline)}; '
                     f"output {_e(row.output)}</div>")
    chart = frame_chart(getattr(row, "series", None), video, columns=report_columns(video))
    if chart:
        parts.append(f'<div class="chart">{chart}</div>')
    if row.images:
        parts.append('<div class="imgs">')
        pic = (video or {}).get("pictured")
        at = ""
        if pic:
            t = pic.get("time")
            at = f", frame {pic['frame']}" + (f" ({t:.3f} s)" if isinstance(t, (int, float)) else "")
        captions = {"baseline": "baseline" + at, "output": "output" + at, "heatmap": "SSIM heatmap (1 - SSIM)" + at,
                    "mask": "changed pixels (red)" + at}
        for name in ("baseline", "output", "heatmap", "mask"):
            if name in row.images:
                parts.append(f'<figure><img alt="{_e(name)}" src="{data_uri(row.images[name])}">'
                             f"<figcaption>{_e(captions[name])}</figcaption></figure>")
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def render_html(rows: list[Any], *, verdict: str, settings: Any = None, gates: Any = (), changes: Any = ()) -> str:
    bad = sorted([r for r in rows if r.status != "PASS" and (r.regression or r.status == "ERROR")],
                 key=lambda r: r.severity)
    notes = [r for r in rows if r.status == "NEW" and not r.regression]
    ok = sorted([r for r in rows if r.status == "PASS"], key=lambda r: r.severity)
    cls = "fail" if bad else "pass"
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width,initial-scale=1">',
         "<title>iqa check report</title>", f"<style>{_CSS}</style></head><body>",
         "<h1>iqa check</h1>", f'<div class="verdict {cls}">{_e(verdict)}</div>']
    if gates:
        h.append(f'<div class="note">gates: {_e(", ".join(g.canonical() for g in gates))}</div>')
    if settings is not None:
        h.append(f'<div class="note">{_e(settings.describe())}</div>')
    if changes:
        h.append("<h3>baseline changes</h3><ul>" + "".join(f"<li>{_e(c)}</li>" for c in changes) + "</ul>")
    if bad:
        h.append(f"<h3>{len(bad)} failing</h3>")
        h.extend(_pair_block(r) for r in bad)
    if notes:
        h.append(f"<h3>{len(notes)} new (not in the baseline)</h3>")
        h.extend(_pair_block(r) for r in notes)
    h.append(f"<details><summary>{len(ok)} passing pair{'' if len(ok) == 1 else 's'}</summary><table>"
             '<tr><th class="l">pair</th><th class="l">tightest gate</th><th>value</th><th>margin</th></tr>')
    for r in ok:
        w = r.worst
        if w is not None:
            h.append(f'<tr><td class="l">{_e(r.key)}</td><td class="l">{_e(w.gate.canonical())}</td>'
                     f"<td>{_e(metric_value(w.gate.metric, w.value))}</td>"
                     f"<td>{_e(metric_value(w.gate.metric, w.margin, signed=True))}</td></tr>")
        else:
            h.append(f'<tr><td class="l">{_e(r.key)}</td><td></td><td></td><td></td></tr>')
    h.append("</table></details></body></html>")
    return "\n".join(h) + "\n"


def write_html(directory: str, rows: list[Any], **kw: Any) -> str:
    """Write ``directory/index.html`` (creating the folder); returns its path."""
    from ..errors import IqaError

    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise IqaError(f"cannot create the report folder: {e.strerror or e}", directory) from None
    path = os.path.join(directory, "index.html")
    with atomic_write(path) as fh:
        fh.write(render_html(rows, **kw))
    return path
