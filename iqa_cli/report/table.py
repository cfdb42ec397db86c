"""The terminal table (``--format table``): pairs, settings line, summary, worst pairs.

Colours appear only on a terminal. File names and messages are
:class:`rich.text.Text`, never markup, so ``[`` in a path prints as is. On a
console whose encoding is not UTF (``LANG=C``), ``∞``, ``—``, ``→``, ``⚠`` and
``…`` become ``inf``, ``-``, ``->``, ``!`` and ``...``.

Layout, laid out here at the console's width (:func:`make_console` picks it:
the terminal's, else ``COLUMNS``, else 120), so that it reads the same in a
terminal and in a CI log:

- one line per pair; numbers never wrap; a file name is never split across
  lines: one too long for the pair column is shortened in the middle
  (``photo_no…_0042.png``; JSON and CSV keep the full path), and when the
  metrics leave almost no room the name gets a line of its own above its
  numbers;
- a pair that was not scored shows its status on its own line under the
  name, at the full console width (``error: size mismatch: …``), with empty
  metric cells;
- a warning given for several pairs is printed once below the table with the
  number of pairs (numbers that differ from pair to pair, e.g. the image size,
  shown as ``…``); a warning of one pair stays under it, dim, on one line;
- the pair is named by its distorted file, relative to the directory all
  distorted files share (named in a line under the table, with the reference
  when there is only one); ``ref → dist`` when several references are paired
  under different file names.

Number formats are the registry's (:mod:`iqa_cli.formatting`): SSIM-like
columns 6 decimals, TV 4, PSNR 2 (dB), MSE 4 decimals or 4 significant
digits, pixel counts as integers; ``None`` (not computed) is a dash.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.text import Text

from ..formatting import table_value as format_value
from ..metrics.registry import COLUMN_INFO, COLUMNS, HIGHER, LOWER, METRICS
from ..results import PairResult, Settings, summarize
from ..spelling import spell
from ..status import PairStatus

_STATS = ("mean", "std", "min", "median", "max")


def _unicode(console: Console) -> bool:
    return (console.encoding or "").lower().replace("-", "").startswith("utf")


#: width of a report that does not go to a terminal (CI logs, pipes) when
#: ``COLUMNS`` is not set: rich's 80 would cut file names short
PIPE_WIDTH = 120


def report_width(is_terminal: bool, terminal_width: int, environ: Mapping[str, str] | None = None) -> int:
    """The width tables are laid out at: the terminal's; else ``COLUMNS`` when
    it is a positive number; else :data:`PIPE_WIDTH`."""
    if is_terminal:
        return terminal_width
    cols = (os.environ if environ is None else environ).get("COLUMNS", "").strip()
    return int(cols) if cols.isdigit() and int(cols) > 0 else PIPE_WIDTH


class ReportConsole(Console):
    """rich's console, but a reader that closed the pipe is the command's
    business (rich would exit 1 on its own): the command exits quietly."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def make_console(**kw: Any) -> Console:
    """A :class:`Console` for a report on stdout, at :func:`report_width`
    (the one rule of ``compare``, ``batch`` and ``check``)."""
    console = ReportConsole(**kw)
    width = report_width(console.is_terminal, console.width)
    return console if width == console.width else ReportConsole(width=width, **kw)


def _ellipsis(uni: bool) -> str:
    return "…" if uni else "..."


def _take(text: str, width: int, from_end: bool = False) -> str:
    """The longest head (or tail) of ``text`` at most ``width`` cells wide."""
    out, used = [], 0
    for ch in reversed(text) if from_end else text:
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(reversed(out)) if from_end else "".join(out)


def shorten_middle(name: str, width: int, uni: bool = True) -> str:
    """``name`` if it fits in ``width`` cells, else its start and its end
    around ``…`` (the end, which tells files apart, gets the larger share)."""
    if cell_len(name) <= width:
        return name
    ell = _ellipsis(uni)
    room = width - len(ell)
    if room < 2:
        return _take(name, width, from_end=True)
    head = room * 2 // 5
    return _take(name, head) + ell + _take(name, room - head, from_end=True)


