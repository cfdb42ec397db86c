"""``iqa review``'s JSON API without a browser: the issue's 12-pair scenario
over real HTTP, the guards (Host, Origin, Content-Type), traversal, errors."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

Client = pytest.importorskip("werkzeug.test", reason="werkzeug is not installed (pip install werkzeug)").Client

from iqa_cli.errors import UsageError  # noqa: E402
from iqa_cli.review.server import ReviewApp, ReviewServer, check_bind, serve  # noqa: E402
from iqa_cli.review.session import FileSession, PairRecord

import review_suite as rs
from review_suite import render, tree, write


class Http:
    """Plain HTTP to a running server; headers as given (no browser defaults)."""

    def __init__(self, server: ReviewServer):
        self.host, self.port = "127.0.0.1", server.port

    def request(self, method: str, path: str, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        res = conn.getresponse()
        raw = res.read()
        conn.close()
        ctype = res.getheader("Content-Type", "")
        return res.status, (json.loads(raw) if "json" in ctype else raw), res

    def post(self, path, body, **headers):
        return self.request("POST", path, body, headers)

    def get(self, path, **headers):
        return self.request("GET", path, None, headers)


@pytest.fixture
def suite(tmp_path):
    return rs.build(tmp_path)


@pytest.fixture
def small(tmp_path):
    """A two-pair session (FAIL a.png, PASS same.png) and a test client bound as 127.0.0.1:8765."""
    b, o = tmp_path / "baseline", tmp_path / "output"
    for name, changed in (("a.png", True), ("same.png", False)):
        img = render(32)
        write(b / name, img)
        if changed:
            img = img.copy()
            img[4:12, 4:12] = 0
        write(o / name, img)
    recs = [PairRecord("a.png", "FAIL", str(b / "a.png"), str(o / "a.png"),
                       images={"heatmap": b"\x89PNG heat", "mask": b"\x89PNG mask"}),
            PairRecord("same.png", "PASS", str(b / "same.png"), str(o / "same.png"))]
    session = FileSession(str(b), recs)
    app = ReviewApp(session)
    app.bind("127.0.0.1", 8765)
    return b, o, session, Client(app)


BASE = "http://127.0.0.1:8765"


def post(client, path, body, **kw):
    kw.setdefault("content_type", "application/json")
    return client.post(path, base_url=BASE, data=body if isinstance(body, (str, bytes)) else json.dumps(body), **kw)


# --------------------------------------------------------------------------- the scenario


def test_twelve_pairs_accept_reject_undo_equals_a_scripted_cp_rm_and_check_fails_only_on_the_rejected(suite):
    """4 FAIL, 2 NEW, 1 MISSING, 1 ERROR, 4 PASS: accept 2 FAIL, 1 NEW and the MISSING, reject the rest,
    undo one accept; the folder is what cp/rm of those decisions leaves, and the check fails only on
    what was not accepted."""
    b, o = suite.baseline, suite.output
    scripted = suite.root / "scripted"
    shutil.copytree(b, scripted)
    with ReviewServer(suite.session()) as server:
        api = Http(server)
        status, doc, _ = api.get("/api/pairs")
        assert status == 200
        got = [(p["path"], p["status"]) for p in doc["pairs"]]
        assert [s for _, s in got] == ["FAIL"] * 4 + ["NEW"] * 2 + ["MISSING", "ERROR"] + ["PASS"] * 4
        for path in ("f1.png", "new1.png", "gone.png", "f2.png"):
            status, res, _ = api.post("/api/accept", {"pairs": [path]})
            assert status == 200 and res["ok"], res
        for path in ("sub/f3.png", "sub/f4.png", "fresh/new2.png", "broken.png"):
            status, res, _ = api.post("/api/reject", {"pairs": [path]})
            assert status == 200 and res["changed"] == [], res
        f2_before = (scripted / "f2.png").read_bytes()
        status, res, _ = api.post("/api/undo", {})
        assert status == 200 and res["changed"] == [{"path": "f2.png", "file": "f2.png", "action": "restored",
                                                     "old_sha256": res["changed"][0]["old_sha256"],
                                                     "new_sha256": rs.hashlib.sha256(f2_before).hexdigest()}]
        status, summary, _ = api.get("/api/summary")
    assert summary["accepted"] == ["f1.png", "new1.png", "gone.png"]
    assert summary["rejected"] == ["sub/f3.png", "sub/f4.png", "fresh/new2.png", "broken.png"]
    assert summary["left"] == ["f2.png"] and summary["passed"] == 4
    assert [c["action"] for c in summary["changes"]] == ["replaced", "added", "removed"]

    shutil.copyfile(o / "f1.png", scripted / "f1.png")  # the scripted decisions
    shutil.copyfile(o / "new1.png", scripted / "new1.png")
    (scripted / "gone.png").unlink()
    assert tree(b) == tree(scripted)

    log = [json.loads(t) for t in (suite.root / ".iqa-review.jsonl").read_text().splitlines()]
    assert [(ln["op"], ln["path"], ln["action"]) for ln in log] == [
        ("accept", "f1.png", "replaced"), ("accept", "new1.png", "added"), ("accept", "gone.png", "removed"),
        ("accept", "f2.png", "replaced"), ("undo", "f2.png", "restored")]

    res = rs.check(b, o, "--json", str(suite.root / "after.json"))
    rows = {p["key"]: p for p in json.loads((suite.root / "after.json").read_text())["check"]["pairs"]}
    failing = sorted(k for k, p in rows.items() if p["regression"])
    assert failing == ["f2.png", "fresh/new2.png", "sub/f3.png", "sub/f4.png"], res.output
    assert [k for k, p in rows.items() if p["status"] == "ERROR"] == ["broken.png"]
    assert "gone.png" not in rows and rows["f1.png"]["status"] == rows["new1.png"]["status"] == "PASS"


# --------------------------------------------------------------------------- guards


def test_a_foreign_origin_or_host_changes_nothing(suite):
    b = suite.baseline
    before = tree(b)
    with ReviewServer(suite.session()) as server:
        api = Http(server)
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Origin": f"http://127.0.0.1:{server.port + 1}"},
                        {"Host": f"evil.example:{server.port}"},  # DNS rebinding: the page's own name
                        {"Host": f"127.0.0.1:{server.port + 1}"},
                        {"Sec-Fetch-Site": "cross-site"}):
            for path, body in (("/api/accept", {"pairs": ["f1.png"]}), ("/api/undo", {})):
                status, res, _ = api.post(path, body, **headers)
                assert status == 403 and res["error"].startswith("refused"), (headers, res)
        status, _, _ = api.get("/api/pairs", Host=f"rebind.example:{server.port}")
        assert status == 403  # reading is refused too: the pictures are the user's
        status, res, _ = api.post("/api/accept", {"pairs": ["f1.png"]}, Origin=f"http://127.0.0.1:{server.port}")
        assert status == 200 and res["ok"]  # the served origin itself is fine
        api.post("/api/undo", {})
    assert tree(b) == before


def test_post_needs_json(small):
    b, _, _, client = small
    before = tree(b)
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = post(client, "/api/accept", {"pairs": ["a.png"]}, content_type=ctype)
        assert r.status_code == 415 and r.json["status"] == 415
    assert post(client, "/api/accept", "{not json").status_code == 400
    assert post(client, "/api/accept", "[1, 2]").status_code == 400
    assert post(client, "/api/accept", {"pairs": "a.png"}).status_code == 400
    assert post(client, "/api/accept", {"pairs": []}).status_code == 400
    assert post(client, "/api/accept", {"pairs": ["a.png"], "pad": "x" * (1 << 20)}).status_code == 413
    assert tree(b) == before


def test_paths_never_leave_baseline_through_the_api(small, tmp_path):
    b, o, _, client = small
    before_all = tree(tmp_path)
    for path in ("../output/a.png", "/etc/passwd", "a.png/../../x", "%2e%2e/a.png"):
        r = post(client, "/api/accept", {"pairs": [path]})
        assert r.status_code == 409 and r.json["refused"] == [{"path": path, "reason": "no such pair in this review"}]
    for url in ("/api/pairs/../../etc/passwd/baseline.png", "/api/pairs/%2e%2e/%2e%2e/etc/passwd/baseline.png",
                "/api/pairs/a.png/../../../secret/baseline.png", "/static/../server.py", "/static/%2e%2e/server.py",
                "/api/pairs/a.png/secret.png"):
        r = client.get(url, base_url=BASE)
        assert r.status_code == 404, url
    assert tree(tmp_path) == before_all


def test_binding_off_loopback_needs_allow_remote():
    assert check_bind("127.0.0.1", False) is None and check_bind("::1", False) is None
    with pytest.raises(UsageError, match="allow_remote"):
        check_bind("0.0.0.0", False)
    assert "anyone who can reach" in check_bind("0.0.0.0", True)


def test_a_wildcard_bind_takes_ip_literals_but_not_names(small):
    _, _, session, _ = small
    app = ReviewApp(session)
    app.bind("0.0.0.0", 8765)
    c = Client(app)
    assert c.get("/api/pairs", base_url="http://192.168.1.20:8765").status_code == 200
    assert c.get("/api/pairs", base_url="http://attacker.example:8765").status_code == 403


# --------------------------------------------------------------------------- routes


def test_pairs_images_and_pixels(small):
    b, o, session, client = small
    r = client.get("/api/pairs", base_url=BASE)
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert [(p["path"], p["status"], p["decision"]) for p in r.json["pairs"]] == [("a.png", "FAIL", None),
                                                                               ("same.png", "PASS", None)]
    r = client.get("/api/pairs/a.png/heatmap.png", base_url=BASE)
    assert r.status_code == 200 and r.mimetype == "image/png" and r.data == b"\x89PNG heat"
    assert client.get("/api/pairs/a.png/baseline.png", base_url=BASE).status_code == 404  # none in the record
    r = client.get("/api/pairs/a.png/pixel?x=1&y=1", base_url=BASE)
    assert r.status_code == 404  # no raw arrays in this record
    assert client.get("/api/pairs/a.png/pixel?x=a", base_url=BASE).status_code == 400


def test_decisions_return_what_changed_on_disk(small):
    b, o, _, client = small
    old = (b / "a.png").read_bytes()
    r = post(client, "/api/accept", {"pairs": ["a.png"]})
    assert r.status_code == 200 and r.json["changed"][0]["action"] == "replaced"
    assert (b / "a.png").read_bytes() == (o / "a.png").read_bytes()
    r = post(client, "/api/accept", {"pairs": ["a.png"]})
    assert r.status_code == 409 and "already accepted" in r.json["refused"][0]["reason"]
    r = post(client, "/api/reject", {"pairs": ["same.png"]})
    assert r.status_code == 409
    r = post(client, "/api/undo", {})
    assert r.status_code == 200 and r.json["changed"][0]["action"] == "restored"
    assert (b / "a.png").read_bytes() == old
    assert post(client, "/api/undo", {}).status_code == 409
    r = post(client, "/api/skip", {"pairs": ["a.png"]})
    assert r.status_code == 200 and r.json["decisions"] == {"a.png": "skipped"}
    assert client.get("/api/summary", base_url=BASE).json["skipped"] == ["a.png"]


def test_errors_are_json_with_status_codes(small):
    _, _, _, client = small
    r = client.get("/api/nothing", base_url=BASE)
    assert r.status_code == 404 and r.json["status"] == 404
    r = client.get("/api/accept", base_url=BASE)
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    r = client.delete("/api/pairs", base_url=BASE)
    assert r.status_code == 405


def test_the_page_is_served_from_the_package_with_safe_headers(small):
    _, _, _, client = small
    r = client.get("/", base_url=BASE)
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<script src="/static/review.js"' in html and "http" not in html.replace("http-equiv", "")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    for name, mime in (("review.js", "text/javascript"), ("review.css", "text/css")):
        r = client.get(f"/static/{name}", base_url=BASE)
        assert r.status_code == 200 and r.mimetype == mime
        assert "//cdn" not in r.get_data(as_text=True) and "https://" not in r.get_data(as_text=True)


def test_serve_runs_until_the_page_finishes(small, capsys):
    _, _, session, _ = small
    out: dict = {}
    lines: list[str] = []
    t = threading.Thread(target=lambda: out.update(serve(session, open_browser=False, echo=lines.append)))
    t.start()
    try:
        for _ in range(200):
            if lines:
                break
            threading.Event().wait(0.05)
        url = lines[0].split()[2]
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert url.startswith("http://127.0.0.1:")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/finish", body=b"{}", headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 200
    finally:
        t.join(timeout=30)
    assert not t.is_alive()
    assert out["left"] == ["a.png"] and out["passed"] == 1


def test_every_page_file_ships_in_the_wheel():
    """pyproject's package-data covers each file of static/ (a non-editable install serves them)."""
    import fnmatch

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["iqa_cli.review"]
    static = root / "iqa_cli" / "review" / "static"
    names = sorted(p.name for p in static.iterdir() if p.is_file())
    assert {"index.html", "review.js", "review.css"} <= set(names)
    for name in names:
        assert any(fnmatch.fnmatch(f"static/{name}", g) for g in globs), name


