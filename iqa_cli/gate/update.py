"""``--update``: rewriting the baseline from the outputs, all or nothing.

An update is planned first (:func:`plan_update`), and refused, changing
nothing, when the plan is unsafe: a baseline is never removed because its
output is missing unless the user asked for it (``prune``), and never when a
folder could not be read. A plan is then applied as one transaction
(:func:`apply_plan`):

1. every new baseline is written to a temporary file in its target's folder
   (created if needed) and flushed to disk;
2. every file to be replaced or removed is renamed aside, in its own folder;
3. every temporary file is renamed onto its target;
4. only then are the files set aside deleted.

A failure in steps 1–3 undoes what was done (renames back, temporary files
and created folders removed) and raises :class:`UpdateFailed`: the baseline
is exactly as it was. Renames inside one folder are atomic, so no baseline is
ever half-written. ``iqa review`` plans each decision with :func:`plan_update` (the
same targets and refusals) and applies it through its own undo log.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from dataclasses import dataclass, field

from ..errors import IqaError, UsageError
from ..spelling import spell
from .rows import FAIL, MISSING, NEW, CheckRow


@dataclass
class Copy:
    row: CheckRow
    target: str  # the baseline file written
    old: str | None = None  # a baseline of another name it replaces (stem matching: a.jpg -> a.png)

    @property
    def action(self) -> str:
        return "added" if self.row.status == NEW else "replaced"

    def describe(self) -> str:
        text = f"{self.action} {self.target} (from {self.row.output})"
        if self.old:
            text += f", removed {self.old}"
        if self.row.status == FAIL:
            text += f": was {self.row.summary()}"
        return text


@dataclass
class Plan:
    copies: list[Copy] = field(default_factory=list)
    removals: list[CheckRow] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per change the plan makes."""
        return [c.describe() for c in self.copies] + [f"removed {r.baseline} (no output)" for r in self.removals]

    def __bool__(self) -> bool:
        return bool(self.copies or self.removals)


class UpdateFailed(IqaError):
    """Applying a plan failed; everything done so far was undone."""


def refuse_unread(unread: list[str]) -> None:
    """Raise :class:`UsageError` when a folder could not be read: an update
    that cannot see the whole baseline changes nothing."""
    if unread:
        shown = ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
        raise UsageError(f"update refused: {len(unread)} folder(s) could not be read ({shown}); "
                         "nothing was changed (make them readable, or narrow the check with "
                         f"{spell('include')}/{spell('exclude')})")


def plan_row(row: CheckRow, baseline: str, ref_root: str | None, dist_root: str | None) -> Copy | CheckRow | None:
    """What an update does for one row: a :class:`Copy` (FAIL, NEW), the row
    itself for a removal (MISSING), or None (nothing to write: PASS, ERROR).
    A NEW output goes to the same relative path under ``ref_root`` (or to
    ``baseline`` itself when two files are checked); a stem-matched output of
    another format gets the baseline's name with its own extension."""
    if row.status in (FAIL, NEW) and row.output:
        old = None
        if row.baseline:
            target = row.baseline
            ext = os.path.splitext(row.output)[1]
            if os.path.splitext(target)[1].lower() != ext.lower():  # stem matching: the new format's name
                old, target = target, os.path.splitext(target)[0] + ext
        elif ref_root is not None:
            target = os.path.join(ref_root, os.path.relpath(row.output, dist_root))
        else:
            target = baseline
        return Copy(row, target, old)
    if row.status == MISSING and row.baseline:
        return row
    return None


def plan_update(rows: list[CheckRow], baseline: str, ref_root: str | None, dist_root: str | None, *,
                prune: bool, unread: list[str]) -> Plan:
    """What ``--update`` would do; raises :class:`UsageError` (nothing done)
    when an unread folder or a missing output makes it unsafe. ``prune``:
    the removals were asked for (``--prune``, or a review's decision)."""
    refuse_unread(unread)
    plan = Plan()
    for row in rows:
        step = plan_row(row, baseline, ref_root, dist_root)
        if isinstance(step, Copy):
            plan.copies.append(step)
        elif step is not None:
            plan.removals.append(step)
    if plan.removals and not prune:
        names = ", ".join(r.key for r in plan.removals[:3]) + (", ..." if len(plan.removals) > 3 else "")
        raise UsageError(
            f"update refused: {len(plan.removals)} baseline(s) have no output ({names}); OUTPUT may be a "
            f"partial view (a sub-folder or a pattern); nothing was changed. Run with {spell('prune')} to remove them")
    return plan


