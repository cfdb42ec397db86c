"""The contract CSV: one row per pair, missing and error pairs included.

The header is part of iqa's output contract (schema ``iqa/2``, docs/output.md)::

    reference,distorted,status,width,height,channels,ssim,ms_ssim,mse,psnr,tv_reference,tv_distorted,mix,protocol,crop_border,error,schema

whatever metrics were selected (a metric not computed is an empty cell), so a
script can rely on the columns. When the local metrics (``ssim_min``,
``ssim_below``, ``diff_pixels``, ``diff_ratio``) are selected, their columns are
inserted after ``mix``, in registry order. ``protocol`` and ``crop_border``
say whose conventions the numbers follow; ``schema`` (last, so that columns
read by position keep their places) names the contract on every row.

Video (docs/output.md): when the run holds a pair of frame sequences, the
video columns (``psnr_mean_db``, ``psnr_total``) follow the metric columns,
and under colour ``yuv`` each metric and video column per plane
(``ssim_y``, ``ssim_u``, ``ssim_v``, ...). With ``--per-frame``, ``frame`` and
``time`` follow ``distorted``, and each frame is a row of its own, before its
pair's row (whose ``frame`` and ``time`` are empty).

Cells: floats in full precision (``repr``, so ``float(cell)`` gives back the
exact value), integers as integers, non-finite values as ``inf``/``-inf``/``nan``,
``None`` as an empty cell. Lines end with ``\\n``; open files with
``newline=""`` so nothing is translated.
"""

from __future__ import annotations

import csv
import io
from typing import IO, TYPE_CHECKING, Iterable

from ..formatting import full as cell
from ..metrics.registry import LOCAL_METRICS, columns_for
from ..results import SCHEMA, PairResult, Settings

if TYPE_CHECKING:
    from ..video_scoring import FrameScore

#: the contract header
CSV_COLUMNS: tuple[str, ...] = (
    "reference", "distorted", "status", "width", "height", "channels",
    "ssim", "ms_ssim", "mse", "psnr", "tv_reference", "tv_distorted", "mix",
    "protocol", "crop_border", "error", "schema",
)  # fmt: skip

_FIXED = ("reference", "distorted", "status", "width", "height", "channels")
_CONVENTION = ("protocol", "crop_border")  # whose numbers these are, on every row
_FRAME = ("frame", "time")  # --per-frame: which frame a row is (empty on a pair's row)


def csv_columns(settings: Settings, *, video: bool = False, per_frame: bool = False) -> list[str]:
    """Header for ``settings``: the contract columns, with the selected local
    metrics after the contract's metric columns; ``video``: the run holds a
    pair of frame sequences (then the video and, under ``yuv``, the plane
    columns follow); ``per_frame``: the ``frame`` and ``time`` columns."""
    local = columns_for(tuple(m for m in settings.metrics if m in LOCAL_METRICS))
    head = [*CSV_COLUMNS[:2], *(("frame", "time") if per_frame else ()), *CSV_COLUMNS[2:-4], *local]
    if video or settings.color == "yuv":
        known = set(head)
        head += [c for c in settings.video_columns if c not in known]
    return [*head, *CSV_COLUMNS[-4:]]


class CsvWriter:
    """Write rows as pairs arrive; every row is one write, flushed at once, so
    an interrupted run leaves whole rows.

    ``write_pair`` writes the header first if ``write_header`` was not called;
    ``count`` is the number of rows written so far.
    """

    def __init__(self, stream: IO[str], settings: Settings, *, video: bool = False, per_frame: bool = False):
        self.stream = stream
        self.settings = settings
        self.per_frame = per_frame
        self.columns = csv_columns(settings, video=video, per_frame=per_frame)
        self._metric_columns = [c for c in self.columns
                                if c not in _FIXED + _CONVENTION + _FRAME + ("error", "schema")]
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

    def row(self, result: PairResult, frame: FrameScore | None = None) -> list[str]:
        """The cells for one pair (or, with ``frame``, one of its frames), in :attr:`columns` order."""
        values = result.metrics if frame is None else frame.values
        where = [cell(frame.ref), cell(frame.time)] if frame is not None else ["", ""]
        return [
            cell(result.reference),
            cell(result.distorted),
            *(where if self.per_frame else ()),
            result.status.wire,
            cell(result.width),
            cell(result.height),
            cell(result.channels),
            *(cell(values.get(c)) for c in self._metric_columns),
            self.settings.protocol,
            cell(self.settings.crop_border),
            cell(result.error),
            SCHEMA,
        ]

    def write_pair(self, result: PairResult) -> None:
        self.write_header()
        if self.per_frame:
            for f in result.frames or ():
                self._line(self.row(result, f))
        self._line(self.row(result))
        self.count += 1


def write_csv(stream: IO[str], settings: Settings, results: Iterable[PairResult]) -> None:
    """Header plus one row per result (the video columns when a result has them)."""
    results = list(results)
    writer = CsvWriter(stream, settings, video=any(r.video is not None for r in results))
    writer.write_header()
    for r in results:
        writer.write_pair(r)
