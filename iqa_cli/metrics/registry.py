"""The single source of metric facts: name, output columns, direction,
range (text and numeric bounds), unit, the units a gate may write, table
headers and number formats, minimum image size, the value for identical
images and the function that scores the metric.

This module imports nothing heavy (no torch) so that ``iqa metrics`` and
``iqa --help`` stay fast. Adding a metric: its function in its module, a
``score_*`` adapter in :mod:`.adapters`, and one entry here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

HIGHER = "higher"  # higher is better (similarity)
LOWER = "lower"  # lower is better (error / distance)
NEUTRAL = "none"  # informational: no better direction


@dataclass(frozen=True)
class Column:
    """One output column: its table heading (two lines) and number format."""

    name: str
    header: str
    sub: str = ""  # second heading line: unit or qualifier
    #: "6f", "4f", "2f": fixed decimals; "count": an integer; "mse": 4 decimals or 4 significant digits
    format: str = "6f"


@dataclass(frozen=True)
class MetricInfo:
    name: str
    columns: tuple[Column, ...]
    direction: str
    range: str
    unit: str
    definition: str
    aliases: tuple[str, ...] = ()
    default: bool = True  # part of the default metric set
    in_all: bool = True  # selected by ``all``
    bounds: tuple[float, float] = (-math.inf, math.inf)  # accepted gate thresholds
    gate_units: tuple[str, ...] = ()  # units a gate threshold may carry ("%", "dB", "px")
    min_size: int = 1  # smallest side (px) the metric is defined for
    identical: float | None = None  # the value for byte-identical files (None: computed)
    scorer: str = ""  # "module:function" in iqa_cli.metrics scoring this metric
    #: columns only a video pair has: one value per video pooled a named way (not per frame)
    video_columns: tuple[Column, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def described(self) -> str:
        """The definition with each ``{setting}`` spelled as the running front end writes it."""
        from ..spelling import spell

        return _SETTING.sub(lambda m: spell(m.group(1)), self.definition)


_SETTING = re.compile(r"\{(\w+)\}")


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo(
            "ssim", (Column("ssim", "SSIM"),), HIGHER, "[-1, 1]", "",
            "Wang et al. 2004 SSIM, ssim_index.m conventions: 11x11 Gaussian window "
            "(sigma 1.5), 'valid' region, K=(0.01, 0.03), C=(K*L)^2 with L the data range, "
            "population moments, mean of the map; colour = mean over channels. "
            "{downsample} matlab gives Wang's ssim.m (automatic downsampling).",
            bounds=(-1.0, 1.0), min_size=11, identical=1.0, scorer="adapters:score_ssim",
        ),
        MetricInfo(
            "ms_ssim", (Column("ms_ssim", "MS-SSIM"),), HIGHER, "[0, 1] (NaN if a scale is negative)", "",
            "Wang, Simoncelli & Bovik 2003 MS-SSIM as msssim.m: 5 scales, weights "
            "(0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 box with symmetric end padding "
            "(ceil sizes); needs min(H, W) >= 176, otherwise null with a warning.",
            aliases=("ms-ssim", "msssim"),
            bounds=(0.0, 1.0), min_size=176, identical=1.0, scorer="adapters:score_ms_ssim",
        ),
        MetricInfo(
            "mse", (Column("mse", "MSE", format="mse"),), LOWER, "[0, L^2]", "(data units)^2",
            "Mean squared error over all pixels and channels, float64, on the image's own "
            "scale (0..255^2 for 8-bit, 0..65535^2 for 16-bit).",
            bounds=(0.0, math.inf), identical=0.0, scorer="adapters:score_mse",
        ),
        MetricInfo(
            "psnr", (Column("psnr", "PSNR", "dB", "2f"),), HIGHER, "[0, inf]", "dB",
            "10*log10(L^2 / MSE) per image; inf for identical images. Summaries average the "
            "per-image PSNR.",
            bounds=(0.0, math.inf), gate_units=("dB",), identical=math.inf, scorer="adapters:score_psnr",
            video_columns=(Column("psnr_mean_db", "PSNR", "mean dB", "2f"),
                           Column("psnr_total", "PSNR", "total dB", "2f")),
        ),
        MetricInfo(
            "tv", (Column("tv_reference", "TV", "ref", "4f"), Column("tv_distorted", "TV", "dist", "4f")), NEUTRAL, "[0, 2]", "",
            "Anisotropic L1 total variation of each image scaled to [0, 1], divided by the "
            "number of neighbour differences (mean absolute gradient); {tv_reduction} sum "
            "gives tf.image.total_variation.",
            min_size=2, scorer="adapters:score_tv",
        ),
        MetricInfo(
            "mix", (Column("mix", "mix"),), LOWER, "[0, 2]", "",
            "Mixed loss of Zhao et al. 2017 (alpha 0.84): alpha*(1 - MS-SSIM over Gaussians "
            "sigma=0.5..8) + (1-alpha)*G_8-weighted L1 on data scaled to [0, 1]; "
            "{mix_variant} ssim-l1 gives the common single-scale SSIM+L1 form. "
            "A training loss: not in the default set (-m mix or -m all).",
            default=False, bounds=(0.0, 2.0), min_size=11, identical=0.0, scorer="adapters:score_mix",
        ),
        MetricInfo(
            "ssim_min", (Column("ssim_min", "SSIM", "min"),), HIGHER, "[-1, 1]", "",
            "Worst local SSIM: the SSIM map averaged over square blocks (side {block}), minimum block. "
            "Finds a small local change that the mean SSIM hides.",
            default=False, in_all=False, bounds=(-1.0, 1.0), min_size=11, identical=1.0,
            scorer="adapters:score_ssim_min",
        ),
        MetricInfo(
            "ssim_below", (Column("ssim_below", "SSIM", "<below"),), LOWER, "[0, 1]", "fraction",
            "Fraction of the SSIM map below the level {below}.",
            default=False, in_all=False, bounds=(0.0, 1.0), gate_units=("%",), min_size=11,
            scorer="adapters:score_ssim_below",
        ),
        MetricInfo(
            "diff_pixels", (Column("diff_pixels", "diff", "px", "count"),), LOWER, "[0, H*W]", "pixels",
            "Pixels whose largest channel difference exceeds {pixel_tol} (image units).",
            default=False, in_all=False, bounds=(0.0, math.inf), gate_units=("px",), identical=0.0,
            scorer="adapters:score_diff_pixels",
        ),
        MetricInfo(
            "diff_ratio", (Column("diff_ratio", "diff", "ratio"),), LOWER, "[0, 1]", "fraction",
            "diff_pixels divided by the number of pixels.",
            default=False, in_all=False, bounds=(0.0, 1.0), gate_units=("%",), identical=0.0,
            scorer="adapters:score_diff_ratio",
        ),
    )
}

#: definitions of the video columns (``iqa metrics``, docs/video.md)
VIDEO_COLUMN_DEFINITIONS = {
    "psnr_mean_db": "Video: the mean of per-frame PSNR in dB, each frame capped at 6*bits + 12 dB (60 dB at "
                    "8 bits; libvmaf's cap), so identical frames count at the cap.",
    "psnr_total": "Video: PSNR of the total squared error over every sample of every frame, "
                  "10*log10(L^2 * N / SSE) (FFmpeg's psnr average, libvmaf apsnr).",
}

#: the planes of YUV video: under colour ``yuv`` each column also has one per plane (``ssim_y``, ``ssim_u``...)
PLANES: tuple[str, ...] = ("y", "u", "v")


def _plane_column(c: Column, plane: str) -> Column:
    return Column(f"{c.name}_{plane}", c.header, f"{c.sub} {plane.upper()}".strip(), c.format)


DEFAULT_METRICS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if m.default)
ALL_METRICS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if m.in_all)
LOCAL_METRICS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if not m.in_all)


def _all_columns(m: MetricInfo) -> tuple[Column, ...]:
    own = m.columns + m.video_columns
    return own + tuple(_plane_column(c, p) for c in own for p in PLANES)


#: output column -> metric name (video and plane columns included)
COLUMNS: dict[str, str] = {c.name: m.name for m in METRICS.values() for c in _all_columns(m)}
#: output column -> its heading and format
COLUMN_INFO: dict[str, Column] = {c.name: c for m in METRICS.values() for c in _all_columns(m)}


def resolve_metric_names(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse ``"ssim,ms-ssim"`` (or a list) into canonical metric names.

    ``all`` selects ssim, ms_ssim, mse, psnr, tv and mix (the local-change
    metrics are asked for by name). Raises ``ValueError`` naming an
    unknown metric and listing the known ones.
    """
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
    else:
        items = [s.strip() for part in spec for s in str(part).split(",")]
    out: list[str] = []
    for item in items:
        if not item:
            continue
        key = item.lower().replace("-", "_")
        if key == "all":
            names = ALL_METRICS
        else:
            names = ()
            for m in METRICS.values():
                if key == m.name or item.lower() in m.aliases or key in m.column_names:
                    names = (m.name,)
                    break
            if not names:
                known = ", ".join(METRICS)
                raise ValueError(f"unknown metric '{item}' (known: {known}, all)")
        for n in names:
            if n not in out:
                out.append(n)
    if not out:
        raise ValueError("no metric selected")
    return tuple(out)


