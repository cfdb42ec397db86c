"""``iqa check``'s work: config and gates, pairing, scoring into check rows,
--update, reports (imported when the command runs, so --help stays fast)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import IqaError, UsageError
from ..gate.config import Config, find_config
from ..gate.gates import Gate, parse_gates
from ..gate.profile import CHECK
from ..gate.rows import ERROR_S, CheckRow, Override, Rules, in_ci, verdict_line
from ..gate.update import UpdateFailed, apply_plan, plan_update
from ..pairing import Pair, compile_patterns, pair_folders
from ..results import PairResult, Settings, summarize
from ..status import ExitCode
from .guard import err, nothing_found, print_warnings
from .options import explicit, prepare_device
from .progress import score


class NothingToCompare(IqaError):
    """No pair was found: exit 3."""

    exit_code = int(ExitCode.NOTHING)


@dataclass
class Gating:
    """What makes a pair's verdict, and how pairs are scored: the gates, the
    per-glob overrides, every setting's value by name (the metrics included),
    the names the user chose, CI and the NEW policy, and the config file read."""

    gates: list[Gate]
    overrides: list[Override]
    values: dict[str, Any]
    given: set[str]
    ci: bool
    allow_new: bool
    config: str | None = None

    @property
    def gate_metrics(self) -> list[str]:
        return [g.metric for g in self.gates] + [g.metric for o in self.overrides for g in (o.gates or ())]


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


def layered(ctx: click.Context, kw: dict[str, Any]) -> tuple[dict[str, Any], set[str], Config]:
    """Every option's value after the config (the command line wins), the
    names the user chose, and the config read."""
    cfg = _config(kw)
    values, given = _layered(ctx, kw, cfg)
    return values, given, cfg


def gating_from_config(ctx: click.Context, kw: dict[str, Any]) -> Gating:
    """The gating of a check run here: the command line, then the config, then the check profile."""
    values, given, cfg = layered(ctx, kw)
    source = "command line" if "fail_if" in explicit(ctx) else (cfg.path or "config")
    gates = parse_gates(values["fail_if"], source) if values["fail_if"] else parse_gates(CHECK.gates, "default")
    overrides = []
    if cfg.values.get("overrides"):
        for i, o in enumerate(cfg.values["overrides"]):
            src = f"{cfg.path}: overrides[{i}]"
            overrides.append(Override(compile_patterns(o["glob"], f"{src}.glob"),
                                      parse_gates(o["fail_if"], src) if "fail_if" in o else None,
                                      o.get("ignore", ()), o.get("mask")))
    gating = Gating(gates, overrides, values, given, in_ci(), bool(values["allow_new"]), cfg.path)
    values["metrics"] = CHECK.metrics(values["metrics"] if "metrics" in given else None, gating.gate_metrics)
    return gating


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
    into rows and draws the failing ones from the arrays the runner kept;
    ``keep`` sees each row with its result before the arrays are let go."""

    def __init__(self, pairs: list, rules: Rules, pictures: Any, keep: Keep | None = None):
        self.pairs, self.rules, self.pictures, self.keep = pairs, rules, pictures, keep
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
        if self.keep is not None:
            self.keep(row, r)
        self.results.append(r)
        self.rows.append(row)
        r.maps = r.display = None  # free the maps and images as we go


#: sees each check row with its result (maps and decoded images still attached)
Keep = Callable[[CheckRow, PairResult], None]


@dataclass
class CheckWork:
    """One check: its gating, its pairs, and once scored its settings, rules,
    rows and results (the rows in pair order)."""

    gating: Gating
    baseline: str
    output: str
    pairs: list[Pair]
    notes: list[str]
    ref_root: str | None
    dist_root: str | None
    settings: Settings | None = None
    rules: Rules | None = None
    rows: list[CheckRow] = field(default_factory=list)
    results: list[PairResult] = field(default_factory=list)

    @property
    def unread(self) -> list[str]:
        """The folders the pairing could not read (an update must not act on them)."""
        return [os.path.join(root, rel) if rel else root for root, rel in getattr(self.notes, "unread", [])]


