"""``iqa review`` the command, without a browser: its options are check's,
it finds the rows check finds, ``--accept PATTERN`` writes what a scripted
cp/rm writes and exits with the check's status, ``--from-report`` scores with
a CI report's settings and gates and says where the verdicts differ, and the
records carry the check's own pictures and the bytes it read."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from iqa_cli.commands import main
from iqa_cli.commands.check import NOT_REVIEWED, check
from iqa_cli.commands.check_run import check_work
from iqa_cli.commands.options import cli_spelling
from iqa_cli.commands.review import review
from iqa_cli.report.images import display_image, png_bytes
from iqa_cli.review.records import Recorder
from iqa_cli.review.session import FileSession
from iqa_cli.spelling import spelled_by

import review_suite as rs
from review_suite import render, tree, write

REVIEW_ONLY = {"port", "host", "allow_remote", "no_browser", "log_path", "report_path", "accept_patterns"}


def invoke(*args: str, ci: bool = True):
    env = {"CI": "true" if ci else "", "GITHUB_STEP_SUMMARY": ""}
    return CliRunner().invoke(main, list(args), env=env)


def review_cli(b: Path, o: Path, *args: str, ci: bool = True):
    return invoke("review", "--no-progress", "--no-browser", str(b), str(o), *args, ci=ci)


def verdict(text: str) -> str:
    """The last line that is a verdict (PASS/FAIL/ERROR ...)."""
    return [ln for ln in text.splitlines() if ln.split(":")[0] in ("PASS", "FAIL", "ERROR")][-1]


def work_of(command, args: list[str], keep=None, before=None):
    ctx = command.make_context(command.name, list(args))
    with ctx, spelled_by(cli_spelling):
        return check_work(ctx, ctx.params, keep=keep, before_scoring=before)


@pytest.fixture
def folders(tmp_path):
    b, o = rs.make(tmp_path)
    return tmp_path, b, o


def no_errors(b: Path, o: Path) -> None:
    """The suite without its ERROR pair."""
    for name in rs.ERRORS:
        (b / name).unlink()
        (o / name).unlink()


# --------------------------------------------------------------------------- options and rows: one check


def test_review_takes_exactly_the_check_options_that_concern_the_check():
    cp = {p.name: p for p in check.params}
    rp = {p.name: p for p in review.params}
    assert set(cp) - set(rp) == set(NOT_REVIEWED)
    assert set(rp) - set(cp) == REVIEW_ONLY
    for name in set(cp) & set(rp):  # declared once: the same flags, defaults, help, types and checks
        a, b = cp[name], rp[name]
        assert a.to_info_dict() == b.to_info_dict(), name
        assert (a.callback is None) == (b.callback is None), name
    # the flags of the review's own options are how the lower layers spell them
    assert {cli_spelling(n) for n in ("host", "allow_remote", "accept", "from_report")} <= \
        {o for p in review.params for o in p.opts}


@pytest.mark.parametrize("args", [
    [],
    ["--fail-if", "ssim<0.995", "--fail-if", "diff_ratio>0.5%", "--tolerance", "1", "-m", "ssim,psnr"],
    ["--match", "stem", "--exclude", "p2.png", "--allow-new", "--protocol", "matlab"],
])
def test_review_and_check_find_the_same_rows(folders, monkeypatch, args):
    root, b, o = folders
    monkeypatch.setenv("CI", "true")
    monkeypatch.chdir(root)
    common = [str(b), str(o), "--no-progress", *args]
    got_check = work_of(check, common)
    got_review = work_of(review, common)
    assert [r.to_json() for r in got_check.rows] == [r.to_json() for r in got_review.rows]
    assert got_check.settings == got_review.settings
    assert {str(r.status) for r in got_review.rows} >= {"FAIL", "PASS", "ERROR", "MISSING"}


def test_a_config_file_gates_review_as_it_gates_check(folders, monkeypatch):
    root, b, o = folders
    (root / "iqa.toml").write_text('[check]\nfail_if = ["diff_pixels>0"]\ntolerance = 0\n'
                                   '[[check.overrides]]\nglob = "sub/**"\nfail_if = ["ssim<0.5"]\n')
    monkeypatch.setenv("CI", "true")
    monkeypatch.chdir(root)
    c, r = work_of(check, [str(b), str(o)]), work_of(review, [str(b), str(o)])
    assert [x.to_json() for x in c.rows] == [x.to_json() for x in r.rows]
    gates = {x.key: [g.gate.canonical() for g in x.gates] for x in r.rows if x.gates}
    assert gates["f1.png"] == ["diff_pixels>0"] and gates["sub/f3.png"] == ["ssim<0.5"]


def test_review_exits_with_the_status_check_gives(folders):
    root, b, o = folders
    before = tree(b)
    for extra in ([], ["--allow-new"], ["--exclude", "broken.png"], ["--include", "p*.png"]):
        c = invoke("check", "--no-progress", str(b), str(o), *extra)
        r = review_cli(b, o, *extra, "--accept", "no-such-pair")
        assert r.exit_code == c.exit_code, (extra, r.output, r.stderr)
        assert verdict(r.stdout) == verdict(c.stdout + c.stderr)
        assert "matches no pair" in r.stderr
    assert tree(b) == before  # nothing was accepted
    assert not (root / ".iqa-review.jsonl").exists()


def test_nothing_to_review_and_nothing_to_compare(tmp_path):
    b, o = tmp_path / "b", tmp_path / "o"
    write(b / "a.png", render(32))
    write(o / "a.png", render(32))
    r = review_cli(b, o)  # interactive, but nothing needs a decision: no server
    assert r.exit_code == 0 and "nothing to review: every pair passes" in r.stdout and "http://" not in r.stdout
    (tmp_path / "e1").mkdir()
    (tmp_path / "e2").mkdir()
    r = review_cli(tmp_path / "e1", tmp_path / "e2")
    assert r.exit_code == 3 and "nothing to compare" in r.stderr


def test_a_remote_host_needs_allow_remote_before_any_scoring(folders):
    _, b, o = folders
    r = review_cli(b, o, "--host", "0.0.0.0")
    assert r.exit_code == 2 and "--allow-remote" in r.stderr and "--host 0.0.0.0" in r.stderr
    assert "check:" not in r.stdout  # refused before the check ran


def test_a_busy_port_is_refused_before_any_scoring(folders):
    """--port on a port another program listens on: werkzeug printed its own text after the
    whole check and exited 1 (the code of "regressions left"); now one line, exit 2, no scoring."""
    import socket

    _, b, o = folders
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = review_cli(b, o, "--port", str(port), "--no-browser")
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stderr.strip() == (f"iqa: error: cannot serve the review on 127.0.0.1:{port}: Address already in use; "
                                "choose another --port, or leave it out for a free one")
    assert "check:" not in r.stdout


# --------------------------------------------------------------------------- --accept PATTERN


def test_accept_by_pattern_writes_what_cp_and_rm_write_and_exits_with_the_check_status(folders):
    root, b, o = folders
    scripted = root / "scripted"
    shutil.copytree(b, scripted)
    r = review_cli(b, o, "--accept", "f*.png", "--accept", "gone.png", "--accept", "fresh/**")
    accepted = ("f1.png", "f2.png", "sub/f3.png", "sub/f4.png", "fresh/new2.png")  # f*.png: any folder
    for name in accepted:
        assert f"{b / name} (from {o / name})" in r.stdout
    for name in accepted:
        (scripted / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(o / name, scripted / name)
    (scripted / "gone.png").unlink()
    assert tree(b) == tree(scripted)
    assert "removed " + str(b / "gone.png") in r.stdout and "added " + str(b / "fresh/new2.png") in r.stdout
    after = invoke("check", "--no-progress", str(b), str(o))
    assert r.exit_code == after.exit_code == 2  # broken.png cannot be checked, before and after
    assert verdict(after.stdout).startswith("FAIL: 1 of 11 pairs failed: new1.png (new, no baseline)")
    assert verdict(r.stdout).startswith("FAIL: 1 of 12 pairs failed: new1.png (new, no baseline); "
                                        "baseline updated: 4 replaced, 1 added, 1 removed")
    log = [json.loads(t) for t in (root / ".iqa-review.jsonl").read_text().splitlines()]
    assert {ln["op"] for ln in log} == {"accept"} and len({ln["id"] for ln in log}) == 1  # one operation


def test_accepting_every_regression_exits_0_and_check_then_passes(folders):
    root, b, o = folders
    no_errors(b, o)
    r = review_cli(b, o, "--accept", "*", "--log", str(root / "logs/review.jsonl"))
    assert r.exit_code == 0, r.output + r.stderr
    assert verdict(r.stdout).startswith("PASS: all 11 pairs within the gates")
    assert (root / "logs/review.jsonl").exists() and (root / "logs/review/blobs").is_dir()
    assert invoke("check", "--no-progress", str(b), str(o)).exit_code == 0


def test_accept_is_refused_where_update_is_refused(folders, monkeypatch):
    """A folder the check could not read: --update refuses, so does every accept (nothing changes)."""
    _, b, o = folders
    no_errors(b, o)
    real, hidden = os.scandir, str(o / "sub")

    def scandir(path="."):
        if os.fspath(path) == hidden:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    before = tree(b)
    r = review_cli(b, o, "--accept", "*")
    assert r.exit_code == 2 and "update refused: 1 folder(s) could not be read" in r.stderr
    assert "nothing was accepted" in r.stderr and tree(b) == before
    upd = invoke("check", "--no-progress", str(b), str(o), "--update", "--prune")
    assert upd.exit_code == 2 and "update refused: 1 folder(s) could not be read" in upd.stderr


# --------------------------------------------------------------------------- --from-report


def _ci_run(root: Path, b: Path, o: Path, *args: str) -> Path:
    """CI's `iqa check --json`, then its outputs 'downloaded' into a fresh folder."""
    report = root / "ci" / "check.json"
    res = invoke("check", "--no-progress", str(b), str(o), "--json", str(report), *args)
    assert res.exit_code in (1, 2), res.output
    local = root / "downloaded"
    shutil.copytree(o, local)
    return report