def named_individually(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The metrics ``spec`` names one by one, not through ``all``: each must be
    computed (a pair where one cannot be is an error), while those ``all``
    brings in are computed where they are defined, as the default set is."""
    items = [spec] if isinstance(spec, str) else list(spec)
    parts = [s.strip() for part in items for s in str(part).split(",")]
    return resolve_metric_names([p for p in parts if p and p.lower() != "all"]) \
        if any(p and p.lower() != "all" for p in parts) else ()


def columns_for(metrics: tuple[str, ...] | list[str], *, video: bool = False, planes: bool = False) -> list[str]:
    """Output columns for the given metric names, in registry order; with
    ``video``, then the video columns (``psnr_mean_db``, ``psnr_total``); with
    ``planes``, then each of those per plane (``ssim_y``, ``ssim_u``, ``ssim_v``, ...)."""
    chosen = [m for m in METRICS.values() if m.name in set(metrics)]
    own = [c.name for m in chosen for c in m.columns]
    extra = [c.name for m in chosen for c in m.video_columns] if video else []
    out = own + extra
    if planes:
        out += [f"{c}_{p}" for c in own + extra for p in PLANES]
    return out


def plane_of(column: str) -> tuple[str, str | None]:
    """(the column without its plane suffix, the plane or None): ``ssim_u`` -> (``ssim``, ``u``)."""
    base, _, plane = column.rpartition("_")
    if plane in PLANES and base in COLUMNS:
        return base, plane
    return column, None


def psnr_cap(bit_depth: int) -> float:
    """libvmaf's PSNR cap: ``6·bits + 12`` dB (60 dB at 8 bits, 72 at 10, 108 at 16);
    a video's identical frames count at it in ``psnr_mean_db``."""
    if int(bit_depth) != bit_depth or bit_depth < 1:
        raise ValueError(f"bit depth must be a positive integer, got {bit_depth!r}")
    return 6.0 * int(bit_depth) + 12.0
