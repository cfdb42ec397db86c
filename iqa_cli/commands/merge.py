"""``iqa merge``: join the reports of shards (or of resumed runs) into one."""

from __future__ import annotations

import os

import click

from ..status import ExitCode, PairStatus, exit_code
from .guard import err, guarded, report_row_errors, warn
from .options import CONTEXT, report_path_cb


def _sort_key(row, roots: tuple[str | None, str | None]) -> tuple[str, str]:
    """The pair's relative path (iqa batch sorts pairs by it), then its paths."""
    for path, root in ((row.distorted, roots[1]), (row.reference, roots[0])):
        if path is not None and root is not None:
            return (os.path.relpath(path, root).replace(os.sep, "/"), path)
    return ("", row.name)


def _root(paths: list[str]) -> str | None:
    dirs = [os.path.dirname(p) for p in paths]
    if not dirs:
        return None
    try:
        return os.path.commonpath(dirs)
    except ValueError:  # absolute and relative paths mixed
        return None


@click.command("merge", context_settings=CONTEXT)
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=str, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]), default=None,
              help="Output format on stdout (or into -o FILE). Default: table, or from -o's extension.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, callback=report_path_cb,
              help="Write the merged report to FILE (.csv, .json or .jsonl; atomically, JSONL line by line).")
@click.option("--csv", "csv_path", is_flag=False, flag_value="-", default=None, callback=report_path_cb,
              metavar="[FILE]", help="Also write CSV to FILE (bare flag: stdout).")
@click.option("--json", "json_path", is_flag=False, flag_value="-", default=None, callback=report_path_cb,
              metavar="[FILE]", help="Also write JSON to FILE (bare flag: stdout).")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True,
              help="Show the K worst pairs after the table.")
@click.option("-q", "--quiet", is_flag=True, help="No table.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@guarded
def merge(parts, fmt, output, csv_path, json_path, worst, quiet, debug) -> int:
    """Join the JSONL (or JSON) reports PARTS of `iqa batch --shard K/N` runs.

    \b
    The settings of all parts must agree (but for shard and engine); a pair
    found twice is kept once when its rows are equal and refused when they
    differ. The summary and the worst pairs are computed again from the rows.
    Exit code as batch: 2 for error or missing rows, 1 for a size mismatch.
    """
    from ..engines.settings import describe_value, differing_key, settings_from_json
    from ..engines.shards import pair_id
    from ..errors import IqaError
    from ..report.jsonl_read import read_report
    from ..report.outputs import Outputs
    from ..results import summarize

    reports = [read_report(p) for p in parts]
    first = None
    for rep in reports:
        if rep.torn and not quiet:
            warn(f"{rep.path}: the last line was cut short (an interrupted run): dropped; "
                 "finish that run with `iqa batch ... --resume`")
        if rep.settings is None:
            raise IqaError("records no settings (no settings or summary line): cannot check it "
                           "against the other parts", rep.path)
        if rep.summary is None and not rep.torn and not quiet and rep.path.lower().endswith((".jsonl", ".ndjson")):
            warn(f"{rep.path}: no summary line: that run did not finish (resume it with `iqa batch ... --resume`)")
        if first is None:
            first = rep
            continue
        key = differing_key(first.settings, rep.settings)
        if key is not None:
            raise IqaError(f"settings differ from {first.path}'s: {key} is {describe_value(rep.settings, key)} "
                           f"here, {describe_value(first.settings, key)} there", rep.path)
    assert first is not None and first.settings is not None
    shards = {rep.settings.get("shard") for rep in reports}
    counts = {s.split("/")[1] for s in shards if isinstance(s, str) and "/" in s}
    if len(counts) == 1 and None not in shards and not quiet:
        n = int(counts.pop())
        absent = [f"{k}/{n}" for k in range(n) if f"{k}/{n}" not in shards]
        if absent:
            warn(f"shard{'s' if len(absent) > 1 else ''} {', '.join(absent)} not among the parts")

    rows: dict = {}
    where: dict = {}
    for rep in reports:
        for r in rep.rows:
            pid = pair_id(r)
            if pid not in rows:
                rows[pid], where[pid] = r, rep.path
            elif rows[pid].to_json() == r.to_json():
                if not quiet:
                    warn(f"{r.name}: in {where[pid]} and {rep.path} with equal values: kept once")
            else:
                raise IqaError(f"scored twice with different values (in {where[pid]} and {rep.path})", r.name)
    results = list(rows.values())
    roots = (_root([r.reference for r in results if r.reference]), _root([r.distorted for r in results if r.distorted]))
    results.sort(key=lambda r: _sort_key(r, roots))

    engines = {rep.settings.get("engine") for rep in reports}
    settings = settings_from_json(first.settings, first.path).with_extra(
        shard=None, engine=engines.pop() if len(engines) == 1 else None)
    if not results:
        err("nothing to merge: the parts hold no pairs")
        return ExitCode.NOTHING
    summary = summarize(results, settings.columns)
    with Outputs(settings, fmt=fmt, output=output, csv_path=csv_path, json_path=json_path, quiet=quiet,
                 video=any(r.video is not None for r in results)) as out:
        for r in results:
            out.pair(r)
        out.finish(results, summary, worst=worst, title=None)
    report_row_errors(results, statuses=(PairStatus.ERROR,))
    n_bad = sum(1 for r in results if r.status != PairStatus.OK)
    if n_bad:
        click.echo(f"iqa: {n_bad} of {len(results)} pairs not scored (see the error/missing rows)", err=True)
    return exit_code(r.status for r in results)
