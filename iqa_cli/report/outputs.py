"""Routing results to stdout and files as the options ask.

JSONL and CSV stream, on stdout and into files alike: the JSONL settings line
or the CSV header at once, then one complete, flushed line per pair, so an
interrupted run leaves every finished pair. JSON and table files are atomic:
written once at the end, or not at all. Every output file is locked
(:mod:`.lock`) before any work, so a second writer is refused.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Callable, Iterator

from ..errors import IqaError, UsageError
from ..results import PairResult, Settings

#: file extension -> output format
FORMAT_BY_EXTENSION = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

#: formats written line by line as pairs are scored
STREAMED = ("jsonl", "csv")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def not_written(names: list[str]) -> str:
    """``"a.json was not written"``, ``"a.json and b.xml were not written"``."""
    if len(names) == 1:
        return f"{names[0]} was not written"
    return f"{', '.join(names[:-1])} and {names[-1]} were not written"


def stream_note(where: str, fmt: str, count: int) -> str:
    """What a stream holds after an interrupted run (``where``: a file, or "the CSV on stdout")."""
    if fmt == "csv":
        return f"{where} holds the {_plural(count, 'finished row')}" if count else f"{where} holds only the header"
    if count:
        return f"{where} holds the settings line and the {_plural(count, 'finished pair')}"
    return f"{where} holds only the settings line"


@contextlib.contextmanager
def _naming(where: str) -> Iterator[None]:
    """A write that fails (a full disk) is an error naming the output."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise IqaError(f"cannot write: {e.strerror.lower() if e.strerror else e}", where) from None


class Outputs:
    """Routes results to stdout (``fmt``) and to files (``output``, ``csv_path``,
    ``json_path``; ``"-"`` is stdout). ``per_frame``: the frames of pairs of
    frame sequences too (JSONL lines, CSV rows, the JSON ``frames`` arrays, a
    table per video); ``video``: the run holds such a pair (the CSV header
    has the video columns; :meth:`writes_csv` says whether it matters)."""

    def __init__(self, settings: Settings, *, fmt: str | None, output: str | None, csv_path: str | None,
                 json_path: str | None, quiet: bool, per_frame: bool = False, video: bool = False):
        if fmt is None and output:
            ext = os.path.splitext(output)[1].lower()
            fmt = FORMAT_BY_EXTENSION.get(ext, "table")
        self.settings = settings
        self.stdout_fmt = fmt or "table"
        self.files: list[tuple[str, str]] = []  # (format, path)
        if output:
            self.files.append((self.stdout_fmt, output))
            self.stdout_fmt = "table"
        bare = [f for f, p in (("csv", csv_path), ("json", json_path)) if p == "-"]
        if len(bare) > 1:
            raise UsageError("CSV and JSON cannot both go to stdout; give one of them a file")
        for f, p in (("csv", csv_path), ("json", json_path)):
            if p and p != "-":
                self.files.append((f, p))
        if bare:
            self.stdout_fmt = bare[0]
        self.quiet = quiet and self.stdout_fmt == "table"
        self.per_frame = per_frame
        self.video = video
        self._streams: list[tuple[str, str, Any]] = []  # (where, format, writer)
        self._finish: list[tuple[str, Callable[[dict], None]]] = []
        self._held: Any = None

    def __enter__(self) -> "Outputs":
        from .lock import HeldFiles

        self._held = HeldFiles()
        try:
            self._open()
        except BaseException:
            self._held.close()
            raise
        return self

    def _open(self) -> None:
        from .csv import CsvWriter
        from .json import JsonlWriter

        # every file is locked before any is truncated, and before any work
        held = []
        for fmt, path in self.files:
            if fmt not in STREAMED:
                # probe writability now: the atomic write at the end needs a temporary file there
                d = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(d) or not os.access(d, os.W_OK):
                    raise IqaError("cannot write: directory does not exist or is not writable", path)
            held.append(self._held.hold(path, stream=fmt in STREAMED))
        for (fmt, path), h in zip(self.files, held):
            if fmt == "jsonl":
                self._add_jsonl(path, JsonlWriter(h.open_stream(), per_frame=self.per_frame))
            elif fmt == "csv":
                self._add_csv(path, CsvWriter(h.open_stream(newline=""), self.settings, video=self.video,
                                              per_frame=self.per_frame))
        if self.stdout_fmt == "jsonl":
            self._add_jsonl("the JSONL on stdout", JsonlWriter(sys.stdout, per_frame=self.per_frame))
        elif self.stdout_fmt == "csv":
            self._add_csv("the CSV on stdout", CsvWriter(sys.stdout, self.settings, video=self.video,
                                                         per_frame=self.per_frame))

    def _add_jsonl(self, where: str, writer: Any) -> None:
        with _naming(where):
            writer.write_settings(self.settings)
        self._streams.append((where, "jsonl", writer))
        self._finish.append((where, lambda summary, w=writer: w.write_summary(summary, self.settings)))

    def _add_csv(self, where: str, writer: Any) -> None:
        with _naming(where):
            writer.write_header()
        self._streams.append((where, "csv", writer))

    @staticmethod
    def writes_csv(fmt: str | None, output: str | None, csv_path: str | None) -> bool:
        """Whether these options write CSV (whose header must know before the
        run whether it holds frame sequences)."""
        by_name = FORMAT_BY_EXTENSION.get(os.path.splitext(output)[1].lower()) if output else None
        return bool(csv_path) or fmt == "csv" or (fmt is None and by_name == "csv")

    def pair(self, result: PairResult) -> None:
        for where, _, w in self._streams:
            with _naming(where):
                w.write_pair(result)

    def interrupt_notes(self) -> list[str]:
        """What is true of each output after Ctrl-C: what every stream holds, what was not written."""
        notes = [stream_note(where, fmt, w.count) for where, fmt, w in self._streams]
        unwritten = [path for fmt, path in self.files if fmt not in STREAMED]
        if self.stdout_fmt == "json":
            unwritten.append("the JSON on stdout")
        elif self.stdout_fmt == "table" and not self.quiet:
            unwritten.append("the table")
        if unwritten:
            notes.append(not_written(unwritten))
        return notes

    def finish(self, results: list[PairResult], summary: dict, *, worst: int = 5, title: str | None = None) -> None:
        from ..atomic import atomic_write
        from ..results import document
        from .json import to_json_text

        for where, f in self._finish:
            with _naming(where):
                f(summary)
        doc = None
        for fmt, path in self.files:
            if fmt in STREAMED:
                continue
            with atomic_write(path) as fh:
                if fmt == "json":
                    doc = doc or document(self.settings, results, summary, per_frame=self.per_frame)
                    fh.write(to_json_text(doc) + "\n")
                else:
                    from rich.console import Console

                    from .table import render

                    render(Console(file=fh, width=120, color_system=None), self.settings, results, summary,
                           worst=worst, title=title, per_frame=self.per_frame)
        if self.stdout_fmt == "json":
            doc = doc or document(self.settings, results, summary, per_frame=self.per_frame)
            sys.stdout.write(to_json_text(doc) + "\n")
            sys.stdout.flush()
        elif self.stdout_fmt == "table" and not self.quiet:
            from .table import make_console, render

            render(make_console(), self.settings, results, summary, worst=worst, title=title,
                   per_frame=self.per_frame)

    def __exit__(self, *exc: Any) -> None:
        if self._held is not None:
            self._held.close()
