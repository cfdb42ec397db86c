"""The gate's configuration: the ``[check]`` / ``[tool.iqa.check]`` table of
``iqa.toml`` or ``pyproject.toml``, read and checked key by key.

Lookup: an explicit file, else ``./iqa.toml`` (table ``[check]`` or
``[tool.iqa.check]``), else ``./pyproject.toml`` (``[tool.iqa.check]``).
Unknown keys are errors. Every key is a declared setting (:mod:`iqa_cli.settings`:
the settings table and the pairing keys; :mod:`.profile`: the gate's keys), and
each value is checked by its declaration, as the command line checks the flag;
the front ends then let their own options beat the config key by key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..settings import DECLARED, PAIRING, Setting
from .profile import GATE

#: config key -> its declaration: the gate's keys, the settings table, the pairing keys
CONFIG_SETTINGS: dict[str, Setting] = {
    d.config_key: d for d in (*GATE.values(), *DECLARED.values(), *PAIRING.values()) if d.config_key
}
#: keys of the check table
CONFIG_KEYS = (*CONFIG_SETTINGS, "overrides")
OVERRIDE_KEYS = ("glob", "fail_if", "ignore", "mask")


def _toml_load(path: str) -> dict:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError("reading a TOML config needs Python 3.11+ or the 'tomli' package", path) from None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise UsageError(f"cannot read config: {e.strerror or e}", path) from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"invalid TOML: {e}", path) from None


@dataclass
class Config:
    path: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def find_config(explicit: str | None, cwd: str = ".") -> Config:
    """Load the check table from ``explicit`` or from ./iqa.toml / ./pyproject.toml."""
    if explicit:
        if not os.path.isfile(explicit):
            raise UsageError("config file not found", explicit)
        return _read_config(explicit, pyproject=os.path.basename(explicit) == "pyproject.toml", explicit=True)
    iqa_toml = os.path.join(cwd, "iqa.toml")
    if os.path.isfile(iqa_toml):
        return _read_config(iqa_toml, pyproject=False, explicit=False)
    pp = os.path.join(cwd, "pyproject.toml")
    if os.path.isfile(pp):
        return _read_config(pp, pyproject=True, explicit=False)
    return Config()


def _read_config(path: str, *, pyproject: bool, explicit: bool) -> Config:
    data = _toml_load(path)
    shown = os.path.relpath(path) if not os.path.isabs(path) or path.startswith(os.getcwd()) else path
    tool_check = data.get("tool", {}).get("iqa", {}) if isinstance(data.get("tool"), dict) else {}
    if not isinstance(tool_check, dict):
        raise UsageError("[tool.iqa] must be a table", shown)
    table = tool_check.get("check")
    if not pyproject:
        unknown_top = [k for k in data if k not in ("check", "tool")]
        if unknown_top:
            raise UsageError(f"unknown key '{unknown_top[0]}' (expected a [check] table)", shown)
        if "check" in data:
            if table is not None:
                raise UsageError("both [check] and [tool.iqa.check]; keep one", shown)
            table = data["check"]
    if table is None:
        if explicit:
            want = "[tool.iqa.check]" if pyproject else "[check] (or [tool.iqa.check])"
            raise UsageError(f"no {want} table", shown)
        return Config()
    if not isinstance(table, dict):
        raise UsageError("the check settings must be a table", shown)
    values: dict[str, Any] = {}
    for k, v in table.items():
        key = k.replace("-", "_")
        if key not in CONFIG_KEYS:
            raise UsageError(f"unknown key '{k}' in the check table (known: {', '.join(CONFIG_KEYS)})", shown)
        values[key] = v if key == "overrides" else _value(CONFIG_SETTINGS[key], k, v, shown)
    if "fail_if" in values and not values["fail_if"]:  # an empty list would silently disable every gate
        raise UsageError("fail_if is empty: give at least one gate, or remove the key for the defaults", shown)
    if "overrides" in values:
        ovs = values["overrides"]
        if not isinstance(ovs, list) or not all(isinstance(o, dict) for o in ovs):
            raise UsageError("overrides must be an array of tables ([[...overrides]])", shown)
        for i, o in enumerate(ovs):
            for k in o:
                if k not in OVERRIDE_KEYS:
                    raise UsageError(f"unknown key '{k}' in overrides[{i}] (known: {', '.join(OVERRIDE_KEYS)})", shown)
            if "glob" not in o or not ({"fail_if", "ignore", "mask"} & set(o)):
                raise UsageError(f"overrides[{i}] needs glob and at least one of fail_if, ignore, mask", shown)
            o["glob"] = list(_value(PAIRING["include"], f"overrides[{i}].glob", o["glob"], shown))
            for key in ("fail_if", "ignore", "mask"):
                if key in o:
                    o[key] = _value(CONFIG_SETTINGS[key], f"overrides[{i}].{key}", o[key], shown)
            if "fail_if" in o and not o["fail_if"]:
                raise UsageError(f"overrides[{i}].fail_if is empty: give at least one gate", shown)
    return Config(shown, values)


def _value(decl: Setting, key: str, value: Any, path: str) -> Any:
    """A config value checked by its declaration (the rule its flag follows)."""
    try:
        return decl.parse_input(value)
    except ValueError as e:
        raise UsageError(f"{key} = {value!r}: {e}", path) from None
