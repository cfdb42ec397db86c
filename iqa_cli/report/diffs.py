"""Pictures of failing check rows: the SSIM heatmap and difference mask
written by ``--save-diffs``, and the thumbnails the HTML report embeds.

Works on the arrays the runner kept (the decoded images, the SSIM map and
the changed-pixel mask): no file is decoded again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import images as im
from ..atomic import atomic_write

THUMB_SIDE = 768  # longest side of an HTML thumbnail


def shown(img: Any):
    """8-bit RGB(A) of a :class:`~iqa_cli.io.LoadedImage` (or None), as every report shows it."""
    return None if img is None else im.display_image(img.pixels, img.data_range)


def change_pictures(maps: dict | None, base: Any) -> tuple[Any, Any]:
    """The SSIM heatmap and the changed pixels in red over ``base`` (the shown
    baseline, or None), full size, ignored pixels hatched: the pictures of
    ``--save-diffs``, the HTML report and ``iqa review``; (None, None) when
    the runner kept no maps."""
    maps = maps or {}
    smap, mask, ignore = maps.get("ssim_map"), maps.get("diff_mask"), maps.get("ignore")
    if smap is None or mask is None:
        return None, None
    return im.hatch(im.ssim_heatmap(smap, mask.shape), ignore), im.hatch(im.diff_overlay(mask, base), ignore)


def unique_stem(directory: str, key: str, taken: set[str]) -> str:
    """``directory/<key without extension>``, made unique when two keys share a
    stem (``a.png`` and ``a.jpg`` give ``a`` and ``a.jpg``)."""
    stem = os.path.join(directory, *Path(os.path.splitext(key)[0]).parts)
    if stem in taken:
        stem = os.path.join(directory, *Path(key).parts)
    n = 2
    base = stem
    while stem in taken:
        stem, n = f"{base}-{n}", n + 1
    taken.add(stem)
    return stem


class RowPictures:
    """Draws the rows a report shows; at most ``cap`` rows get thumbnails."""

    def __init__(self, *, thumbnails: bool, diffs_dir: str | None, cap: int = 200):
        self.thumbnails = thumbnails
        self.diffs_dir = diffs_dir
        self.cap = cap
        self.n_thumbs = 0
        self._stems: set[str] = set()

    @property
    def active(self) -> bool:
        return self.thumbnails or bool(self.diffs_dir)

    def draw(self, row, maps: dict | None, display: dict | None) -> None:
        if not self.active:
            return
        maps, display = maps or {}, display or {}
        mask, ignore = maps.get("diff_mask"), maps.get("ignore")
        base = shown(display.get("reference"))
        heat, overlay = change_pictures(maps, base)
        if self.diffs_dir and heat is not None:
            stem = unique_stem(self.diffs_dir, row.key, self._stems)
            os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
            for suffix, img in ((".ssim.png", heat), (".diff.png", overlay)):
                with atomic_write(stem + suffix, "wb") as fh:
                    fh.write(im.png_bytes(img))
        if self.thumbnails and self.n_thumbs < self.cap:
            self.n_thumbs += 1
            out = shown(display.get("distorted"))
            for name, img in (("baseline", base), ("output", out), ("heatmap", heat)):
                if img is not None:
                    row.images[name] = im.png_bytes(im.downscale(img, THUMB_SIDE))
            if overlay is not None:
                small = _downscale_overlay(mask, base, THUMB_SIDE)
                if ignore is not None:
                    small = im.hatch(small, im.downscale(ignore, THUMB_SIDE, mask=True))
                row.images["mask"] = im.png_bytes(small)


def _downscale_overlay(mask, base, side):
    """Downscale the diff overlay so that a 1-pixel change stays visible (max-pooled mask)."""
    small_mask = im.downscale(mask, side, mask=True)
    small_base = im.downscale(base, side) if base is not None else None
    if small_base is not None and small_base.shape[:2] != small_mask.shape:
        small_base = None
    return im.diff_overlay(small_mask, small_base)