def check_work(ctx: click.Context, kw: dict[str, Any], *, gating: Gating | None = None, update: bool = False,
               before_scoring: Callable[[CheckWork], None] | None = None, pictures: Any = None,
               keep: Keep | None = None, pending: list[str] | None = None) -> CheckWork:
    """The work of a check, shared by ``iqa check`` and ``iqa review``: the
    gating (``gating``, else the command line and config), pairing (folder
    notes printed unless ``quiet``), the settings, and scoring every pair into
    a check row. ``update``: a missing BASELINE folder is created.
    ``before_scoring``: runs once the pairs are known (check locks its report
    files there). ``pictures``: draws the rows a report shows; ``keep``: sees
    each row with the arrays the runner kept. ``pending``: report files to
    name when Ctrl-C stops the scoring. Raises :class:`NothingToCompare`."""
    from ..report.diffs import RowPictures

    gating = gating or gating_from_config(ctx, kw)
    values = gating.values
    quiet = kw["quiet"]
    pairs, notes, ref_root, dist_root = _pairs_for(kw["baseline"], kw["output"], values["match"],
                                                   values["include"], values["exclude"], update=update)
    if not quiet:
        print_warnings(notes)
    if not pairs:
        raise NothingToCompare(f"nothing to compare: {nothing_found(kw['baseline'], kw['output'], values['include'])}")
    work = CheckWork(gating, kw["baseline"], kw["output"], pairs, notes, ref_root, dist_root)
    if before_scoring is not None:
        before_scoring(work)
    settings = prepare_device(values["device"], values, gating.given)
    rules = Rules(gating.gates, gating.overrides, gating.ci, gating.allow_new, settings.block, ref_root, dist_root)
    sink = _Sink(pairs, rules, pictures or RowPictures(thumbnails=False, diffs_dir=None), keep)
    sink.pending = list(pending or [])
    sink.update = update
    overrides = gating.overrides
    masks = (lambda pair: rules.mask_for(pair, settings.ignore, settings.mask)) if overrides else None
    score(pairs, settings, sink, workers=kw["workers"], progress=not (quiet or kw["no_progress"]),
          keep_maps=True, required=tuple(dict.fromkeys(gating.gate_metrics)), masks=masks)
    work.settings, work.rules, work.rows, work.results = settings, rules, sink.rows, sink.results
    return work


def check_exit(rows: list[CheckRow], refused: bool = False) -> ExitCode:
    """The check's status: 2 when a pair could not be checked (or an update
    was refused), else 1 when a regression is left (not updated), else 0."""
    if refused or any(r.status == ERROR_S for r in rows):
        return ExitCode.ERROR
    if any(r.regression and not r.action for r in rows):
        return ExitCode.REGRESSION
    return ExitCode.OK


def run_check(ctx: click.Context, kw: dict[str, Any]) -> int:
    from ..report.diffs import RowPictures
    from ..report.lock import HeldFiles

    json_file = kw["json_path"] if kw["json_path"] != "-" else None

    def hold_reports(work: CheckWork) -> None:
        held = ctx.with_resource(HeldFiles())
        for path in (kw["junit_path"], json_file):
            if path:  # CI report paths often point into a reports/ folder that does not exist yet
                d = os.path.dirname(os.path.abspath(path))
                try:
                    os.makedirs(d, exist_ok=True)
                except OSError as e:
                    raise IqaError(f"cannot write: cannot create {d} ({e.strerror or e})", path) from None
                if not os.access(d, os.W_OK):
                    raise IqaError("cannot write: directory is not writable", path)
                held.hold(path)  # one writer per report: locked before any work, released when the command ends

    pending = [p for p in (kw["junit_path"], json_file,
                           os.path.join(kw["html_dir"], "index.html") if kw["html_dir"] else None) if p]
    try:
        work = check_work(ctx, kw, update=bool(kw["update"]), before_scoring=hold_reports, pending=pending,
                          pictures=RowPictures(thumbnails=bool(kw["html_dir"]), diffs_dir=kw["diffs_dir"]))
    except NothingToCompare as e:
        err(str(e))
        return ExitCode.NOTHING
    rows, settings, rules, gates = work.rows, work.settings, work.rules, work.gating.gates
    overrides, ref_root, dist_root = work.gating.overrides, work.ref_root, work.dist_root
    quiet = kw["quiet"]
    assert settings is not None and rules is not None

    # --- update -------------------------------------------------------------
    changes: list[str] = []
    refused: IqaError | None = None
    planned: list[str] = []
    if kw["update"]:
        try:
            plan = plan_update(rows, kw["baseline"], ref_root, dist_root, prune=kw["prune"], unread=work.unread)
            planned = plan.describe()
            changes = apply_plan(plan)
        except (UsageError, UpdateFailed) as e:  # the reports still show what the check found; nothing was changed
            refused = e

    errors = [r for r in rows if r.status == ERROR_S]
    code = check_exit(rows, refused is not None)
    verdict = verdict_line(rows, changes, updated=bool(kw["update"]) and refused is None)
    if isinstance(refused, UpdateFailed):
        verdict = f"UPDATE FAILED (nothing changed); {verdict}"
    elif refused is not None:
        verdict = f"UPDATE REFUSED (nothing changed); {verdict}"

    # --- reports ----------------------------------------------------------
    summary = summarize(work.results, settings.columns)
    check_doc = {"verdict": verdict, "exit_code": int(code), "ci": rules.ci, "allow_new": rules.allow_new,
                 "config": work.gating.config, "gates": [g.canonical() for g in gates],
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

        doc = document(settings, work.results, summary)
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
