"""The error guard of every command: a user's error is one line on stderr
and its exit code, never a traceback (``--debug`` shows one)."""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable

import click

from ..errors import IqaError
from ..status import ExitCode, PairStatus

if TYPE_CHECKING:
    from ..results import PairResult


#: exit status after the reader closed stdout: what a shell reports for a process killed by SIGPIPE (cat's)
PIPE_CLOSED = 128 + 13


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not
    raise (and print) the broken pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def err(message: str) -> None:
    click.echo(f"iqa: error: {message}", err=True)


def warn(message: str) -> None:
    click.echo(f"iqa: warning: {message}", err=True)


def first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""


def guarded(fn: Callable[..., int]) -> Callable[..., None]:
    """Run a command body: IqaError → one line on stderr and its exit code,
    Ctrl-C → 130; ``--debug`` re-raises for a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from ..spelling import spelled_by
        from .options import cli_spelling

        debug = kwargs.get("debug", False)
        try:
            with spelled_by(cli_spelling):
                code = fn(*args, **kwargs)
        except IqaError as e:
            if debug:
                raise
            err(str(e))
            code = e.exit_code
        except KeyboardInterrupt:
            if debug:
                raise
            click.echo("iqa: interrupted", err=True)
            code = ExitCode.INTERRUPTED
        except MemoryError:
            if debug:
                raise
            err("out of memory (try --max-pixels, fewer --workers, or a smaller batch)")
            code = ExitCode.ERROR
        except BrokenPipeError:  # `iqa batch ... | head -1`: the reader has what it wanted
            quiet_stdout()
            code = PIPE_CLOSED  # exit quietly, with the status of a process the pipe's signal ended, as cat does
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as e:  # disk full, I/O error, ... while reading or writing
            if debug:
                raise
            what = e.strerror or first_line(e) or type(e).__name__
            err(f"{e.filename}: {what}" if e.filename else what)
            code = ExitCode.ERROR
        except Exception as e:  # a bug: still one line, the traceback with --debug
            if debug:
                raise
            err(f"internal error: {type(e).__name__}: {first_line(e)} (run with --debug for a traceback)")
            code = ExitCode.ERROR
        sys.exit(int(code or 0))

    return wrapper


def print_warnings(warnings: Iterable[str]) -> None:
    for w in warnings:
        warn(w)


def report_row_errors(results: Iterable[PairResult], statuses: tuple[PairStatus, ...] | None = None) -> None:
    """One ``iqa: error:`` line per failed row, naming the file (once)."""
    for r in results:
        if not r.error or (statuses is not None and r.status not in statuses):
            continue
        named = (r.distorted and r.distorted in r.error) or (r.reference and r.reference in r.error)
        err(r.error if named else f"{r.distorted or r.reference}: {r.error}")


def nothing_found(baseline: str, output: str, include: tuple[str, ...]) -> str:
    """Why a check or batch found nothing, naming the patterns when they were the cause."""
    if include:
        pats = " ".join(f"--include {p!r}" for p in include)
        return f"no image file in {baseline} or {output} matches {pats}"
    return f"no image files in {baseline} or {output}"
