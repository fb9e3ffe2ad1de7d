"""The `nurserywatch` command line."""
from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from typing import Iterable, TextIO

from monitor.judging import classify_each
from monitor.settings import ConfigError, load_config

log = logging.getLogger("nurserywatch")

# Commands contributed by the stage packages: each module has register(subparsers).
PLUGIN_MODULES = ("classifiers.cli", "connectors.cli", "alerts.cli")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, metavar="FILE", help="the TOML configuration file")


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import serve
    from monitor.runtime import build_runtime

    config = load_config(args.config)
    problems = config.check_runnable()
    if problems:
        raise ConfigError(f"{args.config}: cannot start:\n" + "\n".join(f"  {p}" for p in problems))
    rt = build_runtime(config)
    return asyncio.run(serve(rt, once=args.once))


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return run_demo(data_dir=args.data_dir, port=args.port, interval=args.interval, cycles=args.cycles)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    problems = [] if args.classify_only else config.check_runnable()
    if problems:
        print(f"{args.config}: valid, but not ready to run:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(
        f"{args.config}: OK: {config.setting.name}, {len(config.accounts)} account(s), "
        f"{len(config.recipients)} recipient(s)"
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from monitor.db import current_revision, make_engine, upgrade

    config = load_config(args.config)
    engine = make_engine(config.database.url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    print(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nurserywatch",
        description="Watch a nursery's own social media and alert the manager or DSL when something needs a human.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the service: scheduler and acknowledgement web pages")
    _add_config(p)
    p.add_argument("--once", action="store_true", help="run one cycle (fetch, classify, alert, send) and exit")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run a self-contained demo with sample comments (no configuration needed)")
    p.add_argument("--data-dir", default="data/demo", help="where the demo keeps its database and mail (default data/demo)")
    p.add_argument("--port", type=int, default=8080, help="port for the acknowledgement pages (default 8080)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between cycles (default 5)")
    p.add_argument("--cycles", type=int, default=None, help="stop after this many cycles (default: run until Ctrl-C)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("classify", help="classify JSON Lines from stdin: {\"id\", \"text\", \"platform\"?} per line")
    _add_config(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("check-config", help="validate a configuration file and say what is missing")
    _add_config(p)
    p.add_argument("--classify-only", action="store_true", help="only check what `classify` needs")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="create or migrate the database schema to the latest revision")
    _add_config(up)
    up.set_defaults(func=cmd_db_upgrade)

    for name in PLUGIN_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
