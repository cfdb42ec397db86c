"""``iqa review --from-report check.json``: what a CI run of ``iqa check
--json`` decided, read back so the same pairs can be scored again here with
its settings and gates, and the verdicts compared.

The report (contract ``iqa/2``, docs/output.md) holds every setting under
its JSON key (read with :meth:`iqa_cli.settings.Settings.from_json`, the
exact inverse of what the check wrote), the gates and per-glob overrides
the check applied (``check.gates``, ``check.overrides``), whether it ran
with ``CI=true`` and ``--allow-new``, and one row per pair. It does not
hold the pixels: the pictures are drawn from the outputs CI uploaded,
scored again here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..gate.gates import Gate, parse_gates
from ..gate.rows import CheckRow, Override
from ..pairing import compile_patterns
from ..results import SCHEMA
from ..settings import Settings


@dataclass
class CiReport:
    """The parts of a check report a review needs."""

    path: str
    settings: Settings
    gates: list[Gate]
    overrides: list[Override]
    ci: bool
    allow_new: bool
    #: the report's check rows by key
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)


def _need(cond: bool, path: str, what: str) -> None:
    if not cond:
        raise UsageError(f"not the JSON report of a check: {what}", path)


def read_report(path: str) -> CiReport:
    """Read ``path``; :class:`UsageError` naming the file when it is not the
    JSON document of an ``iqa check --json`` run of contract ``iqa/2``."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise UsageError(f"cannot read: {e.strerror or e}", path) from None
    except ValueError as e:
        raise UsageError(f"not JSON: {e}", path) from None
    _need(isinstance(doc, dict), path, "not an object")
    _need(doc.get("schema") == SCHEMA, path, f"schema {doc.get('schema')!r}, expected {SCHEMA!r}")
    check = doc.get("check")
    _need(isinstance(check, dict), path, "no \"check\" object")
    _need(isinstance(doc.get("settings"), dict), path, "no \"settings\" object")
    for key, kind in (("gates", list), ("overrides", list), ("pairs", list), ("ci", bool), ("allow_new", bool)):
        _need(isinstance(check.get(key), kind), path, f"check.{key} is missing or not a {kind.__name__}")
    try:
        settings = Settings.from_json(doc["settings"])
    except ValueError as e:
        raise UsageError(f"settings: {e}", path) from None
    source = f"{path}: check"
    gates = parse_gates(check["gates"], source)
    overrides = []
    for i, o in enumerate(check["overrides"]):
        src = f"{path}: check.overrides[{i}]"
        _need(isinstance(o, dict) and isinstance(o.get("glob"), list), path, f"check.overrides[{i}] has no glob")
        try:
            ignore = tuple(tuple(int(v) for v in r) for r in o.get("ignore") or ())
        except (TypeError, ValueError):
            raise UsageError(f"check.overrides[{i}].ignore is not a list of [x, y, w, h]", path) from None
        overrides.append(Override(compile_patterns(o["glob"], f"{src}.glob"),
                                  parse_gates(o["fail_if"], src) if o.get("fail_if") is not None else None,
                                  ignore, o.get("mask")))
    rows = {}
    for row in check["pairs"]:
        _need(isinstance(row, dict) and isinstance(row.get("key"), str) and isinstance(row.get("status"), str),
              path, "a check row without key or status")
        rows[row["key"]] = row
    return CiReport(path, settings, gates, overrides, check["ci"], check["allow_new"], rows)


def _verdict(row: dict[str, Any] | CheckRow) -> str:
    if isinstance(row, CheckRow):
        status, regression = str(row.status), row.regression
    else:
        status, regression = row["status"], bool(row.get("regression"))
    return status if status != "NEW" else f"NEW ({'a regression' if regression else 'passing'})"


def differences(report: CiReport, rows: list[CheckRow]) -> tuple[dict[str, str], list[str]]:
    """Where this run and the report disagree: per key, a warning for a pair
    whose verdict differs; and lines naming the pairs found on one side only."""
    here = {r.key: r for r in rows}
    per_pair: dict[str, str] = {}
    for key, row in here.items():
        ci = report.rows.get(key)
        if ci is not None and _verdict(ci) != _verdict(row):
            why = f": {ci['reason']}" if ci.get("reason") and ci["status"] != "FAIL" else ""
            failed = [g["gate"] for g in ci.get("gates") or () if not g.get("passed")]
            if failed:
                why = f" ({', '.join(failed)} failed there)"
            per_pair[key] = (f"CI's verdict was {_verdict(ci)}{why}; here it is {_verdict(row)} (another "
                             "baseline, other outputs than CI's, or other decoders)")
    notes = []
    only_ci = [k for k in report.rows if k not in here]
    only_here = [k for k in here if k not in report.rows]
    for names, text in ((only_ci, "in the report but not found here"),
                        (only_here, "not in the report (CI did not check them)")):
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            notes.append(f"{len(names)} pair(s) {text}: {shown}")
    return per_pair, notes