def test_raw_pixels_of_a_16bit_pair_over_the_api(tmp_path):
    import numpy as np

    b, o = tmp_path / "baseline", tmp_path / "output"
    raw_b = np.full((6, 8), 40000, dtype=np.uint16)
    raw_o = raw_b.copy()
    raw_o[2, 5] = 65535
    write(b / "deep.png", raw_b)
    write(o / "deep.png", raw_o)
    r = PairRecord("deep.png", "FAIL", str(b / "deep.png"), str(o / "deep.png"),
                   display="16-bit: linear 0..65535 -> 0..255", arrays={"baseline": raw_b, "output": raw_o})
    app = ReviewApp(FileSession(str(b), [r]))
    app.bind("127.0.0.1", 8765)
    c = Client(app)
    pair = c.get("/api/pairs", base_url=BASE).json["pairs"][0]
    assert pair["raw_pixels"] is True and pair["display"].startswith("16-bit")
    assert c.get("/api/pairs/deep.png/pixel?x=5&y=2", base_url=BASE).json == \
        {"x": 5, "y": 2, "baseline": [40000], "output": [65535]}


# --------------------------------------------------------------------------- the command, over HTTP


def test_the_command_serves_the_check_and_finish_prints_the_summary(tmp_path):
    """A real `iqa review` process (its "browser" a script that notes the address): its pairs are the
    check's, accepts write at once, a foreign Origin is refused, and Finish answers in full before the
    process prints the summary and exits with the check's status (here 1: regressions left, no error)."""
    b, o = rs.make(tmp_path)
    for name in rs.ERRORS:
        (b / name).unlink()
        (o / name).unlink()
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"  # what $BROWSER names is what `webbrowser` runs
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > "{opened}"\n')
    browser.chmod(0o755)
    proc = rs.ReviewProcess(str(b), str(o), "--host", "0.0.0.0", "--allow-remote", "--log",
                            str(tmp_path / "r.jsonl"), cwd=tmp_path, env={"CI": "true", "BROWSER": f"{browser} %s"},
                            browser=True)
    try:
        assert proc.url.startswith("http://127.0.0.1:")
        end = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < end:
            time.sleep(0.05)
        assert opened.read_text() == proc.url  # the browser was pointed at the page
        status, doc = proc.request("GET", "/api/pairs")
        assert status == 200
        pairs = {p["path"]: p for p in doc["pairs"]}
        assert {k: p["status"] for k, p in pairs.items()} == {**{k: "FAIL" for k in rs.FAILS},
                                                               **{k: "NEW" for k in rs.NEWS},
                                                               **{k: "MISSING" for k in rs.MISSING},
                                                               **{k: "PASS" for k in rs.PASSES}}
        assert pairs["fresh/new2.png"]["target"] == "fresh/new2.png" and pairs["gone.png"]["accept_action"] == "remove"
        assert pairs["f1.png"]["images"] == ["baseline", "output", "heatmap", "mask"]
        assert pairs["p1.png"]["images"] == []  # passing pairs keep no pictures
        status, res = proc.request("POST", "/api/accept", {"pairs": ["f1.png", "fresh/new2.png"]},
                                   {"Origin": "http://evil.example"})
        assert status == 403 and not (b / "fresh").exists()
        status, res = proc.request("POST", "/api/accept", {"pairs": ["f1.png", "fresh/new2.png"]})
        assert status == 200 and [c["action"] for c in res["changed"]] == ["replaced", "added"]
        assert (b / "fresh/new2.png").read_bytes() == (o / "fresh/new2.png").read_bytes()
        status, res = proc.request("POST", "/api/reject", {"pairs": ["f2.png"]})
        assert status == 200
        code, out, err = proc.finish()  # the answer to Finish arrives whole, then the process ends
    finally:
        proc.kill()
    assert "serving the review on 0.0.0.0" in err and "anyone who can reach" in err
    assert "accepted (2): f1.png (replaced), fresh/new2.png (added)" in out and "rejected (1): f2.png" in out
    left = out.split("left (")[1].splitlines()[0]
    assert left.startswith("4): ") and all(n in left for n in ("sub/f3.png", "sub/f4.png", "new1.png", "gone.png"))
    assert f"undo log: {tmp_path / 'r.jsonl'}" in out
    assert out.strip().splitlines()[-1].startswith("FAIL: 5 of 11 pairs failed")
    assert code == 1 == rs.check(b, o).exit_code


