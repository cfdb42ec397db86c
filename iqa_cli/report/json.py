"""Strict JSON and JSONL (the ``iqa/2`` contract, docs/output.md).

Strict means what RFC 8259 allows: no ``NaN``/``Infinity`` literals. Non-finite
numbers are the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (see
:func:`iqa_cli.results.json_number`); a parser can be run with
``parse_constant`` raising and never trip. Output is ASCII (``\\uXXXX``
escapes), so any file name, even one that is not valid UTF-8, survives.

JSONL (``--format jsonl``): a settings line, then one line per pair, flushed
as soon as the pair is scored, then one summary line. Every line is a
complete object that carries ``"schema": "iqa/2"`` and ``"type"``
(``"settings"``, ``"pair"`` or ``"summary"``), so a line can be routed and
validated on its own (``grep``, ``tail -n 1``, a truncated file from an
interrupted run, whose first line still says how it was scored). The first
line is::

    {"schema": "iqa/2", "type": "settings", "iqa_version": "...", "settings": {...}}

a pair line is the pair object of the JSON document plus ``schema`` and
``type``. With ``--per-frame``, the frames of a pair of frame sequences come
just before its pair line, one line each (a pair line closes its frames, so
frame lines after the last pair line of an interrupted run belong to no
finished pair)::

    {"schema": "iqa/2", "type": "frame", "pair": <the pair's reference path>,
     "frame": <0-based reference frame index>, "time": <seconds or null>, "metrics": {...}}

The summary line (absent when the run was interrupted) is::

    {"schema": "iqa/2", "type": "summary", "iqa_version": "...",
     "settings": {...}, "summary": {...}}
"""

from __future__ import annotations

import json
import math
from typing import IO, Any, Mapping

from .._version import __version__
from ..formatting import json_number
from ..results import SCHEMA, PairResult, Settings, summary_to_json


def strict(obj: Any) -> Any:
    """Copy of ``obj`` with non-finite floats as ``"inf"``/``"-inf"``/``"nan"``.

    Also turns numpy scalars and arrays (anything with ``.item()``/``.tolist()``)
    and tuples into plain JSON types. Documents from
    :func:`iqa_cli.results.document` are already strict; this is the safety net.
    """
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else json_number(obj)
    if isinstance(obj, Mapping):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalar or array
        return strict(obj.tolist())
    if hasattr(obj, "item"):
        return strict(obj.item())
    return obj  # json.dumps decides (raises TypeError for unknown types)


def _dumps(obj: Any, indent: int | None) -> str:
    separators = None if indent is not None else (",", ":")
    return json.dumps(strict(obj), allow_nan=False, indent=indent, separators=separators)


def to_json_text(doc: Mapping[str, Any]) -> str:
    """The document as strict JSON, indented by 2, without a trailing newline."""
    _checked(doc, "report")
    return _dumps(doc, indent=2)


def _checked(obj: Mapping[str, Any], kind: str) -> None:
    """Under ``IQA_CHECK_CONTRACT=1`` (the tests), refuse to write what breaks the contract."""
    from .contract import checking, validate

    if checking() and "schema" in obj:  # a document of the contract (helpers dump other objects too)
        validate(strict(obj), kind)


def write_json(stream: IO[str], doc: Mapping[str, Any]) -> None:
    """Write :func:`to_json_text` plus a newline to ``stream`` and flush."""
    stream.write(to_json_text(doc) + "\n")
    stream.flush()


def settings_line(settings: Settings) -> dict[str, Any]:
    """The JSONL object that starts a stream."""
    return {"schema": SCHEMA, "type": "settings", "iqa_version": __version__, "settings": settings.to_json()}


def pair_line(result: PairResult) -> dict[str, Any]:
    """The JSONL object for one pair."""
    return {"schema": SCHEMA, "type": "pair", **result.to_json()}


def frame_lines(result: PairResult) -> list[dict[str, Any]]:
    """The JSONL objects of a pair's frames (none for an image pair)."""
    return [{"schema": SCHEMA, "type": "frame", "pair": result.reference, **f} for f in result.frame_lines()]


def summary_line(summary: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The JSONL object that ends a stream."""
    return {
        "schema": SCHEMA,
        "type": "summary",
        "iqa_version": __version__,
        "settings": settings.to_json(),
        "summary": summary_to_json(dict(summary)),
    }


class JsonlWriter:
    """Stream pairs as JSON Lines; each line is written whole and flushed.
    ``per_frame``: a pair's frame lines before its pair line.

    ``count`` is the number of pair lines written so far.
    """

    def __init__(self, stream: IO[str], *, per_frame: bool = False):
        self.stream = stream
        self.per_frame = per_frame
        self.count = 0

    def _line(self, obj: Mapping[str, Any]) -> None:
        _checked(obj, "jsonl")
        # one write call per line, so an interrupted run leaves whole lines
        self.stream.write(_dumps(obj, indent=None) + "\n")
        self.stream.flush()

    def write_settings(self, settings: Settings) -> None:
        self._line(settings_line(settings))

    def write_pair(self, result: PairResult) -> None:
        if self.per_frame:
            for line in frame_lines(result):
                self._line(line)
        self._line(pair_line(result))
        self.count += 1

    def write_summary(self, summary: Mapping[str, Any], settings: Settings) -> None:
        self._line(summary_line(summary, settings))
