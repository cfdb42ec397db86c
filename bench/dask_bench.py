#!/usr/bin/env python
"""Pairs per second: the plain runner vs a 2-worker Dask LocalCluster on the same pairs,
and the Dask engine's per-task overhead for a few chunk sizes.

    python bench/dask_bench.py [--pairs 48] [--size 256] [--chunks 1,4,8,32]

Writes PNG pairs into a temporary folder; needs ``distributed``. Cluster
start-up is timed apart from scoring (a long run pays it once).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=48)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--chunks", default="1,4,8,32")
    args = ap.parse_args()

    from conftest import distort, smooth_image, write_png
    from iqa_cli.engines.dask import DaskEngine
    from iqa_cli.pairing import pair_folders
    from iqa_cli.results import Settings
    from iqa_cli.runner import run

    tmp = Path(tempfile.mkdtemp(prefix="iqa-dask-bench-"))
    for i in range(args.pairs):
        a = smooth_image(args.size, args.size, seed=i)
        write_png(tmp / "ref" / f"{i:05d}.png", a)
        write_png(tmp / "out" / f"{i:05d}.png", distort(a, seed=i + 1))
    pairs, _ = pair_folders(tmp / "ref", tmp / "out")
    settings = Settings()
    print(f"{len(pairs)} pairs of {args.size}x{args.size} RGB PNG, default metrics, {os.cpu_count()} cores")

    list(run(pairs[:2], settings))  # warm-up (imports, thread pools)
    t = time.perf_counter()
    local = list(run(pairs, settings))
    dt = time.perf_counter() - t
    print(f"plain runner                 {len(local) / dt:7.2f} pairs/s")

    t = time.perf_counter()
    with DaskEngine("local:2") as engine:
        print(f"LocalCluster(2) start        {time.perf_counter() - t:7.2f} s")
        list(engine.run(pairs[:4], settings))  # warm-up: workers import torch and iqa
        for chunk in [int(c) for c in args.chunks.split(",")]:
            engine.chunk = chunk
            t = time.perf_counter()
            rows = list(engine.run(pairs, settings))
            dt = time.perf_counter() - t
            same = sorted(r.to_json()["metrics"]["ssim"] for r in rows) == sorted(
                r.to_json()["metrics"]["ssim"] for r in local)
            print(f"dask 2 workers, chunk {chunk:<4d}   {len(rows) / dt:7.2f} pairs/s"
                  f"  ({len(pairs) // chunk + (len(pairs) % chunk > 0)} tasks, rows equal: {same})")


if __name__ == "__main__":
    main()
