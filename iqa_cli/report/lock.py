"""One writer per output file: an advisory lock held from before the work
until the end of the run.

Each output file is opened (created when missing) and locked with
``flock(LOCK_EX | LOCK_NB)`` before anything is scored and before a streamed
file is truncated, so a second ``iqa`` aimed at the same file is refused with
one line instead of interleaving its lines with the first one's. The lock is
on the file itself, not on a separate lock file, so nothing is left behind; a
file this run created that is still empty when it ends (an atomic report that
was never written, the run having failed or been interrupted) is removed.

An atomic report (:func:`iqa_cli.atomic.atomic_write`) replaces the locked
file only at the very end; a writer that starts after that point finds the
new file unlocked and goes ahead, which is safe: the first run's report is
already complete.

Where :mod:`fcntl` does not exist (Windows) nothing is locked. Non-regular
targets (``/dev/stdout``, a named pipe) are not locked either.
"""

from __future__ import annotations

import os
import stat
from typing import IO, Any

from ..atomic import output_stat, reason
from ..errors import IqaError, UsageError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, outputs are not guarded
    fcntl = None  # type: ignore[assignment]


def lock_holder(fd: int) -> int | None:
    """The pid holding a flock on ``fd``'s file, from ``/proc/locks`` (Linux), else None."""
    try:
        st = os.fstat(fd)
        key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except (OSError, ValueError):
        return None
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:2146787 0 EOF"; waiters are marked "->"
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == key:
            try:
                pid = int(parts[4])
            except ValueError:
                return None
            return pid if pid > 0 and pid != os.getpid() else None
    return None


class HeldFile:
    """An output file of this run, locked until :meth:`release`.

    ``stream=True``: the file will be written in place (JSONL, CSV), so it is
    opened for writing; :meth:`open_stream` truncates it and returns a text
    stream. Otherwise it is opened read-only, only to hold the lock, and an
    atomic writer replaces it at the end.
    """

    def __init__(self, path: str, *, stream: bool = False):
        self.path = os.fspath(path)
        name = self.path
        # a symlink is written through by every writer: lock (and maybe remove) its target
        self.target = os.path.realpath(name) if os.path.islink(name) else name
        self.streamed = stream
        self.fd: int | None = None
        self.created = False
        self._file: IO[str] | None = None
        st = output_stat(self.target, name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            return  # /dev/stdout, a FIFO: opening it early could block; nothing to lock
        if fcntl is None and not stream:
            return
        self._open()

    def _open(self) -> None:
        access = os.O_WRONLY if self.streamed else os.O_RDONLY
        try:
            self.fd = os.open(self.target, access | os.O_CREAT | os.O_EXCL, 0o666)
            self.created = True
        except FileExistsError:
            try:
                self.fd = os.open(self.target, access)
            except PermissionError:
                if self.streamed:
                    raise IqaError("cannot write: permission denied", self.path) from None
                self.fd = None  # unreadable but replaceable: the atomic write decides, unguarded
            except OSError as exc:
                raise IqaError(f"cannot write: {reason(exc)}", self.path) from None
        except FileNotFoundError:
            raise IqaError("cannot write: directory does not exist", self.path) from None
        except OSError as exc:
            raise IqaError(f"cannot write: {reason(exc)}", self.path) from None

    def lock(self) -> None:
        """Take the lock, or raise the one-line error naming the file (and the holder's pid)."""
        if self.fd is None or fcntl is None:
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = lock_holder(self.fd)
            self.created = False  # the other process may have created it: never remove it here
            self.release()
            who = f" (pid {pid})" if pid else ""
            raise IqaError(f"is being written by another iqa process{who}", self.path) from None
        except OSError:
            pass  # a file system without flock (some network mounts): write unguarded

    def identity(self) -> tuple[int, int] | None:
        if self.fd is None:
            return None
        st = os.fstat(self.fd)
        return st.st_dev, st.st_ino

    def open_stream(self, *, newline: str | None = None) -> IO[str]:
        """Truncate the file (it is locked now) and return a UTF-8 text stream on it."""
        try:
            if self.fd is None:  # non-regular target: written directly, as before
                self._file = open(self.target, "w", encoding="utf-8", newline=newline)
            else:
                os.ftruncate(self.fd, 0)
                self._file = os.fdopen(os.dup(self.fd), "w", encoding="utf-8", newline=newline)
        except OSError as exc:
            raise IqaError(f"cannot write: {reason(exc)}", self.path) from None
        return self._file

    def release(self) -> None:
        """Close the stream, remove the file if this run created it and left it
        empty, and drop the lock (in that order, so no other writer sees it between)."""
        if self._file is not None:
            try:
                self._file.close()
            except (OSError, ValueError):
                pass
            self._file = None
        if self.fd is None:
            return
        try:
            if self.created:
                try:
                    now = os.stat(self.target)
                    mine = os.fstat(self.fd)
                except OSError:
                    now = mine = None
                # still our placeholder (not replaced by an atomic write) and nothing in it
                if now is not None and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino) and now.st_size == 0:
                    try:
                        os.unlink(self.target)
                    except OSError:
                        pass
        finally:
            os.close(self.fd)
            self.fd = None


class HeldFiles:
    """The output files of one run, held together; :meth:`close` releases them all."""

    def __init__(self) -> None:
        self.files: list[HeldFile] = []

    def hold(self, path: str, *, stream: bool = False) -> HeldFile:
        held = HeldFile(path, stream=stream)
        ident = held.identity()
        # checked before locking: our own first lock would otherwise read as another process's
        if ident is not None and any(h.identity() == ident for h in self.files):
            held.release()
            raise UsageError("given for two outputs of one run", path)
        held.lock()
        self.files.append(held)
        return held

    def close(self) -> None:
        while self.files:
            self.files.pop().release()

    def __enter__(self) -> "HeldFiles":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
