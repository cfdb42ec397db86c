"""``iqa compare``: one reference against one or more images."""

from __future__ import annotations

import os

import click

from ..errors import UsageError
from ..report.outputs import Outputs
from ..results import summarize
from ..status import exit_code
from .guard import guarded, report_row_errors
from .options import CONTEXT, asked_metrics, metric_options, output_options, prepare_device
from .progress import score


@click.command("compare", context_settings=CONTEXT)
@click.argument("reference", type=click.Path(dir_okay=True, path_type=str, readable=False))
@click.argument("distorted", nargs=-1, required=True, type=click.Path(path_type=str, readable=False))
@metric_options
@output_options
@guarded
def compare(reference: str, distorted: tuple[str, ...], fmt, output, csv_path, json_path, workers, quiet,
            no_progress, debug, device, **settings_kw) -> int:
    """Score REFERENCE against one or more DISTORTED images."""
    from ..pairing import pair_files

    if os.path.isdir(reference):
        raise UsageError(f"{reference}: is a directory (use `iqa batch REF_DIR DIST_DIR` for folders)")
    settings = prepare_device(device, settings_kw)
    pairs = pair_files(reference, list(distorted))
    with Outputs(settings, fmt=fmt, output=output, csv_path=csv_path, json_path=json_path, quiet=quiet) as out:
        results = score(pairs, settings, out, workers=workers, progress=not (quiet or no_progress),
                        required=asked_metrics(click.get_current_context(), settings))
        summary = summarize(results, settings.columns)
        out.finish(results, summary, worst=0)
    report_row_errors(results)
    return exit_code(r.status for r in results)
