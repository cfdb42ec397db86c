"""The terminal tables at any width and in a pipe: names never split, repeated
warnings once, errors on their own line, one width rule for compare/batch/check."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_png
from rich.console import Console

from iqa_cli.commands import main
from iqa_cli.gate.rows import ERROR_S, FAIL, PASS, CheckRow
from iqa_cli.report.check_table import render_table
from iqa_cli.report.table import (
    PIPE_WIDTH,
    group_warnings,
    render,
    report_width,
    shorten_middle,
)
from iqa_cli.results import PairResult, Settings
from iqa_cli.status import PairStatus

LONG = [f"out/renders/photo_noise_long_descriptive_name_{i:03d}.png" for i in range(6)]


def _metrics(ssim: float) -> dict:
    return {"ssim": ssim, "ms_ssim": None, "mse": 8.3767, "psnr": 38.9, "tv_reference": 0.3355,
            "tv_distorted": 0.3355}


def _results() -> list[PairResult]:
    rs = [PairResult(f"ref/{p[4:]}", p, width=120, height=100, channels=3, data_range=255.0,
                     metrics=_metrics(0.99 - i / 100),
                     warnings=[f"ms_ssim: needs at least 176x176 px, image is 120x{100 + i}; not computed"])
          for i, p in enumerate(LONG[:4])]
    rs.append(PairResult(f"ref/{LONG[4][4:]}", LONG[4], status=PairStatus.SIZE_MISMATCH,
                         error="size mismatch: 120x100 vs 120x90"))
    rs.append(PairResult(f"ref/{LONG[5][4:]}", LONG[5], status=PairStatus.ERROR,
                         error=f"{LONG[5]}: corrupt PNG file (cannot decode its header)"))
    return rs


def _render(results, width: int, settings: Settings | None = None, **kw) -> str:
    buf = io.StringIO()
    render(Console(file=buf, width=width, color_system=None), settings or Settings(), results, None, **kw)
    return buf.getvalue()


def _shown_whole(name: str, lines: list[str]) -> bool:
    """``name`` is on one line, whole or as ``head…tail`` of it."""
    for line in lines:
        if name in line:
            return True
        for token in line.split():
            if "…" in token:
                head, _, tail = token.partition("…")
                if head and tail and name.startswith(head) and name.endswith(tail):
                    return True
    return False


@pytest.mark.parametrize("width", [60, 80, 120])
def test_names_never_split_at_any_width(width):
    out = _render(_results(), width)
    lines = out.splitlines()
    base = [p.rsplit("/", 1)[1] for p in LONG]  # named relative to out/renders/
    for name in base:
        assert _shown_whole(name, lines), (name, out)
    # no line holds only the end of a name (the tell-tale of folding)
    assert not any(re.match(r"^(ame|e_name|name)_\d{3}\.png", line.strip()) for line in lines)
    assert max(len(line) for line in lines if not line.startswith("settings")) <= width
    if width == 120:  # room enough: every name whole
        assert all(any(n in line for line in lines) for n in base)


def test_narrow_console_puts_long_names_on_their_own_line():
    lines = _render(_results(), 60).splitlines()
    name = "photo_noise_long_descriptive_name_000.png"
    i = next(i for i, line in enumerate(lines) if line.strip() == name)
    assert "0.990000" in lines[i + 1] and name not in lines[i + 1]  # its numbers on the next line


def test_shorten_middle_keeps_both_ends():
    s = shorten_middle("photo_noise_long_descriptive_name_042.png", 25)
    assert len(s) == 25 and s.startswith("photo_noi") and s.endswith("name_042.png") and "…" in s
    assert shorten_middle("short.png", 25) == "short.png"
    assert shorten_middle("photo_noise_long_descriptive_name_042.png", 25, uni=False).count("...") == 1


def test_repeated_warning_printed_once_with_the_count():
    rs = [PairResult(f"r/{i}.png", f"d/{i}.png", width=100, height=80 + i % 7, channels=3,
                     metrics={"ssim": 0.9, "ms_ssim": None},
                     warnings=[f"ms_ssim: needs at least 176x176 px, image is 100x{80 + i % 7}; not computed"])
              for i in range(300)]
    out = _render(rs, 80, Settings(metrics=("ssim", "ms_ssim")), worst=0)
    assert out.count("needs at least") == 1
    line = next(line for line in out.splitlines() if "needs at least" in line)
    # the count, the constant numbers kept, the per-pair size left out
    assert line.startswith("⚠ 300 pairs: ms_ssim: needs at least 176x176 px, image is 100x…")
    assert len(out.splitlines()) < 300 + 20  # one line per pair, not 4-5


def test_warnings_of_some_pairs_name_the_count_and_unique_ones_stay_on_their_row():
    rs = _results()
    rs[0].warnings.append("distorted: 3 frames: using the first and a rather long explanation " * 3)
    per_row, groups = group_warnings(rs)
    assert [len(g[0]) for g in groups] == [4]
    assert per_row[0] == [rs[0].warnings[1]] and per_row[1] == []
    out = _render(rs, 80)
    lines = out.splitlines()
    assert any(line.startswith("⚠ 4 of 6 pairs: ms_ssim: needs at least 176x176 px") for line in lines)
    i = next(i for i, line in enumerate(lines) if "3 frames" in line)
    assert lines[i].endswith("…") and len(lines[i]) <= 80  # one line, cut
    assert "photo_noise" in lines[i - 1] and "0.990000" in lines[i - 1]  # under its pair


def test_errors_on_their_own_line_under_the_pair():
    lines = _render(_results(), 120).splitlines()
    i = next(i for i, line in enumerate(lines) if "size mismatch" in line)
    assert lines[i] == "  error: size mismatch: 120x100 vs 120x90"
    assert lines[i - 1] == "photo_noise_long_descriptive_name_004.png"
    j = next(i for i, line in enumerate(lines) if "corrupt PNG" in line)
    assert lines[j] == f"  error: {LONG[5]}: corrupt PNG file (cannot decode its header)"  # not folded


def test_caption_and_settings_wrap_at_the_console_width():
    out = _render(_results(), 60)
    assert "distorted files in out/renders/; references in ref/renders/" in out
    settings_lines = out[out.index("settings:"):].split("\n\n")[0].splitlines()
    assert len(settings_lines) > 1 and all(len(line) <= 60 for line in settings_lines)


def test_ascii_console_shortens_with_dots():
    buf = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    console = Console(file=buf, width=80, color_system=None)
    render(console, Settings(), _results(), None)
    buf.flush()
    text = buf.buffer.getvalue().decode("ascii")  # nothing outside ASCII
    squashed = " ".join(text.split())
    assert "! 4 of 6 pairs: ms_ssim" in squashed and "image is 120x...; not computed" in squashed
    assert re.search(r"^photo_nois\.\.\.tive_name_000\.png +0\.990000", text, re.MULTILINE)  # shortened with dots


def test_check_table_names_and_errors():
    rows = [CheckRow(f"renders/photo_noise_long_descriptive_name_{i:03d}.png", "b", "o", PASS, False)
            for i in range(3)]
    rows.append(CheckRow("renders/photo_noise_long_descriptive_name_100.png", "base/x.png", "out/x.png", ERROR_S,
                         True, reason="out/x.png: corrupt PNG file (cannot decode its header)"))
    rows.append(CheckRow("renders/photo_noise_long_descriptive_name_101.png", "b", "o", FAIL, True,
                         reason="size mismatch: 120x100 vs 120x90"))
    for width in (60, 80, 120):
        buf = io.StringIO()
        render_table(Console(file=buf, width=width, color_system=None), rows, Settings())
        lines = buf.getvalue().splitlines()
        for r in rows:
            assert _shown_whole(r.key, lines), (width, r.key, buf.getvalue())
        stripped = [line.strip() for line in lines]
        assert "corrupt PNG file (cannot decode its header)" in stripped  # own line, path left to the row
        assert "size mismatch: 120x100 vs 120x90" in stripped
        assert max(len(line) for line in lines) <= width


def test_report_width_rule():
    assert report_width(True, 97, {"COLUMNS": "60"}) == 97  # a terminal: its own width
    assert report_width(False, 80, {}) == PIPE_WIDTH == 120
    assert report_width(False, 80, {"COLUMNS": "72"}) == 72
    assert report_width(False, 80, {"COLUMNS": "wide"}) == 120


@pytest.fixture
def long_folders(tmp_path):
    rng = np.random.default_rng(3)
    for d in ("ref", "out"):
        (tmp_path / d).mkdir()
    for i in range(3):
        a = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
        name = f"photo_noise_long_descriptive_name_for_a_pipe_{i:03d}.png"
        write_png(tmp_path / "ref" / name, a)
        write_png(tmp_path / "out" / name, np.clip(a.astype(int) + 1, 0, 255).astype(np.uint8))  # within check's tolerance
    return tmp_path


@pytest.mark.parametrize("command", ["batch", "check"])
@pytest.mark.parametrize(("columns", "width"), [(None, 120), ("64", 64)])
def test_cli_in_a_pipe_uses_the_chosen_width(long_folders, monkeypatch, command, columns, width):
    monkeypatch.chdir(long_folders)
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    args = [command, "ref", "out", "--no-progress", "-m", "ssim,psnr"]
    if command == "check":
        args.append("--no-config")
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    lines = result.stdout.splitlines()
    rule = next(line for line in lines if set(line) == {"─"})  # the header rule spans the laid-out width
    assert len(rule) <= width
    assert max(len(line) for line in lines) <= width
    for i in range(3):
        name = f"photo_noise_long_descriptive_name_for_a_pipe_{i:03d}.png"
        assert _shown_whole(name, lines)
        if width == 120:
            assert any(name in line for line in lines)  # whole: 120 has the room
    if command == "batch":  # settings line wraps at that width too
        assert any(line.startswith("settings:") and len(line) > 80 for line in lines) == (width == 120)
