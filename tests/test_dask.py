"""The Dask engine on a real cluster on loopback, started by these tests."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402  (a dependency of distributed)
from click.testing import CliRunner  # noqa: E402

from iqa_cli.commands import main  # noqa: E402
from iqa_cli.engines.dask import DaskEngine, score_chunk  # noqa: E402
from iqa_cli.engines.shards import pair_id  # noqa: E402
from iqa_cli.errors import IqaError  # noqa: E402
from iqa_cli.pairing import Pair, pair_folders  # noqa: E402
from iqa_cli.results import Settings  # noqa: E402
from iqa_cli.runner import run  # noqa: E402

from conftest import distort, smooth_image, write_png  # noqa: E402

# the worker-side helpers below travel by value: the workers need not import this file
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SETTINGS = Settings(metrics=("ssim", "mse", "psnr"))


def slow_chunk(items, *args):
    """score_chunk, slowed down so that a worker can be killed while it works."""
    time.sleep(0.4)
    return score_chunk(items, *args)


def poisoned_chunk(items, *args):
    """score_chunk, but a pair named poison kills its worker process every time."""
    if any(p.distorted is not None and p.distorted.name == "poison.png" for _, p in items):
        os._exit(1)
    return score_chunk(items, *args)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture
def folders(tmp_path, monkeypatch):
    for i in range(10):
        a = smooth_image(40 + 3 * i, 33, seed=i)
        write_png(tmp_path / "ref" / f"p{i}.png", a)
        write_png(tmp_path / "out" / f"p{i}.png", distort(a, seed=70 + i))
    write_png(tmp_path / "ref" / "bad.png", smooth_image(40, 33))
    (tmp_path / "out" / "bad.png").write_bytes(b"not an image")
    write_png(tmp_path / "out" / "extra.png", smooth_image(40, 33))
    monkeypatch.chdir(tmp_path)  # relative paths: workers get them absolute, rows show them as given
    return tmp_path


def test_batch_on_the_cluster_equals_the_local_run(cluster, folders):
    def batch(*extra):
        return CliRunner().invoke(main, ["batch", "ref", "out", "-m", "ssim,mse,psnr", *extra, "-q"],
                                  catch_exceptions=False)

    assert batch("-o", "local.json").exit_code == 2
    r = batch("-o", "dask.json", "--scheduler", cluster.scheduler_address, "--chunk", "3")
    assert r.exit_code == 2, r.stderr
    assert "out/bad.png: not an image" in r.stderr
    local, dask = (json.loads((folders / f).read_text()) for f in ("local.json", "dask.json"))
    assert dask["settings"].pop("engine") == "dask" and local["settings"].pop("engine") == "local"
    assert dask == local  # every row bit for bit, in pair order; the same summary
    assert len(dask["pairs"]) == 12
    # the JSONL stream comes in completion order: the same lines, each once
    assert batch("-o", "dask.jsonl", "--scheduler", cluster.scheduler_address, "--chunk", "2").exit_code == 2
    rows = [json.loads(x) for x in (folders / "dask.jsonl").read_text().splitlines()]
    assert rows[0]["type"] == "settings" and rows[-1]["type"] == "summary"
    rows = rows[1:-1]
    assert sorted(json.dumps(x, sort_keys=True) for x in rows) == sorted(
        json.dumps(dict(p, schema="iqa/2", type="pair"), sort_keys=True) for p in local["pairs"])


def test_a_killed_worker_loses_and_repeats_no_pair(cluster, folders):
    pairs, _ = pair_folders("ref", "out")
    expected = {pair_id(r): r.to_json() for r in run(pairs, SETTINGS, workers=1)}
    client = distributed.Client(cluster)
    try:
        with DaskEngine(cluster.scheduler_address, chunk=1, task=slow_chunk) as engine:
            before = engine.workers()
            rows = []
            for row in engine.run(pairs, SETTINGS):
                rows.append(row)
                if len(rows) == 1:  # one chunk done; both workers are busy with the next ones
                    victim = before[0]
                    with pytest.raises(Exception):  # the worker exits before it can answer
                        client.run(os._exit, 1, workers=[victim])
            assert victim not in engine.workers()
    finally:
        client.close()
    assert len(rows) == len(pairs) == 12
    assert {pair_id(r): r.to_json() for r in rows} == expected  # each pair once, with its local values


def test_paths_a_worker_cannot_read_are_named_up_front(cluster, tmp_path):
    ok = write_png(tmp_path / "a.png", smooth_image(20, 20))
    ghost = tmp_path / "elsewhere" / "b.png"
    with DaskEngine(cluster.scheduler_address) as engine:
        engine.check_paths([Pair("a.png", ok, ok)])
        with pytest.raises(IqaError) as e:
            engine.check_paths([Pair("a.png", ok, ok), Pair("b.png", ok, ghost)])
    assert str(e.value).startswith(f"{ghost.parent}: not readable on Dask worker tcp://127.0.0.1:")


def test_a_pair_that_kills_every_worker_becomes_an_error_row(cluster, folders):
    write_png(folders / "ref" / "poison.png", smooth_image(40, 33))
    write_png(folders / "out" / "poison.png", smooth_image(40, 33))
    pairs, _ = pair_folders("ref", "out")
    allowed = cluster.scheduler.allowed_failures
    cluster.scheduler.allowed_failures = 0  # give up on a task after the first worker it killed
    try:
        with DaskEngine(cluster.scheduler_address, chunk=4, task=poisoned_chunk) as engine:
            rows = list(engine.run(pairs, SETTINGS))
    finally:
        cluster.scheduler.allowed_failures = allowed
    key = lambda t: tuple(x or "" for x in t)  # noqa: E731
    assert sorted(map(pair_id, rows), key=key) == sorted(map(pair_id, pairs), key=key)  # each once
    bad = [r for r in rows if r.distorted == "out/poison.png"]
    assert len(bad) == 1 and bad[0].status == "error"
    assert bad[0].error == "out/poison.png: cannot score: the Dask workers scoring it died"
    assert sum(r.ok for r in rows) == 10
