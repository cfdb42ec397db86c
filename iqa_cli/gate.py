"""``iqa check``: the CI regression gate.

Gates
-----
A gate is ``METRIC OP VALUE`` and says when a pair FAILS: ``ssim<0.99`` fails a
pair whose mean SSIM drops below 0.99. The operator must point the way the
metric gets worse (``<``/``<=`` for higher-is-better metrics such as ssim,
ms_ssim, psnr, ssim_min; ``>``/``>=`` for lower-is-better ones such as mse,
mix, diff_pixels, diff_ratio, ssim_below); the other way is an error, because
``ssim>0.9`` would fail every good pair. ``0`` is a real threshold ("exact"),
never "unset": ``diff_pixels>0`` fails on any changed pixel. Units may be
written: ``diff_ratio>0.1%`` (= 0.001), ``psnr<40dB``, ``diff_pixels>25px``.

Every evaluated gate has a *margin*: the headroom in the metric's good
direction, ``value - threshold`` for higher-is-better metrics and
``threshold - value`` for lower-is-better ones. Positive: passing with room;
negative: failing by that much (``<=``/``>=`` gates also fail at margin 0).

Defaults (no ``--fail-if`` and no ``fail_if`` in the config):
``ssim<0.99`` and ``ssim_min<0.95``. Tolerant of the invisible 1-LSB
anti-aliasing/GPU/font noise that makes pixel-exact tools flaky, but the
worst 16x16 block catches a small local change that the mean hides. Ask for
exactness with ``--fail-if "diff_pixels>0"``.

Config
------
``iqa.toml`` (table ``[check]`` or ``[tool.iqa.check]``) or ``pyproject.toml``
(table ``[tool.iqa.check]``) in the current directory, ``iqa.toml`` first; or
``--config FILE``; ``--no-config`` ignores them. See :data:`CONFIG_KEYS`.
The command line beats the config key by key; ``--fail-if`` on the command
line replaces the config's ``fail_if`` (per-glob overrides still apply).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import click

from .errors import IqaError, UsageError
from .metrics.registry import HIGHER, LOWER, METRICS, resolve_metric_names
from .results import format_number

PASS, FAIL, NEW, MISSING, ERROR_S = "PASS", "FAIL", "NEW", "MISSING", "ERROR"

DEFAULT_GATES: tuple[str, ...] = ("ssim<0.99", "ssim_min<0.95")
#: metrics always computed for context when --metrics is not given
CONTEXT_METRICS: tuple[str, ...] = ("ssim", "psnr")

_OPS = ("<=", ">=", "<", ">")
_GATE_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_\-]*)\s*(<=|>=|<|>)\s*([^\s<>=]+(?:\s*(?:%|dB|db|px))?)\s*$")
_NUM_RE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf)\s*(%|dB|db|px)?$")
#: metric -> (low, high) accepted threshold range
_RANGES = {
    "ssim": (-1.0, 1.0), "ms_ssim": (0.0, 1.0), "ssim_min": (-1.0, 1.0), "ssim_below": (0.0, 1.0),
    "diff_ratio": (0.0, 1.0), "diff_pixels": (0.0, math.inf), "mse": (0.0, math.inf),
    "psnr": (0.0, math.inf), "mix": (0.0, 2.0),
}
_UNITS = {"%": ("ssim_below", "diff_ratio"), "dB": ("psnr",), "px": ("diff_pixels",)}
_USAGE = ('expected METRIC OP VALUE with OP one of <, <=, >, >= '
          '(e.g. "ssim<0.99", "psnr<40", "diff_ratio>0.1%", "diff_pixels>0")')


# --------------------------------------------------------------------------- gates


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
        return f"{self.metric}{self.op}{fmt_num(self.threshold)}"


def parse_gate(text: str, source: str = "command line") -> Gate:
    """Parse ``"ssim<0.99"``; raises :class:`UsageError` (one line naming the expression)."""
    where = f'--fail-if "{text}"' if source == "command line" else f'{source}: fail_if "{text}"'
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
        if metric not in _UNITS[unit]:
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
    lo, hi = _RANGES.get(metric, (-math.inf, math.inf))
    if not (lo <= value <= hi or (metric == "psnr" and value == math.inf)):
        hint = " (write a percentage as e.g. 0.1%)" if metric in _UNITS["%"] else ""
        raise UsageError(f"{where}: threshold {fmt_num(value)} is outside the range of {metric} "
                         f"[{fmt_num(lo)}, {fmt_num(hi)}]{hint}")
    if metric == "diff_pixels" and not float(value).is_integer() and value != math.inf:
        pass  # fractional pixel thresholds are allowed (diff_pixels>0.5 == diff_pixels>0)
    return Gate(metric, op, value, str(text).strip(), source)


def parse_gates(texts: Iterable[str], source: str = "command line") -> list[Gate]:
    gates: list[Gate] = []
    for t in texts:
        g = parse_gate(t, source)
        if g not in gates:
            gates.append(g)
    return gates


def fmt_num(v: float | int | None) -> str:
    """Short text for gate tables: ints and non-finite values as results.format_number."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) or not math.isfinite(v):
        return format_number(v)
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    a = abs(v)
    if a >= 1e-3 and a < 1e6:
        s = f"{v:.6f}".rstrip("0").rstrip(".")
        return s if s not in ("-0", "") else "0"
    return f"{v:.4g}"


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
        sign = "+" if (self.margin or 0) >= 0 else ""
        verdict = "ok" if self.passed else "FAIL"
        return (f"{g.metric} {fmt_num(self.value)} vs {g.op}{fmt_num(g.threshold)} "
                f"margin {sign}{fmt_num(self.margin)} {verdict}")

    def to_json(self) -> dict[str, Any]:
        from .results import json_number

        return {"gate": self.gate.canonical(), "metric": self.gate.metric, "op": self.gate.op,
                "threshold": json_number(self.gate.threshold), "value": json_number(self.value),
                "margin": json_number(self.margin), "passed": self.passed, "source": self.gate.source,
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


# --------------------------------------------------------------------------- config

#: keys of the check table; values are checked with the same rules as the options
CONFIG_KEYS = (
    "fail_if", "metrics", "device", "color", "alpha", "downsample", "data_range", "bit_depth", "mix_variant",
    "mix_alpha", "tv_reduction", "below", "pixel_tol", "block", "max_pixels", "allow_new", "match", "include",
    "exclude", "overrides",
)
OVERRIDE_KEYS = ("glob", "fail_if")


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
        values[key] = v
    if "fail_if" in values:
        values["fail_if"] = _str_list(values["fail_if"], "fail_if", shown)
    if "overrides" in values:
        ovs = values["overrides"]
        if not isinstance(ovs, list) or not all(isinstance(o, dict) for o in ovs):
            raise UsageError("overrides must be an array of tables ([[...overrides]])", shown)
        for i, o in enumerate(ovs):
            for k in o:
                if k not in OVERRIDE_KEYS:
                    raise UsageError(f"unknown key '{k}' in overrides[{i}] (known: glob, fail_if)", shown)
            if "glob" not in o or "fail_if" not in o:
                raise UsageError(f"overrides[{i}] needs both glob and fail_if", shown)
            o["glob"] = _str_list(o["glob"], f"overrides[{i}].glob", shown)
            o["fail_if"] = _str_list(o["fail_if"], f"overrides[{i}].fail_if", shown)
    return Config(shown, values)


def _str_list(v: Any, key: str, path: str) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(s, str) for s in v):
        return list(v)
    raise UsageError(f"{key} must be a string or an array of strings", path)


