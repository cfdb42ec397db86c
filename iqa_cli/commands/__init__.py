"""The ``iqa`` command line: the click group, one module per command, and the
console-script entry point.

torch is imported only by commands that compute (on their first call to
:func:`.options.prepare_device`), so ``iqa --help`` stays fast.
"""

from __future__ import annotations

import os
import sys

import click

# torch's OpenMP threads busy-wait between parallel regions by default; on a
# shared CI machine that turned a 3 s batch into 150 s of spinning. Set before
# torch is imported; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .._version import __version__  # noqa: E402
from ..status import ExitCode  # noqa: E402
from .batch import batch  # noqa: E402
from .check import check  # noqa: E402
from .compare import compare  # noqa: E402
from .guard import PIPE_CLOSED, err, quiet_stdout  # noqa: E402
from .list_metrics import metrics_cmd  # noqa: E402
from .list_protocols import protocols_cmd  # noqa: E402
from .merge import merge  # noqa: E402
from .options import CONTEXT  # noqa: E402
from .review import review  # noqa: E402
from .startup import defer_gc  # noqa: E402


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.version_option(__version__, "-V", "--version", prog_name="iqa")
@click.pass_context
def main(ctx: click.Context) -> None:
    """iqa: how different are these two images, and is that too different?

    \b
    SSIM, MS-SSIM, MSE, PSNR, total variation and the mixed (MS-)SSIM+L1 loss,
    with Wang et al.'s reference conventions (see `iqa metrics`).

    \b
      iqa compare ref.png out.png            one reference vs one or more images
      iqa batch ref_dir out_dir --csv r.csv  every pair of two folders
      iqa check baseline/ output/            CI gate with thresholds and reports
      iqa review baseline/ output/           look at each changed image, accept or reject it
      iqa merge part*.jsonl -o all.csv       join the shards of a large batch
      iqa metrics                            what each metric means
      iqa protocols                          whose conventions --protocol reproduces

    Exit codes: 0 ok, 1 regression (size mismatch, failed gate), 2 error,
    3 nothing compared, 130 interrupted.
    """
    from ..spelling import spelled_by
    from .options import cli_spelling

    if ctx.invoked_subcommand is None:  # bare `iqa`: the help, as asked for
        click.echo(ctx.get_help())
        ctx.exit(0)
    ctx.with_resource(spelled_by(cli_spelling))


for command in (compare, batch, check, review, merge, metrics_cmd, protocols_cmd):
    main.add_command(command)


def entry(argv: list[str] | None = None) -> None:
    """Console-script entry point: like ``main()``, but a usage error is one
    line on stderr (``iqa: error: ...``) with exit code 2, not click's block.

    The cyclic garbage collector is off until torch has been imported
    (:mod:`.startup`).
    """
    defer_gc()
    try:
        rv = main.main(args=argv, prog_name="iqa", standalone_mode=False)
    except BrokenPipeError:  # outside a command body (help text): as in `guarded`
        quiet_stdout()
        sys.exit(PIPE_CLOSED)
    except click.exceptions.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else "iqa"
        err(f"{e.format_message()} (see `{where} --help`)")
        sys.exit(int(ExitCode.ERROR))
    except click.exceptions.ClickException as e:
        err(e.format_message())
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("iqa: aborted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    sys.exit(rv if isinstance(rv, int) else 0)
