"""Which pairs a run scores: the K-th of N shards, and the pairs a resumed
run has still to do.

Shards are strided: shard K of N takes pairs K, K+N, K+2N, ... of the
sorted pair list. Every shard then holds ``len // N`` or ``len // N + 1``
pairs, and, unlike contiguous slices, shards get a like share of each
folder: pair lists sorted by path group similar images (one folder of 4K
renders, one of thumbnails), so contiguous slices of equal count can differ
tenfold in work. The list is the same on every machine (pairs are sorted by
key), so the same command gives the same shards everywhere.

A pair is known across runs by the files it names (:func:`file_id`): each
path made absolute against the working folder of the run that wrote it (a
report records it, run key ``cwd``) and resolved, so that ``refs/a.png``,
``./refs/a.png`` and ``/data/refs/a.png`` are one pair whichever way a run
spelled its folders.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, Sequence, TypeVar

from ..errors import UsageError
from ..pairing import Pair
from ..results import PairResult

T = TypeVar("T")

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # K, 0-based (a Slurm array task id)
    count: int  # N

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def take(self, items: Sequence[T]) -> list[T]:
        """This shard's items: every ``count``-th, starting at ``index``."""
        return list(items[self.index :: self.count])


def parse_shard(text: str) -> Shard:
    """``"K/N"`` with 0 <= K < N; raises :class:`UsageError` otherwise."""
    m = _SHARD.match(text or "")
    if not m:
        raise UsageError(f"shard {text!r}: expected K/N, e.g. 0/4 (K from 0 to N-1)")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= k < n:
        raise UsageError(f"shard {text!r}: K must be 0..N-1 and N at least 1")
    return Shard(k, n)


PairId = tuple[str | None, str | None]


def pair_id(p: Pair | PairResult) -> PairId:
    """The (reference, distorted) paths as a row writes them."""
    if isinstance(p, Pair):
        return (str(p.reference) if p.reference is not None else None,
                str(p.distorted) if p.distorted is not None else None)
    return (p.reference, p.distorted)


def file_id(p: Pair | PairResult, base: str | None = None) -> PairId:
    """The files of a pair, absolute against ``base`` (the folder the run that
    wrote the row worked in; default: this one) and resolved."""
    root = base or os.getcwd()
    return tuple(None if x is None else os.path.realpath(os.path.join(root, x)) for x in pair_id(p))  # type: ignore[return-value]


def remaining(pairs: Sequence[Pair], done: Iterable[PairResult], base: str | None = None) -> list[Pair]:
    """The pairs without a row in ``done`` (rows written in folder ``base``), in order."""
    seen = {file_id(r, base) for r in done}
    return [p for p in pairs if file_id(p) not in seen]


def in_pair_order(rows: Iterable[PairResult], pairs: Sequence[Pair], bases: dict[int, str] | None = None) -> list[PairResult]:
    """``rows`` sorted like ``pairs``; rows of no pair in ``pairs`` go last, in
    their order. ``bases``: the folder each row (by ``id``) was written in."""
    rank = {file_id(p): i for i, p in enumerate(pairs)}
    rows = list(rows)
    bases = bases or {}
    return sorted(rows, key=lambda r: rank.get(file_id(r, bases.get(id(r))), len(rank)))
