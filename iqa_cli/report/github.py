"""GitHub Actions output for ``iqa check --github``.

- one workflow command per failing pair on stdout
  (``::error file=PATH,title=iqa check::MESSAGE``; ``::warning`` for a new
  output that passes and for each warning of any pair), escaped as the runner expects;
- a Markdown summary appended to ``$GITHUB_STEP_SUMMARY`` when it is set.
"""

from __future__ import annotations

import os
from typing import IO, Any

from ..formatting import metric_value, short


def _esc_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _esc_prop(s: str) -> str:
    return _esc_data(s).replace(":", "%3A").replace(",", "%2C")


def annotations(rows: list[Any]) -> list[str]:
    out = []
    for r in rows:
        path = str(r.baseline or r.output or r.key)  # the baseline is the file in the repository
        if r.status == "ERROR":
            level, msg = "error", f"{r.key}: could not be checked: {r.reason}"
        elif r.regression and not r.action:
            level, msg = "error", f"{r.key}: {r.status}: {r.summary()}" + (f" ({r.where})" if r.where else "")
        elif r.status == "NEW" and not r.action:
            level, msg = "warning", f"{r.key}: {r.reason}"
        else:
            level = None
        if level is not None:
            out.append(f"::{level} file={_esc_prop(path)},title={_esc_prop('iqa check ' + r.status)}::{_esc_data(msg)}")
        for w in r.warnings:  # a passing pair's warnings too: a rotated or animated output passes, not silently
            out.append(f"::warning file={_esc_prop(path)},title={_esc_prop('iqa check warning')}::"
                       f"{_esc_data(r.key + ': ' + w)}")
    return out


def _md(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Any], verdict: str) -> str:
    lines = ["### iqa check", "", f"**{_md(verdict)}**", ""]
    bad = sorted([r for r in rows if r.status != "PASS" or r.action], key=lambda r: r.severity)
    if bad:
        lines += ["| status | pair | gate | value | threshold | margin | where / note |",
                  "|---|---|---|---:|---:|---:|---|"]
        for r in bad:
            gs = r.failed_gates
            if gs:
                for g in gs:
                    lines.append(f"| {r.status} | `{_md(r.key)}` | `{g.gate.canonical()}` | {metric_value(g.gate.metric, g.value)} | "
                                 f"{g.gate.op}{short(g.gate.threshold)} | {metric_value(g.gate.metric, g.margin, signed=True)} | {_md(r.where or '')} |")
            else:
                note = r.reason or ""
                if r.action:
                    note += f" (baseline {r.action})"
                lines.append(f"| {r.status} | `{_md(r.key)}` | | | | | {_md(note)} |")
    n_pass = sum(1 for r in rows if r.status == "PASS" and not r.action)
    lines += ["", f"{n_pass} of {len(rows)} pairs passed.", ""]
    warned = [(r, w) for r in rows for w in r.warnings]
    if warned:
        lines += ["**warnings**", ""] + [f"- `{_md(r.key)}`: {_md(w)}" for r, w in warned] + [""]
    return "\n".join(lines)


def write_github(rows: list[Any], *, verdict: str, stream: IO[str]) -> None:
    for line in annotations(rows):
        stream.write(line + "\n")
    stream.flush()
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(markdown(rows, verdict) + "\n")
        except OSError as e:
            from ..errors import IqaError

            raise IqaError(f"cannot append the step summary: {e.strerror or e}", path) from None
