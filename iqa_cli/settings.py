"""The settings table: every setting that changes a number, declared once.

:class:`Settings` is the table. Each field is declared with :func:`setting`:
its type (``kind``) and choices, its default, its validation, which metrics
it affects, its command-line flag and help, its config key and its JSON key.
Every front end derives from these declarations and from nothing else:

- the command line builds its options from them (:mod:`iqa_cli.commands.options`);
- the config file (``iqa.toml``, ``[tool.iqa.check]``) accepts their config keys;
- reports record them under their JSON keys (:meth:`Settings.to_json`) and
  ``iqa merge`` / ``--resume`` read them back (:meth:`Settings.from_json`, its
  exact inverse);
- the pytest plugin and the Python API check keyword values with
  :meth:`Setting.parse`, the same rule the command line applies.

What a setting *implies* lives with the thing that implies it: a protocol
fixes settings (``protocol = "matlab"`` is Wang's ssim.m, i.e. ``downsample =
"matlab"``) on its :class:`~iqa_cli.metrics.protocols.Protocol` record, and
:class:`Settings` applies it on construction, whoever constructs it.

No torch and no numpy here: ``iqa --help`` builds its options from this table.
Values are checked without a flag in sight; a front end adds its own spelling
of the setting to the message (:mod:`iqa_cli.spelling`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .metrics.protocols.table import PROTOCOLS, get_protocol
from .metrics.registry import (ALL_METRICS, DEFAULT_METRICS, LOCAL_METRICS, METRICS, NEUTRAL, columns_for,
                               resolve_metric_names)
from .setting_values import parse_alpha, parse_device, parse_region

KINDS = ("choice", "float", "int", "bool", "metrics", "regions", "path", "alpha", "device", "strings")


@dataclass(frozen=True)
class Setting:
    """The declaration of one setting (see the module docstring)."""

    name: str  # the Settings attribute: how lower layers name it
    kind: str  # one of KINDS
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: the minimum itself is not allowed (data_range > 0)
    exclusive_minimum: bool = False
    metavar: str | None = None
    short: str | None = None  # a one-letter flag ("-m")
    #: metrics whose numbers it changes; empty: every metric (or which pairs are scored)
    affects: tuple[str, ...] = ()
    #: dotted key in the report's settings object ("mix.alpha"); default: the name
    json: str = ""
    #: key in the config file's check table (default: the name); None: not configurable
    config: str | None = ""
    #: a path that must exist when a user gives it (not when a report records it)
    must_exist: bool = False
    #: given several times on the command line (each a value of its own)
    multiple: bool = False
    #: the value of the flag given bare (``--find-offset`` alone); None: a value is required
    flag_value: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"setting {self.name}: unknown kind {self.kind!r}")

    @property
    def json_key(self) -> str:
        return self.json or self.name

    @property
    def config_key(self) -> str | None:
        return self.name if self.config == "" else self.config
    @property
    def flag(self) -> str:
        """The long command-line flag: ``data_range`` → ``--data-range``."""
        return "--" + self.name.replace("_", "-")

    @property
    def optional(self) -> bool:
        """``None`` is a value of its own (data_range None: from the file's sample type)."""
        return self.default is None

    def parse(self, value: Any) -> Any:
        """``value`` (a command-line string, a TOML or JSON value, or a Python
        value) as the setting's canonical value; raises :class:`ValueError` with
        a one-line reason that names no flag."""
        if value is None:
            if self.optional:
                return None
            raise ValueError("a value is required")
        parse = _PARSERS[self.kind]
        return parse(self, value)

    def parse_input(self, value: Any) -> Any:
        """:meth:`parse`, plus what only holds where the user gives the value
        (a mask path must exist here; a report may name one of another machine)."""
        v = self.parse(value)
        if self.must_exist and v is not None and not os.path.exists(v):
            raise ValueError(f"{v}: no such file or folder")
        return v

    def relevant(self, metrics: Iterable[str]) -> bool:
        """It changes a number of a run computing ``metrics``."""
        return not self.affects or any(m in self.affects for m in metrics)

    def to_json(self, value: Any) -> Any:
        if self.kind == "metrics":
            return list(value)
        if self.kind == "regions":
            return [list(r) for r in value]
        if self.name == "data_range" and value is None:
            return "dtype"
        return value

    def from_json(self, value: Any) -> Any:
        if self.name == "data_range" and value == "dtype":
            return None
        return self.parse(value)


# --------------------------------------------------------------------------- value rules


def _number(s: Setting, value: Any, integer: bool) -> float | int:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, not {value!r}")
    try:
        if integer:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                value = int(value)
            v: float | int = int(value) if not isinstance(value, int) else value
        else:
            v = float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"expected {kind}, not {value!r}") from None
    if not integer and not math.isfinite(v):
        raise ValueError(f"must be a finite number, not {value!r}")
    lo, hi = s.minimum, s.maximum
    if lo is not None and (v < lo or (s.exclusive_minimum and v == lo)):
        op = ">" if s.exclusive_minimum else ">="
        raise ValueError(f"must be {op} {lo:g}, not {value!r}" if hi is None else _range_message(s, value))
    if hi is not None and v > hi:
        raise ValueError(_range_message(s, value))
    return v


