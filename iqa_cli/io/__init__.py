"""Reading image files and turning two of them into a comparable pair.

:func:`load_image` (:mod:`.load`, with the decoders :mod:`.pillow` and
:mod:`.tiff`) decodes one file into a :class:`LoadedImage`: the samples
exactly as stored and their data range. :func:`prepare_pair` (:mod:`.align`)
turns a reference and a distorted image into a :class:`PreparedPair` on one
common scale, with alpha, grey-vs-colour and bit-depth differences resolved
and a warning for every such decision.
"""

from __future__ import annotations

from .align import PreparedPair, parse_alpha, prepare_pair
from .image import DEFAULT_MAX_PIXELS, LoadedImage
from .load import load_image

__all__ = ["DEFAULT_MAX_PIXELS", "LoadedImage", "PreparedPair", "load_image", "prepare_pair", "parse_alpha"]
