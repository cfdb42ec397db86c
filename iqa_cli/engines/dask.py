"""The Dask engine: chunks of pairs scored on a ``dask.distributed`` cluster.

Each chunk is one task that runs :func:`iqa_cli.runner.run` on a worker and
returns its rows; rows are yielded as chunks complete (completion order).
The scheduler reschedules the tasks of a worker that dies (up to its
``distributed.scheduler.allowed-failures``, 3 by default); a chunk that
still fails is split into single pairs, and a pair that fails alone
becomes an ``error`` row. Each pair's row is taken from exactly one
finished task, so none is lost or repeated.

Workers must see the files under the same paths: :meth:`DaskEngine.check_paths`
asks every worker once, before any scoring. Relative paths are sent
absolute (a worker's working directory is its own) and written back as
given.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any, Callable, Iterator, Sequence

from ..errors import IqaError
from ..pairing import Pair
from ..results import PairResult, Settings
from ..status import PairStatus

INSTALL = 'pip install "iqa-cli[dask]"'

#: pairs per task at most. A task costs ~20-40 ms of scheduling, transfer and
#: runner set-up (bench/dask_bench.py, 2 loaded cores: 128^2 pairs at 39
#: pairs/s with 1 pair per task, 112 with 8, 183 with 32, the plain runner
#: 189; 256^2 pairs and up: all chunk sizes within noise), so 16 keeps that
#: under ~10 % for tiny images while a lost worker repeats at most 16 pairs
CHUNK = 16
#: chunks per worker at least, so that a short run still spreads over all workers
CHUNKS_PER_WORKER = 4
#: directories checked on each worker at most by :meth:`DaskEngine.check_paths`
CHECK_DIRS = 1000


class EngineUnavailable(IqaError):
    """The ``distributed`` package is not installed."""


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise EngineUnavailable(f"the Dask engine needs dask.distributed: {INSTALL}") from None
    return distributed


def first_unreadable(paths: Sequence[str]) -> str | None:
    """The first path in ``paths`` this process cannot read (a directory: list), or None."""
    for p in paths:
        if not os.access(p, os.R_OK | (os.X_OK if os.path.isdir(p) else 0)) or not os.path.exists(p):
            return p
    return None


def score_chunk(items: list[tuple[int, Pair]], settings: Settings, decode_workers: int | None,
                threads: int | None, required: tuple[str, ...] = ()) -> list[tuple[int, PairResult]]:
    """Run on a worker: the rows of one chunk, with their indices (no maps or images)."""
    from ..runner import run

    if threads:
        import torch

        torch.set_num_threads(threads)
    rows = run([p for _, p in items], settings, workers=decode_workers, required=required)
    return [(i, r) for (i, _), r in zip(items, rows)]


def _absolute(pair: Pair) -> Pair:
    return Pair(pair.key,
                None if pair.reference is None else type(pair.reference)(os.path.abspath(pair.reference)),
                None if pair.distorted is None else type(pair.distorted)(os.path.abspath(pair.distorted)),
                pair.problem)


def _as_given(row: PairResult, given: Pair, sent: Pair) -> PairResult:
    """A worker's row with the paths as the user gave them (messages name them too)."""
    swaps = [(str(s), str(g)) for s, g in ((sent.reference, given.reference), (sent.distorted, given.distorted))
             if s is not None and str(s) != str(g)]
    if not swaps:
        return row

    def fix(text: str | None) -> str | None:
        if text is None:
            return None
        for s, g in swaps:
            text = text.replace(s, g)
        return text

    return replace(row, reference=fix(row.reference), distorted=fix(row.distorted), error=fix(row.error),
                   warnings=[fix(w) or "" for w in row.warnings])


def _failed_row(pair: Pair, reason: str) -> PairResult:
    ref = None if pair.reference is None else str(pair.reference)
    dist = None if pair.distorted is None else str(pair.distorted)
    return PairResult(ref, dist, PairStatus.ERROR, error=f"{dist or ref}: cannot score: {reason}")


