"""Running pairs with a progress bar on stderr; Ctrl-C keeps what was done
and says what each output holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..status import ExitCode

if TYPE_CHECKING:
    from ..results import PairResult, Settings


def score(pairs: list, settings: Settings, outputs: Any, *, workers: int | None, progress: bool,
          required: tuple[str, ...] = (), masks: Any = None,
          keep_maps: bool = False, engine: Any = None) -> list[PairResult]:
    """Run the pairs with an optional progress bar on stderr; Ctrl-C keeps what was done.
    ``engine`` (:mod:`iqa_cli.engines`): where to score; its rows may come in completion order.
    ``required``: metrics that must be computed; ``masks``: each pair's ignore regions.
    Each result goes to ``outputs.pair``; on Ctrl-C one line names what every output
    holds or lacks (``outputs.interrupt_notes()``, when it has one), and exit 130."""
    from ..runner import run

    results: list[PairResult] = []
    bar = None
    if progress and len(pairs) > 1:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if console.is_terminal:
            bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           console=console, transient=True)
    task = bar.add_task("pairs", total=len(pairs)) if bar else None
    try:
        if bar:
            bar.start()
        if engine is not None:
            rows = engine.run(pairs, settings, workers=workers, keep_maps=keep_maps, required=required)
        else:
            rows = run(pairs, settings, workers=workers, keep_maps=keep_maps, required=required, masks=masks)
        for r in rows:
            outputs.pair(r)
            results.append(r)  # after the outputs took it: the count never runs ahead of them
            if bar:
                bar.advance(task)
    except KeyboardInterrupt:
        if bar:
            bar.stop()
        notes_of = getattr(outputs, "interrupt_notes", None)
        notes = notes_of() if notes_of is not None else []
        click.echo("; ".join([f"iqa: interrupted after {len(results)} of {len(pairs)} pairs", *notes]), err=True)
        raise SystemExit(ExitCode.INTERRUPTED) from None
    finally:
        if bar:
            bar.stop()
    return results
