"""Where a check's baseline lives: ``<test dir>/baselines/<test module>/<test
name>[-<name>].<ext>`` by default, or ``<iqa_baseline_dir>/<test file path
without .py>/...`` when the ini option is set; names are made file-safe."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX = 120  # characters of a file stem; longer ids are cut and keep their hash


def safe_name(text: str) -> str:
    """A file-safe stem: ``test_x[a-1]`` → ``test_x-a-1``; any other character
    becomes ``_`` and a short hash of the original is appended, so two ids
    that differ only in unsafe characters never share a file."""
    t = text
    if t.endswith("]") and "[" in t:
        i = t.index("[")
        t = t[:i] + "-" + t[i + 1:-1]
    safe = _UNSAFE.sub("_", t).strip(".") or "_"
    if safe != t or len(safe) > _MAX:
        safe = safe[:_MAX] + "-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return safe


def node_stem(nodeid: str) -> str:
    """``test_m.py::TestC::test_x[p]`` → ``TestC.test_x-p``."""
    parts = nodeid.split("::")[1:] or [nodeid]
    return safe_name(".".join(parts))


def baseline_location(test_path: Path, rootpath: Path, configured: Path | None) -> tuple[Path, str]:
    """``(baseline folder, sub-folder of this test module inside it)``."""
    if configured is None:
        return test_path.parent / "baselines", test_path.stem
    try:
        rel = test_path.resolve().relative_to(rootpath.resolve()).with_suffix("")
        sub = rel.as_posix()
    except ValueError:  # a test file outside the rootdir
        sub = test_path.stem
    return configured, sub


def display(path: str | os.PathLike, cwd: str | None = None) -> str:
    """A path relative to ``cwd`` when it lies below it."""
    p = os.path.abspath(path)
    base = os.path.abspath(cwd or os.getcwd())
    if p == base or p.startswith(base + os.sep):
        return os.path.relpath(p, base)
    return p
