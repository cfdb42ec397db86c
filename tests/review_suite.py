"""A review suite on real PNG files, for the ``iqa review`` tests.

12 pairs: 4 FAIL, 2 NEW, 1 MISSING, 1 ERROR, 4 PASS. The statuses, gates,
"where" text and the heatmap/mask pictures come from a real ``iqa check
--json --save-diffs`` run over the folders (CI=true, so NEW is a
regression); the baseline/output pictures are the decoded files drawn as
8-bit PNGs, as the check's HTML report draws them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from click.testing import CliRunner

from iqa_cli.commands import main
from iqa_cli.report.images import display_image, png_bytes
from iqa_cli.review.session import FileSession, PairRecord

from conftest import render

FAILS = ["f1.png", "f2.png", "sub/f3.png", "sub/f4.png"]
NEWS = ["new1.png", "fresh/new2.png"]  # fresh/ does not exist in the baseline
MISSING = ["gone.png"]
ERRORS = ["broken.png"]
PASSES = ["p1.png", "p2.png", "sub/p3.png", "sub/p4.png"]


def photo() -> np.ndarray:
    """scikit-image's bundled cat (offline), for a suite that looks like a real change."""
    from skimage import data

    return data.chelsea()


def write(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, arr)
    return path


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: relative path -> sha256 (folders: 'dir')."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out[Path(dirpath, d).relative_to(root).as_posix()] = "dir"
        for f in files:
            p = Path(dirpath, f)
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def check(baseline: Path, output: Path, *extra: str, ci: bool = True):
    env = {"CI": "true" if ci else "", "GITHUB_STEP_SUMMARY": ""}
    return CliRunner().invoke(main, ["check", "--no-progress", str(baseline), str(output), *extra], env=env)


@dataclass
class Suite:
    root: Path
    baseline: Path
    output: Path
    records: list[PairRecord]
    doc: dict

    def session(self, **kw) -> FileSession:
        return FileSession(str(self.baseline), self.records, output_root=str(self.output), **kw)

    def status(self) -> dict[str, str]:
        return {r.path: str(r.status) for r in self.records}


_BOX = re.compile(r"changed x (\d+)-(\d+), y (\d+)-(\d+)")