def shorten_end(text: str, width: int, uni: bool = True) -> str:
    """``text`` cut to ``width`` cells, ending in ``…`` when cut."""
    if cell_len(text) <= width:
        return text
    ell = _ellipsis(uni)
    return _take(text, max(0, width - len(ell))) + ell


class NameCell:
    """A file name in a rich table cell: shortened in the middle to the
    column's width, never folded over lines."""

    def __init__(self, name: str, uni: bool, *, style: str = "", min_width: int = 16):
        self.name, self.uni, self.style, self.min_width = name, uni, style, min_width

    def __rich_measure__(self, console: Console, options: Any) -> Measurement:
        n = cell_len(self.name)
        return Measurement(min(n, self.min_width), n)

    def __rich_console__(self, console: Console, options: Any):
        yield Text(shorten_middle(self.name, options.max_width, self.uni), style=self.style, no_wrap=True)


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

    def details(self, r: PairResult, warnings: Sequence[str]) -> tuple[list[Text], list[Text]]:
        """The status line (errors) and the warning lines printed under a pair."""
        status: list[Text] = []
        if not r.ok:
            wire = r.status.wire.replace("_", " ")
            status.append(Text(f"{wire}: {r.error}" if r.error else wire, style="red" if r.error else "yellow"))
        notes = [Text(("⚠ " if self.uni else "! ") + w, style="dim") for w in warnings]
        return status, notes


# --------------------------------------------------------------------------- warnings

_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


def group_warnings(results: Sequence[PairResult]) -> tuple[list[list[str]], list[tuple[list[int], str]]]:
    """Split the pairs' warnings into those of one pair (left on its row) and
    those given for several pairs, which are the same once their numbers are
    left out (``image is 100x80`` / ``image is 90x70``).

    Returns the per-row lists and, for each repeated warning in order of first
    appearance, the row indices and one text: numbers that differ between the
    rows become ``…``.
    """
    seen: dict[str, list[tuple[int, str]]] = {}
    for i, r in enumerate(results):
        for w in dict.fromkeys(r.warnings):
            seen.setdefault(_NUMBER.sub("#", w), []).append((i, w))
    repeated = {k for k, hits in seen.items() if len({i for i, _ in hits}) > 1}
    per_row = [[w for w in r.warnings if _NUMBER.sub("#", w) not in repeated] for r in results]
    groups = []
    for k, hits in seen.items():
        if k not in repeated:
            continue
        split = [_NUMBER.split(w) for _, w in hits]
        parts = [p if all(s[j] == p for s in split) else "…" for j, p in enumerate(split[0])]
        groups.append((sorted({i for i, _ in hits}), "".join(parts)))
    return per_row, groups


def _warning_summary(groups: list[tuple[list[int], str]], total: int, labels: list[str], uni: bool,
                     noun: str = "pairs") -> list[Text]:
    lines = []
    for rows, text in groups:
        n = len(rows)
        who = f"{n} {noun}" if n == total else f"{n} of {total} {noun}"
        if n <= 3:
            who += " (" + ", ".join(shorten_middle(labels[i], 40, uni) for i in rows) + ")"
        t = Text("⚠ " if uni else "! ", style="yellow")
        t.append(who + ": ", style="bold")
        t.append(text if uni else text.replace("…", "..."))
        lines.append(t)
    return lines


# --------------------------------------------------------------------------- tables


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


_GAP = 2  # spaces between columns
_MIN_PAIR = 16  # a pair column narrower than this: long names get a line of their own
_INDENT = 2  # status and warning lines under a pair


def _print_line(console: Console, line: Text) -> None:
    console.print(line, soft_wrap=True)  # laid out already: neither wrapped nor cropped by rich


