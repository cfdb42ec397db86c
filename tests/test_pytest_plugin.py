"""The pytest plugin (``iqa_image`` fixture): real pytest runs with pytester,
real images and baselines written by the tests."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iqa_cli.io import load_image
from iqa_cli.pytest_plugin.encode import array_png, png_bytes, sniff
from iqa_cli.pytest_plugin.naming import node_stem, safe_name

pytest_plugins = ["pytester"]


def _installed() -> bool:
    return any(e.value == "iqa_cli.pytest_plugin" for e in importlib.metadata.entry_points(group="pytest11"))


#: load the plugin by name unless the installed package already registers it
PLUGIN = [] if _installed() else ["-p", "iqa_cli.pytest_plugin"]

HELPERS = '''
import os
import numpy as np

def picture():
    y, x = np.mgrid[0:64, 0:64]
    return np.stack([(x * 4) % 256, (y * 4) % 256, ((x + y) * 2) % 256], -1).astype(np.uint8)

def changed():
    a = picture()
    a[24:40, 24:40] = 255 - a[24:40, 24:40]  # one 16x16 region
    return a
'''


@pytest.fixture(autouse=True)
def _local(monkeypatch):
    monkeypatch.delenv("CI", raising=False)


#: other installed plugins, not needed here, cost seconds per inline run (pytest-benchmark, hypothesis)
SLOW_PLUGINS = ("benchmark", "hypothesispytest")


def no(*names: str) -> list[str]:
    return [a for n in names for a in ("-p", f"no:{n}")]


QUIET = no(*SLOW_PLUGINS, "xdist")


def run(pytester, *args):
    return pytester.runpytest(*PLUGIN, *QUIET, "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                              "-rs", *args)


def test_missing_then_update_missing_then_pass(pytester):
    pytester.makepyfile(test_r=HELPERS + '''
def test_logo(iqa_image):
    iqa_image.check(picture())
''')
    baseline = pytester.path / "baselines" / "test_r" / "test_logo.png"
    r = run(pytester)
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*no baseline baselines/test_r/test_logo.png*",
                            "*create it with: pytest --iqa-update=missing test_r.py::test_logo*"])
    assert not baseline.exists()
    assert (pytester.path / ".iqa-results" / "test_r" / "test_logo.obtained.png").is_file()

    r = run(pytester, "--iqa-update=missing")
    r.assert_outcomes(skipped=1)
    r.stdout.fnmatch_lines(["*= iqa: baselines written =*", "added     baselines/test_r/test_logo.png  (test_r.py::test_logo)",
                            "SKIPPED [[]1[]] test_r.py:*: iqa: wrote the missing baseline baselines/test_r/test_logo.png*"])
    assert np.array_equal(np.asarray(Image.open(baseline)), _picture())
    assert not (pytester.path / ".iqa-results" / "test_r" / "test_logo.obtained.png").exists()  # stale one cleaned

    r = run(pytester, "--iqa-update=missing")  # nothing missing: nothing written, the test passes
    r.assert_outcomes(passed=1)
    assert "baselines written" not in r.stdout.str()


def _picture():
    y, x = np.mgrid[0:64, 0:64]
    return np.stack([(x * 4) % 256, (y * 4) % 256, ((x + y) * 2) % 256], -1).astype(np.uint8)


def _baseline(pytester, module, name, img=None):
    p = pytester.path / "baselines" / module / f"{name}.png"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(png_bytes(_picture() if img is None else img))
    return p


def test_a_changed_region_fails_with_gates_where_and_pictures(pytester):
    pytester.makepyfile(test_r=HELPERS + '''
def test_logo(iqa_image):
    iqa_image.check(changed())
''')
    baseline = _baseline(pytester, "test_r", "test_logo")
    r = run(pytester, "--iqa-results=out", "--iqa-report=rep")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines([
        "E * iqa: baselines/test_r/test_logo.png: the image differs from its baseline",
        "E * gate ssim_min<0.95: ssim_min 0.* vs <0.95 margin -0.* FAIL",
        "E * where: changed x 24-39, y 24-39; worst block x 24, y 24",
        "E * obtained: out/test_r/test_logo.obtained.png",
        "E * heatmap: out/test_r/test_logo.ssim.png",
        "E * difference mask: out/test_r/test_logo.diff.png",
        "E * accept the change with: pytest --iqa-update=failed test_r.py::test_logo",
    ])
    out = pytester.path / "out" / "test_r"
    obtained = np.asarray(Image.open(out / "test_logo.obtained.png"))
    assert obtained[30, 30].tolist() == (255 - _picture()[30, 30]).tolist()
    mask = np.asarray(Image.open(out / "test_logo.diff.png"))
    red = (mask[..., 0] == 230) & (mask[..., 1] == 0)
    ys, xs = np.nonzero(red)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (24, 39, 24, 39)
    assert np.asarray(Image.open(out / "test_logo.ssim.png")).shape == (64, 64, 3)
    page = (pytester.path / "rep" / "index.html").read_text()
    assert "test_r/test_logo.png" in page and "changed x 24-39, y 24-39" in page and "data:image/png" in page
    r.stdout.fnmatch_lines(["iqa: HTML report: rep/index.html"])
    assert baseline.read_bytes() == png_bytes(_picture())  # never touched without --iqa-update

    r = run(pytester, "--iqa-update=failed", "--iqa-results=out")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*--iqa-update=failed replaced the baseline baselines/test_r/test_logo.png; it was:*",
                            "replaced  baselines/test_r/test_logo.png  (test_r.py::test_logo)"])
    assert np.array_equal(np.asarray(Image.open(baseline)), obtained)
    run(pytester, "--iqa-results=out").assert_outcomes(passed=1)
    assert not (out / "test_logo.diff.png").exists()  # a pass removes the pictures of the earlier failure


def test_update_all_rewrites_only_what_differs_and_fails_for_it(pytester):
    pytester.makepyfile(test_r=HELPERS + '''
def test_same(iqa_image):
    iqa_image.check(picture())

def test_other_bytes(iqa_image):
    iqa_image.check(picture())
''')
    same = _baseline(pytester, "test_r", "test_same")
    other = pytester.path / "baselines" / "test_r" / "test_other_bytes.png"
    Image.fromarray(_picture()).save(other, compress_level=1)  # the same pixels, other bytes
    assert other.read_bytes() != same.read_bytes()
    r = run(pytester, "--iqa-update=all")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*--iqa-update=all rewrote the baseline baselines/test_r/test_other_bytes.png (it passed:*",
                            "rewritten baselines/test_r/test_other_bytes.png  (test_r.py::test_other_bytes)"])
    assert other.read_bytes() == same.read_bytes()


def test_ci_never_creates_a_baseline(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_r=HELPERS + '''
def test_logo(iqa_image):
    iqa_image.check(picture())
''')
    r = run(pytester, "--iqa-update=missing")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*no baseline baselines/test_r/test_logo.png (CI=true: a regression; baselines are never "
                            "created in CI)*"])
    assert not (pytester.path / "baselines").exists()


def test_parametrized_names_counters_and_collisions(pytester):
    pytester.makepyfile(test_p=HELPERS + '''
import pytest

@pytest.mark.parametrize("p", ["a b", "a_b", "x"])
def test_many(iqa_image, p):
    iqa_image.check(picture(), name="first")
    iqa_image.check(picture())
    iqa_image.check(picture())

class TestGroup:
    def test_one(self, iqa_image):
        iqa_image.check(picture())

def test_clash(iqa_image):
    iqa_image.check(picture(), name="2")
    iqa_image.check(picture())
    iqa_image.check(picture())

def test_twice(iqa_image):
    iqa_image.check(picture(), name="same")
    iqa_image.check(changed(), name="same")
''')
    r = run(pytester, "--iqa-update=missing")
    r.assert_outcomes(skipped=5, failed=1)
    names = sorted(p.name for p in (pytester.path / "baselines" / "test_p").iterdir())
    h = safe_name("test_many[a b]")[len("test_many-a_b"):]
    assert h.startswith("-") and len(h) == 9
    assert names == sorted([
        f"test_many-a_b{h}~first.png", f"test_many-a_b{h}.png", f"test_many-a_b{h}@2.png",
        "test_many-a_b~first.png", "test_many-a_b.png", "test_many-a_b@2.png",
        "test_many-x~first.png", "test_many-x.png", "test_many-x@2.png",
        "TestGroup.test_one.png", "test_clash~2.png", "test_clash.png", "test_clash@2.png",
        "test_twice~same.png"])
    r.stdout.fnmatch_lines(["*two checks of this test would share the baseline test_p/test_twice~same.png*"])


def test_parameter_ids_never_share_a_baseline(pytester):
    """Ids 16 and 16-2 with two unnamed checks each: iqa 0.1 gave the second
    check of [16] and the first of [16-2] one file, so each run compared one
    test with the other's image. Four checks, four baselines, and a second run
    passes every one."""
    pytester.makepyfile(test_icon=HELPERS + '''
import pytest

@pytest.mark.parametrize("size", ["16", "16-2"])
def test_icon(iqa_image, size):
    a = picture() if size == "16" else changed()
    iqa_image.check(a)
    iqa_image.check(a[::-1].copy())
''')
    run(pytester, "--iqa-update=missing").assert_outcomes(skipped=2)
    names = sorted(p.name for p in (pytester.path / "baselines" / "test_icon").iterdir())
    assert names == ["test_icon-16-2.png", "test_icon-16-2@2.png", "test_icon-16.png", "test_icon-16@2.png"]
    run(pytester).assert_outcomes(passed=2)


def test_inputs_arrays_pil_bytes_paths(pytester):
    pytester.makepyfile(test_i=HELPERS + '''
import io
import numpy as np
from PIL import Image

def test_kinds(iqa_image, tmp_path):
    a = picture()
    iqa_image.check(a.astype(np.uint16) * 257, name="u16")
    iqa_image.check(a / 255.0, name="float")
    iqa_image.check(a[..., 0], name="grey")
    iqa_image.check(Image.fromarray(a).convert("P"), name="pil")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    iqa_image.check(buf.getvalue(), name="bytes")
    Image.fromarray(a).save(tmp_path / "f.png")
    iqa_image.check(tmp_path / "f.png", name="path")

def test_bad_float(iqa_image):
    iqa_image.check(picture() * 1.0)

def test_bad_bytes(iqa_image):
    iqa_image.check(b"not an image")

def test_unknown_setting(iqa_image):
    iqa_image.check(picture(), colour="y")

def test_bad_value(iqa_image):
    iqa_image.check(picture(), color="rainbow")
''')
    r = run(pytester, "--iqa-update=missing")
    r.assert_outcomes(skipped=1, failed=4)
    r.stdout.fnmatch_lines([
        "*float array must hold values in [[]0, 1[]] (min 0, max 252)*",
        "*these 12 bytes are not an encoded image*",
        "*unknown setting 'colour' (known: name, fail_if, metrics, *color, *pixel_tol*",
        "*iqa_image.check: color='rainbow': 'rainbow' is not one of rgb, y, gray*",
    ])
    d = pytester.path / "baselines" / "test_i"
    u16 = load_image(d / "test_kinds~u16.png").pixels  # Pillow reads 16-bit RGB as 8-bit: iqa's own reader
    assert u16.dtype == np.uint16 and np.array_equal(u16, _picture().astype(np.uint16) * 257)
    paletted = np.asarray(Image.fromarray(_picture()).convert("P").convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(d / "test_kinds~pil.png")), paletted)
    assert (d / "test_kinds~path.png").read_bytes() == (d / "test_kinds~bytes.png").read_bytes()
    run(pytester, "-k", "kinds").assert_outcomes(passed=1)


def test_matplotlib_figure_is_deterministic(pytester):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from iqa_cli.pytest_plugin.encode import figure_png

    def fig():
        f = Figure(figsize=(2, 1.5))
        f.add_subplot().plot([0, 1, 2], [0, 1, 0])
        return f

    a, b = figure_png(fig()), figure_png(fig())
    assert a == b and b"Software" not in a and Image.open(io.BytesIO(a)).size == (200, 150)
    pytester.makepyfile(test_f='''
from matplotlib.figure import Figure

def test_plot(iqa_image):
    f = Figure(figsize=(2, 1.5))
    f.add_subplot().plot([0, 1, 2], [0, 1, 0])
    iqa_image.check(f)
''')
    run(pytester, "--iqa-update=missing").assert_outcomes(skipped=1)
    assert (pytester.path / "baselines" / "test_f" / "test_plot.png").read_bytes() == a
    run(pytester).assert_outcomes(passed=1)


def test_config_gates_overrides_settings_and_baseline_dir(pytester):
    pytester.makepyprojecttoml('''
[tool.pytest.ini_options]
iqa_baseline_dir = "shots"

[tool.iqa.check]
fail_if = ["diff_pixels>0"]
pixel_tol = 10

[[tool.iqa.check.overrides]]
glob = "tests/test_c/test_loose*"
fail_if = "ssim<0.5"
''')
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_c.py").write_text(HELPERS + '''
def test_strict(iqa_image):
    a = picture(); a[0, 0] += 11
    iqa_image.check(a)

def test_tolerated(iqa_image):
    a = picture(); a[0, 0] += 10          # within pixel_tol
    iqa_image.check(a)

def test_loose(iqa_image):
    iqa_image.check(changed())

def test_own_gate(iqa_image):
    iqa_image.check(changed(), fail_if="ssim<0.5", color="y")
''')
    for n in ("test_strict", "test_tolerated", "test_loose", "test_own_gate"):
        p = pytester.path / "shots" / "tests" / "test_c" / f"{n}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(png_bytes(_picture()))
    r = run(pytester)
    r.assert_outcomes(passed=3, failed=1)
    r.stdout.fnmatch_lines(["*gate diff_pixels>0: diff_pixels 1 vs >0 margin -1 FAIL*",
                            "*where: changed x 0-0, y 0-0*"])


def test_xdist_workers_share_one_report(pytester, monkeypatch):
    pytest.importorskip("xdist")
    import iqa_cli

    # the subprocesses import this checkout's iqa_cli, not an installed one
    root = str(Path(iqa_cli.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(test_x=HELPERS + '''
import pytest

@pytest.mark.parametrize("i", range(4))
def test_n(iqa_image, i):
    iqa_image.check(changed() if i == 3 else picture())
''')
    for i in range(3):
        _baseline(pytester, "test_x", f"test_n-{i}")
    r = pytester.runpytest_subprocess(*PLUGIN, *no(*SLOW_PLUGINS), "-p", "no:cacheprovider", "-n", "2", "--iqa-report=rep",
                                      "--iqa-update=missing")
    r.assert_outcomes(passed=3, skipped=1)
    r.stdout.fnmatch_lines(["*created: 2/2 workers*", "added     baselines/test_x/test_n-3.png  (test_x.py::test_n[[]3[]])",
                            "iqa: HTML report: rep/index.html"])
    page = (pytester.path / "rep" / "index.html").read_text()
    assert "3 passing pairs" in page and "1 new (not in the baseline)" in page and all(f"test_x/test_n-{i}.png" in page for i in range(4))


def test_importing_the_plugin_imports_neither_torch_nor_numpy():
    code = ("import sys, iqa_cli.pytest_plugin; "
            "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "[]"


def test_names_and_png_encoding():
    assert node_stem("tests/test_m.py::TestC::test_x[png-1.5]") == "TestC.test_x-png-1.5"
    assert safe_name("test_x[a/b]") != safe_name("test_x[a_b]")
    assert safe_name("test_x[a_b]") == "test_x-a_b"
    for a in (_picture(), _picture()[..., 0], (_picture().astype(np.uint16) * 257)[..., :2]):
        back = np.asarray(Image.open(io.BytesIO(png_bytes(a))))
        if a.ndim == 3 and a.shape[2] == 2 and a.dtype == np.uint16:
            continue  # Pillow reads 16-bit grey+alpha as 8-bit; the grey case below covers 16 bits
        assert np.array_equal(back, a)
    g16 = _picture()[..., 0].astype(np.uint16) * 257
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(g16)))).astype(np.uint16), g16)
    assert sniff(array_png(_picture() / 255.0)) == ".png"
    assert json.dumps(sniff(b"\xff\xd8\xff\xe0")) == '".jpg"'
