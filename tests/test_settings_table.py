"""One truth for every front end: each setting is declared once (iqa_cli.settings)
and the command line, the config file, reports (JSON in and out), merge, resume,
the pytest plugin and the Python API all get the same meaning from it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from iqa_cli.commands import main
from iqa_cli.engines.settings import settings_from_json
from iqa_cli.gate.config import CONFIG_KEYS
from iqa_cli.gate.profile import CHECK
from iqa_cli.pairing import Pair
from iqa_cli.runner import run
from iqa_cli.settings import DECLARED, PAIRING, Settings

from conftest import distort, smooth_image, write_png

pytest_plugins = ["pytester"]
PKG = Path(__file__).resolve().parents[1] / "iqa_cli"


def iqa(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)


#: a value other than the default for every setting (device: the only one this machine has)
NON_DEFAULT = {
    "metrics": "all,ssim_min,ssim_below,diff_pixels,diff_ratio",
    "protocol": "matlab",
    "crop_border": "2",
    "color": "y",
    "alpha": "over=#102030",
    "downsample": "matlab",
    "data_range": "300",
    "bit_depth": "8",
    "device": "cpu",
    "mix_variant": "ssim-l1",
    "mix_alpha": "0.5",
    "tv_reduction": "sum",
    "below": "0.8",
    "pixel_tol": "3",
    "block": "8",
    "max_pixels": "10000000",
    "tolerance": "1",
    "ignore": "0,0,4,4",
    "mask": None,  # a file the test writes
    "exif_transpose": True,
    "frames": "overlap",
    "offset": "2",
    "find_offset": "3",
    "pool": "min",
}


def test_the_table_covers_every_setting_and_this_test_every_entry():
    assert set(NON_DEFAULT) == set(DECLARED), "a new setting: give it a non-default value here"
    assert [f for f in Settings.__dataclass_fields__] == list(DECLARED)
    for d in DECLARED.values():
        assert d.help and d.flag.startswith("--") and d.json_key
        assert d.config_key in CONFIG_KEYS
    for d in PAIRING.values():
        assert d.config_key in CONFIG_KEYS


def _args(mask: Path, values: dict = NON_DEFAULT) -> list[str]:
    out: list[str] = []
    for name, v in values.items():
        flag = DECLARED[name].flag
        if v is True:
            out.append(flag)
        else:
            out += [flag, str(mask) if name == "mask" else v]
    return out


def test_every_setting_round_trips_through_json_exactly(tmp_path):
    mask = write_png(tmp_path / "m.png", np.zeros((8, 8), np.uint8))
    values = {name: DECLARED[name].parse_input(str(mask) if name == "mask" else v)
              for name, v in NON_DEFAULT.items()}
    s = Settings(**values)
    for name, d in DECLARED.items():
        if name != "device":
            assert getattr(s, name) != d.default, name
    j = json.loads(json.dumps(s.to_json()))
    assert Settings.from_json(j) == s
    assert Settings.from_json(j).to_json() == j
    back = settings_from_json({**j, "engine": "dask", "shard": "1/3"})
    assert Settings.from_json(back.to_json()) == s and back.to_json()["shard"] == "1/3"


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """ref/ and out/: four 200x190 pairs (MS-SSIM needs 176 px), a mask; cwd = tmp_path."""
    for i in range(4):
        a = smooth_image(190, 200, seed=i)
        write_png(tmp_path / "ref" / f"p{i}.png", a)
        write_png(tmp_path / "out" / f"p{i}.png", distort(a, seed=20 + i, amount=6))
    mask = np.zeros((190, 200), np.uint8)
    mask[100:120, 150:180] = 255
    write_png(tmp_path / "mask.png", mask)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _settings_line(path: Path) -> dict:
    first = json.loads(path.read_text().splitlines()[0])
    assert first["type"] == "settings"
    return first["settings"]


@pytest.mark.parametrize("case", ["every-setting", "piq-crop"])
def test_merge_and_resume_keep_every_setting(folders, case):
    """iqa merge used to write `protocol: wang, crop_border: 0` for shards made with
    --protocol piq --crop-border 4 (a hand-written inverse of to_json that skipped fields)."""
    if case == "every-setting":
        args = _args(folders / "mask.png")
    else:
        args = ["--protocol", "piq", "--crop-border", "4", "--color", "y", "--tolerance", "3"]
    for k in (0, 1):
        r = iqa("batch", "ref", "out", *args, "--shard", f"{k}/2", "-o", f"p{k}.jsonl", "-q")
        assert r.exit_code == 0, r.stderr
    part = _settings_line(folders / "p0.jsonl")
    if case == "piq-crop":
        assert (part["protocol"], part["crop_border"], part["color"], part["tolerance"]) == ("piq", 4, "y", 3.0)
    else:
        assert all(Settings.from_json(part).__getattribute__(n) != d.default
                   for n, d in DECLARED.items() if n != "device")

    r = iqa("merge", "p0.jsonl", "p1.jsonl", "-o", "all.jsonl", "-q")
    assert r.exit_code == 0, r.stderr
    merged = _settings_line(folders / "all.jsonl")
    assert {k: v for k, v in merged.items() if k != "shard"} == {k: v for k, v in part.items() if k != "shard"}
    r = iqa("merge", "p0.jsonl", "p1.jsonl", "-o", "all.json", "-q")
    assert json.loads((folders / "all.json").read_text())["settings"] == merged

    # resume: cut the first shard after its first pair, finish it with the same options
    lines = (folders / "p0.jsonl").read_text().splitlines()
    (folders / "p0.jsonl").write_text("\n".join(lines[:2]) + "\n")
    r = iqa("batch", "ref", "out", *args, "--shard", "0/2", "-o", "p0.jsonl", "--resume")
    assert r.exit_code == 0, r.stderr
    assert "1 rows kept, 1 pairs to score" in r.stderr
    done = [json.loads(x) for x in (folders / "p0.jsonl").read_text().splitlines()]
    assert done[0]["settings"] == part and done[-1]["type"] == "summary"
    assert {k: v for k, v in done[-1]["settings"].items() if k != "cwd"} == \
        {k: v for k, v in part.items() if k != "cwd"}
    assert [x["type"] for x in done] == ["settings", "pair", "pair", "summary"]


def test_config_and_flags_give_the_same_settings(folders):
    """Every setting through iqa.toml and through its flag: one meaning, one record."""
    r = iqa("check", "ref", "out", *_args(folders / "mask.png"), "--json", "flags.json", "-q")
    assert r.exit_code in (0, 1), r.stderr
    toml = ["[check]"]
    for name, v in NON_DEFAULT.items():
        d = DECLARED[name]
        value = DECLARED[name].parse_input(str(folders / "mask.png") if name == "mask" else v)
        if d.kind == "regions":
            toml.append(f"{d.config_key} = {json.dumps([list(x) for x in value])}")
        elif d.kind == "metrics":
            toml.append(f"{d.config_key} = {json.dumps(list(value))}")
        else:
            toml.append(f"{d.config_key} = {json.dumps(value)}")
    (folders / "iqa.toml").write_text("\n".join(toml) + "\n")
    r = iqa("check", "ref", "out", "--json", "config.json", "-q")
    assert r.exit_code in (0, 1), r.stderr
    flags = json.loads((folders / "flags.json").read_text())
    config = json.loads((folders / "config.json").read_text())
    assert config["settings"] == flags["settings"]
    assert config["check"]["pairs"] == flags["check"]["pairs"]


def test_protocol_matlab_means_ssim_m_in_every_front_end(tmp_path):
    """Settings(protocol="matlab") gave 0.8879 where --protocol matlab gave 0.9917:
    the implied downsampling lived in the click layer."""
    a = smooth_image(512, 512, 1, seed=4)
    ref = write_png(tmp_path / "a.png", a)
    dist = write_png(tmp_path / "b.png", distort(a, seed=5, amount=25))
    s = Settings(protocol="matlab", metrics=("ssim",))
    assert s.downsample == "matlab"
    api = next(run([Pair("b.png", ref, dist)], s)).metrics["ssim"]
    cli = json.loads(iqa("compare", ref, dist, "--protocol", "matlab", "-m", "ssim", "--json", "-").stdout)
    assert cli["settings"]["downsample"] == "matlab"
    assert cli["pairs"][0]["metrics"]["ssim"] == api
    wang = next(run([Pair("b.png", ref, dist)], Settings(metrics=("ssim",)))).metrics["ssim"]
    assert api - wang > 0.05  # ssim.m's 2x downsampling of a noisy 512 px pair
    r = iqa("compare", ref, dist, "--protocol", "matlab", "--downsample", "none")
    assert r.exit_code == 2 and "protocol matlab implies downsample matlab, not none" in r.stderr


def test_plugin_and_check_give_the_same_verdict_with_no_options(tmp_path, pytester):
    """A ±1 re-render of a flat UI page passes `iqa check` (tolerance 2); the plugin's
    default was 0, and there ±1 noise on flat grey costs SSIM 0.99: it failed."""
    a = np.full((64, 64, 3), 200, np.uint8)
    a[10:30, 8:56] = (40, 90, 200)  # a button on a flat page
    rng = np.random.default_rng(0)
    again = np.clip(a.astype(int) + rng.choice([-1, 1], a.shape), 0, 255).astype(np.uint8)  # dither: every sample ±1
    moved = a.copy()
    moved[40:56, 20:36] = 0  # a new 16x16 block
    np.save(pytester.path / "again.npy", again)
    np.save(pytester.path / "moved.npy", moved)
    for name in ("test_again", "test_moved"):
        write_png(pytester.path / "baselines" / "test_v" / f"{name}.png", a)
        write_png(tmp_path / "base" / f"{name}.png", a)
    write_png(tmp_path / "out" / "test_again.png", again)
    write_png(tmp_path / "out" / "test_moved.png", moved)
    pytester.makepyfile(test_v='''
import numpy as np

def test_again(iqa_image):
    iqa_image.check(np.load("again.npy"))

def test_moved(iqa_image):
    iqa_image.check(np.load("moved.npy"))
''')
    r = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:benchmark")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*test_v.py::test_moved*"])
    res = iqa("check", tmp_path / "base", tmp_path / "out", "--json", "-", "--no-config")
    doc = json.loads(res.stdout)
    verdicts = {p["key"]: p["status"] for p in doc["check"]["pairs"]}
    assert verdicts == {"test_again.png": "PASS", "test_moved.png": "FAIL"}
    assert doc["settings"]["tolerance"] == CHECK.defaults["tolerance"] == 2.0


def test_the_plugin_checks_values_without_click():
    code = ("import sys; import iqa_cli.pytest_plugin.resolve as r, iqa_cli.gate.config, iqa_cli.settings; "
            "assert 'click' not in sys.modules, 'the plugin imported click'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PKG.parent)


def test_help_lists_every_flag_of_the_table_with_its_help():
    for cmd in ("compare", "batch", "check"):
        text = " ".join(iqa(cmd, "--help").stdout.split())
        for d in DECLARED.values():
            assert d.flag in text and " ".join(d.help.split())[:40] in text, (cmd, d.name)
    assert "`all`: one row per protocol" in " ".join(iqa("compare", "--help").stdout.split())
    for cmd in ("batch", "check"):  # only compare can print one row per protocol
        assert "[all]" not in iqa(cmd, "--help").stdout and "one row per protocol" not in iqa(cmd, "--help").stdout
    check_help = " ".join(iqa("check", "--help").stdout.split())
    assert "--tolerance LEVELS" in check_help and "[default: 2.0]" in check_help


_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def test_lower_layers_never_write_a_flag():
    """Messages below the front ends name a setting through iqa_cli.spelling, which each
    front end spells (--data-range, data_range=); literal flags would reach plugin users."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith(("commands/", "pytest_plugin/")):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                found += [f"{rel}:{node.lineno}: {m}" for m in _FLAG.findall(node.value)]
    assert found == []


def test_each_front_end_spells_the_setting_it_names(tmp_path, pytester):
    """One message of the loader, spelled by the CLI and by the plugin."""
    import tifffile

    f = tmp_path / "f.tif"
    tifffile.imwrite(f, np.full((16, 16), 7.5, np.float32))
    r = iqa("compare", f, f, "-m", "mse", "--json", "-")
    assert "outside [0, 1]: pass --data-range" in r.stdout
    pytester.makepyfile(test_f=f'''
def test_f(iqa_image):
    iqa_image.check({str(f)!r})
''')
    res = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:benchmark")
    res.stdout.fnmatch_lines(["*outside [[]0, 1[]]: pass data_range=*"])