def test_from_report_scores_with_the_reports_settings_and_gates(tmp_path):
    b, o = tmp_path / "baseline", tmp_path / "output"
    img = render(48)
    for name, delta in (("one-level.png", 1), ("same.png", 0)):
        write(b / name, img)
        out = img.copy()
        out[10, 10] = np.clip(out[10, 10].astype(int) + delta, 0, 255)
        write(o / name, out)
    write(o / "new.png", render(48, seed=3))
    report = _ci_run(tmp_path, b, o, "--tolerance", "0", "--fail-if", "diff_pixels>0")
    local = tmp_path / "downloaded"
    # here: no CI=true, default gates and tolerance 2 would pass both; the report's fail the one-level change
    plain = review_cli(b, local, "--accept", "nothing", ci=False)
    assert plain.exit_code == 0
    r = review_cli(b, local, "--from-report", str(report), "--accept", "nothing", ci=False)
    assert r.exit_code == 1, r.output + r.stderr
    assert "one-level.png (diff_pixels 1 > 0)" in verdict(r.stdout)
    assert "new.png (new, no baseline)" in verdict(r.stdout)  # CI=true in the report: NEW is a regression
    assert "differ" not in r.stderr and "CI's verdict" not in r.stderr
    r = review_cli(b, local, "--from-report", str(report), "--tolerance", "1", "--accept", "x")
    assert r.exit_code == 2 and "--from-report scores with the report's settings and gates: drop --tolerance" \
        in r.stderr