def _range_message(s: Setting, value: Any) -> str:
    return f"must be in [{s.minimum:g}, {s.maximum:g}], not {value!r}"


def _choice(s: Setting, value: Any) -> str:
    v = str(value).strip().lower() if isinstance(value, str) else None
    if s.name == "protocol" and v is not None:
        try:
            return get_protocol(v).name
        except ValueError as e:
            raise ValueError(str(e)) from None
    if v not in s.choices:
        raise ValueError(f"{value!r} is not one of {', '.join(s.choices)}")
    return v


def _bool(s: Setting, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, not {value!r}")


def _metrics(s: Setting, value: Any) -> tuple[str, ...]:
    if not isinstance(value, (str, list, tuple)):
        raise ValueError(f"expected metric names (a string or a list), not {value!r}")
    return resolve_metric_names(value)


def _regions(s: Setting, value: Any) -> tuple[tuple[int, int, int, int], ...]:
    """``"x,y,w,h"``, ``[x, y, w, h]`` or a list of either."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
        if len(items) == 4 and all(isinstance(n, int) and not isinstance(n, bool) for n in items):
            items = [items]  # one region written flat
    else:
        raise ValueError(f"expected X,Y,W,H regions, not {value!r}")
    out = []
    for r in items:
        if isinstance(r, (list, tuple)):
            if len(r) != 4 or not all(isinstance(n, int) and not isinstance(n, bool) for n in r):
                raise ValueError(f"region {r!r} is not four whole numbers X, Y, W, H")
            out.append(tuple(int(n) for n in r))
        else:
            out.append(parse_region(r))
    return tuple(out)  # type: ignore[return-value]


def _path(s: Setting, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(f"expected a path, not {value!r}")
    return os.fspath(value)


def _strings(s: Setting, value: Any) -> tuple[str, ...]:
    """One string or a list of them (glob patterns, gate expressions)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected a string or a list of strings, not {value!r}")


def _alpha(s: Setting, value: Any) -> str:
    parse_alpha(value)
    return value.strip().lower()


def _device(s: Setting, value: Any) -> str:
    return parse_device(value)


_PARSERS: dict[str, Callable[[Setting, Any], Any]] = {
    "choice": _choice,
    "float": lambda s, v: float(_number(s, v, False)),
    "int": lambda s, v: int(_number(s, v, True)),
    "bool": _bool,
    "metrics": _metrics,
    "regions": _regions,
    "path": _path,
    "alpha": _alpha,
    "device": _device,
    "strings": _strings,
}


def setting(default: Any, kind: str, help: str, **kw: Any) -> Any:
    """A :class:`Settings` field with its declaration (the name is filled in by the class)."""
    decl = Setting(name="?", kind=kind, default=default, help=help, **kw)
    return field(default=default, metadata={"iqa": decl})


# --------------------------------------------------------------------------- the table

_SSIM_MAP = ("ssim", "ssim_min", "ssim_below")  # the metrics of the SSIM map downsampling changes
_POOLED = tuple(n for n, m in METRICS.items() if m.direction != NEUTRAL)  # the metrics a pool other than the mean changes
_PROTOCOL_NAMES = ", ".join(PROTOCOLS)


@dataclass(frozen=True)
class Settings:
    """Everything that changes a number; recorded in every report.

    Constructed from keywords (``Settings(protocol="matlab")``), each value is
    checked by its declaration and the protocol's implications are applied
    (raises :class:`ValueError` with a one-line reason).
    """

    metrics: tuple[str, ...] = setting(
        DEFAULT_METRICS, "metrics", short="-m", metavar="LIST",
        help="Comma-separated metrics (or -m repeated). Default: " + ", ".join(DEFAULT_METRICS) + "; `all` adds "
        + ", ".join(m for m in ALL_METRICS if m not in DEFAULT_METRICS) + " (the mixed loss); the local-change "
        "metrics " + ", ".join(LOCAL_METRICS) + " are asked for by name. See `iqa metrics`.")
    protocol: str = setting(
        "wang", "choice", choices=tuple(PROTOCOLS), metavar="NAME",
        affects=("ssim", "ms_ssim", "mse", "psnr"),
        help=f"Whose conventions SSIM, MS-SSIM, MSE and PSNR follow: {_PROTOCOL_NAMES}; "
        "`iqa protocols` gives each definition.")
    crop_border: int = setting(
        0, "int", minimum=0, metavar="N",
        help="Remove N pixels from each side of both images before everything else "
        "(BasicSR's crop_border; SR papers use the scale factor).")
    color: str = setting(
        "rgb", "choice", choices=("rgb", "y", "gray", "yuv"),
        help="rgb: per-channel mean; y: BT.601 studio-swing Y (MATLAB rgb2ycbcr), on video the decoded Y plane "
        "as is; gray: MATLAB rgb2gray; yuv (YUV video only): Y, U and V each at its own size, and their "
        "pixel-weighted all. A one-channel image stays as it is. Video RGB uses the stream's colour matrix and range.")
    alpha: str = setting(
        "premultiplied", "alpha", metavar="premultiplied|drop|over=COLOUR",
        help="Alpha handling: premultiply and compare alpha as a channel; ignore it; "
        "or composite over white, black or #rrggbb.")
    downsample: str = setting(
        "none", "choice", choices=("none", "matlab"), affects=_SSIM_MAP,
        help="none: Wang's ssim_index.m; matlab: ssim.m's automatic downsampling.")
    data_range: float | None = setting(
        None, "float", minimum=0.0, exclusive_minimum=True, metavar="L",
        help="Dynamic range L (default: from the file's sample type; needed for float images outside [0, 1]).")
    bit_depth: int | None = setting(
        None, "int", minimum=1, maximum=16, metavar="N",
        help="Integer payload depth, e.g. 10 or 12 for data stored in 16-bit files (L = 2^N - 1).")
    device: str = setting(
        "cpu", "device", metavar="auto|cpu|cuda[:N]",
        help="Where to compute; auto = CUDA when available. Reports record the device used.")
    mix_variant: str = setting(
        "zhao", "choice", choices=("zhao", "ssim-l1"), affects=("mix",), json="mix.variant",
        help="zhao: paper-faithful MS-SSIM+L1 (Zhao et al. 2017); ssim-l1: single-scale form.")
    mix_alpha: float = setting(
        0.84, "float", minimum=0.0, maximum=1.0, affects=("mix",), json="mix.alpha",
        help="Weight of the structural term of the mixed loss.")
    tv_reduction: str = setting(
        "mean", "choice", choices=("mean", "sum"), affects=("tv",),
        help="TV per difference term (mean) or the plain sum (= tf.image.total_variation).")
    below: float = setting(
        0.9, "float", minimum=-1.0, maximum=1.0, affects=("ssim_below",),
        help="Level for ssim_below (fraction of the SSIM map below it).")
    pixel_tol: float = setting(
        0.0, "float", minimum=0.0, affects=("diff_pixels", "diff_ratio"),
        help="diff_pixels counts pixels whose largest channel difference exceeds this (image units, e.g. 0-255).")
    block: int = setting(
        16, "int", minimum=1, affects=("ssim_min",),
        help="Block size of ssim_min (worst block mean of the SSIM map).")
    max_pixels: int | None = setting(
        None, "int", minimum=1,
        help="Refuse images with more pixels than this before decoding (default 2^28).")
    tolerance: float = setting(
        0.0, "float", minimum=0.0, metavar="LEVELS",
        help="Treat per-sample differences up to LEVELS 8-bit levels (LEVELS/255 of the data range) as no "
        "change, before every metric: dither, anti-aliasing and GPU noise.")
    ignore: tuple[tuple[int, int, int, int], ...] = setting(
        (), "regions", metavar="X,Y,W,H", multiple=True,
        help="Ignore a region (pixels of the reference, repeatable): no metric sees it; SSIM uses only "
        "windows wholly outside every region.")
    mask: str | None = setting(
        None, "path", metavar="FILE|DIR", must_exist=True,
        help="An ignore mask image the size of the pair (non-zero = ignored), or a folder of masks found by "
        "the pair's relative path.")
    exif_transpose: bool = setting(
        False, "bool",
        help="Apply each file's EXIF orientation after decoding (default: pixels as stored, with a warning).")
    frames: str = setting(
        "exact", "choice", choices=("exact", "overlap", "ref"),
        help="Video: which frames are scored. exact: every frame of both, paired by time (different counts or "
        "rates are an error); overlap: the frames both have; ref: every reference frame. A distorted frame is "
        "never repeated to fill a gap.")
    offset: int = setting(
        0, "int", metavar="N",
        help="Video: pair distorted frame i+N with reference frame i (N > 0: the distorted stream starts N "
        "frames late).")
    find_offset: int = setting(
        0, "int", minimum=0, metavar="N", flag_value=5,
        help="Video: also search offsets -N..N (bare flag: 5) by mean PSNR on Y of the first 2 seconds; a "
        "pair whose offset is not the best is refused, naming the best. Never applied by itself.")
    pool: str = setting(
        "mean", "choice", choices=("mean", "min", "harmonic", "p1"), affects=_POOLED,
        help="Video: the one value per video (and what gates see): mean, min (the worst frame), harmonic, "
        "p1 (mean of the worst 1 % of frames). Every pool is in the JSON.")

    def __post_init__(self) -> None:
        for name, decl in DECLARED.items():
            try:
                value = decl.parse(getattr(self, name))
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
            object.__setattr__(self, name, value)
        for name, value in get_protocol(self.protocol).implies:
            if getattr(self, name) == DECLARED[name].default:
                object.__setattr__(self, name, value)
            elif getattr(self, name) != value:
                raise ValueError(f"protocol {self.protocol} implies {name} {value}, not {getattr(self, name)}")

    # -- derived -----------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        return columns_for(self.metrics)

    @property
    def video_columns(self) -> list[str]:
        """The columns of a video pair: :attr:`columns` pooled, the pooled PSNRs, and under
        colour ``yuv`` each of them per plane."""
        return columns_for(self.metrics, video=True, planes=self.color == "yuv")

    def relevant(self, name: str) -> bool:
        """Setting ``name`` changes a number of this run."""
        return DECLARED[name].relevant(self.metrics)

    # -- JSON ------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Every setting under its JSON key (dotted keys nest)."""
        out: dict[str, Any] = {}
        for decl in DECLARED.values():
            *parents, leaf = decl.json_key.split(".")
            node = out
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = decl.to_json(getattr(self, decl.name))
        return out

    @classmethod
    def json_values(cls, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The settings a report's settings object records, by setting name;
        a key the report does not hold is left out (iqa/1 reports omitted
        defaults). Raises ValueError naming a bad key."""
        values: dict[str, Any] = {}
        for decl in DECLARED.values():
            node: Any = obj
            for part in decl.json_key.split("."):
                if not isinstance(node, Mapping) or part not in node:
                    break
                node = node[part]
            else:
                try:
                    values[decl.name] = decl.from_json(node)
                except ValueError as e:
                    raise ValueError(f"{decl.json_key}: {e}") from None
        return values

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Settings":
        """The exact inverse of :meth:`to_json` (keys it does not know are ignored)."""
        return cls(**cls.json_values(obj))

    # -- text ------------------------------------------------------------------

    def describe(self) -> str:
        """One line naming the conventions, for the table's settings line."""
        ds = "ssim.m auto-downsampling" if self.downsample == "matlab" else "no downsampling"
        dr = "from dtype" if self.data_range is None else f"{self.data_range:g}"
        if self.bit_depth:
            dr += f" (bit depth {self.bit_depth})"
        if self.protocol == "wang":
            proto = f"SSIM: Wang ssim_index.m, 11x11 Gaussian sigma 1.5, valid, {ds}"
        else:
            proto = f"protocol {self.protocol} (see `iqa protocols`)"
        parts = [
            proto,
            *([f"crop {self.crop_border} px"] if self.crop_border else []),
            f"colour {self.color}",
            f"alpha {self.alpha}",
            f"data range {dr}",
            f"device {self.device}",
        ]
        if self.tolerance:
            parts.append(f"tolerance {self.tolerance:g} levels")
        if self.exif_transpose:
            parts.append("EXIF orientation applied")
        if self.frames != "exact" or self.offset:  # video pairing; the pool is said with each video
            parts.append(f"video frames {self.frames}" + (f", offset {self.offset:+d}" if self.offset else ""))
        if "mix" in self.metrics:
            parts.append(f"mix {self.mix_variant} alpha {self.mix_alpha:g}")
        return "; ".join(parts)


#: setting name -> its declaration, in table order
DECLARED: dict[str, Setting] = {
    f.name: dataclasses.replace(f.metadata["iqa"], name=f.name) for f in dataclasses.fields(Settings)
}


#: how the files of two folders are paired (not a number's setting: reports do not record them)
PAIRING: dict[str, Setting] = {s.name: s for s in (
    Setting("match", "choice", "path", choices=("path", "stem"),
            help="Pair by relative path, or by relative path without extension (a.png with a.jpg)."),
    Setting("include", "strings", (), metavar="GLOB", multiple=True,
            help="Only files matching GLOB (repeatable; ** = any depth)."),
    Setting("exclude", "strings", (), metavar="GLOB", multiple=True, help="Skip files matching GLOB (repeatable)."),
)}


def implied_conflict(values: Mapping[str, Any], explicit: Iterable[str]) -> str | None:
    """Why explicitly given values contradict what their protocol implies
    (``protocol matlab`` with ``downsample none``), or None. Front ends ask
    this before building :class:`Settings`, which cannot tell a default from a
    value someone chose."""
    chosen = set(explicit)
    protocol = values.get("protocol", DECLARED["protocol"].default)
    for name, value in get_protocol(protocol).implies:
        if name in chosen and values.get(name) != value:
            return f"protocol {protocol} implies {name} {value}, not {values.get(name)}"
    return None


def settings_from(values: Mapping[str, Any], explicit: Iterable[str] = ()) -> Settings:
    """:class:`Settings` from values by setting name (others are ignored),
    refusing explicit values that contradict their protocol."""
    problem = implied_conflict(values, explicit)
    if problem:
        raise ValueError(problem)
    return Settings(**{k: v for k, v in values.items() if k in DECLARED})


def differing_setting(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """The JSON key of the first setting two reports' settings objects record
    differently, among those that change a number of their metrics; None
    when they agree. Keys of no setting are not compared."""
    va, vb = Settings.json_values(a), Settings.json_values(b)
    metrics = va.get("metrics", DEFAULT_METRICS)
    for decl in DECLARED.values():
        if not decl.relevant(metrics) and decl.name != "metrics":
            continue
        x, y = va.get(decl.name, decl.default), vb.get(decl.name, decl.default)
        if x != y:
            return decl.json_key
    return None


__all__ = ["DECLARED", "METRICS", "PAIRING", "Setting", "Settings", "differing_setting", "implied_conflict", "setting",
           "settings_from"]
