"""``--update``: rewriting the baseline from the outputs, and refusing to when
the check could not see the whole baseline.

An update is planned first and applied only when nothing in the plan is
unsafe: a baseline is never removed because its output is missing unless the
user asked for it (``prune``), and never when a folder could not be read.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from ..atomic import atomic_write
from ..errors import IqaError, UsageError
from .rows import FAIL, MISSING, NEW, CheckRow


@dataclass
class Plan:
    copies: list[tuple[CheckRow, str, str | None]] = field(default_factory=list)  # row, target, old file to remove
    removals: list[CheckRow] = field(default_factory=list)


def plan_update(rows: list[CheckRow], baseline: str, ref_root: str | None, dist_root: str | None, *,
                prune: bool, unread: list[str]) -> Plan:
    """What ``--update`` would do; raises :class:`UsageError` (nothing done)
    when an unread folder or a missing output makes it unsafe."""
    if unread:
        shown = ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
        raise UsageError(f"update refused: {len(unread)} folder(s) could not be read ({shown}); "
                         "nothing was changed (make them readable, or narrow the check with --include/--exclude)")
    plan = Plan()
    for row in rows:
        if row.status in (FAIL, NEW) and row.output:
            old = None
            if row.baseline:
                target = row.baseline
                ext = os.path.splitext(row.output)[1]
                if os.path.splitext(target)[1].lower() != ext.lower():  # --match stem: the new format's name
                    old, target = target, os.path.splitext(target)[0] + ext
            elif ref_root is not None:
                target = os.path.join(ref_root, os.path.relpath(row.output, dist_root))
            else:
                target = baseline
            plan.copies.append((row, target, old))
        elif row.status == MISSING and row.baseline:
            plan.removals.append(row)
    if plan.removals and not prune:
        names = ", ".join(r.key for r in plan.removals[:3]) + (", ..." if len(plan.removals) > 3 else "")
        raise UsageError(
            f"update refused: {len(plan.removals)} baseline(s) have no output ({names}); OUTPUT may be a "
            "partial view (a sub-folder or a pattern); nothing was changed. Run with --prune to remove them")
    return plan


def apply_update(plan: Plan, baseline: str) -> list[str]:
    """Carry out a plan; returns one line per change."""
    changes = []
    for row, target, old in plan.copies:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            with open(row.output, "rb") as src, atomic_write(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if old is not None and os.path.abspath(old) != os.path.abspath(target):
                os.remove(old)
        except OSError as e:
            raise IqaError(f"cannot write the baseline: {e.strerror or e}",
                           getattr(e, "filename", None) or target) from None
        row.action = "added" if row.status == NEW else "replaced"
        changes.append(f"{row.action} {target} (from {row.output})"
                       + (f", removed {old}" if old else "")
                       + (f": was {row.summary()}" if row.status == FAIL else ""))
    for row in plan.removals:
        try:
            os.remove(row.baseline)
        except OSError as e:
            raise IqaError(f"cannot remove the baseline: {e.strerror or e}", row.baseline) from None
        row.action = "removed"
        changes.append(f"removed {row.baseline} (no output)")
    return changes
