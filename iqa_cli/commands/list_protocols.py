"""``iqa protocols``: every named protocol with its exact definition."""

from __future__ import annotations

import dataclasses

import click

from .options import CONTEXT

_FIELDS = ("reproduces", "checked_against", "window", "padding", "colour", "data_range", "crop", "pooling",
           "precision", "negatives", "differs_from_wang")


@click.command("protocols", context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def protocols_cmd(fmt: str) -> None:
    """List the protocols of --protocol: what each reproduces, its window, padding,
    colour conversion and rounding, data range, crop, pooling, precision, negative
    values, minimum size, and the library version it was checked against."""
    from ..metrics.protocols import PROTOCOLS

    if fmt == "json":
        import json

        out = []
        for p in PROTOCOLS.values():
            d = {k: v for k, v in dataclasses.asdict(p).items() if k != "module"}
            d["min_size"] = dict(p.min_size)
            out.append(d)
        click.echo(json.dumps(out, indent=2))
        return
    from ..report.table import make_console
    from rich.table import Table

    console = make_console()
    for p in PROTOCOLS.values():
        table = Table(title=f"{p.name}", title_justify="left", show_header=False, box=None, pad_edge=False)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("definition", overflow="fold")
        for f in _FIELDS:
            table.add_row(f.replace("_", " "), str(getattr(p, f)))
        sizes = ", ".join(f"{m} {'-' if s is None else f'{s}x{s}'}" for m, s in p.min_size)
        table.add_row("min size", sizes)
        if p.default_color != "rgb":
            table.add_row("usual colour", f"--color {p.default_color}")
        console.print(table)
        console.print()
