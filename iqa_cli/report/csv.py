"""The contract CSV: one row per pair, missing and error pairs included.

The header is part of iqa's output contract (schema ``iqa/2``, docs/output.md)::

    reference,distorted,status,width,height,channels,ssim,ms_ssim,mse,psnr,tv_reference,tv_distorted,mix,protocol,crop_border,error,schema

whatever metrics were selected (a metric not computed is an empty cell), so a
script can rely on the columns. When the local metrics (``ssim_min``,
``ssim_below``, ``diff_pixels``, ``diff_ratio``) are selected, their columns are
inserted after ``mix``, in registry order. ``protocol`` and ``crop_border``
say whose conventions the numbers follow; ``schema`` (last, so that columns
read by position keep their places) names the contract on every row.

Cells: floats in full precision (``repr``, so ``float(cell)`` gives back the
exact value), integers as integers, non-finite values as ``inf``/``-inf``/``nan``,
``None`` as an empty cell. Lines end with ``\\n``; open files with
``newline=""`` so nothing is translated.
"""

from __future__ import annotations

import csv
import io
from typing import IO, Iterable

from ..formatting import full as cell
from ..metrics.registry import LOCAL_METRICS, columns_for
from ..results import SCHEMA, PairResult, Settings

#: the contract header
CSV_COLUMNS: tuple[str, ...] = (
    "reference", "distorted", "status", "width", "height", "channels",
    "ssim", "ms_ssim", "mse", "psnr", "tv_reference", "tv_distorted", "mix",
    "protocol", "crop_border", "error", "schema",
)  # fmt: skip

_FIXED = ("reference", "distorted", "status", "width", "height", "channels")
_CONVENTION = ("protocol", "crop_border")  # whose numbers these are, on every row


def csv_columns(settings: Settings) -> list[str]:
    """Header for ``settings``: the contract columns, with the selected local
    metrics after the contract's metric columns."""
    local = columns_for(tuple(m for m in settings.metrics if m in LOCAL_METRICS))
    return [*CSV_COLUMNS[:-4], *local, *CSV_COLUMNS[-4:]]


class CsvWriter:
    """Write rows as pairs arrive; every row is one write, flushed at once, so
    an interrupted run leaves whole rows.

    ``write_pair`` writes the header first if ``write_header`` was not called;
    ``count`` is the number of rows written so far.
    """

    def __init__(self, stream: IO[str], settings: Settings):
        self.stream = stream
        self.settings = settings
        self.columns = csv_columns(settings)
        self._metric_columns = [c for c in self.columns if c not in _FIXED + _CONVENTION + ("error", "schema")]
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\n")
        self._header_written = False
        self.count = 0

    def _line(self, cells: list[str]) -> None:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow(cells)
        self.stream.write(self._buf.getvalue())
        self.stream.flush()

    def write_header(self) -> None:
        if self._header_written:
            return
        self._line(self.columns)
        self._header_written = True

    def row(self, result: PairResult) -> list[str]:
        """The cells for one pair, in :attr:`columns` order."""
        return [
            cell(result.reference),
            cell(result.distorted),
            result.status.wire,
            cell(result.width),
            cell(result.height),
            cell(result.channels),
            *(cell(result.metrics.get(c)) for c in self._metric_columns),
            self.settings.protocol,
            cell(self.settings.crop_border),
            cell(result.error),
            SCHEMA,
        ]

    def write_pair(self, result: PairResult) -> None:
        self.write_header()
        self._line(self.row(result))
        self.count += 1


def write_csv(stream: IO[str], settings: Settings, results: Iterable[PairResult]) -> None:
    """Header plus one row per result."""
    writer = CsvWriter(stream, settings)
    writer.write_header()
    for r in results:
        writer.write_pair(r)