def test_finish_stops_the_command_only_once_its_answer_is_sent(small):
    """The command exits as soon as Finish is seen; the page must first get the whole answer (before,
    the process could end between the headers and the body: the page read an incomplete response)."""
    from werkzeug.test import EnvironBuilder

    _, _, session, _ = small
    app = ReviewApp(session)
    app.bind("127.0.0.1", 8765)
    env = EnvironBuilder(path="/api/finish", method="POST", base_url=BASE, data=b"{}",
                         content_type="application/json").get_environ()
    started = []
    body = app(env, lambda status, headers, exc_info=None: started.append(status))
    assert started == ["200 OK"] and not app.finished.is_set()
    data = b"".join(body)
    assert not app.finished.is_set()  # written, not yet closed by the server
    body.close()
    assert app.finished.is_set() and json.loads(data)["left"] == ["a.png"]


def test_stopping_the_server_lets_a_decision_being_written_finish(small):
    """Ctrl-C while an accept writes its files: the command waits for it before it exits."""
    _, _, session, _ = small
    entered, release, done = threading.Event(), threading.Event(), threading.Event()
    real = session.accept

    def slow_accept(paths):
        entered.set()
        release.wait(30)
        out = real(paths)
        done.set()
        return out

    session.accept = slow_accept
    server = ReviewServer(session).start()
    t = threading.Thread(target=lambda: Http(server).post("/api/accept", {"pairs": ["a.png"]}))
    t.start()
    assert entered.wait(30)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(0.5)
    assert stopper.is_alive() and not done.is_set()  # still waiting for the accept
    release.set()
    stopper.join(30)
    t.join(30)
    assert not stopper.is_alive() and done.is_set()


