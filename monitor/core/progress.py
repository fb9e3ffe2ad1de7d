"""Progress on long work, on a terminal only.

A first ingest (`run --once` over an account's history), `train` and
`evaluate` take minutes. A person running them at a terminal sees how far
they are; under cron, systemd, a pipe or a log file nothing at all is
written (no bars, no final frame), so logs stay one line per event.

The command wraps its work in `shown()`; the code doing the work marks its
steps with `track()` (an iterable) or `task()` (a counter) wherever it is,
in this thread, a worker thread (`asyncio.to_thread` copies the context) or
an asyncio task. With no display active (a library call, a test, a daemon)
both cost nothing and draw nothing.

While bars are drawn, log lines written to the same terminal go through the
display (above the bars) instead of being overdrawn; the handlers keep their
formatters and filters (the redaction in `monitor.logs`).
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, TypeVar

from rich.console import Console
from rich.file_proxy import FileProxy
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")

_ACTIVE: ContextVar[Progress | None] = ContextVar("nurserywatch_progress", default=None)


def make_console() -> Console:
    """stderr, drawn on only if it is a terminal (rich's own test: a dumb TERM and
    TTY_INTERACTIVE=0 turn it off); FORCE_COLOR in a cron or CI environment must
    not turn bars on in a log file, so a stderr that is no tty is never one."""
    tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return Console(stderr=True, force_terminal=None if tty else False, force_interactive=None if tty else False)


@contextmanager
def shown(console: Console | None = None) -> Iterator[bool]:
    """Draw the progress of the work inside on `console` (default: stderr) if it is
    an interactive terminal; yields whether it does."""
    console = console or make_console()
    if not console.is_interactive or _ACTIVE.get() is not None:
        yield False
        return
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, redirect_stdout=False, redirect_stderr=False)
    token = _ACTIVE.set(progress)
    try:
        with progress, _logs_through(console):
            yield True
    finally:
        _ACTIVE.reset(token)


@contextmanager
def _logs_through(console: Console) -> Iterator[None]:
    """Root handlers writing to the console's terminal write through the display meanwhile."""
    moved = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is console.file:
            moved.append((handler, handler.setStream(FileProxy(console, handler.stream))))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


def active() -> bool:
    """Whether progress is drawn here (to skip work done only for it, such as a count)."""
    return _ACTIVE.get() is not None


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield `items`, advancing a bar (removed once they are all done)."""
    with task(description, total if total is not None else _len(items)) as advance:
        for item in items:
            yield item
            advance()


@contextmanager
def task(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A bar (or, without `total`, a counter) for the block; yields `advance(n=1)`."""
    progress = _ACTIVE.get()
    if progress is None:
        yield _nothing
        return
    task_id = progress.add_task(description, total=total)
    progress.refresh()  # drawn at once (a short step would otherwise end between two refreshes)
    try:
        yield lambda n=1: progress.advance(task_id, n)
    finally:
        progress.refresh()  # its last figures, then it gives way to the next step
        progress.remove_task(task_id)


def _nothing(n: int = 1) -> None:
    return None


def _len(items: Iterable) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None
