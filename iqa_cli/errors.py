"""The project's own exception types.

Every error a user can cause is an :class:`IqaError` whose message is one line
that names the file (when there is one) and the problem; the CLI prints that
line and exits with :attr:`IqaError.exit_code` instead of showing a traceback.
"""

from __future__ import annotations


class IqaError(Exception):
    """Base class: a one-line, user-facing problem."""

    exit_code = 2

    def __init__(self, message: str, path: str | None = None):
        self.path = str(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ImageLoadError(IqaError):
    """A file could not be read or decoded as an image."""


class PairError(IqaError):
    """Two images cannot be compared (size mismatch, incompatible content)."""


class SizeMismatchError(PairError):
    """Images of different sizes: a regression, never silently resized."""

    exit_code = 1


class UsageError(IqaError):
    """Bad options or arguments."""
