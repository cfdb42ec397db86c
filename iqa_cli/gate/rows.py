"""Check rows: the verdict on each pair (PASS, FAIL, NEW, MISSING, ERROR),
where it changed, and the verdict line of the whole check."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..formatting import json_number, metric_value, short
from ..pairing import Pattern, covered
from ..results import PairResult, frame_series, worst_frame_text
from ..settings import DECLARED
from ..spelling import spell
from ..status import CheckStatus, PairStatus
from .gates import Gate, GateResult, evaluate, rel_margin

PASS, FAIL, NEW, MISSING, ERROR_S = (CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.NEW, CheckStatus.MISSING,
                                     CheckStatus.ERROR)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@dataclass
class CheckRow:
    key: str
    baseline: str | None
    output: str | None
    status: CheckStatus
    regression: bool  # counts toward exit 1
    gates: list[GateResult] = field(default_factory=list)
    reason: str | None = None  # for FAIL without gates (size mismatch), MISSING, NEW, ERROR
    where: str | None = None  # "changed pixels in x 500-519, y 500-519; worst block at ..."
    width: int | None = None
    height: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)  # html thumbnails (PNG)
    action: str | None = None  # what an update did (replaced, added, removed)
    #: a pair of frame sequences: its ``video`` object and values over its frames
    #: (:func:`~iqa_cli.results.frame_series`) for the reports' charts; not in to_json
    video: dict[str, Any] | None = None
    series: dict[str, Any] | None = None

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
        return {
            "key": self.key, "baseline": self.baseline, "output": self.output, "status": self.status,
            "regression": self.regression, "gates": [g.to_json() for g in self.gates], "reason": self.reason,
            "where": self.where, "width": self.width, "height": self.height,
            "metrics": {k: json_number(v) for k, v in self.metrics.items()}, "warnings": list(self.warnings),
            "action": self.action,
        }



@dataclass(frozen=True)
class Override:
    """A per-glob table of the config: its gates and/or ignore regions and mask."""

    patterns: list[Pattern]
    gates: list[Gate] | None = None
    ignore: tuple[tuple[int, int, int, int], ...] = ()
    mask: str | None = None


@dataclass
class Rules:
    """How results become rows: the gates, per-glob overrides, CI and NEW policy."""

    gates: list[Gate]
    overrides: list[Override] = field(default_factory=list)
    ci: bool = False
    allow_new: bool = False
    block: int = DECLARED["block"].default  # ssim_min's block size, for the worst-block note
    ref_root: str | None = None
    dist_root: str | None = None

    def _matching(self, pair) -> list[Override]:
        if not self.overrides:
            return []
        names = {pair.key}
        for p, root in ((pair.reference, self.ref_root), (pair.distorted, self.dist_root)):
            if p is not None:
                names.add(Path(os.path.relpath(p, root)).as_posix() if root else Path(p).name)
        return [o for o in self.overrides if any(covered(o.patterns, n) for n in names)]

    def gates_for(self, pair) -> list[Gate]:
        """The gates of the first matching override that has some, else the gates."""
        return next((o.gates for o in self._matching(pair) if o.gates is not None), self.gates)

    def mask_for(self, pair, ignore: tuple = (), mask: str | None = None) -> tuple[tuple, str | None]:
        """The ignore regions (the settings' plus every matching override's) and the
        mask (the first matching override's, else the settings') of a pair."""
        matching = self._matching(pair)
        regions = tuple(ignore) + tuple(r for o in matching for r in o.ignore)
        return regions, next((o.mask for o in matching if o.mask), mask)

    def row(self, pair, r: PairResult) -> CheckRow:
        row = CheckRow(pair.key, r.reference, r.distorted, PASS, False, width=r.width, height=r.height,
                       metrics=dict(r.metrics), warnings=list(r.warnings))
        maps = r.maps or {}
        if r.status == PairStatus.MISSING_REFERENCE:
            row.status = NEW
            row.regression = self.ci and not self.allow_new
            row.reason = (f"no baseline (CI=true: a regression; {spell('allow_new')} or {spell('update')})"
                          if row.regression else f"no baseline yet (add it with {spell('update')})")
        elif r.status == PairStatus.MISSING_DISTORTED:
            row.status, row.regression = MISSING, True
            removal = " ".join(w for w in (spell("update"), spell("prune")) if w)  # a front end may need one word
            row.reason = f"no output for this baseline ({removal} removes the baseline)"
        elif r.status == PairStatus.SIZE_MISMATCH:
            row.status, row.regression, row.reason = FAIL, True, r.error or "size mismatch"
        elif r.identical:  # identical files always pass, whatever could be computed for them
            if r.status == PairStatus.OK:
                row.gates = [g for g in evaluate(self.gates_for(pair), r.metrics, r.warnings) if g.passed]
            elif r.error:  # nothing could be read, and nothing changed: say why, and pass
                row.warnings.append(f"byte-identical files pass, not decoded: {r.error}")
            row.reason = "byte-identical files"
            row.where = "no changed pixels"
        elif r.status == PairStatus.ERROR:
            row.status, row.reason = ERROR_S, r.error
        else:
            row.gates = evaluate(self.gates_for(pair), r.metrics, r.warnings)
            if row.failed_gates:
                row.status, row.regression = FAIL, True
            row.where = where(maps, self.block)
            if r.video is not None:
                w = row.worst
                row.where = frame_where(r.video, w.gate.metric if w else None, row.where)
        if r.video is not None:
            row.video = r.video
            row.series = frame_series(r, CHART_COLUMNS)
        return row

    @staticmethod
    def drawn(row: CheckRow) -> bool:
        """Rows whose images a report shows: failures, missing outputs, NEW regressions."""
        return row.status in (FAIL, MISSING) or (row.status == NEW and row.regression)


def bbox(mask) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) inclusive bounding box of the True pixels, or None."""
    import numpy as np  # not at import time: `iqa --help` stays fast

    mask = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def worst_block(ssim_map, block: int, offset: int = 5) -> tuple[int, int, int, int] | None:
    """Image-coordinate box (x0, y0, x1, y1) of the worst ``block``-sized mean of the SSIM map."""
    import numpy as np

    m = np.asarray(ssim_map, dtype=np.float64)
    if m.size == 0:
        return None
    bh, bw = min(block, m.shape[0]), min(block, m.shape[1])
    c = np.pad(np.cumsum(np.cumsum(m, axis=0), axis=1), ((1, 0), (1, 0)))
    s = c[bh:, bw:] - c[:-bh, bw:] - c[bh:, :-bw] + c[:-bh, :-bw]
    y, x = np.unravel_index(int(np.argmin(s)), s.shape)
    return int(x) + offset, int(y) + offset, int(x) + offset + bw - 1, int(y) + offset + bh - 1


