"""The ``iqa check`` table: one row per pair, failing ones first."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..formatting import metric_value
from ..gate.rows import ERROR_S, FAIL, MISSING, NEW, PASS, CheckRow


def render_table(console, rows: list[CheckRow], settings, max_passing: int = 40) -> None:
    ordered = sorted(rows, key=lambda r: (r.status == PASS, r.severity))
    passing = [r for r in ordered if r.status == PASS]
    hide = len(passing) > max_passing
    table = Table(title="iqa check", show_lines=False, title_justify="left")
    for col, kw in (("status", {"no_wrap": True}), ("pair", {"overflow": "fold"}), ("gate", {"no_wrap": True}),
                    ("value", {"justify": "right", "no_wrap": True}), ("margin", {"justify": "right", "no_wrap": True}),
                    ("where / note", {"overflow": "fold", "ratio": 1})):
        table.add_column(col, **kw)
    style = {PASS: "green", FAIL: "bold red", MISSING: "bold red", NEW: "yellow", ERROR_S: "bold magenta"}
    for r in ordered:
        if hide and r.status == PASS:
            continue
        st = Text(r.status, style=style[r.status] if (r.status != NEW or r.regression) else "cyan")
        shown = r.failed_gates or ([r.worst] if r.worst else [])
        if shown:
            gate = "\n".join(g.gate.canonical() for g in shown)
            val = "\n".join(metric_value(g.gate.metric, g.value) for g in shown)
            mar = "\n".join(metric_value(g.gate.metric, g.margin, signed=True)
                            for g in shown)
            note = r.where if r.status != PASS else ""
        else:
            gate = val = mar = ""
            note = r.reason or ""
        if r.action:
            note = (note + "\n" if note else "") + f"baseline {r.action}"
        table.add_row(st, Text(r.key), Text(gate), val, mar, Text(note or ""))
    console.print(table)
    if hide:
        console.print(f"{len(passing)} passing pairs not listed (use --json or --html for all)")

