"""Where a review may write: a file inside BASELINE, named by a relative path.

A path that is absolute, climbs with ``..``, holds a NUL or a backslash, or
reaches outside BASELINE through a symlink is refused with
:class:`PathRefused`; nothing is written for it.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath


class PathRefused(ValueError):
    """A path a review must not write to; the message says why."""


def clean_relative(rel: str) -> str:
    """``rel`` as a normalised POSIX relative path, or :class:`PathRefused`."""
    if not isinstance(rel, str) or not rel:
        raise PathRefused("empty path")
    if "\x00" in rel or "\\" in rel:
        raise PathRefused("a path may not contain NUL or a backslash")
    p = PurePosixPath(rel)
    if p.is_absolute() or rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise PathRefused("an absolute path")
    parts = [s for s in p.parts if s not in ("", ".")]
    if not parts:
        raise PathRefused("empty path")
    if ".." in parts:
        raise PathRefused("a path may not contain '..'")
    return "/".join(parts)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_inside(root: str, rel: str) -> str:
    """The real absolute path of ``root/rel``; :class:`PathRefused` when it
    would leave ``root`` (symlinks followed, the part that exists resolved)."""
    rel = clean_relative(rel)
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, *rel.split("/")))
    if not _within(target, real_root) or target == real_root:
        raise PathRefused("the path leaves BASELINE")
    return target


def relative_inside(root: str, path: str) -> str:
    """The POSIX path of an existing or planned ``path`` relative to ``root``;
    :class:`PathRefused` when it is not inside ``root`` once symlinks are followed."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if not _within(real, real_root) or real == real_root:
        raise PathRefused("the path leaves BASELINE")
    return PurePosixPath(os.path.relpath(real, real_root)).as_posix()
