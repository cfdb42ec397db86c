"""Ignore masks: which pixels of an image pair take no part in any metric.

A mask is a bool numpy array (H, W), True = ignored, in the pixel coordinates
of the reference image. It is built from rectangles (X, Y, W, H: left and
top edge, width and height, in pixels, origin at the top-left corner) and/or
from a mask image, and the parts are combined with a logical OR. The metric
layer (:mod:`iqa_cli.metrics.masked`) consumes it.

Mask images: any format Pillow reads. A pixel is ignored when any of its
colour channels is non-zero; if the image has an alpha channel, the pixel
must also be visible (alpha > 0), so a transparent background never counts
whatever colour its invisible pixels store, and opaque black is kept. Palette
images are expanded first (their transparency becomes alpha). Only the first
frame of a multi-frame file is read.

This module imports numpy only (Pillow when a mask image is loaded).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Sequence

import numpy as np


def _fmt(region: Sequence[int]) -> str:
    return ",".join(str(v) for v in region)


def regions_to_mask(regions: Iterable[Sequence[int]], height: int, width: int) -> np.ndarray:
    """(height, width) bool mask with every (X, Y, W, H) rectangle set.

    Raises:
        ValueError: a region has zero or negative size, or reaches outside
            the image (the message names the region).
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    mask = np.zeros((height, width), dtype=bool)
    for region in regions:
        if len(region) != 4 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in region):
            raise ValueError(f"region {region!r} is not four whole numbers X, Y, W, H")
        x, y, w, h = (int(v) for v in region)
        if w <= 0 or h <= 0:
            raise ValueError(f"region {_fmt(region)} has zero size (width and height must be at least 1 px)")
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise ValueError(f"region {_fmt(region)} reaches outside the {width}x{height} px image")
        mask[y : y + h, x : x + w] = True
    return mask


def _mask_from_pil(im) -> np.ndarray:
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif im.mode in ("La", "RGBa"):  # premultiplied: the alpha test is the same
        im = im.convert(im.mode[:-1] + "A")
    arr = np.asarray(im)
    if arr.ndim == 2:
        return arr != 0
    if im.mode.endswith("A"):
        return (arr[..., -1] != 0) & (arr[..., :-1] != 0).any(axis=-1)
    return (arr != 0).any(axis=-1)


def load_mask(path: str | os.PathLike, height: int, width: int) -> np.ndarray:
    """Read a mask image: (height, width) bool, True where the image is
    non-zero (and visible, if it has alpha); see the module docstring.

    Raises:
        ValueError: the file cannot be read as an image, or its size is not
            width x height (the message names the file and both sizes).
    """
    from PIL import Image, UnidentifiedImageError

    name = os.fspath(path)
    try:
        with Image.open(name) as im:
            im.seek(0)
            im.load()
            mask = _mask_from_pil(im)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(f"mask image {name}: cannot be read ({reason})") from None
    mh, mw = mask.shape
    if (mh, mw) != (height, width):
        raise ValueError(f"mask image {name} is {mw}x{mh} px but the images are {width}x{height} px")
    return mask


def combine(*masks: np.ndarray | None) -> np.ndarray | None:
    """Logical OR of masks of one shape; None entries are skipped, and None
    is returned when nothing is left (no pixel ignored).

    Raises:
        ValueError: the masks differ in shape.
    """
    out = None
    for m in masks:
        if m is None:
            continue
        m = np.asarray(m, dtype=bool)
        if m.ndim != 2:
            raise ValueError(f"a mask must be 2-D (height, width), got shape {m.shape}")
        if out is None:
            out = m.copy()
        elif m.shape != out.shape:
            raise ValueError(f"masks differ in size: {out.shape[1]}x{out.shape[0]} vs {m.shape[1]}x{m.shape[0]} px")
        else:
            out |= m
    return out
