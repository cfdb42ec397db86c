"""Shards, resume and merge (``iqa batch --shard/--resume``, ``iqa merge``) on real files."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from iqa_cli.commands import main
from iqa_cli.engines.settings import differing_key, run_settings, settings_from_json
from iqa_cli.engines.shards import Shard, parse_shard
from iqa_cli.errors import UsageError
from iqa_cli.report.jsonl_read import read_jsonl
from iqa_cli.results import Settings

from conftest import distort, smooth_image, write_png

N_OK = 9


def iqa(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """ref/ and out/ with 9 scored pairs, one undecodable file and one reference alone
    (11 pairs); the working directory is tmp_path, so paths are relative."""
    for i in range(N_OK):
        a = smooth_image(40 + 4 * i, 36, seed=i)
        write_png(tmp_path / "ref" / f"p{i}.png", a)
        write_png(tmp_path / "out" / f"p{i}.png", distort(a, seed=50 + i))
    write_png(tmp_path / "ref" / "bad.png", smooth_image(40, 36))
    (tmp_path / "out" / "bad.png").write_bytes(b"not an image")
    write_png(tmp_path / "ref" / "zonly.png", smooth_image(40, 36))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def one_run(folders):
    r = iqa("batch", "ref", "out", "-m", "ssim,mse,psnr", "-o", "one.jsonl", "-q")
    assert r.exit_code == 2, r.stderr  # the error and missing rows
    return (folders / "one.jsonl").read_bytes()


def lines(data: bytes) -> list[dict]:
    return [json.loads(x) for x in data.splitlines()]


def test_parse_shard_and_strided_slices():
    assert parse_shard("2/5") == Shard(2, 5) and str(parse_shard(" 0 / 1 ")) == "0/1"
    for bad in ("5/5", "-1/3", "1/0", "a/b", "3"):
        with pytest.raises(UsageError):
            parse_shard(bad)
    items = list(range(11))
    parts = [Shard(k, 3).take(items) for k in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert sorted(sum(parts, [])) == items  # each item in exactly one shard, sizes differ by at most 1


def test_settings_round_trip_and_differing_key():
    s = run_settings(Settings(metrics=("ssim", "mix", "tv"), color="y", data_range=1.0, mix_alpha=0.5),
                     engine="dask", shard="1/4")
    back = settings_from_json(json.loads(json.dumps(s.to_json())))
    assert back.to_json() == s.to_json() and back.columns == s.columns and back.mix_alpha == 0.5
    other = dict(s.to_json(), mix={"variant": "zhao", "alpha": 0.84}, shard="2/4", engine="local")
    assert differing_key(s.to_json(), other) == "mix.alpha"  # shard and engine are not compared
    assert differing_key(s.to_json(), dict(s.to_json(), shard="0/4")) is None


def test_three_shards_merged_equal_one_run(folders, one_run):
    counts = []
    for k in range(3):
        r = iqa("batch", "ref", "out", "-m", "ssim,mse,psnr", "--shard", f"{k}/3", "-o", f"part{k}.jsonl", "-q")
        assert r.exit_code in (0, 2), r.stderr
        part = lines((folders / f"part{k}.jsonl").read_bytes())
        assert part[-1]["settings"]["shard"] == f"{k}/3"
        assert part[0]["type"] == "settings" and part[0]["settings"]["shard"] == f"{k}/3"
        counts.append(sum(x["type"] == "pair" for x in part))
    assert counts == [4, 4, 3]
    r = iqa("merge", "part2.jsonl", "part0.jsonl", "part1.jsonl", "-o", "all.jsonl", "-q")
    assert r.exit_code == 2 and "2 of 11 pairs not scored" in r.stderr
    assert (folders / "all.jsonl").read_bytes() == one_run  # rows in pair order, summary recomputed, no shard key
    # CSV from the merge equals CSV from one run
    assert iqa("merge", "part0.jsonl", "part1.jsonl", "part2.jsonl", "-o", "all.csv", "-q").exit_code == 2
    assert iqa("batch", "ref", "out", "-m", "ssim,mse,psnr", "-o", "one.csv", "-q").exit_code == 2
    assert (folders / "all.csv").read_text() == (folders / "one.csv").read_text()
    # a part left out is named
    r = iqa("merge", "part0.jsonl", "part2.jsonl", "-o", "two.json", "-q")
    assert r.exit_code == 2
    r = iqa("merge", "part0.jsonl", "part2.jsonl", "-o", "two.json")
    assert "shard 1/3 not among the parts" in r.stderr
    assert json.loads((folders / "two.json").read_text())["summary"]["pairs"] == 7


def test_merge_exit_code_of_clean_parts(folders):
    for k in range(2):
        assert iqa("batch", "ref", "out", "--include", "p*", "-m", "ssim", "--shard", f"{k}/2",
                   "-o", f"c{k}.jsonl", "-q").exit_code == 0
    r = iqa("merge", "c0.jsonl", "c1.jsonl", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["ok"] == N_OK and "shard" not in doc["settings"]
    ssim = sorted(p["metrics"]["ssim"] for p in doc["pairs"])
    assert doc["summary"]["metrics"]["ssim"]["min"] == ssim[0]  # from the rows, not from averaged summaries


def test_merge_refuses_other_settings_and_different_duplicates(folders, one_run):
    assert iqa("batch", "ref", "out", "-m", "ssim,mse,psnr", "--color", "y", "--shard", "1/3",
               "-o", "y.jsonl", "-q").exit_code == 2
    assert iqa("batch", "ref", "out", "-m", "ssim,mse,psnr", "--shard", "0/3", "-o", "p0.jsonl", "-q").exit_code == 2
    r = iqa("merge", "p0.jsonl", "y.jsonl", "-o", "m.jsonl")
    assert r.exit_code == 2
    assert r.stderr.strip() == 'iqa: error: y.jsonl: settings differ from p0.jsonl\'s: color is "y" here, "rgb" there'
    assert not (folders / "m.jsonl").exists()
    # the same pair twice with equal values: kept once, with a warning
    r = iqa("merge", "p0.jsonl", "one.jsonl", "-o", "m.jsonl")
    assert r.exit_code == 2 and "with equal values: kept once" in r.stderr
    assert (folders / "m.jsonl").read_bytes() == one_run
    # twice with different values: refused
    at = one_run.index(b'"distorted":"out/p2.png"')  # p2 is in shard 0/3 (pairs 0, 3, 6, 9)
    changed = one_run[:at] + one_run[at:].replace(b'"mse":', b'"mse":1', 1)
    (folders / "changed.jsonl").write_bytes(changed)
    r = iqa("merge", "p0.jsonl", "changed.jsonl", "-q")
    assert r.exit_code == 2 and "scored twice with different values" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("cut", ["mid_line", "after_newline", "settings_only", "complete"])
def test_interrupt_then_resume_equals_one_run(folders, one_run, cut):
    data = one_run
    nl = [i for i, b in enumerate(data) if b == ord("\n")]
    keep = {"mid_line": nl[3] + 40, "after_newline": nl[5] + 1, "settings_only": 0, "complete": len(data)}[cut]
    (folders / "r.jsonl").write_bytes(data[:keep])
    r = iqa("batch", "ref", "out", "-m", "ssim,mse,psnr", "-o", "r.jsonl", "--resume")
    assert r.exit_code == 2, r.stderr
    assert ("last line was cut short" in r.stderr) == (cut == "mid_line")
    assert (folders / "r.jsonl").read_bytes() == one_run  # each pair once, one summary of all rows
    assert "11 pairs: 9 ok, 1 error, 1 missing" in r.stdout  # the table of all rows


def test_resume_keeps_a_settings_line_and_drops_an_inner_summary(folders, one_run):
    rows = one_run.splitlines(keepends=True)
    summary = lines(rows[-1])[0]
    head = _settings_line(one_run)
    # a settings line, 4 rows, a summary from an earlier (smaller) run, 2 more rows, a torn line
    (folders / "r.jsonl").write_bytes(head + b"".join(rows[:4]) + rows[-1] + b"".join(rows[4:6]) + rows[6][:30])
    r = iqa("batch", "ref", "out", "-m", "ssim,mse,psnr", "-o", "r.jsonl", "--resume", "-q")
    assert r.exit_code == 2, r.stderr
    assert (folders / "r.jsonl").read_bytes() == head + one_run
    rep = read_jsonl(str(folders / "r.jsonl"))
    assert len(rep.rows) == 11 and not rep.torn and rep.settings == summary["settings"]
    # and merge reads files with a settings line too
    assert iqa("merge", "r.jsonl", "-o", "m.jsonl", "-q").exit_code == 2
    assert (folders / "m.jsonl").read_bytes() == one_run


def _settings_line(one_run: bytes) -> bytes:
    summary = lines(one_run.splitlines()[-1])[0]
    return json.dumps({"schema": "iqa/1", "type": "settings", "iqa_version": summary["iqa_version"],
                       "settings": summary["settings"]}).encode() + b"\n"


def test_resume_refuses_other_settings(folders, one_run):
    # a finished file (its summary line holds the settings) and an interrupted one with a settings line
    assert lines(one_run)[0]["type"] == "settings"
    for data in (one_run, one_run[:600]):
        (folders / "r.jsonl").write_bytes(data)
        for extra, key in ((["-m", "ssim,mse,psnr", "--color", "gray"], 'color is "rgb" in the file, "gray"'),
                           (["-m", "ssim,mse,psnr", "--shard", "0/2"], 'shard is absent in the file, "0/2"'),
                           (["-m", "ssim,mse"], "metrics is")):
            r = iqa("batch", "ref", "out", *extra, "-o", "r.jsonl", "--resume")
            assert r.exit_code == 2
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert key in r.stderr and r.stderr.startswith("iqa: error: r.jsonl: settings differ")
            assert (folders / "r.jsonl").read_bytes() == data  # untouched
    # an interrupted file without a settings line (an older iqa): only its metric columns can be checked
    assert lines(one_run)[0]["type"] == "settings"
    body = one_run[one_run.index(b"\n") + 1:]
    (folders / "r.jsonl").write_bytes(body[:600])
    r = iqa("batch", "ref", "out", "-m", "ssim,mse", "-o", "r.jsonl", "--resume")
    assert r.exit_code == 2 and "rows hold other metrics" in r.stderr
    r = iqa("batch", "ref", "out", "-o", "r.csv", "--resume")
    assert r.exit_code == 2 and "--resume needs -o FILE.jsonl" in r.stderr


def test_resume_of_a_shard_and_a_new_file(folders):
    # --resume with no file yet is a plain run
    assert iqa("batch", "ref", "out", "-m", "ssim", "--shard", "1/2", "-o", "s.jsonl", "--resume", "-q").exit_code == 0
    full = (folders / "s.jsonl").read_bytes()
    (folders / "s.jsonl").write_bytes(full[: full.index(b"\n") + 1])
    assert iqa("batch", "ref", "out", "-m", "ssim", "--shard", "1/2", "-o", "s.jsonl", "--resume", "-q").exit_code == 0
    assert (folders / "s.jsonl").read_bytes() == full


def test_scheduler_without_distributed_says_how_to_install(folders, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    r = iqa("batch", "ref", "out", "--scheduler", "local:2", "-q")
    assert r.exit_code == 2
    assert r.stderr.strip() == 'iqa: error: --scheduler: the Dask engine needs dask.distributed: pip install "iqa-cli[dask]"'
