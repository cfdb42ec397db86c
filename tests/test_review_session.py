"""``iqa review``'s session and undo log on real files: accept writes the
output's bytes, undo restores the previous bytes exactly, batches are
all-or-nothing, and nothing is ever written outside BASELINE."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from iqa_cli.review.paths import PathRefused, clean_relative, resolve_inside
from iqa_cli.review.session import FileSession, PairRecord, display_text
from iqa_cli.review.undo import Refused, UndoLog, default_log_path, sha256

from review_suite import render, tree, write


@pytest.fixture
def folders(tmp_path):
    """baseline/ and output/ of real PNGs: a.png and sub/b.png changed, same.png equal."""
    b, o = tmp_path / "baseline", tmp_path / "output"
    for i, name in enumerate(("a.png", "sub/b.png", "same.png")):
        img = render(32, seed=i)
        write(b / name, img)
        if name != "same.png":
            img = img.copy()
            img[8:16, 8:16] = (255, 0, 0)
        write(o / name, img)
    return b, o


def rec(b: Path, o: Path, name: str, status: str, **kw) -> PairRecord:
    base = b / name if status in ("FAIL", "MISSING", "PASS", "ERROR") else None
    out = o / name if status in ("FAIL", "NEW", "PASS", "ERROR") else None
    return PairRecord(name, status, str(base) if base else None, str(out) if out else None, **kw)


def lines(session: FileSession) -> list[dict]:
    p = Path(session.log.path)
    return [json.loads(t) for t in p.read_text().splitlines()] if p.exists() else []


# --------------------------------------------------------------------------- accept and undo


def test_accept_fail_writes_the_output_bytes_and_undo_restores_the_old_ones(folders):
    b, o = folders
    old = (b / "a.png").read_bytes()
    os.chmod(b / "a.png", 0o640)
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL")])
    res = s.accept(["a.png"])
    assert res["ok"] and res["decisions"] == {"a.png": "accepted"}
    assert res["changed"] == [{"path": "a.png", "file": "a.png", "action": "replaced",
                               "old_sha256": sha256(old), "new_sha256": sha256((o / "a.png").read_bytes())}]
    assert (b / "a.png").read_bytes() == (o / "a.png").read_bytes()
    assert stat.S_IMODE(os.stat(b / "a.png").st_mode) == 0o640  # a replaced file keeps its mode
    (line,) = lines(s)
    assert line["op"] == "accept" and line["action"] == "replaced" and line["old_sha256"] == sha256(old)
    assert line["time"].endswith("Z") and line["source"] == str(o / "a.png")
    # the old bytes are kept where the line says
    assert (Path(s.log.path).parent / line["blob"]).read_bytes() == old

    undone = s.undo()
    assert undone["ok"] and undone["changed"][0]["action"] == "restored"
    assert (b / "a.png").read_bytes() == old
    assert s.pairs()[0]["decision"] is None
    assert [ln["op"] for ln in lines(s)] == ["accept", "undo"]
    assert lines(s)[1]["undoes"] == line["id"]
    assert s.undo()["refused"] == [{"path": None, "reason": "nothing to undo"}]


def test_new_adds_the_file_and_its_folders_and_undo_removes_them(folders):
    b, o = folders
    write(o / "fresh/deep/n.png", render(32, seed=9))
    before = tree(b)
    s = FileSession(str(b), [PairRecord("fresh/deep/n.png", "NEW", None, str(o / "fresh/deep/n.png"))],
                    output_root=str(o))
    assert s.pairs()[0]["accept_action"] == "add" and s.pairs()[0]["target"] == "fresh/deep/n.png"
    res = s.accept(["fresh/deep/n.png"])
    assert res["changed"][0]["action"] == "added" and res["changed"][0]["old_sha256"] is None
    assert (b / "fresh/deep/n.png").read_bytes() == (o / "fresh/deep/n.png").read_bytes()
    assert lines(s)[0]["made_dirs"] == ["fresh/deep", "fresh"]
    assert s.undo()["changed"][0]["action"] == "removed"
    assert tree(b) == before  # the folders the accept made are gone too


def test_missing_removes_the_baseline_and_undo_restores_bytes_and_mode(folders):
    b, o = folders
    (o / "a.png").unlink()
    old = (b / "a.png").read_bytes()
    os.chmod(b / "a.png", 0o600)
    s = FileSession(str(b), [rec(b, o, "a.png", "MISSING")])
    assert s.pairs()[0]["accept_action"] == "remove"
    assert s.accept(["a.png"])["changed"][0]["action"] == "removed"
    assert not (b / "a.png").exists()
    assert s.undo()["changed"][0]["action"] == "restored"
    assert (b / "a.png").read_bytes() == old
    assert stat.S_IMODE(os.stat(b / "a.png").st_mode) == 0o600


def test_stem_matched_pair_with_a_new_format_writes_the_new_name_and_removes_the_old(folders):
    b, o = folders
    (b / "a.png").rename(b / "a.jpg")  # any bytes: the session copies, it never decodes
    old = (b / "a.jpg").read_bytes()
    s = FileSession(str(b), [PairRecord("a", "FAIL", str(b / "a.jpg"), str(o / "a.png"))])
    res = s.accept(["a"])
    assert sorted((c["file"], c["action"]) for c in res["changed"]) == [("a.jpg", "removed"), ("a.png", "added")]
    assert not (b / "a.jpg").exists() and (b / "a.png").read_bytes() == (o / "a.png").read_bytes()
    s.undo()
    assert (b / "a.jpg").read_bytes() == old and not (b / "a.png").exists()


def test_reject_and_skip_change_nothing_on_disk(folders):
    b, o = folders
    before = tree(b)
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL"), rec(b, o, "sub/b.png", "FAIL")])
    assert s.reject(["a.png"]) == {"ok": True, "changed": [], "refused": [], "decisions": {"a.png": "rejected"}}
    assert s.skip(["sub/b.png"])["decisions"] == {"sub/b.png": "skipped"}
    assert tree(b) == before and not Path(s.log.path).exists()
    # a rejected pair can still be accepted (a change of mind); an accepted one cannot be rejected
    assert s.accept(["a.png"])["ok"]
    assert s.reject(["a.png"])["refused"] == [{"path": "a.png", "reason": "accepted: undo it first"}]
    assert s.summary()["accepted"] == ["a.png"] and s.summary()["skipped"] == ["sub/b.png"]


def test_pass_and_error_rows_are_refused_like_update_would(folders):
    b, o = folders
    s = FileSession(str(b), [rec(b, o, "same.png", "PASS"), rec(b, o, "a.png", "ERROR", reason="corrupt PNG")])
    before = tree(b)
    r = s.accept(["same.png"])
    assert not r["ok"] and "passes" in r["refused"][0]["reason"]
    r = s.accept(["a.png"])
    assert not r["ok"] and "could not be checked" in r["refused"][0]["reason"]
    assert {p["path"]: p["reason"] for p in s.pairs()}["a.png"] == "corrupt PNG"  # the error is the reason
    assert s.reject(["same.png"])["refused"][0]["reason"].startswith("it passes")
    assert tree(b) == before and not Path(s.log.path).exists()
    ro = FileSession(str(b), [rec(b, o, "a.png", "FAIL")], read_only="update refused: 1 folder could not be read")
    assert ro.accept(["a.png"])["refused"][0]["reason"].startswith("update refused")
    assert ro.pairs()[0]["can_accept"] is False


# --------------------------------------------------------------------------- all-or-nothing


def test_a_batch_with_one_refused_pair_changes_nothing(folders):
    b, o = folders
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL"), rec(b, o, "same.png", "PASS")])
    before = tree(b)
    r = s.accept(["a.png", "same.png", "nope.png"])
    assert not r["ok"] and r["changed"] == []
    assert {x["path"] for x in r["refused"]} == {"same.png", "nope.png"}
    assert tree(b) == before and not Path(s.log.path).exists()
    assert s.pairs()[0]["decision"] is None


def test_a_write_that_fails_half_way_puts_back_what_was_done(folders):
    """The second change cannot be written (its folder is a file): the first is rolled back."""
    b, o = folders
    (b / "blocker").write_bytes(b"not a folder")
    write(o / "blocker/n.png", render(32, seed=7))
    before = tree(b)
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL"), PairRecord("blocker/n.png", "NEW", None,
                                                                    str(o / "blocker/n.png"))],
                    output_root=str(o))
    r = s.accept(["a.png", "blocker/n.png"])
    assert not r["ok"] and "nothing was changed" in r["error"] and "blocker" in r["error"]
    assert tree(b) == before
    assert [ln["op"] for ln in lines(s)] == ["accept", "accept", "rollback"]
    assert s.log.open_accepts() == []  # a rolled-back accept is not undoable
    assert s.undo()["refused"][0]["reason"] == "nothing to undo"
    assert all(p["decision"] is None for p in s.pairs())


def test_files_changed_since_the_check_are_refused(folders):
    b, o = folders
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL"), rec(b, o, "sub/b.png", "FAIL")])
    (o / "a.png").write_bytes(b"rendered again")
    r = s.accept(["a.png"])
    assert not r["ok"] and "changed since the check" in r["refused"][0]["reason"]
    (b / "sub/b.png").write_bytes(b"edited by hand")
    r = s.accept(["sub/b.png"])
    assert not r["ok"] and "changed in BASELINE since the check" in r["refused"][0]["reason"]
    assert (b / "sub/b.png").read_bytes() == b"edited by hand"


def test_undo_refuses_to_overwrite_a_file_changed_after_the_accept(folders):
    b, o = folders
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL")])
    s.accept(["a.png"])
    (b / "a.png").write_bytes(b"someone else's edit")
    r = s.undo()
    assert not r["ok"] and "changed since it was accepted" in r["refused"][0]["reason"]
    assert (b / "a.png").read_bytes() == b"someone else's edit"


# --------------------------------------------------------------------------- paths


def test_clean_relative_refuses_escapes():
    for bad in ("../x.png", "a/../../x.png", "/etc/passwd", "a\\..\\x", "C:/x.png", "", "a/\x00.png"):
        with pytest.raises(PathRefused):
            clean_relative(bad)
    assert clean_relative("./a//b.png") == "a/b.png"


def test_nothing_is_written_outside_baseline(folders, tmp_path):
    """Targets come from the update plan (a NEW output's path relative to OUTPUT); one that would
    land outside BASELINE, through '..' or a symlinked folder, is refused, and so is a baseline file
    outside it."""
    b, o = folders
    outside = tmp_path / "outside"
    outside.mkdir()
    (b / "link").symlink_to(outside, target_is_directory=True)
    write(o / "link/x.png", render(32, seed=3))
    write(tmp_path / "stray.png", render(32, seed=4))
    recs = [PairRecord("../escape.png", "NEW", None, str(tmp_path / "stray.png")),  # outside OUTPUT
            PairRecord("link/x.png", "NEW", None, str(o / "link/x.png")),
            PairRecord("stray.png", "FAIL", str(tmp_path / "stray.png"), str(o / "a.png")),
            PairRecord("stray-missing.png", "MISSING", str(tmp_path / "stray.png"), None)]
    s = FileSession(str(b), recs, output_root=str(o))
    for p in s.pairs():
        assert p["can_accept"] is False, p
        assert p["refusal"].startswith("refused:"), p
        assert p["target"] is None
    before, stray = tree(tmp_path), (tmp_path / "stray.png").read_bytes()
    for r in recs:
        assert not s.accept([r.path])["ok"]
    assert tree(tmp_path) == before and (tmp_path / "stray.png").read_bytes() == stray
    assert not (outside / "x.png").exists()
    with pytest.raises(PathRefused):
        resolve_inside(str(b), "link/x.png")


def test_a_new_pair_needs_the_output_folder_to_be_placed(folders):
    b, o = folders
    write(o / "n.png", render(32, seed=5))
    s = FileSession(str(b), [PairRecord("n.png", "NEW", None, str(o / "n.png"))])
    assert s.pairs()[0]["refusal"] == "the OUTPUT folder is not known: nowhere to place a new file"
    assert not s.accept(["n.png"])["ok"] and not (b / "n.png").exists()


def test_undo_log_lines_about_another_baseline_are_refused(folders, tmp_path):
    b, o = folders
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL")])
    s.accept(["a.png"])
    new = (b / "a.png").read_bytes()
    with pytest.raises(Refused, match="another BASELINE"):
        UndoLog(s.log.path).undo_last(s.id, root=str(tmp_path / "elsewhere"))
    assert (b / "a.png").read_bytes() == new


# --------------------------------------------------------------------------- the log itself


def test_the_log_sits_beside_baseline_and_its_store_ignores_itself(folders, tmp_path):
    b, o = folders
    assert default_log_path(str(b)) == str(tmp_path / ".iqa-review.jsonl")
    assert default_log_path(str(b / "a.png")) == str(b / ".iqa-review.jsonl")  # a single baseline file
    s = FileSession(str(b), [rec(b, o, "a.png", "FAIL")])
    s.accept(["a.png"])
    assert Path(s.log.path) == tmp_path / ".iqa-review.jsonl"
    assert (tmp_path / ".iqa-review" / ".gitignore").read_text() == "*\n"
    assert not any(n.startswith(".iqa-review") for n in tree(b))  # BASELINE holds only images
    custom = FileSession(str(b), [rec(b, o, "sub/b.png", "FAIL")], log_path=str(tmp_path / "logs/review.jsonl"))
    custom.accept(["sub/b.png"])
    assert (tmp_path / "logs/review.jsonl").exists() and any((tmp_path / "logs/review/blobs").iterdir())


def test_a_later_process_can_undo_from_the_log_alone(folders):
    """Sessions only undo their own accepts; the log lets a later run undo any."""
    b, o = folders
    old = (b / "a.png").read_bytes()
    first = FileSession(str(b), [rec(b, o, "a.png", "FAIL")])
    first.accept(["a.png"])
    second = FileSession(str(b), [rec(b, o, "sub/b.png", "FAIL")])
    assert second.undo()["refused"][0]["reason"] == "nothing to undo"
    with open(first.log.path, "a") as f:
        f.write('{"v": 1, "op": "acc')  # a torn last line (a crash mid-write) is ignored
    undone = UndoLog(first.log.path).undo_last()
    assert [ln["action"] for ln in undone] == ["restored"]
    assert (b / "a.png").read_bytes() == old


# --------------------------------------------------------------------------- what the page is told


def test_pair_objects_and_raw_pixels_of_a_16bit_pair(folders):
    b, o = folders
    raw_b = (np.arange(4 * 5 * 3, dtype=np.uint16).reshape(4, 5, 3) * 1000)
    raw_o = raw_b.copy()
    raw_o[1, 2] = (65535, 1, 2)
    r = rec(b, o, "a.png", "FAIL", gates=[{"gate": "ssim<0.99", "metric": "ssim", "op": "<", "threshold": 0.99,
                                           "value": 0.5, "margin": -0.49, "passed": False}],
            where="changed x 2-2, y 1-1", where_box=(2, 1, 2, 1), width=5, height=4,
            display=display_text(np.uint16), arrays={"baseline": raw_b, "output": raw_o},
            images={"heatmap": b"\x89PNG-heat", "mask": lambda: b"\x89PNG-mask"})
    s = FileSession(str(b), [rec(b, o, "same.png", "PASS"), r])
    pairs = s.pairs()
    assert [p["path"] for p in pairs] == ["a.png", "same.png"]  # those that need a decision first
    p = pairs[0]
    assert p["where_box"] == {"x0": 2, "y0": 1, "x1": 2, "y1": 1}
    assert p["display"] == "16-bit: linear 0..65535 -> 0..255"
    assert p["images"] == ["heatmap", "mask"] and p["raw_pixels"] is True
    assert p["decision"] is None and p["needs_decision"] and p["can_accept"] and p["accept_action"] == "replace"
    assert s.image("a.png", "mask") == b"\x89PNG-mask" and s.image("a.png", "output") is None
    assert s.image("../a.png", "mask") is None and s.image("a.png", "secret") is None
    assert s.pixel("a.png", 2, 1) == {"x": 2, "y": 1, "baseline": [21000, 22000, 23000], "output": [65535, 1, 2]}
    assert s.pixel("a.png", 9, 9)["baseline"] is None
    assert pairs[1]["needs_decision"] is False and pairs[1]["raw_pixels"] is False
    assert display_text(np.float32, 1.0) == "float: linear 0..1 -> 0..255 (clipped)"
    assert display_text(np.uint8) == "8-bit as stored"


def test_a_folder_where_a_new_file_would_go_is_refused_not_a_crash(folders):
    b, o = folders
    (b / "n.png").mkdir()
    write(o / "n.png", render(32, seed=5))
    s = FileSession(str(b), [PairRecord("n.png", "NEW", None, str(o / "n.png"))], output_root=str(o))
    p = s.pairs()[0]
    assert p["can_accept"] is False and "n.png" in p["refusal"]
    r = s.accept(["n.png"])
    assert not r["ok"] and r["changed"] == [] and (b / "n.png").is_dir()
