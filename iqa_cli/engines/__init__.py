"""Engines: where the pairs of a batch are scored.

- :mod:`.local` — the runner in this process (the default)
- :mod:`.dask` — chunks of pairs sent to a ``dask.distributed`` cluster, each
  worker running the same runner; rows come back in completion order
- :mod:`.shards` — the K-th of N shards of a pair list, and what a resumed
  run has still to do
- :mod:`.settings` — the settings a run records (``engine``, ``shard``) and
  reading them back from a report

Every engine has ``name``, is a context manager (connecting and
disconnecting), and offers ``check_paths(pairs)`` and
``run(pairs, settings, workers=...)`` yielding one :class:`~iqa_cli.results.PairResult`
per pair, each exactly once.
"""

from __future__ import annotations

from typing import Any


def open_engine(scheduler: str | None = None, scheduler_file: str | None = None, *,
                chunk: int | None = None) -> Any:
    """The local engine, or a Dask one for a scheduler address (``tcp://HOST:PORT``,
    ``local:N`` for a cluster of N processes started here) or a scheduler file."""
    if scheduler is None and scheduler_file is None:
        from .local import LocalEngine

        return LocalEngine()
    from .dask import DaskEngine

    return DaskEngine(scheduler, scheduler_file, chunk=chunk)
