"""The terminal table (``--format table``): pairs, settings line, summary, worst pairs.

Rendered with rich, so colours appear only on a terminal and the layout
adapts to the console width. File names and messages are passed as
:class:`rich.text.Text`, never as markup, so ``[`` in a path prints as is. On a
console whose encoding is not UTF (``LANG=C``), ``∞``, ``—``, ``→`` and ``⚠``
become ``inf``, ``-``, ``->`` and ``!``.

Layout, chosen to fit all six default metrics in 80 columns:

- one row per pair; the pair column folds long names, numbers never wrap;
- the status is not a column of its own: a pair that was not scored shows it
  under its name (``error: size mismatch: …``, ``missing distorted``) and has
  empty metric cells; warnings follow, dim;
- the pair is named by its distorted file, relative to the directory all
  distorted files share (named in the caption, with the reference when there
  is only one); ``ref → dist`` when several references are paired under
  different file names.

Number formats are the registry's (:mod:`iqa_cli.formatting`): SSIM-like
columns 6 decimals, TV 4, PSNR 2 (dB), MSE 4 decimals or 4 significant
digits, pixel counts as integers; ``None`` (not computed) is a dash.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..formatting import table_value as format_value
from ..metrics.registry import COLUMN_INFO, COLUMNS, HIGHER, LOWER, METRICS
from ..results import PairResult, Settings, summarize
from ..status import PairStatus

_STATS = ("mean", "std", "min", "median", "max")

#: SIMPLE_HEAD for consoles that cannot print box-drawing characters (rich would
#: otherwise fall back to a full ``|`` grid)
_ASCII_SIMPLE_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


def _unicode(console: Console) -> bool:
    return (console.encoding or "").lower().replace("-", "").startswith("utf")


def header(column: str, settings: Settings | None = None, *, lines: int = 2) -> str:
    """Column heading; ``lines=1`` gives the one-line form (``PSNR dB``)."""
    info = COLUMN_INFO.get(column)
    name, sub = (info.header, info.sub) if info else (column, "")
    if column == "ssim_below" and settings is not None:
        sub = f"<{settings.below:g}"
    if not sub:
        return name
    if lines == 2:
        return f"{name}\n{sub}"
    return f"{name}{sub}" if sub.startswith("<") else f"{name} {sub}"


def _value_text(column: str, value: Any, uni: bool) -> Text:
    s = format_value(column, value, unicode=uni)
    if value is None:
        return Text(s, style="dim")
    if s == "nan":
        return Text(s, style="yellow")
    return Text(s)


# --------------------------------------------------------------------------- names


def _show_references(results: Sequence[PairResult]) -> bool:
    """``ref → dist`` only when the distorted name alone does not say which
    reference was used: several references, paired under different file names."""
    refs = {r.reference for r in results if r.reference}
    if len(refs) <= 1:
        return False
    return any(
        r.reference and r.distorted and os.path.basename(r.reference) != os.path.basename(r.distorted)
        for r in results
    )


def _common_dir(paths: Sequence[str]) -> str:
    """The directory all ``paths`` are under, or ``""``."""
    if not paths:
        return ""
    try:
        common = os.path.commonpath([os.path.dirname(p) for p in paths])
    except ValueError:  # absolute and relative mixed, or different drives
        return ""
    return "" if common in ("", ".", os.curdir) else common


class _Namer:
    """Labels for pairs, plus the caption explaining what was left out of them."""

    def __init__(self, results: Sequence[PairResult], uni: bool):
        self.uni = uni
        self.show_ref = _show_references(results)
        self.prefix = ""
        captions = []
        if len(results) > 1 and not self.show_ref:
            self.prefix = _common_dir([r.distorted for r in results if r.distorted])
            if self.prefix:
                captions.append(f"distorted files in {self.prefix}{os.sep}")
            refs = {r.reference for r in results if r.reference}
            if len(refs) == 1:
                captions.append(f"reference {next(iter(refs))}")
            else:
                ref_dir = _common_dir(sorted(refs))
                if ref_dir:
                    captions.append(f"references in {ref_dir}{os.sep}")
        self.caption = "; ".join(captions) or None

    def label(self, r: PairResult) -> str:
        if self.show_ref and r.reference and r.distorted:
            return f"{r.reference} {'→' if self.uni else '->'} {r.distorted}"
        if r.distorted and self.prefix:
            return os.path.relpath(r.distorted, self.prefix)
        return r.name

    def cell(self, r: PairResult, details: bool = True) -> Text:
        t = Text(self.label(r))
        if not details:
            return t
        if not r.ok:
            status = r.status.wire.replace("_", " ")
            t.append("\n")
            t.append(f"{status}: {r.error}" if r.error else status, style="red" if r.error else "yellow")
        for w in r.warnings:
            t.append("\n")
            t.append(("⚠ " if self.uni else "! ") + w, style="dim")
        return t


# --------------------------------------------------------------------------- tables


def _table(uni: bool, title: str | None = None, caption: str | None = None) -> Table:
    return Table(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD if uni else _ASCII_SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0, 0, 1),  # with the blank divider: two spaces between columns
        header_style="bold",
        title_justify="left",
        caption_justify="left",
        title_style="bold",
        caption_style="dim",
    )


def _add_metric_columns(table: Table, columns: Sequence[str], settings: Settings) -> None:
    for c in columns:
        table.add_column(header(c, settings), justify="right", no_wrap=True)


def _metric_cells(r: PairResult, columns: Sequence[str], uni: bool) -> list[Text]:
    if r.status != PairStatus.OK:
        return [Text("") for _ in columns]
    return [_value_text(c, r.metrics.get(c), uni) for c in columns]


def ranking_column(columns: Sequence[str]) -> str | None:
    """The first column whose metric has a better direction (e.g. ``ssim``)."""
    for c in columns:
        info = METRICS.get(COLUMNS.get(c, ""))
        if info is not None and info.direction in (HIGHER, LOWER):
            return c
    return None


def worst_pairs(results: Sequence[PairResult], column: str, k: int) -> list[PairResult]:
    """The ``k`` worst ok pairs by ``column``, worst first, by the registry's
    direction (lowest SSIM, highest MSE). Pairs without a value or with NaN are
    left out; ties keep input order."""
    direction = METRICS[COLUMNS[column]].direction
    scored = []
    for r in results:
        v = r.metrics.get(column) if r.status == PairStatus.OK else None
        if v is None or math.isnan(float(v)):
            continue
        scored.append((float(v), r))
    scored.sort(key=lambda t: t[0], reverse=direction == LOWER)
    return [r for _, r in scored[:k]]


def render(
    console: Console,
    settings: Settings,
    results: Sequence[PairResult],
    summary: dict[str, Any] | None = None,
    *,
    worst: int = 5,
    title: str | None = None,
) -> None:
    """Print the report for ``results`` on ``console``.

    1. the pairs table (``title`` above it);
    2. ``settings: …`` — :meth:`Settings.describe`;
    3. with more than one pair: a summary table (count, mean, std, min, median,
       max per column; ``summary`` is :func:`iqa_cli.results.summarize`'s dict,
       computed when None) and the status counts;
    4. with more than ``worst`` ranked pairs: the ``worst`` worst pairs by the
       first selected metric that has a better direction (``worst=0``: never).
    """
    results = list(results)
    columns = settings.columns
    uni = _unicode(console)
    namer = _Namer(results, uni)

    table = _table(uni, title, namer.caption)
    table.add_column("pair", overflow="fold", min_width=12)
    _add_metric_columns(table, columns, settings)
    for r in results:
        table.add_row(namer.cell(r), *_metric_cells(r, columns, uni))
    console.print(table)

    line = Text("settings: ", style="bold")
    line.append(settings.describe())
    console.print(line)

    if len(results) > 1:
        if summary is None:
            summary = summarize(results, columns)
        _render_summary(console, summary, columns, settings, uni)

    col = ranking_column(columns)
    if worst > 0 and col is not None:
        ranked = worst_pairs(results, col, worst + 1)
        if len(ranked) > worst:
            _render_worst(console, ranked[:worst], col, columns, settings, namer, uni)


def _counts(summary: dict[str, Any]) -> Text:
    errors, missing = summary.get("errors", 0), summary.get("missing", 0)
    t = Text(f"{summary.get('pairs', 0)} pairs: ")
    t.append(f"{summary.get('ok', 0)} ok", style="green")
    t.append(", ")
    t.append(f"{errors} error{'' if errors == 1 else 's'}", style="bold red" if errors else "")
    t.append(", ")
    t.append(f"{missing} missing", style="yellow" if missing else "")
    return t


def _render_summary(
    console: Console, summary: dict[str, Any], columns: Sequence[str], settings: Settings, uni: bool
) -> None:
    stats = summary.get("metrics", {})
    console.print()
    shown = [c for c in columns if c in stats]
    if shown:
        table = _table(uni, title="summary")
        table.add_column("metric", no_wrap=True)
        table.add_column("count", justify="right", no_wrap=True)
        for key in _STATS:
            table.add_column(key, justify="right", no_wrap=True)
        for c in shown:
            s = stats[c]
            table.add_row(
                header(c, settings, lines=1),
                str(s.get("n", "")),
                *(_value_text(c, s.get(k), uni) for k in _STATS),
            )
        console.print(table)
    console.print(_counts(summary))


def _render_worst(
    console: Console,
    pairs: list[PairResult],
    col: str,
    columns: Sequence[str],
    settings: Settings,
    namer: _Namer,
    uni: bool,
) -> None:
    direction = METRICS[COLUMNS[col]].direction
    which = "lowest" if direction == HIGHER else "highest"
    table = _table(uni, title=f"worst {len(pairs)} by {header(col, settings, lines=1)} ({which})")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("pair", overflow="fold", min_width=12)
    _add_metric_columns(table, columns, settings)
    idx = list(columns).index(col)
    for i, r in enumerate(pairs, 1):
        cells = _metric_cells(r, columns, uni)
        cells[idx].stylize("bold")
        table.add_row(str(i), namer.cell(r, details=False), *cells)
    console.print()
    console.print(table)


def protocol_table(console: Console, rows: Sequence[tuple[str, PairResult]], settings: Settings) -> None:
    """``compare --protocol all``: one row per (distorted file, protocol)."""
    uni = _unicode(console)
    columns = settings.columns
    table = _table(uni, title="iqa compare --protocol all",
                   caption="each protocol's own conventions (iqa protocols); MSE on each protocol's scale")
    table.add_column("pair", overflow="fold")
    table.add_column("protocol", no_wrap=True)
    _add_metric_columns(table, columns, settings)
    for name, r in rows:
        label = Text(os.path.basename(r.distorted or r.reference or "?"))
        if r.status != PairStatus.OK and r.error:
            label.append(f"\n{r.error}", style="red")
        table.add_row(label, name, *_metric_cells(r, columns, uni))
    console.print(table)
