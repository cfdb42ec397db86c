"""``iqa review``: run the check, then decide pair by pair in a local web
page (or accept by pattern, ``--accept``), each accept written to the
baseline at once with an undo log.

The check is :func:`.check_run.check_work`, the one ``iqa check`` runs,
with the same options (less ``--update``/``--prune`` and the reports);
the page, its server and the file changes are in :mod:`iqa_cli.review`.
"""

from __future__ import annotations

import os
from typing import Any

import click

from ..gate.profile import CHECK
from .check import check_options
from .guard import guarded
from .options import CONTEXT, apply_options, metric_options, pairing_options


def _help() -> str:
    return f"""Run `iqa check` on BASELINE and OUTPUT, then look at every pair that needs a
decision in a local web page and accept or reject it, one at a time.

It takes the check's options (settings, gates, config, pairing), so it finds
what `iqa check` finds (default gates: {", ".join(CHECK.gates)}, after a
tolerance of {CHECK.defaults["tolerance"]:g} levels). The page (served on 127.0.0.1, a free port unless
--port) shows each FAIL, NEW, MISSING and ERROR pair: side by side, slider,
onion skin, difference, SSIM heatmap, difference mask, with the gates and
where the image changed (a video: its worst frame and a chart over its
frames). Keys: a accept, r reject, s skip, u undo, j/k move. An accept
writes the output's bytes into BASELINE at once (a MISSING pair: its
baseline is removed), refused where `iqa check --update` would refuse;
the undo log (.iqa-review.jsonl beside BASELINE, or --log) keeps the bytes
it replaced. The page's Finish button or Ctrl-C ends it with a summary.

\b
  iqa review baseline/ output/
  iqa review baseline/ output/ --accept 'icons/**'      no page: accept, print, exit
  iqa review baseline/ output/ --from-report check.json review what CI saw

\b
Exit: the status `iqa check` gives on the folders after the decisions:
0 every pair left passes, 1 regressions are left (rejected, skipped or
undecided), 2 a pair could not be checked or an accept was refused,
3 nothing compared. See docs/review.md.
"""


def _review_options(fn):
    opts = [
        click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="a free port",
                     help="Port to serve the page on (0: a free one)."),
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to serve on; one that is not loopback needs --allow-remote."),
        click.option("--allow-remote", is_flag=True,
                     help="Serve on a --host that other machines can reach (anyone who reaches it can accept)."),
        click.option("--no-browser", is_flag=True, help="Print the address; do not open a browser."),
        click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="The undo log (default: .iqa-review.jsonl beside BASELINE); the bytes an accept "
                     "replaces are kept next to it."),
        click.option("--from-report", "report_path", type=click.Path(dir_okay=False), default=None,
                     metavar="check.json",
                     help="Score with the settings and gates of this `iqa check --json` report (a CI run; its "
                     "outputs downloaded into OUTPUT), and say where the verdicts here differ from it."),
        click.option("--accept", "accept_patterns", multiple=True, metavar="PATTERN",
                     help="No page: accept the pairs whose relative path matches PATTERN (a glob as for "
                     "--include; repeatable), print what changed and exit with the check's status after it."),
    ]
    return apply_options(fn, opts)


@click.command("review", context_settings=CONTEXT, help=_help())
@click.argument("baseline", type=click.Path(path_type=str))
@click.argument("output", type=click.Path(path_type=str))
@_review_options
@check_options(update=False, reports=False)
@pairing_options
@metric_options(profile=CHECK)
@guarded
def review(**kw: Any) -> int:
    return run_review(click.get_current_context(), kw)


# --------------------------------------------------------------------------- the work


def _from_report_gating(ctx: click.Context, kw: dict[str, Any], report: Any) -> Any:
    """The gating of the CI run the report records: its settings (the device
    this machine's), gates, overrides, CI and NEW policy. Options that would
    change them are refused: the point is to see what CI saw. The pairing
    keys, which a report does not record, come from the command line and the
    config as for a check."""
    from ..errors import UsageError
    from ..gate.profile import GATE
    from ..settings import DECLARED, PAIRING
    from ..spelling import spell
    from .check_run import Gating, layered
    from .options import explicit

    decided = (set(DECLARED) - {"device"}) | set(GATE)
    clash = [p for p in ctx.command.params if p.name in decided and p.name in explicit(ctx)]
    if clash:
        flag = max(clash[0].opts, key=len)
        raise UsageError(f"{spell('from_report')} scores with the report's settings and gates: drop {flag}")
    pairing, _, _ = layered(ctx, kw)
    values = {name: getattr(report.settings, name) for name in DECLARED}
    values.update({name: pairing[name] for name in PAIRING}, device=kw["device"])
    return Gating(report.gates, report.overrides, values, set(), report.ci, report.allow_new, None)


def _matches(patterns: list, rec: Any, roots: tuple[str | None, str | None]) -> bool:
    """A pair matches when its key or either file's path relative to its folder does."""
    from pathlib import Path

    from ..pairing import covered

    names = {rec.path}
    for p, root in ((rec.baseline, roots[0]), (rec.output, roots[1])):
        if p is not None:
            names.add(Path(os.path.relpath(p, root)).as_posix() if root else Path(p).name)
    return any(covered(patterns, n) for n in names)


def _changed_lines(changed: list[dict[str, Any]], root: str, records: dict[str, Any]) -> list[str]:
    out = []
    for c in changed:
        where = os.path.join(root, *c["file"].split("/"))
        src = records[c["path"]].output if c["action"] != "removed" else None
        out.append(f"{c['action']} {where}" + (f" (from {src})" if src else ""))
    return out