def test_from_report_warns_where_the_verdict_here_differs(folders):
    root, b, o = folders
    report = _ci_run(root, b, o)
    local = root / "downloaded"
    shutil.copyfile(b / "f1.png", local / "f1.png")  # this f1.png is not the one CI saw
    (local / "new1.png").unlink()
    r = review_cli(b, local, "--from-report", str(report), "--accept", "f2.png")
    assert "f1.png: CI's verdict was FAIL (ssim<0.99, ssim_min<0.95, psnr<40 failed there); here it is PASS" in r.stderr
    assert "1 pair(s) in the report but not found here: new1.png" in r.stderr
    assert (b / "f2.png").read_bytes() == (o / "f2.png").read_bytes()
    assert r.exit_code == 2  # broken.png


def test_from_report_refuses_what_is_not_a_check_report(folders):
    root, b, o = folders
    batch = root / "batch.json"
    assert invoke("batch", "--no-progress", str(b), str(o), "--json", str(batch)).exit_code in (1, 2)
    r = review_cli(b, o, "--from-report", str(batch))
    assert r.exit_code == 2 and f"{batch}: not the JSON report of a check: no \"check\" object" in r.stderr
    r = review_cli(b, o, "--from-report", str(root / "absent.json"))
    assert r.exit_code == 2 and "absent.json: cannot read" in r.stderr


