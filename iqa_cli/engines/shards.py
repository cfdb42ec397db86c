"""Which pairs a run scores: the K-th of N shards, and the pairs a resumed
run has still to do.

Shards are strided: shard K of N takes pairs K, K+N, K+2N, ... of the
sorted pair list. Every shard then holds ``len // N`` or ``len // N + 1``
pairs, and, unlike contiguous slices, shards get a like share of each
folder: pair lists sorted by path group similar images (one folder of 4K
renders, one of thumbnails), so contiguous slices of equal count can differ
tenfold in work. The list is the same on every machine (pairs are sorted by
key), so the same command gives the same shards everywhere.

A pair is known across runs by its two paths as the rows record them
(:func:`pair_id`): that is what a JSONL file can tell us.
"""

from __future__ import annotations

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


def remaining(pairs: Sequence[Pair], done: Iterable[PairResult]) -> list[Pair]:
    """The pairs without a row in ``done``, in order."""
    seen = {pair_id(r) for r in done}
    return [p for p in pairs if pair_id(p) not in seen]


def in_pair_order(rows: Iterable[PairResult], pairs: Sequence[Pair]) -> list[PairResult]:
    """``rows`` sorted like ``pairs``; rows of no pair in ``pairs`` go last, in their order."""
    rank = {pair_id(p): i for i, p in enumerate(pairs)}
    rows = list(rows)
    return sorted(rows, key=lambda r: rank.get(pair_id(r), len(rank)))
