"""Exit codes and statuses, and the one rule from results to an exit code.

A leaf: every layer may import it, it imports nothing of iqa's.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Iterable


class ExitCode(IntEnum):
    """What ``iqa`` returns to the shell (the same for every command)."""

    OK = 0  # everything asked for was computed (and every gate passed)
    REGRESSION = 1  # a gate failed, a size mismatch, a missing/new file under check
    ERROR = 2  # bad usage, unreadable input, a metric that could not be computed
    NOTHING = 3  # nothing was compared
    INTERRUPTED = 130  # Ctrl-C


class _Text(str, Enum):
    """A status that is its own text in every output (JSON, CSV, f-strings)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class PairStatus(_Text):
    """The outcome of one pair in ``compare`` / ``batch`` / ``check``.

    ``SIZE_MISMATCH`` is written as ``error`` in the iqa/1 and iqa/2 outputs (their
    contract has four statuses); it counts as a regression, not an error.
    """

    OK = "ok"
    ERROR = "error"
    MISSING_REFERENCE = "missing_reference"
    MISSING_DISTORTED = "missing_distorted"
    SIZE_MISMATCH = "size_mismatch"

    @property
    def wire(self) -> str:
        """The status as the iqa/1 and iqa/2 contracts write it."""
        return "error" if self is PairStatus.SIZE_MISMATCH else self.value

    @property
    def missing(self) -> bool:
        return self in (PairStatus.MISSING_REFERENCE, PairStatus.MISSING_DISTORTED)


class CheckStatus(_Text):
    """The verdict on one pair under ``iqa check``."""

    PASS = "PASS"
    FAIL = "FAIL"
    NEW = "NEW"
    MISSING = "MISSING"
    ERROR = "ERROR"


def exit_code(statuses: Iterable[PairStatus]) -> ExitCode:
    """The rule for ``compare`` and ``batch``: 3 when nothing was compared;
    2 for any error or missing file; else 1 for a size mismatch; else 0."""
    seen = set(statuses)
    if not seen:
        return ExitCode.NOTHING
    if PairStatus.ERROR in seen or PairStatus.MISSING_REFERENCE in seen or PairStatus.MISSING_DISTORTED in seen:
        return ExitCode.ERROR
    if PairStatus.SIZE_MISMATCH in seen:
        return ExitCode.REGRESSION
    return ExitCode.OK
