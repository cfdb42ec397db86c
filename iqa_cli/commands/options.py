"""Option groups shared by compare, batch and check, and the Settings they build."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, Callable

import click

from ..errors import UsageError
from .startup import resume_gc

if TYPE_CHECKING:  # at run time imported where used: `iqa --help` stays fast
    from ..results import Settings

CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


def _metrics_cb(ctx: click.Context, param: click.Parameter, value: Any) -> tuple[str, ...]:
    from ..metrics.registry import DEFAULT_METRICS, resolve_metric_names

    if value is None:
        return DEFAULT_METRICS
    try:
        return resolve_metric_names(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _alpha_cb(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from ..io import parse_alpha

    try:
        parse_alpha(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return value


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter("must be > 0")
    return value


def report_path_cb(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a report path that is an image file: a bare ``--json``/``--csv``
    placed before the arguments would otherwise take REFERENCE as its FILE
    and overwrite it."""
    from ..pairing import IMAGE_EXTENSIONS

    if value and value != "-" and os.path.splitext(value)[1].lower() in IMAGE_EXTENSIONS:
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


#: check's default noise tolerance, in 8-bit levels: ±2 dither/anti-aliasing/GPU noise is no change
CHECK_TOLERANCE = 2.0


def _regions_cb(ctx: click.Context, param: click.Parameter, value) -> tuple:
    from ..io.masks import parse_region

    try:
        return tuple(parse_region(v) for v in value or ())
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _protocol_cb(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from ..metrics.protocols import get_protocol

    if value == "all" and ctx.info_name == "compare":
        return value
    try:
        return get_protocol(value).name
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def metric_options(fn: Callable | None = None, *, tolerance: float = 0.0) -> Callable:
    """Options that change the numbers (shared by compare, batch and check);
    ``tolerance``: the command's default for ``--tolerance``."""
    if fn is None:
        return lambda f: metric_options(f, tolerance=tolerance)
    opts = [
        click.option("--protocol", default="wang", show_default=True, callback=_protocol_cb, metavar="NAME",
                     help="Whose conventions SSIM, MS-SSIM, MSE and PSNR follow: wang (Wang's scripts), matlab "
                     "(ssim.m), basicsr, pyiqa, skimage, tf, pytorch-msssim, torchmetrics, piq; "
                     "`iqa protocols` gives each definition (compare: `all` prints one row per protocol)."),
        click.option("--ignore", "ignore", multiple=True, callback=_regions_cb, metavar="X,Y,W,H",
                     help="Ignore a region (pixels of the reference, repeatable): no metric sees it; SSIM "
                     "uses only windows wholly outside every region."),
        click.option("--mask", type=click.Path(exists=True, readable=False), default=None, metavar="FILE|DIR",
                     help="An ignore mask image the size of the pair (non-zero = ignored), or a folder of "
                     "masks found by the pair's relative path."),
        click.option("--crop-border", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
                     help="Remove N pixels from each side of both images before everything else "
                     "(BasicSR's crop_border; SR papers use the scale factor)."),
        click.option(
            "-m", "--metrics", "metrics", default=None, callback=_metrics_cb, metavar="LIST",
            help="Comma-separated metrics. Default: ssim, ms-ssim, mse, psnr, tv; `all` adds the mixed "
            "loss mix; the local-change metrics ssim_min, ssim_below, diff_pixels, diff_ratio are asked "
            "for by name. See `iqa metrics`.",
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
        click.option("--tolerance", type=click.FloatRange(min=0), default=tolerance, show_default=True,
                     metavar="LEVELS",
                     help="Treat per-sample differences up to LEVELS 8-bit levels (LEVELS/255 of the data "
                     "range) as no change, before every metric: dither, anti-aliasing and GPU noise."),
        click.option("--exif-transpose", "exif_transpose", is_flag=True, default=False,
                     help="Apply each file's EXIF orientation after decoding (default: pixels as stored, "
                     "with a warning)."),
    ]
    return apply_options(fn, opts)


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
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Decoding threads (default: number of cores, at most 8)."),
        click.option("-q", "--quiet", is_flag=True, help="No table and no progress bar."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    return apply_options(fn, opts)


def build_settings(device: str, o: dict[str, Any]) -> Settings:
    """Settings from the parsed options (every Settings field but the device; other keys are ignored)."""
    from ..results import Settings

    names = [f.name for f in dataclasses.fields(Settings) if f.name != "device"]
    values = {name: o[name] for name in names}
    if values["protocol"] == "matlab":  # ssim.m is Wang's script with its automatic downsampling
        values["downsample"] = "matlab"
    return Settings(device=device, **values)


def metrics_named(ctx: click.Context) -> bool:
    """The user named the metrics (``-m`` or the config) rather than taking the default set."""
    from click.core import ParameterSource

    return ctx.get_parameter_source("metrics") not in (ParameterSource.DEFAULT, None)


def asked_metrics(ctx: click.Context, settings: Settings) -> tuple[str, ...]:
    """The metrics the user named: each must be computed, or its pair is an
    error; the default set only warns when one cannot be."""
    return settings.metrics if metrics_named(ctx) else ()


def prepare_device(device: str, settings_kw: dict) -> Settings:
    """Resolve the device (this imports torch) and build the Settings."""
    from ..runner import resolve_device

    resume_gc()
    try:
        dev = resolve_device(device)
    except UsageError as e:  # the runner names the setting; the user typed the flag
        raise UsageError(f"--{e.reason}") from None
    return build_settings(str(dev), settings_kw)
