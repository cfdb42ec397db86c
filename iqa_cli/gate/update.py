"""``--update``: rewriting the baseline from the outputs."""

from __future__ import annotations

import os
import shutil

from ..errors import IqaError
from ..atomic import atomic_write
from .rows import FAIL, MISSING, NEW, CheckRow


def update_baseline(rows: list[CheckRow], baseline: str, output: str, ref_root: str | None,
                    dist_root: str | None) -> list[str]:
    """Copy failed/new outputs into the baseline, remove baselines without output; returns the changes."""
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
