#!/usr/bin/env python
"""The Python steps of bench/gpu_check.sh (see there and bench/README.md):

    python bench/gpu_check.py env               # what this machine has
    python bench/gpu_check.py parity  [--device cuda|cpu]
    python bench/gpu_check.py speed   [--device cuda|cpu] [--size 1080x1920] [--pairs 16]
    python bench/gpu_check.py oom     [--device cuda|cpu]

``--device cpu`` (the script's --cpu-dry-run) runs the same code on the CPU:
the "device" side then runs iqa's torch kernels (``IQA_NATIVE=0``, the code
CUDA runs) against the default CPU path (the C kernels), and ``oom``
simulates the out-of-memory error. Every step prints a table and ends with
``RESULT <step>: ok`` or ``RESULT <step>: FAILED (...)``; the exit status is
0 only when every bound held.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # oracles.py: the spec pairs

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

# max |device - CPU| allowed. float64: the bound. float32 (precision
# "auto" on CUDA computes float32 input in float32): the documented bounds of
# bench/README.md, 3-15x the largest error of the CPU's float32 path (the
# same kernels) on these pairs: metrics 6.7e-8, losses 1.1e-6 per image (the
# autograd path centres whole planes, not tiles), gradients 3.2e-5 x max |grad|.
BOUND64 = 1e-6
BOUND32 = {"forward": 1e-6, "loss": 1e-5, "gradient_rel": 1e-4}


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


@contextlib.contextmanager
def _torch_kernels(on: bool):
    """On the CPU dry run the 'device' side runs the torch kernels (what CUDA runs)."""
    if not on:
        yield
        return
    before = os.environ.get("IQA_NATIVE")
    os.environ["IQA_NATIVE"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("IQA_NATIVE", None)
        else:
            os.environ["IQA_NATIVE"] = before


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


# ----------------------------------------------------------------------------- env


def cmd_env(args) -> int:
    print(f"python {sys.version.split()[0]} ({sys.executable})")
    print(f"torch {torch.__version__}, built for CUDA {torch.version.cuda}")
    ok = torch.cuda.is_available()
    print(f"torch.cuda.is_available(): {ok}")
    if ok:
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            free, total = torch.cuda.mem_get_info(i)
            print(f"  cuda:{i} {p.name}, capability {p.major}.{p.minor}, {total / 2**30:.1f} GiB "
                  f"({free / 2**30:.1f} free)")
    from iqa_cli.metrics import _cpu

    print(f"iqa C extension: {'built' if _cpu.available() else 'NOT built (the CPU reference is the torch path)'}")
    for mod in ("pytorch_msssim", "PIL", "skimage", "pytest"):
        try:
            m = __import__(mod)
            print(f"{mod}: {getattr(m, '__version__', 'present')}")
        except Exception as e:  # noqa: BLE001
            print(f"{mod}: missing ({type(e).__name__})")
    print("RESULT env: ok" if ok or args.device == "cpu" else "RESULT env: FAILED (no CUDA device visible to torch)")
    return 0 if ok or args.device == "cpu" else 1


# ----------------------------------------------------------------------------- parity


def _spec_batch():
    """The spec's grey pairs (camera distortions, astronaut through rgb2gray) as
    one (N, 1, 512, 512) batch, and the astronaut RGB pair as (1, 3, 512, 512)."""
    import oracles as O

    names = ["camera_noise", "camera_box3", "camera_meanshift", "camera_contrast", "astronaut_noise"]
    pairs = [O.gray_pair(n) for n in names]
    x = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
    y = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    a, b = O.rgb_pair()
    xr = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]
    yr = torch.from_numpy(np.ascontiguousarray(b.transpose(2, 0, 1)))[None]
    return names, (x, y), (xr, yr)


def _metric_calls(precision: str = "auto"):
    """Every metric as f(x, y) -> (N,). ``precision`` goes to those that take it:
    the dry run passes "single" for float32 input, what "auto" computes on CUDA."""
    import iqa_cli
    from iqa_cli.metrics.color import rgb_to_gray_matlab, rgb_to_y_bt601

    L, kw = 1.0, {"precision": precision}
    return {
        "ssim": lambda p, q: iqa_cli.ssim(p, q, L, **kw),
        "ssim downsample=matlab": lambda p, q: iqa_cli.ssim(p, q, L, downsample="matlab", **kw),
        "ms_ssim": lambda p, q: iqa_cli.ms_ssim(p, q, L, **kw),
        "ms_ssim relu (inverted)": lambda p, q: iqa_cli.ms_ssim(p, 1.0 - p, L, negative="relu", **kw),
        "mix zhao": lambda p, q: iqa_cli.mix_loss(p, q, L, **kw),
        "mix ssim-l1": lambda p, q: iqa_cli.mix_loss(p, q, L, variant="ssim-l1", **kw),
        "mse": lambda p, q: iqa_cli.mse(p, q),
        "psnr": lambda p, q: iqa_cli.psnr(p, q, L),
        "tv l1 mean": lambda p, q: iqa_cli.total_variation(p, "l1", "mean"),
        "tv isotropic": lambda p, q: iqa_cli.total_variation(p, "isotropic", "mean"),
        "rgb_to_gray_matlab": lambda p, q: rgb_to_gray_matlab(p.expand(-1, 3, -1, -1)).mean(dim=(1, 2, 3)),
        "rgb_to_y_bt601": lambda p, q: rgb_to_y_bt601(p.expand(-1, 3, -1, -1), L).mean(dim=(1, 2, 3)),
    }


def _loss_makers(precision: str = "auto"):
    from iqa_cli import MixLoss, MSSSIMLoss, SSIMLoss, TVLoss

    kw = {"data_range": 1.0, "reduction": "sum", "precision": precision}
    return {
        "SSIMLoss": lambda: SSIMLoss(**kw),
        "MSSSIMLoss": lambda: MSSSIMLoss(**kw),
        "MixLoss zhao": lambda: MixLoss(**kw),
        "MixLoss ssim-l1": lambda: MixLoss(variant="ssim-l1", **kw),
        "TVLoss": lambda: TVLoss(reduction="sum"),
    }


def cmd_parity(args) -> int:
    dev = torch.device(args.device)
    dry = dev.type == "cpu"
    names, (xg, yg), (xr, yr) = _spec_batch()
    print(f"pairs: {', '.join(names)} (grey, 512²) and astronaut_noise RGB; device side: "
          f"{'torch kernels on the CPU (dry run)' if dry else dev}; CPU side: default path")
    rows, bad = [], []
    for dtype in (torch.float64, torch.float32):
        tag = "float64" if dtype == torch.float64 else "float32"
        bound = BOUND64 if dtype == torch.float64 else BOUND32["forward"]
        for batch, kind in (((xg, yg), "grey x5"), ((xr, yr), "rgb")):
            x, y = (t.to(dtype) / 255 for t in batch)
            device_calls = _metric_calls("single" if dry and dtype == torch.float32 else "auto")
            for name, call in _metric_calls().items():
                if kind == "rgb" and name.startswith("rgb_to"):
                    continue
                ref = call(x, y).double()
                with _torch_kernels(dry):
                    got = device_calls[name](x.to(dev), y.to(dev)).double().cpu()
                err = float((got - ref).abs().max())
                ok = err <= bound
                rows.append([name, kind, tag, f"{err:.2e}", f"{bound:.0e}", "ok" if ok else "FAILED"])
                if not ok:
                    bad.append(f"{name} {kind} {tag}")
    _table("max |device - CPU| per metric (forward)", ["metric", "pairs", "dtype", "max |Δ|", "bound", ""], rows)

    rows = []
    for dtype in (torch.float64, torch.float32):
        tag = "float64" if dtype == torch.float64 else "float32"
        for batch, kind in (((xg[:2], yg[:2]), "grey x2"), ((xr, yr), "rgb")):
            x, y = (t.to(dtype) / 255 for t in batch)
            device_losses = _loss_makers("single" if dry and dtype == torch.float32 else "auto")
            for name, make in _loss_makers().items():
                def run(xx, yy, d, make):
                    xx = xx.to(d).detach().requires_grad_(True)
                    loss = make().to(d)
                    v = loss(xx) if name == "TVLoss" else loss(xx, yy.to(d))
                    v.backward()
                    return v.detach().double().cpu(), xx.grad.double().cpu()

                v_cpu, g_cpu = run(x, y, torch.device("cpu"), make)
                with _torch_kernels(dry):
                    v_dev, g_dev = run(x, y, dev, device_losses[name])
                ferr = float((v_dev - v_cpu).abs().max())
                gerr = float((g_dev - g_cpu).abs().max())
                gscale = float(g_cpu.abs().max())
                if dtype == torch.float64:
                    fb, gb = BOUND64, BOUND64
                else:
                    fb, gb = BOUND32["loss"] * x.shape[0], BOUND32["gradient_rel"] * gscale
                ok = ferr <= fb and gerr <= gb
                rows.append([name, kind, tag, f"{ferr:.2e}", f"{fb:.0e}", f"{gerr:.2e}", f"{gscale:.1e}", f"{gb:.1e}",
                             "ok" if ok else "FAILED"])
                if not ok:
                    bad.append(f"{name} {kind} {tag}")
    _table("max |device - CPU| per loss (forward: the summed loss; gradient: d loss / d x)",
           ["loss", "pairs", "dtype", "forward |Δ|", "bound", "grad |Δ|", "max |grad|", "bound", ""], rows)
    print(f"\nbounds: float64 {BOUND64:g} (forward and gradient); float32 metrics {BOUND32['forward']:g}, losses "
          f"{BOUND32['loss']:g} per image, gradients {BOUND32['gradient_rel']:g} x max |grad|")
    print("RESULT parity: ok" if not bad else f"RESULT parity: FAILED ({'; '.join(bad)})")
    return 0 if not bad else 1


# ----------------------------------------------------------------------------- speed


def _stack(n: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n same-size uint8 RGB pairs: the astronaut tiled to h x w, rolled per
    pair, and a noisy copy (deterministic)."""
    import oracles as O

    a = O.astronaut()
    reps = (-(-h // a.shape[0]), -(-w // a.shape[1]), 1)
    base = np.tile(a, reps)[:h, :w]
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for k in range(n):
        x = np.roll(base, 37 * k, axis=1)
        y = np.clip(np.rint(x + rng.normal(0, 12, x.shape)), 0, 255).astype(np.uint8)
        xs.append(x.transpose(2, 0, 1))
        ys.append(y.transpose(2, 0, 1))
    return torch.from_numpy(np.ascontiguousarray(np.stack(xs))), torch.from_numpy(np.ascontiguousarray(np.stack(ys)))


def _time(fn, dev: torch.device, repeat: int) -> float:
    fn()
    _sync(dev)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cmd_speed(args) -> int:
    import iqa_cli
    from iqa_cli import MSSSIMLoss, SSIMLoss

    dev = torch.device(args.device)
    h, w = (int(v) for v in args.size.lower().split("x"))
    try:
        import pytorch_msssim as pm
    except ImportError as e:
        pm = None
        print(f"pytorch-msssim not importable ({e}); iqa rows only")
    x8, y8 = _stack(args.pairs, h, w)
    rows, bad = [], []

    def measure(label: str, impl: str, make) -> None:
        n = args.pairs
        while n >= 1:
            try:
                fn = make(n)
                med = _time(fn, dev, args.repeat)
                rows.append([label, impl, str(n), f"{med * 1e3:.1f}", f"{n * h * w / med / 1e9:.3f}"])
                return
            except torch.cuda.OutOfMemoryError:
                fn = None
                torch.cuda.empty_cache()
                n //= 2
            except Exception as e:  # noqa: BLE001
                rows.append([label, impl, str(n), f"error: {type(e).__name__}: {str(e)[:80]}", ""])
                bad.append(f"{label} {impl}")
                return
        rows.append([label, impl, "0", "out of memory with one pair", ""])

    xf, yf = x8.float(), y8.float()
    for metric in ("ssim", "ms_ssim"):
        ours = iqa_cli.ssim if metric == "ssim" else iqa_cli.ms_ssim
        loss_cls = SSIMLoss if metric == "ssim" else MSSSIMLoss
        measure(f"{metric} forward", "iqa (uint8 in)", lambda n, f=ours: (
            lambda a=x8[:n].to(dev), b=y8[:n].to(dev): f(a, b, 255)))
        measure(f"{metric} forward", "iqa (float32 in)", lambda n, f=ours: (
            lambda a=xf[:n].to(dev), b=yf[:n].to(dev): f(a, b, 255)))
        if pm is not None:
            theirs = pm.ssim if metric == "ssim" else pm.ms_ssim
            measure(f"{metric} forward", "pytorch-msssim (float32)", lambda n, f=theirs: (
                lambda a=xf[:n].to(dev), b=yf[:n].to(dev): f(a, b, data_range=255, size_average=False)))

        def fwd_bwd_ours(n, cls=loss_cls):
            a0, b = xf[:n].to(dev), yf[:n].to(dev)
            loss = cls(data_range=255.0, reduction="sum")

            def go():
                a = a0.detach().requires_grad_(True)
                loss(a, b).backward()
            return go

        measure(f"{metric} forward+backward", "iqa loss (float32)", fwd_bwd_ours)
        if pm is not None:
            def fwd_bwd_theirs(n, f=theirs):
                a0, b = xf[:n].to(dev), yf[:n].to(dev)

                def go():
                    a = a0.detach().requires_grad_(True)
                    (1 - f(a, b, data_range=255, size_average=False)).sum().backward()
                return go

            measure(f"{metric} forward+backward", "pytorch-msssim (float32)", fwd_bwd_theirs)
    _table(f"batched same-size pairs, {w}x{h} RGB, on {dev} (Gpix/s = pairs x {w}x{h} / median time)",
           ["metric", "implementation", "pairs", "median ms", "Gpix/s"], rows)
    ratios = []
    for metric in ("ssim forward", "ssim forward+backward", "ms_ssim forward", "ms_ssim forward+backward"):
        ours = [r for r in rows if r[0] == metric and r[1].startswith("iqa") and "float32" in r[1] and r[4]]
        theirs = [r for r in rows if r[0] == metric and r[1].startswith("pytorch-msssim") and r[4]]
        if ours and theirs:
            ratios.append([metric, f"{float(ours[0][4]) / float(theirs[0][4]):.2f}x"])
    if ratios:
        _table("iqa (float32 in) Gpix/s / pytorch-msssim Gpix/s (> 1: iqa faster)", ["metric", "ratio"], ratios)
    print("RESULT speed: ok" if not bad else f"RESULT speed: FAILED ({'; '.join(bad)})")
    return 0 if not bad else 1


# ----------------------------------------------------------------------------- oom


def cmd_oom(args) -> int:
    """The runner's out-of-memory halving (runner.score_group) on a group of
    same-size pairs: on CUDA with most of the GPU's memory taken by a
    placeholder tensor, on the CPU dry run with a simulated OOM above 2 pairs.
    Checks that the halving happened and that every pair gets the numbers it
    gets alone on the CPU."""
    from PIL import Image

    from iqa_cli import runner
    from iqa_cli.pairing import pair_folders
    from iqa_cli.results import Settings

    dev = torch.device(args.device)
    h, w = (int(v) for v in args.size.lower().split("x"))
    n = args.pairs
    x8, y8 = _stack(n, h, w)
    tries: list[tuple[int, str]] = []
    real = runner.score_stack

    def recording(preps, *a, **kw):
        try:
            out = real(preps, *a, **kw)
        except torch.cuda.OutOfMemoryError:
            tries.append((len(preps), "out of memory"))
            raise
        tries.append((len(preps), "ok"))
        return out

    def simulated(preps, *a, **kw):
        if len(preps) > 2:
            tries.append((len(preps), "out of memory (simulated)"))
            raise torch.cuda.OutOfMemoryError("simulated: CUDA out of memory")
        tries.append((len(preps), "ok"))
        return real(preps, *a, **kw)

    hog = None
    with tempfile.TemporaryDirectory(prefix="iqa-oom-") as tmp:
        for side, stack in (("ref", x8), ("dist", y8)):
            (Path(tmp) / side).mkdir()
            for k in range(n):
                Image.fromarray(stack[k].numpy().transpose(1, 2, 0)).save(Path(tmp) / side / f"p{k:02d}.png",
                                                                        compress_level=1)
        pairs, _ = pair_folders(Path(tmp) / "ref", Path(tmp) / "dist")
        settings = Settings()
        cpu_rows = list(runner.run(pairs, settings, device=torch.device("cpu"), batch=1))
        loaded = [runner.load_pair(p, settings) for p in pairs]
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            runner.score_group(loaded[:1], settings, dev)
            one = max(1, torch.cuda.max_memory_allocated(dev) - base)
            torch.cuda.empty_cache()
            free, _ = torch.cuda.mem_get_info(dev)
            keep = int(2.5 * one)  # room for about two pairs: a group of n must halve
            print(f"one pair needs ~{one / 2**20:.0f} MiB on {dev}; {free / 2**30:.1f} GiB free; "
                  f"leaving {keep / 2**20:.0f} MiB")
            if free > keep:
                hog = torch.empty(free - keep, dtype=torch.uint8, device=dev)
            runner.score_stack = recording
        else:
            runner.score_stack = simulated
        try:
            t0 = time.perf_counter()
            rows = runner.score_group(loaded, settings, dev)
            took = time.perf_counter() - t0
        finally:
            runner.score_stack = real
            del hog
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    _table(f"score_group of {n} pairs of {w}x{h} RGB on {dev}: the batches tried, in order",
           ["pairs", "outcome"], [[str(k), s] for k, s in tries])
    worst = 0.0
    for got, want in zip(rows, cpu_rows):
        for m in ("ssim", "ms_ssim", "mse", "psnr"):
            a, b = got.metrics.get(m), want.metrics.get(m)
            if a is not None and b is not None and np.isfinite(b):
                worst = max(worst, abs(a - b) / (1 if m != "mse" else max(1.0, abs(b))))
    halved = any("out of memory" in s for _, s in tries) and any(s == "ok" for _, s in tries)
    all_ok = all(r.ok for r in rows) and len(rows) == n
    print(f"{len(rows)} rows in {took:.2f} s, statuses {sorted({str(r.status) for r in rows})}; "
          f"max |device - CPU| over ssim, ms_ssim, mse, psnr: {worst:.2e}")
    bad = []
    if not halved:
        bad.append("no halving happened (the placeholder left too much memory?)")
    if not all_ok:
        bad.append("not every pair was scored")
    if not worst <= BOUND32["forward"]:
        bad.append(f"values differ from the CPU by {worst:.1e}")
    print("RESULT oom: ok" if not bad else f"RESULT oom: FAILED ({'; '.join(bad)})")
    return 0 if not bad else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["env", "parity", "speed", "oom"])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (the dry run)")
    ap.add_argument("--size", default="1080x1920", help="H x W of the batched pairs (default 1080x1920)")
    ap.add_argument("--pairs", type=int, default=16, help="pairs per batch (default 16)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (default 5)")
    args = ap.parse_args(argv)
    if args.device != "cpu" and not torch.cuda.is_available() and args.step != "env":
        print(f"RESULT {args.step}: FAILED (torch.cuda.is_available() is False: torch {torch.__version__}, "
              f"CUDA build {torch.version.cuda})")
        return 1
    return {"env": cmd_env, "parity": cmd_parity, "speed": cmd_speed, "oom": cmd_oom}[args.step](args)


if __name__ == "__main__":
    sys.exit(main())
