"""Walking one folder tree: image files by relative path, with warnings for
what could not be read (loops, unreadable folders, broken links)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError
from .patterns import Pattern, pattern_hits

#: the image file extensions iqa reads (one frame each, or an animation: GIF, PNG, WebP)
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm"}
)
#: file name endings read as video (lower case; :mod:`iqa_cli.io.video` reads them with PyAV)
VIDEO_EXTENSIONS: frozenset[str] = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg",
    ".flv", ".wmv", ".ogv", ".y4m", ".nut", ".h264", ".264", ".h265", ".265", ".hevc", ".ivf", ".obu",
})
#: what a folder walk picks up (and reports refuse to overwrite): images and videos, except ``.ts``
#: (TypeScript as often as an MPEG transport stream), which is read when a file is named
INPUT_EXTENSIONS: frozenset[str] = IMAGE_EXTENSIONS | (VIDEO_EXTENSIONS - {".ts"})


def _dir_id(st: os.stat_result, path: str) -> tuple:
    if st.st_ino:
        return (st.st_dev, st.st_ino)
    return ("real", os.path.realpath(path))  # file systems without inode numbers


def _check_dir(path: str | os.PathLike, role: str) -> str:
    p = os.fspath(path)
    if not os.path.exists(p):
        if os.path.islink(p):
            raise UsageError(f"{role} is a broken symbolic link", path=p)
        raise UsageError(f"{role} not found", path=p)
    if not os.path.isdir(p):
        raise UsageError(f"{role} is not a directory", path=p)
    return p


def _walk(
    root: str,
    excludes: list[Pattern],
    warnings: list[str],
    unreadable: dict[str, str] | None = None,
) -> list[str]:
    """Relative POSIX paths of the image and video files under ``root`` (:data:`INPUT_EXTENSIONS`).

    Exclude patterns prune folders early; includes are applied by the caller.
    An entry with an image name that exists but cannot be an image (a broken
    symbolic link, a FIFO, a socket, a device) is listed too, with its reason
    in ``unreadable``: it is an error row, never a file that is not there.
    """
    root_path = Path(root)
    try:
        root_st = os.stat(root)
    except OSError as exc:  # pragma: no cover - raced with _check_dir
        raise UsageError(f"cannot read directory ({exc.strerror})", path=root) from None

    # The root and all its real ancestors: a link to any of them is a loop
    # (``up -> ..`` or ``all -> /`` would otherwise walk the whole disk).
    ancestors = {_dir_id(root_st, root)}
    real = os.path.realpath(root)
    parent = os.path.dirname(real)
    while parent and parent != real:
        try:
            ancestors.add(_dir_id(os.stat(parent), parent))
        except OSError:
            break
        real, parent = parent, os.path.dirname(parent)

    found: list[str] = []
    # stack of (absolute-ish path, relative POSIX prefix, ids of folders on the path)
    stack: list[tuple[str, str, frozenset]] = [(root, "", frozenset(ancestors))]
    while stack:
        dir_path, prefix, chain = stack.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = list(it)
        except OSError as exc:
            if dir_path == root:
                raise UsageError(
                    f"cannot read directory ({exc.strerror or exc})", path=root
                ) from None
            warnings.append(
                f"{_show(root_path, prefix)}: cannot read directory "
                f"({exc.strerror or exc}); skipped"
            )
            if hasattr(warnings, "unread"):  # callers that must know what they could not see
                warnings.unread.append((root, prefix.rstrip("/")))
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = prefix + name
            try:
                is_dir = entry.is_dir()  # follows links
                is_file = not is_dir and entry.is_file()
            except OSError as exc:
                warnings.append(f"{_show(root_path, rel)}: cannot stat ({exc.strerror}); skipped")
                continue
            if is_dir:
                if any(pattern_hits(p, rel, True) for p in excludes):
                    continue
                try:
                    st = entry.stat()
                except OSError as exc:
                    warnings.append(
                        f"{_show(root_path, rel)}: cannot stat ({exc.strerror}); skipped"
                    )
                    continue
                ident = _dir_id(st, entry.path)
                if ident in chain:
                    warnings.append(
                        f"{_show(root_path, rel)}: symbolic link loop "
                        f"(points back to {os.path.realpath(entry.path)}); not followed"
                    )
                    continue
                subdirs.append((entry.path, rel + "/", chain | {ident}))
            elif is_file:
                if os.path.splitext(name)[1].lower() in INPUT_EXTENSIONS:
                    found.append(rel)
            elif os.path.splitext(name)[1].lower() in INPUT_EXTENSIONS:
                found.append(rel)
                if unreadable is not None:
                    unreadable[rel] = _not_a_file(entry.path)
        # reverse so that popping visits folders in name order (stable warnings)
        subdirs.sort(key=lambda s: s[1], reverse=True)
        stack.extend(subdirs)
    return found


def _not_a_file(path: str) -> str:
    """Why an entry that is neither a file nor a folder cannot be read."""
    import stat

    try:
        if os.path.islink(path) and not os.path.exists(path):
            return "broken symbolic link"
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"cannot stat ({exc.strerror or exc})"
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    what = next((text for test, text in kinds if test(mode)), "not a regular file")
    return f"not a regular file ({what})" if what != "not a regular file" else what


def _show(root: Path, rel: str) -> str:
    return str(root / rel) if rel else str(root)
