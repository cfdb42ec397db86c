"""The ``iqa`` command line (thin: parsing, output routing, exit codes).

Every number comes from :mod:`iqa_cli.runner`, which calls the metric
functions. torch is imported only by commands that compute, so ``iqa --help``
and ``iqa --version`` stay fast.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import os
import sys
from contextlib import ExitStack
from typing import Any, Callable, Iterable

import click

# torch's OpenMP threads busy-wait between parallel regions by default. On a shared
# CI machine (other jobs on the same cores) that turned a 3 s batch into 150 s of
# spinning; passive waiting costs little when the machine is idle. Set before torch
# is imported; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._version import __version__  # noqa: E402
from .errors import IqaError, UsageError
from .metrics.registry import METRICS, resolve_metric_names
from .results import ERROR, MISSING_DISTORTED, MISSING_REFERENCE, PairResult, Settings, summarize

EXIT_OK, EXIT_REGRESSION, EXIT_ERROR, EXIT_NOTHING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


def _err(message: str) -> None:
    click.echo(f"iqa: error: {message}", err=True)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""


def guarded(fn: Callable[..., int]) -> Callable[..., None]:
    """Run a command body: IqaError → one line on stderr and its exit code,
    Ctrl-C → 130; ``--debug`` re-raises for a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        debug = kwargs.get("debug", False)
        try:
            code = fn(*args, **kwargs)
        except IqaError as e:
            if debug:
                raise
            _err(str(e))
            code = e.exit_code
        except KeyboardInterrupt:
            if debug:
                raise
            click.echo("iqa: interrupted", err=True)
            code = EXIT_INTERRUPTED
        except MemoryError:
            if debug:
                raise
            _err("out of memory (try --max-pixels, fewer --workers, or a smaller batch)")
            code = EXIT_ERROR
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as e:  # disk full, I/O error, ... while reading or writing
            if debug:
                raise
            what = e.strerror or _first_line(e) or type(e).__name__
            _err(f"{e.filename}: {what}" if e.filename else what)
            code = EXIT_ERROR
        except Exception as e:  # a bug: still one line, the traceback with --debug
            if debug:
                raise
            _err(f"internal error: {type(e).__name__}: {_first_line(e)} (run with --debug for a traceback)")
            code = EXIT_ERROR
        sys.exit(code or 0)

    return wrapper


# --------------------------------------------------------------------------- options