class DaskEngine:
    """Scores pairs on a Dask cluster: an address (``tcp://HOST:PORT``), a
    scheduler file, or ``local:N`` (a LocalCluster of N worker processes on
    this machine, started and stopped by the engine).

    ``chunk``: pairs per task (default :data:`CHUNK`, fewer for a short run).
    ``task``: the function run on the workers (:func:`score_chunk`).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, scheduler_file: str | None = None, *,
                 chunk: int | None = None, timeout: float = 30.0,
                 task: Callable[..., list[tuple[int, PairResult]]] = score_chunk):
        self.scheduler = scheduler
        self.scheduler_file = scheduler_file
        self.chunk = chunk
        self.timeout = timeout
        self.task = task
        self.client: Any = None
        self._cluster: Any = None
        self._threads: int | None = None  # torch threads per worker (local:N only)

    @property
    def where(self) -> str:
        return self.scheduler or f"the scheduler in {self.scheduler_file}"

    def __enter__(self) -> "DaskEngine":
        distributed = _import_distributed()
        try:
            if self.scheduler and self.scheduler.startswith("local:"):
                n = self.scheduler[len("local:"):]
                if not n.isdigit() or int(n) < 1:
                    raise IqaError(f"scheduler {self.scheduler!r}: expected local:N with N >= 1 worker processes")
                self._threads = max(1, (os.cpu_count() or 1) // int(n))
                self._cluster = distributed.LocalCluster(
                    n_workers=int(n), threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None)
                self.client = distributed.Client(self._cluster)
            elif self.scheduler:
                self.client = distributed.Client(self.scheduler, timeout=self.timeout)
            else:
                if not os.path.exists(self.scheduler_file or ""):
                    raise IqaError("scheduler file not found", self.scheduler_file)
                self.client = distributed.Client(scheduler_file=self.scheduler_file, timeout=self.timeout)
            self.client.wait_for_workers(1, timeout=self.timeout)
        except IqaError:
            self.__exit__(None, None, None)
            raise
        except (OSError, TimeoutError, ValueError) as e:
            self.__exit__(None, None, None)
            what = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise IqaError(f"cannot use the Dask cluster at {self.where}: {what}") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"])

    def check_paths(self, pairs: Sequence[Pair]) -> None:
        """Every worker reads the folders of the pairs and the first file in each
        (one small task per worker); raises :class:`IqaError` naming the first
        path a worker cannot read."""
        dirs: dict[str, str] = {}  # directory -> its first file, in pair order
        for p in pairs:
            for f in (p.reference, p.distorted):
                if f is not None and len(dirs) < CHECK_DIRS:
                    dirs.setdefault(os.path.dirname(os.path.abspath(f)), os.path.abspath(f))
        paths = [x for d, f in dirs.items() for x in (d, f)]
        if not paths:
            return
        answers = self.client.run(first_unreadable, paths)
        for worker in sorted(answers):
            if answers[worker] is not None:
                raise IqaError(f"not readable on Dask worker {worker} (workers must see the files "
                               "under the same paths)", answers[worker])

    def _chunk_size(self, n_pairs: int) -> int:
        if self.chunk:
            return self.chunk
        n_workers = max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))
        return max(1, min(CHUNK, math.ceil(n_pairs / (CHUNKS_PER_WORKER * n_workers))))

    def run(self, pairs: Sequence[Pair], settings: Settings, *, workers: int | None = None,
            keep_maps: bool = False, required: Sequence[str] = ()) -> Iterator[PairResult]:
        """One row per pair, in completion order (``keep_maps`` is not supported: rows carry no arrays)."""
        if keep_maps:
            raise ValueError("the Dask engine does not return maps or images")
        distributed = _import_distributed()
        from concurrent.futures import CancelledError

        pairs = list(pairs)
        sent = [_absolute(p) for p in pairs]
        size = self._chunk_size(len(pairs))
        base = Settings(**{k: getattr(settings, k) for k in Settings.__dataclass_fields__})
        chunks: dict[Any, list[int]] = {}  # future -> indices of its pairs
        done = distributed.as_completed()

        def submit(idx: list[int]) -> None:
            f = self.client.submit(self.task, [(i, sent[i]) for i in idx], base, workers, self._threads,
                                   tuple(required), pure=False, retries=1)
            chunks[f] = idx
            done.add(f)

        for start in range(0, len(pairs), size):
            submit(list(range(start, min(start + size, len(pairs)))))
        try:
            for f in done:
                idx = chunks.pop(f)
                try:
                    rows = f.result()
                except (CancelledError, distributed.comm.CommClosedError) as e:
                    raise IqaError(f"lost the Dask cluster at {self.where} ({type(e).__name__})") from None
                except Exception as e:  # the task failed on every try, or its workers died
                    if len(idx) > 1:
                        for i in idx:
                            submit([i])
                        continue
                    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    if isinstance(e, distributed.KilledWorker):
                        reason = "the Dask workers scoring it died"
                    yield _failed_row(pairs[idx[0]], reason)
                    continue
                for i, row in rows:
                    yield _as_given(row, pairs[i], sent[i])
        finally:
            if chunks:
                self.client.cancel(list(chunks))
