"""One decoded image file (:class:`LoadedImage`) and the pixel limit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Largest accepted image, in pixels (width x height), before decoding starts.
#: 2**28 is 16384 x 16384; a float64 RGBA copy of such an image needs 8 GiB.
DEFAULT_MAX_PIXELS: int = 2**28

@dataclass
class LoadedImage:
    """One decoded image file.

    Attributes:
        path: the path as given to :func:`load_image` (``str``).
        pixels: ``(H, W, C)`` array, ``C`` in {1, 2, 3, 4}: grey, grey+alpha,
            RGB, RGBA. The dtype is the stored sample type: ``uint8``,
            ``uint16``, ``float32`` or ``float64`` (other integer types are
            only accepted with an explicit ``data_range`` and are then
            converted to ``float64``; ``float16`` becomes ``float32``).
        data_range: the value of full intensity (255, 65535,
            ``2**bit_depth - 1``, 1.0, or the explicit ``data_range``).
        has_alpha: the last channel is alpha (``C`` is 2 or 4).
        warnings: one-line notes about decisions taken while loading.
        alpha_associated: the colour samples are premultiplied by alpha as
            stored in the file (TIFF associated alpha). :func:`prepare_pair`
            takes it into account.
        format: the decoder's name for the file format ("PNG", "TIFF", ...).
        orientation: the file's EXIF Orientation tag (2..8) when it is still
            to be applied to ``pixels``; None when there is none, it is 1, or
            it was applied on load (``exif_transpose``).
        icc_profile: the embedded ICC profile's bytes, or None (never applied).
    """

    path: str
    pixels: np.ndarray
    data_range: float
    has_alpha: bool
    warnings: list[str] = field(default_factory=list)
    alpha_associated: bool = False
    format: str | None = None
    orientation: int | None = None
    icc_profile: bytes | None = field(default=None, repr=False)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        """Colour channels, alpha not counted (1 for grey, 3 for RGB)."""
        return int(self.pixels.shape[2]) - int(self.has_alpha)

    @property
    def shape_str(self) -> str:
        """``"WxH"``, the form used in messages ("640x480")."""
        return f"{self.width}x{self.height}"



#: EXIF Orientation tag -> what applying it does
ORIENTATIONS = {
    2: "mirror horizontally", 3: "rotate 180°", 4: "mirror vertically", 5: "mirror and rotate 270°",
    6: "rotate 90°", 7: "mirror and rotate 90°", 8: "rotate 270°",
}


def apply_orientation(arr: np.ndarray, orientation: int | None) -> np.ndarray:
    """``(H, W, C)`` samples as the EXIF Orientation tag says to display them
    (any dtype; 1 or None: unchanged). Returns a C-contiguous array."""
    if orientation in (None, 1):
        return arr
    views = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: a[::-1].transpose(1, 0, 2),  # 90° clockwise
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: a[:, ::-1].transpose(1, 0, 2),  # 90° counter-clockwise
    }
    return np.ascontiguousarray(views[int(orientation)](arr))


def one_line(text: object) -> str:
    """Collapse an exception message to a single trimmed line."""
    s = " ".join(str(text).split())
    return s if len(s) <= 200 else s[:197] + "..."


def too_large(w: int, h: int, max_pixels: int) -> str:
    return (
        f"image too large: {w}x{h} = {w * h} pixels, above the limit of "
        f"{max_pixels} pixels (max_pixels); refused before decoding"
    )