def _metrics_cb(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return resolve_metric_names(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _alpha_cb(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from .io import parse_alpha

    try:
        parse_alpha(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return value


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter("must be > 0")
    return value


_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".pnm"}


def _report_path_cb(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a report path that is an image file: a bare ``--json``/``--csv``
    placed before the arguments would otherwise take REFERENCE as its FILE
    and overwrite it."""
    if value and value != "-" and os.path.splitext(value)[1].lower() in _IMAGE_EXTS:
        raise click.BadParameter(
            f"{value!r} looks like an image, not a report file (a bare flag writes to stdout: "
            f"put it after the image arguments or write `{param.opts[-1]} -`)"
        )
    return value


def apply_options(fn: Callable, options: list[Callable]) -> Callable:
    """Apply click option decorators so that they appear in the given order in --help."""
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def metric_options(fn: Callable) -> Callable:
    """Options that change the numbers (shared by compare, batch and check)."""
    opts = [
        click.option(
            "-m", "--metrics", "metrics", default="all", show_default=True, callback=_metrics_cb,
            help="Comma-separated metrics: ssim, ms-ssim, mse, psnr, tv, mix (all = these six), "
            "and the local-change metrics ssim_min, ssim_below, diff_pixels, diff_ratio. See `iqa metrics`.",
        ),
        click.option("--device", default="cpu", show_default=True, metavar="auto|cpu|cuda[:N]",
                     help="Where to compute; auto = CUDA when available."),
        click.option("--color", type=click.Choice(["rgb", "y", "gray"]), default="rgb", show_default=True,
                     help="rgb: per-channel mean; y: BT.601 studio-swing Y (MATLAB rgb2ycbcr); "
                     "gray: MATLAB rgb2gray."),
        click.option("--alpha", default="premultiplied", show_default=True, callback=_alpha_cb,
                     metavar="premultiplied|drop|over=COLOUR",
                     help="Alpha handling: premultiply and compare alpha as a channel; ignore it; "
                     "or composite over white, black or #rrggbb."),
        click.option("--downsample", type=click.Choice(["none", "matlab"]), default="none", show_default=True,
                     help="none: Wang's ssim_index.m; matlab: ssim.m's automatic downsampling."),
        click.option("--data-range", type=float, default=None, callback=_positive, metavar="L",
                     help="Dynamic range L (overrides the file's sample type; needed for float images "
                     "outside [0, 1])."),
        click.option("--bit-depth", type=click.IntRange(1, 16), default=None, metavar="N",
                     help="Integer payload depth, e.g. 10 or 12 for data stored in 16-bit files "
                     "(L = 2^N - 1)."),
        click.option("--mix-variant", type=click.Choice(["zhao", "ssim-l1"]), default="zhao", show_default=True,
                     help="zhao: paper-faithful MS-SSIM+L1 (Zhao et al. 2017); ssim-l1: single-scale form."),
        click.option("--mix-alpha", type=click.FloatRange(0, 1), default=0.84, show_default=True,
                     help="Weight of the structural term of the mixed loss."),
        click.option("--tv-reduction", type=click.Choice(["mean", "sum"]), default="mean", show_default=True,
                     help="TV per difference term (mean) or the plain sum (= tf.image.total_variation)."),
        click.option("--below", type=float, default=0.9, show_default=True,
                     help="Level for ssim_below (fraction of the SSIM map below it)."),
        click.option("--pixel-tol", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="diff_pixels counts pixels whose largest channel difference exceeds this "
                     "(image units, e.g. 0-255)."),
        click.option("--block", type=click.IntRange(min=1), default=16, show_default=True,
                     help="Block size of ssim_min (worst block mean of the SSIM map)."),
        click.option("--max-pixels", type=click.IntRange(min=1), default=None,
                     help="Refuse images with more pixels than this before decoding (default 2^28)."),
    ]
    return apply_options(fn, opts)


def output_options(fn: Callable) -> Callable:
    opts = [
        click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]), default=None,
                     help="Output format on stdout (or into -o FILE). Default: table, or from -o's extension."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, writable=False), default=None, callback=_report_path_cb,
                     help="Write the --format output to FILE (atomically; JSONL streams line by line)."),
        click.option("--csv", "csv_path", is_flag=False, flag_value="-", default=None, callback=_report_path_cb, metavar="[FILE]",
                     help="Also write CSV to FILE (bare flag: stdout)."),
        click.option("--json", "json_path", is_flag=False, flag_value="-", default=None, callback=_report_path_cb, metavar="[FILE]",
                     help="Also write JSON to FILE (bare flag: stdout)."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Decoding threads (default: number of cores, at most 8)."),
        click.option("-q", "--quiet", is_flag=True, help="No table and no progress bar."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    return apply_options(fn, opts)


def build_settings(device: str, o: dict[str, Any]) -> Settings:
    """Settings from the parsed options (every Settings field but the device; other keys are ignored)."""
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "device"]
    return Settings(device=device, **{name: o[name] for name in names})


# --------------------------------------------------------------------------- output


class Outputs:
    """Routes results to stdout and files as the options ask.

    Atomic outputs (table, JSON, CSV files) are written once at the end; JSONL
    and CSV on stdout, and JSONL files, stream one complete line per pair.
    """

    def __init__(self, settings: Settings, *, fmt: str | None, output: str | None, csv_path: str | None,
                 json_path: str | None, quiet: bool):
        if fmt is None and output:
            ext = os.path.splitext(output)[1].lower()
            fmt = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(ext, "table")
        self.settings = settings
        self.stdout_fmt = fmt or "table"
        self.files: list[tuple[str, str]] = []  # (format, path)
        if output:
            self.files.append((self.stdout_fmt, output))
            self.stdout_fmt = "table"
        bare = [f for f, p in (("csv", csv_path), ("json", json_path)) if p == "-"]
        if len(bare) > 1:
            raise UsageError("--csv and --json cannot both write to stdout; give one of them a FILE")
        for f, p in (("csv", csv_path), ("json", json_path)):
            if p and p != "-":
                self.files.append((f, p))
        if bare:
            self.stdout_fmt = bare[0]
        self.quiet = quiet and self.stdout_fmt == "table"
        self._stack = ExitStack()
        self._streams: list[Callable[[PairResult], None]] = []
        self._finish: list[Callable[[dict], None]] = []

    def __enter__(self) -> "Outputs":
        from .report._atomic import atomic_write
        from .report.csv import CsvWriter
        from .report.json import JsonlWriter

        for fmt, path in self.files:
            if fmt == "jsonl":
                try:
                    stream = self._stack.enter_context(open(path, "w", encoding="utf-8"))
                except OSError as e:
                    raise IqaError(f"cannot write: {e.strerror or e}", path) from None
                self._add_jsonl(JsonlWriter(stream))
            else:
                # probe writability now, before any work is done
                d = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(d) or not os.access(d, os.W_OK):
                    raise IqaError("cannot write: directory does not exist or is not writable", path)
        if self.stdout_fmt == "jsonl":
            self._add_jsonl(JsonlWriter(sys.stdout))
        elif self.stdout_fmt == "csv":
            w = CsvWriter(sys.stdout, self.settings)
            self._streams.append(w.write_pair)
        self._atomic = atomic_write
        return self

    def _add_jsonl(self, writer: Any) -> None:
        self._streams.append(writer.write_pair)
        self._finish.append(lambda summary, w=writer: w.write_summary(summary, self.settings))

    def pair(self, result: PairResult) -> None:
        for s in self._streams:
            s(result)

    def finish(self, results: list[PairResult], summary: dict, *, worst: int = 5, title: str | None = None) -> None:
        from .report.csv import write_csv
        from .report.json import to_json_text
        from .results import document

        for f in self._finish:
            f(summary)
        doc = None
        for fmt, path in self.files:
            if fmt == "jsonl":
                continue
            with self._atomic(path, newline="" if fmt == "csv" else None) as fh:
                if fmt == "csv":
                    write_csv(fh, self.settings, results)
                elif fmt == "json":
                    doc = doc or document(self.settings, results, summary)
                    fh.write(to_json_text(doc) + "\n")
                else:
                    from rich.console import Console

                    from .report.table import render

                    render(Console(file=fh, width=120, color_system=None), self.settings, results, summary,
                           worst=worst, title=title)
        if self.stdout_fmt == "json":
            doc = doc or document(self.settings, results, summary)
            click.echo(to_json_text(doc))
        elif self.stdout_fmt == "table" and not self.quiet:
            from rich.console import Console

            from .report.table import render

            render(Console(), self.settings, results, summary, worst=worst, title=title)

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()


def exit_code(results: Iterable[PairResult]) -> int:
    """0 all scored; 2 any error or missing pair; else 1 for a size mismatch; 3 nothing compared."""
    results = list(results)
    if not results:
        return EXIT_NOTHING
    if any(r.status in (ERROR, MISSING_REFERENCE, MISSING_DISTORTED) and not (r.maps or {}).get("size_mismatch")
           for r in results):
        return EXIT_ERROR
    if any(r.status == ERROR for r in results):
        return EXIT_REGRESSION
    return EXIT_OK


def score(pairs: list, settings: Settings, outputs: Outputs, *, workers: int | None, progress: bool,
          keep_maps: bool = False) -> list[PairResult]:
    """Run the pairs with an optional progress bar on stderr; Ctrl-C keeps what was done."""
    from .runner import run

    results: list[PairResult] = []
    bar = None
    if progress and len(pairs) > 1:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if console.is_terminal:
            bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           console=console, transient=True)
    task = bar.add_task("pairs", total=len(pairs)) if bar else None
    try:
        if bar:
            bar.start()
        for r in run(pairs, settings, workers=workers, keep_maps=keep_maps):
            results.append(r)
            outputs.pair(r)
            if bar:
                bar.advance(task)
    except KeyboardInterrupt:
        if bar:
            bar.stop()
        click.echo(f"iqa: interrupted after {len(results)} of {len(pairs)} pairs; "
                   "streamed JSONL/CSV lines are complete, other reports were not written", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        if bar:
            bar.stop()
    return results


_gc_deferred = False  # entry() turned the cyclic GC off until torch is imported


def prepare_device(device: str, settings_kw: dict) -> Settings:
    global _gc_deferred
    from .runner import resolve_device

    if _gc_deferred:  # torch is in: its objects go to the permanent generation, collections resume
        _gc_deferred = False
        gc.freeze()
        gc.enable()
    dev = resolve_device(device)
    return build_settings(str(dev), settings_kw)


def _report_row_errors(results: Iterable[PairResult], statuses: tuple[str, ...] | None = None) -> None:
    """One ``iqa: error:`` line per failed row, naming the file (once)."""
    for r in results:
        if not r.error or (statuses is not None and r.status not in statuses):
            continue
        named = (r.distorted and r.distorted in r.error) or (r.reference and r.reference in r.error)
        _err(r.error if named else f"{r.distorted or r.reference}: {r.error}")


def _print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        click.echo(f"iqa: warning: {w}", err=True)


# --------------------------------------------------------------------------- commands


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="iqa")
def main() -> None:
    """iqa: how different are these two images, and is that too different?

    \b
    SSIM, MS-SSIM, MSE, PSNR, total variation and the mixed (MS-)SSIM+L1 loss,
    with Wang et al.'s reference conventions (see `iqa metrics`).

    \b
      iqa compare ref.png out.png            one reference vs one or more images
      iqa batch ref_dir out_dir --csv r.csv  every pair of two folders
      iqa check baseline/ output/            CI gate with thresholds and reports
      iqa metrics                            what each metric means

    Exit codes: 0 ok, 1 regression (size mismatch, failed gate), 2 error,
    3 nothing compared, 130 interrupted.
    """


@main.command(context_settings=CONTEXT)
@click.argument("reference", type=click.Path(dir_okay=True, path_type=str))
@click.argument("distorted", nargs=-1, required=True, type=click.Path(path_type=str))
@metric_options
@output_options
@guarded
def compare(reference: str, distorted: tuple[str, ...], fmt, output, csv_path, json_path, workers, quiet,
            no_progress, debug, device, **settings_kw) -> int:
    """Score REFERENCE against one or more DISTORTED images."""
    from .pairing import pair_files

    if os.path.isdir(reference):
        raise UsageError(f"{reference}: is a directory (use `iqa batch REF_DIR DIST_DIR` for folders)")
    settings = prepare_device(device, settings_kw)
    pairs = pair_files(reference, list(distorted))
    with Outputs(settings, fmt=fmt, output=output, csv_path=csv_path, json_path=json_path, quiet=quiet) as out:
        results = score(pairs, settings, out, workers=workers, progress=not (quiet or no_progress))
        summary = summarize(results, settings.columns)
        out.finish(results, summary, worst=0)
    _report_row_errors(results)
    return exit_code(results)


@main.command(context_settings=CONTEXT)
@click.argument("ref_dir", type=click.Path(path_type=str))
@click.argument("dist_dir", type=click.Path(path_type=str))
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
    from .pairing import pair_folders

    settings = prepare_device(device, settings_kw)
    pairs, notes = pair_folders(ref_dir, dist_dir, match=match, include=include, exclude=exclude)
    if not quiet:
        _print_warnings(notes)
    if not pairs:
        _err(f"nothing to compare: no image files in {ref_dir} or {dist_dir}")
        return EXIT_NOTHING
    with Outputs(settings, fmt=fmt, output=output, csv_path=csv_path, json_path=json_path, quiet=quiet) as out:
        results = score(pairs, settings, out, workers=workers, progress=not (quiet or no_progress))
        summary = summarize(results, settings.columns)
        out.finish(results, summary, worst=worst)
    _report_row_errors(results, statuses=(ERROR,))
    n_bad = sum(1 for r in results if r.status != "ok")
    if n_bad:  # also under --quiet: it explains a non-zero exit code
        click.echo(f"iqa: {n_bad} of {len(results)} pairs not scored (see the error/missing rows)", err=True)
    return exit_code(results)


@main.command("metrics", context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def metrics_cmd(fmt: str) -> None:
    """List the metrics: name, direction, range, unit and definition."""
    if fmt == "json":
        import json

        click.echo(json.dumps([
            {"name": m.name, "columns": list(m.columns), "direction": m.direction, "range": m.range,
             "unit": m.unit, "default": m.default, "definition": m.definition}
            for m in METRICS.values()
        ], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="iqa metrics", show_lines=True)
    for col in ("metric", "better", "range", "definition"):
        table.add_column(col, overflow="fold")
    for m in METRICS.values():
        better = {"higher": "higher", "lower": "lower"}.get(m.direction, "-")
        name = m.name + ("" if m.default else "\n(on request)")
        rng = m.range + (f" {m.unit}" if m.unit else "")
        table.add_row(name, better, rng, m.definition)
    Console().print(table)


def _register_optional_commands() -> None:
    try:
        from .gate import check
    except ImportError:  # pragma: no cover - gate not installed
        return
    main.add_command(check)


_register_optional_commands()


def entry(argv: list[str] | None = None) -> None:
    """Console-script entry point: like ``main()``, but a usage error is one
    line on stderr (``iqa: error: ...``) with exit code 2, not click's block.

    The cyclic garbage collector is off until torch has been imported
    (:func:`prepare_device`): importing torch creates ~10^6 objects, and the
    full collections they trigger cost ~0.2 s of start-up, then ~0.1 s more in
    later imports that rescan them. Nothing of iqa's own is collected earlier.
    """
    global _gc_deferred
    if gc.isenabled():
        _gc_deferred = True
        gc.disable()
    try:
        rv = main.main(args=argv, prog_name="iqa", standalone_mode=False)
    except click.exceptions.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else "iqa"
        _err(f"{e.format_message()} (see `{where} --help`)")
        sys.exit(EXIT_ERROR)
    except click.exceptions.ClickException as e:
        _err(e.format_message())
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("iqa: aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    entry()
