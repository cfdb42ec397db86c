"""The plugin's state for one pytest run (one per process: the controller and
each xdist worker), and the rows each check leaves for the HTML report.

Workers cannot share memory, so every check of a session with
``--iqa-report`` writes its row as one JSON file into a folder the controller
chose; the controller reads them all back in ``pytest_sessionfinish`` and
writes one page.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UPDATE_MODES = ("missing", "failed", "all")
THUMB_CAP = 200  # rows of a session that get thumbnails in the report (keeps the page loadable)


@dataclass
class State:
    update: str | None
    results_dir: Path
    report_dir: Path | None
    baseline_dir: Path | None  # the ini option, resolved; None: <test dir>/baselines
    rootpath: Path
    invocation_dir: Path
    rows_dir: Path | None = None  # where checks write their report rows (shared with the workers)
    owns_rows_dir: bool = False
    written: list[dict[str, str]] = field(default_factory=list)  # collected from the test reports
    _base: Any = None
    _tmp: str | None = None
    _n_rows: int = 0
    n_thumbs: int = 0
    report_path: str | None = None

    def base(self):
        """The session's config (read once, from the rootdir, like ``iqa check`` from its cwd)."""
        if self._base is None:
            from ..gate.config import find_config
            from .resolve import base_from

            self._base = base_from(find_config(None, cwd=str(self.rootpath)))
        return self._base

    def tmp(self) -> Path:
        """A private folder for the obtained images being scored."""
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="iqa-obtained-")
        return Path(self._tmp)

    def save_row(self, row: Any, nodeid: str) -> None:
        if self.rows_dir is None:
            return
        self._n_rows += 1
        doc = row.to_json()
        doc["nodeid"] = nodeid
        doc["images"] = {k: base64.b64encode(v).decode("ascii") for k, v in row.images.items()}
        path = self.rows_dir / f"{os.getpid()}-{self._n_rows:06d}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self.owns_rows_dir and self.rows_dir is not None:
            shutil.rmtree(self.rows_dir, ignore_errors=True)


def _num(v: Any) -> float | None:
    return None if v is None else float(v)  # "inf"/"nan" strings from strict JSON parse too


def row_from_json(doc: dict[str, Any]):
    """A :class:`~iqa_cli.gate.rows.CheckRow` back from :meth:`State.save_row`'s file."""
    from ..gate.gates import Gate, GateResult
    from ..gate.rows import CheckRow
    from ..status import CheckStatus

    gates = [GateResult(Gate(g["metric"], g["op"], float(g["threshold"]), g["gate"], g["source"]),
                        _num(g["value"]), bool(g["passed"]), _num(g["margin"]), g.get("note"))
             for g in doc["gates"]]
    return CheckRow(doc["key"], doc["baseline"], doc["output"], CheckStatus(doc["status"]), bool(doc["regression"]),
                    gates=gates, reason=doc["reason"], where=doc["where"], width=doc["width"],
                    height=doc["height"], metrics={k: _num(v) for k, v in doc["metrics"].items()},
                    warnings=list(doc["warnings"]),
                    images={k: base64.b64decode(v) for k, v in doc["images"].items()}, action=doc["action"])


def load_rows(rows_dir: Path) -> list[Any]:
    rows = []
    for p in sorted(rows_dir.glob("*.json")):
        rows.append(row_from_json(json.loads(p.read_text(encoding="utf-8"))))
    rows.sort(key=lambda r: r.key)
    return rows


def write_report(state: State) -> str | None:
    """The session's HTML page (the gate's report), or None when nothing was checked."""
    if state.report_dir is None or state.rows_dir is None:
        return None
    rows = load_rows(state.rows_dir)
    if not rows:
        return None
    from ..gate.rows import verdict_line
    from ..report.html import write_html

    changes = [f"{w['action']} {w['path']} ({w['nodeid']})" for w in state.written]
    from ..errors import IqaError

    try:
        gates = state.base().gates
    except IqaError:  # a broken config already failed every check; the page still shows the rows
        gates = []
    return write_html(str(state.report_dir), rows, verdict=verdict_line(rows, changes), gates=gates,
                      changes=changes)
