"""Building blocks shared by the protocol implementations (torch, float64).

Everything here works on (N, C, H, W) tensors and returns float64 results:
the protocols reproduce other libraries' *definitions*; where a library
computes in float32 the float64 value of its definition is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .._filters import gaussian_window, matlab_box_decimate
from ..color import rgb_to_gray_matlab, rgb_to_y_bt601
from ..ssim import check_data_range, check_pair, lum_cs_maps, mean_ssim_cs

Tensor = torch.Tensor

WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
COLORS = ("rgb", "y", "gray")


def f64(x: Tensor) -> Tensor:
    return x if x.dtype == torch.float64 else x.to(torch.float64)


def check_color(color: str) -> None:
    if color not in COLORS:
        raise ValueError(f"color must be one of {', '.join(COLORS)}, not {color!r}")


def needs_luma(x: Tensor, color: str) -> bool:
    """True when ``color`` asks for a conversion: a one-channel image stays as it is."""
    check_color(color)
    if color == "rgb" or x.shape[1] == 1:
        return False
    if x.shape[1] != 3:
        raise ValueError(f"color={color!r} needs a 1- or 3-channel image, got {x.shape[1]} channels")
    return True


def prepare_yiq(x: Tensor, L: float, color: str, integer: bool) -> tuple[Tensor, float]:
    """Samples on [0, 1]; for y and gray the YIQ luma 0.299 R + 0.587 G + 0.114 B
    (pyiqa's and piq's conversion, unrounded)."""
    from ..color import YIQ

    x = scaled(x, L)
    if needs_luma(x, color):
        x = weighted(x, YIQ)
    return x, 1.0


def weighted(x: Tensor, weights: Sequence[float], offset: float = 0.0) -> Tensor:
    """``offset + Σ w_k·x[:, k]`` in float64, (N, 3, H, W) → (N, 1, H, W)."""
    x = f64(x)
    out = weights[0] * x[:, 0:1] + weights[1] * x[:, 1:2] + weights[2] * x[:, 2:3]
    return out + offset if offset else out


def matlab_luma(x: Tensor, L: float, color: str, integer: bool) -> Tensor:
    """MATLAB ``rgb2ycbcr`` Y (y) or ``rgb2gray`` (gray), rounded for integer samples as
    MATLAB rounds its uint8/uint16 outputs; rgb (or one channel) unchanged."""
    if not needs_luma(x, color):
        return x
    if color == "y":
        return rgb_to_y_bt601(f64(x), L, round=integer)
    return rgb_to_gray_matlab(f64(x), round=integer)


def no_luma(x: Tensor, color: str, library: str) -> Tensor:
    """For libraries without a colour conversion: rgb (or one channel) only."""
    if needs_luma(x, color):
        raise ValueError(f"{library} defines no colour conversion: use color='rgb' (or convert the images first)")
    return x


def crop_border(x: Tensor, n: int) -> Tensor:
    """Remove ``n`` pixels from each side of the last two dims (BasicSR's ``crop_border``)."""
    n = int(n)
    if n < 0:
        raise ValueError(f"crop_border must be >= 0, got {n}")
    if n == 0:
        return x
    h, w = x.shape[-2:]
    if h <= 2 * n or w <= 2 * n:
        raise ValueError(f"crop_border={n} leaves nothing of a {w}x{h} image")
    return x[..., n : h - n, n : w - n]


def require_side(x: Tensor, need: int, what: str) -> None:
    h, w = x.shape[-2:]
    if min(h, w) < need:
        raise ValueError(f"{what} needs images of at least {need}x{need} px, got {w}x{h}")


def gauss(x: Tensor, size: int = 11, sigma: float = 1.5) -> Tensor:
    return gaussian_window(size, sigma, dtype=torch.float64, device=x.device)


def uniform(x: Tensor, size: int) -> Tensor:
    return torch.full((size,), 1.0 / size, dtype=torch.float64, device=x.device)


def scaled(x: Tensor, L: float) -> Tensor:
    """x / L in float64: the moments are computed on [0, 1] (C = K²), as iqa's kernels do."""
    return f64(x) / check_data_range(L)


def valid_stats(x: Tensor, y: Tensor, taps: Tensor, k1: float = 0.01, k2: float = 0.03) -> tuple[Tensor, Tensor]:
    """Per-(image, channel) means of the 'valid' SSIM and cs maps, (N, C) each, of two
    [0, 1]-scaled float64 images (population moments, separable window ``taps``)."""
    k = taps.numel()
    require_side(x, k, f"a {k}x{k} SSIM window")
    mean_s, mean_cs, _ = mean_ssim_cs(x, y, taps, k1, k2)
    return mean_s, mean_cs


def relu_cs_stats(x: Tensor, y: Tensor, taps: Tensor, k1: float = 0.01, k2: float = 0.03) -> tuple[Tensor, Tensor]:
    """Means over C, H, W of lum·relu(cs) and relu(cs) on the 'valid' region, (N,) each:
    the cs map clamped at 0 pixel by pixel before the product (pyiqa)."""
    k = taps.numel()
    require_side(x, k, f"a {k}x{k} SSIM window")
    lum, cs = lum_cs_maps(x, y, taps, k1, k2)
    cs = cs.clamp_min(0.0)
    return (lum * cs).mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def ms_ssim_loop(
    x: Tensor,
    y: Tensor,
    stats: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
    down: Callable[[Tensor], Tensor],
    weights: Sequence[float] = WANG_WEIGHTS,
) -> Tensor:
    """Π_{j<M} cs_j^{w_j} · SSIM_M^{w_M} with each term clamped at 0 (ReLU), scale j+1 =
    ``down`` of scale j. ``stats`` returns (mean SSIM, mean cs), either (N, C) (the
    product is per channel, then averaged over channels) or (N,) (channels pooled
    inside each mean)."""
    terms = []
    levels = len(weights)
    for level in range(levels):
        mean_s, mean_cs = stats(x, y)
        terms.append(mean_s if level == levels - 1 else mean_cs)
        if level < levels - 1:
            x, y = down(x), down(y)
    stacked = torch.stack(terms, dim=-1).clamp_min(0.0)
    w = torch.tensor(tuple(weights), dtype=torch.float64, device=stacked.device)
    value = (stacked**w).prod(dim=-1)
    return value.mean(dim=1) if value.dim() == 2 else value


def matlab_down2(x: Tensor) -> Tensor:
    """msssim.m's 2×2 box: pairs (2i, 2i+1), symmetric end padding, ceil size (= TF's)."""
    return matlab_box_decimate(x, 2)


def zero_pad_down2(x: Tensor) -> Tensor:
    """2×2 average with zero padding of (H mod 2, W mod 2) on *both* sides, the zeros
    counted in the average (avg_pool2d's count_include_pad): ceil size, shifted phase."""
    h, w = x.shape[-2:]
    return F.avg_pool2d(x, kernel_size=2, stride=2, padding=(h % 2, w % 2))


def floor_down2(x: Tensor) -> Tensor:
    """Non-overlapping 2×2 average dropping an odd last row/column (floor size)."""
    return F.avg_pool2d(x, kernel_size=2, stride=2)


def mse(x: Tensor, y: Tensor) -> Tensor:
    """mean((x − y)²) per image in float64, shape (N,)."""
    check_pair(x, y)
    d = f64(x) - f64(y)
    return (d * d).mean(dim=(1, 2, 3))


def psnr_from_mse(m: Tensor, L: float, eps: float = 0.0) -> Tensor:
    """10·log10(L² / (MSE + eps)) in float64; +inf where MSE + eps = 0."""
    return 10.0 * torch.log10(float(L) ** 2 / (f64(m) + eps))


def python_round(v: float) -> int:
    """Python's ``round`` (half to even), which piq and pyiqa use for their factor."""
    return round(v)