def where(maps: dict, block: int) -> str | None:
    parts = []
    mask = maps.get("diff_mask")
    if mask is not None:
        bb = bbox(mask)
        if bb is None:
            return "no changed pixels"
        x0, y0, x1, y1 = bb
        parts.append(f"changed x {x0}-{x1}, y {y0}-{y1}")
    smap = maps.get("ssim_map")
    if smap is not None and smap.size:
        wb = worst_block(smap, block)
        if wb:
            parts.append(f"worst block x {wb[0]}, y {wb[1]}")
    return "; ".join(parts) or None


#: the columns a report charts over the frames of a video
CHART_COLUMNS = ("ssim", "psnr", "ms_ssim", "ssim_min", "mse")


def frame_where(video: dict[str, Any], metric: str | None, pixels: str | None) -> str | None:
    """Where a pair of frame sequences changed: the worst frame of the gate's
    ``metric`` (index and time: with ``pool`` min it is the frame the gate
    judged), then ``pixels`` (:func:`where` of the frame the report pictures),
    naming that frame when it is another."""
    parts = []
    text = worst_frame_text(video, metric) if metric else None
    worst = (video.get("worst") or {}).get(metric or "")
    if text:
        parts.append(f"worst {metric} at {text}")
    pic = video.get("pictured")
    if pixels and pic:
        if worst and worst.get("frame") == pic.get("frame"):
            parts.append(pixels)
        else:
            t = pic.get("time")
            when = f" ({t:.3f} s)" if isinstance(t, (int, float)) else ""
            parts.append(f"frame {pic['frame']}{when}, worst by {pic['column']}: {pixels}")
    return "; ".join(parts) or pixels


def verdict_line(rows: list[CheckRow], changes: list[str], *, updated: bool = False) -> str:
    """The one-line verdict; after ``--update`` it says what was rewritten and
    what had failed, never "PASS"."""
    n = len(rows)
    if updated:
        kinds = {k: sum(1 for r in rows if r.action == k) for k in ("replaced", "added", "removed")}
        failed = [r for r in rows if r.regression]
        errs = [r for r in rows if r.status == ERROR_S]
        head = "UPDATED: " + ", ".join(f"{v} {k}" for k, v in kinds.items())
        tail = [f"{len(failed)} pair{'s' if len(failed) != 1 else ''} had failed"]
        if errs:
            tail.append(f"{len(errs)} could not be checked (not updated)")
        return head + "; " + "; ".join(tail)
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
        tail.append(f"{len(errs)} could not be checked (see the errors)")
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
        return f"{w.gate.metric} {metric_value(w.gate.metric, w.value)} {w.gate.op} {short(w.gate.threshold)}"
    return {MISSING: "missing output", NEW: "new, no baseline"}.get(r.status, r.reason or r.status)

