"""Shared fixtures: write small real image files into ``tmp_path``."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op thread for the whole suite: the tests make many small calls, and on a
    shared 2-core machine torch's thread pool oversubscribes (measured: test_oracles.py took
    108 s with 2 threads under load vs 18 s with 1). The CLI runs in-process and sees it too."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _native_required(request):
    """Tests marked ``native`` test the C kernels: skipped without the extension,
    except under CI=true, where a missing extension is an error (CI must not go
    green without testing it)."""
    if request.node.get_closest_marker("native") is None:
        return
    from iqa_cli.metrics import _cpu

    if not _cpu.available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the C extension iqa_cli.metrics._native is not built or IQA_NATIVE=0: "
                        "install a C compiler (gcc, python3-dev) and rebuild", pytrace=False)
        pytest.skip("the C extension is not built")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png(path: str | Path, arr: np.ndarray) -> Path:
    """Minimal PNG encoder for uint8/uint16 grey, grey+alpha, RGB or RGBA (H, W[, C])."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w, c = arr.shape
    depth = 16 if arr.dtype == np.uint16 else 8
    rows = arr.astype(">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(h, -1)
    raw = b"".join(b"\x00" + r.tobytes() for r in rows)
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return Path(path)


def smooth_image(h: int, w: int, c: int = 3, *, seed: int = 0, maxval: int = 255, dtype=np.uint8) -> np.ndarray:
    """A deterministic, textured but smooth image (so SSIM is meaningful)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = []
    for k in range(c):
        f = 0.5 + 0.25 * np.sin(xx / (7 + 3 * k) + k) * np.cos(yy / (11 + k)) + 0.15 * rng.random((h, w))
        out.append(np.clip(f, 0, 1))
    arr = np.round(np.stack(out, axis=-1) * maxval).astype(dtype)
    return arr[..., 0] if c == 1 else arr


def render(n: int, seed: int = 0) -> np.ndarray:
    """A smooth synthetic 'render' (gradients + soft shapes), uint8 RGB."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) / n
    r = 120 + 80 * np.sin(6 * x + seed) * np.cos(4 * y)
    g = 100 + 90 * y + 30 * np.cos(9 * x * y)
    b = 140 + 70 * np.sin(5 * (x + y))
    return np.clip(np.stack([r, g, b], -1), 0, 255).round().astype(np.uint8)


def distort(arr: np.ndarray, *, seed: int = 1, amount: float = 10.0, maxval: int = 255) -> np.ndarray:
    """Add clipped deterministic noise (same dtype)."""
    rng = np.random.default_rng(seed)
    noisy = arr.astype(np.float64) + rng.normal(0, amount, arr.shape)
    return np.clip(np.round(noisy), 0, maxval).astype(arr.dtype)


@pytest.fixture
def png(tmp_path):
    """``png(name, arr)`` writes ``tmp_path/name`` and returns its path as str."""

    def _write(name: str, arr: np.ndarray) -> str:
        return str(write_png(tmp_path / name, arr))

    return _write


# Every JSON document and JSONL line iqa writes during the tests, in this process and in the
# subprocesses they start, is validated against the shipped iqa/2 JSON Schema before it is
# written (iqa_cli.report.contract): no test can produce an output that breaks the contract.
os.environ.setdefault("IQA_CHECK_CONTRACT", "1")
