"""Small PNG renderings for gate reports: the two images, an SSIM heatmap and
a difference mask (numpy + imageio/Pillow; no torch).

- :func:`display_image` turns a decoded image of any sample type into 8-bit
  RGB(A) for viewing (16-bit → top 8 bits, float → clipped to [0, data range]).
- :func:`ssim_heatmap` colours ``1 - SSIM`` of the valid SSIM map (which starts
  5 px inside the image) on a black-red-yellow-white ramp and places it at its
  true position on a full-size canvas (the 5 px border stays grey), so the
  heatmap lines up with the images.
- :func:`diff_overlay` draws the changed pixels in red over a faded grey copy
  of the baseline (pixelmatch's "faded original" style).
- :func:`hatch` marks the pixels an ignore mask took out of every metric.
- :func:`downscale` shrinks large images for the HTML report; masks use a max
  over each block so a one-pixel change stays visible.
"""

from __future__ import annotations

import base64
import numpy as np

#: ``1 - SSIM`` in [0, 1] → colour (black, dark red, red, orange, yellow, white)
_RAMP_POS = np.array([0.0, 0.02, 0.1, 0.3, 0.6, 1.0])
_RAMP_RGB = np.array(
    [[0, 0, 0], [90, 0, 20], [200, 20, 20], [255, 120, 0], [255, 230, 0], [255, 255, 255]], dtype=np.float64
)
#: offset of the 'valid' 11x11 SSIM map from the image border
SSIM_OFFSET = 5


def colormap(x: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB (H, W, 3)."""
    x = np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0)
    out = np.empty(x.shape + (3,), dtype=np.uint8)
    for c in range(3):
        out[..., c] = np.interp(x, _RAMP_POS, _RAMP_RGB[:, c]).round().astype(np.uint8)
    return out


def display_image(pixels: np.ndarray, data_range: float | None = None) -> np.ndarray:
    """(H, W[, C]) array of any dtype → uint8 (H, W, 3 or 4)."""
    a = np.asarray(pixels)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.dtype == np.uint8:
        u8 = a
    elif a.dtype.kind in "ui":
        rng = float(data_range) if data_range else float(np.iinfo(a.dtype).max)
        u8 = np.clip(a.astype(np.float64) * (255.0 / rng), 0, 255).round().astype(np.uint8)
    else:
        rng = float(data_range) if data_range else 1.0
        u8 = np.clip(np.nan_to_num(a.astype(np.float64)) * (255.0 / rng), 0, 255).round().astype(np.uint8)
    c = u8.shape[2]
    if c == 1:
        u8 = np.repeat(u8, 3, axis=2)
    elif c == 2:
        u8 = np.concatenate([np.repeat(u8[:, :, :1], 3, axis=2), u8[:, :, 1:]], axis=2)
    return np.ascontiguousarray(u8)


def ssim_heatmap(ssim_map: np.ndarray, shape: tuple[int, int], offset: int = SSIM_OFFSET) -> np.ndarray:
    """Full-size (H, W, 3) heatmap of ``1 - SSIM``; pixels outside the valid map are grey."""
    h, w = shape
    canvas = np.full((h, w, 3), 64, dtype=np.uint8)
    m = np.asarray(ssim_map, dtype=np.float64)
    mh, mw = m.shape
    mh, mw = min(mh, max(0, h - offset)), min(mw, max(0, w - offset))
    # 1 - SSIM lies in [0, 2]; values above 1 (anti-correlated) saturate
    canvas[offset : offset + mh, offset : offset + mw] = colormap(1.0 - m[:mh, :mw])
    return canvas


def diff_overlay(mask: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8: changed pixels red over a faded grey baseline (or white)."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    if base is not None and base.shape[:2] == (h, w):
        rgb = base[:, :, :3].astype(np.float64)
        grey = rgb @ np.array([0.299, 0.587, 0.114])
        faded = (255.0 - 0.25 * (255.0 - grey)).round().astype(np.uint8)
        out = np.repeat(faded[:, :, None], 3, axis=2)
    else:
        out = np.full((h, w, 3), 255, dtype=np.uint8)
    out[mask] = (230, 0, 30)
    return out


def hatch(img: np.ndarray, ignore: np.ndarray | None, period: int = 8) -> np.ndarray:
    """``img`` with the ignored pixels hatched (grey diagonal stripes over a
    darkened copy), so a report shows what no metric saw."""
    if ignore is None:
        return img
    ignore = np.asarray(ignore, dtype=bool)
    if ignore.shape != img.shape[:2]:
        return img
    out = img.copy()
    yy, xx = np.nonzero(ignore)
    stripe = ((xx + yy) % period) < period // 3
    colour = out[yy, xx, :3].astype(np.float64) * 0.45 + 40
    colour[stripe] = 150
    out[yy, xx, :3] = colour.round().astype(np.uint8)
    return out


def downscale(img: np.ndarray, max_side: int, *, mask: bool = False) -> np.ndarray:
    """Shrink by an integer factor so that max(H, W) <= max_side.

    Images: mean over each block; masks (bool): any over each block.
    """
    h, w = img.shape[:2]
    f = int(np.ceil(max(h, w) / float(max_side))) if max_side > 0 else 1
    if f <= 1:
        return img
    H, W = -(-h // f) * f, -(-w // f) * f
    pad = [(0, H - h), (0, W - w)] + [(0, 0)] * (img.ndim - 2)
    a = np.pad(img, pad, mode="edge")
    shape = (H // f, f, W // f, f) + img.shape[2:]
    a = a.reshape(shape)
    if mask or img.dtype == bool:
        return a.any(axis=(1, 3))
    return a.astype(np.float64).mean(axis=(1, 3)).round().astype(img.dtype)


def png_bytes(img: np.ndarray) -> bytes:
    """Encode a uint8 (H, W[, C]) array as PNG."""
    import io

    from PIL import Image

    a = np.asarray(img)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


__all__ = [
    "colormap", "data_uri", "diff_overlay", "display_image", "downscale", "png_bytes", "ssim_heatmap",
]