def review_spelling(name: str) -> str:
    """The review's words for what ``iqa check --update [--prune]`` does: accepting a
    NEW pair adds its baseline, accepting a MISSING one removes it."""
    from .options import cli_spelling

    return {"update": "accept", "prune": ""}.get(name) if name in ("update", "prune") else cli_spelling(name)


def run_review(ctx: click.Context, kw: dict[str, Any]) -> int:
    from ..errors import UsageError
    from ..gate.rows import verdict_line
    from ..gate.update import plan_update
    from ..pairing import compile_patterns
    from ..review.records import Recorder
    from ..review.session import FileSession
    from ..review.undo import default_log_path
    from ..spelling import spell, spelled_by
    from ..status import CheckStatus, ExitCode
    from .check_run import NothingToCompare, check_exit, check_work
    from .guard import err, warn

    interactive = not kw["accept_patterns"]
    if interactive:  # before the check: a missing extra or a refused host costs no scoring
        from ..review.server import check_bind, check_port

        check_bind(kw["host"], kw["allow_remote"])
        check_port(kw["host"], kw["port"])
    patterns = compile_patterns(kw["accept_patterns"], spell("accept")) if not interactive else []
    report = gating = None
    if kw["report_path"]:
        from ..review.ci_report import read_report

        report = read_report(kw["report_path"])
        gating = _from_report_gating(ctx, kw, report)

    recorder = Recorder()
    try:
        with spelled_by(review_spelling):  # the rows' reasons name the page's action, not --update
            work = check_work(ctx, kw, gating=gating, before_scoring=lambda w: recorder.stamp(w.pairs),
                              keep=recorder)
    except NothingToCompare as e:
        err(str(e))
        return ExitCode.NOTHING
    rows, quiet = work.rows, kw["quiet"]
    records = {r.path: r for r in recorder.records}
    if report is not None:
        from ..review.ci_report import differences

        per_pair, notes = differences(report, rows)
        for key, text in per_pair.items():
            records[key].warnings.append(text)
            warn(f"{key}: {text}")
        for text in notes:
            warn(text)

    read_only = None
    try:  # an update that cannot see the whole baseline is refused: so is every accept
        plan_update([], kw["baseline"], work.ref_root, work.dist_root, prune=True, unread=work.unread)
    except UsageError as e:
        read_only = str(e)
    single = work.ref_root is None  # two files: BASELINE is a file, its folder holds it
    root = (os.path.dirname(kw["baseline"]) or ".") if single else kw["baseline"]
    # in the order of check's table: failing first, the worst margin first
    ordered = sorted(recorder.records, key=lambda r: (r.row.status == CheckStatus.PASS, r.row.severity))
    session = FileSession(root, ordered, log_path=kw["log_path"] or default_log_path(kw["baseline"]),
                          read_only=read_only, output_root=work.dist_root,
                          baseline_file=kw["baseline"] if single else None)
    if not quiet:
        click.echo(f"check: {verdict_line(rows, [])}")

    refused = False
    if not interactive:
        chosen = [r for r in recorder.records if _matches(patterns, r, (work.ref_root, work.dist_root))]
        for p in patterns:
            if not any(_matches([p], r, (work.ref_root, work.dist_root)) for r in chosen):
                warn(f"{spell('accept')} {p.text!r} matches no pair")
        for r in chosen:
            if r.status == CheckStatus.ERROR:
                warn(f"{r.path}: not accepted: it could not be checked ({r.reason})")
        paths = [r.path for r in chosen if r.status in (CheckStatus.FAIL, CheckStatus.NEW, CheckStatus.MISSING)]
        if paths:
            res = session.accept(paths)
            if not res["ok"]:
                refused = True
                for item in res["refused"]:
                    err(f"{item['path']}: {item['reason']}" if item.get("path") else item["reason"])
                if res.get("error"):
                    err(res["error"])
                err("nothing was accepted")
            else:
                for line in _changed_lines(res["changed"], root, records):
                    click.echo(line)
        summary = session.summary()
    elif not any(r.status != CheckStatus.PASS for r in recorder.records):
        summary = session.summary()
        if not quiet:
            click.echo("nothing to review: every pair passes")
    else:
        from ..review.server import serve

        summary = serve(session, host=kw["host"], port=kw["port"], allow_remote=kw["allow_remote"],
                        open_browser=not kw["no_browser"], echo=click.echo,
                        warn=lambda m: click.echo(f"iqa: {m}", err=True))
    # the rows as `iqa check` will now see them: what was accepted is no longer a regression
    action = {}
    for c in summary["changes"]:
        action.setdefault(c["path"], c["action"])
    for row in rows:
        if row.key in action:
            row.action = action[row.key]
    if not quiet and interactive:
        _print_summary(summary)
    if not quiet and summary["changes"]:
        click.echo(f"undo log: {summary['log']}")
    changes = [c["path"] for c in summary["changes"]]
    click.echo(verdict_line(rows, changes))
    for r in rows:
        if r.status == CheckStatus.ERROR:
            err(r.reason or r.key)
    return check_exit(rows, refused)


def _print_summary(summary: dict[str, Any]) -> None:
    def line(title: str, items: list[str]) -> None:
        click.echo(f"{title} ({len(items)})" + (": " + ", ".join(items) if items else ""))

    what = {}
    for c in summary["changes"]:
        what.setdefault(c["path"], c["action"])
    line("accepted", [f"{p} ({what[p]})" if p in what else p for p in summary["accepted"]])
    line("rejected", summary["rejected"])
    line("left", summary["left"] + [f"{p} (skipped)" for p in summary["skipped"]])
