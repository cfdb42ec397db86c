"""``iqa batch``: every pair of two folders."""

from __future__ import annotations

import os

import click

from ..status import ExitCode, PairStatus, exit_code
from .guard import err, guarded, nothing_found, print_warnings, report_row_errors
from .options import (CONTEXT, asked_metrics, explicit, holds_sequences, metric_options, output_options,
                      pairing_options, prepare_device)
from .progress import score


@click.command("batch", context_settings=CONTEXT)
@click.argument("ref_dir", type=click.Path(path_type=str, readable=False))
@click.argument("dist_dir", type=click.Path(path_type=str, readable=False))
@pairing_options
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True,
              help="Show the K worst pairs after the table.")
@click.option("--shard", default=None, metavar="K/N",
              help="Score only shard K of N (K = 0..N-1: every N-th pair of the sorted list, from the K-th); "
              "join the parts with `iqa merge`.")
@click.option("--resume", is_flag=True,
              help="Continue the -o FILE.jsonl of an interrupted run: keep its rows, score the rest, append.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT|local:N",
              help="Score on a Dask cluster (pip install \"iqa-cli[dask]\"); local:N starts N worker processes here.")
@click.option("--scheduler-file", default=None, metavar="FILE", help="Score on the Dask cluster named in FILE.")
@click.option("--chunk", type=click.IntRange(min=1), default=None, metavar="N",
              help="Pairs per Dask task (default: 16, fewer for short runs).")
@metric_options
@output_options
@guarded
def batch(ref_dir: str, dist_dir: str, match, include, exclude, worst, shard, resume, scheduler, scheduler_file,
          chunk, fmt, output, csv_path, json_path, per_frame, workers, quiet, no_progress, debug, device,
          **settings_kw) -> int:
    """Score every pair of REF_DIR and DIST_DIR, paired by relative path (recursive).

    Files present on one side only become missing_reference / missing_distorted
    rows; unreadable files become error rows; the batch always goes on. Videos
    pair with videos as images do with images (a folder of frames inside is
    walked as images, frame by frame).
    """
    from ..report.outputs import Outputs
    from ..results import summarize

    from contextlib import ExitStack

    from ..engines import open_engine
    from ..engines.dask import EngineUnavailable
    from ..engines.settings import run_settings
    from ..engines.shards import in_pair_order, parse_shard
    from ..errors import UsageError
    from ..pairing import pair_folders
    from .resume import Resume, Tee, wants_resume

    if scheduler and scheduler_file:
        raise UsageError("give --scheduler or --scheduler-file, not both")
    part = None
    if shard is not None:
        try:
            part = parse_shard(shard)
        except UsageError as e:
            raise UsageError(f"--{e.reason}") from None
    if resume:
        wants_resume(output, fmt)
    settings = prepare_device(device, settings_kw, explicit(click.get_current_context()))
    pairs, notes = pair_folders(ref_dir, dist_dir, match=match, include=include, exclude=exclude)
    if not quiet:
        print_warnings(notes)
    if not pairs:
        err(f"nothing to compare: {nothing_found(ref_dir, dist_dir, include)}")
        return ExitCode.NOTHING
    if part is not None:
        total, pairs = len(pairs), part.take(pairs)
        if not pairs:
            err(f"nothing to compare: shard {part} of {total} pairs is empty")
            return ExitCode.NOTHING
    engine = open_engine(scheduler, scheduler_file, chunk=chunk)
    settings = run_settings(settings, engine=engine.name, shard=str(part) if part else None, cwd=os.getcwd())
    with ExitStack() as stack:
        log = Resume(output, settings, quiet=quiet, per_frame=per_frame) \
            if resume and Resume.existing(output) else None
        if log is not None:
            stack.callback(log.release)
        todo = log.todo(pairs) if log else pairs
        if log is not None and not quiet:
            click.echo(f"iqa: resuming {output}: {len(log.prior)} rows kept, {len(todo)} pairs to score", err=True)
        if todo:
            try:
                stack.enter_context(engine)
            except EngineUnavailable as e:
                raise UsageError(f"--scheduler: {e.reason}") from None
            engine.check_paths(todo)
        video = Outputs.writes_csv(None if log else fmt, None if log else output, csv_path) and \
            holds_sequences([p for pair in pairs for p in (pair.reference, pair.distorted)])
        out = stack.enter_context(Outputs(settings, fmt=None if log else fmt, output=None if log else output,
                                          csv_path=csv_path, json_path=json_path, quiet=quiet, per_frame=per_frame,
                                          video=video))
        sink = Tee(out, stack.enter_context(log)) if log else out
        new = score(todo, settings, sink, workers=workers, progress=not (quiet or no_progress), engine=engine,
                    required=asked_metrics(click.get_current_context(), settings))
        results = in_pair_order((log.prior if log else []) + new, pairs,
                                {id(r): log.base for r in log.prior} if log else None)
        summary = summarize(results, settings.columns)
        out.finish(results, summary, worst=worst)
        if log:
            log.finish(summary)
    report_row_errors(results, statuses=(PairStatus.ERROR,))
    n_bad = sum(1 for r in results if r.status != PairStatus.OK)
    if n_bad:  # also under --quiet: it explains a non-zero exit code
        click.echo(f"iqa: {n_bad} of {len(results)} pairs not scored (see the error/missing rows)", err=True)
    return exit_code(r.status for r in results)
