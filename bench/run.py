#!/usr/bin/env python
"""iqa benchmark: SSIM / MS-SSIM speed and agreement against peer libraries,
luma SSIM with ssim.m's downsampling against blazediff-ssim, the
memory-bound kernels (colour conversion, TV) against MSE, batch-vs-decode
ratio, start-up times.

    python bench/run.py [--sizes 512,1024,2048] [--shape-sizes 256,...,4096] [--repeat N] [--pairs N] [--quick] [--json FILE]

Installs nothing. Peers (pytorch-msssim, piq, scikit-image, torchmetrics,
kornia, blazediff-ssim) are used when they import; any that does not is
listed as "not installed/unavailable". Every timing is a median over ``--repeat`` runs after
one warm-up run, and the implementations of one size are timed round-robin
(one run of each, then the next round) so that load from other processes
affects them alike: compare ratios from the same run, not absolute times
across runs. See bench/README.md for the columns.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _omp_wait_policy(argv: list[str]) -> None:
    """Like the CLI, default OMP_WAIT_POLICY to PASSIVE; it must be set before
    torch is imported, so ``--omp-wait-policy`` is read here, ahead of argparse."""
    value = None
    for i, a in enumerate(argv):
        if a == "--omp-wait-policy" and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith("--omp-wait-policy="):
            value = a.split("=", 1)[1]
    if value is None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    elif value.lower() == "unset":
        os.environ.pop("OMP_WAIT_POLICY", None)
    else:
        os.environ["OMP_WAIT_POLICY"] = value.upper()


if __name__ == "__main__":
    _omp_wait_policy(sys.argv[1:])

import numpy as np  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 150)

PEERS = (
    # (display name, module to import, distribution for the version)
    ("pytorch-msssim", "pytorch_msssim", "pytorch-msssim"),
    ("piq", "piq", "piq"),
    ("scikit-image", "skimage.metrics", "scikit-image"),
    ("torchmetrics", "torchmetrics.functional.image", "torchmetrics"),
    ("kornia", "kornia.metrics", "kornia"),
    ("blazediff-ssim", "blazediff_ssim", "blazediff-ssim"),
)
PEER_NOTES = {
    "blazediff-ssim": "luma table only: compare_rgba(RGBA bytes, w, h), its rgb2gray luma in float (unrounded) and ssim.m-style "
    "downsampling (even f: box one pixel off imfilter's anchor, floor(M/f) samples); single-threaded SIMD",
}


# ----------------------------------------------------------------------------- helpers


def _native_built() -> bool:
    from iqa_cli.metrics import _cpu

    return _cpu.available()


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text[:150]}"


def detect_peers() -> dict[str, dict]:
    """Import each peer; never raises. {name: {"ok", "version" | "reason", "module"}}."""
    from importlib import metadata

    found: dict[str, dict] = {}
    for name, module, dist in PEERS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mod = importlib.import_module(module)
            try:
                version = metadata.version(dist)
            except Exception:  # noqa: BLE001
                version = getattr(mod, "__version__", "?")
            found[name] = {"ok": True, "version": version, "module": mod}
        except Exception as e:  # noqa: BLE001 - any import failure means "unavailable"
            found[name] = {"ok": False, "reason": f"not installed/unavailable ({one_line(e)})"}
    return found


def test_pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic n×n RGB pair (uint8): skimage's astronaut tiled (or
    cropped) to n×n, and the same plus Gaussian noise (σ = 12, seeded), rounded
    and clipped."""
    from skimage import data

    ast = data.astronaut()
    reps = -(-n // ast.shape[0])
    a = np.tile(ast, (reps, reps, 1))[:n, :n]
    rng = np.random.default_rng(seed)
    b = np.clip(np.rint(a + rng.normal(0.0, 12.0, a.shape)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a), b


def timed_round_robin(fns: dict[str, Callable[[], float]], repeat: int) -> dict[str, dict]:
    """Warm each function up once, then time ``repeat`` rounds of all of them.

    Returns {name: {"times": [s...], "median": s, "value": float}} or
    {"error": str} for a function that raised during warm-up.
    """
    out: dict[str, dict] = {}
    live = {}
    for name, f in fns.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = {"value": float(f()), "times": []}
            live[name] = f
        except Exception as e:  # noqa: BLE001
            out[name] = {"error": one_line(e)}
    for _ in range(repeat):
        for name, f in live.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                f()
                out[name]["times"].append(time.perf_counter() - t0)
    for name in live:
        out[name]["median"] = statistics.median(out[name]["times"])
    return out


# ----------------------------------------------------------------------------- metrics


def metric_fns(n: int, peers: dict[str, dict]) -> tuple[dict, dict, dict]:
    """SSIM and MS-SSIM callables for the n×n pair, and a note per implementation."""
    import iqa_cli

    a, b = test_pair(n)
    x64 = torch.from_numpy(a.astype(np.float64)).permute(2, 0, 1)[None].contiguous()
    y64 = torch.from_numpy(b.astype(np.float64)).permute(2, 0, 1)[None].contiguous()
    x32, y32 = x64.float(), y64.float()
    af, bf = a.astype(np.float64), b.astype(np.float64)
    L = 255.0

    x8 = torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()
    y8 = torch.from_numpy(b).permute(2, 0, 1)[None].contiguous()

    def torch_kernel(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        def go() -> torch.Tensor:  # the torch float64 kernel: the C extension switched off
            os.environ["IQA_NATIVE"] = "0"
            try:
                return fn()
            finally:
                os.environ.pop("IQA_NATIVE", None)

        return go

    ssim: dict[str, Callable[[], float]] = {
        "iqa": lambda: iqa_cli.ssim(x8, y8, L)[0],
        "iqa (torch float64)": torch_kernel(lambda: iqa_cli.ssim(x64, y64, L, precision="double")[0]),
        "iqa (torch float32)": lambda: iqa_cli.ssim(x32, y32, L, precision="single")[0],
    }
    ms: dict[str, Callable[[], float]] = {
        "iqa": lambda: iqa_cli.ms_ssim(x8, y8, L)[0],
        "iqa (torch float64)": torch_kernel(lambda: iqa_cli.ms_ssim(x64, y64, L, precision="double")[0]),
        "iqa (torch float32)": lambda: iqa_cli.ms_ssim(x32, y32, L, precision="single")[0],
    }
    native = "C kernel" if _native_built() else "C extension NOT built: torch float64 kernel"
    notes = {
        "iqa": f"uint8 tensors as the CLI passes them, defaults (float64; {native})",
        "iqa (torch float64)": "float64 tensors, precision='double', IQA_NATIVE=0 (the torch kernel: CUDA, autograd, no compiler)",
        "iqa (torch float32)": "float32 tensors, precision='single' (tile-centred float32 torch kernel)",
    }
    if peers["pytorch-msssim"]["ok"]:
        pm = peers["pytorch-msssim"]["module"]
        ssim["pytorch-msssim"] = lambda: pm.ssim(x32, y32, data_range=L)
        ms["pytorch-msssim"] = lambda: pm.ms_ssim(x32, y32, data_range=L)
        notes["pytorch-msssim"] = "float32, data_range=255 (float32 Gaussian; MS-SSIM pools odd sizes with zero padding)"
    if peers["piq"]["ok"]:
        piq = peers["piq"]["module"]
        ssim["piq"] = lambda: piq.ssim(x32, y32, data_range=L, downsample=False)
        ms["piq"] = lambda: piq.multi_scale_ssim(x32, y32, data_range=L)
        notes["piq"] = "float32, data_range=255, downsample=False"
    if peers["scikit-image"]["ok"]:
        skm = peers["scikit-image"]["module"]
        ssim["scikit-image"] = lambda: skm.structural_similarity(
            af, bf, data_range=L, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=2
        )
        notes["scikit-image"] = (
            "float64 numpy, Wang settings (gaussian_weights, σ 1.5, population covariance, channel_axis); no MS-SSIM"
        )
    if peers["torchmetrics"]["ok"]:
        tmf = peers["torchmetrics"]["module"]
        ssim["torchmetrics"] = lambda: tmf.structural_similarity_index_measure(
            x32, y32, data_range=L, gaussian_kernel=True, sigma=1.5, kernel_size=11
        )
        ms["torchmetrics"] = lambda: tmf.multiscale_structural_similarity_index_measure(
            x32, y32, data_range=L, gaussian_kernel=True, sigma=1.5, kernel_size=11
        )
        notes["torchmetrics"] = (
            "float32, data_range=255, Gaussian 11/1.5; reflect-pads and averages the full map "
            "(borders included, not 'valid'); MS-SSIM normalize='relu'"
        )
    if peers["kornia"]["ok"]:
        km = peers["kornia"]["module"]
        ssim["kornia"] = lambda: km.ssim(x32, y32, 11, max_val=L, padding="valid").mean()
        notes["kornia"] = "float32, max_val=255, padding='valid', mean of the map; eps=1e-12 in the denominator; no MS-SSIM"
    return ssim, ms, notes


def run_metrics(sizes: list[int], repeat: int, peers: dict[str, dict]) -> list[dict]:
    rows = []
    for n in sizes:
        ssim, ms, notes = metric_fns(n, peers)
        for metric, fns in (("SSIM", ssim), ("MS-SSIM", ms)):
            console.print(f"[dim]timing {metric} {n}x{n} RGB: {', '.join(fns)} ...[/dim]")
            res = timed_round_robin(fns, repeat)
            ref_d = res["iqa"].get("median")
            ref_v = res["iqa"].get("value")
            for impl, r in res.items():
                row = {"metric": metric, "impl": impl, "size": n, "note": notes.get(impl, "")}
                if "error" in r:
                    row["error"] = r["error"]
                else:
                    med = r["median"]
                    row.update(
                        median_ms=med * 1e3,
                        times_ms=[t * 1e3 for t in r["times"]],
                        mpix_s=n * n / med / 1e6,
                        ratio=(med / ref_d) if ref_d else None,
                        value=r["value"],
                        abs_diff=(abs(r["value"] - ref_v) if ref_v is not None else None),
                    )
                rows.append(row)
    return rows


# ----------------------------------------------------------------------------- API shapes

SHAPE_DTYPES = ("uint8", "float32", "float64")


def shape_fns(n: int) -> dict[str, Callable[[], float]]:
    """``iqa_cli.ssim`` and ``iqa_cli.ms_ssim`` on the n×n pair as every public
    input shape: uint8 (L = 255) or float32 / float64 on [0, 1] (L = 1), 1 or 3
    channels (the grey pair is the red channel). Keys ``metric|dtype|channels``."""
    import iqa_cli

    a, b = test_pair(n)
    fns: dict[str, Callable[[], float]] = {}
    for c in (1, 3):
        x8 = torch.from_numpy(np.ascontiguousarray(a[..., :c])).permute(2, 0, 1)[None].contiguous()
        y8 = torch.from_numpy(np.ascontiguousarray(b[..., :c])).permute(2, 0, 1)[None].contiguous()
        for dt in SHAPE_DTYPES:
            if dt == "uint8":
                x, y, L = x8, y8, 255.0
            else:
                x, y, L = (x8.to(getattr(torch, dt)) / 255).contiguous(), (y8.to(getattr(torch, dt)) / 255).contiguous(), 1.0
            for metric, fn in (("ssim", iqa_cli.ssim), ("ms_ssim", iqa_cli.ms_ssim)):
                fns[f"{metric}|{dt}|{c}"] = lambda fn=fn, x=x, y=y, L=L: fn(x, y, L)[0]
    return fns


def run_shapes(sizes: list[int], repeat: int) -> list[dict]:
    """Every input shape of both metrics at each size, timed round-robin in one
    run (so MS-SSIM / SSIM below is a same-run ratio). *Mpix/s* counts pixels
    times channels (a grey image is a third of the work of an RGB one); *of
    best* is the row's rate over the fastest row of its metric and size."""
    rows = []
    for n in sizes:
        fns = shape_fns(n)
        console.print(f"[dim]timing the API shapes at {n}x{n}: {len(fns)} calls ...[/dim]")
        res = timed_round_robin(fns, repeat)
        rates = {k: n * n * int(k.split("|")[2]) / r["median"] / 1e6 for k, r in res.items() if "median" in r}
        for key, r in res.items():
            metric, dt, c = key.split("|")
            row = {"metric": metric, "dtype": dt, "channels": int(c), "size": n}
            if "error" in r:
                row["error"] = r["error"]
            else:
                best = max(v for k, v in rates.items() if k.startswith(metric + "|"))
                row.update(median_ms=r["median"] * 1e3, times_ms=[t * 1e3 for t in r["times"]], mpix_s=rates[key],
                           of_best=rates[key] / best, value=r["value"])
            rows.append(row)
    return rows


def print_shapes(rows: list[dict]) -> None:
    t = Table(title="Public API shapes: ssim / ms_ssim on uint8 (L 255), float32 and float64 ([0, 1]) tensors, "
                    "1 or 3 channels (Mpix/s counts pixels × channels; of best: over the fastest row of the "
                    "metric and size, target ≥ 0.80)")
    for col, just in (("metric", "left"), ("size", "right"), ("dtype", "left"), ("C", "right"), ("median ms", "right"),
                      ("Mpix/s", "right"), ("of best", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    last = None
    for r in sorted(rows, key=lambda r: (r["metric"], r["size"])):
        if last is not None and (r["metric"], r["size"]) != last:
            t.add_section()
        last = (r["metric"], r["size"])
        if "error" in r:
            t.add_row(r["metric"], f"{r['size']}²", r["dtype"], str(r["channels"]), f"[red]{r['error']}[/red]", "", "")
            continue
        mark = "" if r["of_best"] >= 0.8 else " [red]<0.8[/red]"
        t.add_row(r["metric"], f"{r['size']}²", r["dtype"], str(r["channels"]), fmt(r["median_ms"], ".2f"),
                  fmt(r["mpix_s"], ".1f"), fmt(r["of_best"], ".2f") + mark)
    console.print(t)


# ----------------------------------------------------------------------------- luma SSIM (ssim.m)


def luma_fns(n: int, peers: dict[str, dict]) -> tuple[dict, dict, dict]:
    """Luma SSIM with ssim.m's downsampling on the n×n pair, grey conversion
    included: {name: callable}, {name: exact float64 value (torch path)}, notes."""
    import iqa_cli
    from iqa_cli.metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601

    a, b = test_pair(n)
    L = 255.0
    x8 = torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()
    y8 = torch.from_numpy(b).permute(2, 0, 1)[None].contiguous()
    x64, y64 = x8.double(), y8.double()

    def luma_ssim(conv: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> Callable:
        return lambda: iqa_cli.ssim(conv(x), conv(y), L, downsample="matlab")[0]

    u8 = torch.uint8
    table = (  # name, conversion, input pair, note
        ("iqa gray → uint8, uint8 RGB in", lambda t: rgb_to_gray_matlab(t, round=True, dtype=u8), x8, y8,
         "rgb_to_gray_matlab(x, round=True, dtype=torch.uint8) (MATLAB rgb2gray of uint8) + ssim(downsample='matlab')"),
        ("iqa gray → float64, uint8 RGB in", lambda t: rgb_to_gray_matlab(t, round=True), x8, y8,
         "rgb_to_gray_matlab(x, round=True): the same values as float64, + ssim(downsample='matlab')"),
        ("iqa gray, float64 RGB in", rgb_to_gray_matlab, x64, y64,
         "rgb_to_gray_matlab(x) on float64 (unrounded) + ssim(downsample='matlab')"),
        ("iqa y-bt601 → uint8, uint8 RGB in", lambda t: rgb_to_y_bt601(t, L, round=True, dtype=u8), x8, y8,
         "rgb_to_y_bt601(x, 255, round=True, dtype=torch.uint8) (MATLAB rgb2ycbcr Y) + ssim(downsample='matlab')"),
        ("iqa y-bt601 → float64, uint8 RGB in", lambda t: rgb_to_y_bt601(t, L, round=True), x8, y8,
         "rgb_to_y_bt601(x, 255, round=True) as float64 + ssim(downsample='matlab')"),
        ("iqa y-bt601, float64 RGB in", lambda t: rgb_to_y_bt601(t, L), x64, y64,
         "rgb_to_y_bt601(x, 255) on float64 (unrounded) + ssim(downsample='matlab')"),
    )
    fns: dict[str, Callable[[], float]] = {name: luma_ssim(conv, x, y) for name, conv, x, y, _ in table}
    notes = {name: note for name, _, _, _, note in table}
    exact = {}
    os.environ["IQA_NATIVE"] = "0"  # the torch float64 path: the definition the values are checked against
    try:
        for name, f in fns.items():
            exact[name] = float(f())
    finally:
        os.environ.pop("IQA_NATIVE", None)
    if peers.get("blazediff-ssim", {}).get("ok"):
        bd = peers["blazediff-ssim"]["module"]
        alpha = np.full((n, n, 1), 255, np.uint8)
        ra = np.concatenate([a, alpha], axis=2).tobytes()
        rb = np.concatenate([b, alpha], axis=2).tobytes()
        fns["blazediff-ssim"] = lambda: bd.compare_rgba(ra, rb, n, n).score
        notes["blazediff-ssim"] = "compare_rgba(RGBA8 bytes, n, n), metric ssim (its own luma and downsampling)"
        exact["blazediff-ssim"] = exact["iqa gray, float64 RGB in"]  # its luma is unrounded rgb2gray
    return fns, exact, notes


def run_luma(sizes: list[int], repeat: int, peers: dict[str, dict]) -> list[dict]:
    rows = []
    for n in sizes:
        fns, exact, notes = luma_fns(n, peers)
        f = max(1, int(np.floor(n / 256 + 0.5)))
        console.print(f"[dim]timing luma SSIM (ssim.m, f = {f}) {n}x{n}: {', '.join(fns)} ...[/dim]")
        res = timed_round_robin(fns, repeat)
        ref = res.get("blazediff-ssim", {}).get("median")
        for impl, r in res.items():
            row = {"impl": impl, "size": n, "f": f, "note": notes.get(impl, "")}
            if "error" in r:
                row["error"] = r["error"]
            else:
                med = r["median"]
                row.update(median_ms=med * 1e3, times_ms=[t * 1e3 for t in r["times"]], mpix_s=n * n / med / 1e6,
                           vs_blazediff=(ref / med) if ref else None, value=r["value"],
                           abs_diff=abs(r["value"] - exact[impl]) if impl in exact else None)
            rows.append(row)
    return rows


def print_luma(rows: list[dict]) -> None:
    t = Table(title="Luma SSIM with ssim.m downsampling, RGB pair in, grey conversion included "
                    "(× blazediff = blazediff time / row time: > 1 means faster; target ≥ 1.5)")
    for col, just in (("implementation", "left"), ("size", "right"), ("f", "right"), ("median ms", "right"),
                      ("Mpix/s", "right"), ("× blazediff", "right"), ("|Δ| vs float64 def.", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    last = None
    for r in rows:
        if last is not None and r["size"] != last:
            t.add_section()
        last = r["size"]
        if "error" in r:
            t.add_row(r["impl"], f"{r['size']}²", str(r["f"]), f"[red]error: {r['error']}[/red]", "", "", "")
            continue
        t.add_row(r["impl"], f"{r['size']}²", str(r["f"]), fmt(r["median_ms"], ".2f"), fmt(r["mpix_s"], ".1f"),
                  fmt(r["vs_blazediff"], ".2f"), fmt(r["abs_diff"], ".1e"))
    console.print(t)
    console.print("[dim]|Δ| vs float64 def.: against iqa's torch float64 path (IQA_NATIVE=0) on the same input; for "
                  "blazediff against unrounded rgb2gray luma (its documented anchor shift at even f is a "
                  "convention difference, not noise)[/dim]")


# ----------------------------------------------------------------------------- memory-bound kernels


def memory_fns(n: int) -> dict[str, tuple[str, Callable[[], float]]]:
    """Per-pair calls of the memory-bound kernels: {name: (dtype of the MSE row it is compared with, fn)}."""
    import iqa_cli
    from iqa_cli.metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601

    a, b = test_pair(n)
    L = 255.0
    x8 = torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()
    y8 = torch.from_numpy(b).permute(2, 0, 1)[None].contiguous()
    x64, y64 = x8.double(), y8.double()

    def pair(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> Callable[[], float]:
        return lambda: float(fn(x).flatten()[0]) + float(fn(y).flatten()[0])

    tv = lambda t: iqa_cli.total_variation(t, "l1", "mean", data_range=L)  # noqa: E731 - the runner's call
    fns: dict[str, tuple[str, Callable[[], float]]] = {}
    for dt, x, y in (("uint8", x8, y8), ("float64", x64, y64)):
        fns[f"mse, {dt}"] = (dt, lambda x=x, y=y: float(iqa_cli.mse(x, y)[0]))
        fns[f"tv l1 mean (both images), {dt}"] = (dt, pair(tv, x, y))
        fns[f"tv l2_squared sum (both), {dt}"] = (dt, pair(lambda t: iqa_cli.total_variation(t, "l2_squared", data_range=L), x, y))
        fns[f"rgb_to_gray_matlab round (both), {dt}"] = (dt, pair(lambda t: rgb_to_gray_matlab(t, round=True), x, y))
        fns[f"rgb_to_y_bt601 round (both), {dt}"] = (dt, pair(lambda t: rgb_to_y_bt601(t, L, round=True), x, y))
        fns[f"rgb_to_gray_matlab (both), {dt}"] = (dt, pair(rgb_to_gray_matlab, x, y))
        fns[f"rgb_to_y_bt601 (both), {dt}"] = (dt, pair(lambda t: rgb_to_y_bt601(t, L), x, y))
    return fns


def run_memory(sizes: list[int], repeat: int) -> list[dict]:
    rows = []
    for n in sizes:
        fns = memory_fns(n)
        console.print(f"[dim]timing memory-bound kernels {n}x{n} RGB pair: {len(fns)} calls ...[/dim]")
        res = timed_round_robin({k: f for k, (_, f) in fns.items()}, repeat)
        for impl, r in res.items():
            dt = fns[impl][0]
            ref = res[f"mse, {dt}"].get("median")
            row = {"impl": impl, "size": n, "dtype": dt}
            if "error" in r:
                row["error"] = r["error"]
            else:
                med = r["median"]
                row.update(median_ms=med * 1e3, times_ms=[t * 1e3 for t in r["times"]],
                           vs_mse=(med / ref) if ref else None)
            rows.append(row)
    return rows


def print_memory(rows: list[dict]) -> None:
    t = Table(title="Memory-bound kernels on an RGB pair (both images; ratio = time / MSE's time on the same "
                    "pair and dtype: target ≤ 1)")
    for col, just in (("call", "left"), ("size", "right"), ("median ms", "right"), ("/ MSE", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    last = None
    for r in rows:
        if last is not None and r["size"] != last:
            t.add_section()
        last = r["size"]
        if "error" in r:
            t.add_row(r["impl"], f"{r['size']}²", f"[red]error: {r['error']}[/red]", "")
            continue
        t.add_row(r["impl"], f"{r['size']}²", fmt(r["median_ms"], ".2f"), fmt(r["vs_mse"], ".2f"))
    console.print(t)


# ----------------------------------------------------------------------------- batch vs decode


def write_pairs(root: Path, n_pairs: int, size: int) -> tuple[Path, Path]:
    from PIL import Image

    ref_dir, dist_dir = root / "ref", root / "dist"
    ref_dir.mkdir()
    dist_dir.mkdir()
    base, _ = test_pair(size)
    for i in range(n_pairs):
        rng = np.random.default_rng(1000 + i)
        a = np.roll(base, shift=(7 * i, 13 * i), axis=(0, 1))
        b = np.clip(np.rint(a + rng.normal(0.0, 8.0, a.shape)), 0, 255).astype(np.uint8)
        name = f"pair_{i:04d}.png"
        Image.fromarray(a).save(ref_dir / name, compress_level=1)
        Image.fromarray(b).save(dist_dir / name, compress_level=1)
    return ref_dir, dist_dir


def _pillow_raw(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return np.asarray(im)


def _decoder_fns(files: list[str], jpegs: list[str], workers: int) -> dict[str, tuple[str, Callable[[str], object]]]:
    """Candidate PNG and JPEG decoders that import here: name -> (format, decode(path))."""
    from PIL import Image

    def read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    fns: dict[str, tuple[str, Callable[[str], object]]] = {"Pillow": ("png", _pillow_raw)}
    try:
        import imagecodecs

        fns["imagecodecs.png_decode (libpng)"] = ("png", lambda p: imagecodecs.png_decode(read(p)))
        fns["imagecodecs.spng_decode (libspng)"] = ("png", lambda p: imagecodecs.spng_decode(read(p)))
        fns["imagecodecs.jpeg8_decode"] = ("jpeg", lambda p: imagecodecs.jpeg8_decode(read(p)))
    except ImportError:
        pass
    try:
        import pyspng

        fns["pyspng (libspng)"] = ("png", lambda p: pyspng.load(read(p)))
    except ImportError:
        pass
    fns["Pillow JPEG"] = ("jpeg", _pillow_raw)
    try:
        import simplejpeg

        fns["simplejpeg (strict)"] = ("jpeg", lambda p: simplejpeg.decode_jpeg(read(p), colorspace="RGB", strict=True))
    except ImportError:
        pass
    del Image
    return fns


def run_decoders(files: list[str], jpegs: list[str], workers: int, repeat: int) -> dict:
    """Each candidate decoder on the same files, 1 and ``workers`` threads, round-robin."""
    fns = {}
    for name, (kind, fn) in _decoder_fns(files, jpegs, workers).items():
        todo = files if kind == "png" else jpegs
        for threads in (1, workers):
            def go(fn=fn, todo=todo, threads=threads) -> float:
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    for _ in pool.map(fn, todo):
                        pass
                return 0.0

            fns[(name, kind, threads)] = go
    res = timed_round_robin({f"{n}|{k}|{t}": f for (n, k, t), f in fns.items()}, repeat)
    out = {}
    for key, r in res.items():
        name, kind, threads = key.split("|")
        count = len(files) if kind == "png" else len(jpegs)
        out[key] = {"name": name, "format": kind, "threads": int(threads),
                    "ms_per_file": r.get("median", float("nan")) * 1e3 / count, "error": r.get("error")}
    return out


def run_batch(n_pairs: int, size: int, repeat: int) -> dict:
    from iqa_cli import runner
    from iqa_cli.io import load_image
    from iqa_cli.pairing import pair_folders
    from iqa_cli.results import Settings

    workers = runner.default_workers()
    out: dict = {"pairs": n_pairs, "size": size, "workers": workers, "torch_threads": torch.get_num_threads()}
    tmp = Path(tempfile.mkdtemp(prefix="iqa-bench-"))
    try:
        console.print(f"[dim]writing {n_pairs} pairs of {size}x{size} RGB PNGs to {tmp} ...[/dim]")
        t0 = time.perf_counter()
        ref_dir, dist_dir = write_pairs(tmp, n_pairs, size)
        out["write_s"] = time.perf_counter() - t0
        pairs, _ = pair_folders(ref_dir, dist_dir)
        files = [str(p) for pr in pairs for p in (pr.reference, pr.distorted)]
        settings = Settings()
        out["metrics"] = list(settings.metrics)

        def decode(fn: Callable, threads: int) -> Callable[[], None]:
            def go() -> None:
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    for _ in pool.map(fn, files):
                        pass

            return go

        def pillow_path(path: str):
            os.environ["IQA_FAST_DECODE"] = "0"
            try:
                return load_image(path)
            finally:
                os.environ.pop("IQA_FAST_DECODE", None)

        # the decoder table: a sample of the PNGs, and JPEG copies of some references
        from PIL import Image

        sample = files[: min(len(files), 20)]
        jpegs = []
        for k, f in enumerate(files[: min(len(files), 20): 2]):
            jp = tmp / f"ref_{k}.jpg"
            with Image.open(f) as im:
                im.save(jp, quality=90)
            jpegs.append(str(jp))
        console.print(f"[dim]timing the candidate decoders on {len(sample)} PNGs and {len(jpegs)} JPEGs ...[/dim]")
        out["decoders"] = run_decoders(sample, jpegs, workers, max(3, repeat))

        decode_fns = {
            "iqa.io.load_image, 1 thread": decode(load_image, 1),
            f"iqa.io.load_image, {workers} threads": decode(load_image, workers),
            f"iqa.io.load_image, Pillow pixels (IQA_FAST_DECODE=0), {workers} threads": decode(pillow_path, workers),
            "raw Pillow (no iqa checks), 1 thread": decode(_pillow_raw, 1),
            f"raw Pillow (no iqa checks), {workers} threads": decode(_pillow_raw, workers),
        }
        console.print(f"[dim]timing decoding of {len(files)} files ({repeat} rounds) ...[/dim]")
        for f in decode_fns.values():
            f()  # warm the page cache and Pillow
        times: dict[str, list[float]] = {k: [] for k in decode_fns}
        for _ in range(repeat):
            for k, f in decode_fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        out["decode"] = {k: {"times_s": v, "median_s": statistics.median(v)} for k, v in times.items()}

        batch_rounds = max(1, min(repeat, 2))
        console.print(f"[dim]timing iqa batch (runner.run, default metrics {settings.metrics}, "
                      f"{workers} decode threads, {batch_rounds} round(s)) ...[/dim]")
        bt, bt0 = [], []
        for _ in range(batch_rounds):
            t0 = time.perf_counter()
            results = list(runner.run(pairs, settings, workers=workers))
            bt.append(time.perf_counter() - t0)
            os.environ["IQA_DECODE_NICE"] = "0"  # the decode threads at the scoring's priority, as before
            try:
                t0 = time.perf_counter()
                list(runner.run(pairs, settings, workers=workers))
                bt0.append(time.perf_counter() - t0)
            finally:
                os.environ.pop("IQA_DECODE_NICE", None)
        out["batch_nice0"] = {"times_s": bt0, "median_s": statistics.median(bt0)}
        bad = [r for r in results if r.status != "ok"]
        out["batch"] = {"times_s": bt, "median_s": statistics.median(bt), "rows": len(results), "not_ok": len(bad)}
        out["batch_over_decode"] = out["batch"]["median_s"] / out["decode"][f"iqa.io.load_image, {workers} threads"]["median_s"]

        # Per-metric cost of one pair, to show what the batch time is made of.
        from iqa_cli.io import prepare_pair

        ref = load_image(str(pairs[0].reference))
        dist = load_image(str(pairs[0].distorted))
        prepared = prepare_pair(ref, dist)
        dev = torch.device("cpu")
        per = {}
        fns = {}
        for m in settings.metrics:
            s = Settings(metrics=(m,))
            fns[m] = lambda s=s: runner.score_prepared(prepared, s, dev, integer=True) and 0.0
        fns["all default metrics"] = lambda: runner.score_prepared(prepared, settings, dev, integer=True) and 0.0
        res = timed_round_robin(fns, max(1, min(repeat, 3)))
        for m, r in res.items():
            per[m] = r.get("median", float("nan")) * 1e3 if "error" not in r else r["error"]
        out["per_pair_ms"] = per
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------- start-up


# ----------------------------------------------------------------------------- GPU


def run_gpu(sizes: list[int], repeat: int, device: str, pairs: int) -> list[dict]:
    """Batched same-size pairs on ``device``, as ``iqa batch`` scores them there:
    one call of SSIM, MS-SSIM or the mixed loss on an (N, 3, n, n) uint8 stack.
    Gpix/s counts N·n² image pixels per second. ``max |Δ| vs CPU`` compares each
    image's value with the CPU's (the C kernel, float64). Out of memory halves N."""
    import iqa_cli

    dev = torch.device(device)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    rows = []
    for n in sizes:
        a, b = test_pair(n)
        xs = np.stack([np.roll(a, 37 * k, axis=1) for k in range(pairs)]).transpose(0, 3, 1, 2)
        ys = np.stack([np.roll(b, 37 * k, axis=1) for k in range(pairs)]).transpose(0, 3, 1, 2)
        x_cpu, y_cpu = torch.from_numpy(np.ascontiguousarray(xs)), torch.from_numpy(np.ascontiguousarray(ys))
        for name, fn in (("ssim", iqa_cli.ssim), ("ms_ssim", iqa_cli.ms_ssim), ("mix", iqa_cli.mix_loss)):
            console.print(f"[dim]timing {name} {n}x{n} on {dev}, {pairs} pairs per call ...[/dim]")
            row: dict = {"metric": name, "size": n, "device": str(dev)}
            cpu = fn(x_cpu, y_cpu, 255).double()
            m = pairs
            while m >= 1:
                try:
                    x, y = x_cpu[:m].to(dev), y_cpu[:m].to(dev)
                    got = fn(x, y, 255)  # warm-up
                    sync()
                    times = []
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        fn(x, y, 255)
                        sync()
                        times.append(time.perf_counter() - t0)
                    med = statistics.median(times)
                    row.update(pairs=m, times_s=times, median_ms=med * 1e3, gpix_s=m * n * n / med / 1e9,
                               max_abs_diff=float((got.double().cpu() - cpu[:m]).abs().max()))
                    break
                except torch.cuda.OutOfMemoryError:
                    x = y = got = None  # free the device copies before retrying with fewer pairs
                    torch.cuda.empty_cache()
                    m //= 2
                except Exception as e:  # noqa: BLE001
                    row["error"] = one_line(e)
                    break
            else:
                row["error"] = "out of memory with one pair"
            rows.append(row)
    return rows


def print_gpu(rows: list[dict]) -> None:
    dev = rows[0]["device"] if rows else "?"
    t = Table(title=f"Batched same-size pairs on {dev} (uint8 in; max |Δ| vs the CPU's float64 C kernel, target ≤ 1e-6)")
    for col, just in (("metric", "left"), ("size", "right"), ("pairs / call", "right"), ("median ms", "right"),
                      ("Gpix/s", "right"), ("max |Δ| vs CPU", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        if "error" in r:
            t.add_row(r["metric"], f"{r['size']}²", "", f"[yellow]{r['error']}[/yellow]", "", "")
        else:
            t.add_row(r["metric"], f"{r['size']}²", str(r["pairs"]), f"{r['median_ms']:.1f}", f"{r['gpix_s']:.3f}",
                      f"{r['max_abs_diff']:.1e}")
    console.print(t)


def run_startup(repeat: int) -> list[dict]:
    rows = []
    iqa = shutil.which("iqa")
    tmp = Path(tempfile.mkdtemp(prefix="iqa-bench-startup-"))
    try:
        from PIL import Image

        a, b = test_pair(512)
        Image.fromarray(a).save(tmp / "ref.png")
        Image.fromarray(b).save(tmp / "dist.png")
        cmds = [
            ("python -c 'import torch'", [sys.executable, "-c", "import torch"]),
            ("iqa --version", [iqa, "--version"] if iqa else None),
            ("iqa --help", [iqa, "--help"] if iqa else None),
            ("iqa compare (512² pair, default metrics)", [iqa, "compare", str(tmp / "ref.png"), str(tmp / "dist.png")] if iqa else None),
        ]
        for label, cmd in cmds:
            row = {"command": label}
            if cmd is None:
                row["error"] = "`iqa` not on PATH (not installed yet?)"
                rows.append(row)
                continue
            times = []
            try:
                first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                if first.returncode not in (0, 1):  # compare may exit 1 on a failed gate
                    tail = (first.stderr or first.stdout).strip().splitlines()
                    row["error"] = f"exit {first.returncode}: {tail[-1][:150] if tail else ''}"
                    rows.append(row)
                    continue
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    subprocess.run(cmd, capture_output=True, timeout=300)
                    times.append(time.perf_counter() - t0)
                row.update(times_ms=[t * 1e3 for t in times], median_ms=statistics.median(times) * 1e3)
            except Exception as e:  # noqa: BLE001
                row["error"] = one_line(e)
            rows.append(row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


# ----------------------------------------------------------------------------- output


def fmt(v, spec: str, missing: str = "—") -> str:
    return missing if v is None else format(v, spec)


def print_metrics(rows: list[dict]) -> None:
    for metric in ("SSIM", "MS-SSIM"):
        t = Table(title=f"{metric}, RGB pair, data_range 255 (median ms; ratio = peer time / iqa time)")
        for col, just in (("implementation", "left"), ("size", "right"), ("median ms", "right"), ("Mpix/s", "right"),
                          ("× iqa", "right"), ("|Δ| vs iqa", "right")):
            t.add_column(col, justify=just)
        last = None
        for r in (r for r in rows if r["metric"] == metric):
            if last is not None and r["size"] != last:
                t.add_section()
            last = r["size"]
            if "error" in r:
                t.add_row(r["impl"], f"{r['size']}²", f"[red]error: {r['error']}[/red]", "", "", "")
                continue
            t.add_row(
                r["impl"],
                f"{r['size']}²",
                fmt(r["median_ms"], ".1f"),
                fmt(r["mpix_s"], ".2f"),
                fmt(r["ratio"], ".2f"),
                fmt(r["abs_diff"], ".1e"),
            )
        console.print(t)


def print_notes(peers: dict, notes: dict) -> None:
    t = Table(title="Implementations")
    t.add_column("implementation")
    t.add_column("version / status")
    t.add_column("configuration")
    t.add_row("iqa", _iqa_version(), "")
    for name, info in peers.items():
        t.add_row(name, info["version"] if info["ok"] else f"[yellow]{info['reason']}[/yellow]",
                  notes.get(name, PEER_NOTES.get(name, "")))
    for k in ("iqa", "iqa (torch float64)", "iqa (torch float32)"):
        t.add_row(k, "", notes.get(k, ""))
    console.print(t)


def print_batch(b: dict) -> None:
    t = Table(title=f"Batch vs decode: {b['pairs']} pairs of {b['size']}² RGB PNG, {b['workers']} decode threads, "
                    f"torch threads {b['torch_threads']}")
    t.add_column("what")
    t.add_column("median s", justify="right")
    t.add_column("ms / pair", justify="right")
    for k, v in b["decode"].items():
        t.add_row(f"decode only: {k}", f"{v['median_s']:.2f}", f"{v['median_s'] / b['pairs'] * 1e3:.1f}")
    bt = b["batch"]
    t.add_row(f"iqa batch (runner.run, default metrics: {', '.join(b['metrics'])})", f"{bt['median_s']:.2f}",
              f"{bt['median_s'] / b['pairs'] * 1e3:.1f}")
    b0 = b["batch_nice0"]["median_s"]
    t.add_row("iqa batch, decode threads at normal priority (IQA_DECODE_NICE=0)", f"{b0:.2f}", f"{b0 / b['pairs'] * 1e3:.1f}")
    t.add_section()
    r = b["batch_over_decode"]
    t.add_row("[bold]batch / decode (same decoder, same threads)[/bold]", f"[bold]{r:.2f}×[/bold]", "")
    t.add_row(f"target: ≥ 65 % of decode throughput (batch ≤ {1 / 0.65:.2f}× decode): "
              f"{'met' if 1 / r >= 0.65 else 'not met'}", f"{100 / r:.0f} %", "")
    d = b["decode"]
    w = b["workers"]
    li1, liw = d["iqa.io.load_image, 1 thread"]["median_s"], d[f"iqa.io.load_image, {w} threads"]["median_s"]
    pr1, prw = d["raw Pillow (no iqa checks), 1 thread"]["median_s"], d[f"raw Pillow (no iqa checks), {w} threads"]["median_s"]
    t.add_row(f"decode speed-up 1→{w} threads: iqa.io.load_image", f"{li1 / liw:.2f}×", "")
    t.add_row(f"decode speed-up 1→{w} threads: raw Pillow", f"{pr1 / prw:.2f}×", "")
    console.print(t)
    dec = b.get("decoders") or {}
    if dec:
        t = Table(title=f"Decoders on the same files ({b['size']}² RGB; PNG compress_level 1, JPEG quality 90), "
                        "median ms per file")
        t.add_column("decoder")
        t.add_column("format")
        t.add_column("1 thread", justify="right")
        t.add_column(f"{w} threads", justify="right")
        t.add_column("× Pillow (1 thread)", justify="right")
        t.add_column(f"× Pillow ({w} threads)", justify="right")
        base = {(v["format"], v["threads"]): v["ms_per_file"] for v in dec.values() if v["name"] in ("Pillow", "Pillow JPEG")}
        names = dict.fromkeys((v["name"], v["format"]) for v in dec.values())
        for name, kind in names:
            one = next(v for v in dec.values() if v["name"] == name and v["threads"] == 1)
            many = next(v for v in dec.values() if v["name"] == name and v["threads"] == w)
            t.add_row(name, kind, f"{one['ms_per_file']:.1f}", f"{many['ms_per_file']:.1f}",
                      f"{base[(kind, 1)] / one['ms_per_file']:.2f}×", f"{base[(kind, w)] / many['ms_per_file']:.2f}×")
        console.print(t)
    t = Table(title=f"One {b['size']}² pair, score_prepared per metric (median ms)")
    t.add_column("metric")
    t.add_column("ms", justify="right")
    for m, v in b["per_pair_ms"].items():
        t.add_row(m, f"{v:.1f}" if isinstance(v, float) else str(v))
    console.print(t)


def targets(result: dict) -> list[tuple[str, str, str, bool | None]]:
    """The issue's targets, each with the same-run ratio it is judged by:
    (target, size or scope, ratio as text, met or None when not measured)."""
    out: list[tuple[str, str, str, bool | None]] = []
    shapes = [r for r in result.get("shapes", []) if "error" not in r]
    for n in sorted({r["size"] for r in shapes}):
        at = {(r["metric"], r["dtype"], r["channels"]): r for r in shapes if r["size"] == n}
        ss, ms = at.get(("ssim", "uint8", 3)), at.get(("ms_ssim", "uint8", 3))
        if ss and ms:
            ratio = ms["median_ms"] / ss["median_ms"]
            out.append(("MS-SSIM time / SSIM time (uint8 RGB) ≤ 1.6", f"{n}²", f"{ratio:.2f}×", ratio <= 1.6))
    for n in sorted({r["size"] for r in shapes}):
        worst = min((r for r in shapes if r["size"] == n), key=lambda r: r["of_best"])
        out.append(("every API shape ≥ 80 % of the best path's Mpix/s", f"{n}²",
                    f"{worst['of_best']:.2f} ({worst['metric']} {worst['dtype']} ×{worst['channels']})",
                    worst["of_best"] >= 0.8))
    luma = [r for r in result.get("luma", []) if "error" not in r and r.get("vs_blazediff") is not None
            and "uint8 RGB in" in r["impl"]]
    for n in sorted({r["size"] for r in luma}):
        for kind in ("→ uint8", "→ float64"):
            rs = [r for r in luma if r["size"] == n and kind in r["impl"]]
            if rs:
                worst = min(rs, key=lambda r: r["vs_blazediff"])
                out.append((f"luma ssim.m (grey {kind.split()[-1]}) ≥ 1.5× blazediff-ssim", f"{n}²",
                            f"{worst['vs_blazediff']:.2f}× (worst: {worst['impl'].split(',')[0]})",
                            worst["vs_blazediff"] >= 1.5))
    if not luma and result.get("luma") is not None:
        out.append(("luma ssim.m ≥ 1.5× blazediff-ssim", "—", "blazediff-ssim not installed", None))
    b = result.get("batch") or {}
    if "batch_over_decode" in b:
        share = 1 / b["batch_over_decode"]
        out.append(("default batch ≥ 65 % of decode-only throughput", f"{b['pairs']} × {b['size']}²",
                    f"{share * 100:.0f} % (batch/decode {b['batch_over_decode']:.2f}×)", share >= 0.65))
    for g in result.get("gpu", []) or []:
        if "max_abs_diff" in g:
            out.append((f"GPU {g['metric']} max |GPU − CPU| ≤ 1e-6", f"{g['size']}²", f"{g['max_abs_diff']:.1e}",
                        g["max_abs_diff"] <= 1e-6))
    return out


def print_targets(result: dict) -> None:
    rows = targets(result)
    result["targets"] = [{"target": a, "scope": b, "ratio": c, "met": d} for a, b, c, d in rows]
    t = Table(title="Targets of issue 24 (ratios from this run)")
    for col in ("target", "size", "ratio", ""):
        t.add_column(col)
    for a, b, c, d in rows:
        t.add_row(a, b, c, "—" if d is None else ("[green]met[/green]" if d else "[red]not met[/red]"))
    console.print(t)


def print_startup(rows: list[dict]) -> None:
    t = Table(title="Start-up (subprocess wall time, median)")
    t.add_column("command")
    t.add_column("median ms", justify="right")
    for r in rows:
        t.add_row(r["command"], f"[yellow]{r['error']}[/yellow]" if "error" in r else f"{r['median_ms']:.0f}")
    console.print(t)


def _iqa_version() -> str:
    try:
        from iqa_cli._version import __version__

        return __version__
    except Exception as e:  # noqa: BLE001
        return one_line(e)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=None, help="comma-separated square sizes (default 512,1024,2048; --quick: 512)")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (default 5; --quick: 3)")
    ap.add_argument("--pairs", type=int, default=None, help="pairs for batch-vs-decode (default 100; --quick: 10; 0 skips)")
    ap.add_argument("--batch-size", type=int, default=1024, help="side of the batch PNGs (default 1024)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    ap.add_argument("--quick", action="store_true", help="small, fast run")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up timings")
    ap.add_argument("--no-metrics", action="store_true", help="skip the RGB SSIM / MS-SSIM tables")
    ap.add_argument("--no-luma", action="store_true", help="skip the luma SSIM (ssim.m) table against blazediff-ssim")
    ap.add_argument("--shape-sizes", default=None,
                    help="sizes of the API-shapes table (default 256,512,1024,2048,4096; --quick: 256,512; '' skips)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory-bound kernels (colour, TV vs MSE)")
    ap.add_argument("--omp-wait-policy", choices=["PASSIVE", "ACTIVE", "passive", "active", "unset"], default=None,
                    help="OMP_WAIT_POLICY for this run (default: PASSIVE unless already set, as the iqa CLI does; "
                         "'unset' leaves OpenMP's own default)")
    ap.add_argument("--gpu", choices=["auto", "cuda", "off", "cpu"], default="auto",
                    help="batched same-size pairs on a GPU: auto (when CUDA is available), cuda, off; "
                         "cpu runs the same measurement on the CPU (checks the code path)")
    ap.add_argument("--gpu-pairs", type=int, default=16, help="pairs per call in the GPU measurement (default 16)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw numbers as JSON")
    args = ap.parse_args(argv)

    sizes = [int(s) for s in (args.sizes or ("512" if args.quick else "512,1024,2048")).split(",") if s.strip()]
    repeat = args.repeat or (3 if args.quick else 5)
    n_pairs = args.pairs if args.pairs is not None else (10 if args.quick else 100)
    if args.threads:
        torch.set_num_threads(args.threads)

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "iqa": _iqa_version(),
        "load_avg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
    }
    console.print(f"iqa bench: torch {env['torch']}, {env['torch_threads']} torch threads, {env['cpu_count']} CPUs, "
                  f"OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}, load average {env['load_avg_start']}")
    peers = detect_peers()
    result: dict = {"env": env, "peers": {k: ({"version": v["version"]} if v["ok"] else {"unavailable": v["reason"]})
                                          for k, v in peers.items()}}

    _, _, notes = metric_fns(min(sizes), peers)
    print_notes(peers, notes)
    if not args.no_metrics:
        rows = run_metrics(sizes, repeat, peers)
        result["metrics"] = rows
        print_metrics(rows)
    shape_sizes = args.shape_sizes if args.shape_sizes is not None else ("256,512" if args.quick else
                                                                          "256,512,1024,2048,4096")
    shape_sizes = [int(v) for v in shape_sizes.split(",") if v.strip()]
    if shape_sizes:
        result["shapes"] = run_shapes(shape_sizes, repeat)
        print_shapes(result["shapes"])
    if not args.no_luma:
        result["luma"] = run_luma(sizes, repeat, peers)
        print_luma(result["luma"])
    if not args.no_memory:
        result["memory"] = run_memory(sizes, repeat)
        print_memory(result["memory"])

    if n_pairs > 0:
        try:
            b = run_batch(n_pairs, args.batch_size, repeat)
            result["batch"] = b
            print_batch(b)
        except Exception as e:  # noqa: BLE001
            result["batch"] = {"error": one_line(e), "traceback": traceback.format_exc()}
            console.print(f"[red]batch benchmark failed: {one_line(e)}[/red]")
    gpu = {"auto": "cuda" if torch.cuda.is_available() else None, "off": None}.get(args.gpu, args.gpu)
    if gpu is not None:
        g = run_gpu(sizes, repeat, gpu, max(1, args.gpu_pairs))
        result["gpu"] = g
        print_gpu(g)
    elif args.gpu == "auto":
        console.print("[dim]GPU: torch.cuda.is_available() is False here; no GPU measurement[/dim]")
    if not args.no_startup:
        st = run_startup(3 if args.quick else 5)
        result["startup"] = st
        print_startup(st)
    print_targets(result)
    env["load_avg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    console.print(f"load average at the end: {env['load_avg_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
        console.print(f"raw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
