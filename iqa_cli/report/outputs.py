"""Routing results to stdout and files as the options ask.

Atomic outputs (table, JSON, CSV files) are written once at the end; JSONL
and CSV on stdout, and JSONL files, stream one complete line per pair.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from typing import Any, Callable

from ..errors import IqaError, UsageError
from ..results import PairResult, Settings

#: file extension -> output format
FORMAT_BY_EXTENSION = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class Outputs:
    """Routes results to stdout (``fmt``) and to files (``output``, ``csv_path``,
    ``json_path``; ``"-"`` is stdout)."""

    def __init__(self, settings: Settings, *, fmt: str | None, output: str | None, csv_path: str | None,
                 json_path: str | None, quiet: bool):
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
        self._stack = ExitStack()
        self._streams: list[Callable[[PairResult], None]] = []
        self._finish: list[Callable[[dict], None]] = []

    def __enter__(self) -> "Outputs":
        from ..atomic import atomic_write
        from .csv import CsvWriter
        from .json import JsonlWriter

        for fmt, path in self.files:
            if fmt == "jsonl":
                try:
                    stream = self._stack.enter_context(open(path, "w", encoding="utf-8"))
                except OSError as e:
                    raise IqaError(f"cannot write: {e.strerror or e}", path) from None
                self._add_jsonl(JsonlWriter(stream))
            else:
                # probe writability now, before any work is done
                d = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(d) or not os.access(d, os.W_OK):
                    raise IqaError("cannot write: directory does not exist or is not writable", path)
        if self.stdout_fmt == "jsonl":
            self._add_jsonl(JsonlWriter(sys.stdout))
        elif self.stdout_fmt == "csv":
            w = CsvWriter(sys.stdout, self.settings)
            self._streams.append(w.write_pair)
        self._atomic = atomic_write
        return self

    def _add_jsonl(self, writer: Any) -> None:
        self._streams.append(writer.write_pair)
        self._finish.append(lambda summary, w=writer: w.write_summary(summary, self.settings))

    def pair(self, result: PairResult) -> None:
        for s in self._streams:
            s(result)

    def finish(self, results: list[PairResult], summary: dict, *, worst: int = 5, title: str | None = None) -> None:
        from .csv import write_csv
        from .json import to_json_text
        from ..results import document

        for f in self._finish:
            f(summary)
        doc = None
        for fmt, path in self.files:
            if fmt == "jsonl":
                continue
            with self._atomic(path, newline="" if fmt == "csv" else None) as fh:
                if fmt == "csv":
                    write_csv(fh, self.settings, results)
                elif fmt == "json":
                    doc = doc or document(self.settings, results, summary)
                    fh.write(to_json_text(doc) + "\n")
                else:
                    from rich.console import Console

                    from .table import render

                    render(Console(file=fh, width=120, color_system=None), self.settings, results, summary,
                           worst=worst, title=title)
        if self.stdout_fmt == "json":
            doc = doc or document(self.settings, results, summary)
            sys.stdout.write(to_json_text(doc) + "\n")
            sys.stdout.flush()
        elif self.stdout_fmt == "table" and not self.quiet:
            from .table import make_console, render

            render(make_console(), self.settings, results, summary, worst=worst, title=title)

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()
