"""Write a report file atomically: all of it, or nothing (and the old file kept)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import IO, Any, Iterator

from .errors import IqaError


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)


def output_stat(target: str, name: str) -> os.stat_result | None:
    """``os.stat`` of an output file about to be written (None: it does not
    exist yet); a directory or an unreadable path is an :class:`IqaError`."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IqaError(f"cannot write: {reason(exc)}", name) from None
    if stat.S_ISDIR(st.st_mode):
        raise IqaError("cannot write: is a directory", name)
    return st


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "w",
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing; the file appears only when the block succeeds.

    Data goes to a temporary file in the target's directory, which is flushed,
    fsynced and moved over the target with :func:`os.replace` when the block
    exits normally. On any exception (``KeyboardInterrupt`` included) the
    temporary file is removed, an existing target is left untouched and the
    exception propagates.

    ``mode`` is ``"w"`` (text, ``encoding``/``newline`` apply) or ``"wb"``.
    A new file gets the usual ``0o666 & ~umask`` permissions; a replaced file
    keeps its permissions. A symlink is written through (its target is
    replaced). An existing non-regular target (``/dev/stdout``, a FIFO) cannot
    be replaced and is written directly, without atomicity.

    Raises :class:`IqaError` (one line, with the path) when the directory does
    not exist or is not writable, or the target is a directory.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    binary = "b" in mode
    open_kw: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": newline}
    name = os.fspath(path)
    target = os.path.realpath(name) if os.path.islink(name) else os.path.abspath(name)
    directory = os.path.dirname(target)

    st = output_stat(target, name)
    if st is not None and not stat.S_ISREG(st.st_mode):
        # /dev/stdout, /dev/null, a named pipe: nothing to replace atomically.
        try:
            f = open(target, mode, **open_kw)
        except OSError as exc:
            raise IqaError(f"cannot write: {reason(exc)}", name) from None
        try:
            with f:
                yield f
        except BrokenPipeError:  # the reader went away: the command ends quietly
            raise
        except OSError as exc:
            if exc.filename is not None:  # another file's error (an input): not this one's to name
                raise
            raise IqaError(f"cannot write: {reason(exc)}", name) from None  # a full disk: name the file
        return
    if not os.path.isdir(directory):
        raise IqaError("cannot write: directory does not exist", name)

    try:
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp"
        )
    except OSError as exc:
        raise IqaError(f"cannot write: {reason(exc)}", name) from None
    try:
        with contextlib.suppress(OSError):
            perms = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
            os.chmod(tmp, perms)
        f = os.fdopen(fd, mode, **open_kw)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        _unlink(tmp)
        raise

    try:
        yield f
    except OSError as exc:
        _discard(f, tmp)
        if exc.filename is not None:  # another file's error (an input): not this one's to name
            raise
        raise IqaError(f"cannot write: {reason(exc)}", name) from None  # a full disk: name the file
    except BaseException:
        _discard(f, tmp)
        raise
    try:
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, target)
    except OSError as exc:
        _discard(f, tmp)
        raise IqaError(f"cannot write: {reason(exc)}", name) from exc
    except BaseException:
        _discard(f, tmp)
        raise
    _fsync_dir(directory)


def _discard(f: IO[Any], tmp: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        f.close()
    _unlink(tmp)


def _unlink(p: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(p)


def _fsync_dir(directory: str) -> None:
    """Make the rename durable (POSIX; a no-op where directories cannot be opened)."""
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:
        return
    try:
        fd = os.open(directory, os.O_RDONLY | flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
