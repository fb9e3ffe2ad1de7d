"""`nurserywatch train --with-feedback --config FILE` (see monitor/feedback_training.py).

The `train` command belongs to the classifiers stage; the feedback option
needs the database and the configuration, so the application adds it here to
the stage's parser and sends plain `train` on unchanged.
"""
from __future__ import annotations

import argparse
import sys

from monitor.core.group import load_setting
from monitor.core.settings import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.choices["train"]
    p.add_argument("--with-feedback", action="store_true",
                   help="learn this setting's labelled examples from the web app as corrections on top of the "
                        "shared model; print before/after figures on the shipped dev and test sets and install "
                        "them (in the data directory) only if they are not worse (needs --config)")
    p.add_argument("--config", "-c", metavar="FILE", help="the configuration (for --with-feedback)")
    p.add_argument("--setting", metavar="KEY", default=None, help="the setting whose feedback to use, in a group")
    plain = p.get_default("func")

    def dispatch(args: argparse.Namespace) -> int:
        return cmd_train_with_feedback(args) if args.with_feedback else plain(args)

    p.set_defaults(func=dispatch)


def cmd_train_with_feedback(args: argparse.Namespace) -> int:
    from classifiers.cli import guard_evaluator
    from monitor.core.db import open_database
    from monitor.core.models import Setting
    from monitor.feedback_training import current_model_dir, feedback_examples, retrain

    if not args.config:
        raise ConfigError("train --with-feedback: give the configuration with --config FILE")
    config = load_setting(args.config, args.setting)
    db = open_database(config.database.url)
    try:
        with db() as session:
            setting = session.query(Setting).filter_by(key=config.setting.key).one_or_none()
            examples = feedback_examples(session, setting.id) if setting else []
    finally:
        db.dispose()
    try:
        report = retrain(config, examples, evaluator=guard_evaluator(current_model_dir(config)))
    except ValueError as err:
        print(f"train --with-feedback: {err}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.installed else 3
