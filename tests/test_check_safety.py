"""iqa check never loses a baseline, never hides a warning, and names the file:
all-or-nothing --update, outputs that exist but cannot be read, report paths
that would overwrite an image, byte-identical files, warnings on passing
pairs in every report. Real files, real folders."""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from iqa_cli.commands import main

from conftest import smooth_image, write_png


def iqa(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry under root (files by content, links by target, folders), hidden ones included."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link->" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def changed(a: np.ndarray) -> np.ndarray:
    b = a.copy()
    b[8:24, 8:24] = 255 - b[8:24, 8:24]
    return b


@pytest.fixture
def suite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CI", raising=False)
    for name in ("a.png", "b.png", "c.png"):
        a = smooth_image(48, 48, seed=len(name) + ord(name[0]))
        write_png(tmp_path / "base" / name, a)
        write_png(tmp_path / "out" / name, changed(a) if name != "c.png" else a)
    return tmp_path


# --------------------------------------------------------------------------- --update


def test_update_that_fails_half_way_changes_nothing_and_says_what_it_would_have(suite):
    """The write error used to come after a.png and b.png were already replaced,
    with no table, no list of changes and no verdict."""
    write_png(suite / "out" / "new" / "d.png", smooth_image(48, 48, seed=9))
    (suite / "base" / "new").write_text("a file where the update needs a folder")
    before = tree_digest(suite / "base")
    r = iqa("check", "base", "out", "--update")
    assert r.exit_code == 2
    assert tree_digest(suite / "base") == before  # no baseline replaced, no temporary file left
    assert "FAIL    a.png" in r.stdout and "NEW     new/d.png" in r.stdout  # the table
    assert "the update would have made these changes (none was made):" in r.stdout
    assert "  replaced base/a.png (from out/a.png)" in r.stdout and "  added base/new/d.png" in r.stdout
    assert "UPDATE FAILED (nothing changed); FAIL: 2 of 4 pairs failed" in r.stdout
    assert "base/new/d.png: cannot update the baseline:" in r.stderr and "nothing was changed" in r.stderr
    doc_r = iqa("check", "base", "out", "--update", "--json", "-")
    doc = json.loads(doc_r.stdout)
    assert doc["check"]["changes"] == [] and len(doc["check"]["not_applied"]) == 3
    assert tree_digest(suite / "base") == before


def test_update_applies_every_change_when_it_can(suite):
    write_png(suite / "out" / "new" / "d.png", smooth_image(48, 48, seed=9))
    r = iqa("check", "base", "out", "--update")
    assert r.exit_code == 0, r.stderr
    for rel in ("a.png", "b.png", "c.png", "new/d.png"):
        assert (suite / "base" / rel).read_bytes() == (suite / "out" / rel).read_bytes()
    assert not [p for p in (suite / "base").rglob(".*")]  # no temporary or set-aside file left
    assert iqa("check", "base", "out").exit_code == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_update_into_a_read_only_folder_changes_nothing(suite):
    write_png(suite / "base" / "ro" / "e.png", smooth_image(48, 48, seed=3))
    write_png(suite / "out" / "ro" / "e.png", changed(smooth_image(48, 48, seed=3)))
    os.chmod(suite / "base" / "ro", 0o555)
    try:
        before = tree_digest(suite / "base")
        r = iqa("check", "base", "out", "--update")
        assert r.exit_code == 2 and tree_digest(suite / "base") == before
    finally:
        os.chmod(suite / "base" / "ro", 0o755)


@pytest.mark.parametrize("kind", ["broken-link", "fifo"])
def test_an_output_that_exists_but_cannot_be_read_is_an_error_never_missing(suite, kind):
    """--update --prune deleted the baseline of such an output (exit 0, "1 removed"):
    the folder walk skipped it, so it looked like a deleted output."""
    (suite / "out" / "b.png").unlink()
    if kind == "broken-link":
        os.symlink(suite / "nowhere.png", suite / "out" / "b.png")
    else:
        os.mkfifo(suite / "out" / "b.png")
    before = tree_digest(suite / "base")
    r = iqa("check", "base", "out", "--update", "--prune", "--json", "-")
    doc = json.loads(r.stdout)
    assert r.exit_code == 2
    row = {p["key"]: p for p in doc["check"]["pairs"]}["b.png"]
    why = "broken symbolic link" if kind == "broken-link" else "not a regular file (a FIFO)"
    assert row["status"] == "ERROR" and row["reason"] == f"out/b.png: {why}" and row["action"] is None
    assert (suite / "base" / "b.png").read_bytes() and tree_digest(suite / "base")["b.png"] == before["b.png"]
    assert f"iqa: error: out/b.png: {why}" in r.stderr
    # single-file mode says the same
    r = iqa("check", "base/b.png", "out/b.png")
    assert r.exit_code == 2 and "out/b.png" in r.stderr


def test_junit_onto_an_image_is_refused(suite):
    """--junit base/a.png overwrote a baseline image with XML, exit 0."""
    before = (suite / "base" / "a.png").read_bytes()
    r = iqa("check", "base", "out", "--junit", "base/a.png")
    assert r.exit_code == 2 and "looks like an image, not a report file" in r.output
    assert (suite / "base" / "a.png").read_bytes() == before


# --------------------------------------------------------------------------- identical files


def test_byte_identical_files_pass_even_when_they_cannot_be_decoded(tmp_path, monkeypatch):
    """Identical float TIFFs without --data-range exited 2 ("identical files always pass")."""
    import tifffile

    monkeypatch.chdir(tmp_path)
    a = (np.random.default_rng(0).random((40, 40)) * 100).astype(np.float32)
    for side in ("base", "out"):
        (tmp_path / side).mkdir()
        tifffile.imwrite(tmp_path / side / "depth.tif", a)
        (tmp_path / side / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    r = iqa("check", "base", "out", "--json", "-")
    assert r.exit_code == 0, r.output
    rows = {p["key"]: p for p in json.loads(r.stdout)["check"]["pairs"]}
    assert rows["depth.tif"]["status"] == "PASS" and rows["broken.png"]["status"] == "PASS"
    assert any(w.startswith("byte-identical files pass, not decoded: ") and "pass --data-range" in w
               for w in rows["depth.tif"]["warnings"])
    r = iqa("check", "base", "out")
    assert "byte-identical files pass" in r.stdout  # the warning is on screen too
    # compare and batch still say the file cannot be read: nothing was scored
    assert iqa("batch", "base", "out", "-q").exit_code == 2


# --------------------------------------------------------------------------- warnings


def _exif_rotated_copy(src: Path, dst: Path) -> None:
    img = Image.open(src)
    exif = Image.Exif()
    exif[0x0112] = 6
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, exif=exif.tobytes())


def test_passing_pairs_show_their_warnings_in_every_report(tmp_path, monkeypatch):
    """An output whose EXIF orientation changed (same stored pixels, displays rotated)
    passed with no warning except in --json; an animated GIF whose second frame changed
    passed too (first frame only): now it is read frame by frame and fails, naming the frame."""
    monkeypatch.chdir(tmp_path)
    a = smooth_image(40, 40, seed=1)
    write_png(tmp_path / "base" / "photo.png", a)
    _exif_rotated_copy(tmp_path / "base" / "photo.png", tmp_path / "out" / "photo.png")
    frames = [Image.fromarray(smooth_image(40, 40, seed=s)) for s in (2, 3)]
    frames[0].save(tmp_path / "base" / "anim.gif", save_all=True, append_images=[frames[1]], duration=100)
    changed_frames = [frames[0], Image.fromarray(changed(np.asarray(frames[1])))]
    changed_frames[0].save(tmp_path / "out" / "anim.gif", save_all=True, append_images=[changed_frames[1]],
                           duration=100)
    summary = tmp_path / "summary.md"
    r = iqa("check", "base", "out", "--junit", "j.xml", "--github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    out = r.stdout
    assert "EXIF orientations differ (reference 1, distorted 6)" in out
    assert r.exit_code == 1
    assert "FAIL: 1 of 2 pairs failed: anim.gif" in out
    assert "worst ssim_min at frame 1 (0.100 s)" in out
    junit = ET.parse(tmp_path / "j.xml").getroot()
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    texts = {name: "".join(c.itertext()) for name, c in cases.items()}
    assert "warning: EXIF orientations differ" in texts["photo.png"]
    assert cases["anim.gif"].find("failure") is not None and cases["photo.png"].find("failure") is None
    annotations = [ln for ln in out.splitlines() if ln.startswith("::warning")]
    assert any("photo.png: EXIF orientations differ" in ln for ln in annotations)
    assert any(ln.startswith("::error") and "anim.gif" in ln and "frame 1" in ln for ln in out.splitlines())
    assert "EXIF orientations differ" in summary.read_text()


def test_a_warning_of_many_pairs_is_grouped_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    for i in range(4):
        a = smooth_image(40, 40, seed=i)
        write_png(tmp_path / "base" / f"p{i}.png", a)
        Image.fromarray(a).convert("L").save(tmp_path / "out" / f"p{i}.png")
    r = iqa("check", "base", "out")
    assert r.stdout.count("greyscale replicated to RGB") == 1
    assert "4 pairs: distorted is greyscale, the other image colour" in r.stdout


# --------------------------------------------------------------------------- errors name the file


def test_a_metric_that_cannot_be_computed_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = (np.arange(48).reshape(4, 4, 3) * 5).astype(np.uint8)
    write_png(tmp_path / "b" / "x.png", a)
    a[0, 0, 0] += 50
    write_png(tmp_path / "o" / "x.png", a)
    r = iqa("check", "b", "o")
    assert r.exit_code == 2
    assert r.stderr.startswith("iqa: error: o/x.png: ssim not computed: needs at least 11x11 px, image is 4x4")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("flag", ["--csv", "--json", "-o"])
def test_a_full_disk_names_the_file(tmp_path, flag):
    a = smooth_image(32, 32)
    ref, dist = write_png(tmp_path / "a.png", a), write_png(tmp_path / "b.png", changed(a))
    r = iqa("compare", ref, dist, flag, "/dev/full")
    assert r.exit_code == 2
    assert r.stderr.strip() == "iqa: error: /dev/full: cannot write: no space left on device"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_names_the_junit_file(suite):
    r = iqa("check", "base", "out", "--junit", "/dev/full")
    assert r.exit_code == 2 and "iqa: error: /dev/full: cannot write: no space left on device" in r.stderr