def apply_config(ctx: click.Context, cfg: Config, kwargs: dict[str, Any]) -> set[str]:
    """Fill options not given on the command line from the config; returns the keys taken."""
    from click.core import ParameterSource

    taken: set[str] = set()
    params = {p.name: p for p in ctx.command.params}
    for key, value in cfg.values.items():
        if key in ("fail_if", "overrides"):
            continue
        src = ctx.get_parameter_source(key)
        if src not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
            continue  # command line beats config
        param = params[key]
        try:
            if key == "metrics":
                converted = resolve_metric_names(value if isinstance(value, (str, list)) else str(value))
            else:
                if param.multiple and isinstance(value, str):
                    value = [value]
                if isinstance(param, click.Option) and param.is_flag and not isinstance(value, bool):
                    raise click.BadParameter(f"expected true or false, not {value!r}")
                converted = param.type_cast_value(ctx, value)
                if param.callback is not None:
                    converted = param.callback(ctx, param, converted)
        except (click.BadParameter, ValueError, TypeError) as e:
            msg = e.format_message() if isinstance(e, click.ClickException) else str(e)
            raise UsageError(f"{key} = {value!r}: {msg}", cfg.path) from None
        kwargs[key] = converted
        taken.add(key)
    return taken


# --------------------------------------------------------------------------- rows


