"""``iqa check``: the CI regression gate: its options and help; the work is in :mod:`.check_run`.

The gate's rules live in :mod:`iqa_cli.gate`; the reports in
:mod:`iqa_cli.report`; this module ties them to the command line.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from ..gate.profile import CHECK, GATE
from .guard import guarded
from .options import CONTEXT, apply_options, metric_options, pairing_options, report_path_cb, setting_option


def _help() -> str:
    from ..gate.config import CONFIG_KEYS

    keys = ", ".join(k for k in CONFIG_KEYS if k != "overrides")
    return f"""Compare OUTPUT against BASELINE (two files or two folders) and fail on regressions.

\b
Folders are paired by relative path as in `iqa batch`. A pair FAILS when any
gate fails; a size mismatch fails; a baseline without an output is MISSING (a
regression); an output without a baseline is NEW: a regression when CI=true
unless --allow-new, otherwise a passing note (add it with --update).
Byte-identical files always pass.

\b
Gates: --fail-if "METRIC OP VALUE" says when a pair FAILS, e.g.
  --fail-if "ssim<0.99"  --fail-if "psnr<40dB"  --fail-if "diff_ratio>0.1%"
The operator must point the way the metric gets worse (ssim<..., mse>...).
Defaults: {", ".join(CHECK.gates)}, after a noise tolerance of
{CHECK.defaults["tolerance"]:g} levels (--tolerance): dither, anti-aliasing and GPU noise pass,
a 16x16 change, a 2 px move, a blur or a +8 colour shift fail. Pixel-exact:
--tolerance 0 --fail-if "diff_pixels>0". A gate whose metric cannot be
computed for a pair (too small) makes the pair an ERROR. Every gate prints
value, threshold and margin (headroom in the metric's good direction).

Config: ./iqa.toml ([check] or [tool.iqa.check]) or ./pyproject.toml
([tool.iqa.check]), or --config FILE. Keys: {keys}, and
[[...overrides]] tables {{glob, fail_if, ignore, mask}} for matching files.
Unknown keys are errors. The command line beats the config.

\b
Exit: 0 pass, 1 regression, 2 error, 3 nothing compared. --update rewrites
the baseline (failed and new outputs copied) and exits 0 unless a pair could
not be checked; it is refused, changing nothing, when a folder could not be
read or a baseline has no output (unless --prune removes those).
"""


def _gate_options() -> list:
    """The options that decide the verdicts (with the settings table and the pairing options)."""
    return [
        setting_option(GATE["fail_if"]),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="Read [tool.iqa.check] / [check] from FILE instead of ./iqa.toml or ./pyproject.toml."),
        click.option("--no-config", is_flag=True, help="Ignore ./iqa.toml and ./pyproject.toml."),
        setting_option(GATE["allow_new"]),
    ]


def _update_options() -> list:
    return [
        click.option("--update", is_flag=True,
                     help="Rewrite the baseline: copy failed and new outputs into it (creating the folder); "
                     "prints every change. Refused, with nothing changed, when a folder could not be read "
                     "or a baseline has no output (unless --prune)."),
        click.option("--prune", is_flag=True,
                     help="With --update: also remove baselines whose output disappeared."),
    ]


def _report_options() -> list:
    return [
        click.option("--junit", "junit_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     callback=report_path_cb,
                     help="Write a JUnit XML report (one testcase per pair)."),
        click.option("--github", is_flag=True,
                     help="Print GitHub workflow annotations and append a Markdown summary to "
                     "$GITHUB_STEP_SUMMARY."),
        click.option("--html", "html_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Write DIR/index.html: one self-contained page with the images, SSIM heatmap "
                     "and difference mask of every failing pair."),
        click.option("--save-diffs", "diffs_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Write a heatmap and a difference-mask PNG per failing pair into DIR."),
        click.option("--json", "json_path", is_flag=False, flag_value="-", default=None, metavar="[FILE]",
                     callback=report_path_cb,
                     help="Write the results and gate outcomes as JSON to FILE (bare flag: stdout, "
                     "instead of the table)."),
    ]


def _run_options() -> list:
    return [
        click.option("--workers", type=click.IntRange(min=1), default=None, help="Decoding threads."),
        click.option("-q", "--quiet", is_flag=True, help="Only the verdict line."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]


#: check's options that `iqa review` leaves out: it decides pair by pair instead of --update, and its page
#: replaces the reports (run `iqa check` with them on the folders after the review)
NOT_REVIEWED = ("update", "prune", "junit_path", "github", "html_dir", "diffs_dir", "json_path")


def check_options(fn: Callable | None = None, *, update: bool = True, reports: bool = True) -> Callable:
    """The options of ``iqa check`` besides the settings table and the pairing
    options, in --help order; ``iqa review`` takes them without the update and
    report options (:data:`NOT_REVIEWED`)."""
    if fn is None:
        return lambda f: check_options(f, update=update, reports=reports)
    opts = _gate_options() + (_update_options() if update else []) + (_report_options() if reports else [])
    return apply_options(fn, opts + _run_options())


@click.command("check", context_settings=CONTEXT, help=_help())
@click.argument("baseline", type=click.Path(path_type=str))
@click.argument("output", type=click.Path(path_type=str))
@check_options
@pairing_options
@metric_options(profile=CHECK)
@guarded
def check(**kw: Any) -> int:
    from .check_run import run_check

    return run_check(click.get_current_context(), kw)
