"""``iqa_image.check(image, name=None, fail_if=None, **settings)``: one image
against its baseline, with the gate of ``iqa check``.

A check that writes a baseline (``--iqa-update``) does not stop its test: the
test's other checks still run, and the test is failed (or, for a missing
baseline written locally with ``--iqa-update=missing``, skipped) when its body
has returned, so that every update is seen.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IqaError, UsageError
from .naming import baseline_location, display, node_stem, safe_name
from .session import THUMB_CAP, State


@dataclass
class Written:
    action: str  # added | replaced | rewritten
    path: str
    nodeid: str

    def to_json(self) -> dict[str, str]:
        return {"action": self.action, "path": self.path, "nodeid": self.nodeid}


class IqaImage:
    """The ``iqa_image`` fixture: one per test."""

    def __init__(self, item: Any, state: State):
        self._item, self._state = item, state
        self._keys: set[str] = set()
        self._unnamed = 0
        self.written: list[Written] = []
        self.pending: list[tuple[str, str]] = []  # ("skip" | "fail", message), raised when the test body ends

    def check(self, image: Any, name: str | None = None, fail_if: Any = None, **settings: Any) -> None:
        """Compare ``image`` with its baseline; fail the test when a gate fails.

        ``image``: a path, bytes of an encoded image, a numpy array (H, W[, C]) of
        uint8/uint16/float in [0, 1], a PIL image or a matplotlib figure.
        ``name``: tells several checks of one test apart (default: a counter).
        ``fail_if``: gate(s) for this check, e.g. ``"diff_pixels>0"`` (default: the
        config's, else the gate's defaults). ``settings``: ``iqa check``'s
        options by their Settings names (``color="y"``, ``pixel_tol=2``, ...).
        """
        __tracebackhide__ = True
        from ..spelling import spelled_by
        from .resolve import plugin_spelling

        problem = failure = None
        try:
            with spelled_by(plugin_spelling):
                failure = self._check(image, name, fail_if, settings)
        except IqaError as e:
            problem = str(e)
        if problem is not None:
            import pytest

            pytest.fail(problem)
        if failure is not None:
            raise AssertionError(failure)

    # ------------------------------------------------------------------

    def _stem(self, name: str | None) -> tuple[str, str]:
        """The baseline's file stem, and the stem iqa 0.1 gave it (for a hint):
        ``test_x-ID`` for the test, ``~NAME`` for a named check, ``@N`` for
        the N-th unnamed one. ``~`` and ``@`` never come out of
        :func:`safe_name`, so no parameter id or name can make two checks share
        a file (0.1 joined all three with ``-``: ids ``16`` and ``16-2``
        collided)."""
        test = node_stem(self._item.nodeid)
        if name is None:
            self._unnamed += 1
            n = self._unnamed
            return (test, test) if n == 1 else (f"{test}@{n}", f"{test}-{n}")
        if not isinstance(name, str) or not name:
            raise UsageError(f"iqa_image.check: name must be a non-empty string, not {name!r}")
        return f"{test}~{safe_name(name)}", f"{test}-{safe_name(name)}"

    def _check(self, image: Any, name: str | None, fail_if: Any, kwargs: dict[str, Any]) -> str | None:
        from ..atomic import atomic_write
        from ..gate.rows import ERROR_S, FAIL, PASS, Rules, in_ci
        from ..pairing import Pair
        from ..runner import run
        from .encode import encode
        from .resolve import resolve

        st, item = self._state, self._item
        stem, old_stem = self._stem(name)
        root, sub = baseline_location(Path(item.path), st.rootpath, st.baseline_dir)
        data, src, ext = encode(image)
        key = f"{sub}/{stem}{ext}"
        if key in self._keys:
            raise UsageError(f"iqa_image.check: two checks of this test would share the baseline {key}: "
                             "give them different names (name=...)")
        self._keys.add(key)
        baseline = root / key
        gates, settings = resolve(st.base(), key, fail_if, kwargs)

        if src is None:
            obtained = st.tmp() / key
            obtained.parent.mkdir(parents=True, exist_ok=True)
            obtained.write_bytes(data)
        else:
            obtained = Path(src)
        exists = baseline.is_file()
        ci = in_ci()
        if not exists:  # nothing to score against: the image must at least decode before it can become a baseline
            from ..io import load_image

            try:
                load_image(obtained, bit_depth=settings.bit_depth, data_range=settings.data_range)
            except IqaError as e:
                raise UsageError(f"iqa_image.check: the image cannot be decoded: {e.reason}", src) from None
        pair = Pair(key, baseline if exists else None, obtained)
        rules = Rules(gates, [], ci=ci, allow_new=False, block=settings.block, ref_root=str(root))
        result = next(iter(run([pair], settings, keep_maps=True, workers=1)))
        row = rules.row(pair, result)
        row.baseline = display(baseline, st.invocation_dir) if exists else None
        row.output = None
        shown = display(baseline, st.invocation_dir)
        nodeid = item.nodeid
        mode = st.update
        again = f"pytest {{}} {shlex.quote(nodeid)}"

        def write_baseline(action: str) -> None:
            try:
                baseline.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(str(baseline), "wb") as fh:
                    fh.write(data if data is not None else obtained.read_bytes())
            except OSError as e:
                raise IqaError(f"cannot write the baseline: {e.strerror or e}", shown) from None
            row.action = action
            self.written.append(Written(action, shown, nodeid))

        message: str | None = None
        if row.status == PASS:
            rewrite = mode == "all" and (data if data is not None else obtained.read_bytes()) != baseline.read_bytes()
            if rewrite:
                write_baseline("rewritten")
                self.pending.append(("fail", f"iqa: --iqa-update=all rewrote the baseline {shown} (it passed: "
                                     f"{_gates_phrase(row)}); review it and commit it"))
            else:
                self._clean(key, ext)
        elif row.status == ERROR_S:
            reason = row.reason or "cannot be compared"
            if src is None:
                reason = reason.replace(str(obtained), "the obtained image")
            message = f"iqa: {shown}: {reason}"
        elif not exists:
            arts = {} if (mode and not ci) else self._artefacts(row, result, key, ext, data, obtained)
            row.output = arts.get("obtained")
            if ci:
                row.reason = "no baseline (CI=true: baselines are never created in CI)"
                message = (f"iqa: no baseline {shown} (CI=true: a regression; baselines are never created in "
                           f"CI)\n  obtained: {arts['obtained']}\n  create it locally with: "
                           + again.format("--iqa-update=missing") + " and commit it")
            elif mode:
                write_baseline("added")
                self._clean(key, ext)
                row.reason = "no baseline: written"
                if mode == "missing":
                    self.pending.append(("skip", f"iqa: wrote the missing baseline {shown}; review it and "
                                         "commit it"))
                else:
                    self.pending.append(("fail", f"iqa: --iqa-update={mode} wrote the missing baseline {shown}; "
                                         "review it and commit it"))
            else:
                row.reason = "no baseline yet"
                message = (f"iqa: no baseline {shown}\n  obtained: {arts['obtained']}\n  create it with: "
                           + again.format("--iqa-update=missing"))
                old = root / f"{sub}/{old_stem}{ext}"
                if old_stem != stem and old.is_file():
                    message += (f"\n  {display(old, st.invocation_dir)} exists: iqa 0.1 named this check's baseline "
                                "so (names could collide); if it is this check's, rename it")
        else:  # FAIL: a gate, or the size
            assert row.status == FAIL
            arts = self._artefacts(row, result, key, ext, data, obtained)
            row.output = arts.get("obtained")
            if mode in ("failed", "all"):
                write_baseline("replaced")
                self.pending.append(("fail", f"iqa: --iqa-update={mode} replaced the baseline {shown}; it was:\n"
                                     + _details(row, shown, arts) + "\n  review the change and commit it"))
            else:
                message = (_details(row, shown, arts) + "\n  accept the change with: "
                           + again.format("--iqa-update=failed"))
        st.save_row(row, nodeid)
        return message

    def _stem_path(self, key: str) -> str:
        from ..report.diffs import unique_stem

        return unique_stem(str(self._state.results_dir), key, set())

    def _clean(self, key: str, ext: str) -> None:
        """A passing check leaves no artefacts of an earlier failing run behind."""
        stem = self._stem_path(key)
        for suffix in (".obtained" + ext, ".ssim.png", ".diff.png"):
            try:
                os.remove(stem + suffix)
            except FileNotFoundError:
                pass

    def _artefacts(self, row: Any, result: Any, key: str, ext: str, data: bytes | None,
                   obtained: Path) -> dict[str, str]:
        """The obtained image, heatmap and difference mask under ``--iqa-results``
        (and the thumbnails of the HTML report); their shown paths."""
        from ..atomic import atomic_write
        from ..report.diffs import RowPictures

        st = self._state
        stem = self._stem_path(key)
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        try:
            with atomic_write(stem + ".obtained" + ext, "wb") as fh:
                fh.write(data if data is not None else obtained.read_bytes())
            thumbs = st.report_dir is not None and st.n_thumbs < THUMB_CAP
            st.n_thumbs += thumbs
            RowPictures(thumbnails=thumbs, diffs_dir=str(st.results_dir)).draw(row, result.maps, result.display)
        except OSError as e:
            raise IqaError(f"cannot write the results: {e.strerror or e}", str(st.results_dir)) from None
        out = {}
        for label, suffix in (("obtained", ".obtained" + ext), ("heatmap", ".ssim.png"), ("diff", ".diff.png")):
            if os.path.exists(stem + suffix):
                out[label] = display(stem + suffix, st.invocation_dir)
        return out

    def finish(self) -> None:
        """Raise what the test's updates owe: a failure, else a skip."""
        import pytest

        fails = [m for k, m in self.pending if k == "fail"]
        if fails:
            pytest.fail("\n".join(fails + [m for k, m in self.pending if k == "skip"]), pytrace=False)
        if self.pending:
            pytest.skip("\n".join(m for _, m in self.pending))


def _gates_phrase(row: Any) -> str:
    return "; ".join(g.describe() for g in row.gates) or (row.reason or "")


def _details(row: Any, shown: str, arts: dict[str, str]) -> str:
    """What ``iqa check`` says about a failing pair: every gate with value,
    threshold and margin, where the image changed, and the pictures."""
    lines = [f"iqa: {shown}: the image differs from its baseline"]
    if row.gates:
        for g in sorted(row.gates, key=lambda g: g.passed):
            lines.append(f"  gate {g.gate.canonical()}: {g.describe()}")
    else:
        lines.append(f"  {row.reason}")
    if row.where:
        lines.append(f"  where: {row.where}")
    names = {"obtained": "obtained", "heatmap": "heatmap", "diff": "difference mask"}
    for label, path in arts.items():
        lines.append(f"  {names[label]}: {path}")
    return "\n".join(lines)
