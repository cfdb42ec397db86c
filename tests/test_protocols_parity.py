"""Parity of the named protocols with the installed peer libraries (slow; each test skips
when its library is absent).

Installable next to torch 2.13 without replacing it::

    pip install --no-deps pytorch-msssim piq torchmetrics lightning-utilities pyiqa \\
        basicsr opencv-python-headless

piq, pyiqa and BasicSR import torchvision (and more) from their package
``__init__``; only their metric modules are needed, so those are loaded with
the package ``__init__`` bypassed (:func:`_submodule`). Where BasicSR is absent its
definition is computed here (``test_protocols.py`` checks it against numpy).
Tolerances are the acceptance targets of the protocols; the measured maxima
are in docs/protocols.md.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import types

import numpy as np
import oracles as O
import pytest
import torch

from iqa_cli.metrics.protocols import protocol_ms_ssim, protocol_psnr, protocol_ssim

pytestmark = pytest.mark.slow


def _submodule(package: str, module: str, *, bypass: tuple[str, ...] = ()):
    """Import ``package.module`` with the ``__init__`` of ``package`` (and of the
    ``bypass`` subpackages) not run; skip the test when that fails."""
    spec = importlib.machinery.PathFinder.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed")
    root = os.path.dirname(spec.origin)
    for name in (package,) + tuple(f"{package}.{b}" for b in bypass):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [os.path.join(root, *name.split(".")[1:])]
            m._iqa_stub = True
            sys.modules[name] = m
    try:
        return importlib.import_module(f"{package}.{module}")
    except ImportError as e:  # a dependency of the metric module itself is missing
        pytest.skip(f"{package}.{module} does not import here: {e}")


def t(a: np.ndarray) -> torch.Tensor:
    a = np.asarray(a)
    return torch.from_numpy((a[None, None] if a.ndim == 2 else a.transpose(2, 0, 1)[None]).copy())


def _pairs():
    """§10.2 pairs: odd, even, downsampling sizes, colour, anti-correlated."""
    out = {f"synth_{h}x{w}": O.synth_pair(h, w) for (h, w) in ((176, 176), (257, 301), (640, 700))}
    out["camera_noise"] = (O.camera(), O.camera_noise())
    out["camera_box3"] = (O.camera(), O.camera_box3())
    out["camera_inverted"] = (O.camera(), O.camera_inverted())
    out["astronaut_noise"] = O.rgb_pair()
    a, b = O.rgb_pair()
    out["astronaut_257x301"] = (a[100:357, 50:351], b[100:357, 50:351])
    return out


PAIRS = _pairs()
IDS = list(PAIRS)
MAXDIFF: dict[str, float] = {}


def _record(key, diff):
    MAXDIFF[key] = max(MAXDIFF.get(key, 0.0), diff)
    print(f"{key}: {diff:.3g}")


@pytest.mark.parametrize("pair", IDS)
def test_skimage(pair):
    skm = pytest.importorskip("skimage.metrics")
    a, b = PAIRS[pair]
    ch = 2 if a.ndim == 3 else None
    got = protocol_ssim(t(a), t(b), 255, "skimage").item()
    d = abs(skm.structural_similarity(a, b, channel_axis=ch) - got)  # uint8: data_range 255 from the dtype
    _record("skimage ssim", d)
    assert d <= 1e-6
    got = protocol_psnr(t(a), t(b), 255, "skimage").item()
    d = abs(skm.peak_signal_noise_ratio(a, b) - got)
    _record("skimage psnr", d)
    assert d <= 1e-6
    a16, b16 = a.astype(np.uint16) * 257, b.astype(np.uint16) * 257
    x16, y16 = torch.from_numpy(t(a16).numpy().astype(np.int32)), torch.from_numpy(t(b16).numpy().astype(np.int32))
    got = protocol_ssim(x16, y16, 65535, "skimage").item()
    d = abs(skm.structural_similarity(a16, b16, channel_axis=ch) - got)
    _record("skimage ssim 16-bit", d)
    assert d <= 1e-6


@pytest.mark.parametrize("pair", IDS)
def test_pytorch_msssim(pair):
    pm = pytest.importorskip("pytorch_msssim")
    a, b = PAIRS[pair]
    x, y = t(a), t(b)
    d = abs(pm.ssim(x.double(), y.double(), data_range=255).item() - protocol_ssim(x, y, 255, "pytorch-msssim").item())
    _record("pytorch-msssim ssim", d)
    assert d <= 1e-4
    ref = pm.ms_ssim(x.double(), y.double(), data_range=255).item()
    d = abs(ref - protocol_ms_ssim(x, y, 255, "pytorch-msssim").item())
    _record("pytorch-msssim ms_ssim", d)
    assert d <= 1e-4


@pytest.mark.parametrize("pair", IDS)
def test_torchmetrics(pair):
    tm = pytest.importorskip("torchmetrics.functional.image")
    a, b = PAIRS[pair]
    x, y = t(a), t(b)
    xf, yf = x.double(), y.double()
    d = abs(tm.structural_similarity_index_measure(xf, yf, data_range=255.0).item()
            - protocol_ssim(x, y, 255, "torchmetrics").item())
    _record("torchmetrics ssim", d)
    assert d <= 1e-4
    d = abs(tm.multiscale_structural_similarity_index_measure(xf, yf, data_range=255.0).item()
            - protocol_ms_ssim(x, y, 255, "torchmetrics").item())
    _record("torchmetrics ms_ssim", d)
    assert d <= 1e-4
    d = abs(tm.peak_signal_noise_ratio(x.float(), y.float(), data_range=255.0).item()
            - protocol_psnr(x, y, 255, "torchmetrics").item())
    _record("torchmetrics psnr (float32 input)", d)
    assert d <= 1e-4


@pytest.mark.parametrize("pair", IDS)
def test_piq(pair):
    ssim_m = _submodule("piq", "ssim")
    ms_m = _submodule("piq", "ms_ssim")
    psnr_m = _submodule("piq", "psnr")
    a, b = PAIRS[pair]
    x, y = t(a), t(b)
    xf, yf = x.double(), y.double()
    d = abs(ssim_m.ssim(xf, yf, data_range=255.0).item() - protocol_ssim(x, y, 255, "piq").item())
    _record("piq ssim", d)
    assert d <= 1e-4
    d = abs(ms_m.multi_scale_ssim(xf, yf, data_range=255.0).item() - protocol_ms_ssim(x, y, 255, "piq").item())
    _record("piq ms_ssim", d)
    assert d <= 1e-4
    d = abs(psnr_m.psnr(xf, yf, data_range=255.0).item() - protocol_psnr(x, y, 255, "piq").item())
    _record("piq psnr", d)
    assert d <= 1e-4


@pytest.mark.parametrize("pair", IDS)
def test_pyiqa(pair):
    ssim_arch = _submodule("pyiqa", "archs.ssim_arch", bypass=("archs", "utils"))
    psnr_arch = _submodule("pyiqa", "archs.psnr_arch", bypass=("archs", "utils"))
    a, b = PAIRS[pair]
    x, y = t(a), t(b)
    xf, yf = x.float() / 255, y.float() / 255  # pyiqa's usual input: float32 RGB in [0, 1]
    if a.ndim == 2:  # pyiqa's metrics expect RGB; a grey image is fed as three equal channels
        xf, yf = xf.expand(-1, 3, -1, -1), yf.expand(-1, 3, -1, -1)
        x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
    for color, ych in (("rgb", False), ("y", True)):
        ref = ssim_arch.SSIM(test_y_channel=ych)(xf, yf).item()
        d = abs(ref - protocol_ssim(x, y, 255, "pyiqa", color).item())
        _record(f"pyiqa ssim ({color})", d)
        assert d <= 2e-4
        ref = ssim_arch.MS_SSIM(test_y_channel=ych)(xf, yf).item()
        d = abs(ref - protocol_ms_ssim(x, y, 255, "pyiqa", color).item())
        _record(f"pyiqa ms_ssim ({color})", d)
        assert d <= 2e-4
        ref = psnr_arch.PSNR(test_y_channel=ych)(xf, yf).item()
        d = abs(ref - protocol_psnr(x, y, 255, "pyiqa", color).item())
        _record(f"pyiqa psnr ({color})", d)
        assert d <= 2e-3


def _basicsr():
    pytest.importorskip("cv2")
    color_util = _submodule("basicsr", "utils.color_util", bypass=("utils", "metrics"))
    sys.modules["basicsr.utils"].bgr2ycbcr = color_util.bgr2ycbcr  # what metric_util takes from utils/__init__
    return _submodule("basicsr", "metrics.psnr_ssim", bypass=("utils", "metrics"))


@pytest.mark.parametrize("crop", [0, 4])
@pytest.mark.parametrize("pair", IDS)
def test_basicsr(pair, crop):
    bs = _basicsr()
    a, b = PAIRS[pair]
    x, y = t(a), t(b)
    bgr = (lambda z: z[..., ::-1].copy()) if a.ndim == 3 else (lambda z: z)  # BasicSR reads BGR (cv2)
    for color, ych in (("y", True), ("rgb", False)):
        ref = bs.calculate_psnr(bgr(a), bgr(b), crop_border=crop, test_y_channel=ych)
        got = protocol_psnr(x, y, 255, "basicsr", color, crop).item()
        d = abs(ref - got)
        _record(f"basicsr psnr ({color})", d)
        assert d <= 1e-5
        ref = bs.calculate_ssim(bgr(a), bgr(b), crop_border=crop, test_y_channel=ych)
        d = abs(ref - protocol_ssim(x, y, 255, "basicsr", color, crop).item())
        _record(f"basicsr ssim ({color})", d)
        assert d <= 1e-5


def test_tf():
    tf = pytest.importorskip("tensorflow")
    for pair in IDS:
        a, b = PAIRS[pair]
        aa = a[..., None] if a.ndim == 2 else a
        bb = b[..., None] if b.ndim == 2 else b
        x, y = t(a), t(b)
        ref = float(tf.image.ssim(tf.constant(aa), tf.constant(bb), 255).numpy())
        assert abs(ref - protocol_ssim(x, y, 255, "tf").item()) <= 1e-4
        ref = float(tf.image.ssim_multiscale(tf.constant(aa), tf.constant(bb), 255).numpy())
        assert abs(ref - protocol_ms_ssim(x, y, 255, "tf").item()) <= 1e-4
        ref = float(tf.image.psnr(tf.constant(aa), tf.constant(bb), 255).numpy())
        assert abs(ref - protocol_psnr(x, y, 255, "tf").item()) <= 1e-4


def test_cli_batch_gives_basicsr_numbers(tmp_path):
    """The issue's acceptance: `iqa batch gt/ sr/ --protocol basicsr --color y --crop-border 4`
    gives BasicSR's calculate_psnr/ssim(crop_border=4, test_y_channel=True) to 1e-5."""
    import json

    from click.testing import CliRunner
    from PIL import Image

    from iqa_cli.commands import main

    bs = _basicsr()
    rng = np.random.default_rng(4)
    gt, sr = tmp_path / "gt", tmp_path / "sr"
    gt.mkdir()
    sr.mkdir()
    refs = {}
    for i, (h, w) in enumerate([(96, 128), (131, 97), (64, 64)]):
        y, x = np.mgrid[0:h, 0:w]
        a = np.clip(np.stack([120 + 70 * np.sin(x / (5.0 + c)) * np.cos(y / 7.0) for c in range(3)], -1), 0, 255)
        a = a.round().astype(np.uint8)
        b = np.clip(a + rng.normal(0, 7, a.shape), 0, 255).round().astype(np.uint8)
        Image.fromarray(a).save(gt / f"{i}.png")
        Image.fromarray(b).save(sr / f"{i}.png")
        refs[f"{i}.png"] = (bs.calculate_psnr(a[..., ::-1].copy(), b[..., ::-1].copy(), crop_border=4, test_y_channel=True),
                            bs.calculate_ssim(a[..., ::-1].copy(), b[..., ::-1].copy(), crop_border=4, test_y_channel=True))
    res = CliRunner().invoke(main, ["batch", str(gt), str(sr), "--protocol", "basicsr", "--color", "y",
                                    "--crop-border", "4", "-m", "ssim,psnr", "--json", "-", "--no-progress"])
    assert res.exit_code == 0, res.output
    for p in json.loads(res.stdout)["pairs"]:
        psnr, ssim = refs[os.path.basename(p["reference"])]
        assert abs(p["metrics"]["psnr"] - psnr) <= 1e-5 and abs(p["metrics"]["ssim"] - ssim) <= 1e-5
        _record("cli basicsr psnr (y, crop 4)", abs(p["metrics"]["psnr"] - psnr))
        _record("cli basicsr ssim (y, crop 4)", abs(p["metrics"]["ssim"] - ssim))