# --------------------------------------------------------------------------- a video pair


def test_a_failing_video_pair_has_its_per_frame_chart_and_an_image_pair_none(tmp_path):
    """A real `iqa review` on a failing video (frame 5 changed), a passing one and a failing image: the
    video's pair object says it is one (frames, worst and pictured frame), its chart.svg is an SVG image
    with one point per frame in each panel (the gated column first, as `check --html`) and frame 5
    marked; the passing video has its chart too; the image pair has none (404)."""
    import xml.etree.ElementTree as ET

    from iqa_cli.formatting import table_value

    pytest.importorskip("av")
    b, o = rs.video_folders(tmp_path)
    proc = rs.ReviewProcess(str(b), str(o), cwd=tmp_path)
    try:
        status, doc = proc.request("GET", "/api/pairs")
        assert status == 200
        pairs = {p["path"]: p for p in doc["pairs"]}
        assert {k: p["status"] for k, p in pairs.items()} == {"a.png": "FAIL", "clip.mkv": "FAIL",
                                                              "same.mkv": "PASS"}
        clip, img = pairs["clip.mkv"], pairs["a.png"]
        assert clip["chart"] is True and img["chart"] is False and img["video"] is None
        v = clip["video"]
        assert (v["frames"], v["reference_frames"], v["distorted_frames"], v["frame_rate"]) == (8, 8, 8, 25.0)
        assert v["pictured"]["frame"] == rs.CLIP_WORST and v["pictured"]["time"] == pytest.approx(0.2)
        assert {c: w["frame"] for c, w in v["worst"].items()} == {c: rs.CLIP_WORST for c in v["worst"]}
        assert clip["images"] == ["baseline", "output", "heatmap", "mask"]  # of the pictured frame

        status, svg, res = _get(proc, "/api/pairs/clip.mkv/chart.svg")
        assert status == 200 and res.getheader("Content-Type") == "image/svg+xml"
        assert "style-src 'self'" in res.getheader("Content-Security-Policy")  # as strict as the page's
        root = ET.fromstring(svg)  # a standalone document
        ns = {"s": "http://www.w3.org/2000/svg"}
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.find("s:style", ns) is None
        order = [v["pictured"]["column"]] + [c for c in ("ssim", "psnr") if c != v["pictured"]["column"]]
        names = {"ssim": "SSIM", "psnr": "PSNR dB", "ssim_min": "SSIM min"}
        assert root.get("aria-label") == "per-frame " + " and ".join(names[c] for c in order)
        lines = root.findall("s:polyline", ns)
        points = [[tuple(map(float, p.split(","))) for p in pl.get("points").split()] for pl in lines]
        assert [len(p) for p in points] == [rs.CLIP_FRAMES] * len(order)  # one point per frame, per panel
        assert len({x for x, _ in points[0]}) == rs.CLIP_FRAMES
        marks = root.findall("s:circle[@class='wdot']", ns)
        assert len(marks) == len(order)
        for pts, mark in zip(points, marks):  # frame 5 marked, and it is the lowest point: the worst value
            assert (float(mark.get("cx")), float(mark.get("cy"))) == pts[rs.CLIP_WORST]
            assert pts[rs.CLIP_WORST][1] == max(y for _, y in pts)
            assert mark.get("fill") == "#cb2431"  # styled by attributes: no <style> for a CSP to block
        assert [t.text for t in root.findall("s:text[@class='w']", ns)] == ["worst: frame 5 (0.200 s)"] * len(order)
        titles = [t.text for t in root.findall("s:text[@class='t']", ns)]
        for c, title in zip(order, titles):  # each panel's pooled values are the pair's
            assert f"mean {table_value(c, v['pools'][c]['mean'])}, " in title

        same = pairs["same.mkv"]  # a passing video keeps no pictures, but has its chart (from the numbers)
        assert same["images"] == [] and same["chart"] is True and same["video"]["frames"] == 4
        status, svg, _ = _get(proc, "/api/pairs/same.mkv/chart.svg")
        assert status == 200 and len(ET.fromstring(svg).find("s:polyline", ns).get("points").split()) == 4

        status, body, _ = _get(proc, "/api/pairs/a.png/chart.svg")
        assert status == 404 and b"not a video pair" in body
        assert _get(proc, "/api/pairs/nothing.mkv/chart.svg")[0] == 404
    finally:
        proc.kill()


def _get(proc, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=30)
    conn.request("GET", path)
    res = conn.getresponse()
    body = res.read()
    conn.close()
    return res.status, body, res


def test_new_and_missing_pairs_name_the_pages_action_not_update(tmp_path):
    """The page said "no baseline yet (add it with --update)" and "(--update --prune removes the
    baseline)": review has neither option; accepting is what adds or removes the baseline."""
    b, o = rs.make(tmp_path)
    proc = rs.ReviewProcess(str(b), str(o), cwd=tmp_path, env={"CI": ""})
    try:
        status, doc = proc.request("GET", "/api/pairs")
        assert status == 200
        reasons = {p["path"]: p["reason"] for p in doc["pairs"] if p["status"] in ("NEW", "MISSING")}
        assert reasons == {"new1.png": "no baseline yet (add it with accept)",
                           "fresh/new2.png": "no baseline yet (add it with accept)",
                           "gone.png": "no output for this baseline (accept removes the baseline)"}
    finally:
        proc.kill()
