"""Turning two loaded images into a comparable pair: :func:`prepare_pair`
(alpha, grey vs colour, bit depths)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SizeMismatchError
from ..setting_values import parse_alpha
from ..spelling import spell
from .image import LoadedImage


@dataclass
class PreparedPair:
    """A reference and a distorted image ready for the metrics.

    Attributes:
        reference, distorted: arrays of shape ``(C, H, W)`` on the
            ``[0, data_range]`` scale, of one dtype: the stored ``uint8``,
            ``float32`` (also 16-bit data) or ``float64`` samples when no
            arithmetic was needed, else ``float64`` (see :func:`prepare_pair`).
            ``C`` is 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (R, G, B,
            alpha); an alpha channel is present only
            under ``alpha="premultiplied"`` when at least one image is not
            fully opaque.
        data_range: the common data range of both arrays.
        warnings: the complete list of warnings for this pair: each image's
            load warnings prefixed with ``"reference: "`` or
            ``"distorted: "``, then the pair-level ones (grey replicated to
            RGB, bit depths unified, ...). A report row can use this list
            alone.
    """

    reference: np.ndarray
    distorted: np.ndarray
    data_range: float
    warnings: list[str] = field(default_factory=list)
    #: (H, W) bool, True where pixels are ignored by every metric (see :mod:`.masks`); None: none
    ignore: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return int(self.reference.shape[0])

    @property
    def height(self) -> int:
        return int(self.reference.shape[1])

    @property
    def width(self) -> int:
        return int(self.reference.shape[2])




# --------------------------------------------------------------------------
# prepare_pair
# --------------------------------------------------------------------------


def _bits_label(img: LoadedImage) -> str:
    dt = img.pixels.dtype
    if dt == np.uint8:
        return "8-bit"
    if dt == np.uint16:
        return "16-bit"
    return "float" if dt.kind == "f" else dt.name


def _scale_note(role: str, img: LoadedImage, target: float) -> str:
    factor = target / img.data_range
    f = f"x{int(round(factor))}" if float(factor).is_integer() else f"x{factor:.6g}"
    return (
        f"{role} is {_bits_label(img)} with data range {img.data_range:g}, the other image "
        f"{target:g}: {role} scaled onto 0..{target:g} ({f})"
    )


def _storage_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a prepared plane keeps when no arithmetic was applied: uint8
    and float32/float64 as stored, uint16 as float32 (exact, and a dtype
    every torch version handles)."""
    if dtype == np.uint8 or dtype == np.float32 or dtype == np.float64:
        return dtype
    if dtype == np.uint16:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def prepare_pair(
    ref: LoadedImage, dist: LoadedImage, *, alpha: str = "premultiplied"
) -> PreparedPair:
    """Bring two loaded images onto one comparable ``(C, H, W)`` form.

    When nothing has to be computed (same data range, no transparency to
    apply) the planes keep their stored samples: ``uint8``, ``float32`` (also
    for 16-bit data, exactly) or ``float64``; otherwise they are ``float64``.
    Both arrays then have the same dtype. The metrics read these samples
    directly, so an 8-bit pair is never widened to a full float64 copy.

    Steps, each leaving a warning where it changes something:

    1. **Size**: width and height must match, else
       ``SizeMismatchError("size mismatch: 640x480 vs 641x480")`` (W x H,
       reference first), with a hint when the sizes are swapped and a file
       has an unapplied EXIF orientation. Nothing is ever resized. Two
       different ICC profiles (or one and none) give a warning.
    2. **Data range**: when the ranges differ, the image with the smaller
       range is scaled onto the larger one, ``x * big / small`` in float64
       (exact for 8 -> 16 bit, x257). The same rule covers float vs integer
       (a [0, 1] float image next to an 8-bit one is multiplied by 255) and
       bit-depth payloads (12-bit vs 16-bit: x65535/4095).
    3. **Grey vs colour**: the grey image is replicated to RGB.
    4. **Alpha** (``parse_alpha`` forms):

       * ``premultiplied`` (default): colour x alpha / range, and alpha kept
         as a channel of its own; an image without alpha counts as opaque.
         If *both* images are fully opaque the alpha channel is left out, so
         an RGB file and the same picture saved as opaque RGBA give the same
         numbers. Colour under fully transparent pixels becomes 0 and cannot
         count; a change in alpha alone always counts.
       * ``drop``: alpha ignored (premultiplied files are un-premultiplied).
       * ``over=COLOUR``: composited over the colour (0..255 per component,
         scaled to the range); a grey pair with transparency over a
         non-grey colour becomes RGB.

    Returns:
        :class:`PreparedPair`; its ``warnings`` also repeat each image's load
        warnings, prefixed with ``"reference: "`` / ``"distorted: "``.

    Raises:
        SizeMismatchError: the sizes differ.
        ValueError: ``alpha`` is not a valid specification.
    """
    mode, bg = parse_alpha(alpha)
    if (ref.width, ref.height) != (dist.width, dist.height):
        hint = ""
        tagged = [o for o in (ref.orientation, dist.orientation) if o not in (None, 1)]
        if (ref.width, ref.height) == (dist.height, dist.width) and tagged:
            hint = f" (EXIF orientation {tagged[0]}: try {spell('exif_transpose')})"
        raise SizeMismatchError(f"size mismatch: {ref.shape_str} vs {dist.shape_str}{hint}")

    notes = [f"reference: {w}" for w in ref.warnings] + [f"distorted: {w}" for w in dist.warnings]
    if ref.orientation != dist.orientation:  # same stored pixels can display rotated: say so even when they pass
        shown = [f"{role} {o if o else 1}" for role, o in (("reference", ref.orientation), ("distorted", dist.orientation))]
        notes.append(f"EXIF orientations differ ({', '.join(shown)}): the two files display differently; "
                     f"pixels compared as stored ({spell('exif_transpose')} compares them as displayed)")
    if ref.icc_profile != dist.icc_profile:  # one without, or other bytes; the same profile says nothing
        notes.append("ICC profiles differ: colours compared as stored, not colour-managed")
    rng = float(max(ref.data_range, dist.data_range))

    def as_planes(img: LoadedImage, role: str) -> np.ndarray:
        # (C, H, W): a view of the stored samples, or float64 when scaled
        x = np.moveaxis(img.pixels, 2, 0)
        if img.data_range != rng:
            notes.append(_scale_note(role, img, rng))
            x = x.astype(np.float64, order="C")
            x *= rng
            x /= img.data_range  # (x * big) / small: one rounding at most
        return x

    parts = []
    for img, role in ((ref, "reference"), (dist, "distorted")):
        x = as_planes(img, role)
        if img.has_alpha:
            parts.append([x[:-1], x[-1], img.alpha_associated])
        else:
            parts.append([x, None, False])
    (rc, ra, r_assoc), (dc, da, d_assoc) = parts

    def opaque(a: np.ndarray | None) -> bool:
        return a is None or bool((a == rng).all())

    both_opaque = opaque(ra) and opaque(da)

    def to_rgb(c: np.ndarray) -> np.ndarray:
        return np.repeat(c, 3, axis=0) if c.shape[0] == 1 else c

    if rc.shape[0] != dc.shape[0]:
        grey_role = "reference" if rc.shape[0] == 1 else "distorted"
        notes.append(f"{grey_role} is greyscale, the other image colour: greyscale replicated to RGB")
        rc, dc = to_rgb(rc), to_rgb(dc)

    if mode == "over" and not both_opaque and rc.shape[0] == 1 and not (bg[0] == bg[1] == bg[2]):
        notes.append("greyscale images composited over a coloured background: compared as RGB")
        rc, dc = to_rgb(rc), to_rgb(dc)

    def finish(c: np.ndarray, a: np.ndarray | None, assoc: bool) -> np.ndarray:
        plain = mode == "drop" or (mode == "premultiplied" and both_opaque) or a is None and mode == "over"
        if plain and not (a is not None and assoc):  # no arithmetic: keep the samples
            return np.ascontiguousarray(c, dtype=_storage_dtype(c.dtype))
        c = c.astype(np.float64)
        a = None if a is None else a.astype(np.float64)
        if plain:  # stored premultiplied: undo it
            a3 = a[None]
            out = np.divide(c * rng, a3, out=np.zeros_like(c), where=a3 > 0)
        elif mode == "premultiplied":
            if a is None:
                a = np.full(c.shape[1:], rng)
            pc = c if assoc else c * a[None] / rng
            out = np.concatenate([pc, a[None]], axis=0)
        else:  # over
            colour = np.asarray(bg, dtype=np.float64)[: c.shape[0], None, None] * rng / 255.0
            a3 = a[None]
            if assoc:
                out = c + colour * (rng - a3) / rng
            else:
                out = (c * a3 + colour * (rng - a3)) / rng
        return np.ascontiguousarray(out, dtype=np.float64)

    out_r, out_d = finish(rc, ra, r_assoc), finish(dc, da, d_assoc)
    if out_r.dtype != out_d.dtype:  # e.g. one side scaled: compare in float64
        out_r, out_d = out_r.astype(np.float64), out_d.astype(np.float64)
    return PreparedPair(reference=out_r, distorted=out_d, data_range=rng, warnings=notes)
