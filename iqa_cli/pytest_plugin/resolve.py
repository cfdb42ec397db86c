"""Gates and Settings of one ``iqa_image.check`` call, as ``iqa check`` would
have them: the call's keywords beat the ``[tool.iqa.check]`` table, which
beats the gate's defaults (``DEFAULT_GATES``, ``CONTEXT_METRICS`` and the
field defaults of :class:`~iqa_cli.results.Settings`).

Values are checked by the ``iqa check`` options of the same name, so a value
the command refuses is refused here with the same words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..gate.config import Config
from ..gate.gates import CONTEXT_METRICS, DEFAULT_GATES, Gate, parse_gates
from ..pairing import Pattern, compile_patterns
from ..results import Settings


def setting_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Settings))


def _check_value(key: str, value: Any, where: str) -> Any:
    """``value`` converted and checked as ``iqa check --<key>`` would."""
    import click

    from ..commands.check import check as check_command

    params = {p.name: p for p in check_command.params}
    param = params.get(key)
    if key == "metrics" and isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    if param is None or value is None:
        return value
    try:
        return param.process_value(click.Context(check_command), value)
    except click.BadParameter as e:
        raise UsageError(f"{where}: {key}={value!r}: {e.format_message()}") from None


@dataclass
class Base:
    """What the config gives every check of the session."""

    config: Config
    gates: list[Gate]
    overrides: list[tuple[list[Pattern], list[Gate]]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # checked values of the config's setting keys


def base_from(cfg: Config) -> Base:
    if "fail_if" in cfg.values:
        gates = parse_gates(cfg.values["fail_if"], cfg.path or "config")
    else:
        gates = parse_gates(DEFAULT_GATES, "default")
    overrides = []
    for i, o in enumerate(cfg.values.get("overrides") or []):
        src = f"{cfg.path}: overrides[{i}]"
        overrides.append((compile_patterns(o["glob"], f"{src}.glob"), parse_gates(o["fail_if"], src)))
    names = setting_names()
    settings = {k: _check_value(k, v, str(cfg.path)) for k, v in cfg.values.items() if k in names}
    return Base(cfg, gates, overrides, settings)


def resolve(base: Base, key: str, fail_if: Any, kwargs: dict[str, Any]) -> tuple[list[Gate], Settings]:
    """The gates and Settings of one check whose baseline is ``key`` (its path
    relative to the baseline folder, which the override globs match)."""
    names = setting_names()
    unknown = [k for k in kwargs if k not in names]
    if unknown:
        raise UsageError(f"iqa_image.check: unknown setting {unknown[0]!r} (known: name, fail_if, "
                         f"{', '.join(names)})")
    if fail_if is not None:  # the call's own gates: the most specific, no override replaces them
        texts = [fail_if] if isinstance(fail_if, str) else list(fail_if)
        gates = parse_gates(texts, "iqa_image.check(fail_if=...)")
    else:
        from ..pairing import covered

        gates = next((gs for pats, gs in base.overrides if covered(pats, key)), base.gates)
    explicit = dict(base.settings)
    explicit.update({k: _check_value(k, v, "iqa_image.check") for k, v in kwargs.items()})
    gate_metrics = [g.metric for g in gates]
    base_metrics = tuple(explicit["metrics"]) if explicit.get("metrics") else CONTEXT_METRICS
    explicit["metrics"] = tuple(dict.fromkeys(list(base_metrics) + gate_metrics))
    if "device" in explicit:
        from ..runner import resolve_device

        explicit["device"] = str(resolve_device(explicit["device"]))
    return gates, Settings(**explicit)
