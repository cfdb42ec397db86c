"""Video scoring speed: iqa's per-frame SSIM/MS-SSIM/MSE/PSNR/TV on Y of a
1080p H.264 pair against FFmpeg's own ``ssim`` and ``psnr`` filters,
measured in the same run on the same files.

    python bench/video_bench.py                      # 1920x1080, 300 frames
    python bench/video_bench.py --frames 60 --size 1280x720 --repeat 3
    python bench/video_bench.py --chart chart.png    # also draw the per-frame chart

The pair is made by the bench with PyAV (cached in ``--workdir``): a panning
texture with a moving block, the reference encoded with x264 at CRF 16, the
distorted at CRF 34 (``veryfast``). Rows:

* ``ffmpeg ssim+psnr``: ``ffmpeg -i ref -i dist -lavfi "[0:v][1:v]ssim;[0:v][1:v]psnr" -f null -``
  (FFmpeg's binary from imageio-ffmpeg, else PyAV's is not a CLI: then skipped).
  FFmpeg's ssim is its 8x8-block approximation, on Y, U and V.
* ``ffmpeg decode``: the same command with ``-f null`` and no filter (both inputs decoded).
* ``iqa decode``: PyAV decoding both files into native planes (iqa's reader).
* ``iqa ssim,psnr (Y)`` and ``iqa default metrics (Y)``: probe, pairing, the
  one-frame-shift check and per-frame scoring with decoding in a thread.

Each row is the median of ``--repeat`` runs; frames/s = frames / seconds, and
the ratio is against FFmpeg's ssim+psnr in the same run. The bench also
prints FFmpeg's "PSNR y" (PSNR of the mean MSE over frames) beside iqa's
``psnr_total`` on Y, which must agree to FFmpeg's six printed decimals.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001
        return None


def make_pair(workdir: Path, w: int, h: int, n: int) -> tuple[Path, Path]:
    """A panning texture with a moving block, encoded twice (CRF 16 and 34); cached."""
    import av

    ref, dist = workdir / f"ref_{w}x{h}_{n}.mp4", workdir / f"dist_{w}x{h}_{n}.mp4"
    if ref.exists() and dist.exists():
        return ref, dist
    rng = np.random.default_rng(0)
    pan = 2
    tw = w + pan * n + 16
    noise = rng.normal(0, 1, (h // 4 + 2, tw // 4 + 2))
    tex = np.kron(noise, np.ones((4, 4)))[:h, :tw]
    tex = (tex + np.roll(tex, 1, 0) + np.roll(tex, 1, 1) + np.roll(tex, (1, 1), (0, 1))) / 4
    yy, xx = np.mgrid[0:h, 0:tw]
    luma = np.clip(126 + 40 * tex + 30 * np.sin(xx / 37.0) * np.cos(yy / 53.0), 16, 235).astype(np.uint8)
    cu = np.clip(128 + 30 * np.sin(xx[::2, ::2] / 71.0), 16, 240).astype(np.uint8)
    cv = np.clip(128 + 30 * np.cos(yy[::2, ::2] / 67.0), 16, 240).astype(np.uint8)
    for path, crf in ((ref, "16"), (dist, "34")):
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            s.options = {"crf": crf, "preset": "veryfast"}
            for t in range(n):
                x0 = pan * t
                y = luma[:, x0:x0 + w].copy()
                bx, by = (40 + 7 * t) % (w - 200), (60 + 3 * t) % (h - 200)
                y[by:by + 160, bx:bx + 160] = 255 - y[by:by + 160, bx:bx + 160]
                planes = (y, cu[:, x0 // 2:x0 // 2 + w // 2], cv[:, x0 // 2:x0 // 2 + w // 2])
                f = av.VideoFrame(w, h, "yuv420p")
                for p, a in zip(f.planes, planes):
                    buf = np.zeros((p.height, p.line_size), np.uint8)
                    buf[:, : p.width] = a[: p.height, : p.width]
                    p.update(buf.tobytes())
                f.pts = t
                for pkt in s.encode(f):
                    c.mux(pkt)
            for pkt in s.encode():
                c.mux(pkt)
    return ref, dist


def run_ffmpeg(exe: str, ref: Path, dist: Path, filters: bool) -> tuple[float, str]:
    cmd = [exe, "-hide_banner", "-nostats", "-i", str(ref), "-i", str(dist)]
    if filters:
        cmd += ["-lavfi", "[0:v][1:v]ssim;[0:v][1:v]psnr"]
    else:
        cmd += ["-map", "0:v", "-map", "1:v"]
    cmd += ["-f", "null", "-"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(p.stderr[-2000:])
    return dt, p.stderr


def run_decode(ref: Path, dist: Path) -> float:
    from iqa_cli.io.video import open_video

    t0 = time.perf_counter()
    a, b = open_video(ref), open_video(dist)
    for _ in zip(a.frames(), b.frames()):
        pass
    return time.perf_counter() - t0


def run_iqa(ref: Path, dist: Path, metrics: tuple[str, ...], keep=None) -> tuple[float, object]:
    from iqa_cli.io.frame_align import check_sync, plan_pairs
    from iqa_cli.io.frames import open_stream
    from iqa_cli.results import Settings
    from iqa_cli.video_scoring import score_video

    t0 = time.perf_counter()
    R, D = open_stream(ref), open_stream(dist)
    plan = plan_pairs(R.info, D.info)
    check_sync(R, D, plan)
    result = score_video(R, D, plan, Settings(metrics=metrics), color="y")
    return time.perf_counter() - t0, result


def chart(result, path: Path, title: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart (pip install matplotlib)"
    times = [f.time for f in result.frames]
    ssim = [f.values.get("ssim") for f in result.frames]
    psnr = [min(f.values.get("psnr"), result.cap_db) for f in result.frames]
    fig, ax1 = plt.subplots(figsize=(9, 3.2), dpi=110)
    ax1.plot(times, ssim, color="tab:blue", lw=1.2, label="SSIM (Y)")
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("SSIM", color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(times, psnr, color="tab:red", lw=1.0, label="PSNR (Y, dB)")
    ax2.set_ylabel("PSNR (dB)", color="tab:red")
    worst = result.worst("ssim")[0]
    ax1.axvline(worst.time, color="grey", ls=":", lw=1)
    ax1.text(0.01, 0.03, f"dotted: worst SSIM, frame {worst.ref} at {worst.time:.2f} s", transform=ax1.transAxes,
             fontsize=8, color="grey")
    m = result.pair_metrics("mean")
    ax1.set_title(f"{title}: SSIM mean {m['ssim']:.4f}, min {result.pooled['ssim'].min:.4f}; "
                  f"PSNR mean {m['psnr_mean_db']:.2f} dB, total {m['psnr_total']:.2f} dB", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return f"chart written to {path}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "iqa-video-bench"))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--chart", help="write a per-frame SSIM/PSNR chart (PNG) of the default-metrics run")
    ap.add_argument("--no-default", action="store_true", help="skip the default-metrics row (the slowest)")
    args = ap.parse_args()
    import av
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ref, dist = make_pair(work, w, h, args.frames)
    print(f"pair: {ref.name}, {dist.name} ({time.perf_counter() - t0:.1f} s to make or find)")
    exe = ffmpeg_exe()
    print(f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    if exe:
        print(f"ffmpeg: {exe}")
    n = args.frames
    rows: list[tuple[str, list[float]]] = []
    ff_log = ""
    results = {}
    for _ in range(max(1, args.repeat)):
        if exe:
            dt, ff_log = run_ffmpeg(exe, ref, dist, True)
            rows.append(("ffmpeg ssim+psnr (Y,U,V; 8x8 block SSIM)", [dt]))
            rows.append(("ffmpeg decode only", [run_ffmpeg(exe, ref, dist, False)[0]]))
        rows.append(("iqa decode only (PyAV, native planes)", [run_decode(ref, dist)]))
        dt, results["ssim,psnr"] = run_iqa(ref, dist, ("ssim", "psnr"))
        rows.append(("iqa ssim,psnr (Y, Wang SSIM)", [dt]))
        if not args.no_default:
            dt, results["default"] = run_iqa(ref, dist, ("ssim", "ms_ssim", "mse", "psnr", "tv"))
            rows.append(("iqa default metrics (Y)", [dt]))
    merged: dict[str, list[float]] = {}
    for name, v in rows:
        merged.setdefault(name, []).extend(v)
    base = statistics.median(merged[next(iter(merged))]) if exe else None
    print(f"\n{'row':48s} {'s (median)':>11s} {'frames/s':>9s} {'vs ffmpeg':>10s}")
    for name, v in merged.items():
        med = statistics.median(v)
        ratio = f"{base / med:9.2f}x" if base else "        -"
        print(f"{name:48s} {med:11.3f} {n / med:9.1f} {ratio}")
    res = results["ssim,psnr"]
    m = res.pair_metrics("mean")
    found = re.search(r"PSNR y:([0-9.]+)", ff_log)
    if found:
        print(f"\nPSNR of the mean MSE on Y: ffmpeg {float(found.group(1)):.6f} dB, iqa psnr_total "
              f"{m['psnr_total']:.6f} dB; iqa psnr_mean_db {m['psnr_mean_db']:.6f} dB (cap {res.cap_db:g} dB)")
    ssim_ff = re.search(r"SSIM Y:([0-9.]+)", ff_log)
    if ssim_ff:
        print(f"mean SSIM on Y: ffmpeg (8x8 blocks, stride 4) {float(ssim_ff.group(1)):.6f}, "
              f"iqa (Wang, Gaussian 11x11) {m['ssim']:.6f}")
    if args.chart:
        print(chart(results.get("default") or res, Path(args.chart), f"{w}x{h} H.264 CRF 34 vs 16"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
