"""Gates: ``METRIC OP VALUE`` expressions that say when a pair FAILS, their
parsing, evaluation and margins.

A gate is ``METRIC OP VALUE``: ``ssim<0.99`` fails a pair whose mean SSIM
drops below 0.99. The operator must point the way the metric gets worse
(``<``/``<=`` for higher-is-better metrics, ``>``/``>=`` for lower-is-better
ones); the other way is an error, because ``ssim>0.9`` would fail every good
pair. ``0`` is a real threshold ("exact"), never "unset". Units may be
written where the registry allows them: ``diff_ratio>0.1%`` (= 0.001),
``psnr<40dB``, ``diff_pixels>25px``.

Every evaluated gate has a *margin*: the headroom in the metric's good
direction, ``value - threshold`` for higher-is-better metrics and
``threshold - value`` for lower-is-better ones. Positive: passing with room;
negative: failing by that much (``<=``/``>=`` gates also fail at margin 0).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import UsageError
from ..formatting import clean, json_number, metric_value, short
from ..metrics.registry import HIGHER, LOWER, METRICS, resolve_metric_names
from ..spelling import spell


_GATE_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_\-]*)\s*(<=|>=|<|>)\s*([^\s<>=]+(?:\s*(?:%|dB|db|px))?)\s*$")
_NUM_RE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf)\s*(%|dB|db|px)?$")
_USAGE = ('expected METRIC OP VALUE with OP one of <, <=, >, >= '
          '(e.g. "ssim<0.99", "psnr<40", "diff_ratio>0.1%", "diff_pixels>0")')


@dataclass(frozen=True)
class Gate:
    metric: str  # canonical metric name (= its output column)
    op: str
    threshold: float
    text: str  # as written
    source: str = "command line"

    @property
    def direction(self) -> str:
        return METRICS[self.metric].direction

    def fails(self, value: float) -> bool:
        t = self.threshold
        return {"<": value < t, "<=": value <= t, ">": value > t, ">=": value >= t}[self.op]

    def margin(self, value: float) -> float:
        return value - self.threshold if self.direction == HIGHER else self.threshold - value

    def canonical(self) -> str:
        return f"{self.metric}{self.op}{short(self.threshold)}"


def parse_gate(text: str, source: str = "command line") -> Gate:
    """Parse ``"ssim<0.99"``; raises :class:`UsageError` (one line naming the expression)."""
    where = f'{spell("fail_if")} "{text}"' if source == "command line" else f'{source}: fail_if "{text}"'
    m = _GATE_RE.match(str(text))
    if not m:
        raise UsageError(f"{where}: {_USAGE}")
    name, op, raw = m.groups()
    try:
        (metric,) = resolve_metric_names(name)
    except ValueError as e:
        raise UsageError(f"{where}: {e}") from None
    info = METRICS[metric]
    if info.direction not in (HIGHER, LOWER):
        raise UsageError(f"{where}: {metric} has no better direction (informational); it cannot be a gate")
    n = _NUM_RE.match(raw.strip())
    if not n:
        raise UsageError(f"{where}: {raw!r} is not a number; {_USAGE}")
    value = float(n.group(1))
    unit = n.group(2)
    if unit:
        unit = "dB" if unit.lower() == "db" else unit
        if unit not in info.gate_units:
            raise UsageError(f"{where}: unit {unit!r} does not apply to {metric}")
        if unit == "%":
            value /= 100.0
    if math.isnan(value):
        raise UsageError(f"{where}: threshold must be a number")
    if info.direction == HIGHER and op in (">", ">="):
        raise UsageError(
            f'{where}: {metric} is higher-is-better, and a gate says when a pair FAILS; '
            f'"{metric}{op}{raw}" would fail every good pair. Did you mean "{metric}{op.replace(">", "<")}{raw}"?')
    if info.direction == LOWER and op in ("<", "<="):
        raise UsageError(
            f'{where}: {metric} is lower-is-better, and a gate says when a pair FAILS; '
            f'"{metric}{op}{raw}" would fail every good pair. Did you mean "{metric}{op.replace("<", ">")}{raw}"?')
    lo, hi = info.bounds
    if not (lo <= value <= hi or (metric == "psnr" and value == math.inf)):
        hint = " (write a percentage as e.g. 0.1%)" if "%" in info.gate_units else ""
        raise UsageError(f"{where}: threshold {short(value)} is outside the range of {metric} "
                         f"[{short(lo)}, {short(hi)}]{hint}")
    return Gate(metric, op, value, str(text).strip(), source)


def parse_gates(texts: Iterable[str], source: str = "command line") -> list[Gate]:
    gates: list[Gate] = []
    for t in texts:
        g = parse_gate(t, source)
        if g not in gates:
            gates.append(g)
    return gates



@dataclass
class GateResult:
    gate: Gate
    value: float | None
    passed: bool
    margin: float | None
    note: str | None = None

    def describe(self) -> str:
        g = self.gate
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return f"{g.metric} not computed ({self.note or 'no value'}); gate {g.canonical()} fails"
        verdict = "ok" if self.passed else "FAIL"
        return (f"{g.metric} {metric_value(g.metric, self.value)} vs {g.op}{short(g.threshold)} "
                f"margin {metric_value(g.metric, self.margin, signed=True)} {verdict}")

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.gate.canonical(), "metric": self.gate.metric, "op": self.gate.op,
                "threshold": json_number(self.gate.threshold), "value": json_number(self.value),
                "margin": json_number(None if self.margin is None else clean(self.margin)), "passed": self.passed, "source": self.gate.source,
                **({"note": self.note} if self.note else {})}


def evaluate(gates: list[Gate], metrics: dict[str, float | None], warnings: list[str] = ()) -> list[GateResult]:
    out = []
    for g in gates:
        v = metrics.get(g.metric)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            note = next((w for w in warnings if w.startswith(g.metric)), None)
            out.append(GateResult(g, v, False, None, note or "not computed"))
            continue
        out.append(GateResult(g, v, not g.fails(v), g.margin(v)))
    return out



def rel_margin(g: GateResult) -> float:
    """The margin relative to the threshold (to rank gates of different metrics)."""
    if g.margin is None:
        return -math.inf
    scale = abs(g.gate.threshold) if g.gate.threshold not in (0.0, math.inf) else 1.0
    return g.margin / scale