def _display_png(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        return png_bytes(display_image(iio.imread(path)))
    except Exception:  # the ERROR pair's truncated output: no picture
        return None


def make(root: Path, n: int = 64, *, pretty: bool = False) -> tuple[Path, Path]:
    """Write the 12 pairs' files under ``root``: ``(baseline, output)``."""
    b, o = root / "baseline", root / "output"
    for i, name in enumerate(FAILS):
        img = photo() if (pretty and i == 0) else render(n, seed=i)
        changed = img.copy()
        h, w = img.shape[:2]
        if pretty and i == 0:  # a repainted, shifted patch: what a real regression looks like
            changed[60:140, 120:260] = np.clip(img[60:140, 100:240].astype(int) + [40, -20, -30], 0, 255)
        else:
            y0, x0 = h // 3 + 2 * i, w // 3 + 3 * i
            changed[y0:y0 + h // 4, x0:x0 + w // 4] = (250, 240 - 40 * i, 30 + 40 * i)
        write(b / name, img)
        write(o / name, changed)
    for i, name in enumerate(NEWS):
        write(o / name, render(n, seed=10 + i))
    for name in MISSING:
        write(b / name, render(n, seed=20))
    for name in ERRORS:
        write(b / name, render(n, seed=30))
        data = (b / name).read_bytes()
        (o / name).parent.mkdir(parents=True, exist_ok=True)
        (o / name).write_bytes(data[: len(data) // 2])  # truncated: the check cannot read it
    for i, name in enumerate(PASSES):
        write(b / name, render(n, seed=40 + i))
        shutil.copyfile(b / name, o / name)
    return b, o


def build(root: Path, n: int = 64, *, pretty: bool = False) -> Suite:
    """Write the 12-pair suite under ``root`` and run ``iqa check`` on it."""
    b, o = make(root, n, pretty=pretty)

    report, diffs = root / "check.json", root / "diffs"
    res = check(b, o, "--json", str(report), "--save-diffs", str(diffs))
    assert res.exit_code in (1, 2), res.output
    doc = json.loads(report.read_text())
    records = []
    for row in doc["check"]["pairs"]:
        key = row["key"]
        images = {"baseline": _display_png(row["baseline"]), "output": _display_png(row["output"])}
        stem = diffs / os.path.splitext(key)[0]
        for kind, suffix in (("heatmap", ".ssim.png"), ("mask", ".diff.png")):
            p = Path(str(stem) + suffix)
            images[kind] = p.read_bytes() if p.exists() else None
        m = _BOX.search(row["where"] or "")
        box = (int(m[1]), int(m[3]), int(m[2]), int(m[4])) if m else None
        records.append(PairRecord(
            path=key, status=row["status"], baseline=row["baseline"], output=row["output"], gates=row["gates"],
            warnings=row["warnings"], reason=row["reason"], where=row["where"], where_box=box,
            width=row["width"], height=row["height"], metrics=row["metrics"],
            images={k: v for k, v in images.items() if v is not None}))
    suite = Suite(root, b, o, records, doc)
    expected = {**{k: "FAIL" for k in FAILS}, **{k: "NEW" for k in NEWS}, **{k: "MISSING" for k in MISSING},
                **{k: "ERROR" for k in ERRORS}, **{k: "PASS" for k in PASSES}}
    assert suite.status() == expected, suite.status()
    return suite


# --------------------------------------------------------------------------- a real `iqa review` process

REPO = Path(__file__).resolve().parents[1]


class ReviewProcess:
    """``iqa review ... --no-browser --port 0`` as a child process (``browser``:
    without ``--no-browser``); :attr:`url` is the address it printed. :meth:`finish` presses the page's Finish over
    the API and returns ``(exit code, stdout, stderr)``."""

    def __init__(self, *args: str, cwd: Path, env: dict | None = None, timeout: float = 120, browser: bool = False):
        import subprocess
        import sys
        import threading
        import time

        full_env = dict(os.environ, **(env or {}))
        full_env["PYTHONPATH"] = os.pathsep.join([str(REPO), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self.proc = subprocess.Popen([sys.executable, "-m", "iqa_cli", "review", "--port", "0", "--no-progress",
                                      *([] if browser else ["--no-browser"]), *args], cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(s, buf), daemon=True)
                         for s, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._readers:
            t.start()
        end = time.monotonic() + timeout
        self.url = None
        while time.monotonic() < end and self.url is None:
            m = next((re.search(r"(http://[^ ]+/)", ln) for ln in self.out if "iqa review: http" in ln), None)
            if m:
                self.url = m[1]
            elif self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.url is None:
            self.proc.kill()
            for t in self._readers:
                t.join(5)
            raise AssertionError(f"iqa review printed no address:\n{''.join(self.out)}\n{''.join(self.err)}")

    @staticmethod
    def _read(stream, buf: list[str]) -> None:
        for line in stream:
            buf.append(line)

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def request(self, method: str, path: str, body=None, headers=None):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        res = conn.getresponse()
        raw = res.read()
        conn.close()
        return res.status, (json.loads(raw) if "json" in res.getheader("Content-Type", "") else raw)

    def wait(self, timeout: float = 60) -> tuple[int, str, str]:
        code = self.proc.wait(timeout)
        for t in self._readers:
            t.join(10)
        return code, "".join(self.out), "".join(self.err)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        status, _ = self.request("POST", "/api/finish", {})
        assert status == 200
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# --------------------------------------------------------------------------- a video pair

CLIP_FRAMES, CLIP_WORST = 8, 5  # clip.mkv: 8 frames at 25 fps; the output's frame 5 has a patch inverted


def video_folders(root: Path) -> tuple[Path, Path]:
    """BASELINE and OUTPUT with ``clip.mkv`` (FFV1, 64x48, 8 frames at 25 fps: the
    output is the baseline's frames with light noise and, in frame 5, a patch of
    Y inverted) and ``a.png`` (an image whose output has a repainted block), which
    fail ``iqa check``'s default gates, and ``same.mkv`` (identical frames), which
    passes. Needs PyAV (the test skips without it)."""
    from test_video_make import noisy, scene, write_video

    b, o = root / "baseline", root / "output"
    b.mkdir(parents=True)
    o.mkdir(parents=True)
    frames = scene(64, 48, CLIP_FRAMES)
    write_video(b / "clip.mkv", frames)
    out = noisy(frames, 1.5)
    out[CLIP_WORST][0][10:30, 20:44] = 255 - out[CLIP_WORST][0][10:30, 20:44]
    write_video(o / "clip.mkv", out)
    for folder in (b, o):
        write_video(folder / "same.mkv", frames[:4])
    img = render(48)
    write(b / "a.png", img)
    changed = img.copy()
    changed[8:24, 8:24] = (250, 30, 30)
    write(o / "a.png", changed)
    return b, o
