"""Pair the files of two folders (``iqa batch``, ``iqa check``) or one
reference with several distorted files (``iqa compare``).

No torch and no image decoding here: this module only looks at names.

Folder pairing
--------------
Both trees are walked recursively with :func:`os.scandir`. Only files whose
extension (compared in lower case) is in :data:`IMAGE_EXTENSIONS` count;
hidden files and folders (name starting with ``.``) are skipped. Symbolic
links to files and to folders are followed; a link that leads back into a
folder already on the current path (a loop) is not followed and is reported
as a warning, as are folders that cannot be read and broken links with an
image extension. None of these stop the walk.

``match="path"`` pairs files with the same relative path; ``match="stem"``
pairs files with the same relative path less the extension, so ``a.png``
pairs with ``a.jpg``. Files found on one side only become a :class:`Pair`
with ``None`` on the other side (status ``missing_reference`` or
``missing_distorted``).

``include``/``exclude`` patterns are shell-style globs matched against the
relative POSIX path: ``*``, ``?`` and ``[...]`` never cross a ``/``, ``**``
matches any number of folders (``**/*.png``, ``shots/**``), a pattern without
a ``/`` is matched against every name in the path (so ``*.png`` matches
``a/b/c.png``), and a pattern that matches a folder covers everything below
it (``--exclude thumbs`` drops ``thumbs/x.png`` and ``a/thumbs/y.png``). A
trailing ``/`` restricts a pattern to folders, a leading ``/`` anchors it at
the root. Matching is case-sensitive. A file is kept when it matches at least
one include pattern (or there are none) and no exclude pattern.

Keys are the relative paths with ``/`` separators, in Unicode NFC, so a tree
written on macOS (NFD names) pairs with the same tree written on Linux.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .errors import UsageError

__all__ = ["IMAGE_EXTENSIONS", "MATCH_MODES", "Pair", "pair_folders", "pair_files"]

#: the file extensions iqa reads (folder walks pick these; reports refuse to overwrite them)
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm"}
)

MATCH_MODES = ("path", "stem")


@dataclass(frozen=True)
class Pair:
    """One row of a batch.

    ``key`` is the relative path with ``/`` separators (without the extension
    in stem mode) used for display and sorting. ``reference`` is ``None`` for
    a file found only in the distorted folder (``missing_reference``),
    ``distorted`` is ``None`` for one found only in the reference folder
    (``missing_distorted``). Paths are the folder given joined with the
    relative path (links are not resolved).
    """

    key: str
    reference: Path | None
    distorted: Path | None

    @property
    def status(self) -> str | None:
        """``missing_reference``, ``missing_distorted`` or ``None`` (both present)."""
        if self.reference is None:
            return "missing_reference"
        if self.distorted is None:
            return "missing_distorted"
        return None


# --------------------------------------------------------------------------
# patterns


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


def _pattern_hits(pat: Pattern, rel: str, is_dir: bool) -> bool:
    """Does ``pat`` match the path ``rel`` itself (not its parents)?"""
    if pat.dir_only and not is_dir:
        return False
    subject = rel if pat.anchored else rel.rpartition("/")[2]
    return pat.regex.match(subject) is not None


def covered(patterns: list[Pattern], rel: str) -> bool:
    """Does any pattern match the file ``rel`` or one of its folders?"""
    parts = rel.split("/")
    for pat in patterns:
        if _pattern_hits(pat, rel, False):
            return True
        for k in range(1, len(parts)):
            if _pattern_hits(pat, "/".join(parts[:k]), True):
                return True
    return False


# --------------------------------------------------------------------------
# walking


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
) -> list[str]:
    """Relative POSIX paths of the image files under ``root``.

    Exclude patterns prune folders early; includes are applied by the caller.
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
                if any(_pattern_hits(p, rel, True) for p in excludes):
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
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                    found.append(rel)
            elif os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                try:
                    broken = entry.is_symlink() and not os.path.exists(entry.path)
                except OSError:  # pragma: no cover
                    broken = False
                if broken:
                    warnings.append(f"{_show(root_path, rel)}: broken symbolic link; skipped")
        # reverse so that popping visits folders in name order (stable warnings)
        subdirs.sort(key=lambda s: s[1], reverse=True)
        stack.extend(subdirs)
    return found


def _show(root: Path, rel: str) -> str:
    return str(root / rel) if rel else str(root)


# --------------------------------------------------------------------------
# pairing


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _ext(rel: str) -> str:
    name = rel.rpartition("/")[2]
    return os.path.splitext(name)[1].lower()


def _stem(rel: str) -> str:
    head, _, name = rel.rpartition("/")
    stem = os.path.splitext(name)[0]
    return f"{head}/{stem}" if head else stem


