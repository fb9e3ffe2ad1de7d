"""The `nurserywatch` command line."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from monitor.core.group import PER_SETTING, Group, load_group
from monitor.core.progress import shown as progress_shown
from monitor.core.settings import ConfigError, add_config_option
from monitor.logs import REDACTOR, configure_logging, personal_names, use_format as use_log_format

log = logging.getLogger("nurserywatch")


def command_groups() -> tuple:
    """Every command is imported by name. The stages contribute the commands that
    need only themselves and the core; the application adds those that join
    stages (run, demo, classify, digest). Imported when the parser is built, so
    that `classify` (main, below) starts without them."""
    from alerts.cli import register as register_alert_commands
    from classifiers.cli import register as register_classifier_commands
    from connectors.cli import register as register_account_commands
    from monitor.accounts.cli import register as register_accounts
    from monitor.cli.backup import register as register_backup
    from monitor.cli.classify import register as register_classify
    from monitor.cli.digest import register as register_digest
    from monitor.cli.feedback import register as register_train_feedback
    from monitor.cli.privacy import register as register_privacy

    return (
        register_classify, register_classifier_commands, register_account_commands,
        register_alert_commands, register_digest, register_accounts, register_backup, register_privacy,
        register_train_feedback,  # adds --with-feedback to the classifiers' `train`, so after them
    )


# `run` exit codes (README "Running it from cron"): cron and systemd can tell what went wrong.
EXIT_OK = 0
EXIT_CONFIG = 2  # the configuration is invalid or incomplete
EXIT_LOCKED = 3  # another nurserywatch holds this database (or took it over while running)
EXIT_ACCOUNT_FAILED = 4  # --once: an account could not be polled (or did not finish in time)
EXIT_UNDELIVERED = 5  # --once: messages were due and could not be delivered
EXIT_BOTH = 6  # --once: both of the above


def once_exit_code(report) -> int:
    failed = bool(report.failed_accounts or report.timed_out)
    undelivered = report.delivery_problem is not None
    return EXIT_BOTH if failed and undelivered else EXIT_ACCOUNT_FAILED if failed else (
        EXIT_UNDELIVERED if undelivered else EXIT_OK)


def open_database_or_say_why(url: str, open_database):
    """The database, or a ConfigError naming database.url and the driver's first line
    (a server that is down, a refused login, an unwritable file), not a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return open_database(url)
    except (SQLAlchemyError, OSError) as err:
        detail = str(getattr(err, "orig", None) or err).strip().splitlines()
        where = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(f"database.url: cannot open the database {where}: "
                          f"{detail[0] if detail else type(err).__name__}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.core.db import open_database
    from monitor.daemon import run_once, serve
    from monitor.lease import DatabaseLease, LeaseHeld
    from monitor.poll_leases import uses_leases
    from monitor.runtime import build_group_runtime, utcnow

    group = load_group(args.config)  # a single-setting file is a group of one
    config = group.shared
    use_log_format(config.logging.format)
    REDACTOR.set_names([n for c in group.configs for n in personal_names(c)])
    problems = readiness_problems(group, channels=False)
    if problems:
        raise ConfigError("\n".join(f"{source}: cannot start:\n" + "\n".join(f"  {p}" for p in lines)
                                     for source, lines in problems.items()))
    db = open_database_or_say_why(config.database.url, open_database)
    lease = None if uses_leases(db) else DatabaseLease(db, utcnow)  # PostgreSQL: replicas share the work
    try:
        if lease is not None:
            lease.acquire(force=args.force)
    except LeaseHeld as err:
        print(f"nurserywatch: {err}", file=sys.stderr)
        db.dispose()
        return EXIT_LOCKED
    try:
        rt = build_group_runtime(group, sessions=db)
        if not args.once:
            return asyncio.run(serve(rt, lease=lease))
        with progress_shown():  # a first ingest takes minutes: bars on a terminal, nothing under cron
            report = asyncio.run(run_once(rt))
        print(
            f"cycle done: {report.fetched} fetched, {report.stored} new, {report.classified} classified, "
            f"{report.alerts} alert(s), {report.summaries} first-run summary(ies), {report.sent} email(s) sent"
        )
        if report.failed_accounts:
            print(f"accounts failing: {', '.join(report.failed_accounts)} (see `nurserywatch accounts`)", file=sys.stderr)
        if report.timed_out:
            print("the cycle did not finish within its deadline ([polling] deadline)", file=sys.stderr)
        if report.delivery_problem:
            print(f"delivery problem: {report.delivery_problem}", file=sys.stderr)
        return once_exit_code(report)
    finally:
        if lease is not None:
            lease.release()
        db.dispose()


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return run_demo(data_dir=args.data_dir, port=args.port, interval=args.interval, cycles=args.cycles)


def readiness_problems(group: Group, channels: bool = True) -> dict[str, list[str]]:
    """What stops each file of a group from running, by file (a shared section's once, under the group file)."""
    from alerts.channels import channel_problems
    from classifiers.semantic_stage import unavailable

    from monitor.feedback_training import current_model_dir

    out: dict[str, list[str]] = {}
    for config in group.configs:
        semantic = [why] if (why := unavailable(config.classifier, current_model_dir(config))) else []
        for p in config.check_runnable() + semantic + (channel_problems(config) if channels else []):
            own = group.is_group and p.split(":")[0].split(".")[0].split("[")[0] in PER_SETTING
            lines = out.setdefault(str(config.source if own or not group.is_group else group.source), [])
            if p not in lines:
                lines.append(p)
    return out


def cmd_check_config(args: argparse.Namespace) -> int:
    group = load_group(args.config)  # every file is read; errors name the file and the key
    problems = {} if args.classify_only else readiness_problems(group)
    if problems:
        for source, lines in problems.items():
            print(f"{source}: valid, but not ready to run:", file=sys.stderr)
            for p in lines:
                print(f"  {p}", file=sys.stderr)
        return 1
    for config in group.configs:
        print(
            f"{config.source}: OK: {config.setting.name}" + (f" ({config.setting.key})" if group.is_group else "")
            + f", {len(config.accounts)} account(s), {len(config.recipients)} recipient(s)"
        )
    if group.is_group:
        print(f"{args.config}: OK: group {group.name!r}, {len(group.configs)} setting(s), "
              f"{len(group.people)} group recipient(s)")
    if not args.classify_only:
        which = " --setting KEY" if len(group.configs) > 1 else ""
        print(f"(the file only: `nurserywatch check --config {args.config}{which} --online` tests the tokens "
              "and the mail login)")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from monitor.core.db import current_revision, make_engine, upgrade

    config = load_group(args.config).shared
    engine = make_engine(config.database.url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    print(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nurserywatch",
        description="Watch a nursery's own social media and alert the manager or DSL when something needs a human.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the service: scheduler and acknowledgement web pages")
    add_config_option(p, one_setting=False)
    p.add_argument("--once", action="store_true",
                   help="run one cycle (fetch, classify, alert, send) and exit; exit codes in the README")
    p.add_argument("--force", action="store_true",
                   help="SQLite: start even if another nurserywatch seems to hold the database (you know it is gone); "
                        "on PostgreSQL any number of replicas may run")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run a self-contained demo with sample comments (no configuration needed)")
    p.add_argument("--data-dir", default="data/demo", help="where the demo keeps its database and mail (default data/demo)")
    p.add_argument("--port", type=int, default=8080, help="port for the acknowledgement pages (default 8080)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between cycles (default 5)")
    p.add_argument("--cycles", type=int, default=None, help="stop after this many cycles (default: run until Ctrl-C)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("check-config", help="validate a configuration file (a group: every file) and say what is missing")
    add_config_option(p, one_setting=False)
    p.add_argument("--classify-only", action="store_true", help="only check what `classify` needs")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="create or migrate the database schema to the latest revision")
    add_config_option(up, one_setting=False)
    up.set_defaults(func=cmd_db_upgrade)

    for register in command_groups():
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["classify"]:  # a filter scripts start once per batch: skip importing every other command
        from monitor.cli.classify import main as classify_main

        return classify_main(args[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return args.func(args)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
