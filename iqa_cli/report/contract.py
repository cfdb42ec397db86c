"""The output contract ``iqa/2`` as JSON Schema (draft 2020-12).

The schemas are built here, the settings part from the settings table
(:data:`iqa_cli.settings.DECLARED`), and shipped as files in
``iqa_cli/schemas/`` (``report.schema.json``: the JSON document of ``--json``,
``check --json`` and ``compare --protocol all``; ``jsonl.schema.json``: one
line of a JSONL stream). ``python -m iqa_cli.report.contract`` writes the
files again; a test keeps them equal to what this module builds. docs/output.md
describes the contract in words.

:func:`validate` checks a document or a line against them (needs the
``jsonschema`` package, a test extra). When the environment sets
``IQA_CHECK_CONTRACT=1`` (the test suite does), every JSON document and JSONL
line iqa writes is validated before it is written, so no test can produce an
output that breaks the contract without failing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..metrics.pooling import POOLS
from ..metrics.registry import COLUMNS, METRICS
from ..results import SCHEMA
from ..settings import DECLARED, Setting
from ..status import CheckStatus, PairStatus

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
FILES = {"report": "report.schema.json", "jsonl": "jsonl.schema.json"}
_BASE = "https://github.com/iqa-cli/iqa/schemas/"

_NONFINITE = {"enum": ["inf", "-inf", "nan"]}
_NUMBER = {"anyOf": [{"type": "number"}, _NONFINITE]}
_NUMBER_OR_NULL = {"anyOf": [{"type": "number"}, _NONFINITE, {"type": "null"}]}


def _setting_schema(d: Setting) -> dict[str, Any]:
    """One setting's value as a report records it."""
    if d.name == "data_range":
        return {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"const": "dtype"}],
                "description": d.help}
    if d.name == "device":
        return {"type": "string", "pattern": r"^(cpu|cuda(:\d+)?)$", "description": "the device used"}
    if d.kind == "choice":
        s: dict[str, Any] = {"enum": list(d.choices)}
    elif d.kind in ("float", "int"):
        s = {"type": "number" if d.kind == "float" else "integer"}
        if d.minimum is not None:
            s["exclusiveMinimum" if d.exclusive_minimum else "minimum"] = d.minimum
        if d.maximum is not None:
            s["maximum"] = d.maximum
    elif d.kind == "bool":
        s = {"type": "boolean"}
    elif d.kind == "metrics":
        s = {"type": "array", "items": {"enum": list(METRICS)}, "minItems": 1, "uniqueItems": True}
    elif d.kind == "regions":
        s = {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 4,
                                        "maxItems": 4}}
    elif d.kind in ("path", "alpha"):
        s = {"type": "string"}
    else:  # pragma: no cover - a new kind must say how reports record it
        raise ValueError(f"setting {d.name}: no schema for kind {d.kind}")
    if d.optional:
        s = {"anyOf": [s, {"type": "null"}]}
    s["description"] = d.help
    return s


def settings_schema() -> dict[str, Any]:
    """Every setting under its JSON key (dotted keys nest), and the run keys."""
    props: dict[str, Any] = {}
    for d in DECLARED.values():
        *parents, leaf = d.json_key.split(".")
        node = props
        for p in parents:
            node = node.setdefault(p, {"type": "object", "properties": {}, "additionalProperties": False,
                                       "required": []})["properties"]
        node[leaf] = _setting_schema(d)
    for d in DECLARED.values():  # every nested key is required within its object
        parts = d.json_key.split(".")
        if len(parts) == 2:
            props[parts[0]]["required"].append(parts[1])
    props.update({
        "engine": {"enum": ["local", "dask"], "description": "where a batch was scored"},
        "shard": {"type": "string", "pattern": r"^\d+/\d+$", "description": "K/N of a sharded batch"},
        "cwd": {"type": "string", "description": "the folder the run's relative paths start from"},
    })
    return {"type": "object", "properties": props, "additionalProperties": False,
            "required": sorted({d.json_key.split(".")[0] for d in DECLARED.values()})}


def _metrics_object(values: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "propertyNames": {"enum": sorted(COLUMNS)}, "additionalProperties": values}


