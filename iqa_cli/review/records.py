"""Review records from a check: each check row as the page shows it, with
its pictures drawn from the arrays the runner kept (never from the files).

:class:`Recorder` is handed to the check's scoring loop: it sees every row
with its result while the decoded images and the maps are still attached,
keeps them for the rows that need a decision (FAIL, NEW, MISSING, ERROR),
and lets them go for passing rows. The pictures are drawn when the page
first asks for them, the way ``check --save-diffs`` and ``--html`` draw
them: the same heatmap and mask, pixel for pixel.

It also takes the sha256 of each file an accept may copy or replace: the
files are stamped (size, mtime, inode) before the check reads them and
hashed right after their pair is scored; a file whose stamp moved in
between was rewritten while the check read it, gets no hash, and an accept
of its pair is refused.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from ..errors import IqaError
from ..gate.rows import CheckRow, bbox
from ..report import images as im
from ..report.diffs import change_pictures, shown
from ..results import PairResult
from ..status import CheckStatus
from .session import DISPLAY_8BIT, PairRecord, display_text
from .undo import file_sha256

Stamp = tuple[int, int, int]


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def display_of(images: dict[str, Any] | None) -> str:
    """How the page's 8-bit pictures were made from the samples, in words
    (both sides named when their sample types differ)."""
    sides = {k: v for k, v in (images or {}).items() if v is not None}
    texts = {k: display_text(v.pixels.dtype, v.data_range) for k, v in sides.items()}
    if len(set(texts.values())) > 1:
        return "; ".join(f"{'baseline' if k == 'reference' else 'output'}: {t}" for k, t in texts.items())
    return next(iter(texts.values()), DISPLAY_8BIT)


def pictures(maps: dict[str, Any] | None, images: dict[str, Any] | None) -> dict[str, Callable[[], bytes]]:
    """The page's pictures of one pair, each drawn (as PNG) when first asked
    for: the two decoded images as 8-bit, and the SSIM heatmap and the
    difference mask as :class:`iqa_cli.report.diffs.RowPictures` draws them
    for ``--save-diffs`` (ignored pixels hatched)."""
    maps, images = maps or {}, images or {}
    ref, dist = images.get("reference"), images.get("distorted")
    out: dict[str, Callable[[], bytes]] = {}
    if ref is not None:
        out["baseline"] = lambda: im.png_bytes(shown(ref))
    if dist is not None:
        out["output"] = lambda: im.png_bytes(shown(dist))
    if maps.get("ssim_map") is not None and maps.get("diff_mask") is not None:
        drawn: list = []

        def picture(i: int) -> bytes:
            if not drawn:  # both from one call, whichever the page asks for first
                drawn.extend(change_pictures(maps, shown(ref)))
            return im.png_bytes(drawn[i])

        out["heatmap"] = lambda: picture(0)
        out["mask"] = lambda: picture(1)
    return out


def record_of(row: CheckRow, result: PairResult, *, keep: bool = True) -> PairRecord:
    """The review record of a check row; ``keep``: with its pictures and
    raw samples (from ``result.maps`` and ``result.display``)."""
    doc = row.to_json()
    maps = result.maps or {}
    mask = maps.get("diff_mask")
    images = result.display if keep else None
    arrays = None
    if keep and images:
        ref, dist = images.get("reference"), images.get("distorted")
        if any(v is not None and v.pixels.dtype.name != "uint8" for v in (ref, dist)):
            # 16-bit and float samples do not survive the 8-bit pictures: the page asks for them
            arrays = {"baseline": ref.pixels if ref is not None else None,
                      "output": dist.pixels if dist is not None else None}
    return PairRecord(
        path=row.key, status=str(row.status), baseline=row.baseline, output=row.output, gates=doc["gates"],
        warnings=list(doc["warnings"]), reason=row.reason, where=row.where,
        where_box=bbox(mask) if mask is not None else None, width=row.width, height=row.height,
        metrics=doc["metrics"], display=display_of(images) if keep else DISPLAY_8BIT,
        images=pictures(maps, images) if keep else {}, arrays=arrays, video=row.video, series=row.series, row=row)


#: decoded samples and maps kept for drawing later; beyond it a pair's pictures are drawn at once and
#: its arrays let go (a PNG is a fraction of the float SSIM map it comes from)
KEEP_BYTES = 2 << 30


def _nbytes(result: PairResult) -> int:
    arrays = [v for v in (result.maps or {}).values() if v is not None]
    arrays += [v.pixels for v in (result.display or {}).values() if v is not None]
    return sum(int(getattr(a, "nbytes", 0)) for a in arrays)


class Recorder:
    """Makes the review records while a check scores its pairs (the ``keep``
    hook of :func:`iqa_cli.commands.check_run.check_work`); :meth:`stamp`
    runs before the scoring starts. ``budget``: bytes of arrays kept for
    lazy drawing (:data:`KEEP_BYTES`); the pairs past it get their pictures
    drawn at once, and no raw samples."""

    def __init__(self, budget: int = KEEP_BYTES) -> None:
        self.records: list[PairRecord] = []
        self.budget = budget
        self.kept = 0
        self._stamps: dict[str, Stamp | None] = {}

    def stamp(self, pairs: Iterable[Any]) -> None:
        """Note each file's size, mtime and inode before the check reads it."""
        for pair in pairs:
            for p in (pair.reference, pair.distorted):
                if p is not None:
                    self._stamps[str(p)] = _stamp(str(p))

    def _hash(self, path: str | None, rec: PairRecord) -> str | None:
        if path is None:
            return None
        before = self._stamps.get(path)
        try:
            sha = file_sha256(path)
        except IqaError:
            return None
        if before is None or _stamp(path) != before:
            rec.warnings.append(f"{path} changed while the check read it: review it again to accept it")
            return None
        return sha

    def __call__(self, row: CheckRow, result: PairResult) -> None:
        decide = row.status != CheckStatus.PASS
        rec = record_of(row, result, keep=decide)
        if decide:
            size = _nbytes(result)
            if self.kept + size > self.budget:
                rec.images = {k: draw() for k, draw in rec.images.items()}  # PNG bytes; the arrays can go
                rec.arrays = None
            else:
                self.kept += size
        if decide and row.status != CheckStatus.ERROR:  # what an accept may copy or replace
            rec.baseline_sha256 = self._hash(row.baseline, rec)
            rec.output_sha256 = self._hash(row.output, rec)
            rec.hashed = True
        self.records.append(rec)
