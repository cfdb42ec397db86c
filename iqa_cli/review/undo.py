"""The undo log of ``iqa review``, and the all-or-nothing file changes that
accept and undo are made of.

The log is a JSON Lines file, ``.iqa-review.jsonl`` beside BASELINE by
default (in the folder that holds it, so BASELINE itself only ever holds
what ``cp``/``rm`` of the decisions would leave). The bytes a change
replaces or removes are kept in a content-addressed blob store next to the
log (``.iqa-review/blobs/<sha256>``), so an undo restores them exactly.

One operation (an accept of one or several pairs, or an undo) is:

1. planned and checked: every file is where the check saw it, with the bytes
   the check saw (sha256), else the whole operation is refused;
2. the bytes it will overwrite are stored as blobs, and its log lines are
   appended (one write, fsynced) *before* any file changes, so a crash
   half-way leaves a log that says what may have changed and where the old
   bytes are;
3. applied file by file (new bytes to a temporary file in the same folder,
   then ``os.replace``); on any failure the files already changed are put
   back and a ``rollback`` line is appended: nothing is half-written.

Log lines (``"v": 1``) carry ``op`` (``accept``, ``undo`` or ``rollback``),
``id`` (of the operation), ``session``, ``time`` (UTC), and per changed file:
``path`` (the pair), ``root`` (BASELINE, absolute), ``file`` (relative to
it), ``action`` (``replaced``/``added``/``removed`` for an accept;
``restored``/``removed`` for an undo), ``old_sha256``/``new_sha256`` (null:
no file), ``old_mode``, ``blob`` (where the old bytes are, relative to the
log's folder) and ``source`` (the output file copied). An undo line names the
accept it undoes in ``undoes``; a rollback line names the failed operation in
``of``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import stat
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..atomic import atomic_write, reason
from ..errors import IqaError
from .paths import PathRefused, clean_relative, resolve_inside

LOG_NAME = ".iqa-review.jsonl"
VERSION = 1


def default_log_path(baseline: str) -> str:
    """``.iqa-review.jsonl`` beside BASELINE: in the folder that holds the
    BASELINE folder (or, for a single baseline file, in its folder)."""
    path = os.path.abspath(baseline)
    if os.path.isfile(path):
        return os.path.join(os.path.dirname(path), LOG_NAME)
    parent = os.path.dirname(path.rstrip(os.sep)) or path
    return os.path.join(parent, LOG_NAME)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str) -> str | None:
    """sha256 of a file's bytes; None when there is no file; :class:`IqaError`
    when it cannot be read (a folder, no permission)."""
    try:
        with open(path, "rb") as f:
            if hasattr(hashlib, "file_digest"):  # Python 3.11+
                return hashlib.file_digest(f, "sha256").hexdigest()
            return sha256(f.read())
    except FileNotFoundError:
        return None
    except OSError as e:
        raise IqaError(f"cannot read: {reason(e)}", path) from None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


class Refused(Exception):
    """An operation that must not run; nothing was changed. ``items`` are
    ``{"path", "reason"}`` objects."""

    def __init__(self, items: list[dict[str, Any]]):
        self.items = items
        super().__init__("; ".join(f"{i.get('path')}: {i['reason']}" for i in items))


class Failed(Exception):
    """An operation that failed while changing files and was rolled back."""


@dataclass
class Change:
    """One planned file change of an accept.

    ``expect_old``: the sha256 the file must have now (what the check saw;
    None: it must not exist). ``source``/``expect_new``: the file whose bytes
    become the new content and their sha256 (None for a removal).
    """

    path: str
    root: str
    file: str
    target: str
    action: str  # replaced | added | removed
    expect_old: str | None
    source: str | None = None
    expect_new: str | None = None


@dataclass
class _Step:
    """One file change being applied: how to do it and how to take it back
    (the bytes before are in the blob store, not in memory)."""

    line: dict[str, Any]
    target: str
    write_blob: str | None = None  # the new content: a blob (undo) or ``source`` (accept); neither: remove
    before: str | None = None  # sha256 of the blob to put back; None: there was no file
    before_mode: int | None = None
    source: str | None = None
    expect_new: str | None = None
    made_dirs: list[str] = field(default_factory=list)


class UndoLog:
    """The log file and its blob store."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        stem = self.path[: -len(".jsonl")] if self.path.endswith(".jsonl") else self.path + ".d"
        self.store = stem  # .iqa-review/
        self.blob_dir = os.path.join(stem, "blobs")

    # ------------------------------------------------------------------ storage

    def _blob_path(self, sha: str) -> str:
        return os.path.join(self.blob_dir, sha)

    def blob_ref(self, sha: str) -> str:
        """The blob's path as the log writes it: relative to the log's folder."""
        return os.path.relpath(self._blob_path(sha), os.path.dirname(self.path)).replace(os.sep, "/")

    def put_blob(self, data: bytes) -> str:
        sha = sha256(data)
        dest = self._blob_path(sha)
        if file_sha256(dest) == sha:
            return sha
        try:
            os.makedirs(self.blob_dir, exist_ok=True)
            ignore = os.path.join(self.store, ".gitignore")
            if not os.path.exists(ignore):  # the store is history, not something to commit
                with atomic_write(ignore) as f:
                    f.write("*\n")
        except OSError as e:
            raise IqaError(f"cannot create the undo store: {reason(e)}", self.blob_dir) from None
        with atomic_write(dest, "wb") as f:
            f.write(data)
        return sha

    def blob(self, sha: str) -> bytes:
        """The stored bytes of ``sha``; :class:`IqaError` when absent or damaged."""
        p = self._blob_path(sha)
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError as e:
            raise IqaError(f"cannot read the kept bytes: {reason(e)}", p) from None
        if sha256(data) != sha:
            raise IqaError("the kept bytes are damaged (sha256 differs)", p)
        return data

    def append(self, lines: Iterable[dict[str, Any]]) -> None:
        """Append whole lines in one write, then fsync."""
        text = "".join(json.dumps(line, ensure_ascii=True, sort_keys=False, allow_nan=False) + "\n"
                       for line in lines)
        if not text:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, text.encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise IqaError(f"cannot write the undo log: {reason(e)}", self.path) from None

    def read(self) -> list[dict[str, Any]]:
        """Every complete line (a torn last line from a crash is skipped)."""
        try:
            with open(self.path, encoding="ascii", errors="replace") as f:
                raw = f.read()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise IqaError(f"cannot read the undo log: {reason(e)}", self.path) from None
        out = []
        for text in raw.splitlines():
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict) and "op" in obj:
                out.append(obj)
        return out

    def open_accepts(self, session: str | None = None) -> list[list[dict[str, Any]]]:
        """The accepts still in effect (not rolled back, not undone), oldest
        first, each as its list of lines; only ``session``'s when given."""
        lines = self.read()
        failed = {ln.get("of") for ln in lines if ln["op"] == "rollback"}
        undone = {ln.get("undoes") for ln in lines if ln["op"] == "undo" and ln.get("id") not in failed}
        batches: dict[str, list[dict[str, Any]]] = {}
        for ln in lines:
            if ln["op"] != "accept" or ln.get("id") in failed or ln.get("id") in undone:
                continue
            if not all(k in ln for k in ("id", "path", "root", "file", "old_sha256", "new_sha256")):
                continue  # not a line this version wrote
            if session is not None and ln.get("session") != session:
                continue
            batches.setdefault(ln["id"], []).append(ln)
        return list(batches.values())

    # ------------------------------------------------------------------ operations

    def accept(self, changes: list[Change], *, session: str) -> list[dict[str, Any]]:
        """Apply ``changes`` all-or-nothing; returns their log lines.

        Raises :class:`Refused` (nothing done) when a file is not as the check
        saw it, :class:`Failed` (everything put back) when a write fails.
        """
        refused = []
        for c in changes:
            try:
                now = file_sha256(c.target) if os.path.lexists(c.target) else None
                if now != c.expect_old:
                    refused.append({"path": c.path, "reason": _drift(c.file, c.expect_old, now)})
                elif c.source is not None and file_sha256(c.source) != c.expect_new:
                    refused.append({"path": c.path, "reason": f"the output {c.source} changed since the check; "
                                    "review it again"})
            except IqaError as e:
                refused.append({"path": c.path, "reason": str(e)})
        if refused:
            raise Refused(refused)
        op, t = new_id(), _now()
        steps = []
        for c in changes:
            mode, blob = None, None
            if c.expect_old is not None:
                mode = stat.S_IMODE(os.stat(c.target).st_mode)
                if self.put_blob(_read(c.target)) != c.expect_old:
                    raise Refused([{"path": c.path, "reason": _drift(c.file, c.expect_old, "changed")}])
                blob = self.blob_ref(c.expect_old)
            real_root = os.path.realpath(c.root)  # c.target and c.file are resolved against it
            made = [os.path.relpath(d, real_root).replace(os.sep, "/")
                    for d in _missing_dirs(os.path.dirname(c.target))] if c.source else []
            line = {"v": VERSION, "op": "accept", "id": op, "session": session, "time": t, "path": c.path,
                    "root": c.root, "file": c.file, "action": c.action, "old_sha256": c.expect_old,
                    "new_sha256": c.expect_new, "old_mode": mode, "blob": blob, "source": c.source,
                    "made_dirs": made}
            steps.append(_Step(line, c.target, before=c.expect_old, before_mode=mode, source=c.source,
                               expect_new=c.expect_new))
        self.append(s.line for s in steps)
        self._run(steps, op, session)
        return [s.line for s in steps]

    def undo_last(self, session: str | None = None, root: str | None = None) -> list[dict[str, Any]]:
        """Undo the last accept still in effect (``session``'s when given);
        returns the undo lines. :class:`Refused` when there is none, a file
        changed since, or (``root`` given) a line names a file outside
        ``root``; :class:`Failed` when a write failed (all put back)."""
        batches = self.open_accepts(session)
        if not batches:
            raise Refused([{"path": None, "reason": "nothing to undo"}])
        batch = batches[-1]
        refused, steps = [], []
        op, t = new_id(), _now()
        for ln in reversed(batch):
            try:
                if root is not None and os.path.realpath(ln["root"]) != os.path.realpath(root):
                    raise PathRefused("the log line is about another BASELINE")
                target = resolve_inside(ln["root"], ln["file"])
            except PathRefused as e:
                refused.append({"path": ln.get("path"), "reason": f"{ln.get('file')}: {e}"})
                continue
            try:
                now = file_sha256(target) if os.path.lexists(target) else None
            except IqaError as e:
                refused.append({"path": ln.get("path"), "reason": str(e)})
                continue
            if now == ln["old_sha256"]:
                continue  # already as before (a crash before this file changed)
            if now != ln["new_sha256"]:
                refused.append({"path": ln["path"], "reason": f"{ln['file']} changed since it was accepted "
                                "(undo would lose those bytes)"})
                continue
            restore = ln["old_sha256"]
            if restore is not None:
                self.blob(restore)  # there and intact, before anything changes
            if now is not None and self.put_blob(_read(target)) != now:  # so a failed undo can be put back
                refused.append({"path": ln["path"], "reason": f"{ln['file']} is changing; try again"})
                continue
            action = "restored" if restore is not None else "removed"
            line = {"v": VERSION, "op": "undo", "id": op, "undoes": ln["id"], "session": session
                    if session is not None else ln.get("session"), "time": t, "path": ln["path"],
                    "root": ln["root"], "file": ln["file"], "action": action, "old_sha256": now,
                    "new_sha256": ln["old_sha256"], "blob": ln.get("blob")}
            if restore is not None:
                line["mode"] = ln.get("old_mode")
            mode = stat.S_IMODE(os.stat(target).st_mode) if now is not None else None
            step = _Step(line, target, write_blob=restore, before=now, before_mode=mode)
            if restore is None:  # an added file goes, and the folders its accept made
                step.made_dirs = [os.path.join(os.path.realpath(ln["root"]), *d.split("/"))
                                  for d in ln.get("made_dirs") or () if clean_relative_ok(d)]
            steps.append(step)
        if refused:
            raise Refused(refused)
        if not steps:  # nothing on disk to change: mark it undone all the same
            steps_lines = [{"v": VERSION, "op": "undo", "id": op, "undoes": batch[0]["id"], "session": session,
                            "time": t, "path": ln["path"], "root": ln["root"], "file": ln["file"],
                            "action": "unchanged"} for ln in batch]
            self.append(steps_lines)
            return steps_lines
        self.append(s.line for s in steps)
        self._run(steps, op, session)
        return [s.line for s in steps]

    # ------------------------------------------------------------------ applying

    def _run(self, steps: list[_Step], op: str, session: str | None) -> None:
        done: list[_Step] = []
        try:
            for s in steps:
                data = None
                if s.source is not None:
                    data = _read(s.source)
                    if sha256(data) != s.expect_new:
                        raise IqaError("the output changed while it was being accepted", s.source)
                elif s.write_blob is not None:
                    data = self.blob(s.write_blob)
                if data is None:
                    _remove(s.target)
                    done.append(s)
                    if s.line["op"] == "undo":
                        _remove_dirs(s.made_dirs)
                else:
                    s.made_dirs = _make_dirs(os.path.dirname(s.target))
                    done.append(s)
                    _put(s.target, data, s.line.get("mode"))
        except (IqaError, OSError) as e:
            problems = []
            for s in reversed(done):
                try:
                    if s.before is None:
                        _remove(s.target)
                        if s.line["op"] == "accept":
                            _remove_dirs(s.made_dirs)
                    else:
                        _put(s.target, self.blob(s.before), s.before_mode)
                except (IqaError, OSError) as e2:
                    problems.append(f"{s.target}: {e2}")
            msg = str(e) if isinstance(e, IqaError) else f"{getattr(e, 'filename', '') or ''}: {reason(e)}"
            with contextlib.suppress(IqaError):
                self.append([{"v": VERSION, "op": "rollback", "of": op, "session": session, "time": _now(),
                              "reason": msg, "problems": problems}])
            if problems:
                raise Failed(f"{msg}; putting back failed for {'; '.join(problems)}") from None
            raise Failed(f"{msg}; nothing was changed") from None


