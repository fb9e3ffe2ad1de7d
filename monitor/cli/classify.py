"""`nurserywatch classify`: the JSON Lines contract, stdin to stdout.

One JSON object per input line, `{"id", "text", "platform"?, "rating"?,
"thread"?, "is_setting"?, "author"?}`; one result per line out, in order.
`thread` is the earlier messages of the conversation, oldest first, the post
first: strings or `{"text", "author"?, "is_setting"?}` objects (only the post
and the last few are read). A line that cannot be read gets an `"error"` on its
own line and the rest go on; the exit status says whether any failed.

Scripts start it once per batch, so `nurserywatch classify` starts through
`main` here (monitor/cli/main.py sends it straight here): only the classifier
and the settings are imported, not every other command's modules.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import Iterable, TextIO

from classifiers.thread_input import ThreadError, parse_thread
from monitor.core.group import load_setting
from monitor.core.settings import ConfigError, add_config_option
from monitor.core.types import Comment
from monitor.batch_classify import classify_each


def _parse_line(line: str) -> tuple[str | None, Comment | None, str | None]:
    """(id, comment, error) for one input line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        return None, None, f"not valid JSON: {err.msg} at column {err.colno}"
    except RecursionError:  # the decoder recurses once per [ or {: a hostile line must not end the run
        return None, None, "not readable JSON: nested too deeply (arrays or objects inside each other hundreds of times)"
    if not isinstance(obj, dict):
        return None, None, "each line must be a JSON object"
    item_id = obj.get("id")
    if not isinstance(item_id, str):
        return (str(item_id) if isinstance(item_id, (int, float)) else None), None, '"id" must be a string'
    text = obj.get("text")
    if not isinstance(text, str):
        return item_id, None, '"text" must be a string'
    platform, rating, author = obj.get("platform"), obj.get("rating"), obj.get("author")
    if platform is not None and not isinstance(platform, str):
        return item_id, None, '"platform" must be a string when given'
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
        return item_id, None, '"rating" must be a whole number of stars from 1 to 5 when given'
    if author is not None and not isinstance(author, str):
        return item_id, None, '"author" must be a string when given'
    is_setting = obj.get("is_setting", False)
    if not isinstance(is_setting, bool):
        return item_id, None, '"is_setting" must be true or false when given'
    try:
        thread = parse_thread(obj.get("thread"))
    except ThreadError as err:
        return item_id, None, str(err)
    return item_id, Comment(text, platform, rating, thread, is_setting, author), None


def classify_stream(classifier, lines: Iterable[str], out: TextIO, batch_size: int = 512) -> int:
    """The `classify` contract: JSON Lines in, one JSON line out per input, in order."""
    failed = 0
    pending: list[tuple[str | None, Comment | None, str | None]] = []

    def flush() -> None:
        nonlocal failed
        good = [c for (_, c, e) in pending if e is None]
        results = iter(classify_each(classifier, good))
        for item_id, _, error in pending:
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
        failed += parsed[2] is not None
        pending.append(parsed)
        if len(pending) >= batch_size:
            flush()
    flush()
    out.flush()
    return failed


def cmd_classify(args: argparse.Namespace) -> int:
    from classifiers import build_classifier
    from classifiers.classifier import MODEL_DIR
    from classifiers.semantic_stage import unavailable

    config = load_setting(args.config, args.setting)
    if why := unavailable(config.classifier, MODEL_DIR):
        raise ConfigError(f"{config.source}: {why}")
    classifier = build_classifier(config.setting, config.roster, options=config.classifier)
    # The pipeline, lexicons and rosters (~120,000 objects) live as long as the command: taken out of
    # the cyclic collector's rounds, which otherwise walk them all again and again (~6% of CPU time).
    gc.freeze()
    failed = classify_stream(classifier, sys.stdin, sys.stdout)
    if failed:
        print(f"classify: {failed} line(s) could not be read (see their \"error\")", file=sys.stderr)
    return 1 if failed else 0


HELP = ("classify JSON Lines from stdin: {\"id\", \"text\", \"platform\"?, \"rating\"?, "
        "\"thread\"?, \"is_setting\"?, \"author\"?} per line")


def register(subparsers) -> None:
    p = subparsers.add_parser("classify", help=HELP)
    add_config_option(p)
    p.set_defaults(func=cmd_classify)


def main(argv: list[str]) -> int:
    """`nurserywatch classify ARGS`, started without the other commands (the same options and exit
    codes; `nurserywatch -v classify` takes the long way, with every command)."""
    from monitor.core.settings import ConfigError
    from monitor.logs import configure_logging

    parser = argparse.ArgumentParser(prog="nurserywatch classify", description=HELP)
    add_config_option(parser)
    args = parser.parse_args(argv)
    configure_logging(False)
    try:
        return cmd_classify(args)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2  # monitor.cli.main.EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
