"""Settings of a run as its outputs record them, and back.

:class:`RunSettings` is :class:`~iqa_cli.results.Settings` plus the keys that
say how a batch was run, not what it computed: ``engine`` (``local`` or
``dask``) and ``shard`` (``"K/N"``). :func:`settings_from_json` rebuilds
settings from a report's ``settings`` object, so that ``iqa merge`` and
``--resume`` can write reports again; :func:`differing_key` names the first
setting in which two reports disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import IqaError
from ..metrics.registry import METRICS
from ..results import Settings

#: keys that record how a run was spread, not what it computed: two files
#: that differ only in them hold comparable rows
RUN_KEYS = ("engine", "shard")


@dataclass(frozen=True)
class RunSettings(Settings):
    """Settings plus keys recorded after the metric settings (``extra``: (key, value) pairs, in order)."""

    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out.update(self.extra)
        return out

    def with_extra(self, **kw: Any) -> "RunSettings":
        """A copy with keys set (``None`` removes a key)."""
        extra = dict(self.extra)
        for k, v in kw.items():
            if v is None:
                extra.pop(k, None)
            else:
                extra[k] = v
        return dataclasses.replace(self, extra=tuple(extra.items()))


def run_settings(settings: Settings, **extra: Any) -> RunSettings:
    """``settings`` with run keys (``engine="dask"``, ``shard="0/3"``; ``None`` leaves a key out)."""
    base = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)}
    if isinstance(settings, RunSettings):
        return settings.with_extra(**extra)
    return RunSettings(**base).with_extra(**extra)


def _get(obj: dict[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _flat(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def settings_from_json(obj: dict[str, Any], path: str | None = None) -> RunSettings:
    """The settings a report recorded (the inverse of ``Settings.to_json``).

    Keys that are not metric settings (``engine``, ``shard``, any a later
    version adds) are kept in ``extra``, so the settings are written back as
    they were read. Raises :class:`IqaError` naming ``path`` when a setting
    is missing or has the wrong type.
    """
    try:
        metrics = tuple(obj["metrics"])
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise IqaError(f"settings name unknown metric {unknown[0]!r} (written by another iqa version?)", path)
        dr = obj["data_range"]
        kw: dict[str, Any] = dict(
            metrics=metrics,
            color=str(obj["color"]),
            alpha=str(obj["alpha"]),
            downsample=str(obj["downsample"]),
            data_range=None if dr == "dtype" else float(dr),
            bit_depth=None if obj.get("bit_depth") is None else int(obj["bit_depth"]),
            device=str(obj["device"]),
        )
        for name in metrics:
            for key, attr in METRICS[name].options:
                kw[attr] = _get(obj, key)
    except KeyError as e:
        raise IqaError(f"settings lack {e.args[0]!r}", path) from None
    except (TypeError, ValueError) as e:
        raise IqaError(f"settings cannot be read: {e}", path) from None
    base = RunSettings(**kw)
    known = _flat(base.to_json())
    extra = tuple((k, v) for k, v in obj.items() if k not in known and not any(x.startswith(k + ".") for x in known))
    return dataclasses.replace(base, extra=extra)


def differing_key(a: dict[str, Any], b: dict[str, Any], ignore: Iterable[str] = RUN_KEYS) -> str | None:
    """The first (dotted) key whose value differs between two settings objects, or None."""
    skip = set(ignore)
    fa, fb = _flat(a), _flat(b)
    for key in [*fa, *(k for k in fb if k not in fa)]:
        if key.split(".")[0] in skip or key in skip:
            continue
        if fa.get(key, _ABSENT) != fb.get(key, _ABSENT):
            return key
    return None


def describe_value(obj: dict[str, Any], key: str) -> str:
    """``obj``'s value at dotted ``key`` as JSON would show it (``absent`` when there is none)."""
    try:
        v = _flat(obj)[key]
    except KeyError:
        return "absent"
    import json

    return json.dumps(v)


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()
