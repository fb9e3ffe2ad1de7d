"""`nurserywatch classify`: the JSON Lines contract, stdin to stdout.

One JSON object per input line, `{"id", "text", "platform"?}`; one result per
line out, in order. A line that cannot be read gets an `"error"` on its own
line and the rest go on; the exit status says whether any failed.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Iterable, TextIO

from monitor.core.settings import add_config_option, load_config
from monitor.judging import classify_each


def _parse_line(line: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(id, text, platform, error) for one input line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        return None, None, None, f"not valid JSON: {err.msg} at column {err.colno}"
    if not isinstance(obj, dict):
        return None, None, None, "each line must be a JSON object"
    item_id = obj.get("id")
    if not isinstance(item_id, str):
        return (str(item_id) if isinstance(item_id, (int, float)) else None), None, None, '"id" must be a string'
    text = obj.get("text")
    if not isinstance(text, str):
        return item_id, None, None, '"text" must be a string'
    platform = obj.get("platform")
    if platform is not None and not isinstance(platform, str):
        return item_id, None, None, '"platform" must be a string when given'
    return item_id, text, platform, None


def classify_stream(classifier, lines: Iterable[str], out: TextIO, batch_size: int = 512) -> int:
    """The `classify` contract: JSON Lines in, one JSON line out per input, in order."""
    failed = 0
    pending: list[tuple[str | None, str | None, str | None, str | None]] = []

    def flush() -> None:
        nonlocal failed
        good = [(t, p) for (_, t, p, e) in pending if e is None]
        results = iter(classify_each(classifier, good))
        for item_id, _, _, error in pending:
            outcome = None if error else next(results)
            if isinstance(outcome, Exception):
                error = f"the classifier failed on this text ({type(outcome).__name__})"
                failed += 1
            obj = {"id": item_id, "error": error} if error else outcome.to_json(item_id)
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        pending.clear()

    for line in lines:
        if not line.strip():
            continue
        parsed = _parse_line(line)
        failed += parsed[3] is not None
        pending.append(parsed)
        if len(pending) >= batch_size:
            flush()
    flush()
    out.flush()
    return failed


def cmd_classify(args: argparse.Namespace) -> int:
    from classifiers import build_classifier

    config = load_config(args.config)
    classifier = build_classifier(config.setting, config.roster)
    failed = classify_stream(classifier, sys.stdin, sys.stdout)
    if failed:
        print(f"classify: {failed} line(s) could not be read (see their \"error\")", file=sys.stderr)
    return 1 if failed else 0


def register(subparsers) -> None:
    p = subparsers.add_parser("classify", help="classify JSON Lines from stdin: {\"id\", \"text\", \"platform\"?} per line")
    add_config_option(p)
    p.set_defaults(func=cmd_classify)
