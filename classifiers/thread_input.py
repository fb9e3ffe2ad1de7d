"""The thread a comment answers, as the `classify` contract and the pipeline give it.

Oldest first: the post's own text, then the earlier comments and replies;
strings, or {"text", "author"?, "is_setting"?} objects in JSON, `ThreadEntry`
in Python. Bounded here, before any work: the post and the last
`MAX_ENTRIES - 1` messages are kept, each cut to its last `MAX_CHARS`
characters, so a thread of 1,000 messages costs what a thread of four does.
No spaCy: the CLI reads threads before the classifier loads.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from monitor.core.types import ThreadEntry

MAX_ENTRIES = 4  # the post + the last three messages before the comment
MAX_CHARS = 1000


class ThreadError(ValueError):
    """A thread that cannot be read; the message names the entry and the problem."""


def parse_thread(raw: object) -> tuple[ThreadEntry, ...]:
    """The JSON contract's "thread" -> bounded ThreadEntry tuple, or ThreadError."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ThreadError('"thread" must be a list of strings or {"text", "author"?, "is_setting"?} objects')
    entries = []
    for i, e in enumerate(raw):
        if isinstance(e, str):
            entries.append(ThreadEntry(e))
            continue
        if not isinstance(e, dict):
            raise ThreadError(f'thread[{i}] must be a string or an object with "text"')
        text, author, is_setting = e.get("text"), e.get("author"), e.get("is_setting", False)
        if not isinstance(text, str):
            raise ThreadError(f'thread[{i}]: "text" must be a string')
        if author is not None and not isinstance(author, str):
            raise ThreadError(f'thread[{i}]: "author" must be a string when given')
        if not isinstance(is_setting, bool):
            raise ThreadError(f'thread[{i}]: "is_setting" must be true or false')
        entries.append(ThreadEntry(text, author, is_setting))
    return bound(entries)


def bound(thread: Iterable[ThreadEntry | str] | None) -> tuple[ThreadEntry, ...]:
    """The post and the last messages before the comment, each at most MAX_CHARS."""
    if not thread:
        return ()
    entries = list(thread) if not isinstance(thread, (list, tuple)) else thread
    if len(entries) > MAX_ENTRIES:
        entries = [entries[0], *entries[len(entries) - (MAX_ENTRIES - 1):]]
    out = []
    for e in entries:
        if isinstance(e, str):
            e = ThreadEntry(e)
        elif not isinstance(e, ThreadEntry):
            raise ThreadError(f"a thread entry must be a ThreadEntry or a string, not {type(e).__name__}")
        out.append(e if len(e.text) <= MAX_CHARS else replace(e, text=e.text[-MAX_CHARS:]))
    return tuple(out)
