"""Outputs that survive Ctrl-C and a second writer.

CSV and JSONL files stream (header / settings line at once, then one whole,
flushed line per pair), JSON and table files are atomic, every output file is
locked against a second ``iqa`` from before the work until the end, and the
interrupt line says what each output of the command holds. Real files, real
processes (a paced ``iqa`` in a subprocess, interrupted with a real SIGINT).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import iqa_cli.runner as runner
from iqa_cli.commands import main
from iqa_cli.report.csv import CSV_COLUMNS

from conftest import distort, smooth_image, write_png

ROOT = Path(__file__).resolve().parents[1]
HEADER = ",".join(CSV_COLUMNS)


def _dirs(tmp_path: Path, n: int) -> tuple[Path, Path]:
    rdir, ddir = tmp_path / "r", tmp_path / "d"
    for i in range(n):
        ref = smooth_image(24, 28, 3, seed=i)
        write_png(rdir / f"{i:03d}.png", ref)
        write_png(ddir / f"{i:03d}.png", distort(ref, seed=100 + i))
    return rdir, ddir


def invoke(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res


def _interrupt_at(n: int, monkeypatch) -> dict:
    """Ctrl-C while the n-th pair is scored (so n - 1 pairs are finished); counts the calls."""
    real = runner.score_loaded
    calls = {"n": 0}

    def fake(*a, **k):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(runner, "score_loaded", fake)
    return calls


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _stderr_lines(res) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.strip()]


# ------------------------------------------------------------ Ctrl-C, in process


def test_interrupted_batch_keeps_csv_rows_and_jsonl_settings(tmp_path, monkeypatch):
    rdir, ddir = _dirs(tmp_path, 6)
    full = tmp_path / "full"
    full.mkdir()
    assert invoke("batch", rdir, ddir, "-o", full / "f.csv", "--json", full / "f.jsonl.json",
                  "--no-progress", "-q").exit_code == 0
    want = _csv_rows(full / "f.csv")

    out = tmp_path / "out"
    out.mkdir()
    _interrupt_at(4, monkeypatch)  # 3 pairs finished
    res = invoke("batch", rdir, ddir, "-o", out / "int.csv", "--json", out / "r.json", "--no-progress", "-q")
    assert res.exit_code == 130, res.stderr
    assert _stderr_lines(res) == [
        (f"iqa: interrupted after 3 of 6 pairs; {out / 'int.csv'} holds the 3 finished rows; "
         f"{out / 'r.json'} was not written")
    ]
    assert sorted(os.listdir(out)) == ["int.csv"]  # no r.json, no placeholder, no temporary file
    text = (out / "int.csv").read_text(encoding="utf-8")
    assert text.endswith("\n") and text.splitlines()[0] == HEADER
    assert _csv_rows(out / "int.csv") == want[:4]  # header + the same 3 rows, cell for cell

    # --csv FILE streams too; the JSONL's first line says how it was scored
    _interrupt_at(3, monkeypatch)
    res = invoke("batch", rdir, ddir, "--csv", out / "b.csv", "-o", out / "b.jsonl", "--no-progress", "-q")
    assert res.exit_code == 130
    assert _stderr_lines(res) == [
        (f"iqa: interrupted after 2 of 6 pairs; {out / 'b.jsonl'} holds the settings line and the 2 finished "
         f"pairs; {out / 'b.csv'} holds the 2 finished rows")
    ]
    assert _csv_rows(out / "b.csv") == want[:3]
    lines = _jsonl(out / "b.jsonl")
    assert [ln["type"] for ln in lines] == ["settings", "pair", "pair"]  # no summary: the run did not end
    assert lines[0]["schema"] == "iqa/2" and lines[0]["iqa_version"]
    full_doc = json.loads((full / "f.jsonl.json").read_text())
    assert lines[0]["settings"] == full_doc["settings"]
    assert [ln["distorted"] for ln in lines[1:]] == [p["distorted"] for p in full_doc["pairs"][:2]]


def test_complete_jsonl_settings_first_and_in_summary(tmp_path):
    rdir, ddir = _dirs(tmp_path, 2)
    res = invoke("batch", rdir, ddir, "-o", tmp_path / "r.jsonl", "-q", "--no-progress", "-m", "ssim,psnr")
    assert res.exit_code == 0, res.stderr
    lines = _jsonl(tmp_path / "r.jsonl")
    assert [ln["type"] for ln in lines] == ["settings", "pair", "pair", "summary"]
    assert lines[0]["settings"]["metrics"] == ["ssim", "psnr"]
    assert lines[0]["settings"] == lines[-1]["settings"]
    assert lines[0]["iqa_version"] == lines[-1]["iqa_version"]


def test_interrupt_keeps_an_existing_atomic_report(tmp_path, monkeypatch):
    rdir, ddir = _dirs(tmp_path, 3)
    old = tmp_path / "old.json"
    old.write_text("previous report\n")
    _interrupt_at(2, monkeypatch)
    res = invoke("batch", rdir, ddir, "--json", old, "--no-progress", "-q")
    assert res.exit_code == 130
    assert old.read_text() == "previous report\n"
    assert sorted(os.listdir(tmp_path)) == ["d", "old.json", "r"]


# ------------------------------------------------------------ the message per command


def test_interrupt_message_compare(tmp_path, monkeypatch):
    ref = smooth_image(24, 28, 3)
    r = write_png(tmp_path / "ref.png", ref)
    ds = [write_png(tmp_path / f"d{i}.png", distort(ref, seed=i)) for i in range(3)]
    _interrupt_at(2, monkeypatch)
    res = invoke("compare", r, *ds, "--no-progress")
    assert res.exit_code == 130
    assert _stderr_lines(res) == ["iqa: interrupted after 1 of 3 pairs; the table was not written"]
    assert res.stdout == ""

    _interrupt_at(2, monkeypatch)
    res = invoke("compare", r, *ds, "--format", "jsonl")
    assert _stderr_lines(res) == [
        "iqa: interrupted after 1 of 3 pairs; the JSONL on stdout holds the settings line and the 1 finished pair"
    ]
    assert [json.loads(ln)["type"] for ln in res.stdout.splitlines()] == ["settings", "pair"]

    _interrupt_at(1, monkeypatch)
    res = invoke("compare", r, *ds, "--csv", "-q")
    assert _stderr_lines(res) == ["iqa: interrupted after 0 of 3 pairs; the CSV on stdout holds only the header"]
    assert res.stdout == HEADER + "\n"


def test_interrupt_message_check(tmp_path, monkeypatch):
    base, out = _dirs(tmp_path, 3)
    reports = tmp_path / "reports"  # check creates it
    _interrupt_at(2, monkeypatch)
    res = invoke("check", base, out, "--no-config", "--no-progress", "--junit", reports / "j.xml",
                 "--json", reports / "c.json")
    assert res.exit_code == 130
    assert _stderr_lines(res) == [
        f"iqa: interrupted after 1 of 3 pairs; {reports / 'j.xml'} and {reports / 'c.json'} were not written"
    ]
    assert os.listdir(reports) == []  # the held report files were never written: nothing left

    _interrupt_at(2, monkeypatch)
    res = invoke("check", base, out, "--no-config", "--no-progress")
    assert _stderr_lines(res) == ["iqa: interrupted after 1 of 3 pairs"]  # check streams nothing

    before = sorted(p.name for p in base.iterdir())
    _interrupt_at(3, monkeypatch)
    res = invoke("check", base, out, "--no-config", "--no-progress", "--update", "-q")
    assert _stderr_lines(res) == ["iqa: interrupted after 2 of 3 pairs; the baseline was not updated"]
    assert sorted(p.name for p in base.iterdir()) == before


# ------------------------------------------------------------ one writer per file, in process


def _hold(path: Path):
    """Lock ``path`` as another writer would (a separate open file description)."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


