"""``iqa metrics``: what each metric means (the registry as a table or JSON)."""

from __future__ import annotations

import click

from ..metrics.registry import METRICS, VIDEO_COLUMN_DEFINITIONS
from .options import CONTEXT


@click.command("metrics", context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def metrics_cmd(fmt: str) -> None:
    """List the metrics: name, direction, range, unit and definition."""
    if fmt == "json":
        import json

        click.echo(json.dumps([
            {"name": m.name, "columns": list(m.column_names), "direction": m.direction, "range": m.range,
             "unit": m.unit, "default": m.default, "definition": m.described(),
             "video_columns": {c.name: VIDEO_COLUMN_DEFINITIONS[c.name] for c in m.video_columns}}
            for m in METRICS.values()
        ], indent=2))
        return
    from ..report.table import make_console
    from rich.table import Table

    table = Table(title="iqa metrics", show_lines=True)
    for col in ("metric", "better", "range", "definition"):
        table.add_column(col, overflow="fold")
    for m in METRICS.values():
        better = {"higher": "higher", "lower": "lower"}.get(m.direction, "-")
        name = m.name + ("" if m.default else "\n(on request)")
        rng = m.range + (f" {m.unit}" if m.unit else "")
        video = "".join(f"\n{c.name}: {VIDEO_COLUMN_DEFINITIONS[c.name]}" for c in m.video_columns)
        table.add_row(name, better, rng, m.described() + video)
    make_console().print(table)