def print_grid(
    console: Console,
    uni: bool,
    labels: Sequence[str],
    columns: Sequence[tuple[list[str], list[Text], str]],
    *,
    lead: Sequence[tuple[str, list[Text], str]] = (),
    details: Sequence[tuple[list[Text], list[Text]]] | None = None,
    title: str | None = None,
    name_header: str = "pair",
) -> None:
    """A table of pairs at the console's width: ``lead`` columns, the pair
    names, then ``columns`` (header lines, one cell per pair, ``"left"`` or
    ``"right"``; a cell may hold several lines); ``details`` (status lines,
    wrapped, and warning lines, cut to one line) are printed under each pair."""
    width = console.width
    lead_w = [max([cell_len(h)] + [c.cell_len for c in cells]) for h, cells, _ in lead]
    split = [[c.split("\n") for c in cells] for _, cells, _ in columns]
    widths = [max([cell_len(h) for h in head] + [p.cell_len for c in cells for p in c])
              for (head, _, _), cells in zip(columns, split)]
    offset = sum(w + _GAP for w in lead_w)
    fixed = offset + sum(w + _GAP for w in widths)
    longest = max([cell_len(name_header)] + [cell_len(x) for x in labels])
    avail = width - fixed
    own_line = longest > avail and avail < _MIN_PAIR
    pair_w = min(longest, max(avail, 0 if own_line else cell_len(name_header)))
    name_above = cell_len(name_header) > pair_w  # too narrow even for the heading: a line of its own
    heads = max([len(h) for h, _, _ in columns] + [1])

    def pad(t: Text, w: int, justify: str) -> Text:
        gap = Text(" " * (w - t.cell_len))
        return gap + t if justify == "right" else t + gap

    def line(leads: Sequence[Text] | None, pair: Text, cells: Sequence[Text], style: str = "") -> Text:
        t = Text(style=style)
        for w, c, (_, _, justify) in zip(lead_w, leads or [Text("")] * len(lead), lead):
            t.append(pad(c, w, justify))
            t.append(" " * _GAP)
        t.append(pad(pair, pair_w, "left"))
        for w, c, (_, _, justify) in zip(widths, cells, columns):
            t.append(" " * _GAP)
            t.append(pad(c, w, justify))
        t.rstrip()
        return t

    if title:
        _print_line(console, Text(title, style="bold"))
    if name_above:
        _print_line(console, Text(name_header, style="bold"))
    for k in range(heads):  # headers bottom-aligned
        cells = [Text(h[k - heads + len(h)] if k >= heads - len(h) else "") for h, _, _ in columns]
        last = k == heads - 1
        leads = [Text(h if last else "") for h, _, _ in lead]
        _print_line(console, line(leads, Text(name_header if last and not name_above else ""), cells, style="bold"))
    _print_line(console, Text(("─" if uni else "-") * min(width, fixed + pair_w)))
    for i, label in enumerate(labels):
        leads = [cells[i] for _, cells, _ in lead]
        parts = [cells[i] for cells in split]
        first = [p[0] if p else Text("") for p in parts]
        if own_line and cell_len(label) > pair_w:
            _print_line(console, line(leads, Text(shorten_middle(label, max(width - offset, 4), uni)), []))
            if any(c.plain for c in first):
                _print_line(console, line(None, Text(""), first))
        else:
            _print_line(console, line(leads, Text(shorten_middle(label, pair_w, uni)), first))
        for k in range(1, max([len(p) for p in parts] + [1])):  # further lines of multi-line cells
            _print_line(console, line(None, Text(""), [p[k] if k < len(p) else Text("") for p in parts]))
        if details:
            status, notes = details[i]
            indent = " " * (offset + _INDENT)
            for t in status:  # wrapped at the console width, never in a narrow column
                for part in t.wrap(console, max(width - offset - _INDENT, 8)):
                    part.rstrip()
                    _print_line(console, Text(indent) + part)
            for t in notes:
                cut = shorten_end(t.plain, max(width - offset - _INDENT, 8), uni)
                _print_line(console, Text(indent) + Text(cut, style=t.style))


def _metric_grid(columns: Sequence[str], settings: Settings, cells: list[list[Text]]):
    return [(header(c, settings).split("\n"), [row[j] for row in cells], "right") for j, c in enumerate(columns)]


