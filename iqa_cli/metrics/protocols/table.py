"""The protocol table: each protocol's description as data (window, padding,
colour, data range, crop, pooling, precision, negatives, minimum size, what it
implies for the settings) and the module that implements it.

Data only: it imports nothing of iqa's and no torch, so the settings table
and ``iqa --help`` can read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

_PKG = "iqa_cli.metrics.protocols"


@dataclass(frozen=True)
class Protocol:
    """The description of one protocol; ``module`` holds its implementation."""

    name: str
    reproduces: str
    checked_against: str
    window: str
    padding: str
    colour: str
    data_range: str
    crop: str
    pooling: str
    precision: str
    negatives: str
    min_size: tuple[tuple[str, int | None], ...]
    differs_from_wang: str
    module: str
    default_color: str = "rgb"
    #: computed by iqa's own kernels (Wang's definitions), so masks and every metric apply
    native: bool = False
    #: the protocol defines a conversion for colour y/gray (False: rgb only)
    converts_colour: bool = True
    #: settings the protocol fixes, as (setting, value): ssim.m *is* Wang's SSIM with its downsampling
    implies: tuple[tuple[str, object], ...] = ()

    def min_side(self, metric: str) -> int | None:
        """Smallest image side the protocol accepts for ``ssim`` / ``ms_ssim`` (None: not defined)."""
        return dict(self.min_size)[metric]

    def implementation(self):
        """The implementation module (imports torch)."""
        return importlib.import_module(self.module)


_CROP = "crop_border pixels removed from each side of both images before anything else (BasicSR's order)"

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            name="wang",
            reproduces="Wang's ssim_index.m (2003/2004) and msssim.m (2003); iqa's default",
            checked_against="Octave 7.3.0 runs of ssim_index.m / msssim.m (<= 5e-11)",
            window="Gaussian 11x11, sigma 1.5",
            padding="'valid' region; MS-SSIM: 2x2 box on pixels (2i, 2i+1), symmetric end padding, ceil size",
            colour="rgb: per-channel mean; y: MATLAB rgb2ycbcr Y (16-235); gray: MATLAB rgb2gray; "
            "both rounded (half up) for integer samples, unrounded for floats",
            data_range="L of the stored samples (255, 65535, or given for floats); C = (K L)^2, K = (0.01, 0.03)",
            crop=_CROP,
            pooling="mean of the map per channel, mean over channels; MS-SSIM per channel, then mean; "
            "PSNR per image",
            precision="float64",
            negatives="not clamped; MS-SSIM: NaN (with a warning) when a scale is negative",
            min_size=(("ssim", 11), ("ms_ssim", 176)),
            differs_from_wang="It is Wang's definition.",
            module=f"{_PKG}.wang",
            native=True,
        ),
        Protocol(
            name="matlab",
            reproduces="Wang's ssim.m (2009, SSIM with automatic downsampling); msssim.m for MS-SSIM",
            checked_against="Octave 7.3.0 runs of ssim.m (<= 5e-11)",
            window="Gaussian 11x11, sigma 1.5, after an f x f box low-pass",
            padding="box: imfilter 'symmetric','same' (anchor floor((f+1)/2)), keep (1:f:end), "
            "f = max(1, round(min(H,W)/256)) with MATLAB rounding; then 'valid'",
            colour="as wang (rgb2ycbcr / rgb2gray, rounded on integer samples)",
            data_range="L (ssim.m itself defaults to 255 whatever the class)",
            crop=_CROP,
            pooling="as wang",
            precision="float64",
            negatives="as wang",
            min_size=(("ssim", 11), ("ms_ssim", 176)),
            differs_from_wang="SSIM is computed on the f-times downsampled images (f >= 2 from 384 px): "
            "up to 0.27 higher on 512 px noisy images; MS-SSIM, MSE, PSNR identical.",
            module=f"{_PKG}.matlab",
            native=True,
            implies=(("downsample", "matlab"),),
        ),
        Protocol(
            name="basicsr",
            reproduces="BasicSR calculate_psnr / calculate_ssim (numpy path), test_y_channel for y",
            checked_against="BasicSR 1.4.2 (basicsr.metrics.psnr_ssim, cv2 5.0.0)",
            window="Gaussian 11x11, sigma 1.5 (cv2.getGaussianKernel outer product)",
            padding="'valid' (filter2D then [5:-5, 5:-5])",
            colour="rgb: per channel; y: Y = 16 + 65.481 R + 128.553 G + 24.966 B on float32(x/L), "
            "/255 cast to float32, x L in float32, NOT rounded; gray: not defined; one channel as is",
            data_range="L (BasicSR: 255); C = (K L)^2",
            crop=_CROP + "; SR configs use crop = scale",
            pooling="SSIM per channel, mean over channels; PSNR over all pixels and channels, per image",
            precision="float64 (after the float32 Y)",
            negatives="not clamped",
            min_size=(("ssim", 11), ("ms_ssim", None)),
            differs_from_wang="Y is BT.601 studio swing but unrounded (MATLAB rounds on uint8), with a "
            "float32 step; no MS-SSIM; otherwise Wang's ssim_index.m.",
            module=f"{_PKG}.basicsr",
            default_color="y",
        ),
        Protocol(
            name="pyiqa",
            reproduces="pyiqa psnr / ssimc / MS_SSIM(test_y_channel=False) (rgb); psnry / ssim / ms_ssim (y, gray)",
            checked_against="pyiqa 0.1.16 (archs.ssim_arch, archs.psnr_arch)",
            window="Gaussian 11x11, sigma 1.5 (fspecial)",
            padding="'valid'; MS-SSIM: 2x2 average, zero padding (H%2, W%2) on both sides counted in the mean",
            colour="inputs x/L on [0, 1]; y and gray: YIQ luma 0.299 R + 0.587 G + 0.114 B; "
            "SSIM/MS-SSIM: x255 and rounded (half to even); PSNR unrounded",
            data_range="[0, 1]; SSIM constants from 255 after the rounding",
            crop=_CROP,
            pooling="mean over C, H, W; MS-SSIM pools channels inside each scale's mean",
            precision="float64 (pyiqa: PSNR in float32, SSIM in float64 with a float32 window)",
            negatives="cs map clamped at 0 pixel by pixel (ReLU) in SSIM and MS-SSIM",
            min_size=(("ssim", 11), ("ms_ssim", 161)),
            differs_from_wang="Per-pixel ReLU on cs (inverted camera: +0.16 instead of -0.09), YIQ luma "
            "(~1.3 dB below BasicSR's Y-PSNR), PSNR with +1e-8 (80 dB cap), odd-size MS-SSIM phase.",
            module=f"{_PKG}.pyiqa",
            default_color="y",
        ),
        Protocol(
            name="skimage",
            reproduces="scikit-image structural_similarity / peak_signal_noise_ratio / mean_squared_error defaults",
            checked_against="scikit-image 0.26.0",
            window="uniform 7x7",
            padding="reflect filter, then 3 px cropped per side before the mean (= 'valid')",
            colour="rgb: channel_axis per-channel mean; y: skimage rgb2ycbcr Y (unrounded); "
            "gray: skimage rgb2gray 0.2125/0.7154/0.0721 (unrounded); kept on [0, L]",
            data_range="L (skimage: dtype range for integers, required for floats)",
            crop=_CROP,
            pooling="mean per channel, mean over channels",
            precision="float64",
            negatives="not clamped",
            min_size=(("ssim", 7), ("ms_ssim", None)),
            differs_from_wang="7x7 uniform window and sample covariance (x 49/48): up to 0.034 from Wang; "
            "no MS-SSIM.",
            module=f"{_PKG}.skimage",
        ),
        Protocol(
            name="tf",
            reproduces="tf.image.ssim / ssim_multiscale / psnr",
            checked_against="definition only (TensorFlow not installed; float32 residual measured in the "
            "spec: 6.4e-5 SSIM, 1.8e-5 MS-SSIM)",
            window="Gaussian 11x11, sigma 1.5 (softmax-built)",
            padding="'VALID'; MS-SSIM: symmetric pad of the odd remainder at bottom/right, 2x2 VALID "
            "average (= msssim.m)",
            colour="rgb: per channel; y: rgb_to_yuv Y (0.299, 0.587, 0.114); gray: rgb_to_grayscale "
            "(0.2989, 0.5870, 0.1140); unrounded",
            data_range="integers: x/L and max_val 1 (convert_image_dtype); floats: max_val = L",
            crop=_CROP,
            pooling="per channel, mean over channels; MS-SSIM per channel then mean",
            precision="float64 (TF: float32)",
            negatives="MS-SSIM: ReLU on each channel's mean cs and last-scale SSIM",
            min_size=(("ssim", 11), ("ms_ssim", 161)),
            differs_from_wang="SSIM equal up to TF's float32; MS-SSIM clamps negatives to 0 instead of NaN "
            "and accepts 161-175 px.",
            module=f"{_PKG}.tf",
        ),
        Protocol(
            name="pytorch-msssim",
            reproduces="pytorch_msssim.ssim / ms_ssim, defaults, data_range = L",
            checked_against="pytorch-msssim 1.0.0",
            window="Gaussian 11, sigma 1.5, separable (library: float32 window)",
            padding="'valid'; MS-SSIM: 2x2 average, zero padding (H%2, W%2) on both sides counted in the mean",
            colour="rgb only (the library has no conversion); one channel as is",
            data_range="L (library default 255)",
            crop=_CROP,
            pooling="per channel, mean over channels (per image)",
            precision="float64",
            negatives="MS-SSIM: ReLU on each channel's mean cs and last-scale SSIM",
            min_size=(("ssim", 11), ("ms_ssim", 161)),
            differs_from_wang="SSIM equal up to its float32 window (~5e-6); MS-SSIM: odd sizes get a "
            "zero-padded, shifted 2x2 average (8.7e-4 on 257x301), negatives clamped. PSNR/MSE: "
            "none in the library, plain definition.",
            module=f"{_PKG}.pytorch_msssim",
            converts_colour=False,
        ),
        Protocol(
            name="torchmetrics",
            reproduces="torchmetrics structural_similarity_index_measure / multiscale_... / "
            "peak_signal_noise_ratio / mean_squared_error (>= 1.4.2), data_range = L",
            checked_against="torchmetrics 1.9.0",
            window="Gaussian 11 (from sigma 1.5), population moments, variances clamped at 0",
            padding="reflect padding of 5, full H x W map (borders from mirrored data); MS-SSIM cs on the "
            "valid crop, 2x2 average with floor size",
            colour="rgb only (no conversion); one channel as is",
            data_range="L passed explicitly (None would infer it from the content)",
            crop=_CROP,
            pooling="mean over C, H, W jointly; MS-SSIM pools channels inside each scale",
            precision="float64 (torchmetrics: the input dtype)",
            negatives="MS-SSIM: ReLU (normalize='relu')",
            min_size=(("ssim", 6), ("ms_ssim", 176)),
            differs_from_wang="Reflect-padded borders in the mean (8e-3 on 64x64, ~1e-4..5e-3 on 512 px); "
            "MS-SSIM drops odd rows/columns and mixes a full-map last scale (2.7e-3).",
            module=f"{_PKG}.torchmetrics",
            converts_colour=False,
        ),
        Protocol(
            name="piq",
            reproduces="piq.ssim (downsample=True) / multi_scale_ssim / psnr, defaults, data_range = L",
            checked_against="piq 0.8.0",
            window="Gaussian 11x11, sigma 1.5 (library: float32 window)",
            padding="SSIM: f x f average pool (floor), f = max(1, Python round(min/256)), then 'valid'; "
            "MS-SSIM: replicate pad top/left by 1 if either side is odd, 2x2 average (floor)",
            colour="inputs x/L on [0, 1]; y and gray: 0.299 R + 0.587 G + 0.114 B, unrounded",
            data_range="[0, 1] (x / L)",
            crop=_CROP,
            pooling="per channel, mean over channels",
            precision="float64",
            negatives="MS-SSIM: ReLU on each channel's mean cs and last-scale SSIM",
            min_size=(("ssim", 11), ("ms_ssim", 161)),
            differs_from_wang="SSIM downsamples like ssim.m but with Python rounding and no anchor "
            "(640 px: f 2 vs 3, 1.1e-2); MS-SSIM phase on odd sizes (5.1e-4); PSNR +1e-8 (80 dB cap).",
            module=f"{_PKG}.piq",
        ),
    )
}

DEFAULT_PROTOCOL = "wang"


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (case-insensitive, '_' = '-')."""
    key = str(name).strip().lower().replace("_", "-")
    if key in PROTOCOLS:
        return PROTOCOLS[key]
    raise ValueError(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})")