def _frame_ref(**extra: Any) -> dict[str, Any]:
    """One frame of a pair of frame sequences, named by index and time."""
    props = {"frame": {"type": "integer", "minimum": 0}, "distorted_frame": {"type": "integer", "minimum": 0},
             "time": {"type": ["number", "null"], "description": "seconds from the reference's first frame; "
                                                                    "null for frames without a rate"}, **extra}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def video_schema() -> dict[str, Any]:
    """A pair of frame sequences: counts, every pool of each column, the worst frames."""
    pools = {"type": "object", "properties": {k: _NUMBER_OR_NULL for k in POOLS}, "required": list(POOLS),
             "additionalProperties": False}
    count = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "properties": {
            "frames": {**count, "description": "frame pairs scored"},
            "reference_frames": count, "distorted_frames": count,
            "frame_rate": {"type": ["number", "null"]}, "duration": {"type": ["number", "null"]},
            "timed": {"type": "boolean"},
            "psnr_cap_db": {"type": "number", "description": "the per-frame PSNR cap of psnr_mean_db and the "
                                                             "pooled psnr (6 * bits + 12 dB)"},
            "frames_at_cap": count,
            "pools": _metrics_object(pools),
            "worst": _metrics_object(_frame_ref(value=_NUMBER_OR_NULL)),
            "pictured": _frame_ref(column={"enum": sorted(COLUMNS)}),
        },
        "required": ["frames", "reference_frames", "distorted_frames", "frame_rate", "duration", "timed", "pools",
                     "worst"],
        "additionalProperties": False,
    }


def frame_schema() -> dict[str, Any]:
    """One frame's values (``--per-frame``): the image API's values of that frame pair."""
    return {"type": "object",
            "properties": {"frame": {"type": "integer", "minimum": 0}, "time": {"type": ["number", "null"]},
                           "metrics": _metrics_object(_NUMBER_OR_NULL)},
            "required": ["frame", "time", "metrics"], "additionalProperties": False}


def pair_schema(*, frames: bool = True) -> dict[str, Any]:
    """The pair object; ``frames``: with the ``frames`` array of ``--per-frame`` (the JSON document's)."""
    def nullable(t: str) -> dict[str, Any]:
        return {"type": [t, "null"]}

    extra: dict[str, Any] = {"video": {"$ref": "#/$defs/video"}}
    if frames:
        extra["frames"] = {"type": "array", "items": {"$ref": "#/$defs/frame"}}
    return {
        "type": "object",
        "properties": {
            "reference": nullable("string"),
            "distorted": nullable("string"),
            "status": {"enum": sorted({s.wire for s in PairStatus})},
            "width": nullable("integer"),
            "height": nullable("integer"),
            "channels": nullable("integer"),
            "data_range": _NUMBER_OR_NULL,
            "metrics": _metrics_object(_NUMBER_OR_NULL),
            "warnings": {"type": "array", "items": {"type": "string"}},
            "error": nullable("string"),
            **extra,
        },
        "required": ["reference", "distorted", "status", "width", "height", "channels", "data_range", "metrics",
                     "warnings", "error"],
        "additionalProperties": False,
    }


def summary_schema() -> dict[str, Any]:
    stats = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 1}, "mean": _NUMBER, "std": _NUMBER, "min": _NUMBER,
                       "median": _NUMBER, "max": _NUMBER, "infinite": {"type": "integer", "minimum": 1}},
        "required": ["n", "mean", "std", "min", "median", "max"],
        "additionalProperties": False,
    }
    counts = {k: {"type": "integer", "minimum": 0} for k in ("pairs", "ok", "errors", "missing")}
    return {"type": "object", "properties": {**counts, "metrics": _metrics_object(stats)},
            "required": [*counts, "metrics"], "additionalProperties": False}


def check_schema() -> dict[str, Any]:
    gate = {
        "type": "object",
        "properties": {"gate": {"type": "string"}, "metric": {"enum": sorted(COLUMNS)},
                       "op": {"enum": ["<", "<=", ">", ">="]}, "threshold": _NUMBER, "value": _NUMBER_OR_NULL,
                       "margin": _NUMBER_OR_NULL, "passed": {"type": "boolean"}, "source": {"type": "string"},
                       "note": {"type": "string"}},
        "required": ["gate", "metric", "op", "threshold", "value", "margin", "passed", "source"],
        "additionalProperties": False,
    }
    row = {
        "type": "object",
        "properties": {
            "key": {"type": "string"}, "baseline": {"type": ["string", "null"]},
            "output": {"type": ["string", "null"]}, "status": {"enum": [s.value for s in CheckStatus]},
            "regression": {"type": "boolean"}, "gates": {"type": "array", "items": gate},
            "reason": {"type": ["string", "null"]}, "where": {"type": ["string", "null"]},
            "width": {"type": ["integer", "null"]}, "height": {"type": ["integer", "null"]},
            "metrics": _metrics_object(_NUMBER_OR_NULL), "warnings": {"type": "array", "items": {"type": "string"}},
            "action": {"enum": [None, "replaced", "added", "removed"]},
        },
        "required": ["key", "baseline", "output", "status", "regression", "gates", "reason", "where", "width",
                     "height", "metrics", "warnings", "action"],
        "additionalProperties": False,
    }
    override = {"type": "object", "properties": {
        "glob": {"type": "array", "items": {"type": "string"}},
        "fail_if": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
        "ignore": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "mask": {"type": "string"}}, "required": ["glob", "fail_if"], "additionalProperties": False}
    strings = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object",
        "properties": {
            "verdict": {"type": "string"}, "exit_code": {"enum": [0, 1, 2, 3]}, "ci": {"type": "boolean"},
            "allow_new": {"type": "boolean"}, "config": {"type": ["string", "null"]}, "gates": strings,
            "overrides": {"type": "array", "items": override}, "pairs": {"type": "array", "items": row},
            "changes": strings, "not_applied": strings,
        },
        "required": ["verdict", "exit_code", "ci", "allow_new", "config", "gates", "overrides", "pairs", "changes"],
        "additionalProperties": False,
    }


