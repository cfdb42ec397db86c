"""Reports: strict JSON / JSONL, the contract CSV, the rich table, atomic writes,
and the summary statistics they all print."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys

import pytest
from rich.console import Console

from iqa_cli._version import __version__
from iqa_cli.errors import IqaError
from iqa_cli.atomic import atomic_write
from iqa_cli.report.csv import CSV_COLUMNS, CsvWriter, csv_columns, write_csv
from iqa_cli.report.json import JsonlWriter, to_json_text, write_json
from iqa_cli.formatting import table_value as format_value
from iqa_cli.report.table import ranking_column, render, worst_pairs
from iqa_cli.results import (
    PairResult,
    Settings,
    document,
    summarize,
)
from iqa_cli.status import PairStatus

ERROR, MISSING_DISTORTED, MISSING_REFERENCE = PairStatus.ERROR, PairStatus.MISSING_DISTORTED, PairStatus.MISSING_REFERENCE

CONTRACT_HEADER = (
    "reference,distorted,status,width,height,channels,ssim,ms_ssim,mse,psnr,"
    "tv_reference,tv_distorted,mix,protocol,crop_border,error,schema"
)


def _no_constants(name: str):
    raise AssertionError(f"non-strict JSON constant {name!r}")


def strict_loads(text: str):
    return json.loads(text, parse_constant=_no_constants)


def _metrics(**over):
    m = {
        "ssim": 0.9123456789012345,
        "ms_ssim": 0.97,
        "mse": 12.5,
        "psnr": 37.16122946947577,
        "tv_reference": 0.061,
        "tv_distorted": 0.064,
        "mix": 0.021,
    }
    m.update(over)
    return m


@pytest.fixture
def results() -> list[PairResult]:
    return [
        PairResult("ref/a.png", "out/a.png", width=512, height=512, channels=3, data_range=255.0,
                   metrics=_metrics()),
        PairResult("ref/b.png", "out/b.png", width=512, height=384, channels=3, data_range=255.0,
                   metrics=_metrics(ssim=1.0, ms_ssim=1.0, mse=0.0, psnr=math.inf)),
        PairResult("ref/c.png", "out/c.png", width=200, height=200, channels=4, data_range=65535.0,
                   metrics=_metrics(ssim=0.5, ms_ssim=math.nan, mse=0.1 + 0.2, psnr=20.25)),
        PairResult("ref/d.png", "out/d.png", width=100, height=100, channels=1, data_range=255.0,
                   metrics=_metrics(ssim=0.75, ms_ssim=None, psnr=30.0),
                   warnings=["ms_ssim: 100x100 is below 176 px; MS-SSIM is null"]),
        PairResult("ref/e.png", "out/e.png", status=ERROR, error="size mismatch: 640x480 vs 641x480"),
        PairResult(None, "out/f.png", status=MISSING_REFERENCE),
    ]


# --------------------------------------------------------------------------- JSON


def test_json_document_is_strict_and_follows_schema(results):
    settings = Settings()
    text = to_json_text(document(settings, results))
    doc = strict_loads(text)
    assert "NaN" not in text and "Infinity" not in text
    assert text.startswith('{\n  "schema"')  # indent 2
    assert set(doc) == {"schema", "iqa_version", "settings", "pairs", "summary"}
    assert doc["schema"] == "iqa/2"
    assert doc["iqa_version"] == __version__
    assert doc["settings"] == {
        "metrics": ["ssim", "ms_ssim", "mse", "psnr", "tv"],
        "color": "rgb",
        "alpha": "premultiplied",
        "downsample": "none",
        "data_range": "dtype",
        "device": "cpu",
        "protocol": "wang",
        "crop_border": 0,
        "tv_reduction": "mean",
        "bit_depth": None,
        "mix": {"variant": "zhao", "alpha": 0.84},
        "below": 0.9,
        "pixel_tol": 0.0,
        "block": 16,
        "max_pixels": None,
        "tolerance": 0.0,
        "ignore": [],
        "mask": None,
        "exif_transpose": False,
        "frames": "exact",
        "offset": 0,
        "find_offset": 0,
        "pool": "mean",
    }  # iqa/2 records every setting
    assert [p["status"] for p in doc["pairs"]] == ["ok", "ok", "ok", "ok", "error", "missing_reference"]
    a, b, c, d, e, f = doc["pairs"]
    assert a == {
        "reference": "ref/a.png", "distorted": "out/a.png", "status": "ok",
        "width": 512, "height": 512, "channels": 3, "data_range": 255,
        "metrics": _metrics(), "warnings": [], "error": None,
    }  # fmt: skip
    assert b["metrics"]["psnr"] == "inf"
    assert c["metrics"]["ms_ssim"] == "nan"
    assert c["metrics"]["mse"] == 0.1 + 0.2  # full precision survives
    assert d["metrics"]["ms_ssim"] is None and d["warnings"] == results[3].warnings
    assert e["error"] == "size mismatch: 640x480 vs 641x480" and e["metrics"] == {}
    assert f["reference"] is None and f["width"] is None

    s = doc["summary"]
    assert (s["pairs"], s["ok"], s["errors"], s["missing"]) == (6, 4, 1, 1)
    assert s["metrics"]["psnr"]["max"] == "inf"
    assert s["metrics"]["psnr"]["infinite"] == 1  # the identical pair, left out of mean and std
    finite = [r.metrics["psnr"] for r in results if r.ok and math.isfinite(r.metrics["psnr"])]
    assert s["metrics"]["psnr"]["n"] == 4 and s["metrics"]["psnr"]["mean"] == pytest.approx(sum(finite) / 3, abs=0)
    assert s["metrics"]["ms_ssim"]["n"] == 2  # NaN and None left out
    assert s["metrics"]["ssim"]["min"] == 0.5


def test_json_safety_net_converts_stray_non_finite_values():
    text = to_json_text({"a": math.nan, "b": [math.inf, -math.inf], "c": (1, 2.5)})
    assert strict_loads(text) == {"a": "nan", "b": ["inf", "-inf"], "c": [1, 2.5]}


def test_json_numpy_scalars_are_plain_numbers():
    np = pytest.importorskip("numpy")
    doc = {"x": np.float32(0.5), "n": np.int64(3), "v": np.float64(np.nan), "arr": np.arange(2)}
    text = to_json_text(doc)
    assert strict_loads(text) == {"x": 0.5, "n": 3, "v": "nan", "arr": [0, 1]}


def test_write_json_ends_with_newline(results):
    buf = io.StringIO()
    write_json(buf, document(Settings(), results[:1]))
    assert buf.getvalue().endswith("}\n")
    strict_loads(buf.getvalue())


def test_non_ascii_and_surrogate_paths_survive_json():
    weird = "out/caf\u00e9 [1]/\udcff.png"  # a name that is not valid UTF-8 (os.fsdecode)
    r = PairResult("ref/x.png", weird, metrics={"ssim": 1.0})
    text = to_json_text(document(Settings(metrics=("ssim",)), [r]))
    text.encode("ascii")  # pure ASCII, writable anywhere
    assert strict_loads(text)["pairs"][0]["distorted"] == weird


# --------------------------------------------------------------------------- JSONL


def test_jsonl_lines_are_complete_and_end_with_summary(results):
    settings = Settings()
    buf = io.StringIO()
    w = JsonlWriter(buf)
    for r in results:
        w.write_pair(r)
    w.write_summary(summarize(results, settings.columns), settings)
    assert w.count == len(results)

    text = buf.getvalue()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == len(results) + 1
    objs = [strict_loads(line) for line in lines]
    for obj, r in zip(objs, results):
        assert obj["schema"] == "iqa/2" and obj["type"] == "pair"
        body = {k: v for k, v in obj.items() if k not in ("schema", "type")}
        assert body == strict_loads(json.dumps(r.to_json()))
    last = objs[-1]
    assert last["type"] == "summary" and last["schema"] == "iqa/2"
    assert last["iqa_version"] == __version__
    assert last["settings"] == settings.to_json()
    assert last["summary"] == document(settings, results)["summary"]
    assert objs[1]["metrics"]["psnr"] == "inf"


def test_jsonl_flushes_every_line(results):
    class Recorder(io.StringIO):
        def __init__(self):
            super().__init__()
            self.seen: list[str] = []

        def flush(self):
            self.seen.append(self.getvalue())

    buf = Recorder()
    w = JsonlWriter(buf)
    w.write_pair(results[0])
    assert buf.seen and buf.seen[-1].count("\n") == 1  # the line is out before the next pair
    w.write_pair(results[1])
    assert buf.seen[-1].count("\n") == 2


# --------------------------------------------------------------------------- CSV


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_header_is_the_contract():
    assert ",".join(CSV_COLUMNS) == CONTRACT_HEADER
    assert csv_columns(Settings()) == list(CSV_COLUMNS)
    # fixed even when fewer metrics are selected
    assert csv_columns(Settings(metrics=("ssim",))) == list(CSV_COLUMNS)


def test_csv_rows_exact_values(results):
    buf = io.StringIO()
    write_csv(buf, Settings(), results)
    rows = _read_csv(buf.getvalue())
    assert ",".join(rows[0]) == CONTRACT_HEADER
    assert len(rows) == 1 + len(results)
    recs = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)

    a, b, c, d, e, f = recs
    assert a["reference"] == "ref/a.png" and a["distorted"] == "out/a.png" and a["status"] == "ok"
    assert (a["width"], a["height"], a["channels"]) == ("512", "512", "3")
    for col, value in _metrics().items():
        assert float(a[col]) == value  # exact round trip
    assert a["ssim"] == repr(0.9123456789012345)
    assert a["error"] == ""
    assert b["psnr"] == "inf" and float(b["psnr"]) == math.inf
    assert b["mse"] == "0.0"
    assert c["ms_ssim"] == "nan"
    assert float(c["mse"]) == 0.1 + 0.2
    assert d["ms_ssim"] == ""  # null -> empty
    assert e["status"] == "error" and e["error"] == "size mismatch: 640x480 vs 641x480"
    assert all(e[col] == "" for col in CSV_COLUMNS[3:-4]) and e["schema"] == "iqa/2"
    assert f["status"] == "missing_reference" and f["reference"] == "" and f["distorted"] == "out/f.png"


def test_csv_unselected_metrics_are_empty_and_local_columns_appended():
    settings = Settings(metrics=("ssim", "ssim_min", "diff_ratio", "diff_pixels"))
    r = PairResult("r.png", "d.png", width=4, height=2, channels=3,
                   metrics={"ssim": 0.5, "ssim_min": -0.25, "diff_pixels": 3, "diff_ratio": 0.375})
    buf = io.StringIO()
    w = CsvWriter(buf, settings)
    w.write_pair(r)  # writes the header first
    rows = _read_csv(buf.getvalue())
    assert rows[0] == [*CSV_COLUMNS[:-4], "ssim_min", "diff_pixels", "diff_ratio", "protocol", "crop_border", "error",
                       "schema"]
    rec = dict(zip(rows[0], rows[1]))
    assert rec["ssim"] == "0.5" and rec["psnr"] == "" and rec["mix"] == ""
    assert rec["ssim_min"] == "-0.25" and rec["diff_pixels"] == "3" and rec["diff_ratio"] == "0.375"
    assert len(rows) == 2


def test_csv_quotes_awkward_cells():
    r = PairResult('ref/a,"b".png', "out/x\ny.png", status=ERROR, error="cannot read: bad, very bad")
    buf = io.StringIO()
    write_csv(buf, Settings(), [r])
    rec = dict(zip(*_read_csv(buf.getvalue())))
    assert rec["reference"] == 'ref/a,"b".png' and rec["distorted"] == "out/x\ny.png"
    assert rec["error"] == "cannot read: bad, very bad"


def test_csv_writer_header_once_and_flushes():
    buf = io.StringIO()
    w = CsvWriter(buf, Settings())
    w.write_header()
    w.write_header()
    w.write_pair(PairResult("r", "d", metrics={"ssim": 1.0}))
    assert buf.getvalue().count("reference,distorted") == 1
    assert buf.getvalue().endswith("\n") and "\r" not in buf.getvalue()


# --------------------------------------------------------------------------- atomic_write


def _listing(path) -> list[str]:
    return sorted(os.listdir(path))


def test_atomic_write_success(tmp_path):
    target = tmp_path / "report.json"
    with atomic_write(target) as f:
        f.write("héllo\n")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert _listing(tmp_path) == ["report.json"]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_failure_leaves_nothing(tmp_path, exc):
    target = tmp_path / "report.csv"
    with pytest.raises(exc):
        with atomic_write(target, newline="") as f:
            f.write("partial")
            raise exc()
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_failure_keeps_previous_target(tmp_path, exc):
    target = tmp_path / "report.csv"
    target.write_text("old report\n")
    with pytest.raises(exc):
        with atomic_write(target) as f:
            f.write("new, half written")
            raise exc()
    assert target.read_text() == "old report\n"
    assert _listing(tmp_path) == ["report.csv"]


def test_atomic_write_replaces_and_keeps_permissions(tmp_path):
    target = tmp_path / "r.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_write(target) as f:
        f.write("new")
    assert target.read_text() == "new"
    if os.name == "posix":
        assert os.stat(target).st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.name != "posix", reason="umask is POSIX")
def test_atomic_write_new_file_uses_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "n.txt") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "n.txt").st_mode & 0o777 == 0o644


def test_atomic_write_binary(tmp_path):
    with atomic_write(tmp_path / "b.bin", "wb") as f:
        f.write(b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"


def test_atomic_write_missing_directory_is_one_line_error(tmp_path):
    target = tmp_path / "nope" / "r.json"
    with pytest.raises(IqaError) as ei:
        with atomic_write(target) as f:
            f.write("x")
    msg = str(ei.value)
    assert "\n" not in msg and str(target) in msg and "does not exist" in msg
    assert ei.value.path == str(target)


def test_atomic_write_target_is_directory(tmp_path):
    with pytest.raises(IqaError, match="is a directory"):
        with atomic_write(tmp_path) as f:
            f.write("x")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_atomic_write_unwritable_directory(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o500)
    try:
        with pytest.raises(IqaError, match="permission denied"):
            with atomic_write(d / "r.json") as f:
                f.write("x")
    finally:
        os.chmod(d, 0o700)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_atomic_write_to_device_writes_through():
    with atomic_write("/dev/null") as f:
        f.write("discarded")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_atomic_write_through_symlink(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    try:
        link.symlink_to(real)
    except OSError:
        pytest.skip("symlinks not available")
    with atomic_write(link) as f:
        f.write("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_atomic_write_error_inside_block_is_not_rewrapped(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "r.txt"):
            open(tmp_path / "missing-input.png")
    assert _listing(tmp_path) == []


# --------------------------------------------------------------------------- table


def _render(settings, results, *, width=100, **kw) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None)
    render(console, settings, results, None, **kw)
    return buf.getvalue()


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_table_contains_names_numbers_and_settings(results):
    settings = Settings()
    out = _render(settings, results)
    for name in ("a.png", "b.png", "c.png", "d.png", "e.png", "f.png"):
        assert name in out
    assert "out/a.png" not in out  # named relative to the shared directory...
    assert "distorted files in out" in out  # ...which the caption names
    assert "0.912346" in out  # SSIM, 6 decimals
    assert "37.16" in out and "37.161" not in out  # PSNR, 2 decimals
    assert "∞" in out  # inf PSNR
    assert "nan" in out  # NaN MS-SSIM
    assert "—" in out  # null MS-SSIM
    assert "size mismatch: 640x480 vs 641x480" in _squash(out)
    assert "missing reference" in out
    assert "below 176 px" in _squash(out)  # warning on its row
    assert _squash("settings: " + settings.describe()) in _squash(out)
    # summary table with the statistics, and the status counts
    assert "summary" in out and "median" in out and "std" in out
    assert "6 pairs: 4 ok, 1 error, 1 missing" in out
    assert "worst" not in out  # 4 ranked pairs <= 5


def test_table_fits_80_columns(results):
    out = _render(Settings(), results, width=80)
    assert max(len(line.rstrip("\n")) for line in out.splitlines()) <= 80
    assert "…" not in out  # no number was truncated
    assert "0.912346" in out and "37.16" in out and "a.png" in out


def test_table_single_pair_has_no_summary():
    r = PairResult("ref.png", "dist.png", width=8, height=8, channels=3,
                   metrics={"ssim": 0.25, "psnr": 48.13080360867909})
    out = _render(Settings(metrics=("ssim", "psnr")), [r])
    assert "dist.png" in out and "0.250000" in out and "48.13" in out
    assert "summary" not in out and "worst" not in out
    assert "settings:" in out


def test_table_worst_pairs_by_first_directed_metric():
    rs = [PairResult(f"r/{i}.png", f"d/{i}.png", metrics={"tv_reference": 0.1, "ssim": s, "mse": 1.0})
          for i, s in enumerate([0.9, 0.2, 0.95, 0.5, math.nan, 0.7, 0.99])]
    settings = Settings(metrics=("tv", "ssim", "mse"))
    assert ranking_column(settings.columns) == "ssim"  # tv has no direction
    assert [r.distorted for r in worst_pairs(rs, "ssim", 3)] == ["d/1.png", "d/3.png", "d/5.png"]
    out = _render(settings, rs, worst=3)
    assert "worst 3 by SSIM (lowest)" in out
    tail = out[out.index("worst 3"):]
    assert tail.index("1.png") < tail.index("3.png") < tail.index("5.png")
    assert "0.png" not in tail and "4.png" not in tail  # NaN is not ranked
    assert "worst" not in _render(settings, rs, worst=0)


def test_worst_pairs_lower_is_better():
    rs = [PairResult("r", f"d{i}", metrics={"mse": v}) for i, v in enumerate([1.0, 9.0, 4.0])]
    assert [r.distorted for r in worst_pairs(rs, "mse", 2)] == ["d1", "d2"]


def test_table_ref_arrow_when_references_differ():
    rs = [PairResult("refs/x.png", "out/1.png", metrics={"ssim": 1.0}),
          PairResult("refs/y.png", "out/2.png", metrics={"ssim": 0.5})]
    out = _render(Settings(metrics=("ssim",)), rs)
    assert "refs/x.png → out/1.png" in out


def test_table_markup_in_names_is_literal():
    r = PairResult("ref/[bold]x[/bold].png", "out/[red]y[/].png", metrics={"ssim": 1.0})
    out = _render(Settings(metrics=("ssim",)), [r])
    assert "out/[red]y[/].png" in out


def test_table_ascii_console(results):
    buf = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    console = Console(file=buf, width=100, color_system=None)
    assert console.encoding == "ascii"
    render(console, Settings(), results, None)
    buf.flush()
    text = buf.buffer.getvalue().decode("ascii")  # nothing outside ASCII
    assert "inf" in text and "0.912346" in text


@pytest.mark.parametrize(
    ("column", "value", "text"),
    [
        ("ssim", 0.91234567, "0.912346"),
        ("psnr", 37.166, "37.17"),
        ("psnr", math.inf, "∞"),
        ("ms_ssim", math.nan, "nan"),
        ("ms_ssim", None, "—"),
        ("mse", 12.5, "12.5000"),
        ("mse", 1234567.0, "1.235e+06"),
        ("diff_pixels", 42, "42"),
        ("tv_reference", 0.0612345, "0.0612"),
        ("psnr", "inf", "∞"),  # summaries already in JSON form
    ],
)
def test_format_value(column, value, text):
    assert format_value(column, value) == text


def test_format_value_ascii():
    assert format_value("psnr", math.inf, unicode=False) == "inf"
    assert format_value("psnr", -math.inf, unicode=False) == "-inf"
    assert format_value("ssim", None, unicode=False) == "-"


# --------------------------------------------------------------------------- summarize


def _ok(**metrics) -> PairResult:
    return PairResult("r", "d", metrics=metrics)


def test_summarize_known_values():
    rs = [_ok(ssim=v) for v in (0.5, 0.75, 1.0, 0.25)]
    s = summarize(rs, ["ssim"])["metrics"]["ssim"]
    assert s["n"] == 4
    assert s["mean"] == pytest.approx(0.625)
    assert s["median"] == pytest.approx(0.625)
    assert s["min"] == 0.25 and s["max"] == 1.0
    assert s["std"] == pytest.approx(math.sqrt(sum((v - 0.625) ** 2 for v in (0.5, 0.75, 1.0, 0.25)) / 4))


def test_summarize_excludes_nan_none_and_failed_pairs():
    rs = [
        _ok(ms_ssim=0.8), _ok(ms_ssim=math.nan), _ok(ms_ssim=None), _ok(ms_ssim=0.9), _ok(),
        PairResult("r", "d", status=ERROR, error="x", metrics={"ms_ssim": 0.0}),
        PairResult("r", None, status=MISSING_DISTORTED),
    ]
    s = summarize(rs, ["ms_ssim", "ssim"])
    assert (s["pairs"], s["ok"], s["errors"], s["missing"]) == (7, 5, 1, 1)
    m = s["metrics"]["ms_ssim"]
    assert m["n"] == 2 and m["mean"] == pytest.approx(0.85) and m["median"] == pytest.approx(0.85)
    assert "ssim" not in s["metrics"]  # no values at all: no entry


def test_summarize_single_value_std_zero():
    s = summarize([_ok(mse=3.0)], ["mse"])["metrics"]["mse"]
    assert s == {"n": 1, "mean": 3.0, "std": 0.0, "min": 3.0, "median": 3.0, "max": 3.0}


def test_summarize_inf_psnr():
    """An identical pair (PSNR ∞) is counted, and the mean and std pool the finite values."""
    s = summarize([_ok(psnr=30.0), _ok(psnr=math.inf), _ok(psnr=40.0)], ["psnr"])["metrics"]["psnr"]
    assert s["n"] == 3 and s["infinite"] == 1
    assert s["mean"] == 35.0 and s["std"] == 5.0
    assert s["min"] == 30.0 and s["median"] == 40.0 and s["max"] == math.inf
    s = summarize([_ok(psnr=math.inf), _ok(psnr=math.inf)], ["psnr"])["metrics"]["psnr"]
    assert s["infinite"] == 2 and s["mean"] == math.inf
    assert "infinite" not in summarize([_ok(psnr=30.0)], ["psnr"])["metrics"]["psnr"]


def test_summarize_mixed_infinities():
    s = summarize([_ok(x=-math.inf), _ok(x=1.0)], ["x"])["metrics"]["x"]
    assert s["mean"] == -math.inf  # was NaN before: only +inf was recognised
    s = summarize([_ok(x=-math.inf), _ok(x=math.inf)], ["x"])["metrics"]["x"]
    assert s["infinite"] == 1 and s["mean"] == -math.inf and math.isnan(s["std"])


# --------------------------------------------------------------------------- imports


def test_report_modules_do_not_import_torch():
    import subprocess

    code = (
        "import sys, io\n"
        "import iqa_cli.report, iqa_cli.report.json, iqa_cli.report.csv, iqa_cli.report.table, "
        "iqa_cli.atomic\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

