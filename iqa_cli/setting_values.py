"""Parsers of the setting values that have a syntax of their own: the alpha
mode, an ignore region and a device name.

Pure functions of strings (no numpy, no torch), so that the settings table
(:mod:`.settings`) can check a value in any front end before anything heavy is
imported. Each raises :class:`ValueError` with a one-line message that names
the value, never a command-line flag.
"""

from __future__ import annotations

import re

Region = tuple[int, int, int, int]

_NAMED_COLOURS = {"white": (255.0, 255.0, 255.0), "black": (0.0, 0.0, 0.0)}
_REGION = re.compile(r"^\s*([+-]?\d+)\s*,\s*([+-]?\d+)\s*,\s*([+-]?\d+)\s*,\s*([+-]?\d+)\s*$")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def parse_alpha(spec: str) -> tuple[str, tuple[float, float, float] | None]:
    """Parse an alpha mode.

    ``"premultiplied"`` and ``"drop"`` give ``(mode, None)``;
    ``"over=white"``, ``"over=black"`` and ``"over=#rrggbb"`` give
    ``("over", (r, g, b))`` with components in 0..255 (they are scaled to the
    image's data range when compositing). Case-insensitive.

    Raises:
        ValueError: anything else, with a message listing the valid forms.
    """
    if not isinstance(spec, str):
        raise ValueError(f"alpha must be a string, got {spec!r}")
    s = spec.strip().lower()
    if s in ("premultiplied", "drop"):
        return s, None
    if s.startswith("over="):
        colour = s[5:].strip()
        if colour in _NAMED_COLOURS:
            return "over", _NAMED_COLOURS[colour]
        if re.fullmatch(r"#[0-9a-f]{6}", colour):
            r, g, b = (float(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
            return "over", (r, g, b)
        raise ValueError(f"invalid alpha background {colour!r}: use white, black or #rrggbb")
    raise ValueError(f"invalid alpha mode {spec!r}: use premultiplied, drop or over=white|black|#rrggbb")


def parse_region(text: str) -> Region:
    """``"X,Y,W,H"`` → ``(X, Y, W, H)`` (whole numbers of pixels, spaces allowed).

    Raises:
        ValueError: not four comma-separated integers (one-line message).
    """
    m = _REGION.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"region {text!r} is not X,Y,W,H (four whole numbers of pixels)")
    return tuple(int(g) for g in m.groups())  # type: ignore[return-value]


def parse_device(spec: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, in lower case (whether the
    device exists is the runner's question, which imports torch)."""
    s = str(spec).strip().lower()
    if not _DEVICE.match(s):
        raise ValueError(f"expected auto, cpu, cuda or cuda:N, not {spec!r}")
    return s