def _defs() -> dict[str, Any]:
    return {"settings": settings_schema(), "pair": pair_schema(), "summary": summary_schema(),
            "check": check_schema(), "video": video_schema(), "frame": frame_schema()}


def report_schema() -> dict[str, Any]:
    """The JSON document (``--json``, ``check --json``; ``compare --protocol all``: one per protocol)."""
    ref = {"$ref": "#/$defs/document"}
    document = {
        "type": "object",
        "properties": {
            "schema": {"const": SCHEMA}, "iqa_version": {"type": "string"},
            "settings": {"$ref": "#/$defs/settings"},
            "pairs": {"type": "array", "items": {"$ref": "#/$defs/pair"}},
            "summary": {"$ref": "#/$defs/summary"}, "check": {"$ref": "#/$defs/check"},
        },
        "required": ["schema", "iqa_version", "settings", "pairs", "summary"],
        "additionalProperties": False,
    }
    protocols = {"type": "object", "properties": {"schema": {"const": SCHEMA},
                                                  "protocols": {"type": "array", "items": ref}},
                 "required": ["schema", "protocols"], "additionalProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _BASE + FILES["report"],
            "title": f"iqa JSON report ({SCHEMA})", "oneOf": [ref, protocols],
            "$defs": {**_defs(), "document": document}}


def jsonl_schema() -> dict[str, Any]:
    """One line of a JSONL stream: settings first, then pairs (each after its
    frame lines, under ``--per-frame``), then a summary."""
    head = {"schema": {"const": SCHEMA}}
    settings_line = {"type": "object", "properties": {**head, "type": {"const": "settings"},
                                                      "iqa_version": {"type": "string"},
                                                      "settings": {"$ref": "#/$defs/settings"}},
                     "required": ["schema", "type", "iqa_version", "settings"], "additionalProperties": False}
    pair = pair_schema(frames=False)  # a stream has frame lines instead
    pair_line = {**pair, "properties": {**head, "type": {"const": "pair"}, **pair["properties"]},
                 "required": ["schema", "type", *pair["required"]]}
    frame = frame_schema()
    frame_line = {**frame, "properties": {**head, "type": {"const": "frame"},
                                          "pair": {"type": ["string", "null"],
                                                   "description": "the pair's reference path"},
                                          **frame["properties"]},
                  "required": ["schema", "type", "pair", *frame["required"]]}
    summary_line = {"type": "object", "properties": {**head, "type": {"const": "summary"},
                                                     "iqa_version": {"type": "string"},
                                                     "settings": {"$ref": "#/$defs/settings"},
                                                     "summary": {"$ref": "#/$defs/summary"}},
                    "required": ["schema", "type", "iqa_version", "settings", "summary"],
                    "additionalProperties": False}
    defs = _defs()
    del defs["pair"], defs["check"], defs["frame"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _BASE + FILES["jsonl"],
            "title": f"iqa JSONL line ({SCHEMA})", "oneOf": [settings_line, frame_line, pair_line, summary_line],
            "$defs": defs}


BUILDERS = {"report": report_schema, "jsonl": jsonl_schema}


def shipped(kind: str) -> dict[str, Any]:
    """The schema file shipped in the package."""
    return json.loads((SCHEMA_DIR / FILES[kind]).read_text(encoding="utf-8"))


_VALIDATORS: dict[str, Any] = {}


def validate(obj: Any, kind: str) -> None:
    """Raise ``jsonschema.ValidationError`` when ``obj`` breaks the contract
    (``kind``: ``report`` or ``jsonl``)."""
    if kind not in _VALIDATORS:
        import jsonschema

        _VALIDATORS[kind] = jsonschema.Draft202012Validator(shipped(kind))
    _VALIDATORS[kind].validate(obj)


def checking() -> bool:
    """Outputs are validated as they are written (``IQA_CHECK_CONTRACT=1``)."""
    return os.environ.get("IQA_CHECK_CONTRACT", "") not in ("", "0")


def write_files() -> list[Path]:
    out = []
    SCHEMA_DIR.mkdir(exist_ok=True)
    for kind, name in FILES.items():
        path = SCHEMA_DIR / name
        path.write_text(json.dumps(BUILDERS[kind](), indent=2) + "\n", encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":  # python -m iqa_cli.report.contract
    for p in write_files():
        print(p)
