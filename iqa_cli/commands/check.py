"""``iqa check``: the CI regression gate: its options and help; the work is in :mod:`.check_run`.

The gate's rules live in :mod:`iqa_cli.gate`; the reports in
:mod:`iqa_cli.report`; this module ties them to the command line.
"""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from ..errors import IqaError
from ..status import ExitCode
from .guard import guarded
from .options import CHECK_TOLERANCE, CONTEXT, apply_options, metric_options, report_path_cb


def _help() -> str:
    from ..gate.config import CONFIG_KEYS
    from ..gate.gates import DEFAULT_GATES

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
Defaults: {", ".join(DEFAULT_GATES)}, after a noise tolerance of
{CHECK_TOLERANCE:g} levels (--tolerance): dither, anti-aliasing and GPU noise pass,
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


def _check_options(fn):
    opts = [
        click.option("--fail-if", "fail_if", multiple=True, metavar='"METRIC OP VALUE"',
                     help='Fail a pair when this holds (repeatable), e.g. "ssim<0.99", "diff_pixels>0". '
                     "Default: the gates named above."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="Read [tool.iqa.check] / [check] from FILE instead of ./iqa.toml or ./pyproject.toml."),
        click.option("--no-config", is_flag=True, help="Ignore ./iqa.toml and ./pyproject.toml."),
        click.option("--allow-new", is_flag=True, default=False,
                     help="Outputs without a baseline pass even when CI=true."),
        click.option("--update", is_flag=True,
                     help="Rewrite the baseline: copy failed and new outputs into it (creating the folder); "
                     "prints every change. Refused, with nothing changed, when a folder could not be read "
                     "or a baseline has no output (unless --prune)."),
        click.option("--prune", is_flag=True,
                     help="With --update: also remove baselines whose output disappeared."),
        click.option("--match", type=click.Choice(["path", "stem"]), default="path", show_default=True,
                     help="Pair folders by relative path, or by path without extension."),
        click.option("--include", multiple=True, metavar="GLOB", help="Only files matching GLOB (repeatable)."),
        click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files matching GLOB (repeatable)."),
        click.option("--junit", "junit_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
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
        click.option("--workers", type=click.IntRange(min=1), default=None, help="Decoding threads."),
        click.option("-q", "--quiet", is_flag=True, help="Only the verdict line."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    return apply_options(fn, opts)



class ConfigCommand(click.Command):
    """A command whose option defaults come from the check config
    (click's ``default_map``): the command line beats the config key by key."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from .check_run import _config_from_args, _default_map

        try:
            cfg = _config_from_args(args)
            defaults = _default_map(self, cfg)
        except IqaError as e:  # before the command body runs: one line and exit 2 through click
            raise _ConfigError(str(e)) from None
        ctx.meta["iqa.config"] = cfg
        ctx.default_map = {**(ctx.default_map or {}), **defaults}
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as e:
            name = e.param.name if e.param is not None else None
            if name in defaults and ctx.get_parameter_source(name) in (ParameterSource.DEFAULT_MAP, None):
                raise _ConfigError(f"{cfg.path}: {name} = {cfg.values[name]!r}: {e.format_message()}") from None
            raise


class _ConfigError(click.ClickException):
    exit_code = int(ExitCode.ERROR)


@click.command("check", cls=ConfigCommand, context_settings=CONTEXT, help=_help())
@click.argument("baseline", type=click.Path(path_type=str))
@click.argument("output", type=click.Path(path_type=str))
@_check_options
@metric_options(tolerance=CHECK_TOLERANCE)
@guarded
def check(**kw: Any) -> int:
    from .check_run import run_check

    return run_check(click.get_current_context(), kw)
