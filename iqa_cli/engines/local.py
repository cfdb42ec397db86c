"""The local engine: the runner in this process (decode threads, one device)."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from ..pairing import Pair
from ..results import PairResult, Settings


class LocalEngine:
    """Scores pairs with :func:`iqa_cli.runner.run`, rows in pair order."""

    name = "local"

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def check_paths(self, pairs: Sequence[Pair]) -> None:
        """Nothing to check: unreadable files become error rows here."""

    def run(self, pairs: Sequence[Pair], settings: Settings, *, workers: int | None = None,
            keep_maps: bool = False, required: Sequence[str] = ()) -> Iterator[PairResult]:
        from ..runner import run

        yield from run(pairs, settings, workers=workers, keep_maps=keep_maps, required=required)
