"""Settings of a run as its outputs record them, and back.

:class:`RunSettings` is :class:`~iqa_cli.settings.Settings` plus the keys that
say how a batch was run, not what it computed: ``engine`` (``local`` or
``dask``) and ``shard`` (``"K/N"``). :func:`settings_from_json` rebuilds
settings from a report's ``settings`` object, so that ``iqa merge`` and
``--resume`` can write reports again; :func:`differing_key` names the first
setting in which two reports disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import IqaError
from ..metrics.registry import METRICS
from ..settings import DECLARED, Settings, differing_setting

#: keys that record how a run was spread and where it ran, not what it
#: computed: two files that differ only in them hold comparable rows
#: (``cwd``: the folder relative paths in the rows start from)
RUN_KEYS = ("engine", "shard", "cwd")


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


def settings_from_json(obj: dict[str, Any], path: str | None = None) -> RunSettings:
    """The settings a report recorded (:meth:`Settings.from_json`, which
    reads iqa/1 and iqa/2 reports); keys that are not settings (``engine``,
    ``shard``, any a later version adds) are kept in ``extra``, so the
    settings are written back as they were read. Raises :class:`IqaError`
    naming ``path`` when ``metrics`` is missing or a setting is bad."""
    if not isinstance(obj, dict) or "metrics" not in obj:
        raise IqaError("settings lack 'metrics'", path)
    unknown = [m for m in obj["metrics"] if m not in METRICS] if isinstance(obj["metrics"], list) else []
    if unknown:
        raise IqaError(f"settings name unknown metric {unknown[0]!r} (written by another iqa version?)", path)
    try:
        base = RunSettings(**Settings.json_values(obj))
    except ValueError as e:
        raise IqaError(f"settings cannot be read: {e}", path) from None
    known = {d.json_key.split(".")[0] for d in DECLARED.values()}
    extra = tuple((k, v) for k, v in obj.items() if k not in known)
    return dataclasses.replace(base, extra=extra)


def differing_key(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """The (dotted) key of the first setting two reports record differently
    among those that change a number of their metrics (run keys such as
    ``engine`` and ``shard`` are not settings), or None."""
    return differing_setting(a, b)


def describe_value(obj: dict[str, Any], key: str) -> str:
    """``obj``'s value at dotted ``key`` as JSON would show it (``absent`` when there is none)."""
    import json

    node: Any = obj
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "absent"
        node = node[part]
    return json.dumps(node)