@pytest.mark.parametrize("cmd, flag", [
    ("compare", "-o"), ("batch", "-o"), ("batch", "--csv"), ("batch", "--json"),
    ("check", "--junit"), ("check", "--json"),
])
def test_second_writer_refused_for_every_file_output(tmp_path, monkeypatch, cmd, flag):
    rdir, ddir = _dirs(tmp_path, 2)
    bdir = tmp_path / "b"  # a baseline equal to the references, so check passes once allowed to run
    bdir.mkdir()
    for f in rdir.iterdir():
        (bdir / f.name).write_bytes(f.read_bytes())
    name = {"-o": "r.jsonl", "--csv": "r.csv", "--json": "r.json", "--junit": "j.xml"}[flag]
    target = tmp_path / name
    target.write_text("the other run's lines\n")
    # another file output of the same run; where it is claimed before the held one, it must go again
    fresh = tmp_path / ("fresh.xml" if (cmd, flag) == ("check", "--json") else
                        "fresh.json" if cmd == "check" else "fresh.csv")
    args = {
        ("compare", "-o"): ["compare", rdir / "000.png", ddir / "000.png", "-o", target, "--csv", fresh],
        ("batch", "-o"): ["batch", rdir, ddir, "-o", target, "--csv", fresh],
        ("batch", "--csv"): ["batch", rdir, ddir, "-o", fresh, "--csv", target],
        ("batch", "--json"): ["batch", rdir, ddir, "-o", fresh, "--json", target],
        ("check", "--junit"): ["check", bdir, rdir, "--no-config", "--junit", target, "--json", fresh],
        ("check", "--json"): ["check", bdir, rdir, "--no-config", "--junit", fresh, "--json", target],
    }[cmd, flag]
    calls = _interrupt_at(10**9, monkeypatch)  # never interrupts: counts the pairs scored
    fd = _hold(target)
    try:
        res = invoke(*args, "--no-progress")
    finally:
        os.close(fd)
    assert res.exit_code == 2, res.stderr
    assert _stderr_lines(res) == [f"iqa: error: {target}: is being written by another iqa process"]
    assert target.read_text() == "the other run's lines\n"  # not truncated
    assert calls["n"] == 0  # refused before any pair was scored
    assert sorted(os.listdir(tmp_path)) == sorted(["b", "d", "r", name])  # nothing left behind

    res = invoke(*args, "--no-progress", "-q")  # the lock is gone with its holder
    assert res.exit_code == 0, res.stderr
    assert target.read_text() != "the other run's lines\n" and fresh.stat().st_size > 0


