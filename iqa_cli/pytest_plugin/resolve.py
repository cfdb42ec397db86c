"""Gates and Settings of one ``iqa_image.check`` call, as ``iqa check``
would have them: the call's keywords beat the ``[tool.iqa.check]`` table,
which beats the check profile (:data:`iqa_cli.gate.profile.CHECK`: the default
gates, the context metrics, the ±2-level tolerance), which beats the settings
table's defaults.

Values are checked by their declarations (:mod:`iqa_cli.settings`), the
rule ``iqa check`` applies to its flags, so a value the command refuses is
refused here for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..gate.config import Config
from ..gate.gates import Gate, parse_gates
from ..gate.profile import CHECK
from ..pairing import Pattern, compile_patterns
from ..settings import DECLARED, Settings, settings_from


def setting_names() -> tuple[str, ...]:
    return tuple(DECLARED)


def plugin_spelling(name: str) -> str:
    """How a message of a lower layer names a setting in a test: ``data_range=``."""
    if name in DECLARED or name == "fail_if":
        return f"{name}="
    if name == "update":
        return "--iqa-update"
    if name == "prune":
        return ""  # one word is enough here (a test names its own output: the plugin makes no MISSING row)
    return name


def _check_value(key: str, value: Any, where: str) -> Any:
    """``value`` checked by the declaration of setting ``key``."""
    try:
        return DECLARED[key].parse_input(value)
    except ValueError as e:
        raise UsageError(f"{where}: {key}={value!r}: {e}") from None


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
        gates = parse_gates(CHECK.gates, "default")
    overrides = []
    for i, o in enumerate(cfg.values.get("overrides") or []):
        if "fail_if" not in o:
            continue
        src = f"{cfg.path}: overrides[{i}]"
        overrides.append((compile_patterns(o["glob"], f"{src}.glob"), parse_gates(o["fail_if"], src)))
    settings = {d.name: cfg.values[d.config_key] for d in DECLARED.values() if d.config_key in cfg.values}
    return Base(cfg, gates, overrides, settings)


def resolve(base: Base, key: str, fail_if: Any, kwargs: dict[str, Any]) -> tuple[list[Gate], Settings]:
    """The gates and Settings of one check whose baseline is ``key`` (its path
    relative to the baseline folder, which the override globs match)."""
    unknown = [k for k in kwargs if k not in DECLARED]
    if unknown:
        raise UsageError(f"iqa_image.check: unknown setting {unknown[0]!r} (known: name, fail_if, "
                         f"{', '.join(DECLARED)})")
    if fail_if is not None:  # the call's own gates: the most specific, no override replaces them
        texts = [fail_if] if isinstance(fail_if, str) else list(fail_if)
        gates = parse_gates(texts, "iqa_image.check(fail_if=...)")
    else:
        from ..pairing import covered

        gates = next((gs for pats, gs in base.overrides if covered(pats, key)), base.gates)
    values = {d.name: CHECK.default(d) for d in DECLARED.values()}
    values.update(base.settings)
    values.update({k: _check_value(k, v, "iqa_image.check") for k, v in kwargs.items()})
    given = set(base.settings) | set(kwargs)
    values["metrics"] = CHECK.metrics(values["metrics"] if "metrics" in given else None, [g.metric for g in gates])
    from ..runner import resolve_device

    values["device"] = str(resolve_device(values["device"]))
    try:
        return gates, settings_from(values, given)
    except ValueError as e:
        raise UsageError(f"iqa_image.check: {e}") from None
