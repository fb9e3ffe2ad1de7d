"""Log output: plain lines by default, one JSON object per line with
`[logging] format = "json"` (for journald exporters, Loki, Elastic).

Only the format changes: what is logged is the same (ids, never comment text
or names), so switching to JSON leaks nothing new.
"""
from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