def test_same_file_for_two_outputs_is_a_usage_error(tmp_path):
    rdir, ddir = _dirs(tmp_path, 1)
    res = invoke("batch", rdir, ddir, "-o", tmp_path / "r.csv", "--csv", tmp_path / "r.csv", "-q")
    assert res.exit_code == 2
    assert _stderr_lines(res) == [f"iqa: error: {tmp_path / 'r.csv'}: given for two outputs of one run"]
    assert sorted(os.listdir(tmp_path)) == ["d", "r"]


def test_non_regular_target_is_written_without_a_lock(tmp_path):
    rdir, ddir = _dirs(tmp_path, 2)
    res = invoke("batch", rdir, ddir, "--csv", os.devnull, "-o", os.devnull, "--format", "jsonl", "-q",
                 "--no-progress")
    assert res.exit_code == 0, res.stderr
    assert not os.path.isfile(os.devnull)  # still the device, never replaced or removed


# ------------------------------------------------------------ real processes

_PACED = """
import os, runpy, signal, sys, time
# Ctrl-C raises KeyboardInterrupt even when the test runner was started with SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
import iqa_cli.runner as runner
real, calls = runner.score_loaded, [0]
def paced(*a, **k):
    calls[0] += 1
    while calls[0] > {after} and os.path.exists({pause!r}):  # held here until the test lets go or sends SIGINT
        time.sleep(0.01)
    return real(*a, **k)
runner.score_loaded = paced
sys.argv = ["iqa", *sys.argv[1:]]
runpy.run_module("iqa_cli", run_name="__main__")
"""