@dataclass
class CheckRow:
    key: str
    baseline: str | None
    output: str | None
    status: str  # PASS FAIL NEW MISSING ERROR
    regression: bool  # counts toward exit 1
    gates: list[GateResult] = field(default_factory=list)
    reason: str | None = None  # for FAIL without gates (size mismatch), MISSING, NEW, ERROR
    where: str | None = None  # "changed pixels in x 500-519, y 500-519; worst block at ..."
    width: int | None = None
    height: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)  # html thumbnails (PNG)
    action: str | None = None  # what --update did

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    @property
    def worst(self) -> GateResult | None:
        """The failing gate with the lowest relative margin, else the tightest passing one."""
        pool = self.failed_gates or self.gates
        if not pool:
            return None
        return min(pool, key=lambda g: rel_margin(g))

    @property
    def severity(self) -> float:
        """Lower is worse: missing/size mismatch/errors first, then by relative margin."""
        if self.status in (MISSING, ERROR_S) or (self.status == FAIL and not self.gates):
            return -math.inf
        if self.status == NEW:
            return -1e300 if self.regression else math.inf
        w = self.worst
        return rel_margin(w) if w else math.inf

    def summary(self) -> str:
        """One phrase for the verdict line and annotations."""
        if self.failed_gates:
            return "; ".join(g.describe() for g in self.failed_gates)
        return self.reason or "ok"

    def to_json(self) -> dict[str, Any]:
        from .results import json_number

        return {
            "key": self.key, "baseline": self.baseline, "output": self.output, "status": self.status,
            "regression": self.regression, "gates": [g.to_json() for g in self.gates], "reason": self.reason,
            "where": self.where, "width": self.width, "height": self.height,
            "metrics": {k: json_number(v) for k, v in self.metrics.items()}, "warnings": list(self.warnings),
            "action": self.action,
        }


def rel_margin(g: GateResult) -> float:
    if g.margin is None:
        return -math.inf
    scale = abs(g.gate.threshold) if g.gate.threshold not in (0.0, math.inf) else 1.0
    return g.margin / scale


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


# --------------------------------------------------------------------------- the command


_HELP = """Compare OUTPUT against BASELINE (two files or two folders) and fail on regressions.

\b
Folders are paired by relative path as in `iqa batch`. A pair FAILS when any
gate fails; a size mismatch fails; a baseline without an output is MISSING (a
regression); an output without a baseline is NEW: a regression when CI=true
unless --allow-new, otherwise a passing note (add it with --update).

\b
Gates: --fail-if "METRIC OP VALUE" says when a pair FAILS, e.g.
  --fail-if "ssim<0.99"  --fail-if "psnr<40dB"  --fail-if "diff_ratio>0.1%"
The operator must point the way the metric gets worse (ssim<..., mse>...).
0 means exact: "diff_pixels>0" fails on any changed pixel.
Default gates: ssim<0.99 and ssim_min<0.95 (mean SSIM, and the worst 16x16
block, so a small local change is caught) - tolerant of invisible 1-LSB
anti-aliasing/GPU/font noise; use "diff_pixels>0" for pixel-exact checks.
Every gate prints value, threshold and margin (headroom in the metric's good
direction; negative = failing by that much).

\b
Config: ./iqa.toml ([check] or [tool.iqa.check]) or ./pyproject.toml
([tool.iqa.check]), or --config FILE. Keys: fail_if, metrics, device,
color, alpha, downsample, data_range, bit_depth, pixel_tol, below, block,
max_pixels, mix_variant, mix_alpha, tv_reduction, allow_new, match, include,
exclude, and [[...overrides]] tables {glob, fail_if} replacing the gates for
matching files. Unknown keys are errors. The command line beats the config.

\b
Exit: 0 pass, 1 regression, 2 error, 3 nothing compared. With --update the
baseline is rewritten (failed and new outputs copied, baselines of vanished
outputs removed) and the check exits 0 unless a pair could not be read.
"""


