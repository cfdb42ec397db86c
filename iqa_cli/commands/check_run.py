"""``iqa check``'s work: config and gates, pairing, scoring into check rows,
--update, reports (imported when the command runs, so --help stays fast)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import IqaError, UsageError
from ..gate.config import Config, find_config
from ..gate.gates import parse_gates
from ..gate.profile import CHECK
from ..gate.rows import ERROR_S, CheckRow, Override, Rules, in_ci, verdict_line
from ..gate.update import UpdateFailed, apply_plan, plan_update
from ..pairing import Pair, compile_patterns, pair_folders
from ..results import PairResult, summarize
from ..status import ExitCode
from .guard import nothing_found, print_warnings
from .options import explicit, prepare_device
from .progress import score


def _config(kw: dict[str, Any]) -> Config:
    """``--config FILE``, else ./iqa.toml or ./pyproject.toml unless ``--no-config``."""
    if kw["no_config"] and not kw["config_path"]:
        return Config()
    return find_config(kw["config_path"])


def _layered(ctx: click.Context, kw: dict[str, Any], cfg: Config) -> tuple[dict[str, Any], set[str]]:
    """Every declared setting's value: the command line beats the config, which
    beats the profile's default; and the names the user chose (either way)."""
    from ..gate.config import CONFIG_SETTINGS

    given = explicit(ctx)
    values = dict(kw)
    for key, decl in CONFIG_SETTINGS.items():
        if decl.name not in given and key in cfg.values:
            values[decl.name] = cfg.values[key]
            given.add(decl.name)
    return values, given


def _pairs_for(baseline: str, output: str, match, include, exclude, *, update: bool = False):
    bdir, odir = os.path.isdir(baseline), os.path.isdir(output)
    if odir and not os.path.exists(baseline) and update:  # the first run of a new suite: --update creates it
        try:
            os.makedirs(baseline)
        except OSError as e:
            raise IqaError(f"cannot create the baseline folder: {e.strerror or e}", baseline) from None
        bdir = True
    if bdir or odir:
        if not (bdir and odir):
            if not os.path.exists(baseline if odir else output):
                if odir and not os.path.exists(baseline):
                    raise UsageError("baseline folder does not exist (create it with --update, or mkdir it)", baseline)
                raise UsageError("output folder does not exist", output)
            raise UsageError(f"{baseline} and {output}: give two files or two folders")
        pairs, notes = pair_folders(baseline, output, match=match, include=include, exclude=exclude)
        return pairs, notes, baseline, output
    # an entry that is there but cannot be read (a broken link) is an error row, never a missing file
    b_ok, o_ok = os.path.lexists(baseline), os.path.lexists(output)
    if not b_ok and not o_ok:
        raise UsageError("no such file (neither the baseline nor the output exists)", output)
    key = Path(output).as_posix()
    return [Pair(key, Path(baseline) if b_ok else None, Path(output) if o_ok else None)], [], None, None



class _Sink:
    """Receives results from :func:`.progress.score` in pair order, turns them
    into rows and draws the failing ones from the arrays the runner kept."""

    def __init__(self, pairs: list, rules: Rules, pictures: Any):
        self.pairs, self.rules, self.pictures = pairs, rules, pictures
        self.results: list[PairResult] = []
        self.rows: list[CheckRow] = []
        self.pending: list[str] = []  # report files written after the run
        self.update = False

    def interrupt_notes(self) -> list[str]:
        """After Ctrl-C: the reports that were not written, and the baseline left as it was."""
        from ..report.outputs import not_written

        notes = [not_written(self.pending)] if self.pending else []
        return notes + (["the baseline was not updated"] if self.update else [])

    def pair(self, r: PairResult) -> None:
        row = self.rules.row(self.pairs[len(self.results)], r)
        if Rules.drawn(row):
            self.pictures.draw(row, r.maps, r.display)
        self.results.append(r)
        self.rows.append(row)
        r.maps = r.display = None  # free the maps and images as we go


