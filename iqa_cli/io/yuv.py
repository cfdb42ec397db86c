"""Y'CbCr (YUV) planes to R'G'B': the colour matrix and range of a stream,
and the conversion iqa uses for ``color="rgb"`` on video.

The conversion (ITU-T H.273 / ITU-R BT.601, BT.709, BT.2020 non-constant
luminance), for bit depth ``b`` and the matrix's ``Kr``, ``Kb``
(``Kg = 1 - Kr - Kb``):

* limited ("TV", "MPEG") range: ``E'Y = (Y - 16·2^(b-8)) / (219·2^(b-8))``,
  ``E'Pb = (Cb - 128·2^(b-8)) / (224·2^(b-8))``, likewise ``E'Pr`` from Cr;
* full ("PC", "JPEG") range: ``E'Y = Y / (2^b - 1)``,
  ``E'Pb = (Cb - 2^(b-1)) / (2^b - 1)``, likewise ``E'Pr``;
* ``R' = E'Y + 2(1 - Kr)·E'Pr``, ``B' = E'Y + 2(1 - Kb)·E'Pb``,
  ``G' = (E'Y - Kr·R' - Kb·B') / Kg``;
* each of R', G', B' clipped to [0, 1], times ``2^b - 1``, rounded half to
  even (numpy's rounding), stored in the planes' integer dtype: 8-bit video
  gives uint8 in 0..255, 10-bit gives uint16 in 0..1023.

Chroma is upsampled by sample replication (nearest neighbour): the chroma
sample at (i, j) of a plane subsampled by (sx, sy) serves the luma pixels
(i·sy .. i·sy + sy - 1, j·sx .. j·sx + sx - 1); for odd sizes the last
chroma column/row serves the single pixel left. This is what FFmpeg's
swscale computes with ``SWS_POINT | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
| SWS_ACCURATE_RND`` (to one level, its fixed-point rounding); swscale's
default (bilinear, PyAV's ``to_ndarray(format="rgb24")``) interpolates chroma
and differs on chroma edges (tests/test_video_decode.py measures both).
The arithmetic is float64; the constants are the exact Kr/Kb of each standard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: matrix name -> (Kr, Kb)
MATRICES: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),  # BT.601 / BT.470BG / SMPTE 170M
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),  # non-constant luminance
    "smpte240m": (0.212, 0.087),
    "fcc": (0.30, 0.11),
}

#: FFmpeg's AVColorSpace values -> matrix name (None: not a Kr/Kb matrix iqa converts)
AVCOL_SPC: dict[int, str | None] = {
    0: None,  # RGB / GBR: the planes already are G, B, R
    1: "bt709",
    4: "fcc",
    5: "bt601",  # BT.470BG
    6: "bt601",  # SMPTE 170M
    7: "smpte240m",
    8: None,  # YCgCo
    9: "bt2020",  # BT.2020 non-constant luminance
    10: None,  # BT.2020 constant luminance
}
AVCOL_SPC_NAMES = {0: "rgb", 8: "ycgco", 10: "bt2020-cl", 11: "smpte2085", 12: "chroma-derived-ncl",
                   13: "chroma-derived-cl", 14: "ictcp"}

#: FFmpeg's AVColorRange values
AVCOL_RANGE = {1: "limited", 2: "full"}


@dataclass(frozen=True)
class YuvFormat:
    """How a stream's YUV samples map to R'G'B'.

    ``matrix`` is a key of :data:`MATRICES` or None when the stream's matrix
    is not one iqa converts (then only the Y, U, V planes are usable; the
    RGB view is an error naming ``matrix_name``). ``*_source`` says where each
    value came from, e.g. ``"stream tag"`` or ``"default for 1920x1080"``.
    """

    matrix: str | None
    matrix_source: str
    range: str  # limited | full
    range_source: str
    bit_depth: int
    subsampling: tuple[int, int]  # (horizontal, vertical) chroma step: (2, 2) for 4:2:0
    matrix_name: str = ""

    def describe(self) -> str:
        """``"BT.709 (stream tag), limited range (default for YUV)"``."""
        m = {"bt601": "BT.601", "bt709": "BT.709", "bt2020": "BT.2020 NCL", "smpte240m": "SMPTE 240M",
             "fcc": "FCC"}.get(self.matrix or "", self.matrix_name or "unknown")
        return f"{m} ({self.matrix_source}), {self.range} range ({self.range_source})"


def default_matrix(width: int, height: int) -> str:
    """The matrix assumed for an untagged stream: BT.709 for HD (at least
    1280 wide or more than 576 lines), else BT.601 -- the rule players use
    (mpv's colourspace guess). FFmpeg's swscale assumes BT.601 for any size."""
    return "bt709" if width >= 1280 or height > 576 else "bt601"


def _upsample(c: np.ndarray, sx: int, sy: int, h: int, w: int) -> np.ndarray:
    if sx > 1:
        c = np.repeat(c, sx, axis=1)
    if sy > 1:
        c = np.repeat(c, sy, axis=0)
    return c[:h, :w]


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, fmt: YuvFormat) -> np.ndarray:
    """``(3, H, W)`` R', G', B' of one frame's planes (see the module docstring
    for the exact formula, rounding and chroma upsampling).

    Raises:
        ValueError: the stream's matrix is not one iqa converts (YCgCo,
            BT.2020 constant luminance, ...).
    """
    if fmt.matrix is None:
        raise ValueError(f"colour matrix {fmt.matrix_name or 'unknown'} has no RGB conversion in iqa; "
                         "use the Y or YUV planes")
    kr, kb = MATRICES[fmt.matrix]
    kg = 1.0 - kr - kb
    b = fmt.bit_depth
    top = float(2**b - 1)
    h, w = y.shape
    sx, sy = fmt.subsampling
    yf = y.astype(np.float64)
    pb = _upsample(u, sx, sy, h, w).astype(np.float64)
    pr = _upsample(v, sx, sy, h, w).astype(np.float64)
    if fmt.range == "limited":
        s = float(2 ** (b - 8))
        yf -= 16.0 * s
        yf /= 219.0 * s
        pb -= 128.0 * s
        pb /= 224.0 * s
        pr -= 128.0 * s
        pr /= 224.0 * s
    else:
        yf /= top
        pb -= float(2 ** (b - 1))
        pb /= top
        pr -= float(2 ** (b - 1))
        pr /= top
    out = np.empty((3, h, w), dtype=np.float64)
    out[0] = yf + 2.0 * (1.0 - kr) * pr
    out[2] = yf + 2.0 * (1.0 - kb) * pb
    out[1] = (yf - kr * out[0] - kb * out[2]) / kg
    np.clip(out, 0.0, 1.0, out=out)
    out *= top
    np.rint(out, out=out)
    return out.astype(y.dtype)
