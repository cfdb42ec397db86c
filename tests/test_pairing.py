"""Folder pairing for ``iqa batch`` / ``iqa check`` and file pairing for
``iqa compare``: real trees in tmp_path, exact pair lists."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from iqa_cli.errors import IqaError, UsageError
from iqa_cli.pairing import IMAGE_EXTENSIONS, Pair, pair_files, pair_folders


def make(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def trees(tmp_path: Path, ref: list[str], dist: list[str]) -> tuple[Path, Path]:
    r, d = tmp_path / "ref", tmp_path / "dist"
    r.mkdir()
    d.mkdir()
    make(r, *ref)
    make(d, *dist)
    return r, d


def rows(pairs: list[Pair], r: Path, d: Path) -> list[tuple]:
    """Pairs as (key, ref relative path or None, dist relative path or None)."""
    def rel(p: Path | None, root: Path):
        return None if p is None else p.relative_to(root).as_posix()

    return [(p.key, rel(p.reference, r), rel(p.distorted, d)) for p in pairs]


# ---------------------------------------------------------------- basics


def test_extensions_constant():
    assert IMAGE_EXTENSIONS == frozenset(
        {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm"}
    )


def test_nested_and_missing_on_both_sides(tmp_path):
    r, d = trees(
        tmp_path,
        ["a.png", "sub/b.png", "sub/deeper/c.png", "only_ref.png", "sub/only_ref2.jpg"],
        ["a.png", "sub/b.png", "sub/deeper/c.png", "only_dist.png", "new/x.tif"],
    )
    pairs, warnings = pair_folders(r, d)
    assert rows(pairs, r, d) == [
        ("a.png", "a.png", "a.png"),
        ("new/x.tif", None, "new/x.tif"),
        ("only_dist.png", None, "only_dist.png"),
        ("only_ref.png", "only_ref.png", None),
        ("sub/b.png", "sub/b.png", "sub/b.png"),
        ("sub/deeper/c.png", "sub/deeper/c.png", "sub/deeper/c.png"),
        ("sub/only_ref2.jpg", "sub/only_ref2.jpg", None),
    ]
    assert warnings == []
    statuses = {p.key: p.status for p in pairs}
    assert statuses["new/x.tif"] == "missing_reference"
    assert statuses["only_ref.png"] == "missing_distorted"
    assert statuses["a.png"] is None


def test_paths_are_folder_joined_with_relative_path(tmp_path):
    r, d = trees(tmp_path, ["s/a.png"], ["s/a.png"])
    [pair], _ = pair_folders(str(r), str(d))
    assert pair == Pair("s/a.png", r / "s" / "a.png", d / "s" / "a.png")
    assert isinstance(pair.reference, Path)


def test_path_mode_does_not_cross_extensions(tmp_path):
    r, d = trees(tmp_path, ["a.png"], ["a.jpg"])
    pairs, _ = pair_folders(r, d)
    assert rows(pairs, r, d) == [("a.jpg", None, "a.jpg"), ("a.png", "a.png", None)]


def test_non_image_files_ignored_and_extension_case_insensitive(tmp_path):
    r, d = trees(
        tmp_path,
        ["a.PNG", "b.JpEg", "notes.txt", "data.npy", "noext", "c.webp", "d.gif", "e.bmp", "f.tiff"],
        ["a.PNG", "b.JpEg", "notes.txt", "report.json", "c.webp", "d.gif", "e.bmp", "f.tiff"],
    )
    pairs, _ = pair_folders(r, d)
    assert [p.key for p in pairs] == ["a.PNG", "b.JpEg", "c.webp", "d.gif", "e.bmp", "f.tiff"]
    assert all(p.reference and p.distorted for p in pairs)


def test_hidden_files_and_dirs_skipped(tmp_path):
    r, d = trees(
        tmp_path,
        ["a.png", ".hidden.png", ".git/x.png", "sub/.cache/y.png"],
        ["a.png", ".DS_Store", ".thumbs/a.png"],
    )
    pairs, _ = pair_folders(r, d)
    assert rows(pairs, r, d) == [("a.png", "a.png", "a.png")]


def test_empty_folders_give_no_pairs(tmp_path):
    r, d = trees(tmp_path, ["readme.txt"], [])
    assert pair_folders(r, d) == ([], [])


def test_sorted_by_key(tmp_path):
    names = ["b.png", "a/z.png", "A.png", "a.png", "a0.png", "img10.png", "img2.png"]
    r, d = trees(tmp_path, names, names)
    pairs, _ = pair_folders(r, d)
    keys = [p.key for p in pairs]
    assert keys == sorted(names)


# ---------------------------------------------------------------- stem mode


def test_stem_matching_across_extensions(tmp_path):
    r, d = trees(
        tmp_path,
        ["a.png", "sub/b.png", "c.tif", "only_ref.png", "x.y.png"],
        ["a.jpg", "sub/b.webp", "c.tif", "only_dist.jpeg", "x.y.jpg"],
    )
    pairs, warnings = pair_folders(r, d, match="stem")
    assert rows(pairs, r, d) == [
        ("a", "a.png", "a.jpg"),
        ("c", "c.tif", "c.tif"),
        ("only_dist", None, "only_dist.jpeg"),
        ("only_ref", "only_ref.png", None),
        ("sub/b", "sub/b.png", "sub/b.webp"),
        ("x.y", "x.y.png", "x.y.jpg"),
    ]
    assert warnings == []


def test_ambiguous_stem_prefers_same_extension(tmp_path):
    r, d = trees(tmp_path, ["a.png"], ["a.jpg", "a.png"])
    pairs, warnings = pair_folders(r, d, match="stem")
    # the file left over is an error row, so no report loses it
    assert rows(pairs, r, d) == [("a", "a.png", "a.png"), ("a.jpg", None, "a.jpg")]
    assert pairs[0].problem is None and "ambiguous stem 'a'" in pairs[1].problem
    assert len(warnings) == 1
    w = warnings[0]
    assert "ambiguous stem 'a'" in w
    assert str(d / "a.jpg") in w and str(d / "a.png") in w
    assert "not paired (error rows): " + str(d / "a.jpg") in w


def test_ambiguous_stem_without_same_extension_takes_first(tmp_path):
    r, d = trees(tmp_path, ["s/a.tif"], ["s/a.png", "s/a.jpg"])
    pairs, warnings = pair_folders(r, d, match="stem")
    assert rows(pairs, r, d) == [("s/a", "s/a.tif", "s/a.jpg"), ("s/a.png", None, "s/a.png")]
    assert len(warnings) == 1
    assert str(d / "s" / "a.jpg") in warnings[0] and str(d / "s" / "a.png") in warnings[0]


def test_ambiguous_stem_on_reference_side(tmp_path):
    r, d = trees(tmp_path, ["a.png", "a.jpg"], ["a.webp"])
    pairs, warnings = pair_folders(r, d, match="stem")
    assert rows(pairs, r, d) == [("a", "a.jpg", "a.webp"), ("a.png", "a.png", None)]
    assert len(warnings) == 1 and str(r / "a.png") in warnings[0]


def test_ambiguous_stem_on_both_sides_pairs_each_extension(tmp_path):
    r, d = trees(tmp_path, ["a.png", "a.jpg"], ["a.jpg", "a.png"])
    pairs, warnings = pair_folders(r, d, match="stem")
    # two pairs from one stem: keys stay unique by keeping the extension
    assert rows(pairs, r, d) == [("a.jpg", "a.jpg", "a.jpg"), ("a.png", "a.png", "a.png")]
    assert len(warnings) == 1 and "not paired" not in warnings[0]


def test_ambiguous_stem_one_side_only(tmp_path):
    r, d = trees(tmp_path, ["a.png", "a.jpg"], [])
    pairs, warnings = pair_folders(r, d, match="stem")
    assert rows(pairs, r, d) == [("a", "a.jpg", None), ("a.png", "a.png", None)]
    assert pairs[1].problem and not pairs[0].problem
    assert len(warnings) == 1 and str(r / "a.png") in warnings[0]


def test_unknown_match_mode(tmp_path):
    r, d = trees(tmp_path, [], [])
    with pytest.raises(UsageError, match="match must be one of"):
        pair_folders(r, d, match="name")


# ---------------------------------------------------------------- include / exclude


FILES = ["a.png", "a.jpg", "sub/b.png", "sub/deep/c.png", "thumbs/t.png", "x/thumbs/u.png"]


@pytest.mark.parametrize(
    "include, exclude, expected",
    [
        ((), (), sorted(FILES)),
        (("*.png",), (), ["a.png", "sub/b.png", "sub/deep/c.png", "thumbs/t.png", "x/thumbs/u.png"]),
        (("*.jpg",), (), ["a.jpg"]),
        (("sub/*.png",), (), ["sub/b.png"]),  # * does not cross "/"
        (("sub/**",), (), ["sub/b.png", "sub/deep/c.png"]),
        (("sub/**/*.png",), (), ["sub/b.png", "sub/deep/c.png"]),
        (("**/c.png",), (), ["sub/deep/c.png"]),
        (("sub",), (), ["sub/b.png", "sub/deep/c.png"]),  # a folder covers what is below
        # "sub/*" matches the folder sub/deep too, which covers its files (as in .gitignore)
        (("*.jpg", "sub/*"), (), ["a.jpg", "sub/b.png", "sub/deep/c.png"]),
        ((), ("thumbs",), ["a.jpg", "a.png", "sub/b.png", "sub/deep/c.png"]),
        ((), ("/thumbs",), ["a.jpg", "a.png", "sub/b.png", "sub/deep/c.png", "x/thumbs/u.png"]),
        ((), ("*.jpg", "sub/deep/**"), ["a.png", "sub/b.png", "thumbs/t.png", "x/thumbs/u.png"]),
        ((), ("a.*",), ["sub/b.png", "sub/deep/c.png", "thumbs/t.png", "x/thumbs/u.png"]),
        (("*.png",), ("**/thumbs/**",), ["a.png", "sub/b.png", "sub/deep/c.png"]),
        (("[ab].png", "sub/?.png"), (), ["a.png", "sub/b.png"]),
        (("[!a]*.png",), (), ["sub/b.png", "sub/deep/c.png", "thumbs/t.png", "x/thumbs/u.png"]),
        (("a.png/",), (), []),  # trailing "/": folders only
        (("./sub/b.png",), (), ["sub/b.png"]),
        (("nothing*",), (), []),
    ],
)
def test_include_exclude(tmp_path, include, exclude, expected):
    r, d = trees(tmp_path, FILES, FILES)
    pairs, warnings = pair_folders(r, d, include=include, exclude=exclude)
    assert [p.key for p in pairs] == expected
    assert all(p.reference and p.distorted for p in pairs)
    assert warnings == []


def test_include_exclude_apply_to_both_sides_and_stem_keys(tmp_path):
    r, d = trees(tmp_path, ["a.png", "b.png", "skip/c.png"], ["a.jpg", "b.jpg", "skip/c.jpg"])
    pairs, _ = pair_folders(r, d, match="stem", exclude=["skip", "b.*"])
    assert rows(pairs, r, d) == [("a", "a.png", "a.jpg")]


def test_single_string_pattern_is_one_pattern(tmp_path):
    r, d = trees(tmp_path, ["a.png", "b.png"], ["a.png", "b.png"])
    pairs, _ = pair_folders(r, d, include="a.png")
    assert [p.key for p in pairs] == ["a.png"]


def test_empty_pattern_is_usage_error(tmp_path):
    r, d = trees(tmp_path, [], [])
    with pytest.raises(UsageError, match="exclude: empty pattern"):
        pair_folders(r, d, exclude=["/"])


# ---------------------------------------------------------------- links


needs_symlinks = pytest.mark.skipif(
    not hasattr(os, "symlink") or sys.platform == "win32", reason="needs POSIX symlinks"
)


@needs_symlinks
def test_symlinked_files_and_dirs_followed(tmp_path):
    r, d = trees(tmp_path, ["real/a.png"], ["linked/a.png", "b.png"])
    outside = tmp_path / "outside"
    make(outside, "o.png")
    os.symlink(outside, r / "linked")  # folder link
    os.symlink(r / "real" / "a.png", r / "b.png")  # file link
    pairs, warnings = pair_folders(r, d)
    assert rows(pairs, r, d) == [
        ("b.png", "b.png", "b.png"),
        ("linked/a.png", None, "linked/a.png"),
        ("linked/o.png", "linked/o.png", None),
        ("real/a.png", "real/a.png", None),
    ]
    assert warnings == []
    # the link's path is kept, not its target
    assert pairs[0].reference == r / "b.png"


@needs_symlinks
def test_symlink_loop_terminates_and_warns(tmp_path):
    r, d = trees(tmp_path, ["a.png", "sub/b.png"], ["a.png", "sub/b.png"])
    os.symlink("..", r / "sub" / "loop")  # back to the root
    os.symlink(".", d / "sub" / "self")  # to itself
    os.symlink(tmp_path, d / "up")  # to an ancestor of the root
    os.symlink("/", d / "rootfs")  # to / (would walk the whole disk)
    start = time.monotonic()
    pairs, warnings = pair_folders(r, d)
    assert time.monotonic() - start < 5
    assert rows(pairs, r, d) == [("a.png", "a.png", "a.png"), ("sub/b.png", "sub/b.png", "sub/b.png")]
    assert len(warnings) == 4
    joined = "\n".join(warnings)
    for link in (r / "sub" / "loop", d / "sub" / "self", d / "up", d / "rootfs"):
        assert f"{link}: symbolic link loop" in joined


@needs_symlinks
def test_mutual_symlink_loop_below_root(tmp_path):
    r, d = trees(tmp_path, ["x/a.png", "y/b.png"], [])
    os.symlink("../y", r / "x" / "to_y")
    os.symlink("../x", r / "y" / "to_x")
    pairs, warnings = pair_folders(r, d)
    # each folder is entered once through the other before the loop closes
    assert [p.key for p in pairs] == ["x/a.png", "x/to_y/b.png", "y/b.png", "y/to_x/a.png"]
    assert len(warnings) == 2 and all("symbolic link loop" in w for w in warnings)


@needs_symlinks
def test_broken_symlink_and_fifo_are_error_pairs(tmp_path):
    """An image name that exists but cannot be read is a pair with a problem
    (an error row), never a file that is not there (which --update --prune
    would take for a deleted output)."""
    r, d = trees(tmp_path, ["a.png", "b.png", "f.png"], ["a.png"])
    os.symlink(tmp_path / "gone.png", d / "b.png")
    os.mkfifo(d / "f.png")
    os.symlink(tmp_path / "gone.txt", r / "c.txt")  # not an image: silent
    pairs, warnings = pair_folders(r, d)
    assert warnings == []
    by_key = {p.key: p for p in pairs}
    assert sorted(by_key) == ["a.png", "b.png", "f.png"]
    assert by_key["a.png"].problem is None
    assert by_key["b.png"].problem == f"{d / 'b.png'}: broken symbolic link"
    assert by_key["f.png"].problem == f"{d / 'f.png'}: not a regular file (a FIFO)"
    assert by_key["b.png"].distorted == d / "b.png" and by_key["b.png"].reference == r / "b.png"


def test_unreadable_subdirectory_warns(tmp_path, monkeypatch):
    r, d = trees(tmp_path, ["a.png", "locked/b.png"], ["a.png"])
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    pairs, warnings = pair_folders(r, d)
    assert [p.key for p in pairs] == ["a.png"]
    assert warnings == [f"{r / 'locked'}: cannot read directory (Permission denied); skipped"]


@pytest.mark.skipif(
    sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
    reason="needs POSIX permissions and a non-root user",
)
def test_unreadable_subdirectory_real_permissions(tmp_path):
    r, d = trees(tmp_path, ["a.png", "locked/b.png"], ["a.png"])
    (r / "locked").chmod(0)
    try:
        pairs, warnings = pair_folders(r, d)
    finally:
        (r / "locked").chmod(0o755)
    assert [p.key for p in pairs] == ["a.png"]
    assert len(warnings) == 1 and "cannot read directory" in warnings[0]


# ---------------------------------------------------------------- errors


def test_missing_folder_is_one_line_error(tmp_path):
    r, d = trees(tmp_path, [], [])
    with pytest.raises(UsageError) as exc:
        pair_folders(tmp_path / "nope", d)
    msg = str(exc.value)
    assert "\n" not in msg and str(tmp_path / "nope") in msg and "not found" in msg
    assert exc.value.path == str(tmp_path / "nope")
    with pytest.raises(IqaError, match="distorted folder not found"):
        pair_folders(r, tmp_path / "nope")


def test_file_instead_of_folder(tmp_path):
    r, d = trees(tmp_path, ["a.png"], [])
    with pytest.raises(UsageError, match="is not a directory") as exc:
        pair_folders(r / "a.png", d)
    assert exc.value.path == str(r / "a.png")
    assert exc.value.exit_code == 2


def test_same_folder_warns(tmp_path):
    r, _ = trees(tmp_path, ["a.png"], [])
    pairs, warnings = pair_folders(r, r)
    assert rows(pairs, r, r) == [("a.png", "a.png", "a.png")]
    assert len(warnings) == 1 and "same folder" in warnings[0]


def test_nested_folder_warns(tmp_path):
    r, _ = trees(tmp_path, ["a.png", "out/a.png"], [])
    pairs, warnings = pair_folders(r, r / "out")
    assert rows(pairs, r, r / "out") == [("a.png", "a.png", "a.png"), ("out/a.png", "out/a.png", None)]
    assert len(warnings) == 1 and "is inside" in warnings[0]


# ---------------------------------------------------------------- names


def test_spaces_and_non_ascii_names(tmp_path):
    names = ["my photo.png", "ünïcödé/日本語 画像.jpg", "emoji 🙂.png", "Ελληνικά/κ.tif"]
    r, d = trees(tmp_path, names, names)
    pairs, warnings = pair_folders(r, d)
    assert rows(pairs, r, d) == [(n, n, n) for n in sorted(names)]
    assert all(p.reference.exists() and p.distorted.exists() for p in pairs)
    assert warnings == []


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems normalise names")
def test_nfc_and_nfd_names_pair(tmp_path):
    nfc = unicodedata.normalize("NFC", "café.png")
    nfd = unicodedata.normalize("NFD", "café.png")
    assert nfc != nfd
    r, d = trees(tmp_path, [nfc], [nfd])
    [pair], warnings = pair_folders(r, d)
    assert pair.key == nfc
    assert pair.reference == r / nfc and pair.distorted == d / nfd
    assert warnings == []


# ---------------------------------------------------------------- compare mode


def test_pair_files_keeps_order(tmp_path):
    pairs = pair_files(tmp_path / "ref.png", [tmp_path / "b.png", str(tmp_path / "a.jpg")])
    assert pairs == [
        Pair((tmp_path / "b.png").as_posix(), tmp_path / "ref.png", tmp_path / "b.png"),
        Pair((tmp_path / "a.jpg").as_posix(), tmp_path / "ref.png", tmp_path / "a.jpg"),
    ]


def test_pair_files_relative_and_empty():
    assert pair_files("r.png", ["d 1.png"]) == [Pair("d 1.png", Path("r.png"), Path("d 1.png"))]
    assert pair_files("r.png", []) == []


# ---------------------------------------------------------------- scale


def test_ten_thousand_files_fast(tmp_path):
    names = [f"d{i // 500:02d}/img_{i:05d}.png" for i in range(10_000)]
    r, d = tmp_path / "ref", tmp_path / "dist"
    for root in (r, d):
        for i in range(20):
            (root / f"d{i:02d}").mkdir(parents=True)
        for n in names:
            (root / n).touch()
    start = time.monotonic()
    pairs, warnings = pair_folders(r, d, exclude=["*.tif"])
    elapsed = time.monotonic() - start
    assert len(pairs) == 10_000 and warnings == []
    assert [p.key for p in pairs] == sorted(names)
    assert elapsed < 5, elapsed


def test_no_torch_import():
    code = "import sys, iqa_cli.pairing; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