def _report_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .cli import _report_path_cb  # same guard as compare/batch (never overwrite an image)

    return _report_path_cb(ctx, param, value)


def _check_options(fn):
    opts = [
        click.option("--fail-if", "fail_if", multiple=True, metavar='"METRIC OP VALUE"',
                     help='Fail a pair when this holds (repeatable), e.g. "ssim<0.99", "diff_pixels>0". '
                     "Default: ssim<0.99 and ssim_min<0.95."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="Read [tool.iqa.check] / [check] from FILE instead of ./iqa.toml or ./pyproject.toml."),
        click.option("--no-config", is_flag=True, help="Ignore ./iqa.toml and ./pyproject.toml."),
        click.option("--allow-new", is_flag=True, default=False,
                     help="Outputs without a baseline pass even when CI=true."),
        click.option("--update", is_flag=True,
                     help="Rewrite the baseline: copy failed and new outputs into it, remove baselines "
                     "whose output disappeared; prints every change."),
        click.option("--match", type=click.Choice(["path", "stem"]), default="path", show_default=True,
                     help="Pair folders by relative path, or by path without extension."),
        click.option("--include", multiple=True, metavar="GLOB", help="Only files matching GLOB (repeatable)."),
        click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files matching GLOB (repeatable)."),
        click.option("--junit", "junit_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="Write a JUnit XML report (one testcase per pair)."),
        click.option("--github", is_flag=True,
                     help="Print GitHub workflow annotations and append a Markdown summary to "
                     "$GITHUB_STEP_SUMMARY."),
        click.option("--html", "html_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Write DIR/index.html: one self-contained page with the images, SSIM heatmap "
                     "and difference mask of every failing pair."),
        click.option("--save-diffs", "diffs_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Write a heatmap and a difference-mask PNG per failing pair into DIR."),
        click.option("--json", "json_path", is_flag=False, flag_value="-", default=None, metavar="[FILE]",
                     callback=_report_path,
                     help="Write the results and gate outcomes as JSON to FILE (bare flag: stdout, "
                     "instead of the table)."),
        click.option("--workers", type=click.IntRange(min=1), default=None, help="Decoding threads."),
        click.option("-q", "--quiet", is_flag=True, help="Only the verdict line."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    from .cli import apply_options

    return apply_options(fn, opts)


def _make_command():
    from .cli import CONTEXT, guarded, metric_options

    @click.command("check", context_settings=CONTEXT, help=_HELP)
    @click.argument("baseline", type=click.Path(path_type=str))
    @click.argument("output", type=click.Path(path_type=str))
    @_check_options
    @metric_options
    @guarded
    def check(**kw: Any) -> int:
        return run_check(click.get_current_context(), kw)

    return check


class _Sink:
    """Receives results from :func:`iqa_cli.cli.score` in pair order and turns them into rows."""

    def __init__(self, job: "_Job"):
        self.job = job
        self.results: list = []
        self.rows: list[CheckRow] = []

    def pair(self, r) -> None:
        i = len(self.results)
        self.results.append(r)
        self.rows.append(self.job.row(self.job.pairs[i], r))
        r.maps = None  # free the maps as we go


@dataclass
class _Job:
    pairs: list
    gates: list[Gate]
    overrides: list[tuple[Any, list[Gate]]]
    settings: Any
    ci: bool
    allow_new: bool
    want_images: bool
    diffs_dir: str | None
    ref_root: str | None
    dist_root: str | None
    html_cap: int = 200
    n_images: int = 0

    def gates_for(self, pair) -> list[Gate]:
        if not self.overrides:
            return self.gates
        from .pairing import _covered

        names = {pair.key}
        for p, root in ((pair.reference, self.ref_root), (pair.distorted, self.dist_root)):
            if p is not None:
                names.add(Path(os.path.relpath(p, root)).as_posix() if root else Path(p).name)
        for pats, gates in self.overrides:
            if any(_covered(pats, n) for n in names):
                return gates
        return self.gates

    def row(self, pair, r) -> CheckRow:
        from .results import ERROR, MISSING_DISTORTED, MISSING_REFERENCE

        row = CheckRow(pair.key, r.reference, r.distorted, PASS, False, width=r.width, height=r.height,
                       metrics=dict(r.metrics), warnings=list(r.warnings))
        maps = r.maps or {}
        if r.status == MISSING_REFERENCE:
            row.status = NEW
            row.regression = self.ci and not self.allow_new
            row.reason = ("no baseline (CI=true: a regression; --allow-new or --update)"
                          if row.regression else "no baseline yet (add it with --update)")
        elif r.status == MISSING_DISTORTED:
            row.status, row.regression = MISSING, True
            row.reason = "no output for this baseline (--update removes the baseline)"
        elif r.status == ERROR:
            if maps.get("size_mismatch"):
                row.status, row.regression, row.reason = FAIL, True, r.error or "size mismatch"
            else:
                row.status, row.reason = ERROR_S, r.error
        else:
            row.gates = evaluate(self.gates_for(pair), r.metrics, r.warnings)
            if row.failed_gates:
                row.status, row.regression = FAIL, True
            row.where = _where(maps, self.settings.block)
        if row.status in (FAIL, MISSING) or (row.status == NEW and row.regression):
            self._render(row, r, maps)
        return row

    def _render(self, row: CheckRow, r, maps: dict) -> None:
        if not (self.want_images or self.diffs_dir):
            return
        from .report import images as im

        kw = dict(bit_depth=self.settings.bit_depth, data_range=self.settings.data_range)
        smap, mask = maps.get("ssim_map"), maps.get("diff_mask")
        base = im.load_for_display(r.reference, **kw) if r.reference else None
        heat = overlay = None
        if smap is not None and mask is not None:
            heat = im.ssim_heatmap(smap, mask.shape)
            overlay = im.diff_overlay(mask, base)
        if self.diffs_dir and heat is not None:
            stem = os.path.join(self.diffs_dir, *Path(os.path.splitext(row.key)[0]).parts)
            os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
            from .report._atomic import atomic_write

            for suffix, img in ((".ssim.png", heat), (".diff.png", overlay)):
                with atomic_write(stem + suffix, "wb") as fh:
                    fh.write(im.png_bytes(img))
        if self.want_images and self.n_images < self.html_cap:
            self.n_images += 1
            out = im.load_for_display(r.distorted, **kw) if r.distorted else None
            side = 768
            for name, img, is_mask in (("baseline", base, False), ("output", out, False),
                                       ("heatmap", heat, False), ("mask", overlay, False)):
                if img is not None:
                    row.images[name] = im.png_bytes(im.downscale(img, side, mask=is_mask)
                                                    if name != "mask" else _downscale_overlay(mask, base, side))


def _downscale_overlay(mask, base, side):
    """Downscale the diff overlay so that a 1-pixel change stays visible (max-pooled mask)."""
    from .report import images as im

    small_mask = im.downscale(mask, side, mask=True)
    small_base = im.downscale(base, side) if base is not None else None
    if small_base is not None and small_base.shape[:2] != small_mask.shape:
        small_base = None
    return im.diff_overlay(small_mask, small_base)


def _where(maps: dict, block: int) -> str | None:
    from .report import images as im

    parts = []
    mask = maps.get("diff_mask")
    if mask is not None:
        bb = im.bbox(mask)
        if bb is None:
            return "no changed pixels"
        x0, y0, x1, y1 = bb
        parts.append(f"changed x {x0}-{x1}, y {y0}-{y1}")
    smap = maps.get("ssim_map")
    if smap is not None and smap.size:
        wb = im.worst_block(smap, block)
        if wb:
            parts.append(f"worst block x {wb[0]}, y {wb[1]}")
    return "; ".join(parts) or None


def _pairs_for(baseline: str, output: str, match, include, exclude):
    from .pairing import Pair, pair_folders

    bdir, odir = os.path.isdir(baseline), os.path.isdir(output)
    if bdir or odir:
        if not (bdir and odir):
            if not os.path.exists(baseline if odir else output):
                # a folder against a missing folder: treat the missing one as empty only for the baseline
                if odir and not os.path.exists(baseline):
                    raise UsageError("baseline folder does not exist (create it with --update, or mkdir it)", baseline)
                raise UsageError("output folder does not exist", output)
            raise UsageError(f"{baseline} and {output}: give two files or two folders")
        pairs, notes = pair_folders(baseline, output, match=match, include=include, exclude=exclude)
        return pairs, notes, baseline, output
    b_ok, o_ok = os.path.exists(baseline), os.path.exists(output)
    if not b_ok and not o_ok:
        raise UsageError("no such file (neither the baseline nor the output exists)", output)
    key = Path(output).as_posix()
    return [Pair(key, Path(baseline) if b_ok else None, Path(output) if o_ok else None)], [], None, None


def run_check(ctx: click.Context, kw: dict[str, Any]) -> int:
    from click.core import ParameterSource

    from .cli import EXIT_ERROR, EXIT_NOTHING, EXIT_OK, EXIT_REGRESSION, _print_warnings, prepare_device, score
    from .results import summarize

    # --- config and gates -------------------------------------------------
    cfg = Config() if kw["no_config"] and not kw["config_path"] else find_config(kw["config_path"])
    taken = apply_config(ctx, cfg, kw)
    if kw["fail_if"]:
        gates = parse_gates(kw["fail_if"], "command line")
    elif "fail_if" in cfg.values:
        gates = parse_gates(cfg.values["fail_if"], cfg.path or "config")
    else:
        gates = parse_gates(DEFAULT_GATES, "default")
    overrides = []
    if cfg.values.get("overrides"):
        from .pairing import _compile_patterns

        for i, o in enumerate(cfg.values["overrides"]):
            src = f"{cfg.path}: overrides[{i}]"
            overrides.append((_compile_patterns(o["glob"], f"{src}.glob"), parse_gates(o["fail_if"], src)))
    gate_metrics = [g.metric for g in gates] + [g.metric for _, gs in overrides for g in gs]
    explicit_metrics = ("metrics" in taken
                        or ctx.get_parameter_source("metrics") not in (ParameterSource.DEFAULT, None))
    base_metrics = tuple(kw["metrics"]) if explicit_metrics else CONTEXT_METRICS
    metrics = tuple(dict.fromkeys(list(base_metrics) + gate_metrics))

    # --- pairing ----------------------------------------------------------
    quiet = kw["quiet"]
    pairs, notes, ref_root, dist_root = _pairs_for(kw["baseline"], kw["output"], kw["match"], kw["include"],
                                                   kw["exclude"])
    if not quiet:
        _print_warnings(notes)
    if not pairs:
        click.echo(f"iqa: error: nothing to compare: no image files in {kw['baseline']} or {kw['output']}",
                   err=True)
        return EXIT_NOTHING
    for path in (kw["junit_path"], kw["json_path"] if kw["json_path"] != "-" else None):
        if path:  # CI report paths often point into a reports/ folder that does not exist yet
            d = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(d, exist_ok=True)
            except OSError as e:
                raise IqaError(f"cannot write: cannot create {d} ({e.strerror or e})", path) from None
            if not os.access(d, os.W_OK):
                raise IqaError("cannot write: directory is not writable", path)

    settings = prepare_device(kw["device"], {**kw, "metrics": metrics})
    job = _Job(pairs, gates, overrides, settings, in_ci(), bool(kw["allow_new"]), bool(kw["html_dir"]),
               kw["diffs_dir"], ref_root, dist_root)
    sink = _Sink(job)
    score(pairs, settings, sink, workers=kw["workers"], progress=not (quiet or kw["no_progress"]),
          keep_maps=True)
    rows = sink.rows

    # --- update -----------------------------------------------------------
    changes: list[str] = []
    if kw["update"]:
        changes = update_baseline(rows, kw["baseline"], kw["output"], ref_root, dist_root)

    regressions = [r for r in rows if r.regression and not r.action]
    errors = [r for r in rows if r.status == ERROR_S]
    code = EXIT_ERROR if errors else EXIT_REGRESSION if regressions else EXIT_OK
    verdict = verdict_line(rows, changes)

    # --- reports ----------------------------------------------------------
    summary = summarize(sink.results, settings.columns)
    check_doc = {"verdict": verdict, "exit_code": code, "ci": job.ci, "allow_new": job.allow_new,
                 "config": cfg.path, "gates": [g.canonical() for g in gates],
                 "overrides": [{"glob": [p.text for p in pats], "fail_if": [g.canonical() for g in gs]}
                               for pats, gs in overrides],
                 "pairs": [r.to_json() for r in rows], "changes": changes}
    if kw["json_path"]:
        from .report._atomic import atomic_write
        from .report.json import to_json_text
        from .results import document

        doc = document(settings, sink.results, summary)
        doc["check"] = check_doc
        text = to_json_text(doc)
        if kw["json_path"] == "-":
            click.echo(text)
        else:
            with atomic_write(kw["json_path"]) as fh:
                fh.write(text + "\n")
    if kw["junit_path"]:
        from .report.junit import write_junit

        write_junit(kw["junit_path"], rows, verdict=verdict, settings=settings)
    if kw["html_dir"]:
        from .report.html import write_html

        write_html(kw["html_dir"], rows, verdict=verdict, settings=settings, gates=gates, changes=changes)
    if not quiet and kw["json_path"] != "-":
        from rich.console import Console

        console = Console()
        if not console.is_terminal:
            console = Console(width=max(console.width, 120))
        render_table(console, rows, settings)
        for c in changes:
            click.echo(c)
    if kw["github"]:
        from .report.github import write_github

        write_github(rows, verdict=verdict, stream=sys.stdout)
    click.echo(verdict, err=kw["json_path"] == "-")
    for r in errors:
        click.echo(f"iqa: error: {r.reason}", err=True)
    return code


def update_baseline(rows: list[CheckRow], baseline: str, output: str, ref_root: str | None,
                    dist_root: str | None) -> list[str]:
    """Copy failed/new outputs into the baseline, remove baselines without output; returns the changes."""
    from .report._atomic import atomic_write

    changes = []
    for row in rows:
        try:
            if row.status in (FAIL, NEW) and row.output:
                if row.baseline:
                    target = row.baseline
                elif ref_root is not None:
                    target = os.path.join(ref_root, os.path.relpath(row.output, dist_root))
                else:
                    target = baseline
                os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
                with open(row.output, "rb") as src, atomic_write(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                row.action = "added" if row.status == NEW else "replaced"
                changes.append(f"{row.action} {target} (from {row.output})"
                               + (f": was {row.summary()}" if row.status == FAIL else ""))
            elif row.status == MISSING and row.baseline:
                os.remove(row.baseline)
                row.action = "removed"
                changes.append(f"removed {row.baseline} (no output)")
        except OSError as e:
            raise IqaError(f"--update: cannot write the baseline: {e.strerror or e}",
                           getattr(e, "filename", None) or row.baseline or baseline) from None
    return changes


def verdict_line(rows: list[CheckRow], changes: list[str]) -> str:
    n = len(rows)
    bad = [r for r in rows if r.regression and not r.action]
    errs = [r for r in rows if r.status == ERROR_S]
    new_ok = [r for r in rows if r.status == NEW and not r.regression]
    tail = []
    if new_ok:
        tail.append(f"{len(new_ok)} new (not in the baseline)")
    if changes:
        kinds = {}
        for r in rows:
            if r.action:
                kinds[r.action] = kinds.get(r.action, 0) + 1
        tail.append("baseline updated: " + ", ".join(f"{v} {k}" for k, v in kinds.items()))
    if errs:
        tail.append(f"{len(errs)} could not be read")
    extra = ("; " + "; ".join(tail)) if tail else ""
    if not bad:
        head = f"PASS: all {n} pair{'s' if n != 1 else ''} within the gates" if not errs else \
            f"ERROR: {n - len(errs)} of {n} pairs checked"
        return head + extra
    shown = sorted(bad, key=lambda r: r.severity)[:3]
    desc = ", ".join(f"{r.key} ({_short(r)})" for r in shown)
    more = f", and {len(bad) - len(shown)} more" if len(bad) > len(shown) else ""
    return f"FAIL: {len(bad)} of {n} pair{'s' if n != 1 else ''} failed: {desc}{more}{extra}"


def _short(r: CheckRow) -> str:
    w = r.worst if r.failed_gates else None
    if w is not None:
        if w.margin is None:
            return f"{w.gate.metric} not computed"
        return f"{w.gate.metric} {fmt_num(w.value)} {w.gate.op} {fmt_num(w.gate.threshold)}"
    return {MISSING: "missing output", NEW: "new, no baseline"}.get(r.status, r.reason or r.status)


def render_table(console, rows: list[CheckRow], settings, max_passing: int = 40) -> None:
    from rich.table import Table
    from rich.text import Text

    ordered = sorted(rows, key=lambda r: (r.status == PASS, r.severity))
    passing = [r for r in ordered if r.status == PASS]
    hide = len(passing) > max_passing
    table = Table(title="iqa check", show_lines=False, title_justify="left")
    for col, kw in (("status", {"no_wrap": True}), ("pair", {"overflow": "fold"}), ("gate", {"no_wrap": True}),
                    ("value", {"justify": "right", "no_wrap": True}), ("margin", {"justify": "right", "no_wrap": True}),
                    ("where / note", {"overflow": "fold", "ratio": 1})):
        table.add_column(col, **kw)
    style = {PASS: "green", FAIL: "bold red", MISSING: "bold red", NEW: "yellow", ERROR_S: "bold magenta"}
    for r in ordered:
        if hide and r.status == PASS:
            continue
        st = Text(r.status, style=style[r.status] if (r.status != NEW or r.regression) else "cyan")
        shown = r.failed_gates or ([r.worst] if r.worst else [])
        if shown:
            gate = "\n".join(g.gate.canonical() for g in shown)
            val = "\n".join(fmt_num(g.value) for g in shown)
            mar = "\n".join(("-" if g.margin is None else ("+" if g.margin >= 0 else "") + fmt_num(g.margin))
                            for g in shown)
            note = r.where if r.status != PASS else ""
        else:
            gate = val = mar = ""
            note = r.reason or ""
        if r.action:
            note = (note + "\n" if note else "") + f"baseline {r.action}"
        table.add_row(st, Text(r.key), Text(gate), val, mar, Text(note or ""))
    console.print(table)
    if hide:
        console.print(f"{len(passing)} passing pairs not listed (use --json or --html for all)")


check = _make_command()


def _ensure_registered() -> None:
    # when iqa_cli.gate is imported before iqa_cli.cli, cli's own registration
    # sees a half-initialised module; register here instead
    from . import cli

    if "check" not in cli.main.commands:
        cli.main.add_command(check)


_ensure_registered()