# --------------------------------------------------------------------------- records from the runner's arrays


def test_the_pictures_are_check_save_diffs_pictures_drawn_from_the_arrays(tmp_path, monkeypatch):
    suite = rs.build(tmp_path)  # ran `iqa check --save-diffs diffs`
    monkeypatch.setenv("CI", "true")
    rec = Recorder()
    work = work_of(review, [str(suite.baseline), str(suite.output), "--no-progress"], keep=rec,
                   before=lambda w: rec.stamp(w.pairs))
    by = {r.path: r for r in rec.records}
    for name in rs.FAILS:
        r = by[name]
        stem = tmp_path / "diffs" / os.path.splitext(name)[0]
        assert r.images["heatmap"]() == Path(str(stem) + ".ssim.png").read_bytes()
        assert r.images["mask"]() == Path(str(stem) + ".diff.png").read_bytes()
        assert r.images["baseline"]() == png_bytes(display_image(iio.imread(suite.baseline / name)))
        assert r.images["output"]() == png_bytes(display_image(iio.imread(suite.output / name)))
        x0, y0, x1, y1 = r.where_box
        assert f"changed x {x0}-{x1}, y {y0}-{y1}" in r.where
        assert r.gates == [g.to_json() for g in r.row.gates] and r.display == "8-bit as stored"
        assert r.baseline_sha256 == rs.hashlib.sha256((suite.baseline / name).read_bytes()).hexdigest()
    assert set(by["new1.png"].images) == {"output"} and set(by["gone.png"].images) == {"baseline"}
    assert all(not by[n].images and by[n].baseline_sha256 is None for n in rs.PASSES)  # nothing kept
    assert len(work.rows) == 12


def test_past_the_memory_budget_the_pictures_are_drawn_at_once_and_the_same(tmp_path, monkeypatch):
    b, o = rs.make(tmp_path)
    monkeypatch.setenv("CI", "true")
    lazy, eager = Recorder(), Recorder(budget=0)
    for rec in (lazy, eager):
        work_of(review, [str(b), str(o), "--no-progress"], keep=rec, before=lambda w, rec=rec: rec.stamp(w.pairs))
    assert lazy.kept > 0 and eager.kept == 0
    for a, e in zip(lazy.records, eager.records):
        assert set(a.images) == set(e.images)
        assert all(callable(v) for v in a.images.values()) and all(isinstance(v, bytes) for v in e.images.values())
        assert {k: v() for k, v in a.images.items()} == e.images


