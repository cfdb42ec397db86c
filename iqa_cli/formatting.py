"""Every number → text form iqa prints: strict JSON values, full-precision
cells (CSV), short gate numbers and table values.

Column formats come from the metric registry (:class:`~.metrics.registry.Column`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .metrics.registry import COLUMN_INFO


def json_number(v: float | int | None) -> float | int | str | None:
    """Strict-JSON form of a number: non-finite values become the strings
    ``"inf"``, ``"-inf"``, ``"nan"``; ints and bools stay as they are."""
    if v is None or isinstance(v, (bool, int)):
        return v
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def full(v: Any) -> str:
    """Full precision (``float(text)`` gives the value back): ``repr`` for
    floats, integers as integers, ``inf``/``-inf``/``nan``, ``""`` for None."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    return str(v)


def short(v: float | int | None) -> str:
    """Short text for gate thresholds, values and margins: integers as
    integers, up to 6 decimals without trailing zeros, else 4 significant
    digits; ``-`` for None."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) or not math.isfinite(v):
        return full(v)
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    a = abs(v)
    if 1e-3 <= a < 1e6:
        s = f"{v:.6f}".rstrip("0").rstrip(".")
        return s if s not in ("-0", "") else "0"
    return f"{v:.4g}"


def clean(v: float) -> float:
    """``v`` without binary noise of a subtraction (0.010000000000000009 → 0.01):
    rounded to 12 significant digits, for margins in JSON."""
    if not math.isfinite(v) or v == 0:
        return v
    return float(f"{v:.12g}")


def table_value(column: str, value: Any, *, unicode: bool = True) -> str:
    """Text for one metric value in a table, in its column's registry format."""
    if value is None:
        return "—" if unicode else "-"
    if isinstance(value, str):  # a summary already in JSON form ("inf", "nan")
        try:
            value = float(value)
        except ValueError:
            return value
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        s = "∞" if unicode else "inf"
        return s if v > 0 else "-" + s
    info = COLUMN_INFO.get(column)
    fmt = info.format if info else ""
    if fmt in ("6f", "4f", "2f"):
        return f"{v:.{fmt[0]}f}"
    if fmt == "count":
        return f"{v:.0f}" if v.is_integer() else f"{v:.1f}"
    if fmt == "mse":
        return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.4g}"
    return f"{v:.6g}"


def metric_value(metric: str, v: float | int | None, *, signed: bool = False) -> str:
    """A gate's value or margin in the metric's own format (the registry's
    column format, ASCII), so passing and failing values read alike;
    ``signed`` adds ``+`` to non-negative numbers (margins)."""
    if v is None:
        return "-"
    text = table_value(metric, v, unicode=False)
    return "+" + text if signed and not text.startswith("-") and text != "nan" else text
