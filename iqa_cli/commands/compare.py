"""``iqa compare``: one reference against one or more images."""

from __future__ import annotations

import os

import click

from ..errors import UsageError
from ..status import PairStatus, exit_code
from .guard import guarded, report_row_errors
from .options import (CONTEXT, asked_metrics, explicit, holds_sequences, metric_options, metrics_named,
                      output_options, prepare_device)
from .progress import score


@click.command("compare", context_settings=CONTEXT)
@click.argument("reference", type=click.Path(dir_okay=True, path_type=str, readable=False))
@click.argument("distorted", nargs=-1, required=True, type=click.Path(path_type=str, readable=False))
@metric_options(protocol_all=True)
@output_options
@guarded
def compare(reference: str, distorted: tuple[str, ...], fmt, output, csv_path, json_path, per_frame, workers, quiet,
            no_progress, debug, device, **settings_kw) -> int:
    """Score REFERENCE against one or more DISTORTED images, videos or frame
    sequences (a folder of numbered frames, an animated GIF/PNG/WebP)."""
    from ..pairing import pair_files
    from ..report.outputs import Outputs
    from ..results import summarize

    if settings_kw["protocol"] == "all":
        return _all_protocols(reference, distorted, fmt, output, csv_path, json_path, workers, device, settings_kw)
    settings = prepare_device(device, settings_kw, explicit(click.get_current_context()))
    pairs = pair_files(reference, list(distorted))
    video = Outputs.writes_csv(fmt, output, csv_path) and holds_sequences([reference, *distorted])
    with Outputs(settings, fmt=fmt, output=output, csv_path=csv_path, json_path=json_path, quiet=quiet,
                 per_frame=per_frame, video=video) as out:
        results = score(pairs, settings, out, workers=workers, progress=not (quiet or no_progress),
                        required=asked_metrics(click.get_current_context(), settings))
        summary = summarize(results, settings.columns)
        out.finish(results, summary, worst=0)
    report_row_errors(results)
    if os.path.isdir(reference) and any(r.status == PairStatus.ERROR for r in results):
        click.echo("iqa: a folder is read as numbered frames here; `iqa batch REF_DIR DIST_DIR` pairs the files of "
                   "two folders by name", err=True)
    return exit_code(r.status for r in results)


def _all_protocols(reference, distorted, fmt, output, csv_path, json_path, workers, device, settings_kw) -> int:
    """``--protocol all``: the same files under every protocol, one row each,
    so the distance between the conventions is seen at once."""
    from ..metrics.protocols import PROTOCOLS
    from ..pairing import pair_files
    from ..report.json import to_json_text
    from ..results import SCHEMA, document
    from ..runner import run

    if output or csv_path or fmt not in (None, "table", "json") or (json_path not in (None, "-") and fmt == "json"):
        raise UsageError("--protocol all prints a table, or JSON with --json [FILE]")
    kw = dict(settings_kw)
    if not metrics_named(click.get_current_context()):
        kw["metrics"] = ("ssim", "ms_ssim", "mse", "psnr")  # what the protocols define
    pairs = pair_files(reference, list(distorted))
    docs, rows = [], []
    for name in PROTOCOLS:
        settings = prepare_device(device, {**kw, "protocol": name})
        results = list(run(pairs, settings, workers=workers))
        docs.append(document(settings, results))
        rows.extend((name, r) for r in results)
    if json_path or fmt == "json":
        text = to_json_text({"schema": SCHEMA, "protocols": docs})
        if json_path and json_path != "-":
            from ..atomic import atomic_write

            with atomic_write(json_path) as fh:
                fh.write(text + "\n")
        else:
            click.echo(text)
    if not (fmt == "json" or json_path == "-"):
        from ..report.table import make_console, protocol_table

        protocol_table(make_console(), rows, settings)
    return exit_code(r.status for _, r in rows)
