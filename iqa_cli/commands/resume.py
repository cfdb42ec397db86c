"""``iqa batch --resume``: continue the JSONL stream of an interrupted run.

The rows already in the file are kept (each pair is scored once over all
runs), a torn last line and any summary line are cut off, new rows are
appended, and the file ends with one summary computed from all rows.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from ..engines.settings import describe_value, differing_key
from ..errors import IqaError, UsageError
from ..report.json import JsonlWriter
from ..report.jsonl_read import Report, read_jsonl
from ..report.outputs import FORMAT_BY_EXTENSION
from ..results import PairResult, Settings
from .guard import warn


def wants_resume(output: str | None, fmt: str | None) -> None:
    """Refuse ``--resume`` without a JSONL ``-o`` file."""
    kind = fmt or FORMAT_BY_EXTENSION.get(os.path.splitext(output or "")[1].lower())
    if not output or output == "-" or kind != "jsonl":
        raise UsageError("--resume needs -o FILE.jsonl: the JSONL stream of the run to continue")


def check_settings(report: Report, settings: Settings, *, quiet: bool = False) -> None:
    """Raise :class:`UsageError` naming the first setting in which the file differs from this run."""
    now = settings.to_json()
    if report.settings is None:
        cols = {tuple(r.metrics) for r in report.rows if r.ok}
        if cols and cols != {tuple(settings.columns)}:
            raise UsageError("rows hold other metrics than this run's (resume with the same -m)", report.path)
        if not quiet and report.rows:
            warn(f"{report.path}: records no settings (no settings or summary line): only its metrics were checked")
        return
    key = differing_key(report.settings, now)
    if key is None and report.settings.get("shard") != now.get("shard"):  # the engine may change, the pairs not
        key = "shard"
    if key is not None:
        raise UsageError(f"settings differ: {key} is {describe_value(report.settings, key)} in the file, "
                         f"{describe_value(now, key)} in this run (resume with the same options, or write "
                         "another file)", report.path)


def _cut(report: Report) -> bool:
    """Leave only the settings and pair lines (a torn line and summaries
    dropped); True when the file was replaced rather than truncated."""
    if not report.summary_inside:
        with open(report.path, "r+b") as f:
            f.truncate(report.end_of_rows)
        return False
    from ..atomic import atomic_write

    with open(report.path, "rb") as f:
        lines = f.read()[: report.end_of_rows].split(b"\n")
    with atomic_write(report.path, "wb") as out:
        for raw in lines:
            if raw.strip() and json.loads(raw).get("type") != "summary":
                out.write(raw + b"\n")
    return True


class Resume:
    """The ``-o`` JSONL file of a resumed run: ``prior`` rows read from it;
    inside ``with``, new rows are appended (:meth:`pair`) and :meth:`finish`
    writes the summary."""

    def __init__(self, path: str, settings: Settings, *, quiet: bool = False, per_frame: bool = False):
        from ..report.lock import HeldFile

        self.path = path
        self.per_frame = per_frame
        self.settings = settings
        self.quiet = quiet
        # one writer per file, as for every output: a run still writing it refuses this one
        self._held: HeldFile | None = HeldFile(path)
        try:
            self._held.lock()
        except IqaError:
            self._held = None
            raise
        try:
            self.report = read_jsonl(path)
            check_settings(self.report, settings, quiet=quiet)
        except BaseException:
            self.release()
            raise
        self.base = (self.report.settings or {}).get("cwd") or os.getcwd()
        if self.report.torn and not quiet:
            warn(f"{path}: the last line was cut short (an interrupted write): it is dropped and its pair scored again")
        self.prior: list[PairResult] = self.report.rows
        self._stream: IO[str] | None = None
        self._writer: JsonlWriter | None = None

    def todo(self, pairs: list) -> list:
        """The pairs this run still scores; refuses a file whose rows belong to
        none of them (other folders), warns about rows that are no pair of
        this run (files removed since)."""
        from ..engines.shards import file_id, remaining

        ids = {file_id(p) for p in pairs}
        strays = [r for r in self.prior if file_id(r, self.base) not in ids]
        if self.prior and len(strays) == len(self.prior):
            raise UsageError(f"its {len(self.prior)} rows are pairs of other folders, none of this run's (resume "
                             "with the folders of the interrupted run, or write another file)", self.path)
        if strays and not self.quiet:
            warn(f"{self.path}: {len(strays)} of its rows are no pair of this run (files removed since?): kept")
        return remaining(pairs, self.prior, self.base)

    @staticmethod
    def existing(path: str) -> bool:
        return os.path.isfile(path) and os.path.getsize(path) > 0

    def release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def __enter__(self) -> "Resume":
        from ..report.lock import HeldFile

        try:
            if _cut(self.report):  # the file was replaced: hold the new one, then let go of the old
                held = HeldFile(self.path)
                held.lock()
                self.release()
                self._held = held
            self._stream = open(self.path, "a", encoding="utf-8")
        except OSError as e:
            raise IqaError(f"cannot write: {e.strerror or e}", self.path) from None
        self._writer = JsonlWriter(self._stream, per_frame=self.per_frame)
        return self

    def pair(self, row: PairResult) -> None:
        assert self._writer is not None
        if os.path.realpath(self.base) != os.path.realpath(os.getcwd()):
            # the file's relative paths start from the folder its first run worked in: write this run's absolute
            import dataclasses

            row = dataclasses.replace(row, **{k: os.path.abspath(v) for k in ("reference", "distorted")
                                              if (v := getattr(row, k)) is not None})
        self._writer.write_pair(row)

    def finish(self, summary: dict[str, Any]) -> None:
        assert self._writer is not None
        self._writer.write_summary(summary, self.settings)

    def __exit__(self, *exc: Any) -> None:
        if self._stream is not None:
            self._stream.close()
        self.release()


class Tee:
    """Streams each row to the outputs and to the resumed file."""

    def __init__(self, *sinks: Any):
        self.sinks = sinks

    def pair(self, row: PairResult) -> None:
        for s in self.sinks:
            s.pair(row)
