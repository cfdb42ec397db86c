"""How the running front end spells a setting or an action in a message.

Lower layers name settings and actions by their Python names (``data_range``,
``exif_transpose``, ``update``) and never by a command-line flag; they call
:func:`spell` when a message tells the user what to set. Each front end
installs its own speller with :func:`spelled_by` for the duration of its work:
the command line writes ``--data-range``, the pytest plugin ``data_range=``,
and a plain Python caller gets the name itself.

A leaf: it imports nothing of iqa's. The speller lives in a
:class:`contextvars.ContextVar`, so two front ends in one process (a test
suite driving the CLI and the plugin) never see each other's; code that
hands work to threads binds the speller (see :func:`in_context`).
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

Speller = Callable[[str], str]


def by_name(name: str) -> str:
    """The Python API's spelling: the setting's own name."""
    return name


_SPELLER: contextvars.ContextVar[Speller] = contextvars.ContextVar("iqa_speller", default=by_name)


def spell(name: str) -> str:
    """``name`` as the running front end writes it (``--data-range``, ``data_range=``, ``data_range``)."""
    return _SPELLER.get()(name)


@contextlib.contextmanager
def spelled_by(speller: Speller) -> Iterator[None]:
    """Spell settings with ``speller`` inside the block."""
    token = _SPELLER.set(speller)
    try:
        yield
    finally:
        _SPELLER.reset(token)


def in_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` spelling as the caller does, in whatever thread it runs: for work
    handed to a thread pool, whose threads would otherwise spell with the default."""
    speller = _SPELLER.get()

    def bound(*args: Any, **kwargs: Any) -> Any:
        with spelled_by(speller):
            return fn(*args, **kwargs)

    return bound