def video_line(r: PairResult, columns: Sequence[str], settings: Settings, uni: bool) -> Text | None:
    """The line under a pair of frame sequences: frames, pool, and the worst
    frame of each metric with a better direction (index and time)."""
    v = r.video
    if not v or r.status != PairStatus.OK:
        return None
    rate = v.get("frame_rate")
    head = f"{v.get('frames')} frames" + (f" at {rate:.6g} fps" if rate else "")
    head += f", pooled by {settings.pool}"
    parts = []
    for c in columns:
        info = METRICS.get(COLUMNS.get(c, ""))
        if info is None or info.direction not in (HIGHER, LOWER) or c not in v.get("worst", {}):
            continue
        if c == "mse" and "psnr" in v["worst"]:
            continue  # the same frame as PSNR's
        w = v["worst"][c]
        t = w.get("time")
        when = f" ({t:.3f} s)" if isinstance(t, (int, float)) else ""
        col = COLUMN_INFO[c]
        unit = " dB" if col.sub == "dB" else ""
        name = col.header if unit else header(c, settings, lines=1)
        parts.append(f"{name} {format_value(c, w.get('value'), unicode=uni)}{unit} at frame {w['frame']}{when}")
    text = head + ("; worst " + ", ".join(parts) if parts else "")
    return Text(text, style="cyan")


def planes_line(r: PairResult, columns: Sequence[str], settings: Settings, uni: bool) -> Text | None:
    """Under colour ``yuv``: each metric's Y, U and V values (the columns show their pixel-weighted all)."""
    if settings.color != "yuv" or r.video is None or r.status != PairStatus.OK:
        return None
    parts = []
    for c in columns:
        vals = [r.metrics.get(f"{c}_{p}") for p in "yuv"]
        if all(v is None for v in vals):
            continue
        col = COLUMN_INFO[c]
        unit = " dB" if col.sub == "dB" else ""
        name = col.header if unit else header(c, settings, lines=1)
        parts.append(f"{name} " + " / ".join(format_value(c, v, unicode=uni) for v in vals) + unit)
    return Text("Y/U/V: " + ", ".join(parts), style="cyan") if parts else None


def _video_columns(results: Sequence[PairResult], columns: Sequence[str]) -> list[str]:
    """The pooled PSNR columns, when a pair of frame sequences holds them."""
    held = {c for r in results if r.video is not None for c in r.metrics}
    return [c for c in ("psnr_mean_db", "psnr_total") if c in held and c not in columns]


def _render_frames(console: Console, r: PairResult, columns: Sequence[str], settings: Settings, uni: bool,
                   label: str) -> None:
    """``--per-frame`` on the table: one line per frame of a pair of frame sequences."""
    frames = r.frames or []
    cols = [c for c in columns if frames and any(c in f.values for f in frames[:1])]
    cells = [[_value_text(c, f.values.get(c), uni) for c in cols] for f in frames]
    times = [Text("" if f.time is None else f"{f.time:.3f}") for f in frames]
    console.print()
    print_grid(
        console, uni, [str(f.ref) for f in frames],
        [(["time", "s"], times, "right"), *_metric_grid(cols, settings, cells)],
        title=f"frames of {label}", name_header="frame",
    )