def _group(rels: list[str], match: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rel in rels:
        key = _nfc(_stem(rel) if match == "stem" else rel)
        groups.setdefault(key, []).append(rel)
    for lst in groups.values():
        lst.sort()
    return groups


def pair_folders(
    ref_dir: str | os.PathLike,
    dist_dir: str | os.PathLike,
    *,
    match: str = "path",
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> tuple[list[Pair], list[str]]:
    """Pair the image files of two folder trees.

    Returns ``(pairs, warnings)``: the pairs sorted by key, and one-line
    warnings (loops, unreadable folders, ambiguous stems, ...) in the order
    they were found. Raises :class:`~iqa_cli.errors.UsageError` when a folder
    is missing, is not a folder or cannot be read, when ``match`` is unknown
    or a pattern is empty. An empty result is not an error here; the caller
    decides (exit code 3: nothing compared).
    """
    if match not in MATCH_MODES:
        raise UsageError(f"--match must be one of {', '.join(MATCH_MODES)}, not {match!r}")
    ref = _check_dir(ref_dir, "reference folder")
    dist = _check_dir(dist_dir, "distorted folder")
    includes = compile_patterns(include, "--include")
    excludes = compile_patterns(exclude, "--exclude")

    warnings: list[str] = []
    ref_real, dist_real = os.path.realpath(ref), os.path.realpath(dist)
    if ref_real == dist_real:
        warnings.append(f"{ref} and {dist} are the same folder: every pair is identical")
    elif dist_real.startswith(ref_real + os.sep) or ref_real.startswith(dist_real + os.sep):
        inner, outer = (dist, ref) if dist_real.startswith(ref_real + os.sep) else (ref, dist)
        warnings.append(f"{inner} is inside {outer}: its files are also walked as part of {outer}")

    sides = []
    for root in (ref, dist):
        rels = _walk(root, excludes, warnings)
        rels = [r for r in rels if (not includes or covered(includes, r)) and not covered(excludes, r)]
        sides.append(_group(rels, match))
    ref_groups, dist_groups = sides
    ref_root, dist_root = Path(ref), Path(dist)

    pairs: list[Pair] = []
    for key in sorted(ref_groups.keys() | dist_groups.keys()):
        refs = ref_groups.get(key, [])
        dists = dist_groups.get(key, [])
        if len(refs) <= 1 and len(dists) <= 1:
            pairs.append(
                Pair(
                    key,
                    ref_root / refs[0] if refs else None,
                    dist_root / dists[0] if dists else None,
                )
            )
            continue
        pairs.extend(_resolve_ambiguous(key, refs, dists, ref_root, dist_root, match, warnings))
    pairs.sort(key=lambda p: p.key)
    return pairs, warnings


def _resolve_ambiguous(
    key: str,
    refs: list[str],
    dists: list[str],
    ref_root: Path,
    dist_root: Path,
    match: str,
    warnings: list[str],
) -> list[Pair]:
    """Several files share one key on at least one side.

    In stem mode: files of the same extension pair first; the rest pair in
    name order; what is left over on the longer side is ignored. In path mode
    this only happens when names differ just in Unicode normalisation: the
    first one (in code-point order) is used.
    """
    what = "stem" if match == "stem" else "path (names differ only in Unicode normalisation)"

    def describe(root: Path, names: list[str]) -> str:
        return ", ".join(str(root / n) for n in names)

    if not refs or not dists:
        # One side only, several files: with a single counterpart missing,
        # report the first as missing and ignore the others.
        side_root, names = (ref_root, refs) if refs else (dist_root, dists)
        warnings.append(
            f"ambiguous {what} {key!r}: {describe(side_root, names)}; "
            f"using {side_root / names[0]}, ignoring the rest"
        )
        r = ref_root / refs[0] if refs else None
        d = dist_root / dists[0] if dists else None
        return [Pair(key, r, d)]

    chosen: list[tuple[str, str]] = []
    rest_r, rest_d = list(refs), list(dists)
    if match == "stem":
        for r in refs:
            same = [d for d in rest_d if _ext(d) == _ext(r)]
            if same:
                chosen.append((r, same[0]))
                rest_r.remove(r)
                rest_d.remove(same[0])
    for r, d in zip(list(rest_r), list(rest_d)):
        chosen.append((r, d))
        rest_r.remove(r)
        rest_d.remove(d)
    chosen.sort()
    ignored = [ref_root / r for r in rest_r] + [dist_root / d for d in rest_d]

    paired = "; ".join(f"{ref_root / r} with {dist_root / d}" for r, d in chosen)
    msg = (
        f"ambiguous {what} {key!r}: reference {describe(ref_root, refs)} / "
        f"distorted {describe(dist_root, dists)}; paired {paired}"
    )
    if ignored:
        msg += f"; ignoring {', '.join(str(p) for p in ignored)}"
    warnings.append(msg)

    if len(chosen) == 1:
        r, d = chosen[0]
        return [Pair(key, ref_root / r, dist_root / d)]
    # several pairs from one stem: keep the keys unique with the full names
    return [Pair(_nfc(r) if r == d else f"{_nfc(r)} | {_nfc(d)}", ref_root / r, dist_root / d)
            for r, d in chosen]


def pair_files(
    reference: str | os.PathLike,
    distorted_list: Iterable[str | os.PathLike],
) -> list[Pair]:
    """Compare mode: one reference against each distorted file, in the order
    given. The key is the distorted path as given (``/`` separators).

    Nothing is checked on disk: a missing or unreadable file is reported by
    the loader as an error row naming it.
    """
    ref = Path(reference)
    return [Pair(Path(d).as_posix(), ref, Path(d)) for d in distorted_list]
