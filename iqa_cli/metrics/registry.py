"""One table describing every metric iqa reports: name, output columns,
direction, range, unit and definition.

This module imports nothing heavy (no torch) so that ``iqa metrics`` and
``iqa --help`` stay fast. Reporters and gates read directions from here.
"""

from __future__ import annotations

from dataclasses import dataclass

HIGHER = "higher"  # higher is better (similarity)
LOWER = "lower"  # lower is better (error / distance)
NEUTRAL = "none"  # informational: no better direction


@dataclass(frozen=True)
class MetricInfo:
    name: str
    columns: tuple[str, ...]
    direction: str
    range: str
    unit: str
    definition: str
    aliases: tuple[str, ...] = ()
    default: bool = True  # part of the default metric set


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo(
            "ssim", ("ssim",), HIGHER, "[-1, 1]", "",
            "Wang et al. 2004 SSIM, ssim_index.m conventions: 11x11 Gaussian window "
            "(sigma 1.5), 'valid' region, K=(0.01, 0.03), C=(K*L)^2 with L the data range, "
            "population moments, mean of the map; colour = mean over channels. "
            "--downsample matlab gives Wang's ssim.m (automatic downsampling).",
        ),
        MetricInfo(
            "ms_ssim", ("ms_ssim",), HIGHER, "[0, 1] (NaN if a scale is negative)", "",
            "Wang, Simoncelli & Bovik 2003 MS-SSIM as msssim.m: 5 scales, weights "
            "(0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 box with symmetric end padding "
            "(ceil sizes); needs min(H, W) >= 176, otherwise null with a warning.",
            aliases=("ms-ssim", "msssim"),
        ),
        MetricInfo(
            "mse", ("mse",), LOWER, "[0, L^2]", "(data units)^2",
            "Mean squared error over all pixels and channels, float64, on the image's own "
            "scale (0..255^2 for 8-bit, 0..65535^2 for 16-bit).",
        ),
        MetricInfo(
            "psnr", ("psnr",), HIGHER, "[0, inf]", "dB",
            "10*log10(L^2 / MSE) per image; inf for identical images. Summaries average the "
            "per-image PSNR.",
        ),
        MetricInfo(
            "tv", ("tv_reference", "tv_distorted"), NEUTRAL, "[0, 2]", "",
            "Anisotropic L1 total variation of each image scaled to [0, 1], divided by the "
            "number of neighbour differences (mean absolute gradient); --tv-reduction sum "
            "gives tf.image.total_variation.",
        ),
        MetricInfo(
            "mix", ("mix",), LOWER, "[0, 2]", "",
            "Mixed loss of Zhao et al. 2017 (alpha 0.84): alpha*(1 - MS-SSIM over Gaussians "
            "sigma=0.5..8) + (1-alpha)*G_8-weighted L1 on data scaled to [0, 1]; "
            "--mix-variant ssim-l1 gives the common single-scale SSIM+L1 form.",
        ),
        MetricInfo(
            "ssim_min", ("ssim_min",), HIGHER, "[-1, 1]", "",
            "Worst local SSIM: the SSIM map averaged over 16x16 blocks, minimum block. "
            "Finds a small local change that the mean SSIM hides.",
            default=False,
        ),
        MetricInfo(
            "ssim_below", ("ssim_below",), LOWER, "[0, 1]", "fraction",
            "Fraction of the SSIM map below --below (default 0.9).",
            default=False,
        ),
        MetricInfo(
            "diff_pixels", ("diff_pixels",), LOWER, "[0, H*W]", "pixels",
            "Pixels whose largest channel difference exceeds --pixel-tol (image units).",
            default=False,
        ),
        MetricInfo(
            "diff_ratio", ("diff_ratio",), LOWER, "[0, 1]", "fraction",
            "diff_pixels divided by the number of pixels.",
            default=False,
        ),
    )
}

DEFAULT_METRICS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if m.default)
LOCAL_METRICS: tuple[str, ...] = tuple(n for n, m in METRICS.items() if not m.default)

#: output column -> metric name
COLUMNS: dict[str, str] = {c: m.name for m in METRICS.values() for c in m.columns}


def resolve_metric_names(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse ``"ssim,ms-ssim"`` (or a list) into canonical metric names.

    ``all`` selects every default metric. Raises ``ValueError`` naming an
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
            names = DEFAULT_METRICS
        else:
            names = ()
            for m in METRICS.values():
                if key == m.name or item.lower() in m.aliases or key in m.columns:
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


def columns_for(metrics: tuple[str, ...] | list[str]) -> list[str]:
    """Output columns for the given metric names, in registry order."""
    wanted = set(metrics)
    return [c for m in METRICS.values() if m.name in wanted for c in m.columns]