def _same(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


class _Transaction:
    """Steps 1–4 of the module docstring, with their undo."""

    def __init__(self) -> None:
        self.created_dirs: list[str] = []
        self.staged: list[tuple[str, str]] = []  # (temporary file, target)
        self.aside: list[tuple[str, str]] = []  # (original path, where it was moved)
        self.placed: list[str] = []  # targets that now hold a staged file

    def makedirs(self, d: str) -> None:
        missing = []
        while d and not os.path.isdir(d):
            if os.path.lexists(d):
                raise NotADirectoryError(errno.ENOTDIR, f"{d} is in the way: a file, not a folder", d)
            missing.append(d)
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        for m in reversed(missing):
            os.mkdir(m)
            self.created_dirs.append(m)

    def stage(self, source: str, target: str) -> None:
        d = os.path.dirname(os.path.abspath(target))
        self.makedirs(d)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{os.path.basename(target)}.", suffix=".iqa-new")
        self.staged.append((tmp, target))
        with os.fdopen(fd, "wb") as dst, open(source, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        with contextlib.suppress(OSError):  # a replaced baseline keeps its permissions
            os.chmod(tmp, os.stat(target).st_mode & 0o7777 if os.path.exists(target) else 0o666 & ~_umask())

    def set_aside(self, path: str) -> None:
        d = os.path.dirname(os.path.abspath(path))
        fd, aside = tempfile.mkstemp(dir=d, prefix=f".{os.path.basename(path)}.", suffix=".iqa-old")
        os.close(fd)
        os.replace(path, aside)
        self.aside.append((path, aside))

    def place(self) -> None:
        for tmp, target in self.staged:
            os.replace(tmp, target)
            self.placed.append(target)

    def undo(self) -> list[str]:
        """Undo every step; returns what could not be undone (one line each)."""
        left = []
        aside_from = {orig for orig, _ in self.aside}
        for target in reversed(self.placed):
            if target not in aside_from:  # a new file: remove it (a replaced one comes back below)
                try:
                    os.remove(target)
                except OSError as e:
                    left.append(f"{target}: {e.strerror or e}")
        for orig, aside in reversed(self.aside):
            try:
                os.replace(aside, orig)
            except OSError as e:
                left.append(f"{orig} (kept as {aside}): {e.strerror or e}")
        for tmp, _ in self.staged:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        for d in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        return left

    def commit(self) -> None:
        for _, aside in self.aside:
            with contextlib.suppress(OSError):
                os.remove(aside)


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def apply_plan(plan: Plan) -> list[str]:
    """Carry out a plan as one transaction (module docstring); sets each
    row's ``action`` and returns one line per change. Raises
    :class:`UpdateFailed` naming the file that failed, with nothing changed."""
    tx = _Transaction()
    current = None  # the baseline being worked on, for the message
    try:
        for c in plan.copies:
            current = c.target
            tx.stage(c.row.output, c.target)
        for c in plan.copies:
            current = c.target
            if os.path.exists(c.target):
                tx.set_aside(c.target)
            if c.old is not None and not _same(c.old, c.target):
                current = c.old
                tx.set_aside(c.old)
        for r in plan.removals:
            current = r.baseline
            tx.set_aside(r.baseline)
        current = None
        tx.place()
    except OSError as e:
        left = tx.undo()
        where = current or getattr(e, "filename", None)
        why = e.strerror or str(e)
        tail = "; nothing was changed" if not left else "; could not undo: " + "; ".join(left)
        raise UpdateFailed(f"cannot update the baseline: {why}{tail}", where) from None
    tx.commit()
    for c in plan.copies:
        c.row.action = c.action
    for r in plan.removals:
        r.action = "removed"
    return plan.describe()
