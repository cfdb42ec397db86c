"""Pair the files of two folders (``iqa batch``, ``iqa check``) or one
reference with several distorted files (``iqa compare``).

No torch and no image decoding here: this module only looks at names.

Folder pairing
--------------
Both trees are walked recursively with :func:`os.scandir`. Only files whose
extension (compared in lower case) is in :data:`INPUT_EXTENSIONS` count
(images, and videos except ``.ts``: a video pairs with a video as an image
does with an image; a folder of frames is walked as images, frame by frame);
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

``include``/``exclude`` patterns are shell-style globs on the relative POSIX
path (:mod:`.patterns`). A file is kept when it matches at least one include
pattern (or there are none) and no exclude pattern.

Keys are the relative paths with ``/`` separators, in Unicode NFC, so a tree
written on macOS (NFD names) pairs with the same tree written on Linux.
"""

from __future__ import annotations

import filecmp
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import UsageError
from ..spelling import spell
from .patterns import Pattern, compile_patterns, covered
from .walk import IMAGE_EXTENSIONS, INPUT_EXTENSIONS, VIDEO_EXTENSIONS, _check_dir, _walk

__all__ = ["IMAGE_EXTENSIONS", "INPUT_EXTENSIONS", "MATCH_MODES", "VIDEO_EXTENSIONS", "Pair", "Pattern",
           "compile_patterns", "covered", "pair_folders", "pair_files"]

MATCH_MODES = ("path", "stem")


class Notes(list):
    """The warnings of a folder pairing, and the folders that could not be
    read (``unread``: (root given, relative path) pairs) for callers that must
    not act on what they could not see."""

    def __init__(self) -> None:
        super().__init__()
        self.unread: list[tuple[str, str]] = []


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
    #: why this file is not compared (e.g. left over by an ambiguous stem): an error row
    problem: str | None = None

    @property
    def status(self) -> str | None:
        """``missing_reference``, ``missing_distorted`` or ``None`` (both present)."""
        if self.reference is None:
            return "missing_reference"
        if self.distorted is None:
            return "missing_distorted"
        return None

    def identical_files(self) -> bool:
        """Both files exist and hold the same bytes (a folder of frames never
        counts; an unreadable file is not identical)."""
        a, b = self.reference, self.distorted
        if a is None or b is None or os.path.isdir(a) or os.path.isdir(b):
            return False
        try:
            return filecmp.cmp(a, b, shallow=False)
        except OSError:
            return False


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
) -> tuple[list[Pair], Notes]:
    """Pair the image files of two folder trees.

    Returns ``(pairs, warnings)``: the pairs sorted by key, and one-line
    warnings (loops, unreadable folders, ambiguous stems, ...) in the order
    they were found (a :class:`Notes`, which also lists the unread folders).
    A file left over by an ambiguous stem is a :class:`Pair` with a ``problem``. Raises :class:`~iqa_cli.errors.UsageError` when a folder
    is missing, is not a folder or cannot be read, when ``match`` is unknown
    or a pattern is empty. An empty result is not an error here; the caller
    decides (exit code 3: nothing compared).
    """
    if match not in MATCH_MODES:
        raise UsageError(f"{spell('match')} must be one of {', '.join(MATCH_MODES)}, not {match!r}")
    ref = _check_dir(ref_dir, "reference folder")
    dist = _check_dir(dist_dir, "distorted folder")
    includes = compile_patterns(include, spell("include"))
    excludes = compile_patterns(exclude, spell("exclude"))

    warnings = Notes()
    ref_real, dist_real = os.path.realpath(ref), os.path.realpath(dist)
    if ref_real == dist_real:
        warnings.append(f"{ref} and {dist} are the same folder: every pair is identical")
    elif dist_real.startswith(ref_real + os.sep) or ref_real.startswith(dist_real + os.sep):
        inner, outer = (dist, ref) if dist_real.startswith(ref_real + os.sep) else (ref, dist)
        warnings.append(f"{inner} is inside {outer}: its files are also walked as part of {outer}")

    sides = []
    problems: list[dict[str, str]] = []
    for root in (ref, dist):
        unreadable: dict[str, str] = {}
        rels = _walk(root, excludes, warnings, unreadable)
        problems.append(unreadable)
        rels = [r for r in rels if (not includes or covered(includes, r)) and not covered(excludes, r)]
        sides.append(_group(rels, match))
    ref_groups, dist_groups = sides
    ref_root, dist_root = Path(ref), Path(dist)

    pairs: list[Pair] = []
    for key in sorted(ref_groups.keys() | dist_groups.keys()):
        refs = ref_groups.get(key, [])
        dists = dist_groups.get(key, [])
        if len(refs) <= 1 and len(dists) <= 1:
            bad = [f"{root / rel}: {side[rel]}" for rels, root, side in ((refs, ref_root, problems[0]),
                                                                         (dists, dist_root, problems[1]))
                   for rel in rels if rel in side]
            pairs.append(
                Pair(
                    key,
                    ref_root / refs[0] if refs else None,
                    dist_root / dists[0] if dists else None,
                    "; ".join(bad) or None,
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
            f"using {side_root / names[0]}; the others are error rows"
        )
        r = ref_root / refs[0] if refs else None
        d = dist_root / dists[0] if dists else None
        return [Pair(key, r, d)] + _leftovers(key, names[1:], side_root, bool(refs), what)

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
        msg += f"; not paired (error rows): {', '.join(str(p) for p in ignored)}"
    warnings.append(msg)

    left = _leftovers(key, rest_r, ref_root, True, what) + _leftovers(key, rest_d, dist_root, False, what)
    if len(chosen) == 1:
        r, d = chosen[0]
        return [Pair(key, ref_root / r, dist_root / d)] + left
    # several pairs from one stem: keep the keys unique with the full names
    return [Pair(_nfc(r) if r == d else f"{_nfc(r)} | {_nfc(d)}", ref_root / r, dist_root / d)
            for r, d in chosen] + left


def _leftovers(key: str, names: list[str], root: Path, reference: bool, what: str) -> list[Pair]:
    """Files an ambiguous key could not pair: error rows, so no report loses them."""
    problem = f"ambiguous {what} {key!r}: no counterpart left to pair with"
    return [Pair(_nfc(n), root / n if reference else None, None if reference else root / n, problem)
            for n in names]


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