def render(
    console: Console,
    settings: Settings,
    results: Sequence[PairResult],
    summary: dict[str, Any] | None = None,
    *,
    worst: int = 5,
    title: str | None = None,
    per_frame: bool = False,
) -> None:
    """Print the report for ``results`` on ``console``.

    1. the pairs table (``title`` above it), each pair's status and own
       warnings under it; below it the directory the names are relative to,
       then each warning given for several pairs, once, with their number;
    2. ``settings: …`` — :meth:`Settings.describe`;
    3. with more than one pair: a summary table (count, mean, std, min, median,
       max per column; ``summary`` is :func:`iqa_cli.results.summarize`'s dict,
       computed when None) and the status counts;
    4. with more than ``worst`` ranked pairs: the ``worst`` worst pairs by the
       first selected metric that has a better direction (``worst=0``: never).

    A pair of frame sequences shows its values pooled by the ``pool``
    setting, the pooled PSNRs (``psnr_mean_db``, ``psnr_total``) as columns of
    their own, and a line with its worst frames (under colour ``yuv`` one more
    with each plane's values); ``per_frame``: then a table of its frames.
    """
    results = list(results)
    columns = settings.columns
    uni = _unicode(console)
    namer = _Namer(results, uni)
    labels = [namer.label(r) for r in results]
    per_row, groups = group_warnings(results)

    shown = list(columns) + _video_columns(results, columns)
    cells = [_metric_cells(r, shown, uni) for r in results]
    details = []
    for r, w in zip(results, per_row):
        status, notes = namer.details(r, w)
        lines = [video_line(r, columns, settings, uni), planes_line(r, columns, settings, uni)]
        details.append((status + [t for t in lines if t is not None], notes))
    print_grid(
        console, uni, labels,
        _metric_grid(shown, settings, cells),
        details=details,
        title=title,
    )
    if namer.caption:
        console.print(Text(namer.caption, style="dim"))  # wrapped at the console width
    for t in _warning_summary(groups, len(results), labels, uni):
        console.print(t)

    line = Text("settings: ", style="bold")
    line.append(settings.describe())
    console.print(line)
    if per_frame:
        for r, label in zip(results, labels):
            if r.frames:
                _render_frames(console, r, columns, settings, uni, label)

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
        cells = [[Text(str(stats[c].get("n", "")))] + [_value_text(c, stats[c].get(k), uni) for k in _STATS]
                 for c in shown]
        print_grid(
            console, uni, [header(c, settings, lines=1) for c in shown],
            [([name], [row[j] for row in cells], "right") for j, name in enumerate(("count",) + _STATS)],
            title="summary", name_header="metric",
        )
        inf = "∞" if uni else "inf"
        for c in shown:
            k = stats[c].get("infinite")
            if k:
                n = stats[c]["n"]
                tail = "left out of the mean and std" if k < n else f"mean {inf}"
                console.print(f"{COLUMN_INFO[c].header}: {k} of {n} pairs identical ({inf}), {tail}", style="dim")
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
    idx = list(columns).index(col)
    cells = []
    for r in pairs:
        row = _metric_cells(r, columns, uni)
        row[idx].stylize("bold")
        cells.append(row)
    console.print()
    print_grid(
        console, uni, [namer.label(r) for r in pairs],
        _metric_grid(columns, settings, cells),
        lead=[("#", [Text(str(i)) for i in range(1, len(pairs) + 1)], "right")],
        title=f"worst {len(pairs)} by {header(col, settings, lines=1)} ({which})",
    )



def protocol_table(console: Console, rows: Sequence[tuple[str, PairResult]], settings: Settings) -> None:
    """``compare --protocol all``: one row per (distorted file, protocol), each
    with its notes (why a value is ``—``, what the protocol did), a note given
    for several rows once below."""
    uni = _unicode(console)
    columns = settings.columns
    results = [r for _, r in rows]
    cells = [_metric_cells(r, columns, uni) for r in results]
    labels = [os.path.basename(r.distorted or r.reference or "?") for r in results]
    per_row, groups = group_warnings(results)
    mark = "⚠ " if uni else "! "
    details = [([Text(f"error: {r.error}", style="red")] if r.status != PairStatus.OK and r.error else [],
                [Text(mark + w, style="dim") for w in notes])
               for r, notes in zip(results, per_row)]
    print_grid(console, uni, labels, _metric_grid(columns, settings, cells),
               lead=[("protocol", [Text(name) for name, _ in rows], "left")], details=details,
               title=f"iqa compare {spell('protocol')} all")
    for t in _warning_summary(groups, len(results), [rows[i][0] for i in range(len(rows))], uni,
                              noun="protocols"):
        _print_line(console, t)
    console.print(Text("each protocol's own conventions (iqa protocols); MSE on each protocol's scale",
                       style="dim"))