def test_deep_and_float_images_say_how_they_are_shown_and_keep_their_raw_samples(tmp_path, monkeypatch):
    import tifffile

    b, o = tmp_path / "b", tmp_path / "o"
    deep = (render(40).astype(np.uint16) * 257)
    out16 = deep.copy()
    out16[5:15, 5:15] = (65535, 0, 1)
    import imagecodecs

    for folder, arr in ((b, deep), (o, out16)):  # 16-bit RGB PNG (Pillow cannot write it)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "deep.png").write_bytes(imagecodecs.png_encode(arr))
    flt = render(40).astype(np.float32) / 255
    outf = flt.copy()
    outf[20:30, 20:30] = 0.25
    (b / "f").mkdir(parents=True)
    (o / "f").mkdir(parents=True)
    tifffile.imwrite(b / "f/lin.tif", flt, photometric="rgb")
    tifffile.imwrite(o / "f/lin.tif", outf, photometric="rgb")
    monkeypatch.setenv("CI", "true")
    rec = Recorder()
    work_of(review, [str(b), str(o), "--no-progress"], keep=rec, before=lambda w: rec.stamp(w.pairs))
    by = {r.path: r for r in rec.records}
    assert [str(by[k].status) for k in ("deep.png", "f/lin.tif")] == ["FAIL", "FAIL"]
    s = FileSession(str(b), rec.records, output_root=str(o))
    pairs = {p["path"]: p for p in s.pairs()}
    assert pairs["deep.png"]["display"] == "16-bit: linear 0..65535 -> 0..255" and pairs["deep.png"]["raw_pixels"]
    assert pairs["f/lin.tif"]["display"] == "float: linear 0..1 -> 0..255 (clipped)"
    assert s.pixel("deep.png", 7, 6) == {"x": 7, "y": 6, "baseline": [int(v) for v in deep[6, 7]],
                                         "output": [65535, 0, 1]}
    assert s.pixel("f/lin.tif", 21, 22)["output"] == [0.25, 0.25, 0.25]
    shown = iio.imread(s.image("deep.png", "output"))
    assert shown.dtype == np.uint8 and tuple(shown[6, 7]) == (255, 0, 0)


def test_a_file_rewritten_while_the_check_read_it_cannot_be_accepted(folders, monkeypatch):
    root, b, o = folders
    monkeypatch.setenv("CI", "true")
    rec = Recorder()

    def stamp_then_rewrite(w):
        rec.stamp(w.pairs)
        data = (o / "f1.png").read_bytes()
        os.utime(o / "f1.png", ns=(1, 1))  # same bytes, but the check cannot tell which it read
        (o / "f1.png").write_bytes(data)

    work_of(review, [str(b), str(o), "--no-progress"], keep=rec, before=stamp_then_rewrite)
    s = FileSession(str(b), rec.records, output_root=str(o))
    pair = next(p for p in s.pairs() if p["path"] == "f1.png")
    assert not pair["can_accept"] and "not as the check read it" in pair["refusal"]
    assert any("changed while the check read it" in w for w in pair["warnings"])
    assert s.accept(["f2.png"])["ok"]


def test_two_files_review_like_two_files_check(tmp_path):
    (tmp_path / "b").mkdir()
    write(tmp_path / "b/logo.png", render(40))
    changed = render(40)
    changed[5:25, 5:25] = 0
    write(tmp_path / "out.png", changed)
    r = review_cli(tmp_path / "b/logo.png", tmp_path / "out.png", "--accept", "*")
    assert r.exit_code == 0 and f"replaced {tmp_path / 'b/logo.png'} (from {tmp_path / 'out.png'})" in r.stdout
    assert (tmp_path / "b/logo.png").read_bytes() == (tmp_path / "out.png").read_bytes()
    r = review_cli(tmp_path / "b/new.png", tmp_path / "out.png", "--accept", "*")  # NEW: the file BASELINE names
    assert r.exit_code == 0 and (tmp_path / "b/new.png").read_bytes() == (tmp_path / "out.png").read_bytes()
    assert (tmp_path / "b/.iqa-review.jsonl").exists()  # beside the baseline file


def test_from_report_pairs_as_the_config_says(folders, monkeypatch):
    """A report does not record the pairing; the repository's config (the one CI read) still gives it."""
    root, b, o = folders
    (root / "iqa.toml").write_text('[check]\nexclude = ["sub/**", "broken.png"]\ntolerance = 3\n')
    monkeypatch.chdir(root)
    report = _ci_run(root, b, o)
    r = review_cli(b, root / "downloaded", "--from-report", str(report), "--accept", "none")
    assert "not in the report" not in r.stderr and "CI's verdict" not in r.stderr, r.stderr
    assert verdict(r.stdout).startswith("FAIL: 5 of 7 pairs failed") and r.exit_code == 1
    assert json.loads(report.read_text())["settings"]["tolerance"] == 3
