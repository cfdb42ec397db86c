"""Reading iqa's own JSONL streams and JSON documents back into rows.

A stream is an optional first settings line
(``{"schema": "iqa/1", "type": "settings", "settings": {...}}``), pair
lines (each after its frame lines, under ``--per-frame``; those are not read
back), and a summary line that repeats the settings. A run killed
mid-write leaves a last line without its newline, or one that does not
parse: it is reported as ``torn`` and left out. Any other bad line is an
error naming the file and the line. Nothing here opens an image.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import IqaError
from ..results import MISMATCH_PREFIXES, READABLE_SCHEMAS, PairResult
from ..status import PairStatus

@dataclass
class Report:
    """What a report file holds."""

    path: str
    settings: dict[str, Any] | None = None  # from the settings line, else the summary line
    iqa_version: str | None = None
    rows: list[PairResult] = field(default_factory=list)
    summary: dict[str, Any] | None = None  # the last summary line
    torn: bool = False  # the last line was cut short (dropped)
    #: byte offset just past the last pair or settings line: where a resumed run appends
    end_of_rows: int = 0
    #: a summary line comes before the end of the rows (the file cannot simply be truncated)
    summary_inside: bool = False


def _number(v: Any) -> float | int | None:
    if v is None or isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    if v in ("inf", "-inf", "nan"):
        return float(v)
    raise ValueError(f"not a number: {v!r}")


def row_from_json(obj: dict[str, Any]) -> PairResult:
    """A row from its pair object (the inverse of ``PairResult.to_json``).

    The wire format writes a size mismatch (and frames that do not pair up)
    as ``error``; its message (``size mismatch: ...``, ``frame mismatch:
    ...``, without a path) tells it apart again, so that a re-read batch
    keeps its exit code.
    """
    status = PairStatus(obj["status"])
    error = obj.get("error")
    if status is PairStatus.ERROR and isinstance(error, str) and error.startswith(MISMATCH_PREFIXES):
        status = PairStatus.SIZE_MISMATCH
    metrics = {str(k): _number(v) for k, v in (obj.get("metrics") or {}).items()}
    return PairResult(
        reference=obj.get("reference"),
        distorted=obj.get("distorted"),
        status=status,
        width=obj.get("width"),
        height=obj.get("height"),
        channels=obj.get("channels"),
        data_range=_number(obj.get("data_range")),
        metrics=metrics,  # type: ignore[arg-type]
        warnings=[str(w) for w in obj.get("warnings") or []],
        error=error,
        video=obj.get("video"),
    )


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=lambda c: math.nan if c == "NaN" else float(c))


def read_jsonl(path: str) -> Report:
    """Read a JSONL stream (see the module docstring). Raises :class:`IqaError`
    for a file that cannot be read or a bad line other than a torn last one."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise IqaError(f"cannot read: {e.strerror or e}", path) from None
    rep = Report(path)
    lines = data.split(b"\n")
    offset = 0
    for n, raw in enumerate(lines, 1):
        last = n == len(lines)
        offset += len(raw) + 1
        if not raw.strip():
            continue
        try:
            obj = _loads(raw.decode("utf-8"))
            if not isinstance(obj, dict) or obj.get("schema") not in READABLE_SCHEMAS:
                raise ValueError("not an iqa/1 or iqa/2 line")
            kind = obj.get("type")
            if kind == "pair":
                row = row_from_json(obj)
            elif kind not in ("settings", "summary", "frame"):
                raise ValueError(f"unknown line type {kind!r}")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            if last or (n == len(lines) - 1 and not lines[-1]):
                rep.torn = True  # the last line: a run killed mid-write
                break
            raise IqaError(f"line {n}: not an iqa JSONL line ({e})", path) from None
        if last:  # a complete object but no newline: the write was cut after it
            rep.torn = True
            break
        if kind == "frame":  # a pair's frames (--per-frame): its pair line follows; not read back
            continue
        if kind == "pair":
            rep.rows.append(row)
            rep.end_of_rows = offset
            rep.summary_inside = rep.summary_inside or rep.summary is not None
        elif kind == "settings":
            rep.settings = obj.get("settings")
            rep.iqa_version = obj.get("iqa_version", rep.iqa_version)
            if not rep.rows:
                rep.end_of_rows = offset
        else:
            rep.summary = obj.get("summary")
            rep.iqa_version = obj.get("iqa_version", rep.iqa_version)
            if rep.settings is None or not rep.rows:
                rep.settings = obj.get("settings", rep.settings)
    return rep


def read_json(path: str) -> Report:
    """Read a JSON document (``--format json``), iqa/1 or iqa/2."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = _loads(f.read())
    except OSError as e:
        raise IqaError(f"cannot read: {e.strerror or e}", path) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise IqaError(f"not a JSON document ({e})", path) from None
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE_SCHEMAS or not isinstance(doc.get("pairs"), list):
        raise IqaError("not an iqa JSON document (schema iqa/1 or iqa/2)", path)
    try:
        rows = [row_from_json(p) for p in doc["pairs"]]
    except (ValueError, KeyError, TypeError) as e:
        raise IqaError(f"bad pair object ({e})", path) from None
    return Report(path, settings=doc.get("settings"), iqa_version=doc.get("iqa_version"), rows=rows,
                  summary=doc.get("summary"))


def read_report(path: str) -> Report:
    """A JSON document (``.json``) or a JSONL stream (anything else)."""
    return read_json(path) if str(path).lower().endswith(".json") else read_jsonl(path)