def run_check(ctx: click.Context, kw: dict[str, Any]) -> int:
    # --- config and gates ---------------------------------------------------
    cfg = _config(kw)
    kw, given = _layered(ctx, kw, cfg)
    source = "command line" if "fail_if" in explicit(ctx) else (cfg.path or "config")
    gates = parse_gates(kw["fail_if"], source) if kw["fail_if"] else parse_gates(CHECK.gates, "default")
    overrides = []
    if cfg.values.get("overrides"):
        for i, o in enumerate(cfg.values["overrides"]):
            src = f"{cfg.path}: overrides[{i}]"
            overrides.append(Override(compile_patterns(o["glob"], f"{src}.glob"),
                                      parse_gates(o["fail_if"], src) if "fail_if" in o else None,
                                      o.get("ignore", ()), o.get("mask")))
    gate_metrics = [g.metric for g in gates] + [g.metric for o in overrides for g in (o.gates or ())]
    metrics = CHECK.metrics(kw["metrics"] if "metrics" in given else None, gate_metrics)

    # --- pairing ----------------------------------------------------------
    quiet = kw["quiet"]
    pairs, notes, ref_root, dist_root = _pairs_for(kw["baseline"], kw["output"], kw["match"], kw["include"],
                                                   kw["exclude"], update=kw["update"])
    if not quiet:
        print_warnings(notes)
    if not pairs:
        click.echo(f"iqa: error: nothing to compare: {nothing_found(kw['baseline'], kw['output'], kw['include'])}",
                   err=True)
        return ExitCode.NOTHING
    from ..report.lock import HeldFiles

    held = ctx.with_resource(HeldFiles())
    for path in (kw["junit_path"], kw["json_path"] if kw["json_path"] != "-" else None):
        if path:  # CI report paths often point into a reports/ folder that does not exist yet
            d = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(d, exist_ok=True)
            except OSError as e:
                raise IqaError(f"cannot write: cannot create {d} ({e.strerror or e})", path) from None
            if not os.access(d, os.W_OK):
                raise IqaError("cannot write: directory is not writable", path)
            held.hold(path)  # one writer per report: locked before any work, released when the command ends

    settings = prepare_device(kw["device"], {**kw, "metrics": metrics}, given)
    from ..report.diffs import RowPictures

    rules = Rules(gates, overrides, in_ci(), bool(kw["allow_new"]), settings.block, ref_root, dist_root)
    sink = _Sink(pairs, rules, RowPictures(thumbnails=bool(kw["html_dir"]), diffs_dir=kw["diffs_dir"]))
    sink.pending = [p for p in (kw["junit_path"], kw["json_path"] if kw["json_path"] != "-" else None,
                                os.path.join(kw["html_dir"], "index.html") if kw["html_dir"] else None) if p]
    sink.update = bool(kw["update"])
    masks = (lambda pair: rules.mask_for(pair, settings.ignore, settings.mask)) if overrides else None
    score(pairs, settings, sink, workers=kw["workers"], progress=not (quiet or kw["no_progress"]),
          keep_maps=True, required=tuple(dict.fromkeys(gate_metrics)), masks=masks)
    rows = sink.rows

    # --- update -------------------------------------------------------------
    changes: list[str] = []
    refused: IqaError | None = None
    planned: list[str] = []
    if kw["update"]:
        unread = [os.path.join(root, rel) if rel else root for root, rel in getattr(notes, "unread", [])]
        try:
            plan = plan_update(rows, kw["baseline"], ref_root, dist_root, prune=kw["prune"], unread=unread)
            planned = plan.describe()
            changes = apply_plan(plan)
        except (UsageError, UpdateFailed) as e:  # the reports still show what the check found; nothing was changed
            refused = e

    regressions = [r for r in rows if r.regression and not r.action]
    errors = [r for r in rows if r.status == ERROR_S]
    code = ExitCode.ERROR if errors or refused else ExitCode.REGRESSION if regressions else ExitCode.OK
    verdict = verdict_line(rows, changes, updated=bool(kw["update"]) and refused is None)
    if isinstance(refused, UpdateFailed):
        verdict = f"UPDATE FAILED (nothing changed); {verdict}"
    elif refused is not None:
        verdict = f"UPDATE REFUSED (nothing changed); {verdict}"

    # --- reports ----------------------------------------------------------
    summary = summarize(sink.results, settings.columns)
    check_doc = {"verdict": verdict, "exit_code": int(code), "ci": rules.ci, "allow_new": rules.allow_new,
                 "config": cfg.path, "gates": [g.canonical() for g in gates],
                 "overrides": [{"glob": [p.text for p in o.patterns],
                                "fail_if": [g.canonical() for g in o.gates] if o.gates is not None else None,
                                **({"ignore": [list(r) for r in o.ignore]} if o.ignore else {}),
                                **({"mask": o.mask} if o.mask else {})} for o in overrides],
                 "pairs": [r.to_json() for r in rows], "changes": changes,
                 **({"not_applied": planned} if refused is not None and planned else {})}
    if kw["json_path"]:
        from ..atomic import atomic_write
        from ..report.json import to_json_text
        from ..results import document

        doc = document(settings, sink.results, summary)
        doc["check"] = check_doc
        text = to_json_text(doc)
        if kw["json_path"] == "-":
            click.echo(text)
        else:
            with atomic_write(kw["json_path"]) as fh:
                fh.write(text + "\n")
    if kw["junit_path"]:
        from ..report.junit import write_junit

        write_junit(kw["junit_path"], rows, verdict=verdict, settings=settings)
    if kw["html_dir"]:
        from ..report.html import write_html

        write_html(kw["html_dir"], rows, verdict=verdict, settings=settings, gates=gates, changes=changes)
    if not quiet and kw["json_path"] != "-":
        from ..report.check_table import render_table
        from ..report.table import make_console

        render_table(make_console(), rows, settings)
        for c in changes:
            click.echo(c)
        if isinstance(refused, UpdateFailed) and planned:
            click.echo("the update would have made these changes (none was made):")
            for c in planned:
                click.echo(f"  {c}")
    if kw["github"]:
        from ..report.github import write_github

        write_github(rows, verdict=verdict, stream=sys.stdout)
    click.echo(verdict, err=kw["json_path"] == "-")
    for r in errors:
        click.echo(f"iqa: error: {r.reason}", err=True)
    if refused is not None:
        click.echo(f"iqa: error: {refused}", err=True)
    return code
