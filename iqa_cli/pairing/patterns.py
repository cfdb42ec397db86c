"""``include``/``exclude`` patterns: shell-style globs on relative POSIX paths.

``*``, ``?`` and ``[...]`` never cross a ``/``, ``**`` matches any number of
folders (``**/*.png``, ``shots/**``), a pattern without a ``/`` is matched
against every name in the path (so ``*.png`` matches ``a/b/c.png``), and a
pattern that matches a folder covers everything below it. A trailing ``/``
restricts a pattern to folders, a leading ``/`` anchors it at the root.
Matching is case-sensitive.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable

from ..errors import UsageError


def _glob_to_regex(pattern: str) -> str:
    """Translate a glob to a regex where ``*``/``?``/``[]`` stay inside one
    path segment and ``**`` spans segments."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i >= 2:
                at_start = i == 0 or pattern[i - 1] == "/"
                if at_start and j < n and pattern[j] == "/":
                    out.append("(?:.*/)?")  # "**/": zero or more folders
                    i = j + 1
                else:
                    out.append(".*")
                    i = j
            else:
                out.append("[^/]*")
                i = j
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                negate = body.startswith("!")
                if negate:
                    body = body[1:]
                body = "".join("\\" + ch if ch in "\\[]^&~|" else ch for ch in body)
                out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
                i = j + 1
                continue
        else:
            out.append(re.escape(c))
        i += 1
    return "(?s:" + "".join(out) + r")\Z"


@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern[str]
    anchored: bool  # contains a "/": matched against paths, not names
    dir_only: bool  # trailing "/": only folders match


def compile_patterns(patterns: Iterable[str], option: str) -> list[Pattern]:
    if isinstance(patterns, str):  # a lone string is one pattern, not characters
        patterns = [patterns]
    compiled = []
    for text in patterns:
        p = str(text)
        if os.sep != "/":
            p = p.replace(os.sep, "/")
        while p.startswith("./"):
            p = p[2:]
        dir_only = p.endswith("/")
        p = p.rstrip("/")
        anchored = "/" in p
        p = p.lstrip("/")
        if not p:
            raise UsageError(f"{option}: empty pattern {text!r}")
        compiled.append(Pattern(str(text), re.compile(_glob_to_regex(p)), anchored, dir_only))
    return compiled


def pattern_hits(pat: Pattern, rel: str, is_dir: bool) -> bool:
    """Does ``pat`` match the path ``rel`` itself (not its parents)?"""
    if pat.dir_only and not is_dir:
        return False
    subject = rel if pat.anchored else rel.rpartition("/")[2]
    return pat.regex.match(subject) is not None


def covered(patterns: list[Pattern], rel: str) -> bool:
    """Does any pattern match the file ``rel`` or one of its folders?"""
    parts = rel.split("/")
    for pat in patterns:
        if pattern_hits(pat, rel, False):
            return True
        for k in range(1, len(parts)):
            if pattern_hits(pat, "/".join(parts[:k]), True):
                return True
    return False
