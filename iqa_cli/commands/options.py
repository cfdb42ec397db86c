"""Option groups shared by compare, batch and check, and the Settings they build."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

import click

from ..errors import UsageError
from .startup import resume_gc

if TYPE_CHECKING:  # at run time imported where used: `iqa --help` stays fast
    from ..results import Settings

CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


def report_path_cb(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a report path that is an image or video file: a bare ``--json``/``--csv``
    placed before the arguments would otherwise take REFERENCE as its FILE
    and overwrite it."""
    from ..pairing import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    ext = os.path.splitext(value)[1].lower() if value and value != "-" else ""
    if ext in IMAGE_EXTENSIONS or ext in VIDEO_EXTENSIONS:
        raise click.BadParameter(
            f"{value!r} looks like {'an image' if ext in IMAGE_EXTENSIONS else 'a video'}, not a report file "
            f"(a bare flag writes to stdout: put it after the image arguments or write `{param.opts[-1]} -`)"
        )
    return value


def apply_options(fn: Callable, options: list[Callable]) -> Callable:
    """Apply click option decorators so that they appear in the given order in --help."""
    for opt in reversed(options):
        fn = opt(fn)
    return fn


_UNSET = object()
_METAVAR = {"float": "FLOAT", "int": "INTEGER", "path": "PATH", "strings": "TEXT"}


def _declared() -> dict[str, Any]:
    from ..gate.profile import GATE
    from ..settings import DECLARED, PAIRING

    return {**DECLARED, **PAIRING, **GATE}


def cli_spelling(name: str) -> str:
    """How the command line writes a setting or an action: its flag."""
    decl = _declared().get(name)
    return decl.flag if decl is not None else "--" + name.replace("_", "-")


def setting_option(decl: Any, *, default: Any = _UNSET, help: str | None = None,
                   extra: tuple[str, ...] = ()) -> Callable:
    """The click option of a declared setting: its flag, help and metavar, a
    callback that checks the value by the declaration (so every front end
    refuses the same values with the same words), and ``default`` (a
    profile's) instead of the table's. ``extra``: values this command accepts
    beyond the declaration (compare's ``--protocol all``)."""
    default = decl.default if default is _UNSET else default
    decls = [decl.short, decl.flag] if decl.short else [decl.flag]
    text = help or decl.help
    if decl.kind == "bool":
        return click.option(*decls, decl.name, is_flag=True, default=bool(default), help=text)

    repeated = decl.multiple or decl.kind == "metrics"  # `-m ssim -m psnr` means both, as `-m ssim,psnr`

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if decl.kind == "metrics" and value:
            value = ",".join(value)
        if value in extra:
            return value
        if value is None or (repeated and value == ()):
            return default
        ctx.meta[f"iqa.raw.{decl.name}"] = value  # as typed: `-m all` asks for less than `-m ssim,mix`
        try:
            return decl.parse_input(list(value) if decl.multiple else value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None

    metavar = decl.metavar or ("[" + "|".join((*decl.choices, *extra)) + "]" if decl.choices
                               else _METAVAR.get(decl.kind))
    shown = default not in (None, ()) and decl.kind not in ("metrics",)
    bare = {} if decl.flag_value is None else {"is_flag": False, "flag_value": str(decl.flag_value)}
    if bare:
        metavar = f"[{metavar}]"
    return click.option(*decls, decl.name, default=None if decl.kind == "metrics" else default,
                        callback=callback, metavar=metavar, help=text, multiple=repeated,
                        show_default=shown, **bare)


def metric_options(fn: Callable | None = None, *, profile: Any = None, protocol_all: bool = False) -> Callable:
    """The options of every setting in the settings table (shared by compare,
    batch and check), in table order; ``profile``: a profile whose defaults
    beat the table's (check's tolerance 2); ``protocol_all``: ``--protocol
    all`` (compare)."""
    if fn is None:
        return lambda f: metric_options(f, profile=profile, protocol_all=protocol_all)
    from ..settings import DECLARED

    opts = []
    for decl in DECLARED.values():
        default = profile.default(decl) if profile is not None else decl.default
        if decl.name == "protocol" and protocol_all:
            opts.append(setting_option(decl, default=default, extra=("all",),
                                       help=decl.help + " `all`: one row per protocol."))
        else:
            opts.append(setting_option(decl, default=default))
    return apply_options(fn, opts)


def pairing_options(fn: Callable) -> Callable:
    """--match, --include, --exclude (batch and check)."""
    from ..settings import PAIRING

    return apply_options(fn, [setting_option(d) for d in PAIRING.values()])


def output_options(fn: Callable) -> Callable:
    opts = [
        click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]), default=None,
                     help="Output format on stdout (or into -o FILE). Default: table, or from -o's extension."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, writable=False), default=None, callback=report_path_cb,
                     help="Write the --format output to FILE (JSON and table atomically; JSONL and CSV stream "
                     "line by line)."),
        click.option("--csv", "csv_path", is_flag=False, flag_value="-", default=None, callback=report_path_cb, metavar="[FILE]",
                     help="Also write CSV to FILE (bare flag: stdout)."),
        click.option("--json", "json_path", is_flag=False, flag_value="-", default=None, callback=report_path_cb, metavar="[FILE]",
                     help="Also write JSON to FILE (bare flag: stdout)."),
        click.option("--per-frame", is_flag=True,
                     help="Videos and other frame sequences: also one row per frame (JSONL lines, CSV rows, a "
                     "`frames` array in JSON, a table per video). Changes no number."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Decoding threads (default: number of cores, at most 8)."),
        click.option("-q", "--quiet", is_flag=True, help="No table and no progress bar."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    return apply_options(fn, opts)


def holds_sequences(paths) -> bool:
    """Whether any of ``paths`` is a frame sequence (a video or a folder by name, a
    GIF/PNG/WebP by its header): the CSV header must know before the run."""
    from ..io.frames import is_sequence

    return any(p is not None and is_sequence(p) for p in paths)


def metrics_named(ctx: click.Context) -> bool:
    """The user named the metrics (``-m`` or the config) rather than taking the default set."""
    from click.core import ParameterSource

    return ctx.get_parameter_source("metrics") not in (ParameterSource.DEFAULT, None)


def asked_metrics(ctx: click.Context, settings: Settings) -> tuple[str, ...]:
    """The metrics the user named one by one: each must be computed, or its
    pair is an error; the default set and ``all`` only warn when one cannot be."""
    from ..metrics.registry import named_individually

    raw = ctx.meta.get("iqa.raw.metrics")
    return named_individually(raw) if raw is not None and metrics_named(ctx) else ()


def explicit(ctx: click.Context) -> set[str]:
    """The settings the user gave on the command line (not defaults)."""
    from click.core import ParameterSource

    return {name for name in ctx.params
            if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}


def prepare_device(device: str, settings_kw: dict, given: set[str] | frozenset[str] = frozenset()) -> Settings:
    """Resolve the device (this imports torch) and build the Settings from the
    parsed values (``given``: those the user chose, checked against what their
    protocol implies)."""
    from ..runner import resolve_device
    from ..settings import settings_from

    resume_gc()
    dev = resolve_device(device)
    try:
        return settings_from({**settings_kw, "device": str(dev)}, given)
    except ValueError as e:
        raise UsageError(str(e)) from None
