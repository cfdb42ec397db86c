"""Named parity protocols: the conventions under which other communities compute
SSIM, MS-SSIM, MSE and PSNR, so that a number can be compared with a published one.

Each :class:`Protocol` describes its definition as data (window, padding,
colour, data range, crop, pooling, precision, negatives, minimum size) and
names the module that implements it. Every implementation module offers, on
(N, C, H, W) tensors in image units [0, L]::

    prepare(x, L, color, integer) -> (x', L')   # colour conversion and data-range convention
    ssim(x, y, L) -> (N,)      ms_ssim(x, y, L) -> (N,)
    mse(x, y, L)  -> (N,)      psnr(x, y, L)    -> (N,)
    MIN_SIZE = {"ssim": int, "ms_ssim": int | None}

and raises ``ValueError`` (one line) for a metric the protocol does not
define or an image that is too small. :func:`protocol_ssim` and friends chain
``crop_border`` → ``prepare`` → the metric.

This module imports no torch (the registry must stay cheap to import); the
implementations are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .table import DEFAULT_PROTOCOL, PROTOCOLS, Protocol, get_protocol

if TYPE_CHECKING:  # pragma: no cover
    import torch


def crop_border(x: torch.Tensor, n: int) -> torch.Tensor:
    """Remove ``n`` pixels from each side of an (…, H, W) tensor; ValueError if nothing is left."""
    from ._common import crop_border as _crop

    return _crop(x, n)


def _run(metric: str, x, y, data_range, protocol, color, crop, integer):
    from ._common import check_color, check_pair

    p = get_protocol(protocol)
    check_color(color)
    check_pair(x, y)
    impl = p.implementation()
    if integer is None:
        integer = not (x.is_floating_point() or y.is_floating_point())
    x, y = crop_border(x, crop), crop_border(y, crop)
    xp, L = impl.prepare(x, float(data_range), color, bool(integer))
    yp, _ = impl.prepare(y, float(data_range), color, bool(integer))
    return getattr(impl, metric)(xp, yp, L)


def protocol_ssim(x, y, data_range: float, protocol: str = DEFAULT_PROTOCOL, color: str = "rgb",
                  crop_border: int = 0, integer: bool | None = None):
    """SSIM per image (N,) under ``protocol``: crop, the protocol's colour and range, its SSIM.
    ``integer=None`` infers integer samples from the dtype."""
    return _run("ssim", x, y, data_range, protocol, color, crop_border, integer)


def protocol_ms_ssim(x, y, data_range: float, protocol: str = DEFAULT_PROTOCOL, color: str = "rgb",
                     crop_border: int = 0, integer: bool | None = None):
    """MS-SSIM per image (N,) under ``protocol`` (ValueError where it defines none)."""
    return _run("ms_ssim", x, y, data_range, protocol, color, crop_border, integer)


def protocol_psnr(x, y, data_range: float, protocol: str = DEFAULT_PROTOCOL, color: str = "rgb",
                  crop_border: int = 0, integer: bool | None = None):
    """PSNR per image (N,) in dB under ``protocol``."""
    return _run("psnr", x, y, data_range, protocol, color, crop_border, integer)


def protocol_mse(x, y, data_range: float, protocol: str = DEFAULT_PROTOCOL, color: str = "rgb",
                 crop_border: int = 0, integer: bool | None = None):
    """MSE per image (N,) under ``protocol``, on the protocol's scale ([0, 1] for pyiqa, piq and
    tf with integer input; image units otherwise)."""
    return _run("mse", x, y, data_range, protocol, color, crop_border, integer)


__all__ = [
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "Protocol",
    "crop_border",
    "get_protocol",
    "protocol_ms_ssim",
    "protocol_mse",
    "protocol_psnr",
    "protocol_ssim",
]
