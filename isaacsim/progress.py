"""Progress displays of long commands: a transient rich bar on stderr, only on a terminal.

:class:`TerminalProgress` owns the one decision every command shares (a bar when enabled and
stderr is a terminal, nothing otherwise: files and pipes get the command's own plain lines) and
the start/stop of the display. Commands subclass it and add their tasks to ``self.p``.
"""

from __future__ import annotations


class TerminalProgress:
    """Context manager around a rich ``Progress`` (``self.p``; None when inert).

    ``label`` formats the task description; ``extra`` adds text columns after the counts;
    ``eta`` adds a time-remaining column.
    """

    def __init__(self, enabled: bool, *, label: str = "{task.description}",
                 extra: tuple[str, ...] = (), eta: bool = False) -> None:
        self.p = None
        if not enabled:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        cols = [TextColumn(label), BarColumn(), MofNCompleteColumn(),
                *(TextColumn(t) for t in extra), TimeElapsedColumn()]
        if eta:
            cols += [TextColumn("ETA"), TimeRemainingColumn()]
        self.p = Progress(*cols, console=console, transient=True)

    def __enter__(self):
        if self.p is not None:
            self.p.start()
        return self

    def __exit__(self, *exc):
        if self.p is not None:
            self.p.stop()
        return False
