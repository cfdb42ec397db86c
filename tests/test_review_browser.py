"""``iqa review`` in a real browser (Playwright driving Debian's Chromium)
against a server on a session of real PNGs: the slider moves the clip, the
onion slider sets the opacity, zoom and pan stay in sync, the readout shows
the pixel under the cursor, key ``a`` writes the baseline, ``u`` restores it
byte for byte, and a foreign page cannot change anything.

Skipped (with the reason) where Chromium or the ``playwright`` package is
missing; ``.ci/run`` installs both. Set ``IQA_REVIEW_SCREENSHOTS=DIR`` to keep
screenshots of the slider and onion views of the real command, and the undo
log of the issue's scenario.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import pytest

import review_suite as rs
from review_suite import tree

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="iqa-review-chromium-")
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                    viewport={"width": 1400, "height": 900})
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def review(tmp_path, browser):
    """The 12-pair suite served in a thread, and a page open on it."""
    from iqa_cli.review.server import ReviewServer

    suite = rs.build(tmp_path, pretty=True)  # f1.png: a photo with a repainted patch
    server = ReviewServer(suite.session()).start()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#viewer[data-ready='1']")
    try:
        yield suite, server, page
    finally:
        page.close()
        server.stop()
    assert errors == []


def wait_for(cond, what: str, timeout: float = 20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def shot(page, name: str) -> None:
    where = os.environ.get("IQA_REVIEW_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name))


def test_first_pair_is_a_failure_with_its_gates(review):
    suite, _, page = review
    assert page.inner_text("#pair-path") == "f1.png"
    assert page.inner_text("#pair-status") == "FAIL"
    assert page.locator("#todo li").count() == 8 and page.locator("#passlist li").count() == 4
    assert page.locator("#passing").get_attribute("open") is None  # PASS folded away
    gates = page.inner_text("#gates")
    row = next(r for r in suite.records if r.path == "f1.png")
    assert all(g["gate"] in gates for g in row.gates)
    assert page.locator(".where-box").count() == 2  # drawn on both side-by-side panes


def _drag_slider(page, dx: int):
    """Switch to the slider view and drag its handle ``dx`` px left: the output layer's
    clip before and after, and where the drag started."""
    page.keyboard.press("2")
    page.wait_for_selector("#viewer[data-view='slider']")
    out = page.locator(".layer.output")
    start = int(out.get_attribute("data-clip-x"))
    handle = page.locator(".divider .handle").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - dx, y, steps=6)
    page.mouse.up()
    return start, int(out.get_attribute("data-clip-x")), (x, y)


def test_slider_moves_the_clip(review):
    _, _, page = review
    start, moved, _ = _drag_slider(page, 120)
    out = page.locator(".layer.output")
    assert moved < start  # more of the output shows
    assert f"inset(0px 0px 0px {moved}" in out.evaluate("e => getComputedStyle(e).clipPath")
    page.locator("#slider-range").evaluate("e => { e.value = 900; e.dispatchEvent(new Event('input')); }")
    assert int(out.get_attribute("data-clip-x")) > start


def test_onion_opacity_follows_its_slider(review):
    _, _, page = review
    page.keyboard.press("3")
    page.wait_for_selector("#viewer[data-view='onion']")
    out = page.locator(".layer.output")
    assert out.evaluate("e => getComputedStyle(e).opacity") == "0.5"
    page.locator("#onion-range").evaluate("e => { e.value = 80; e.dispatchEvent(new Event('input')); }")
    assert out.evaluate("e => getComputedStyle(e).opacity") == "0.8"


def test_zoom_and_pan_stay_in_sync_and_the_readout_shows_real_pixels(review):
    suite, _, page = review
    stages = page.locator(".stage")
    assert stages.count() == 2
    box = page.locator(".pane").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 60, box["y"] + box["height"] / 2 - 30, steps=4)
    page.mouse.up()
    t = [stages.nth(i).evaluate("e => e.style.transform") for i in range(2)]
    assert t[0] == t[1] and "scale(" in t[0]
    # the readout under the cursor: compare with the files' own pixels
    z = page.evaluate("() => parseFloat(document.querySelector('.stage').style.transform.match(/scale\\(([^)]+)\\)/)[1])")
    tx, ty = page.evaluate("() => document.querySelector('.stage').style.transform.match(/translate\\(([-\\d.]+)px, ([-\\d.]+)px/).slice(1).map(Number)")
    x, y = int((box["width"] / 2 - tx) / z) + 3, int((box["height"] / 2 - ty) / z) - 2  # a pixel in view
    page.mouse.move(box["x"] + tx + (x + 0.5) * z, box["y"] + ty + (y + 0.5) * z)
    text = page.inner_text("#readout")
    b = iio.imread(suite.baseline / "f1.png")[y, x]
    o = iio.imread(suite.output / "f1.png")[y, x]
    assert f"x {x}  y {y}" in text
    assert f"baseline {b[0]} {b[1]} {b[2]}" in text and f"output {o[0]} {o[1]} {o[2]}" in text


def test_key_a_accepts_on_disk_and_u_restores_the_bytes(review):
    suite, _, page = review
    target = suite.baseline / "f1.png"
    old, new = target.read_bytes(), (suite.output / "f1.png").read_bytes()
    assert old != new
    page.keyboard.press("a")
    wait_for(lambda: target.read_bytes() == new, "the accept to write the baseline")
    page.wait_for_selector("body[data-busy='0']")
    assert page.inner_text("#pair-path") == "f2.png"  # moved on to the next undecided pair
    assert page.locator('.pairs button[data-path="f1.png"] .mark.accepted').count() == 1
    page.keyboard.press("u")
    wait_for(lambda: target.read_bytes() == old, "the undo to restore the baseline")
    page.wait_for_selector("body[data-busy='0']")
    assert page.inner_text("#pair-path") == "f1.png"
    assert page.locator('.pairs button[data-path="f1.png"] .mark.accepted').count() == 0
    page.keyboard.press("r")
    page.wait_for_selector("body[data-busy='0']")
    assert target.read_bytes() == old
    assert page.locator('.pairs button[data-path="f1.png"] .mark.rejected').count() == 1


def test_a_foreign_page_cannot_accept(review, browser):
    suite, server, _ = review
    before = rs.tree(suite.baseline)
    other = browser.new_page()
    other.set_content("<p>an unrelated page</p>")
    for ctype in ("application/json", "text/plain"):
        status = other.evaluate(
            """async ([url, ctype]) => {
                 try {
                   const r = await fetch(url, {method: "POST", headers: {"Content-Type": ctype},
                                               body: JSON.stringify({pairs: ["f1.png"]})});
                   return r.status;
                 } catch (e) { return "blocked"; }
               }""", [server.url + "api/accept", ctype])
        assert status in ("blocked", 403, 405), status
    other.close()
    assert rs.tree(suite.baseline) == before


# --------------------------------------------------------------------------- the scenario, end to end


def _pick(page, path: str) -> None:
    page.click(f'.pairs button[data-path="{path}"]')
    wait_for(lambda: page.inner_text("#pair-path") == path, f"{path} to be shown")
    page.wait_for_selector("#viewer[data-ready='1']")


def _press(page, key: str, path: str, mark: str) -> None:
    page.keyboard.press(key)
    page.wait_for_selector(f'.pairs button[data-path="{path}"] .mark.{mark}')
    page.wait_for_selector("body[data-busy='0']")


def test_the_iqa_review_command_end_to_end(tmp_path, browser):
    """A real `iqa review` process on the 12-pair suite, driven by keys in Chromium: accept 2 FAIL, 1 NEW
    and the MISSING, reject the rest, undo one accept (then reject it); the baseline is what a scripted
    cp/rm of those decisions leaves, file for file; a foreign Origin changes nothing; Finish prints the
    summary, and the review exits with the status `iqa check` then gives, failing on the rejected only."""
    b, o = rs.make(tmp_path, pretty=True)
    scripted = tmp_path / "scripted"
    shutil.copytree(b, scripted)
    proc = rs.ReviewProcess(str(b), str(o), cwd=tmp_path, env={"CI": "true"})
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(proc.url)
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#viewer[data-ready='1']")
        assert page.locator("#todo li").count() == 8 and page.locator("#passlist li").count() == 4
        _pick(page, "f1.png")  # the photo with a repainted patch

        # the slider moves: drag its handle
        start, moved, (x, y) = _drag_slider(page, 150)
        assert moved < start
        page.mouse.move(x - 150, y + 40)
        shot(page, "review-slider.png")
        page.keyboard.press("3")
        page.wait_for_selector("#viewer[data-view='onion']")
        page.locator("#onion-range").evaluate("e => { e.value = 60; e.dispatchEvent(new Event('input')); }")
        assert page.locator(".layer.output").evaluate("e => getComputedStyle(e).opacity") == "0.6"
        shot(page, "review-onion.png")
        page.keyboard.press("1")

        # the decisions, by keys
        decisions = [("f1.png", "a"), ("sub/f3.png", "r"), ("sub/f4.png", "r"), ("new1.png", "a"),
                     ("fresh/new2.png", "r"), ("gone.png", "a"), ("broken.png", "r"), ("f2.png", "a")]
        for path, key in decisions:
            _pick(page, path)
            _press(page, key, path, {"a": "accepted", "r": "rejected"}[key])
        assert (b / "f2.png").read_bytes() == (o / "f2.png").read_bytes() and not (b / "gone.png").exists()
        page.keyboard.press("u")  # undo the last accept: f2.png comes back, byte for byte
        wait_for(lambda: (b / "f2.png").read_bytes() == (scripted / "f2.png").read_bytes(), "the undo")
        page.wait_for_selector("body[data-busy='0']")
        assert page.inner_text("#pair-path") == "f2.png"
        _press(page, "r", "f2.png", "rejected")

        # what a scripted cp/rm of the decisions leaves
        for name in ("f1.png", "new1.png"):
            shutil.copyfile(o / name, scripted / name)
        (scripted / "gone.png").unlink()
        assert tree(b) == tree(scripted)

        # a request from another origin changes nothing, from a script or from another page
        for headers in ({"Origin": "http://evil.example"}, {"Host": f"rebind.example:{proc.port}"}):
            status, res = proc.request("POST", "/api/accept", {"pairs": ["sub/f3.png"]}, headers)
            assert status == 403 and res["error"].startswith("refused")
            status, res = proc.request("POST", "/api/undo", {}, headers)
            assert status == 403
        other = browser.new_page()
        other.set_content("<p>another site</p>")
        got = other.evaluate("""async (url) => { try { const r = await fetch(url, {method: "POST",
                 headers: {"Content-Type": "application/json"}, body: '{"pairs": ["sub/f3.png"]}'});
                 return r.status; } catch (e) { return "blocked"; } }""", proc.url + "api/accept")
        other.close()
        assert got in ("blocked", 403)
        assert tree(b) == tree(scripted)

        # Finish: the summary, and the check's status
        page.click("#show-summary")
        page.wait_for_selector("#summary-view:not([hidden])")
        page.click("#btn-finish")
        code, stdout, stderr = proc.wait()
    finally:
        page.close()
        proc.kill()
    assert errors == []
    assert "accepted (3): f1.png (replaced), new1.png (added), gone.png (removed)" in stdout
    assert "rejected (5): " in stdout and "left (0)" in stdout
    for name in ("f2.png", "sub/f3.png", "sub/f4.png", "fresh/new2.png", "broken.png"):
        assert name in stdout.split("rejected (5): ")[1].splitlines()[0]
    after = rs.check(b, o, "--json", str(tmp_path / "after.json"))
    rows = {p["key"]: p for p in json.loads((tmp_path / "after.json").read_text())["check"]["pairs"]}
    assert sorted(k for k, p in rows.items() if p["regression"] or p["status"] == "ERROR") == \
        ["broken.png", "f2.png", "fresh/new2.png", "sub/f3.png", "sub/f4.png"]  # the rejected ones
    assert code == after.exit_code == 2, stdout + stderr  # broken.png could not be checked
    log = (tmp_path / ".iqa-review.jsonl").read_text()
    ops = [(ln["op"], ln["path"], ln["action"]) for ln in map(json.loads, log.splitlines())]
    assert ops == [("accept", "f1.png", "replaced"), ("accept", "new1.png", "added"),
                   ("accept", "gone.png", "removed"), ("accept", "f2.png", "replaced"),
                   ("undo", "f2.png", "restored")]
    where = os.environ.get("IQA_REVIEW_SCREENSHOTS")
    if where:
        (Path(where) / "review-undo-log.jsonl").write_text(log)


def test_a_video_pair_shows_its_per_frame_chart(tmp_path, browser):
    """A real `iqa review` on a failing video: Chromium displays the per-frame chart (an SVG image under
    the page's CSP, its attribute styling intact: the worst frame's red mark is drawn), the pictures are
    labelled with the worst frame, and no CSP violation is reported."""
    pytest.importorskip("av")
    b, o = rs.video_folders(tmp_path)
    proc = rs.ReviewProcess(str(b), str(o), cwd=tmp_path)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto(proc.url)
        page.wait_for_selector("body[data-ready='1']")
        _pick(page, "clip.mkv")
        page.wait_for_selector("#chart-box:not([hidden])")
        page.wait_for_function("() => { const i = document.getElementById('chart'); "
                               "return i.complete && i.naturalWidth > 0; }")
        size = page.eval_on_selector("#chart", "i => [i.naturalWidth, i.naturalHeight, i.clientWidth]")
        assert size[0] == 720 and size[1] in (260, 390) and size[2] > 300
        # the SVG's own colours, drawn: red pixels of the worst-frame marks, blue of the lines
        red, blue = page.eval_on_selector("#chart", """i => { const c = document.createElement("canvas");
            c.width = i.naturalWidth; c.height = i.naturalHeight; const x = c.getContext("2d");
            x.drawImage(i, 0, 0); const d = x.getImageData(0, 0, c.width, c.height).data; let r = 0, b = 0;
            for (let k = 0; k < d.length; k += 4) {
              if (d[k] > 180 && d[k + 1] < 80 && d[k + 2] < 90) r++;
              if (d[k] < 40 && d[k + 1] < 140 && d[k + 2] > 180) b++; }
            return [r, b]; }""")
        assert red > 20 and blue > 20
        assert "frame 5 (0.200 s)" in page.inner_text("#chart-note")
        labels = page.locator(".pane-label").all_inner_texts()
        assert labels == ["baseline, frame 5 (0.200 s)", "output, frame 5 (0.200 s)"]
        assert "8 frames, 25 fps, 0.32 s" in page.inner_text("#files")
        page.locator("#chart").scroll_into_view_if_needed()
        shot(page, "review-video-chart.png")
        _pick(page, "a.png")  # an image pair: no chart
        page.wait_for_selector("#chart-box", state="hidden")
        proc.finish()
    finally:
        page.close()
        proc.kill()
    assert errors == []
