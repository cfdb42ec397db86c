"""Write the demo image pairs in sample_images/reference and sample_images/distorted.

    python sample_images/make_samples.py            # next to this script
    python sample_images/make_samples.py --out DIR  # somewhere else

Deterministic: fixed seeds, integer resampling, no timestamps in the PNGs, so
running it again with the same library versions gives the same bytes. The
committed PNGs are the reference copy; the script documents how they were
made. Sources are scikit-image's bundled photos whose docstrings declare
them free of copyright restrictions (camera, astronaut, chelsea, coffee:
CC0 / public domain) and drawings made here (CC0). See README.md.

Needs numpy, scikit-image, imageio and Pillow (all iqa dependencies).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image
from skimage import data, draw, filters

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------- helpers


def fit(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-crop to the target aspect ratio, then Lanczos-resize (Pillow,
    integer arithmetic: the same bytes on every machine)."""
    h, w = img.shape[:2]
    scale = min(h / height, w / width)
    ch, cw = round(height * scale), round(width * scale)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = np.ascontiguousarray(img[top : top + ch, left : left + cw])
    out = Image.fromarray(crop).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(out)


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)  # 4:2:0, baseline
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, img, extension=".png", optimize=True)


# ----------------------------------------------------------------- pairs


def photo_jpeg_q30():
    ref = fit(data.astronaut(), 224, 224)
    return ref, jpeg_roundtrip(ref, quality=30)


def photo_blur():
    ref = fit(data.coffee(), 192, 224)
    dist = filters.gaussian(ref.astype(np.float64), sigma=1.5, channel_axis=-1, preserve_range=True)
    return ref, to_u8(dist)


def photo_noise():
    ref = fit(data.chelsea(), 192, 192)
    rng = np.random.default_rng(20240601)
    noise = rng.normal(0.0, 12.0, size=ref.shape)
    return ref, to_u8(ref.astype(np.float64) + noise)


def gray_brighter():
    ref = fit(data.camera(), 224, 224)
    return ref, to_u8(ref.astype(np.float64) + 20.0)  # mean shift, clipped at 255


def _render_ui(button_dx: int) -> np.ndarray:
    """A small dashboard 'screenshot': gradient, header, sidebar, text lines,
    a line chart and a button whose position is the only parameter."""
    h, w = 192, 256
    y = np.linspace(0.0, 1.0, h)[:, None, None]
    top, bottom = np.array([246.0, 248.0, 252.0]), np.array([222.0, 230.0, 242.0])
    img = (top * (1 - y) + bottom * y) * np.ones((1, w, 1))

    img[0:24, :] = (38, 50, 72)  # header bar
    img[8:16, 10:70] = (230, 235, 245)  # title "text"
    img[24:, 0:48] = (232, 236, 242)  # sidebar
    for i in range(6):  # sidebar items
        r = 36 + 20 * i
        img[r : r + 6, 8 : 8 + 30 - 3 * (i % 3)] = (120, 130, 150)

    # chart panel with axes and a polyline
    img[36:140, 60:244] = (255, 255, 255)
    img[40:136, 70] = (90, 90, 90)
    img[135, 70:238] = (90, 90, 90)
    xs = np.arange(72, 238, 6)
    ys = (100 - 30 * np.sin((xs - 72) / 22.0) - 0.15 * (xs - 72)).astype(int)
    for (x0, y0), (x1, y1) in zip(zip(xs[:-1], ys[:-1]), zip(xs[1:], ys[1:])):
        rr, cc, val = draw.line_aa(y0, x0, y1, x1)
        for dy in (0, 1):
            img[rr + dy, cc] = img[rr + dy, cc] * (1 - val[:, None]) + np.array([220, 80, 40]) * val[:, None]
    for x in xs[::4]:  # markers
        rr, cc = draw.disk((ys[(x - 72) // 6], x), 2.5, shape=(h, w))
        img[rr, cc] = (30, 100, 200)

    for i in range(3):  # body text lines
        img[150 + 9 * i : 154 + 9 * i, 60 : 180 - 25 * i] = (150, 155, 165)

    # the button: rounded rectangle with a label bar
    bx, by, bw, bh = 186 + button_dx, 152, 52, 22
    rr, cc = draw.rectangle((by + 4, bx), extent=(bh - 8, bw), shape=(h, w))
    img[rr, cc] = (40, 120, 220)
    rr, cc = draw.rectangle((by, bx + 4), extent=(bh, bw - 8), shape=(h, w))
    img[rr, cc] = (40, 120, 220)
    for cy, cx in ((by + 4, bx + 4), (by + 4, bx + bw - 5), (by + bh - 5, bx + 4), (by + bh - 5, bx + bw - 5)):
        rr, cc = draw.disk((cy, cx), 4, shape=(h, w))
        img[rr, cc] = (40, 120, 220)
    img[by + 9 : by + 13, bx + 12 : bx + bw - 12] = (255, 255, 255)
    return to_u8(img)


def ui_button_moved():
    return _render_ui(0), _render_ui(-6)


def rgba_cutout():
    """A round avatar: photo inside an anti-aliased circle, fully transparent
    outside. The reference is black under the transparent corners; the
    distorted copy (a) keeps the photo there, as many exporters do (invisible:
    scores must not see it under the default --alpha premultiplied, while
    --alpha drop does) and (b) has a circle 3 px smaller (an alpha-only
    change, which must always count)."""
    h = w = 192
    photo = fit(data.chelsea(), h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    dist_c = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)

    def alpha(radius: float) -> np.ndarray:
        return to_u8(np.clip(radius + 0.5 - dist_c, 0.0, 1.0) * 255)

    ref = np.dstack([photo, alpha(90.0)])
    ref[ref[..., 3] == 0, :3] = 0  # tidy: black under transparency

    return ref, np.dstack([photo, alpha(87.0)])


def depth16_banding():
    """A synthetic 16-bit grey 'depth map' (smooth ramps and a sphere) and the
    same map squeezed through 8 bits (value >> 8, scaled back by 257): the
    banding a stray 8-bit conversion causes. Data range is 65535."""
    h, w = 192, 192
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    depth = 12000 + 30000 * (xx / (w - 1)) + 8000 * (yy / (h - 1)) ** 2
    r2 = (yy - 96) ** 2 + (xx - 110) ** 2
    sphere = np.sqrt(np.clip(52.0**2 - r2, 0, None)) / 52.0
    depth = depth + 20000 * sphere
    ref = np.clip(np.rint(depth), 0, 65535).astype(np.uint16)
    dist = ((ref >> 8).astype(np.uint32) * 257).astype(np.uint16)
    return ref, dist


PAIRS = {
    "photo_jpeg_q30.png": photo_jpeg_q30,
    "photo_blur.png": photo_blur,
    "photo_noise.png": photo_noise,
    "gray_brighter.png": gray_brighter,
    "ui_button_moved.png": ui_button_moved,
    "rgba_cutout.png": rgba_cutout,
    "depth16_banding.png": depth16_banding,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write reference/ and distorted/ in")
    args = parser.parse_args(argv)
    for name, make in PAIRS.items():
        ref, dist = make()
        assert ref.shape == dist.shape and ref.dtype == dist.dtype, name
        write(args.out / "reference" / name, ref)
        write(args.out / "distorted" / name, dist)
        print(f"{name:24s} {ref.shape[1]}x{ref.shape[0]} {ref.dtype} channels={1 if ref.ndim == 2 else ref.shape[2]}")


if __name__ == "__main__":
    main()