def clean_relative_ok(rel: Any) -> bool:
    try:
        clean_relative(rel)
    except PathRefused:
        return False
    return True


def _drift(file: str, expected: str | None, now: str | None) -> str:
    if expected is None:
        return f"{file} appeared in BASELINE since the check; run the review again"
    if now is None:
        return f"{file} disappeared from BASELINE since the check; run the review again"
    return f"{file} changed in BASELINE since the check; run the review again"


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise IqaError(f"cannot read: {reason(e)}", path) from None


def _put(target: str, data: bytes, mode: int | None = None) -> None:
    with atomic_write(target, "wb") as f:
        f.write(data)
    if mode is not None:
        with contextlib.suppress(OSError):
            os.chmod(target, mode)


def _remove(target: str) -> None:
    try:
        os.remove(target)
    except (FileNotFoundError, NotADirectoryError):  # nothing there
        pass
    except OSError as e:
        raise IqaError(f"cannot remove: {reason(e)}", target) from None


def _missing_dirs(directory: str) -> list[str]:
    """``directory`` and those of its parents that do not exist, deepest first."""
    made = []
    d = directory
    while d and not os.path.isdir(d):
        made.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return made


def _make_dirs(directory: str) -> list[str]:
    """Create ``directory`` and its missing parents; returns those created, deepest first."""
    made = []
    for m in reversed(_missing_dirs(directory)):
        try:
            os.mkdir(m)
        except FileExistsError:
            if not os.path.isdir(m):
                raise IqaError("cannot create the folder: a file has that name", m) from None
            continue
        except OSError as e:
            raise IqaError(f"cannot create the folder: {reason(e)}", m) from None
        made.insert(0, m)
    return made


def _remove_dirs(dirs: list[str]) -> None:
    for d in dirs:
        with contextlib.suppress(OSError):
            os.rmdir(d)
