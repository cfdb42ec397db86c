"""The ``iqa check`` table: one row per pair, failing ones first.

Laid out like the ``compare``/``batch`` table (:func:`.table.print_grid`, at
the width :func:`.table.make_console` picks): a name too long for its column
is shortened in the middle, never folded; where a pair changed, or why it
failed, is a line of its own under the pair, at the full console width.
"""

from __future__ import annotations

from rich.text import Text

from ..formatting import metric_value
from ..gate.rows import ERROR_S, FAIL, MISSING, NEW, PASS, CheckRow
from ..spelling import spell
from .table import _print_line, _unicode, _warning_summary, group_warnings, print_grid


def _note_reason(r: CheckRow) -> str:
    """The row's reason without the file path it starts with (the row names the file)."""
    reason = r.reason or ""
    for path in (r.output, r.baseline):
        if path and reason.startswith(f"{path}: "):
            return reason[len(path) + 2:]
    return reason


def render_table(console, rows: list[CheckRow], settings, max_passing: int = 40) -> None:
    """The rows, failing first; each row's warnings under it, a warning given
    for several rows once below the table (as ``batch`` does), so that a
    passing pair never hides one (an EXIF rotation, the frames of an animation)."""
    uni = _unicode(console)
    ordered = sorted(rows, key=lambda r: (r.status == PASS, r.severity))
    per_row, groups = group_warnings(ordered)
    passing = [r for r in ordered if r.status == PASS]
    hide = len(passing) > max_passing
    style = {PASS: "green", FAIL: "bold red", MISSING: "bold red", NEW: "yellow", ERROR_S: "bold magenta"}
    shown_rows = [r for r in ordered if not (hide and r.status == PASS)]
    warned = {id(r): w for r, w in zip(ordered, per_row)}
    mark = "⚠ " if uni else "! "
    statuses, gates, values, margins, details = [], [], [], [], []
    for r in shown_rows:
        statuses.append(Text(r.status, style=style[r.status] if (r.status != NEW or r.regression) else "cyan"))
        shown = r.failed_gates or ([r.worst] if r.worst else [])
        gates.append(Text("\n".join(g.gate.canonical() for g in shown)))
        values.append(Text("\n".join(metric_value(g.gate.metric, g.value) for g in shown)))
        margins.append(Text("\n".join(metric_value(g.gate.metric, g.margin, signed=True) for g in shown)))
        note = (r.where if r.status != PASS else "") if shown else _note_reason(r)
        lines = [Text(note, style="red" if r.status == ERROR_S else "")] if note else []
        if r.action:
            lines.append(Text(f"baseline {r.action}", style="cyan"))
        details.append((lines, [Text(mark + w, style="dim") for w in warned[id(r)]]))
    print_grid(
        console, uni, [r.key for r in shown_rows],
        [(["gate"], gates, "left"), (["value"], values, "right"), (["margin"], margins, "right")],
        lead=[("status", statuses, "left")],
        details=details,
        title="iqa check",
    )
    for t in _warning_summary(groups, len(ordered), [r.key for r in ordered], uni):
        _print_line(console, t)
    if hide:
        for r in passing:  # a hidden row's own warnings are still said
            for w in warned[id(r)]:
                _print_line(console, Text(f"{mark}{r.key}: {w}", style="yellow"))
        console.print(f"{len(passing)} passing pairs not listed (use {spell('json')} or {spell('html')} for all)")
