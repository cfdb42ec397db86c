"""What the review page talks to: the :class:`ReviewSession` protocol, and
:class:`FileSession`, which holds the pairs a check found and applies the
decisions to the files of a baseline folder.

The protocol (every method is called from the server's threads; an
implementation serialises them itself)::

    pairs()            -> list[dict]     the pair objects of GET /api/pairs
    image(path, kind)  -> bytes | None   a PNG: kind in baseline, output, heatmap, mask
    pixel(path, x, y)  -> dict | None    raw sample values at (x, y) (optional)
    chart(path)        -> bytes | None   the per-frame SVG chart of a video pair (optional)
    accept(paths)      -> dict           the outputs become the baseline
    reject(paths)      -> dict           the baseline stays; the pair stays failing
    skip(paths)        -> dict           no decision, moved past
    undo()             -> dict           take back the last accept of this session
    summary()          -> dict           accepted, rejected, skipped, left, changes

A pair object has at least: ``path`` (the pair's relative path, its name in
the API), ``status`` (FAIL, NEW, MISSING, ERROR, PASS), ``gates`` (``{gate,
metric, op, threshold, value, margin, passed}``), ``warnings``, ``reason``,
``where`` (text), ``where_box`` (``{x0, y0, x1, y1}`` inclusive image
coordinates, or null), ``width``, ``height``, ``metrics``, ``display`` (how
the samples were mapped to the 8-bit PNGs shown), ``decision`` (null,
``accepted``, ``rejected``, ``skipped``), ``images`` (the kinds
:meth:`image` has), ``raw_pixels`` (whether :meth:`pixel` answers),
``needs_decision``, ``can_accept`` with ``accept_action`` (``replace``,
``add``, ``remove``) or ``refusal`` (why not), ``target`` (the file in
BASELINE an accept writes or removes, relative to it), ``video`` (a pair
of frame sequences: the check's ``video`` object, frame counts, pools, the
worst frame of each column and the one pictured; null for images) and
``chart`` (whether :meth:`chart` draws one).

``accept``/``reject``/``skip``/``undo`` return ``{"ok": bool, "changed":
[{path, file, action, old_sha256, new_sha256}], "refused": [{path, reason}],
"decisions": {path: decision}}`` plus ``"error"`` when files could not be
changed (and were all put back). ``changed`` is what happened on disk:
``replaced``, ``added``, ``removed`` for an accept; ``restored``,
``removed`` for an undo. An accept is all-or-nothing: when one of its pairs
is refused, nothing is done.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Union, runtime_checkable

from ..errors import IqaError
from ..gate.rows import CheckRow
from ..gate.update import plan_update
from ..report.chart import chart_document, has_chart, report_columns
from ..status import CheckStatus
from .paths import PathRefused, relative_inside, resolve_inside
from .undo import Change, Failed, Refused, UndoLog, default_log_path, file_sha256, new_id

IMAGE_KINDS = ("baseline", "output", "heatmap", "mask")
ACCEPTED, REJECTED, SKIPPED = "accepted", "rejected", "skipped"
#: the order pairs are listed in: those that need a decision first
STATUS_ORDER = {CheckStatus.FAIL: 0, CheckStatus.NEW: 1, CheckStatus.MISSING: 2, CheckStatus.ERROR: 3,
                CheckStatus.PASS: 4}
DISPLAY_8BIT = "8-bit as stored"
#: why a pair the update plan leaves alone cannot be accepted
_NOTHING = {CheckStatus.PASS: "it passes: nothing to accept",
            CheckStatus.ERROR: "it could not be checked: fix the error first"}


@runtime_checkable
class ReviewSession(Protocol):
    """What the server needs; see the module docstring for the objects."""

    def pairs(self) -> list[dict[str, Any]]: ...

    def image(self, path: str, kind: str) -> bytes | None: ...

    def pixel(self, path: str, x: int, y: int) -> dict[str, Any] | None: ...

    def chart(self, path: str) -> bytes | None: ...

    def accept(self, paths: list[str]) -> dict[str, Any]: ...

    def reject(self, paths: list[str]) -> dict[str, Any]: ...

    def skip(self, paths: list[str]) -> dict[str, Any]: ...

    def undo(self) -> dict[str, Any]: ...

    def summary(self) -> dict[str, Any]: ...


ImageSource = Union[bytes, Callable[[], Union[bytes, None]]]


def display_text(dtype: Any, data_range: float | None = None) -> str:
    """How :func:`iqa_cli.report.images.display_image` maps samples of
    ``dtype`` to the 8-bit pictures, in words."""
    import numpy as np

    dt = np.dtype(dtype)
    if dt == np.uint8:
        return DISPLAY_8BIT
    if dt.kind in "ui":
        top = data_range or float(np.iinfo(dt).max)
        return f"{dt.itemsize * 8}-bit: linear 0..{top:g} -> 0..255"
    return f"float: linear 0..{data_range or 1.0:g} -> 0..255 (clipped)"


@dataclass
class PairRecord:
    """One pair as the check saw it.

    ``baseline``/``output``: the files (None where there is none); the
    baseline file must be inside BASELINE. ``target``: where an accept
    writes or removes, relative to BASELINE, as ``check --update`` plans it
    (filled in by the session: a NEW output goes to its path relative to
    OUTPUT; a FAIL pair whose output has another extension, ``--match stem``,
    writes the baseline's name with the output's extension and removes the
    old file). ``row``: the check row it was made from, when there is one.
    ``images``: PNG bytes, or a function returning them (drawn when first
    asked for), per kind. ``arrays``: the decoded samples (``baseline``,
    ``output``), for raw pixel values. ``baseline_sha256``/``output_sha256``:
    the bytes the check compared (taken when the session starts if None);
    an accept is refused when a file no longer has them. PASS and ERROR
    pairs are never accepted and are not hashed.
    """

    path: str
    status: str
    baseline: str | None = None
    output: str | None = None
    gates: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None
    where: str | None = None
    where_box: tuple[int, int, int, int] | dict[str, int] | None = None
    width: int | None = None
    height: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    display: str = DISPLAY_8BIT
    images: dict[str, ImageSource] = field(default_factory=dict)
    arrays: dict[str, Any] | None = None
    target: str | None = None
    baseline_sha256: str | None = None
    output_sha256: str | None = None
    hashed: bool = False
    video: dict[str, Any] | None = None
    series: dict[str, Any] | None = field(default=None, repr=False)
    row: Any = field(default=None, repr=False)


def _sha_or_none(path: str) -> str | None:
    try:
        return file_sha256(path)
    except IqaError:  # unreadable: an accept of it is refused
        return None


class FileSession:
    """A review of ``records`` against the baseline folder ``root``.

    Decisions live in memory; accepts and undos change the files (through
    :class:`~.undo.UndoLog`, logged at ``log_path``, default beside
    ``root``). ``read_only``: a reason every accept is refused with (what
    ``check --update`` would refuse, e.g. a folder that could not be read).
    ``output_root``: the OUTPUT folder, where NEW outputs are relative to
    (without it a NEW pair cannot be accepted). ``baseline_file``: when the
    check compared two files, the BASELINE file (``root`` is its folder).
    """

    def __init__(self, root: str, records: list[PairRecord], *, log_path: str | None = None,
                 read_only: str | None = None, session_id: str | None = None, output_root: str | None = None,
                 baseline_file: str | None = None):
        self.root = os.path.abspath(root)
        self.output_root = os.path.abspath(output_root) if output_root is not None else None
        self.baseline_file = os.path.abspath(baseline_file) if baseline_file is not None else None
        self.log = UndoLog(log_path or default_log_path(self.root))
        self.read_only = read_only
        self.id = session_id or new_id()
        self._lock = threading.RLock()
        self._image_lock = threading.Lock()  # drawing a picture never holds up a decision
        self._records: dict[str, PairRecord] = {}
        self._decisions: dict[str, str] = {}
        self._images: dict[tuple[str, str], bytes | None] = {}
        for i, r in sorted(enumerate(records), key=lambda t: (STATUS_ORDER.get(t[1].status, 5), t[0])):
            r.status = CheckStatus(str(r.status))
            if r.path in self._records:
                raise ValueError(f"two pairs named {r.path!r}")
            if r.status not in (CheckStatus.PASS, CheckStatus.ERROR) and not r.hashed:  # what an accept may change
                if r.baseline is not None and r.baseline_sha256 is None:
                    r.baseline_sha256 = _sha_or_none(r.baseline)
                if r.output is not None and r.output_sha256 is None:
                    r.output_sha256 = _sha_or_none(r.output)
            self._records[r.path] = r
            try:
                r.target = self._plan(r)[0].file
            except Refused:
                r.target = None

    # ------------------------------------------------------------------ reading

    def _plan(self, r: PairRecord) -> list[Change]:
        """The file changes accepting ``r`` makes; :class:`Refused` (one item) when it cannot be accepted.

        Which pairs an accept may touch, and where it writes, is what
        ``check --update`` plans (:func:`~iqa_cli.gate.update.plan_update`,
        the one definition; a MISSING pair's removal was asked for, as
        ``--prune`` asks). Each planned file is then checked against the
        bytes the check saw and kept inside BASELINE."""
        def no(why: str) -> Refused:
            return Refused([{"path": r.path, "reason": why}])

        if self.read_only:
            raise no(self.read_only)
        if self._decisions.get(r.path) == ACCEPTED:
            raise no("already accepted (undo to take it back)")
        if r.status == CheckStatus.NEW and self.output_root is None and self.baseline_file is None:
            raise no("the OUTPUT folder is not known: nowhere to place a new file")
        row = CheckRow(r.path, r.baseline, r.output, CheckStatus(r.status), r.status != CheckStatus.PASS)
        try:
            plan = plan_update([row], self.baseline_file or self.root,
                               None if self.baseline_file else self.root, self.output_root, prune=True, unread=[])
        except IqaError as e:
            raise no(str(e)) from None
        if not plan:
            raise no(_NOTHING.get(r.status, "nothing to accept"))
        for side, path, sha in (("baseline", r.baseline, r.baseline_sha256), ("output", r.output, r.output_sha256)):
            if path is not None and sha is None:
                raise no(f"the {side} is not as the check read it (changed meanwhile, or unreadable): "
                         "run the review again")
        try:
            if plan.removals:
                rel = relative_inside(self.root, r.baseline)
                return [Change(r.path, self.root, rel, resolve_inside(self.root, rel), "removed",
                               r.baseline_sha256)]
            (copy,) = plan.copies
            changes = []
            if copy.old is not None:  # --match stem: the new format's name, the old file goes
                old = relative_inside(self.root, copy.old)
                changes.append(Change(r.path, self.root, old, resolve_inside(self.root, old), "removed",
                                      r.baseline_sha256))
            target = resolve_inside(self.root, relative_inside(self.root, copy.target))
            rel = relative_inside(self.root, target)
            expect_old = r.baseline_sha256 if (r.baseline is not None and not changes) else \
                (file_sha256(target) if os.path.lexists(target) and changes else None)
            if expect_old is None and os.path.lexists(target):
                what = "a folder" if os.path.isdir(target) else "a file"
                raise no(f"{rel}: {what} of that name is in BASELINE (it was not there for the check)")
            action = "replaced" if expect_old is not None else "added"
            changes.insert(0, Change(r.path, self.root, rel, target, action, expect_old, os.path.abspath(r.output),
                                     r.output_sha256))
            return changes
        except PathRefused as e:
            raise no(f"refused: {e}") from None
        except IqaError as e:  # a target that cannot be read (a folder, no permission)
            raise no(str(e)) from None

    def _pair_json(self, r: PairRecord) -> dict[str, Any]:
        box = r.where_box
        if isinstance(box, (tuple, list)):
            box = dict(zip(("x0", "y0", "x1", "y1"), (int(v) for v in box)))
        try:
            plan = self._plan(r)
            refusal = None
        except Refused as e:
            plan, refusal = [], e.items[0]["reason"]
        if self._decisions.get(r.path) == ACCEPTED:
            refusal = "already accepted"
        action = None
        if plan:
            action = {"replaced": "replace", "added": "add", "removed": "remove"}[plan[0].action]
        return {
            "path": r.path, "status": str(r.status), "gates": list(r.gates), "warnings": list(r.warnings),
            "reason": r.reason, "where": r.where, "where_box": box, "width": r.width, "height": r.height,
            "metrics": dict(r.metrics), "display": r.display, "decision": self._decisions.get(r.path),
            "images": [k for k in IMAGE_KINDS if r.images.get(k) is not None],
            "raw_pixels": bool(r.arrays), "needs_decision": r.status != CheckStatus.PASS,
            "can_accept": bool(plan), "accept_action": action, "refusal": refusal,
            "target": plan[0].file if plan else None,
            "baseline_file": r.baseline, "output_file": r.output,
            "video": r.video, "chart": has_chart(r.series, report_columns(r.video)),
        }

    def pairs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._pair_json(r) for r in self._records.values()]

    def image(self, path: str, kind: str) -> bytes | None:
        r = self._records.get(path)
        if r is None or kind not in IMAGE_KINDS:
            return None
        with self._image_lock:
            if (path, kind) not in self._images:
                src = r.images.get(kind)
                self._images[(path, kind)] = src() if callable(src) else src
            return self._images[(path, kind)]

    def chart(self, path: str) -> bytes | None:
        """The per-frame chart of a video pair as ``check --html`` draws it (the
        gated column first), as a standalone SVG; None for an image pair."""
        r = self._records.get(path)
        if r is None or r.series is None:
            return None
        with self._image_lock:
            if (path, "chart") not in self._images:
                self._images[(path, "chart")] = chart_document(r.series, r.video, columns=report_columns(r.video))
            return self._images[(path, "chart")]

    def pixel(self, path: str, x: int, y: int) -> dict[str, Any] | None:
        r = self._records.get(path)
        if r is None or not r.arrays:
            return None
        out: dict[str, Any] = {"x": x, "y": y}
        for kind in ("baseline", "output"):
            a = r.arrays.get(kind)
            if a is None or not (0 <= y < a.shape[0] and 0 <= x < a.shape[1]):
                out[kind] = None
                continue
            v = a[y, x]
            out[kind] = [v.item()] if getattr(v, "ndim", 0) == 0 else [s.item() for s in v]
        return out

    # ------------------------------------------------------------------ deciding

    def _unknown(self, paths: list[str]) -> list[dict[str, Any]]:
        return [{"path": p, "reason": "no such pair in this review"} for p in paths if p not in self._records]

    def _result(self, *, changed=(), refused=(), error: str | None = None, paths=()) -> dict[str, Any]:
        out = {"ok": not refused and error is None, "changed": list(changed), "refused": list(refused),
               "decisions": {p: self._decisions.get(p) for p in paths if p in self._records}}
        if error is not None:
            out["error"] = error
        return out

    @staticmethod
    def _changed(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"path": ln["path"], "file": ln["file"], "action": ln["action"],
                 "old_sha256": ln.get("old_sha256"), "new_sha256": ln.get("new_sha256")} for ln in lines]

    def accept(self, paths: list[str]) -> dict[str, Any]:
        paths = list(dict.fromkeys(paths))
        with self._lock:
            refused = self._unknown(paths)
            changes: list[Change] = []
            for p in paths:
                if p in self._records:
                    try:
                        changes.extend(self._plan(self._records[p]))
                    except Refused as e:
                        refused.extend(e.items)
            if refused or not paths:
                return self._result(refused=refused or [{"path": None, "reason": "no pairs named"}], paths=paths)
            try:
                lines = self.log.accept(changes, session=self.id)
            except Refused as e:
                return self._result(refused=e.items, paths=paths)
            except (Failed, IqaError) as e:  # IqaError: the log or its store could not be written; nothing changed
                return self._result(error=str(e), paths=paths)
            for p in paths:
                self._decisions[p] = ACCEPTED
            return self._result(changed=self._changed(lines), paths=paths)

    def _decide(self, paths: list[str], decision: str) -> dict[str, Any]:
        paths = list(dict.fromkeys(paths))
        with self._lock:
            refused = self._unknown(paths)
            for p in paths:
                r = self._records.get(p)
                if r is None:
                    continue
                if r.status == CheckStatus.PASS:
                    refused.append({"path": p, "reason": "it passes: nothing to decide"})
                elif self._decisions.get(p) == ACCEPTED:
                    refused.append({"path": p, "reason": "accepted: undo it first"})
            if refused or not paths:
                return self._result(refused=refused or [{"path": None, "reason": "no pairs named"}], paths=paths)
            for p in paths:
                self._decisions[p] = decision
            return self._result(paths=paths)

    def reject(self, paths: list[str]) -> dict[str, Any]:
        return self._decide(paths, REJECTED)

    def skip(self, paths: list[str]) -> dict[str, Any]:
        return self._decide(paths, SKIPPED)

    def undo(self) -> dict[str, Any]:
        with self._lock:
            try:
                lines = self.log.undo_last(self.id, self.root)
            except Refused as e:
                return self._result(refused=e.items)
            except (Failed, IqaError) as e:
                return self._result(error=str(e))
            paths = list(dict.fromkeys(ln["path"] for ln in lines))
            for p in paths:
                self._decisions.pop(p, None)
            return self._result(changed=self._changed([ln for ln in lines if ln["action"] != "unchanged"]),
                                paths=paths)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            by: dict[str, list[str]] = {ACCEPTED: [], REJECTED: [], SKIPPED: [], "left": []}
            passed = 0
            for r in self._records.values():
                if r.status == CheckStatus.PASS:
                    passed += 1
                    continue
                by[self._decisions.get(r.path) or "left"].append(r.path)
            changes = [c for batch in self.log.open_accepts(self.id) for c in self._changed(batch)]
            return {"accepted": by[ACCEPTED], "rejected": by[REJECTED], "skipped": by[SKIPPED],
                    "left": by["left"], "passed": passed, "changes": changes, "log": self.log.path,
                    "baseline": self.root}