def _spawn(args: list, *, after: int, pause: Path) -> subprocess.Popen:
    """``iqa ARGS`` in a real process that stops before pair ``after + 1`` while ``pause`` exists."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    code = _PACED.format(after=after, pause=str(pause))
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"iqa ended early ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"{path} never reached {n} lines")


def test_sigint_leaves_complete_csv_and_jsonl(tmp_path):
    k, n = 5, 40
    rdir, ddir = _dirs(tmp_path, n)
    out = tmp_path / "out"
    out.mkdir()
    pause = tmp_path / "pause"
    pause.touch()
    csv_path, jsonl_path, json_path = out / "int.csv", out / "int.jsonl", out / "r.json"
    proc = _spawn(["batch", rdir, ddir, "-o", jsonl_path, "--csv", csv_path, "--json", json_path, "-q"],
                  after=k, pause=pause)
    _wait_for_lines(csv_path, 1 + k, proc)
    _wait_for_lines(jsonl_path, 1 + k, proc)
    proc.send_signal(signal.SIGINT)  # a real Ctrl-C while pair k + 1 is being scored
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        (f"iqa: interrupted after {k} of {n} pairs; {jsonl_path} holds the settings line and the {k} finished "
         f"pairs; {csv_path} holds the {k} finished rows; {json_path} was not written")
    ]
    assert sorted(os.listdir(out)) == ["int.csv", "int.jsonl"]  # r.json: no file, no placeholder

    rows = _csv_rows(csv_path)
    assert csv_path.read_text(encoding="utf-8").endswith("\n")
    assert rows[0] == list(CSV_COLUMNS) and len(rows) == 1 + k
    assert all(len(r) == len(CSV_COLUMNS) and r[2] == "ok" and 0 < float(r[6]) < 1 for r in rows[1:])
    assert [r[1] for r in rows[1:]] == [str(ddir / f"{i:03d}.png") for i in range(k)]

    objs = _jsonl(jsonl_path)
    assert [o["type"] for o in objs] == ["settings"] + ["pair"] * k
    assert objs[0]["schema"] == "iqa/2" and objs[0]["settings"]["metrics"] == ["ssim", "ms_ssim", "mse", "psnr", "tv"]
    assert [float(r[6]) for r in rows[1:]] == [o["metrics"]["ssim"] for o in objs[1:]]


def test_second_process_on_one_jsonl_is_refused_and_the_first_file_is_intact(tmp_path):
    n = 12
    rdir, ddir = _dirs(tmp_path, n)
    out = tmp_path / "out" / "out.jsonl"
    out.parent.mkdir()
    pause = tmp_path / "pause"
    pause.touch()
    first = _spawn(["batch", rdir, ddir, "-o", out, "-q"], after=2, pause=pause)
    _wait_for_lines(out, 1 + 2, first)  # settings line and two pairs: the first holds the lock, and waits
    second = _spawn(["batch", rdir, ddir, "-o", out, "-q"], after=n, pause=pause)
    _, err2 = second.communicate(timeout=120)
    assert second.returncode == 2, err2
    assert [ln for ln in err2.splitlines() if ln.strip()] == [
        f"iqa: error: {out}: is being written by another iqa process (pid {first.pid})"
    ]
    pause.unlink()  # let the first run finish
    _, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    objs = _jsonl(out)  # every line parses: nothing interleaved, nothing truncated
    assert [o["type"] for o in objs] == ["settings"] + ["pair"] * n + ["summary"]
    assert [o["distorted"] for o in objs[1:-1]] == [str(ddir / f"{i:03d}.png") for i in range(n)]
    assert objs[-1]["summary"]["pairs"] == n
    assert os.listdir(out.parent) == ["out.jsonl"]  # no lock file, no temporary file
