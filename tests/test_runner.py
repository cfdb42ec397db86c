"""The runner's batching of same-size pairs (the CUDA path), exercised on the CPU.

A batch is scored as one (N, C, H, W) stack; every metric is per image, so
each row must equal the row of the same pair scored alone (to rounding), in
the same order, with its own warnings; pairs that cannot join a batch
(another size, byte-identical files, decode errors, missing files) are
scored alone in their place; out of memory halves a batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import iqa_cli.runner as runner
from iqa_cli.pairing import Pair
from iqa_cli.results import Settings

from conftest import distort, smooth_image, write_png

METRICS = ("ssim", "ms_ssim", "mse", "psnr", "tv", "mix", "ssim_min", "ssim_below", "diff_pixels", "diff_ratio")
SIZE = (190, 180)  # above MS-SSIM's 176 px


def _pairs(tmp_path: Path) -> list[Pair]:
    h, w = SIZE
    pairs = []

    def add(name: str, ref: np.ndarray | None, dist: np.ndarray | None, same_file: bool = False) -> None:
        r = write_png(tmp_path / "r" / name, ref) if ref is not None else None
        d = r if same_file else (write_png(tmp_path / "d" / name, dist) if dist is not None else None)
        pairs.append(Pair(name, r, d))

    for k in range(3):
        ref = smooth_image(h, w, 3, seed=k)
        add(f"a{k}.png", ref, distort(ref, seed=10 + k, amount=4 + 6 * k))
    ref = smooth_image(h, w, 3, seed=7)
    add("anti.png", ref, (255 - ref).astype(np.uint8))  # anti-correlated: NaN MS-SSIM with a warning
    add("same.png", ref, None, same_file=True)  # byte-identical files
    small = smooth_image(64, 80, 3, seed=8)
    add("small.png", small, distort(small, seed=9))  # another size: MS-SSIM not computed
    for k in range(3, 6):
        ref = smooth_image(h, w, 3, seed=k)
        add(f"b{k}.png", ref, distort(ref, seed=20 + k))
    add("missing.png", smooth_image(h, w, 3, seed=11), None)
    bad = tmp_path / "d" / "bad.png"
    bad.write_bytes(b"not a png")
    pairs.append(Pair("bad.png", write_png(tmp_path / "r" / "bad.png", smooth_image(h, w, 3, seed=12)), bad))
    ref = smooth_image(h, w, 3, seed=13)
    add("last.png", ref, distort(ref, seed=14))
    return pairs


def _rows(pairs, **kw):
    settings = Settings(metrics=METRICS)
    return list(runner.run(pairs, settings, device=torch.device("cpu"), workers=2, **kw))


def _assert_same_rows(batched, alone) -> None:
    assert [r.distorted for r in batched] == [r.distorted for r in alone]
    for b, a in zip(batched, alone):
        assert (b.status, b.error, b.warnings) == (a.status, a.error, a.warnings), a.distorted
        assert b.metrics.keys() == a.metrics.keys()
        for name, va in a.metrics.items():
            vb = b.metrics[name]
            if va is None or (isinstance(va, float) and np.isnan(va)):
                assert vb is None or np.isnan(vb), (a.distorted, name, vb)
            else:
                assert vb == pytest.approx(va, rel=1e-12, abs=1e-12), (a.distorted, name)


def test_batches_give_each_pair_its_own_numbers(tmp_path, monkeypatch):
    pairs = _pairs(tmp_path)
    alone = _rows(pairs, batch=1)
    sizes = []
    real = runner.score_stack

    def spy(preps, *a, **kw):
        sizes.append(len(preps))
        return real(preps, *a, **kw)

    monkeypatch.setattr(runner, "score_stack", spy)
    batched = _rows(pairs, batch=4)
    # a0 a1 a2 anti | same (alone) | small (alone) | b3 b4 b5 | missing | bad | last
    assert sizes == [4, 1, 1, 3, 1]
    _assert_same_rows(batched, alone)
    by_name = {Path(r.reference).name: r for r in batched}
    assert np.isnan(by_name["anti.png"].metrics["ms_ssim"])
    assert any("negative similarity" in w for w in by_name["anti.png"].warnings)
    assert not any("negative similarity" in w for w in by_name["a0.png"].warnings)
    assert "byte-identical files" in by_name["same.png"].warnings
    assert by_name["small.png"].metrics["ms_ssim"] is None
    assert [r.status for r in batched].count("ok") == 10
    assert 0.5 < by_name["a0.png"].metrics["ssim"] < 1 and by_name["b4.png"].metrics["mse"] > 0


def test_out_of_memory_halves_the_batch(tmp_path, monkeypatch):
    keep = {"a0.png", "a1.png", "a2.png", "b3.png", "b4.png", "b5.png"}
    pairs = [p for p in _pairs(tmp_path) if p.key in keep]
    alone = _rows(pairs, batch=1)
    sizes = []
    real = runner.score_stack

    def small_gpu(preps, *a, **kw):
        sizes.append(len(preps))
        if len(preps) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(preps, *a, **kw)

    monkeypatch.setattr(runner, "score_stack", small_gpu)
    batched = _rows(pairs, batch=8)
    assert sizes == [6, 3, 1, 2, 3, 1, 2]
    _assert_same_rows(batched, alone)
    assert all(r.status == "ok" for r in batched)


def test_default_batch_is_one_pair_on_the_cpu():
    assert runner.default_batch(torch.device("cpu")) == 1
    assert runner.default_batch(torch.device("cuda")) == runner.GPU_BATCH > 1

