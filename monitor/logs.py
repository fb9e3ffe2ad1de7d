"""Log output: what it looks like, and a filter that keeps personal data out of it.

Format: plain lines by default, one JSON object per line with
`[logging] format = "json"` (for journald exporters, Loki, Elastic). Only the
format changes: what is logged is the same, so switching to JSON leaks nothing new.

Logs carry ids, never personal data, and a filter on the handler redacts what slips through.

The code logs ids (`alert 12`, `recipient 3`), but exception text is not ours:
a database error quotes the statement's parameters (an email address, a note
someone typed), an SMTP refusal quotes the address, a traceback quotes
whatever its message held. `Redactor` sits on the handler, so it sees every
record from every logger (uvicorn's too), and rewrites the message and the
formatted exception before anything is written:

- the parameters of a failed SQL statement are dropped;
- email addresses become [email], IP addresses [ip];
- the names the configuration knows (recipients, what they are known as, the
  roster) become [name];
- what a person typed into a page (a note), their IP address and user agent
  become [withheld] in any record logged while their request is handled
  (`withhold`, a context variable: uvicorn's traceback of a failed request
  is written in the same context).
"""
from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import Iterable

from pythonjsonlogger.json import JsonFormatter

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?![\w:])")
SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


_WITHHELD: ContextVar[tuple[str, ...]] = ContextVar("nurserywatch_withheld", default=())


def withhold(*values: object) -> None:
    """Keep these strings (a request's form fields, client address, user agent)
    out of every record logged from here to the end of the current task."""
    extra = tuple(str(v).strip() for v in values if v is not None and len(str(v).strip()) > 2)
    if extra:
        _WITHHELD.set(_WITHHELD.get() + extra)


NOT_PERSONAL_IPS = {"127.0.0.1", "0.0.0.0"}  # this machine's own addresses, in "listening on ..."


def _ip(m: re.Match) -> str:
    return m.group(0) if m.group(0) in NOT_PERSONAL_IPS else "[ip]"


class Redactor(logging.Filter):
    def __init__(self, names: Iterable[str] = ()):
        super().__init__()
        self._names: re.Pattern | None = None
        self.set_names(names)

    def set_names(self, names: Iterable[str]) -> None:
        words = sorted({n.strip() for n in names if n and len(n.strip()) > 2}, key=len, reverse=True)
        self._names = re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
        ) if words else None

    def redact(self, text: str) -> str:
        for value in sorted(_WITHHELD.get(), key=len, reverse=True):
            text = text.replace(value, "[withheld]")
        text = SQL_PARAMETERS.sub("[parameters withheld]", text)
        text = EMAIL.sub("[email]", text)
        text = IPV6.sub("[ip]", IPV4.sub(_ip, text))
        if self._names is not None:
            text = self._names.sub("[name]", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None  # formatters then write the redacted exc_text (the JSON one re-formatted exc_info)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = Redactor()


def redacting_handler(stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(REDACTOR)
    return handler


def configure_logging(verbose: bool = False) -> None:
    """The command line's logging: a redacting handler on the root logger (and the
    redaction on any handler already there, such as a test runner's)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(redacting_handler())
    for handler in root.handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def personal_names(config) -> list[str]:
    """Every name the configuration knows: recipients, what they are known as, the roster."""
    names = [n for r in config.recipients for n in (r.name, *r.known_as, *r.name.split())]
    roster = config.roster
    names += [n for group in (roster.children, roster.staff, roster.parents) for full in group
              for n in (full, *full.split())]
    return names


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def use_format(fmt: str) -> None:
    """Switch every root handler to `fmt` ("text" or "json")."""
    formatter = json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
