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
from .table import _unicode, print_grid


def _note_reason(r: CheckRow) -> str:
    """The row's reason without the file path it starts with (the row names the file)."""
    reason = r.reason or ""
    for path in (r.output, r.baseline):
        if path and reason.startswith(f"{path}: "):
            return reason[len(path) + 2:]
    return reason


def render_table(console, rows: list[CheckRow], settings, max_passing: int = 40) -> None:
    ordered = sorted(rows, key=lambda r: (r.status == PASS, r.severity))
    passing = [r for r in ordered if r.status == PASS]
    hide = len(passing) > max_passing
    style = {PASS: "green", FAIL: "bold red", MISSING: "bold red", NEW: "yellow", ERROR_S: "bold magenta"}
    shown_rows = [r for r in ordered if not (hide and r.status == PASS)]
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
        details.append((lines, []))
    print_grid(
        console, _unicode(console), [r.key for r in shown_rows],
        [(["gate"], gates, "left"), (["value"], values, "right"), (["margin"], margins, "right")],
        lead=[("status", statuses, "left")],
        details=details,
        title="iqa check",
    )
    if hide:
        console.print(f"{len(passing)} passing pairs not listed (use --json or --html for all)")
