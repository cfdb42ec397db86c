"""``iqa batch``: every pair of two folders."""

from __future__ import annotations


import click

from ..report.outputs import Outputs
from ..results import summarize
from ..status import ExitCode, PairStatus, exit_code
from .guard import err, guarded, nothing_found, print_warnings, report_row_errors
from .options import CONTEXT, asked_metrics, metric_options, output_options, prepare_device
from .progress import score


@click.command("batch", context_settings=CONTEXT)
@click.argument("ref_dir", type=click.Path(path_type=str, readable=False))
@click.argument("dist_dir", type=click.Path(path_type=str, readable=False))
@click.option("--match", type=click.Choice(["path", "stem"]), default="path", show_default=True,
              help="Pair by relative path, or by relative path without extension (a.png with a.jpg).")
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching GLOB (repeatable; ** = any depth).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files matching GLOB (repeatable).")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True,
              help="Show the K worst pairs after the table.")
@metric_options
@output_options
@guarded
def batch(ref_dir: str, dist_dir: str, match, include, exclude, worst, fmt, output, csv_path, json_path, workers,
          quiet, no_progress, debug, device, **settings_kw) -> int:
    """Score every pair of REF_DIR and DIST_DIR, paired by relative path (recursive).

    Files present on one side only become missing_reference / missing_distorted
    rows; unreadable files become error rows; the batch always goes on.
    """
    from ..pairing import pair_folders

    settings = prepare_device(device, settings_kw)
    pairs, notes = pair_folders(ref_dir, dist_dir, match=match, include=include, exclude=exclude)
    if not quiet:
        print_warnings(notes)
    if not pairs:
        err(f"nothing to compare: {nothing_found(ref_dir, dist_dir, include)}")
        return ExitCode.NOTHING
    with Outputs(settings, fmt=fmt, output=output, csv_path=csv_path, json_path=json_path, quiet=quiet) as out:
        results = score(pairs, settings, out, workers=workers, progress=not (quiet or no_progress),
                        required=asked_metrics(click.get_current_context(), settings))
        summary = summarize(results, settings.columns)
        out.finish(results, summary, worst=worst)
    report_row_errors(results, statuses=(PairStatus.ERROR,))
    n_bad = sum(1 for r in results if r.status != PairStatus.OK)
    if n_bad:  # also under --quiet: it explains a non-zero exit code
        click.echo(f"iqa: {n_bad} of {len(results)} pairs not scored (see the error/missing rows)", err=True)
    return exit_code(r.status for r in results)
