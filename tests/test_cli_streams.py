"""The command line as a user meets it: pipes closed by the reader, bare `iqa`,
resumed runs (locked, paths spelled any way), masks that are not there, `-m all`,
summaries of identical pairs, `compare --protocol all`. Real files, real processes."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from iqa_cli.commands import main

from conftest import distort, smooth_image, write_png

REPO = Path(__file__).resolve().parents[1]


def iqa(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i in range(6):
        a = smooth_image(32, 36, seed=i)
        write_png(tmp_path / "ref" / f"p{i}.png", a)
        write_png(tmp_path / "out" / f"p{i}.png", distort(a, seed=10 + i))
    return tmp_path


def _shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}; echo \"status=${{PIPESTATUS[0]}}\" >&2"],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_a_reader_that_closes_the_pipe_ends_the_run_quietly(folders, fmt):
    """`iqa batch ... --format jsonl | head -1` printed `iqa: error: Broken pipe`, exit 2."""
    for i in range(6, 60):  # enough output that the pipe is closed before the run ends
        a = smooth_image(32, 36, seed=i)
        write_png(folders / "ref" / f"p{i}.png", a)
        write_png(folders / "out" / f"p{i}.png", distort(a, seed=i))
    exe = f"{sys.executable} -m iqa_cli"
    r = _shell(f"{exe} batch ref out --format {fmt} | head -1", folders)
    assert r.stdout.count("\n") == 1
    assert r.stderr.strip().splitlines() == ["status=141"], r.stderr  # SIGPIPE's status, as cat, and no message


def test_bare_iqa_prints_the_help_and_succeeds():
    r = subprocess.run([sys.executable, "-m", "iqa_cli"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("Usage: ") and "iqa compare ref.png out.png" in r.stdout


# --------------------------------------------------------------------------- resume


def _interrupted(folders: Path, keep_pairs: int) -> Path:
    r = iqa("batch", "ref", "out", "-m", "ssim,psnr", "-o", "run.jsonl", "-q")
    assert r.exit_code == 0, r.stderr
    path = folders / "run.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[: 1 + keep_pairs]) + "\n")
    return path


def test_resume_refuses_a_file_another_run_is_writing(folders):
    """A resumed run did not take the output lock: started while another run wrote the
    same JSONL, it exited 0 with 63 rows for 60 pairs and two summaries."""
    path = _interrupted(folders, 2)
    before = path.read_bytes()
    fd = os.open(path, os.O_RDONLY)  # another writer's lock (flock locks open files, not processes)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = iqa("batch", "ref", "out", "-m", "ssim,psnr", "-o", "run.jsonl", "--resume")
    finally:
        os.close(fd)
    assert r.exit_code == 2
    assert r.stderr.startswith("iqa: error: run.jsonl: is being written by another iqa process")
    assert path.read_bytes() == before


@pytest.mark.parametrize("spelling", ["absolute", "dotted", "other-cwd"])
def test_resume_knows_the_pairs_however_the_folders_are_spelled(folders, spelling, monkeypatch):
    """The same folders spelled differently scored every pair again: 10 rows for 6 pairs."""
    path = _interrupted(folders, 4)
    if spelling == "absolute":
        args = [folders / "ref", folders / "out", "-o", path]
    elif spelling == "dotted":
        args = ["./ref/", "./out", "-o", "run.jsonl"]
    else:
        (folders / "elsewhere").mkdir()
        monkeypatch.chdir(folders / "elsewhere")
        args = ["../ref", "../out", "-o", "../run.jsonl"]
    r = iqa("batch", *args, "-m", "ssim,psnr", "--resume")
    assert r.exit_code == 0, r.stderr
    assert "4 rows kept, 2 pairs to score" in r.stderr
    objs = [json.loads(x) for x in path.read_text().splitlines()]
    pairs = [o for o in objs if o["type"] == "pair"]
    assert len(pairs) == 6 and objs[-1]["type"] == "summary" and objs[-1]["summary"]["pairs"] == 6
    names = sorted(os.path.basename(p["distorted"]) for p in pairs)
    assert names == [f"p{i}.png" for i in range(6)]
    for p in pairs:  # every row names its files from the folder the file's first run worked in
        assert (folders / p["distorted"]).is_file()


def test_resume_of_other_folders_is_refused(folders):
    _interrupted(folders, 3)
    for side in ("r2", "o2"):
        (folders / side).mkdir()
    write_png(folders / "r2" / "x.png", smooth_image(32, 32))
    write_png(folders / "o2" / "x.png", smooth_image(32, 32, seed=3))
    before = (folders / "run.jsonl").read_bytes()
    r = iqa("batch", "r2", "o2", "-m", "ssim,psnr", "-o", "run.jsonl", "--resume")
    assert r.exit_code == 2 and "pairs of other folders" in r.stderr
    assert (folders / "run.jsonl").read_bytes() == before


# --------------------------------------------------------------------------- masks, -m all, summaries


def test_a_mask_folder_without_the_pairs_mask_says_so(folders):
    (folders / "masks").mkdir()
    m = np.zeros((36, 32), np.uint8)
    m[:8, :8] = 255
    write_png(folders / "masks" / "p0.png", m)
    doc = json.loads(iqa("batch", "ref", "out", "--mask", "masks", "--json", "-").stdout)
    rows = {os.path.basename(p["distorted"]): p for p in doc["pairs"]}
    assert not any("no mask for" in w for w in rows["p0.png"]["warnings"])
    assert "no mask for p1.png in masks: scored without a mask" in rows["p1.png"]["warnings"]


def test_all_metrics_with_a_mask_keep_every_value_mix_cannot_have(folders):
    """-m all with a mask blanked the whole row: mix is undefined under a mask."""
    r = iqa("compare", "ref/p0.png", "out/p0.png", "-m", "all", "--ignore", "0,0,4,4", "--json", "-")
    assert r.exit_code == 0, r.stderr
    p = json.loads(r.stdout)["pairs"][0]
    assert p["status"] == "ok" and p["metrics"]["mix"] is None
    assert all(isinstance(p["metrics"][k], float) for k in ("ssim", "mse", "psnr", "tv_reference"))
    assert "mix: not defined with an ignore mask; not computed" in p["warnings"]
    r = iqa("compare", "ref/p0.png", "out/p0.png", "-m", "ssim,mix", "--ignore", "0,0,4,4")
    assert r.exit_code == 2 and "out/p0.png: mix not computed: not defined with an ignore mask" in r.stderr


def test_a_summary_with_an_identical_pair_pools_the_finite_psnr(folders):
    """PSNR mean ∞, std nan, when one pair of the batch was identical."""
    (folders / "out" / "p0.png").write_bytes((folders / "ref" / "p0.png").read_bytes())
    doc = json.loads(iqa("batch", "ref", "out", "--json", "-").stdout)
    psnr = doc["summary"]["metrics"]["psnr"]
    finite = [p["metrics"]["psnr"] for p in doc["pairs"] if p["metrics"]["psnr"] != "inf"]
    assert psnr["infinite"] == 1 and psnr["n"] == 6 and psnr["max"] == "inf"
    assert psnr["mean"] == pytest.approx(float(np.mean(finite)), rel=1e-12)
    assert psnr["std"] == pytest.approx(float(np.std(finite)), rel=1e-9)
    table = iqa("batch", "ref", "out").stdout
    assert "PSNR: 1 of 6 pairs identical (inf), left out of the mean and std" in table.replace("∞", "inf")


def test_compare_protocol_all_keeps_each_protocols_notes(folders):
    out = iqa("compare", "ref/p0.png", "out/p0.png", "--protocol", "all").stdout
    assert "ms_ssim: protocol basicsr defines no ms_ssim; not computed" in out
    assert "ms_ssim: protocol skimage defines no ms_ssim; not computed" in out
    assert "protocols: ms_ssim: needs at least" in out  # the other protocols' reason for their —, once


def test_repeated_metric_options_add_up(folders):
    """`-m ssim -m psnr` kept only the last (psnr); it means both, as `-m ssim,psnr` does."""
    r = iqa("compare", "ref/p0.png", "out/p0.png", "-m", "ssim", "-m", "psnr", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["settings"]["metrics"] == ["ssim", "psnr"]
    assert set(doc["pairs"][0]["metrics"]) == {"ssim", "psnr"}
    same = json.loads(iqa("compare", "ref/p0.png", "out/p0.png", "-m", "ssim,psnr", "--format", "json").stdout)
    assert same["pairs"][0]["metrics"] == doc["pairs"][0]["metrics"]
